/*
 * Host fault tests (root), in both backends ("fault" and "fault-posix"):
 * fd exhaustion (RLIMIT_NOFILE) fails cleanly with -EMFILE and nothing
 * held; a locker killed between two siblings (the test-only pause point of
 * lib/lockset.c) leaves the drive free at once; the application's own
 * signals (a SIGALRM handler without SA_RESTART, every 10 ms) do not cut a
 * wait short nor make it fail.
 *
 * The rlimit and signal tests restore what they change, so they also run
 * with CK_FORK=no.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "test-common.h"

#define D0 (&host.d[0])
#define D1 (&host.d[1])

/* The RLIMIT_NOFILE that leaves exactly n fd numbers free (the limit is
 * on fd numbers: free numbers below the highest open fd count too). */
static rlim_t limit_for_free(int n)
{
	int fd = 0, free_below = 0;

	for (;; fd++) {
		if (fcntl(fd, F_GETFD) < 0) {
			if (free_below == n)
				return (rlim_t)fd;
			free_below++;
		}
	}
}

/* ---------------------------------------------------------------- *
 * fd exhaustion
 * ---------------------------------------------------------------- */

START_TEST(test_emfile)
{
	/* two drives through their aliases: four nodes to open */
	struct ddlp_request req[2] = { { D0->alias, DDLP_EXCLUSIVE }, { D1->alias, DDLP_SHARED } };
	struct rlimit old, lim;
	int fds = count_open_fds();
	int node_refusals = 0, successes = 0, wrong = 0;
	char results[512] = "";

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	for (int extra = 0; extra <= 24 && !successes; extra++) {
		struct ddlp_lock *l = (struct ddlp_lock *)0x1;
		const struct ddlp_conflict *c;
		int r;
		size_t len = strlen(results);

		lim = old;
		lim.rlim_cur = limit_for_free(extra);
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lim), 0);
		r = ddlp_lock_many(req, 2, 0, 0, &l);
		c = ddlp_last_conflict();
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
		snprintf(results + len, sizeof(results) - len, " %d:%d%s", extra, r,
		         c ? "(node)" : "");
		if (r == 0) {
			successes++;
			ck_assert_int_eq(ddlp_unlock(l), 0);
			continue;
		}
		ck_assert_ptr_null(l);
		/* -EMFILE is the only honest answer to fd exhaustion */
		if (r != -EMFILE)
			wrong++;
		if (c) {
			node_refusals++;
			ck_assert_int_eq(ddlp_conflict_get_error(c), r);
		}
		/* nothing held, nothing left open */
		ck_assert_int_eq(count_open_fds(), fds);
		ck_assert_int_eq(proclocks_count(&D0->dev_st, NULL, 0), 0);
		ck_assert_int_eq(proclocks_count(&D0->alias_st, NULL, 0), 0);
		ck_assert_int_eq(proclocks_count(&D1->dev_st, NULL, 0), 0);
	}
	ck_assert_msg(successes == 1, "never got the lock; free fds:result =%s", results);
	ck_assert_msg(wrong == 0, "fd exhaustion reported as another error; free fds:result =%s",
	              results);
	/* some limit let resolution through and made a node's open fail */
	ck_assert_msg(node_refusals > 0, "no node open failed with -EMFILE; free fds:result =%s",
	              results);
	/* and the drives are free at once */
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);
	ck_assert_int_eq(try_lock_elsewhere(D1->loop.dev, DDLP_EXCLUSIVE), 0);
}
END_TEST

/* ---------------------------------------------------------------- *
 * Killed between two siblings
 * ---------------------------------------------------------------- */

struct paused {
	char file[TEST_PATH_MAX];
	int after;
	struct ddlp_request req[2];
};

static int paused_lock(void *arg)
{
	struct paused *p = arg;
	char n[16];
	struct ddlp_lock *l;

	snprintf(n, sizeof(n), "%d", p->after);
	setenv("DDLP_TEST_PAUSE_AFTER", n, 1);
	setenv("DDLP_TEST_PAUSE_FILE", p->file, 1);
	/* does not return: the library pauses after the n-th node */
	return ddlp_lock_many(p->req, 2, 0, 0, &l);
}

/* The lower-numbered loop comes first in the global order. */
static const struct test_drive *first_drive(void)
{
	return D0->loop.rdev < D1->loop.rdev ? D0 : D1;
}

static const struct test_drive *second_drive(void)
{
	return first_drive() == D0 ? D1 : D0;
}

static void wait_for_file(const char *path, pid_t pid)
{
	struct stat st;

	for (int i = 0; i < 2000; i++) {
		if (stat(path, &st) == 0)
			return;
		msleep(5);
	}
	kill(pid, SIGKILL);
	ck_abort_msg("the locker never reached the pause point (%s)", path);
}

START_TEST(test_killed_between_siblings)
{
	static struct paused p;

	/* after 1 node: the first drive's canonical node only; after 3: both
	 * canonical nodes and the first alias (aliases come last) */
	for (int after = 1; after <= 3; after += 2) {
		struct ddlp_lock *l;
		struct proc child;

		memset(&p, 0, sizeof(p));
		snprintf(p.file, sizeof(p.file), "%s/paused-%d", host.dir, after);
		p.after = after;
		p.req[0] = (struct ddlp_request){ D0->alias, DDLP_EXCLUSIVE };
		p.req[1] = (struct ddlp_request){ D1->alias, DDLP_EXCLUSIVE };
		/* proc_start() waits for a result that never comes: fork by hand */
		child.pid = fork();
		ck_assert_int_ge(child.pid, 0);
		if (child.pid == 0)
			_exit(paused_lock(&p) == 0 ? 0 : 1);
		child.cmd = child.rep = -1;
		wait_for_file(p.file, child.pid);

		/* the child is between siblings: part of the drives is taken */
		ck_assert_int_eq(ddlp_lock(first_drive()->loop.dev, DDLP_SHARED, 0, 0, &l), -EBUSY);
		if (after == 1) {
			ck_assert_int_eq(ddlp_lock(second_drive()->loop.dev, DDLP_EXCLUSIVE, 0, 0, &l), 0);
			ck_assert_int_eq(ddlp_unlock(l), 0);
		} else {
			ck_assert_int_eq(ddlp_lock(second_drive()->loop.dev, DDLP_SHARED, 0, 0, &l), -EBUSY);
		}
		proc_kill(&child);
		/* the next locker succeeds at once */
		ck_assert_int_eq(ddlp_lock_many(p.req, 2, 0, 0, &l), 0);
		ck_assert_int_eq(ddlp_unlock(l), 0);
		unlink(p.file);
	}
}
END_TEST

/* ---------------------------------------------------------------- *
 * The application's signals during a wait
 * ---------------------------------------------------------------- */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

struct sigenv {
	struct sigaction old_sa;
	struct itimerval old_it;
};

static void signals_on(struct sigenv *e)
{
	struct sigaction sa;
	struct itimerval it = { { 0, 10000 }, { 0, 10000 } };

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = 0; /* no SA_RESTART: interrupted calls fail with EINTR */
	sigemptyset(&sa.sa_mask);
	alarms = 0;
	ck_assert_int_eq(sigaction(SIGALRM, &sa, &e->old_sa), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, &e->old_it), 0);
}

static void signals_off(struct sigenv *e)
{
	struct timespec zero = { 0, 0 };
	sigset_t set, old;

	/* stop the timer and swallow an alarm still pending (valgrind delivers
	 * late) before the previous handler comes back: Check's own SIGALRM
	 * handler kills the process group */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	setitimer(ITIMER_REAL, &e->old_it, NULL);
	while (sigtimedwait(&set, NULL, &zero) == SIGALRM)
		;
	sigaction(SIGALRM, &e->old_sa, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

START_TEST(test_eintr)
{
	struct lock_req q = { D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, NULL };
	struct ddlp_lock *l = (struct ddlp_lock *)0x1;
	struct sigenv e;
	struct proc p;
	int res = -1, r;
	int64_t t0, waited;

	/* a permanent holder: the wait lasts to its deadline */
	ck_assert_int_eq(proc_start(&p, take_lock, release_lock, &q, &res), 0);
	ck_assert_int_eq(res, 0);
	signals_on(&e);
	t0 = now_ms();
	r = ddlp_lock(D0->alias, DDLP_EXCLUSIVE, 300, 0, &l);
	waited = now_ms() - t0;
	signals_off(&e);
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert_ptr_null(l);
	ck_assert_int_gt(alarms, 0);
	ck_assert_int_ge(waited, 299);

	/* a holder that lets go after 200 ms: the waiter gets it */
	signals_on(&e);
	proc_release(&p, 200);
	r = ddlp_lock(D0->alias, DDLP_EXCLUSIVE, 5000, 0, &l);
	signals_off(&e);
	ck_assert_int_eq(r, 0);
	ck_assert_int_gt(alarms, 0);
	ck_assert_int_eq(proc_wait(&p), 0);
	ck_assert_int_eq(ddlp_unlock(l), 0);

	/* the same waiting without a limit, shared */
	q.mode = DDLP_EXCLUSIVE;
	ck_assert_int_eq(proc_start(&p, take_lock, release_lock, &q, &res), 0);
	ck_assert_int_eq(res, 0);
	signals_on(&e);
	proc_release(&p, 200);
	r = ddlp_lock(D0->link, DDLP_SHARED, -1, 0, &l);
	signals_off(&e);
	ck_assert_int_eq(r, 0);
	ck_assert_int_gt(alarms, 0);
	ck_assert_int_eq(proc_wait(&p), 0);
	ck_assert_int_eq(ddlp_unlock(l), 0);
}
END_TEST

Suite *suite_fault(bool posix)
{
	Suite *s = suite_host_create("fault", "fault-posix", posix);
	TCase *tc = tcase_create("emfile");

	tcase_host(tc, posix, false, 60);
	tcase_add_test(tc, test_emfile);
	suite_add_tcase(s, tc);
	tc = tcase_create("pause");
	tcase_host(tc, posix, false, 60);
	tcase_add_test(tc, test_killed_between_siblings);
	suite_add_tcase(s, tc);
	tc = tcase_create("eintr");
	tcase_host(tc, posix, false, 60);
	tcase_add_test(tc, test_eintr);
	suite_add_tcase(s, tc);
	return s;
}
