/*
 * The other processes that a section puts on the drive: holders of every
 * kind that issue 11 names, and waiters in ddlp_lock() or `ddlp-lock -w`.
 *
 * A DDLP holder or library waiter is ddlp-bench itself, started again
 * (/proc/self/exe) in its agent mode with DDLP_LOCK_BACKEND set: the
 * library picks its lock backend once per process, so a forked child would
 * keep this process's.  The agent reports on its stdout (a pipe): a holder
 * "0" once it holds the drive (or "-errno"), and it lets go when its stdin
 * (a pipe) reaches end of file; a waiter "r cpu_ms wall_ms" after its
 * ddlp_lock() call, the CPU time being getrusage(RUSAGE_SELF) around the
 * call.  `flock DEV sleep` and `udevadm lock --device=DEV sleep` run in a
 * process group of their own (killed as a group: flock(1) does not pass a
 * signal on to its command, which keeps the lock's descriptor) and hold
 * the drive once /proc/locks shows their flock on the block node.  The
 * O_EXCL-only holders (as xorriso on sr, wodim dev=/dev/sgN on sg) are a
 * forked child that opens the node O_RDWR|O_EXCL|O_NONBLOCK.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static const char *const holder_labels[N_HOLDERS] = {
	[HOLD_DDLP_X] = "DDLP exclusive (`ddlp_lock`, ofd)",
	[HOLD_DDLP_X_POSIX] = "DDLP exclusive (`ddlp_lock`, `DDLP_LOCK_BACKEND=posix`)",
	[HOLD_DDLP_S] = "DDLP shared (`ddlp_lock`, ofd)",
	[HOLD_DDLP_S_POSIX] = "DDLP shared (`ddlp_lock`, `DDLP_LOCK_BACKEND=posix`)",
	[HOLD_FLOCK] = "`flock DEV sleep` (util-linux)",
	[HOLD_UDEVADM] = "`udevadm lock --device=DEV sleep`",
	[HOLD_EXCL_SR] = "only `O_EXCL` on sr (as xorriso)",
	[HOLD_EXCL_SG] = "only `O_EXCL` on sg (as `wodim dev=/dev/sgN`)",
};

static const char *const waiter_labels[N_WAITERS] = {
	[WAIT_TOOL_NS] = "`ddlp-lock -n -s` (one try)",
	[WAIT_TOOL_NX] = "`ddlp-lock -n -x` (one try)",
	[WAIT_LIB_S] = "`ddlp_lock` shared",
	[WAIT_LIB_X] = "`ddlp_lock` exclusive",
	[WAIT_TOOL_S] = "`ddlp-lock -s -w`",
	[WAIT_TOOL_X] = "`ddlp-lock -x -w`",
};

const char *holder_label(enum holder_kind k)
{
	return holder_labels[k];
}

const char *waiter_label(enum waiter_kind k)
{
	return waiter_labels[k];
}

bool waiter_is_tool(enum waiter_kind k)
{
	return k != WAIT_LIB_S && k != WAIT_LIB_X;
}

bool waiter_waits(enum waiter_kind k)
{
	return k != WAIT_TOOL_NS && k != WAIT_TOOL_NX;
}

bool holder_posix(enum holder_kind k)
{
	return k == HOLD_DDLP_X_POSIX || k == HOLD_DDLP_S_POSIX;
}

/* One line from fd within timeout_ms: 0, or -ETIMEDOUT / -EIO. */
static int read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
	size_t len = 0;

	while (len + 1 < size) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = (end - now_ns()) / 1000000;
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(fd, buf + len, 1);
		if (n <= 0)
			return -EIO;
		if (buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	return 0;
}

static const char *backend_env(bool posix)
{
	return posix ? "DDLP_LOCK_BACKEND=posix" : "DDLP_LOCK_BACKEND=ofd";
}

/* ddlp-bench --agent ... with stdin and stdout on pipes. */
static pid_t start_agent(char *const argv[], bool posix, int *to, int *from)
{
	char *env[] = { (char *)backend_env(posix), NULL };
	int in[2], out[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	pid = spawn_ex(argv, env, in[0], out[1], false, false);
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return -1;
	}
	*to = in[1];
	*from = out[0];
	return pid;
}

static const char *sg_node(void)
{
	for (size_t i = 0; i < tg.n; i++)
		if (tg.node[i].kind == DDLP_NODE_SG && !(tg.node[i].flags & DDLP_NODE_ALIAS))
			return tg.node[i].path;
	return NULL;
}

/* A forked child that holds path open with O_EXCL until ctl reaches EOF. */
static pid_t start_excl(const char *path, int *ctl, int *status_fd)
{
	int c[2], s[2];
	pid_t pid;

	if (pipe2(c, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(s, O_CLOEXEC) < 0) {
		close(c[0]);
		close(c[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_EXCL | O_NONBLOCK | O_CLOEXEC);
		char buf[16];
		int len = snprintf(buf, sizeof(buf), "%d\n", fd < 0 ? -errno : 0);

		close(c[1]);
		close(s[0]);
		if (write(s[1], buf, (size_t)len) != len)
			_exit(2);
		while (read(c[0], buf, sizeof(buf)) > 0)
			;
		_exit(0);
	}
	close(c[0]);
	close(s[1]);
	if (pid < 0) {
		close(c[1]);
		close(s[0]);
		return -1;
	}
	*ctl = c[1];
	*status_fd = s[0];
	return pid;
}

int holder_start(struct holder *h, enum holder_kind kind)
{
	char devopt[PATH_MAX + 16], line[64];
	int st = -1, r = 0;

	memset(h, 0, sizeof(*h));
	h->kind = kind;
	h->ctl = -1;
	h->pid = -1;
	switch (kind) {
	case HOLD_DDLP_X:
	case HOLD_DDLP_X_POSIX:
	case HOLD_DDLP_S:
	case HOLD_DDLP_S_POSIX: {
		bool x = kind == HOLD_DDLP_X || kind == HOLD_DDLP_X_POSIX;
		char *argv[] = { "/proc/self/exe", "--agent", "hold", x ? "x" : "s", tg.spec, NULL };

		h->pid = start_agent(argv, holder_posix(kind), &h->ctl, &st);
		break;
	}
	case HOLD_FLOCK:
	case HOLD_UDEVADM: {
		char *fl[] = { "flock", tg.block, "sleep", "3600", NULL };
		char *ud[] = { "udevadm", "lock", devopt, "sleep", "3600", NULL };

		if (!in_path(kind == HOLD_FLOCK ? "flock" : "udevadm") || !tg.block[0])
			return -ENOENT;
		snprintf(devopt, sizeof(devopt), "--device=%s", tg.block);
		h->pgroup = true;
		h->pid = spawn_ex(kind == HOLD_FLOCK ? fl : ud, NULL, -1, -1, true, true);
		if (h->pid < 0)
			return -errno;
		/* held once /proc/locks shows the flock (20 s at most) */
		for (int i = 0; i < 4000 && !node_locked(tg.block, "FLOCK"); i++) {
			if (waitpid(h->pid, &st, WNOHANG) == h->pid) {
				h->pid = -1;
				return -ECHILD;
			}
			sleep_us(5000);
		}
		if (!node_locked(tg.block, "FLOCK")) {
			holder_stop(h);
			return -ETIMEDOUT;
		}
		return 0;
	}
	case HOLD_EXCL_SR:
	case HOLD_EXCL_SG: {
		const char *path = kind == HOLD_EXCL_SR ? (tg.block[0] ? tg.block : NULL) : sg_node();

		if (!path)
			return -ENOENT;
		h->pid = start_excl(path, &h->ctl, &st);
		break;
	}
	default:
		return -EINVAL;
	}
	if (h->pid < 0)
		return -errno;
	r = read_line(st, line, sizeof(line), 20000);
	close(st);
	if (r == 0)
		r = atoi(line);
	if (r < 0)
		holder_stop(h);
	return r;
}

void holder_stop(struct holder *h)
{
	if (h->pid <= 0)
		return;
	if (h->ctl >= 0)
		close(h->ctl);
	h->ctl = -1;
	if (h->pgroup)
		kill(-h->pid, SIGTERM);
	if (wait_child(h->pid, 20000, NULL, NULL) < 0)
		fail("the holder %s did not end", holder_labels[h->kind]);
	if (h->pgroup)
		kill(-h->pid, SIGKILL); /* a command left behind by its group's leader */
	h->pid = -1;
}

static bool has_ended(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == pid;
}

/* The CPU share of a waiter while it waits: /proc/PID/schedstat between
 * the first and the last time it is seen asleep in poll(2), looked at every
 * 10 ms until it ends (its start, resolution and first attempt lie before
 * that window, its exit after it).  -1 when the window is shorter than
 * 50 ms (it took the drive); -2 when it was never seen asleep in poll(2)
 * (a waiter that never sleeps). */
static double waiting_phase(pid_t pid, int timeout_ms)
{
	int64_t end = now_ns() + ((int64_t)timeout_ms + 20000) * 1000000;
	int64_t s0 = -1, s1 = -1, c0 = -1, c1 = -1;

	while (!has_ended(pid) && now_ns() < end) {
		if (in_poll(pid) > 0) {
			int64_t c = cpu_ns(pid), t = now_ns();

			if (c >= 0 && s0 < 0) {
				s0 = t;
				c0 = c;
			} else if (c >= 0) {
				s1 = t;
				c1 = c;
			}
		}
		sleep_us(10000);
	}
	if (s0 < 0)
		return -2;
	if (s1 - s0 < 50000000 || c1 < c0)
		return -1;
	return 100.0 * (double)(c1 - c0) / (double)(s1 - s0);
}

int waiter_run(enum waiter_kind k, bool posix, int timeout_ms, struct wait_result *out)
{
	char tmo[32], line[128];
	struct rusage ru;
	int64_t t0 = now_ns();
	int status = 0, r;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	out->wait_pct = -1;
	if (k == WAIT_LIB_S || k == WAIT_LIB_X) {
		char *argv[] = { "/proc/self/exe", "--agent", "wait", k == WAIT_LIB_X ? "x" : "s",
			         tmo, tg.spec, NULL };
		int to, from, res;
		double cpu, wall;

		snprintf(tmo, sizeof(tmo), "%d", timeout_ms);
		pid = start_agent(argv, posix, &to, &from);
		if (pid < 0)
			return -errno;
		out->wait_pct = waiting_phase(pid, timeout_ms);
		r = read_line(from, line, sizeof(line), timeout_ms + 20000);
		close(to);
		close(from);
		if (wait_child(pid, 20000, &status, NULL) < 0 || r < 0)
			return r < 0 ? r : -ETIMEDOUT;
		out->wall_ms = ms(now_ns() - t0);
		if (sscanf(line, "%d %lf %lf", &res, &cpu, &wall) != 3)
			return -EIO;
		out->status = res;
		out->outcome = res == 0 ? 0 : res == -ETIMEDOUT ? 1 : res < 0 ? res : -EIO;
		out->cpu_ms = cpu;
		out->call_ms = wall;
		return 0;
	} else {
		char *env[] = { (char *)backend_env(posix), NULL };
		bool x = k == WAIT_TOOL_X || k == WAIT_TOOL_NX;
		char *argv[] = { (char *)opt.ddlp_lock, x ? "-x" : "-s", "-w", tmo, "--no-reprobe",
			         tg.spec, "true", NULL };

		if (!opt.ddlp_lock)
			return -ENOENT;
		snprintf(tmo, sizeof(tmo), "%.3f", waiter_waits(k) ? timeout_ms / 1000.0 : 0.0);
		if (!waiter_waits(k)) { /* one try: -n */
			argv[2] = "-n";
			argv[3] = "--quiet";
		}
		pid = spawn_ex(argv, env, -1, -1, true, false);
		if (pid < 0)
			return -errno;
		out->wait_pct = waiter_waits(k) ? waiting_phase(pid, timeout_ms) : -1;
		r = wait_child(pid, timeout_ms + 20000, &status, &ru);
		out->wall_ms = ms(now_ns() - t0);
		out->call_ms = out->wall_ms;
		if (r < 0)
			return r;
		out->cpu_ms = rusage_ms(&ru);
		out->status = status;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			out->outcome = 0;
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
			out->outcome = 1;
		else
			out->outcome = -ECHILD;
		return 0;
	}
}

/* ------------------------------------------------------------------ *
 * The agent mode: ddlp-bench --agent hold {x|s} SPEC
 *                 ddlp-bench --agent wait {x|s} TIMEOUT_MS SPEC
 * ------------------------------------------------------------------ */

int agent_main(int argc, char **argv)
{
	enum ddlp_mode mode;
	struct ddlp_lock *l = NULL;
	int r;

	if (argc > 1 && strcmp(argv[1], "opens") == 0)
		return guard_agent_main(argc - 1, argv + 1);
	if (argc < 4 || (strcmp(argv[2], "x") != 0 && strcmp(argv[2], "s") != 0))
		goto usage;
	mode = strcmp(argv[2], "x") == 0 ? DDLP_EXCLUSIVE : DDLP_SHARED;
	if (strcmp(argv[1], "hold") == 0 && argc == 4) {
		char buf[64];

		r = ddlp_lock(argv[3], mode, 5000, DDLP_LOCK_NO_REPROBE, &l);
		printf("%d\n", r);
		fflush(stdout);
		if (r < 0)
			return 1;
		while (read(0, buf, sizeof(buf)) > 0)
			;
		return ddlp_unlock(l) < 0;
	}
	if (strcmp(argv[1], "wait") == 0 && argc == 5) {
		struct rusage a, b;
		int64_t t0;
		double wall;

		getrusage(RUSAGE_SELF, &a);
		t0 = now_ns();
		r = ddlp_lock(argv[4], mode, atoi(argv[3]), DDLP_LOCK_NO_REPROBE, &l);
		wall = ms(now_ns() - t0);
		getrusage(RUSAGE_SELF, &b);
		printf("%d %.3f %.3f\n", r, rusage_ms(&b) - rusage_ms(&a), wall);
		fflush(stdout);
		if (r == 0)
			ddlp_unlock(l);
		return 0;
	}
usage:
	fputs("ddlp-bench: --agent hold {x|s} SPEC | --agent wait {x|s} TIMEOUT_MS SPEC\n",
	      stderr);
	return 64;
}
