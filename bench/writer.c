/*
 * Section 9, writer preference (issue 12): how long an exclusive request
 * waits while shared lockers keep the drive busy, and what the readers
 * lose to it.  Only ddlp_lock() and ddlp_unlock(), so it measures whatever
 * the library does, with or without a writer preference.
 *
 * For N = 1, 2, 4, 8: N forked processes loop ddlp_lock(DDLP_SHARED,
 * 10 s) -> hold --writer-hold-ms -> ddlp_unlock(), reader i starting i/N
 * of a hold after the first.  From N = 2 on their holds overlap by
 * construction, not by timing (which a loaded machine upsets): after its
 * hold a reader lets go only once another reader holds the drive too, or
 * after one more hold when none could come in (as behind a writer that
 * waits), so the drive is never free of readers unless shared requests
 * are kept out.  First the readers alone for
 * --writer-ms: shared locks per second.  Then this process, --writer-rounds
 * times: a pause of 0 to one hold, then ddlp_lock(DDLP_EXCLUSIVE,
 * --writer-ms, DDLP_LOCK_NO_REPROBE), hold 1 ms, unlock; its latency (call
 * to return; p50, max) and how many rounds timed out, next to the longest
 * shared hold the readers saw (their clock from ddlp_lock()'s return to
 * the unlock call) and one hand-off (section 5's, else section 1's idle
 * lock+unlock); the readers' shared locks per second meanwhile.  A checker
 * in shared memory counts a shared and the exclusive holder at once (an
 * overlap is a failure of the benchmark; a timed-out writer is a figure).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAX_READERS 8
#define READER_TIMEOUT_MS 10000

struct wshared {
	atomic_int go, stop;
	atomic_int readers_inside, writer_inside;
	atomic_long overlaps, locks, timeouts, errors;
	atomic_llong hold_max_ns;
	atomic_int first_error;
};

static struct wshared *ws;

static void reader(int idx, int n)
{
	while (!atomic_load(&ws->go))
		sleep_us(200);
	sleep_us((long)opt.writer_hold_ms * 1000 * idx / n);
	while (!atomic_load(&ws->stop)) {
		struct ddlp_lock *l;
		int64_t t_in, held;
		long long prev;
		int r = ddlp_lock(tg.spec, DDLP_SHARED, READER_TIMEOUT_MS, DDLP_LOCK_NO_REPROBE, &l);

		if (r == -ETIMEDOUT) {
			atomic_fetch_add(&ws->timeouts, 1);
			continue;
		}
		if (r < 0) {
			int zero = 0;

			atomic_fetch_add(&ws->errors, 1);
			atomic_compare_exchange_strong(&ws->first_error, &zero, r);
			sleep_us(1000);
			continue;
		}
		t_in = now_ns();
		atomic_fetch_add(&ws->readers_inside, 1);
		if (atomic_load(&ws->writer_inside))
			atomic_fetch_add(&ws->overlaps, 1);
		atomic_fetch_add(&ws->locks, 1);
		sleep_us((long)opt.writer_hold_ms * 1000);
		/* overlap by construction, not by timing: let go only once another
		 * reader holds the drive too, or after one more hold when none
		 * could come in (behind a waiting writer) */
		if (n > 1) {
			int64_t until = now_ns() + (int64_t)opt.writer_hold_ms * 1000000;

			while (atomic_load(&ws->readers_inside) < 2 && now_ns() < until &&
			       !atomic_load(&ws->stop))
				sleep_us(1000);
		}
		held = now_ns() - t_in;
		prev = atomic_load(&ws->hold_max_ns);
		while (held > prev && !atomic_compare_exchange_weak(&ws->hold_max_ns, &prev, held))
			;
		atomic_fetch_sub(&ws->readers_inside, 1);
		ddlp_unlock(l);
	}
	_exit(0);
}

/* Shared locks per second from now for ms. */
static double throughput(int ms_)
{
	long l0 = atomic_load(&ws->locks), l1;
	int64_t t0 = now_ns(), t1;

	sleep_us((long)ms_ * 1000);
	l1 = atomic_load(&ws->locks);
	t1 = now_ns();
	return (double)(l1 - l0) / ((double)(t1 - t0) / 1e9);
}

static void one_count(int n, int64_t handoff)
{
	pid_t pids[MAX_READERS];
	int64_t *lat = calloc((size_t)opt.writer_rounds + 1, sizeof(int64_t));
	int started = 0, taken = 0, timedout = 0;
	long l0, l1;
	int64_t t0, t1;
	double alone, with;
	char what[160], tgt[96], val[240], key[64];

	if (!lat) {
		fail("out of memory");
		return;
	}
	memset(ws, 0, sizeof(*ws));
	for (; started < n; started++) {
		pids[started] = fork();
		if (pids[started] < 0) {
			fail("fork: %s", strerror(errno));
			break;
		}
		if (pids[started] == 0)
			reader(started, n);
	}
	if (started < n)
		goto stop;
	sleep_us(100000);
	atomic_store(&ws->go, 1);
	sleep_us(2L * opt.writer_hold_ms * 1000); /* every reader is in its loop */
	alone = throughput(opt.writer_ms);

	l0 = atomic_load(&ws->locks);
	t0 = now_ns();
	for (int i = 0; i < opt.writer_rounds; i++) {
		struct ddlp_lock *l;
		int64_t s, e;
		int r;

		sleep_us(rand() % ((long)opt.writer_hold_ms * 1000 + 1));
		s = now_ns();
		r = ddlp_lock(tg.spec, DDLP_EXCLUSIVE, opt.writer_ms, DDLP_LOCK_NO_REPROBE, &l);
		e = now_ns();
		if (r == -ETIMEDOUT) {
			timedout++;
			continue;
		}
		if (r < 0) {
			fail("writer preference: the exclusive lock: %s", strerror(-r));
			continue;
		}
		atomic_store(&ws->writer_inside, 1);
		if (atomic_load(&ws->readers_inside) > 0)
			atomic_fetch_add(&ws->overlaps, 1);
		sleep_us(1000);
		atomic_store(&ws->writer_inside, 0);
		ddlp_unlock(l);
		lat[taken++] = e - s;
	}
	l1 = atomic_load(&ws->locks);
	t1 = now_ns();
	with = (double)(l1 - l0) / ((double)(t1 - t0) / 1e9);

	snprintf(what, sizeof(what),
	         "exclusive waiter among %d overlapping shared locker%s (each holds %d ms): "
	         "p50 / max; timed out; the longest shared hold",
	         n, n == 1 ? "" : "s", opt.writer_hold_ms);
	if (handoff > 0)
		snprintf(tgt, sizeof(tgt), "max <= longest hold + one hand-off (%.1f ms)",
		         ms(handoff));
	else
		snprintf(tgt, sizeof(tgt), "max <= longest hold + one hand-off");
	if (taken) {
		struct stats s = stats_of(lat, (size_t)taken);

		snprintf(val, sizeof(val), "%.1f / %.1f ms (%d taken); timed out %d/%d; %.1f ms",
		         ms(s.p50), ms(s.max), taken, timedout, opt.writer_rounds,
		         ms(atomic_load(&ws->hold_max_ns)));
		row("9", what, tgt,
		    handoff > 0 ? verdict(timedout == 0 &&
		                          s.max <= atomic_load(&ws->hold_max_ns) + handoff)
		                : NULL,
		    "%s", val);
		snprintf(key, sizeof(key), "writer_%d_p50_ms", n);
		kv(key, "%.1f", ms(s.p50));
		snprintf(key, sizeof(key), "writer_%d_max_ms", n);
		kv(key, "%.1f", ms(s.max));
	} else {
		row("9", what, tgt, handoff > 0 ? verdict(false) : NULL,
		    "timed out %d/%d (each after %d ms); %.1f ms", timedout, opt.writer_rounds,
		    opt.writer_ms, ms(atomic_load(&ws->hold_max_ns)));
	}
	snprintf(what, sizeof(what),
	         "shared locks per second, %d locker%s: alone; while the exclusive waiter comes "
	         "back 0-%d ms after each turn",
	         n, n == 1 ? "" : "s", opt.writer_hold_ms);
	row("9", what, NULL, NULL, "%.1f/s; %.1f/s (%.0f%%)", alone, with,
	    alone > 0 ? 100.0 * with / alone : 0);
	snprintf(key, sizeof(key), "writer_%d_timeouts", n);
	kv(key, "%d", timedout);
	snprintf(key, sizeof(key), "writer_%d_rounds", n);
	kv(key, "%d", opt.writer_rounds);
	snprintf(key, sizeof(key), "writer_%d_hold_max_ms", n);
	kv(key, "%.1f", ms(atomic_load(&ws->hold_max_ns)));
	snprintf(key, sizeof(key), "writer_%d_tput_alone", n);
	kv(key, "%.1f", alone);
	snprintf(key, sizeof(key), "writer_%d_tput_writer", n);
	kv(key, "%.1f", with);
stop:
	atomic_store(&ws->stop, 1);
	atomic_store(&ws->go, 1);
	for (int p = 0; p < started; p++) {
		int status = 0;

		if (wait_child(pids[p], READER_TIMEOUT_MS + 10000, &status, NULL) < 0 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail("writer preference: reader %d: status 0x%x", p, status);
	}
	if (atomic_load(&ws->timeouts) || atomic_load(&ws->errors))
		detail("- writer preference, %d lockers: %ld shared waits ran into their %d s "
		       "timeout; %ld lock errors (first: %s)",
		       n, atomic_load(&ws->timeouts), READER_TIMEOUT_MS / 1000,
		       atomic_load(&ws->errors),
		       atomic_load(&ws->first_error) ? strerror(-atomic_load(&ws->first_error))
		                                     : "none");
	if (atomic_load(&ws->errors))
		fail("writer preference, %d lockers: %ld shared lock errors", n,
		     atomic_load(&ws->errors));
	free(lat);
}

void section_writer(void)
{
	static const int counts[] = { 1, 2, 4, 8 };
	int64_t handoff = handoff_lib_p50 > 0 ? handoff_lib_p50 : isolated_lib_p50;
	long overlaps = 0;

	progress("9: writer preference, 1/2/4/8 shared lockers holding %d ms, %d exclusive rounds "
	         "of at most %d ms",
	         opt.writer_hold_ms, opt.writer_rounds, opt.writer_ms);
	ws = mmap(NULL, sizeof(*ws), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ws == MAP_FAILED) {
		fail("mmap: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		one_count(counts[i], handoff);
		overlaps += atomic_load(&ws->overlaps);
	}
	row("9", "writer preference: a shared and the exclusive holder at once (shared-memory "
	         "checker)",
	    "0", verdict(overlaps == 0), "%ld", overlaps);
	kv("writer_overlaps", "%ld", overlaps);
	if (handoff > 0)
		kv("writer_handoff_ms", "%.1f", ms(handoff));
	if (overlaps)
		fail("%ld overlaps of shared and exclusive holders", overlaps);
	munmap(ws, sizeof(*ws));
	ws = NULL;
}
