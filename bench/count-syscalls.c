/*
 * A system call counter (ptrace, x86_64): follows a child that did
 * PTRACE_TRACEME and counts every system call entry between two marker
 * calls (write(-1, ...), see mark()), by kind, with the paths that the
 * path-taking calls name and the /dev nodes opened that are not the
 * target's siblings; or every call of a whole process from its execve
 * (count_process()).  Deterministic for a given kernel, libc and libudev.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <sys/user.h>
#endif

#include "bench.h"

void sc_free(struct sc_count *c)
{
	for (size_t i = 0; i < c->n_foreign; i++)
		free(c->foreign[i]);
	for (size_t i = 0; i < c->n_paths; i++)
		free(c->paths[i]);
	memset(c, 0, sizeof(*c));
}

#ifdef HAVE_SYSCALL_COUNTER
static const char *sys_name(long nr)
{
	static char buf[32];

	switch (nr) {
	case SYS_read: return "read";
	case SYS_write: return "write";
	case SYS_open: return "open";
	case SYS_close: return "close";
	case SYS_stat: return "stat";
	case SYS_fstat: return "fstat";
	case SYS_lstat: return "lstat";
	case SYS_poll: return "poll";
	case SYS_lseek: return "lseek";
	case SYS_mmap: return "mmap";
	case SYS_mprotect: return "mprotect";
	case SYS_munmap: return "munmap";
	case SYS_brk: return "brk";
	case SYS_rt_sigaction: return "rt_sigaction";
	case SYS_rt_sigprocmask: return "rt_sigprocmask";
	case SYS_ioctl: return "ioctl";
	case SYS_pread64: return "pread64";
	case SYS_access: return "access";
	case SYS_getpid: return "getpid";
	case SYS_clone: return "clone";
	case SYS_clone3: return "clone3";
	case SYS_fork: return "fork";
	case SYS_vfork: return "vfork";
	case SYS_execve: return "execve";
	case SYS_exit: return "exit";
	case SYS_exit_group: return "exit_group";
	case SYS_wait4: return "wait4";
	case SYS_fcntl: return "fcntl";
	case SYS_flock: return "flock";
	case SYS_getdents64: return "getdents64";
	case SYS_readlink: return "readlink";
	case SYS_readlinkat: return "readlinkat";
	case SYS_getuid: return "getuid";
	case SYS_geteuid: return "geteuid";
	case SYS_getgid: return "getgid";
	case SYS_getegid: return "getegid";
	case SYS_arch_prctl: return "arch_prctl";
	case SYS_set_tid_address: return "set_tid_address";
	case SYS_set_robust_list: return "set_robust_list";
	case SYS_rseq: return "rseq";
	case SYS_prlimit64: return "prlimit64";
	case SYS_futex: return "futex";
	case SYS_openat: return "openat";
	case SYS_newfstatat: return "newfstatat";
	case SYS_statx: return "statx";
	case SYS_getrandom: return "getrandom";
	case SYS_inotify_init1: return "inotify_init1";
	case SYS_inotify_add_watch: return "inotify_add_watch";
	case SYS_clock_gettime: return "clock_gettime";
	case SYS_socket: return "socket";
	case SYS_connect: return "connect";
	case SYS_sendmsg: return "sendmsg";
	case SYS_recvmsg: return "recvmsg";
	case SYS_uname: return "uname";
	case SYS_getcwd: return "getcwd";
	case SYS_dup2: return "dup2";
	case SYS_dup3: return "dup3";
	case SYS_pipe2: return "pipe2";
	case SYS_ppoll: return "ppoll";
	case SYS_pidfd_open: return "pidfd_open";
	case SYS_faccessat2: return "faccessat2";
	default:
		snprintf(buf, sizeof(buf), "sys_%ld", nr);
		return buf;
	}
}

static void peek_str(pid_t pid, unsigned long addr, char *buf, size_t size)
{
	size_t i = 0;

	buf[0] = '\0';
	while (i + sizeof(long) < size) {
		long w;

		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, pid, (void *)(addr + i), NULL);
		if (errno)
			break;
		memcpy(buf + i, &w, sizeof(w));
		i += sizeof(w);
		if (memchr(&w, 0, sizeof(w)))
			break;
	}
	buf[i < size ? i : size - 1] = '\0';
	buf[size - 1] = '\0';
}

static void sc_record(struct sc_count *c, pid_t pid, const struct user_regs_struct *regs)
{
	long nr = (long)regs->orig_rax;
	unsigned long patharg = 0;
	bool opener = false;
	char path[PATH_MAX + 32];

	c->total++;
	if (nr >= 0 && nr < NSYS)
		c->per_nr[nr]++;
	switch (nr) {
	case SYS_open:
		opener = true;
		/* fall through */
	case SYS_stat:
	case SYS_lstat:
	case SYS_readlink:
	case SYS_access:
		patharg = regs->rdi;
		break;
	case SYS_openat:
		opener = true;
		/* fall through */
	case SYS_newfstatat:
	case SYS_statx:
	case SYS_readlinkat:
	case SYS_faccessat2:
		patharg = regs->rsi;
		break;
	default:
		return;
	}
	if (!patharg)
		return;
	peek_str(pid, patharg, path, PATH_MAX);
	if (opener && strncmp(path, "/dev/", 5) == 0 && strncmp(path, "/dev/null", 9) != 0 &&
	    strncmp(path, "/dev/tty", 8) != 0 && strncmp(path, "/dev/shm/", 9) != 0) {
		c->dev_opens++;
		if (!is_sibling(path)) {
			c->foreign_opens++;
			if (c->n_foreign < 16)
				c->foreign[c->n_foreign++] = xstrdup(path);
		}
	}
	if (c->n_paths < MAX_PATHS) {
		char line[PATH_MAX + 48];

		snprintf(line, sizeof(line), "%s %s", sys_name(nr), path);
		c->paths[c->n_paths++] = xstrdup(line);
	}
}

/* Follow a tracee that did PTRACE_TRACEME and stopped itself (or execs):
 * with markers, the system calls between the 2k-th and 2k+1-th marker
 * (write(-1, ...)) go to c[k]; without, every call after the first stop
 * goes to c[0].  Returns the number of markers seen, or -1. */
int sc_follow(pid_t pid, bool markers, struct sc_count *c, int nc, int *status_out)
{
	int status, sig = 0, marks = 0, cur = markers ? -1 : 0;
	bool in_call = false;

	if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status))
		return -1;
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
	           (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC)) <
	    0)
		return -1;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig) < 0)
			return -1;
		sig = 0;
		if (waitpid(pid, &status, 0) < 0)
			return -1;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (!WIFSTOPPED(status))
			continue;
		if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			struct user_regs_struct regs;

			in_call = !in_call;
			if (!in_call)
				continue;
			if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) < 0)
				return -1;
			if (markers && (long)regs.orig_rax == SYS_write && (int)regs.rdi == -1) {
				marks++;
				cur = marks % 2 ? marks / 2 : -1;
				continue;
			}
			if (cur >= 0 && cur < nc)
				sc_record(&c[cur], pid, &regs);
		} else if ((status >> 16) != 0) {
			/* a ptrace event stop (exec): nothing to deliver */
		} else {
			sig = WSTOPSIG(status);
		}
	}
	if (status_out)
		*status_out = status;
	return marks;
}

void mark(void)
{
	static const char m[] = "ddlp-bench mark";

	(void)!syscall(SYS_write, (long)-1, m, sizeof(m) - 1);
}

void top_syscalls(const struct sc_count *c, char *out, size_t size)
{
	bool used[NSYS] = { false };
	size_t len = 0;

	out[0] = '\0';
	for (int k = 0; k < 12; k++) {
		long best = -1;

		for (long nr = 0; nr < NSYS; nr++)
			if (!used[nr] && c->per_nr[nr] > 0 && (best < 0 || c->per_nr[nr] > c->per_nr[best]))
				best = nr;
		if (best < 0)
			break;
		used[best] = true;
		len += (size_t)snprintf(out + len, size - len, "%s%s %ld", k ? ", " : "",
		                        sys_name(best), c->per_nr[best]);
		if (len >= size)
			break;
	}
}
#endif /* HAVE_SYSCALL_COUNTER */

#ifdef HAVE_SYSCALL_COUNTER
/* System calls of a whole process (from its execve), children not counted. */
long count_process(char *const argv[])
{
	struct sc_count c;
	int status = 0;
	long total;
	pid_t pid;

	memset(&c, 0, sizeof(c));
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(3);
		raise(SIGSTOP);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (sc_follow(pid, false, &c, 1, &status) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		sc_free(&c);
		return -1;
	}
	total = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? c.total : -1;
	sc_free(&c);
	return total;
}
#endif
