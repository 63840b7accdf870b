/*
 * Section 6, contention: 4 processes x 2 threads, each looping
 * ddlp_lock(..., 1000 ms, ...) -> hold --hold-us -> ddlp_unlock() for
 * --contention-ms.  A checker in shared memory (atomic_fetch_add on entry,
 * atomic_fetch_sub on exit, both must see 0 / 1) counts overlaps; the
 * acquisitions per worker give the fairness (max / min).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define WORKERS_PROCS 4
#define WORKERS_THREADS 2
#define WORKERS (WORKERS_PROCS * WORKERS_THREADS)

struct shared {
	atomic_int go, stop, inside;
	atomic_long overlaps, errors, timeouts;
	atomic_long acq[WORKERS];
	atomic_int first_error;
};

static struct shared *sh;

static void *worker(void *arg)
{
	int idx = (int)(intptr_t)arg;

	while (!atomic_load(&sh->go))
		sleep_us(200);
	while (!atomic_load(&sh->stop)) {
		struct ddlp_lock *l;
		int r = ddlp_lock(tg.spec, DDLP_EXCLUSIVE, 1000, DDLP_LOCK_NO_REPROBE, &l);

		if (r == -ETIMEDOUT) {
			atomic_fetch_add(&sh->timeouts, 1);
			continue;
		}
		if (r < 0) {
			int zero = 0;

			atomic_fetch_add(&sh->errors, 1);
			atomic_compare_exchange_strong(&sh->first_error, &zero, r);
			sleep_us(1000);
			continue;
		}
		if (atomic_fetch_add(&sh->inside, 1) != 0)
			atomic_fetch_add(&sh->overlaps, 1);
		atomic_fetch_add(&sh->acq[idx], 1);
		if (opt.hold_us > 0)
			sleep_us(opt.hold_us);
		if (atomic_fetch_sub(&sh->inside, 1) != 1)
			atomic_fetch_add(&sh->overlaps, 1);
		ddlp_unlock(l);
	}
	return NULL;
}

void section_contention(void)
{
	pid_t pids[WORKERS_PROCS];
	int64_t t0, t1;
	long total = 0, mx = 0, mn = LONG_MAX;
	double ratio;
	char per[200] = "";
	size_t len = 0;

	progress("6: contention, %d processes x %d threads, %d ms", WORKERS_PROCS, WORKERS_THREADS,
	         opt.contention_ms);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		fail("mmap: %s", strerror(errno));
		return;
	}
	memset(sh, 0, sizeof(*sh));
	for (int p = 0; p < WORKERS_PROCS; p++) {
		pids[p] = fork();
		if (pids[p] < 0) {
			fail("fork: %s", strerror(errno));
			atomic_store(&sh->stop, 1);
			atomic_store(&sh->go, 1);
			for (int q = 0; q < p; q++)
				waitpid(pids[q], NULL, 0);
			return;
		}
		if (pids[p] == 0) {
			pthread_t th[WORKERS_THREADS];

			for (int t = 1; t < WORKERS_THREADS; t++)
				if (pthread_create(&th[t], NULL, worker,
				                   (void *)(intptr_t)(p * WORKERS_THREADS + t)) != 0)
					_exit(3);
			worker((void *)(intptr_t)(p * WORKERS_THREADS));
			for (int t = 1; t < WORKERS_THREADS; t++)
				pthread_join(th[t], NULL);
			_exit(0);
		}
	}
	sleep_us(200000);
	t0 = now_ns();
	atomic_store(&sh->go, 1);
	sleep_us((long)opt.contention_ms * 1000);
	atomic_store(&sh->stop, 1);
	t1 = now_ns();
	for (int p = 0; p < WORKERS_PROCS; p++) {
		int status;

		if (waitpid(pids[p], &status, 0) != pids[p] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			fail("contention worker process %d: status 0x%x", p, status);
	}
	for (int w = 0; w < WORKERS; w++) {
		long a = atomic_load(&sh->acq[w]);

		total += a;
		if (a > mx)
			mx = a;
		if (a < mn)
			mn = a;
		len += (size_t)snprintf(per + len, sizeof(per) - len, "%s%ld", w ? " " : "", a);
	}
	ratio = mn > 0 ? (double)mx / (double)mn : INFINITY;
	row("6", "contention: locks per second (8 workers: 4 processes x 2 threads)", NULL, NULL,
	    "%.1f/s (%ld in %.1f s, hold %d us)", (double)total / ((double)(t1 - t0) / 1e9), total,
	    (double)(t1 - t0) / 1e9, opt.hold_us);
	row("6", "contention: acquisitions per worker, max / min", "<= 2", verdict(ratio <= 2.0),
	    "%ld / %ld = %.2f (all: %s)", mx, mn, ratio, per);
	row("6", "contention: overlaps (shared-memory checker)", "0",
	    verdict(atomic_load(&sh->overlaps) == 0), "%ld", atomic_load(&sh->overlaps));
	if (atomic_load(&sh->timeouts) || atomic_load(&sh->errors))
		detail("- contention: %ld waits ran into their 1 s timeout and started again; %ld "
		       "lock errors (first: %s)",
		       atomic_load(&sh->timeouts), atomic_load(&sh->errors),
		       atomic_load(&sh->first_error) ? strerror(-atomic_load(&sh->first_error))
		                                     : "none");
	kv("cont_locks_per_s", "%.1f", (double)total / ((double)(t1 - t0) / 1e9));
	kv("cont_max", "%ld", mx);
	kv("cont_min", "%ld", mn);
	kv("cont_ratio", "%.2f", ratio);
	kv("cont_overlaps", "%ld", atomic_load(&sh->overlaps));
	kv("cont_timeouts", "%ld", atomic_load(&sh->timeouts));
	kv("cont_errors", "%ld", atomic_load(&sh->errors));
	if (atomic_load(&sh->overlaps))
		fail("%ld overlaps under contention", atomic_load(&sh->overlaps));
	if (atomic_load(&sh->errors))
		fail("%ld lock errors under contention", atomic_load(&sh->errors));
	munmap(sh, sizeof(*sh));
	sh = NULL;
}
