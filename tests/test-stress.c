/*
 * Host stress test (root), in both backends ("stress" and "stress-posix"):
 * several processes with several threads each lock two loop drives for
 * many rounds, through random forms (the node, symlinks, a relative path,
 * the mknod alias), in random modes, one drive or both at once with
 * ddlp_lock_many() in random order.  A checker in shared memory counts the
 * exclusive and shared holders of each drive while they hold it: never two
 * exclusive holders, never an exclusive with a shared one; every round ends
 * (no deadlock, no lock call fails).
 *
 * DDLP_STRESS_ROUNDS sets the rounds per thread (default 150: with 3
 * processes of 3 threads, 1350 rounds; a few seconds).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-common.h"
#include "stress-round.h"

#define PROCS 3
#define THREADS 3
#define DEFAULT_ROUNDS 150
#define WAIT_MS 60000

struct shared_state {
	struct holder_count holders[TEST_DRIVES];
	int violations;
	int errors;
	int first_error;
	char first_error_spec[128];
	long rounds;
	long waits;       /* rounds whose lock had to wait (informative) */
};

static struct shared_state *st;
static int rounds_per_thread;

static const char *pick_form(int d, unsigned *seed)
{
	const struct test_drive *td = &host.d[d];

	switch (rand_r(seed) % 6) {
	case 0:
		return td->loop.dev;
	case 1:
		return td->link;
	case 2:
		return td->rlink;
	case 3:
		return td->chain;
	case 4:
		return td->relative;
	default:
		return td->alias;
	}
}

static void enter(int d, enum ddlp_mode mode)
{
	if (holders_enter(&st->holders[d], mode))
		__atomic_fetch_add(&st->violations, 1, __ATOMIC_SEQ_CST);
}

static void note_error(int r, const char *spec)
{
	if (__atomic_fetch_add(&st->errors, 1, __ATOMIC_SEQ_CST) == 0) {
		st->first_error = r;
		snprintf(st->first_error_spec, sizeof(st->first_error_spec), "%s", spec);
	}
}

static void *worker_thread(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	for (int i = 0; i < rounds_per_thread; i++) {
		struct ddlp_request req[2];
		int drive[2], n;
		struct ddlp_lock *l;
		int r;

		n = stress_pick(&seed, drive, req);
		for (int k = 0; k < n; k++)
			req[k].spec = pick_form(drive[k], &seed);
		r = stress_lock(req, n, WAIT_MS, 0, &st->waits, &l);
		if (r < 0) {
			note_error(r, req[0].spec);
			continue;
		}
		for (int k = 0; k < n; k++)
			enter(drive[k], req[k].mode);
		if (rand_r(&seed) % 4 == 0)
			usleep(rand_r(&seed) % 500);
		else
			sched_yield();
		for (int k = 0; k < n; k++)
			holders_leave(&st->holders[drive[k]], req[k].mode);
		r = ddlp_unlock(l);
		if (r < 0)
			note_error(r, "unlock");
		__atomic_fetch_add(&st->rounds, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static void worker_process(int p)
{
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker_thread,
		                   (void *)(uintptr_t)(getpid() * 131u + (unsigned)i * 7u + (unsigned)p)))
			_exit(3);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	_exit(0);
}

START_TEST(test_stress)
{
	const char *env = getenv("DDLP_STRESS_ROUNDS");
	pid_t pids[PROCS];
	int fds = count_open_fds();
	long expected;

	rounds_per_thread = env && atoi(env) > 0 ? atoi(env) : DEFAULT_ROUNDS;
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(st != MAP_FAILED);
	memset(st, 0, sizeof(*st));
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0)
			worker_process(p);
	}
	for (int p = 0; p < PROCS; p++) {
		int status;

		ck_assert_int_eq(waitpid(pids[p], &status, 0), pids[p]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		              "worker %d ended with status 0x%x", p, status);
	}
	expected = (long)PROCS * THREADS * rounds_per_thread;
	printf("stress%s: %ld rounds, %ld waited, %d overlaps, %d errors\n",
	       test_posix_backend ? "-posix" : "", st->rounds, st->waits, st->violations,
	       st->errors);
	fflush(stdout);
	ck_assert_msg(st->errors == 0, "%d lock calls failed, the first %d (%s) on %s", st->errors,
	              st->first_error, strerror(-st->first_error), st->first_error_spec);
	ck_assert_int_eq(st->violations, 0);
	ck_assert_int_eq(st->rounds, expected);
	for (int d = 0; d < TEST_DRIVES; d++) {
		ck_assert_int_eq(st->holders[d].excl, 0);
		ck_assert_int_eq(st->holders[d].shared, 0);
		ck_assert_int_eq(proclocks_count(&host.d[d].dev_st, NULL, 0), 0);
		ck_assert_int_eq(proclocks_count(&host.d[d].alias_st, NULL, 0), 0);
	}
	ck_assert_int_eq(count_open_fds(), fds);
	munmap(st, sizeof(*st));
}
END_TEST

Suite *suite_stress(bool posix)
{
	Suite *s = suite_host_create("stress", "stress-posix", posix);
	TCase *tc = tcase_create("stress");

	tcase_host(tc, posix, false, 120);
	tcase_add_test(tc, test_stress);
	suite_add_tcase(s, tc);
	return s;
}
