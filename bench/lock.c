/*
 * Section 1, lock+unlock against the floor.
 *
 * 1000 rounds (--rounds) back to back in one process, interleaved (round i
 * runs the variants in rotation): ddlp_lock(spec, DDLP_EXCLUSIVE, 5000,
 * DDLP_LOCK_NO_REPROBE) + ddlp_unlock(); the floor (drive.c: the sibling
 * nodes resolved once, opened in the lock order with the flags of
 * doc/ddlp.txt section 5, F_OFD_SETLK F_WRLCK and flock(LOCK_EX|LOCK_NB),
 * closed in reverse order); and ddlp_drive_resolve() + the floor
 * ("resolution+floor", a model of a cheaper library).  Median, p90, p99,
 * the ratio of the medians.  Then the same three on an idle drive (100 ms
 * after anything else), and the cost of one /proc/locks read back to back,
 * 10 ms and 100 ms apart.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct stats lock_stats;
static struct stats floor_stats;

/* One /proc/locks read as libddlp's friendly check makes it after a
 * fallback wake-up (fopen, getline to the end, fclose). */
static int read_proc_locks(void)
{
	FILE *f = fopen("/proc/locks", "re");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0)
		;
	free(line);
	fclose(f);
	return 0;
}

/* What one /proc/locks read costs, read back to back, 10 ms apart and
 * 100 ms apart (like a program that locks once).  The kernel's locks_start()
 * takes file_rwsem for writing (percpu_down_write), which waits for an RCU
 * grace period unless one ended moments ago. */
static void proc_locks_cost(void)
{
	enum { N = 40 };
	static const long gaps_us[3] = { 0, 10000, 100000 };
	struct stats s[3];

	for (int g = 0; g < 3; g++) {
		int64_t v[N];

		for (int i = 0; i < N; i++) {
			int64_t t0;

			if (gaps_us[g])
				sleep_us(gaps_us[g]);
			t0 = now_ns();
			read_proc_locks();
			v[i] = now_ns() - t0;
		}
		s[g] = stats_of(v, N);
	}
	row("1", "one read of /proc/locks (libddlp's friendly check), medians: back to back; 10 ms "
	         "apart; 100 ms apart",
	    NULL, NULL, "%.3f ms; %.3f ms; %.3f ms (p90 %.3f)", ms(s[0].p50), ms(s[1].p50),
	    ms(s[2].p50), ms(s[2].p90));
	kv("proclocks_b2b_ms", "%.3f", ms(s[0].p50));
	kv("proclocks_10ms_ms", "%.3f", ms(s[1].p50));
	kv("proclocks_100ms_ms", "%.3f", ms(s[2].p50));
}

/* The floor after a resolution: what libddlp would cost without its own
 * bookkeeping (registry, fstat checks). */
static int model_lock_unlock(void)
{
	struct ddlp_drive *d;
	int r = ddlp_drive_resolve(tg.spec, 0, &d);

	if (r < 0)
		return r;
	r = floor_lock_unlock();
	ddlp_drive_free(d);
	return r;
}

int64_t isolated_lib_p50;

/* Each op on an idle drive, 100 ms after anything else, as a program that
 * locks once does it (nothing of the previous round is left to overlap). */
static void isolated_rounds(void)
{
	enum { N = 30 };
	int64_t v[3][N];
	struct stats st[3];
	char what[160];
	int n = opt.rounds < 100 ? 10 : N;

	for (int i = 0; i < n; i++)
		for (int k = 0; k < 3; k++) {
			int64_t t0;
			int r;

			sleep_us(100000);
			t0 = now_ns();
			r = k == 0 ? lib_lock_unlock(tg.spec) : k == 1 ? floor_lock_unlock()
			                                               : model_lock_unlock();
			v[k][i] = now_ns() - t0;
			if (r < 0) {
				fail("isolated round: %s", strerror(-r));
				return;
			}
		}
	for (int k = 0; k < 3; k++)
		st[k] = stats_of(v[k], (size_t)n);
	isolated_lib_p50 = st[0].p50;
	snprintf(what, sizeof(what),
	         "each on an idle drive, 100 ms apart (medians of %d): libddlp; floor; "
	         "resolution+floor; libddlp / floor",
	         n);
	row("1", what, NULL, NULL, "%.3f ms; %.3f ms; %.3f ms; %.2fx", ms(st[0].p50), ms(st[1].p50),
	    ms(st[2].p50), (double)st[0].p50 / (double)st[1].p50);
	kv("iso_lock_p50_ms", "%.3f", ms(st[0].p50));
	kv("iso_floor_p50_ms", "%.3f", ms(st[1].p50));
	kv("iso_model_p50_ms", "%.3f", ms(st[2].p50));
	kv("iso_ratio", "%.2f", (double)st[0].p50 / (double)st[1].p50);
}

void section_lock(void)
{
	enum { V_LIB, V_FLOOR, V_MODEL, NV };
	int64_t *v[NV] = { NULL }, *lk[NV] = { NULL }, *ul[NV] = { NULL };
	struct stats st[NV], sl[NV], su[NV];
	double ratio, ratio90, limit = zero_delay() ? 3.0 : 1.2;
	char tgt[64];
	int r;

	for (int k = 0; k < NV; k++) {
		v[k] = calloc((size_t)opt.rounds, sizeof(int64_t));
		lk[k] = calloc((size_t)opt.rounds, sizeof(int64_t));
		ul[k] = calloc((size_t)opt.rounds, sizeof(int64_t));
		if (!v[k] || !lk[k] || !ul[k]) {
			fail("out of memory");
			goto out;
		}
	}
	progress("1: %d rounds of lock+unlock, of the floor and of resolution+floor, interleaved",
	         opt.rounds);
	/* warm up (page cache of sysfs, libudev, dentries) */
	for (int i = 0; i < 10; i++) {
		if ((r = lib_lock_unlock(tg.spec)) < 0 || (r = floor_lock_unlock()) < 0) {
			fail("warm-up lock+unlock: %s", strerror(-r));
			goto out;
		}
	}
	for (int i = 0; i < opt.rounds; i++) {
		for (int j = 0; j < NV; j++) {
			int k = (i + j) % NV;
			int64_t t0 = now_ns(), t1;

			if (k == V_LIB) {
				struct ddlp_lock *l;

				r = lib_lock(tg.spec, &l);
				t1 = now_ns();
				if (r == 0)
					r = ddlp_unlock(l);
			} else if (k == V_FLOOR) {
				int fds[MAX_NODES];

				r = floor_lock(fds);
				t1 = now_ns();
				if (r == 0)
					floor_unlock(fds);
				else if (r == -EBUSY || r == -EAGAIN || r == -EWOULDBLOCK) {
					floor_busy++;
					r = floor_lock_unlock(); /* retries */
				}
			} else {
				r = model_lock_unlock();
				t1 = now_ns();
			}
			if (r < 0) {
				fail("%s round %d: %s",
				     k == V_LIB ? "lock+unlock" : k == V_FLOOR ? "floor" : "model", i,
				     strerror(-r));
				goto out;
			}
			v[k][i] = now_ns() - t0;
			lk[k][i] = t1 - t0;
			ul[k][i] = v[k][i] - lk[k][i];
		}
	}
	for (int k = 0; k < NV; k++) {
		st[k] = stats_of(v[k], (size_t)opt.rounds);
		sl[k] = stats_of(lk[k], (size_t)opt.rounds);
		su[k] = stats_of(ul[k], (size_t)opt.rounds);
	}
	lock_stats = st[V_LIB];
	floor_stats = st[V_FLOOR];
	ratio = (double)lock_stats.p50 / (double)floor_stats.p50;
	ratio90 = (double)lock_stats.p90 / (double)floor_stats.p90;
	row("1", "lock+unlock, libddlp (median / p90 / p99)", NULL, NULL,
	    "%.3f / %.3f / %.3f ms", ms(lock_stats.p50), ms(lock_stats.p90), ms(lock_stats.p99));
	row("1", "floor: same opens and locks, no resolution (median / p90 / p99)", NULL, NULL,
	    "%.3f / %.3f / %.3f ms", ms(floor_stats.p50), ms(floor_stats.p90),
	    ms(floor_stats.p99));
	snprintf(tgt, sizeof(tgt), "<= %.1fx (%s)", limit, zero_delay() ? "delay=0" : "with delay");
	row("1", "libddlp / floor (medians; p90s)", tgt, verdict(ratio <= limit), "%.2fx; %.2fx",
	    ratio, ratio90);
	row("1", "libddlp - floor (software cost, medians)", NULL, NULL, "%.3f ms",
	    ms(lock_stats.p50 - floor_stats.p50));
	row("1", "lock / unlock separately, medians: libddlp; floor", NULL, NULL,
	    "%.3f / %.3f ms; %.3f / %.3f ms", ms(sl[V_LIB].p50), ms(su[V_LIB].p50),
	    ms(sl[V_FLOOR].p50), ms(su[V_FLOOR].p50));
	row("1", "model: ddlp_drive_resolve() + the floor, i.e. libddlp without its own "
	         "bookkeeping (median / p90; / floor)",
	    NULL, NULL, "%.3f / %.3f ms; %.2fx", ms(st[V_MODEL].p50), ms(st[V_MODEL].p90),
	    (double)st[V_MODEL].p50 / (double)floor_stats.p50);
	if (floor_busy)
		detail("- the floor found the drive busy %ld times (udev?) and retried", floor_busy);
	kv("rounds", "%d", opt.rounds);
	kv("lock_p50_ms", "%.3f", ms(lock_stats.p50));
	kv("lock_p90_ms", "%.3f", ms(lock_stats.p90));
	kv("lock_p99_ms", "%.3f", ms(lock_stats.p99));
	kv("lock_only_p50_ms", "%.3f", ms(sl[V_LIB].p50));
	kv("unlock_only_p50_ms", "%.3f", ms(su[V_LIB].p50));
	kv("floor_p50_ms", "%.3f", ms(floor_stats.p50));
	kv("floor_p90_ms", "%.3f", ms(floor_stats.p90));
	kv("floor_p99_ms", "%.3f", ms(floor_stats.p99));
	kv("lock_floor_ratio", "%.2f", ratio);
	kv("lock_floor_ratio_p90", "%.2f", ratio90);
	kv("lock_minus_floor_ms", "%.3f", ms(lock_stats.p50 - floor_stats.p50));
	kv("model_p50_ms", "%.3f", ms(st[V_MODEL].p50));
	kv("model_floor_ratio", "%.2f", (double)st[V_MODEL].p50 / (double)floor_stats.p50);
	isolated_rounds();
	proc_locks_cost();
out:
	for (int k = 0; k < NV; k++) {
		free(v[k]);
		free(lk[k]);
		free(ul[k]);
	}
}
