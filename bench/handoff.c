/*
 * Section 5, hand-off latency and the CPU time of a waiter.
 *
 * Hand-off: this process holds the drive; the waiter is a forked child in
 * ddlp_lock(..., 30000, ...), or `ddlp-lock -w 30 --no-reprobe DEV true`.
 * Each round the holder waits until the waiter sleeps in poll(2)
 * (/proc/PID/syscall), 1-3 ms more, then t0 = now and ddlp_unlock().  t1 =
 * the waiter's clock right after ddlp_lock() returned (library), or the
 * arrival of the inotify IN_OPEN of the last node of the lock order, which
 * the waiter opens last (the tool's command would add an exec).  Against
 * one lock+unlock of an idle drive; rounds of 400 ms or more (a missed
 * wake-up, slept to the 500 ms fallback) are counted.
 *
 * Waiter CPU: both waiters wait --wait-ms for a drive this process holds;
 * getrusage around the whole ddlp_lock() call, wait4's rusage of the whole
 * tool process, and the CPU time of the waiting phase alone
 * (/proc/PID/schedstat, count-cpu.c, from the moment the waiter first
 * sleeps in poll(2) to 300 ms before its deadline).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

int64_t handoff_lib_p50;

/* Blocks until an IN_OPEN of the watched node; its arrival time. */
static int64_t wait_open_event(int ifd, int timeout_ms)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		struct pollfd pfd = { .fd = ifd, .events = POLLIN };
		int64_t left = (end - now_ns()) / 1000000;
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = read(ifd, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_OPEN)
				return now_ns();
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void drain(int ifd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(ifd, buf, sizeof(buf)) > 0)
		;
}

struct wmsg {
	int r;
	int64_t t;
};

static void lib_waiter(int cmd_fd, int res_fd)
{
	char c;

	while (read(cmd_fd, &c, 1) == 1) {
		struct ddlp_lock *l = NULL;
		struct wmsg m;

		m.r = ddlp_lock(tg.spec, DDLP_EXCLUSIVE, 30000, DDLP_LOCK_NO_REPROBE, &l);
		m.t = now_ns();
		if (m.r == 0)
			ddlp_unlock(l);
		if (write(res_fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
			_exit(2);
	}
	_exit(0);
}

/* One lock+unlock of an idle drive (100 ms after anything else), as a
 * program that locks once does it: the median of 30. */
static int64_t isolated_p50(void)
{
	int64_t v[30];

	if (isolated_lib_p50 > 0)
		return isolated_lib_p50; /* section 1 measured it */

	for (int i = 0; i < 30; i++) {
		int64_t t0;

		sleep_us(100000);
		t0 = now_ns();
		if (lib_lock_unlock(tg.spec) < 0)
			return 0;
		v[i] = now_ns() - t0;
	}
	return stats_of(v, 30).p50;
}

/* The holder is this process (a libddlp lock); the waiter is either a
 * child in ddlp_lock() with a 30 s timeout, or `ddlp-lock -w 30`.  Each
 * round: the holder locks, the waiter starts waiting, the holder waits
 * until the waiter sleeps in poll(2) (/proc/PID/syscall), then t0 = now and
 * ddlp_unlock().  t1: the waiter's own clock right after ddlp_lock()
 * returned (library), or the arrival of the inotify IN_OPEN of the last
 * node of the lock order, which the waiter opens last (both; for the tool
 * it is the only clock: its command would add an exec). */
static int handoff_rounds(bool cli, int rounds, int64_t *lat, int64_t *lat_ev, int64_t *unl)
{
	int cmd[2] = { -1, -1 }, res[2] = { -1, -1 }, ifd, n = 0;
	pid_t child = -1;
	const char *last = tg.node[tg.n - 1].path;

	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0 || inotify_add_watch(ifd, last, IN_OPEN) < 0) {
		fail("inotify on %s: %s", last, strerror(errno));
		if (ifd >= 0)
			close(ifd);
		return 0;
	}
	if (!cli) {
		if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0) {
			fail("pipe: %s", strerror(errno));
			goto out;
		}
		child = fork();
		if (child < 0) {
			fail("fork: %s", strerror(errno));
			goto out;
		}
		if (child == 0) {
			close(cmd[1]);
			close(res[0]);
			lib_waiter(cmd[0], res[1]);
		}
		close(cmd[0]);
		close(res[1]);
		cmd[0] = res[1] = -1;
	}
	for (int i = 0; i < rounds; i++) {
		struct ddlp_lock *hold;
		int64_t t0, t0e, tev;
		struct wmsg m = { 0, 0 };
		int r;

		r = lib_lock(tg.spec, &hold);
		if (r < 0) {
			fail("hand-off holder lock: %s", strerror(-r));
			break;
		}
		if (cli) {
			char *argv[] = { (char *)opt.ddlp_lock, "-w", "30", "--no-reprobe",
			                 tg.spec, "true", NULL };

			child = spawn(argv, false);
			if (child < 0) {
				fail("%s: %s", opt.ddlp_lock, strerror(errno));
				ddlp_unlock(hold);
				break;
			}
		} else if (write(cmd[1], "g", 1) != 1) {
			fail("waiter gone");
			ddlp_unlock(hold);
			break;
		}
		r = wait_in_poll(child, 20000);
		if (r < 0) {
			fail("the %s waiter never slept in poll (%s)", cli ? "ddlp-lock" : "library",
			     strerror(-r));
			ddlp_unlock(hold);
			break;
		}
		sleep_us(1000 + rand() % 2000);
		drain(ifd);
		t0 = now_ns();
		ddlp_unlock(hold);
		t0e = now_ns();
		tev = wait_open_event(ifd, 20000);
		if (cli) {
			int status;

			if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
			    WEXITSTATUS(status) != 0) {
				fail("ddlp-lock -w ended with status 0x%x", status);
				break;
			}
			child = -1;
			m.t = tev;
		} else {
			if (read(res[0], &m, sizeof(m)) != (ssize_t)sizeof(m) || m.r != 0) {
				fail("library waiter: %s", strerror(-m.r));
				break;
			}
		}
		if (tev < 0) {
			fail("no open of %s seen after the hand-off", last);
			break;
		}
		lat[n] = m.t - t0;
		lat_ev[n] = tev - t0;
		unl[n] = t0e - t0;
		n++;
	}
out:
	if (!cli && child > 0) {
		if (cmd[1] >= 0)
			close(cmd[1]);
		cmd[1] = -1;
		waitpid(child, NULL, 0);
	}
	for (int i = 0; i < 2; i++) {
		if (cmd[i] >= 0)
			close(cmd[i]);
		if (res[i] >= 0)
			close(res[i]);
	}
	close(ifd);
	return n;
}

static void handoff_report(bool cli, int n, int64_t *lat, int64_t *ev, int64_t *unl,
                           int64_t base)
{
	const char *key = cli ? "cli" : "lib";
	int64_t *after = calloc((size_t)n, sizeof(int64_t));
	struct stats s, sa, se, su;
	char tgt[96], what[160], k[64];
	int slow = 0;

	if (!after)
		return;
	for (int i = 0; i < n; i++) {
		slow += lat[i] >= 400000000;
		after[i] = lat[i] - unl[i];
	}
	s = stats_of(lat, (size_t)n);
	sa = stats_of(after, (size_t)n);
	se = stats_of(ev, (size_t)n);
	su = stats_of(unl, (size_t)n);
	snprintf(tgt, sizeof(tgt), "p50 <= one lock+unlock of an idle drive (%.3f ms)", ms(base));
	snprintf(what, sizeof(what),
	         "hand-off to %s, from the holder's unlock call (p50 / p99 / max; p50 from the "
	         "unlock's return)",
	         cli ? "`ddlp-lock -w 30` (lock taken)" : "a waiter in ddlp_lock(timeout)");
	row("5", what, tgt, verdict(s.p50 <= base), "%.3f / %.3f / %.3f ms; %.3f ms (n=%d)",
	    ms(s.p50), ms(s.p99), ms(s.max), ms(sa.p50), n);
	if (!cli)
		detail("- hand-off, library waiter: the holder's ddlp_unlock() took %.3f ms (median); "
		       "the waiter's open of %s, the last node of the order, came %.3f ms (median) "
		       "after the unlock call",
		       ms(su.p50), tg.node[tg.n - 1].path, ms(se.p50));
	if (slow)
		detail("- hand-off, %s: %d of %d hand-offs took 400 ms or more (the waiter slept "
		       "until its 500 ms fallback retry)",
		       cli ? "ddlp-lock -w" : "library waiter", slow, n);
	if (!cli)
		handoff_lib_p50 = s.p50;
	snprintf(k, sizeof(k), "handoff_%s_p50_ms", key);
	kv(k, "%.3f", ms(s.p50));
	snprintf(k, sizeof(k), "handoff_%s_p99_ms", key);
	kv(k, "%.3f", ms(s.p99));
	snprintf(k, sizeof(k), "handoff_%s_max_ms", key);
	kv(k, "%.3f", ms(s.max));
	snprintf(k, sizeof(k), "handoff_%s_after_unlock_p50_ms", key);
	kv(k, "%.3f", ms(sa.p50));
	snprintf(k, sizeof(k), "handoff_%s_n", key);
	kv(k, "%d", n);
	snprintf(k, sizeof(k), "handoff_%s_slow", key);
	kv(k, "%d", slow);
	free(after);
}

void section_handoff(void)
{
	int64_t base = isolated_p50();
	int max = opt.handoffs > opt.cli_handoffs ? opt.handoffs : opt.cli_handoffs;
	int64_t *lat = calloc((size_t)max + 1, sizeof(int64_t));
	int64_t *ev = calloc((size_t)max + 1, sizeof(int64_t));
	int64_t *unl = calloc((size_t)max + 1, sizeof(int64_t));
	int n;

	if (!lat || !ev || !unl) {
		fail("out of memory");
		goto out;
	}
	if (base <= 0) {
		fail("lock+unlock for the hand-off baseline failed");
		goto out;
	}
	if (lock_stats.n)
		row("5", "baseline: one lock+unlock of an idle drive, 100 ms after anything else "
		         "(median; section 1's back-to-back median for comparison)",
		    NULL, NULL, "%.3f ms; %.3f ms", ms(base), ms(lock_stats.p50));
	else
		row("5", "baseline: one lock+unlock of an idle drive, 100 ms after anything else "
		         "(median of 30)",
		    NULL, NULL, "%.3f ms", ms(base));
	kv("handoff_base_ms", "%.3f", ms(base));
	if (opt.handoffs > 0) {
		progress("5: %d hand-offs to a waiter in ddlp_lock()", opt.handoffs);
		n = handoff_rounds(false, opt.handoffs, lat, ev, unl);
		if (n > 0)
			handoff_report(false, n, lat, ev, unl, base);
	}
	if (opt.cli_handoffs > 0 && opt.ddlp_lock) {
		progress("5: %d hand-offs to ddlp-lock -w", opt.cli_handoffs);
		n = handoff_rounds(true, opt.cli_handoffs, lat, ev, unl);
		if (n > 0)
			handoff_report(true, n, lat, ev, unl, base);
	}
out:
	free(lat);
	free(ev);
	free(unl);
}

/* Both waiters wait for opt.wait_ms on a drive this process holds: a child
 * in ddlp_lock() (getrusage around the call), and `ddlp-lock -w`
 * (wait4's rusage).  Besides the whole call or process, the CPU time of the
 * waiting phase alone: /proc/PID/schedstat from the moment the waiter
 * first sleeps in poll(2) to 300 ms before its deadline. */
void section_cpu(void)
{
	struct ddlp_lock *hold;
	struct rusage ru;
	pid_t lib, cli = -1;
	int p[2], r, status;
	double lib_cpu = -1, lib_wall = 0, cli_cpu = -1, cli_wall = 0;
	int64_t start, t0 = 0, t1 = 0, l0 = -1, l1 = -1, c0 = -1, c1 = -1;

	progress("5: CPU time of waiters waiting %d ms", opt.wait_ms);
	r = lib_lock(tg.spec, &hold);
	if (r < 0) {
		fail("cpu: holder lock: %s", strerror(-r));
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		fail("pipe: %s", strerror(errno));
		ddlp_unlock(hold);
		return;
	}
	start = now_ns();
	lib = fork();
	if (lib == 0) {
		struct rusage a, b;
		struct ddlp_lock *l;
		double m[2];
		int64_t s = now_ns();

		getrusage(RUSAGE_SELF, &a);
		r = ddlp_lock(tg.spec, DDLP_EXCLUSIVE, opt.wait_ms, DDLP_LOCK_NO_REPROBE, &l);
		getrusage(RUSAGE_SELF, &b);
		m[0] = rusage_ms(&b) - rusage_ms(&a);
		m[1] = ms(now_ns() - s);
		if (write(p[1], m, sizeof(m)) != (ssize_t)sizeof(m))
			_exit(2);
		_exit(r == -ETIMEDOUT ? 0 : 1);
	}
	close(p[1]);
	if (opt.ddlp_lock) {
		char secs[32];
		char *argv[] = { (char *)opt.ddlp_lock, "-w", secs, "--no-reprobe", tg.spec,
		                 "true", NULL };

		snprintf(secs, sizeof(secs), "%.3f", opt.wait_ms / 1000.0);
		cli = spawn(argv, true);
	}
	if (lib > 0 && wait_in_poll(lib, opt.wait_ms) == 0)
		l0 = cpu_ns(lib);
	if (cli > 0 && wait_in_poll(cli, opt.wait_ms) == 0)
		c0 = cpu_ns(cli);
	t0 = now_ns();
	if (start + (int64_t)(opt.wait_ms - 300) * 1000000 > t0)
		sleep_us((long)((start + (int64_t)(opt.wait_ms - 300) * 1000000 - t0) / 1000));
	if (l0 >= 0)
		l1 = cpu_ns(lib);
	if (c0 >= 0)
		c1 = cpu_ns(cli);
	t1 = now_ns();
	if (lib > 0) {
		double m[2];

		if (read(p[0], m, sizeof(m)) == (ssize_t)sizeof(m)) {
			lib_cpu = m[0];
			lib_wall = m[1];
		}
		if (waitpid(lib, &status, 0) != lib || !WIFEXITED(status) || WEXITSTATUS(status))
			fail("the library waiter did not time out (status 0x%x)", status);
	}
	close(p[0]);
	if (cli > 0 && wait4(cli, &status, 0, &ru) == cli) {
		cli_wall = ms(now_ns() - start);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
			cli_cpu = rusage_ms(&ru);
		else
			fail("ddlp-lock -w on a held drive: status 0x%x", status);
	}
	ddlp_unlock(hold);
	if (lib_cpu >= 0) {
		double pct = 100.0 * lib_cpu / lib_wall;
		double spct = l1 >= l0 && l0 >= 0 ? 100.0 * (double)(l1 - l0) / (double)(t1 - t0) : -1;

		row("5", "CPU time of a waiter in ddlp_lock(): the whole call (getrusage); the waiting "
		         "phase alone (schedstat)",
		    "<= 1%", verdict(pct <= 1.0), "%.1f ms in %.0f ms (%.3f%%); %.2f ms in %.0f ms (%.3f%%)",
		    lib_cpu, lib_wall, pct, ms(l1 - l0), ms(t1 - t0), spct);
		kv("waitcpu_lib_ms", "%.1f", lib_cpu);
		kv("waitcpu_lib_pct", "%.3f", pct);
		kv("waitcpu_lib_steady_pct", "%.3f", spct);
	}
	if (cli_cpu >= 0) {
		double spct = c1 >= c0 && c0 >= 0 ? 100.0 * (double)(c1 - c0) / (double)(t1 - t0) : -1;

		row("5", "CPU time of `ddlp-lock -w`: the waiting phase (schedstat); the whole process "
		         "with its start (wait4)",
		    "<= 1%", verdict(spct >= 0 && spct <= 1.0),
		    "%.2f ms in %.0f ms (%.3f%%); %.1f ms in %.0f ms", ms(c1 - c0), ms(t1 - t0), spct,
		    cli_cpu, cli_wall);
		kv("waitcpu_cli_ms", "%.1f", cli_cpu);
		kv("waitcpu_cli_steady_pct", "%.3f", spct);
	}
}
