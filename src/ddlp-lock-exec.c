/*
 * ddlp-lock: running the command under the lock.  The command is a child
 * (fork, then execvp or /bin/sh -c); SIGINT, SIGTERM, SIGHUP and SIGQUIT
 * sent to ddlp-lock are forwarded to it, and ddlp-lock waits for it and
 * exits with its status.  Which descriptors of the lock the command gets
 * is decided before (ddlp-lock-run.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "ddlp-lock.h"

const int forwarded_signals[N_FORWARDED_SIGNALS] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static volatile pid_t child_pid;
static bool session_leader;

static void forward_signal(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	/* The terminal sends SIGINT, SIGQUIT (and SIGHUP on hangup) to the
	 * whole foreground process group, the command included: do not send
	 * it a second copy.  Signals from a process (kill) are forwarded. */
	if (si && si->si_code == SI_KERNEL && !session_leader)
		return;
	if (child_pid > 0)
		kill(child_pid, sig);
}

int run_command(const struct options *o, char **argv, const char *device,
                       struct child_result *res)
{
	struct sigaction sa = { .sa_sigaction = forward_signal, .sa_flags = SA_SIGINFO };
	struct sigaction old[N_FORWARDED_SIGNALS];
	sigset_t block, saved;
	int pfd[2], e, status;
	ssize_t got;
	pid_t pid, w;

	res->exec_errno = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		msg("%s: cannot run the command: pipe: %s", device, strerror(errno));
		res->status = EX_OSERR;
		return -1;
	}
	session_leader = getsid(0) == getpid();
	sigemptyset(&block);
	for (size_t i = 0; i < N_FORWARDED_SIGNALS; i++)
		sigaddset(&block, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, &block, &saved);
	/* signals that were ignored when we started stay ignored (a command
	 * started with & by a non-interactive shell): not forwarded */
	sa.sa_mask = block;
	for (size_t i = 0; i < N_FORWARDED_SIGNALS; i++) {
		sigaction(forwarded_signals[i], NULL, &old[i]);
		if (old[i].sa_handler != SIG_IGN)
			sigaction(forwarded_signals[i], &sa, NULL);
	}
	fflush(NULL);

	pid = fork();
	if (pid < 0) {
		e = errno;
		for (size_t i = 0; i < N_FORWARDED_SIGNALS; i++)
			sigaction(forwarded_signals[i], &old[i], NULL);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		close(pfd[0]);
		close(pfd[1]);
		msg("%s: cannot run the command: fork: %s", device, strerror(e));
		res->status = EX_OSERR;
		return -1;
	}
	if (pid == 0) {
		/* the lock's descriptors stay open when ddlp-lock made the lock
		 * inheritable (the default); with -o they are O_CLOEXEC, and
		 * libddlp closed the child's copies at fork already */
		for (size_t i = 0; i < N_FORWARDED_SIGNALS; i++)
			sigaction(forwarded_signals[i], &old[i], NULL);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		close(pfd[0]);
		if (o->command) {
			char *sh[] = { "/bin/sh", "-c", (char *)o->command, NULL };

			execv(sh[0], sh);
		} else {
			execvp(argv[0], argv);
		}
		e = errno;
		if (write(pfd[1], &e, sizeof(e)) < 0) {
			/* the parent then sees only the exit code */
		}
		_exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
	}
	child_pid = pid;
	sigprocmask(SIG_SETMASK, &saved, NULL);
	close(pfd[1]);
	do
		got = read(pfd[0], &e, sizeof(e));
	while (got < 0 && errno == EINTR);
	close(pfd[0]);
	if (got == (ssize_t)sizeof(e))
		res->exec_errno = e;

	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	child_pid = 0;
	for (size_t i = 0; i < N_FORWARDED_SIGNALS; i++)
		sigaction(forwarded_signals[i], &old[i], NULL);
	if (w < 0) {
		msg("%s: waitpid: %s", device, strerror(errno));
		res->status = EX_OSERR;
		return -1;
	}
	if (res->exec_errno) {
		const char *what = o->command ? "/bin/sh" : argv[0];

		msg("%s: cannot run %s: %s", device, what, strerror(res->exec_errno));
		res->status = res->exec_errno == ENOENT || res->exec_errno == ENOTDIR ? 127 : 126;
		return 0;
	}
	if (WIFEXITED(status))
		res->status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		res->status = 128 + WTERMSIG(status);
	else
		res->status = EX_OSERR;
	return 0;
}
