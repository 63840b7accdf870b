/*
 * ddlp-lock: the lock-and-run path.  Take the lock of every drive named
 * (all or nothing; waiting with a progress line when a person waits at a
 * terminal), say which other processes have an exclusively locked drive
 * open without holding any lock (or, with --wait-unused, wait until they
 * have closed it), hand the lock to the command (unless -o), run the
 * command (ddlp-lock-exec.c), release.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "ddlp-lock.h"

/* The progress line is redrawn this often while nothing happens (ms). */
#define PROGRESS_MS 200

static volatile sig_atomic_t wait_signal;

static void on_wait_signal(int sig)
{
	wait_signal = sig;
}

static void progress_clear(void)
{
	fputs("\r\033[K", stderr);
	fflush(stderr);
}

static void progress_show(const struct ddlp_request *reqs, int64_t start)
{
	const struct ddlp_conflict *c = ddlp_last_conflict();
	char holder[512], line[PATH_MAX + 1024], text[4 * sizeof(line)];

	describe_conflict(c, holder, sizeof(holder));
	snprintf(line, sizeof(line), "waiting for %s (busy: %s) %.1f s",
	         c && *ddlp_conflict_get_spec(c) ? ddlp_conflict_get_spec(c) : reqs[0].spec, holder,
	         (double)(now_ms() - start) / 1000.0);
	printable(line, text, sizeof(text));
	fprintf(stderr, "\r%s\033[K", text);
	fflush(stderr);
}

/*
 * Wait for the drives through a lock attempt (ddlp_attempt_*): try, and
 * while busy sleep in ppoll() on the attempt's descriptor until it says
 * the drive may have become free, the attempt's retry time, the deadline,
 * the next redraw of the progress line (on a terminal), or one of the
 * forwarded signals.  Those signals are blocked except inside ppoll(), so
 * that one that comes between two steps still ends the sleep; then the
 * attempt is freed (nothing stays held or queued) and ddlp-lock dies of
 * the signal, as it would without the wait.
 */
static int lock_waiting(const struct options *o, const struct ddlp_request *reqs, size_t n,
                        struct ddlp_lock **lock, int64_t start, bool progress)
{
	int64_t deadline = o->timeout_ms < 0 ? -1 : start + o->timeout_ms;
	struct sigaction sa = { .sa_handler = on_wait_signal }, old[N_FORWARDED_SIGNALS];
	struct ddlp_attempt *a;
	sigset_t block, saved;
	bool shown = false;
	int r;

	r = ddlp_attempt_new_many(reqs, n, o->flags, &a);
	if (r < 0)
		return r;
	sigemptyset(&block);
	for (size_t i = 0; i < N_FORWARDED_SIGNALS; i++)
		sigaddset(&block, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, &block, &saved);
	/* signals ignored when ddlp-lock started stay ignored */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_FORWARDED_SIGNALS; i++) {
		sigaction(forwarded_signals[i], NULL, &old[i]);
		if (old[i].sa_handler != SIG_IGN)
			sigaction(forwarded_signals[i], &sa, NULL);
	}
	for (;;) {
		struct pollfd pfd = { .fd = ddlp_attempt_get_fd(a), .events = POLLIN };
		int64_t t, wait = ddlp_attempt_get_timeout_ms(a);
		struct timespec ts;

		r = ddlp_attempt_try(a, lock);
		if (r != -EBUSY)
			break;
		t = now_ms();
		if (deadline >= 0 && t >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		if (progress) {
			progress_show(reqs, start);
			shown = true;
			if (wait < 0 || wait > PROGRESS_MS)
				wait = PROGRESS_MS;
		}
		if (deadline >= 0 && (wait < 0 || wait > deadline - t))
			wait = deadline - t;
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (long)(wait % 1000) * 1000000;
		if (ppoll(&pfd, pfd.fd >= 0 ? 1 : 0, wait < 0 ? NULL : &ts, &saved) < 0 &&
		    errno != EINTR) {
			r = -errno;
			break;
		}
		if (wait_signal)
			break;
	}
	if (r == -ETIMEDOUT || r == -EBUSY)
		(void)ddlp_conflict_get_holder_pid(ddlp_last_conflict()); /* while it holds */
	ddlp_attempt_free(a);
	if (shown)
		progress_clear();
	for (size_t i = 0; i < N_FORWARDED_SIGNALS; i++)
		sigaction(forwarded_signals[i], &old[i], NULL);
	if (wait_signal) {
		/* die of it, as without the wait: nothing is held or queued */
		if (r == 0)
			ddlp_unlock(*lock);
		*lock = NULL;
		raise(wait_signal); /* pending until the mask is restored */
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return wait_signal ? -EINTR : r;
}

/* ------------------------------------------------------------------ *
 * Other processes that have an exclusively locked drive open
 * ------------------------------------------------------------------ */

/* "blkid (pid 812)" or "blkid (pid 812) and udisksd (pid 900)", for the
 * processes that have drive i open without a lock; the count. */
static size_t unlocked_names(const struct ddlp_users *us, size_t i, char *buf, size_t size)
{
	size_t n = ddlp_users_get_count(us, i), found = 0, len = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < n; k++) {
		const struct ddlp_user *u = ddlp_users_get(us, i, k);
		const char *name = ddlp_user_get_name(u);

		if (ddlp_user_get_lock(u) != DDLP_USER_LOCK_NONE)
			continue;
		found++;
		if (len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s (pid %ld)",
			                        found == 1 ? "" : ", ", name ? name : "a process",
			                        (long)ddlp_user_get_pid(u));
	}
	return found;
}

/* After the lock: warn about the processes that have a drive that is now
 * held exclusively open without holding any lock (they can still send it
 * commands), or with --wait-unused wait until they closed it.  Returns 0,
 * or the exit code when the wait failed (the lock is then released by the
 * caller). */
static int check_unused(const struct options *o, struct ddlp_lock *lock)
{
	struct ddlp_users *us = NULL;
	size_t n = ddlp_lock_get_drive_count(lock);
	const struct ddlp_drive *drives[MAX_DRIVES];
	char names[2048];
	bool any_exclusive = false;
	int64_t start = now_ms();
	int r;

	for (size_t i = 0; i < n; i++) {
		drives[i] = ddlp_lock_get_drive(lock, i);
		any_exclusive |= ddlp_lock_get_mode(lock, i) == DDLP_EXCLUSIVE;
	}
	if (!any_exclusive || (o->quiet && !o->wait_unused))
		return 0;
	if (o->wait_unused) {
		r = ddlp_users_wait_unused(lock, o->unused_ms, 0, &us);
		if (r == 0) {
			if (o->verbose)
				msg("no other process has the drive open (waited %.3f s)",
				    (double)(now_ms() - start) / 1000.0);
			ddlp_users_free(us);
			return 0;
		}
		if (r != -ETIMEDOUT && r != -EBUSY) {
			msg("%s: cannot find the processes that have it open: %s",
			    ddlp_drive_get_spec(drives[0]), strerror(-r));
			return EX_OSERR;
		}
		for (size_t i = 0; i < n && !o->quiet; i++)
			if (unlocked_names(us, i, names, sizeof(names)))
				msg("%s: still open by %s after %.1f s", ddlp_drive_get_spec(drives[i]),
				    names, (double)(now_ms() - start) / 1000.0);
		ddlp_users_free(us);
		return o->conflict_code;
	}
	r = ddlp_users_new(drives, n, DDLP_USERS_OTHERS, &us);
	if (r < 0) {
		if (o->verbose)
			msg("cannot find the processes that have the drive open: %s", strerror(-r));
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (ddlp_lock_get_mode(lock, i) != DDLP_EXCLUSIVE)
			continue;
		k = unlocked_names(us, i, names, sizeof(names));
		if (k)
			warning("%s is open by %s, which hold%s no lock", ddlp_drive_get_spec(drives[i]),
			        names, k == 1 ? "s" : "");
	}
	ddlp_users_free(us);
	return 0;
}

/* ------------------------------------------------------------------ *
 * The whole path
 * ------------------------------------------------------------------ */

static void verbose_drive(const struct ddlp_drive *d, enum ddlp_mode mode)
{
	char nodes[1024] = "";
	size_t n = ddlp_drive_get_node_count(d), len = 0;
	const char *pn = ddlp_drive_get_persistent_name(d);

	for (size_t i = 0; i < n && len < sizeof(nodes); i++)
		len += (size_t)snprintf(nodes + len, sizeof(nodes) - len, "%s%s", i ? " " : "",
		                        ddlp_node_get_path(ddlp_drive_get_node(d, i)));
	msg("%s: %s%s%s%s, %s: %s", ddlp_drive_get_spec(d), ddlp_drive_get_id(d), pn ? " (" : "",
	    pn ? pn : "", pn ? ")" : "", mode_name(mode), nodes);
}

int do_lock(const struct options *o, const struct lock_req *reqs, size_t n, char **argv)
{
	struct ddlp_request dreq[MAX_DRIVES];
	struct ddlp_lock *lock = NULL;
	struct child_result res;
	const char *device = reqs[0].spec;
	int64_t start, locked;
	int r;

	for (size_t i = 0; i < n; i++) {
		dreq[i].spec = reqs[i].spec;
		dreq[i].mode = reqs[i].mode;
	}
	start = now_ms();
	if (o->timeout_ms != 0)
		r = lock_waiting(o, dreq, n, &lock, start, !o->quiet && isatty(STDERR_FILENO));
	else
		r = ddlp_lock_many(dreq, n, 0, o->flags, &lock);
	locked = now_ms();
	if (r < 0) {
		const struct ddlp_conflict *c = ddlp_last_conflict();
		enum ddlp_mode mode = reqs[0].mode;

		if (c) {
			for (size_t i = 0; i < n; i++)
				if (strcmp(ddlp_conflict_get_spec(c), reqs[i].spec) == 0)
					mode = reqs[i].mode;
			return report_error(o, r, device, mode, c, locked - start);
		}
		return report_request_error(o, r, reqs, n);
	}
	if (o->verbose) {
		for (size_t i = 0; i < ddlp_lock_get_drive_count(lock); i++)
			verbose_drive(ddlp_lock_get_drive(lock, i), ddlp_lock_get_mode(lock, i));
		msg("locked %zu drive%s in %.3f s", n, n == 1 ? "" : "s",
		    (double)(locked - start) / 1000.0);
	}
	r = check_unused(o, lock);
	if (r) {
		ddlp_unlock(lock);
		return r;
	}
	/* the command holds the lock too, as with flock(1), unless -o: its
	 * copies of the lock's descriptors keep the drive locked until it
	 * ends, even if ddlp-lock is killed */
	if (!o->close_fds) {
		r = ddlp_lock_set_inheritable(lock, 1);
		if (r < 0) {
			msg("%s: cannot hand the lock to the command: %s", device, strerror(-r));
			ddlp_unlock(lock);
			return EX_OSERR;
		}
	}

	run_command(o, argv, device, &res);

	/* the child has exited: now the drives may go */
	r = ddlp_unlock(lock);
	if (r < 0)
		msg("%s: releasing the lock: %s", device, strerror(-r));
	if (o->verbose)
		msg("released after %.3f s; exit status %d", (double)(now_ms() - locked) / 1000.0,
		    res.status);
	return res.status;
}
