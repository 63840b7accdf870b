/*
 * The lock that comes (doc/ddlp.txt, sections 6 and 7), on loop devices in
 * both backends ("attempt" and "attempt-posix"): the attempt API of an
 * event loop, cancelling, DDLP_LOCK_INTERRUPTIBLE, writer preference
 * against shared holders whose holds overlap by construction, the order of
 * queued exclusive requests, and waiters killed while queued.  Nothing is
 * asserted about time: waits are bounded only so that a failure cannot
 * hang the run.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-common.h"

#define D0 (&host.d[0])
/* bound of every loop that waits for something to happen (x 10 ms) */
#define PATIENCE 3000

/* The queue file of drive 0 (its sysfs uevent file). */
static void queue_stat(struct stat *st)
{
	struct ddlp_drive *d;
	char path[PATH_MAX];

	ck_assert_int_eq(ddlp_drive_resolve(D0->loop.dev, 0, &d), 0);
	snprintf(path, sizeof(path), "%s/uevent", ddlp_drive_get_syspath(d));
	ddlp_drive_free(d);
	ck_assert_int_eq(stat(path, st), 0);
}

static int tickets(void)
{
	struct stat st;

	queue_stat(&st);
	return proclocks_count(&st, NULL, 0);
}

/* ---- waiters in other processes ---- */
struct order_log {
	int n;
	int who[16];
};
static struct order_log *order;

struct waiter {
	pid_t pid;
	bool told;   /* SIGUSR2 sent: unlock now */
};

/* Fork a process that waits without limit for spec in mode, logs id when
 * it has the drive, and unlocks at once (hold false) or when told by
 * SIGUSR2 (a signal, not a pipe: the other waiters would inherit a pipe's
 * write end). */
static void waiter_start(struct waiter *w, int id, enum ddlp_mode mode, bool hold)
{
	sigset_t usr2;

	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	w->told = false;
	w->pid = fork();
	ck_assert_int_ge(w->pid, 0);
	if (w->pid == 0) {
		struct ddlp_lock *l;
		int sig;

		sigprocmask(SIG_BLOCK, &usr2, NULL);
		if (ddlp_lock(D0->loop.dev, mode, -1, DDLP_LOCK_NO_REPROBE, &l) < 0)
			_exit(3);
		order->who[__atomic_fetch_add(&order->n, 1, __ATOMIC_SEQ_CST)] = id;
		if (hold && sigwait(&usr2, &sig) != 0)
			_exit(4);
		ddlp_unlock(l);
		_exit(0);
	}
}

static int waiter_wait(struct waiter *w)
{
	int status;

	if (!w->told)
		kill(w->pid, SIGUSR2);
	w->told = true;
	ck_assert_int_eq(waitpid(w->pid, &status, 0), w->pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void waiter_kill(struct waiter *w)
{
	kill(w->pid, SIGKILL);
	w->told = true;
	waiter_wait(w);
}

/* Until n processes have had the drive (bounded). */
static void wait_order(int n)
{
	for (int i = 0; i < PATIENCE && __atomic_load_n(&order->n, __ATOMIC_SEQ_CST) < n; i++)
		msleep(10);
	ck_assert_int_ge(__atomic_load_n(&order->n, __ATOMIC_SEQ_CST), n);
}

/* Until a shared request is refused while only shared holders hold the
 * drive: an exclusive request is queued (bounded). */
static void wait_queued(void)
{
	int i;

	for (i = 0; i < PATIENCE && try_lock_elsewhere(D0->loop.dev, DDLP_SHARED) == 0; i++)
		msleep(10);
	ck_assert_msg(i < PATIENCE, "the exclusive request never queued");
}

static void wait_tickets(int n)
{
	int i;

	for (i = 0; i < PATIENCE && tickets() < n; i++)
		msleep(10);
	ck_assert_int_eq(tickets(), n);
}

static void setup_log(void)
{
	order = mmap(NULL, sizeof(*order), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(order != MAP_FAILED);
	memset(order, 0, sizeof(*order));
}

static void teardown_log(void)
{
	if (order)
		munmap(order, sizeof(*order));
	order = NULL;
}

/* ---- the attempt API ---- */
START_TEST(test_attempt_busy_then_taken)
{
	struct lock_req q = { D0->loop.dev, DDLP_EXCLUSIVE, DDLP_LOCK_NO_REPROBE, 0, NULL };
	struct ddlp_attempt *a;
	struct ddlp_lock *l = NULL;
	struct proc p;
	struct pollfd pfd;
	int res = -1, fds, r, i;

	ck_assert_int_eq(proc_start(&p, take_lock, release_lock, &q, &res), 0);
	ck_assert_int_eq(res, 0);
	fds = count_open_fds();
	ck_assert_int_eq(ddlp_attempt_new(D0->loop.dev, DDLP_SHARED, 0, &a), 0);
	ck_assert_int_eq(ddlp_attempt_get_timeout_ms(a), 0); /* try at once */
	ck_assert_int_eq(ddlp_attempt_try(a, &l), -EBUSY);
	ck_assert_ptr_null(l);
	ck_assert_str_eq(ddlp_conflict_get_step(ddlp_last_conflict()), "claim");
	ck_assert_int_eq(ddlp_conflict_get_holder_pid(ddlp_last_conflict()), p.pid);
	pfd = (struct pollfd){ .fd = ddlp_attempt_get_fd(a), .events = POLLIN };
	ck_assert_int_ge(pfd.fd, 0);
	/* the first refusal placed a watch: one more look at once */
	ck_assert_int_eq(ddlp_attempt_get_timeout_ms(a), 0);
	ck_assert_int_eq(ddlp_attempt_try(a, &l), -EBUSY);
	ck_assert_int_gt(ddlp_attempt_get_timeout_ms(a), 0);
	/* held, nothing closed: not readable */
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	proc_release(&p, 0);
	ck_assert_int_eq(proc_wait(&p), 0);
	/* the holder's close made it readable */
	ck_assert_int_eq(poll(&pfd, 1, 30000), 1);
	for (i = 0, r = -EBUSY; r == -EBUSY && i < 100; i++) {
		pfd.revents = 0;
		poll(&pfd, 1, ddlp_attempt_get_timeout_ms(a));
		r = ddlp_attempt_try(a, &l);
	}
	ck_assert_int_eq(r, 0);
	ck_assert_ptr_nonnull(l);
	{
		struct ddlp_lock *l2;

		ck_assert_int_eq(ddlp_attempt_try(a, &l2), -EINVAL); /* spent */
	}
	ddlp_attempt_free(a);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), -EBUSY);
	ck_assert_int_eq(ddlp_unlock(l), 0);
	ck_assert_int_eq(count_open_fds(), fds - 2); /* the holder's pipes are gone */
}
END_TEST

START_TEST(test_attempt_free_cancels)
{
	struct lock_req q = { D0->loop.dev, DDLP_SHARED, 0, 0, NULL };
	struct ddlp_attempt *a;
	struct ddlp_lock *l = NULL;
	struct proc p;
	int res = -1, fds;

	ck_assert_int_eq(proc_start(&p, take_lock, release_lock, &q, &res), 0);
	ck_assert_int_eq(res, 0);
	fds = count_open_fds();
	/* a pending exclusive attempt is a queued exclusive request */
	ck_assert_int_eq(ddlp_attempt_new(D0->loop.dev, DDLP_EXCLUSIVE, 0, &a), 0);
	ck_assert_int_eq(tickets(), 1);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_SHARED), -EBUSY);
	ck_assert_int_eq(ddlp_attempt_try(a, &l), -EBUSY);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_SHARED), -EBUSY);
	/* freed: nothing held or queued */
	ddlp_attempt_free(a);
	ck_assert_int_eq(tickets(), 0);
	ck_assert_int_eq(count_open_fds(), fds);
	ck_assert_int_eq(proclocks_count(&D0->dev_st, NULL, getpid()), 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_SHARED), 0);
	proc_release(&p, 0);
	ck_assert_int_eq(proc_wait(&p), 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);
}
END_TEST

START_TEST(test_attempt_bad_arguments)
{
	struct ddlp_attempt *a = (struct ddlp_attempt *)0x1;
	struct ddlp_lock *l;

	ck_assert_int_eq(ddlp_attempt_new(NULL, DDLP_SHARED, 0, &a), -EINVAL);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(ddlp_attempt_new(D0->loop.dev, 7, 0, &a), -EINVAL);
	ck_assert_int_eq(ddlp_attempt_new(D0->loop.dev, DDLP_SHARED, 1u << 20, &a), -EINVAL);
	ck_assert_int_eq(ddlp_attempt_new(D0->loop.dev, DDLP_SHARED, 0, NULL), -EINVAL);
	ck_assert_int_eq(ddlp_attempt_new("/nonexistent/drive", DDLP_SHARED, 0, &a), -ENOENT);
	ck_assert_int_eq(ddlp_attempt_try(NULL, &l), -EINVAL);
	ck_assert_int_eq(ddlp_attempt_get_fd(NULL), -EINVAL);
	ck_assert_int_eq(ddlp_attempt_get_timeout_ms(NULL), -1);
	ddlp_attempt_free(NULL);
	ck_assert_int_eq(ddlp_lock_set_inheritable(NULL, 1), -EINVAL);
}
END_TEST

/* ---- DDLP_LOCK_INTERRUPTIBLE ---- */
static void on_usr1(int sig)
{
	(void)sig;
}

struct interrupt_arg {
	unsigned flags;
	int result;
	struct ddlp_lock *lock;
};

static void *lock_thread(void *v)
{
	struct interrupt_arg *ia = v;

	ia->result = ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 2000, ia->flags, &ia->lock);
	return NULL;
}

static int lock_while_signalled(unsigned flags)
{
	struct interrupt_arg ia = { .flags = flags, .result = 1 };
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	pthread_t t;

	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, lock_thread, &ia), 0);
	/* signal the waiting thread until its call has returned */
	for (int i = 0; i < 300 && __atomic_load_n(&ia.result, __ATOMIC_SEQ_CST) == 1; i++) {
		pthread_kill(t, SIGUSR1);
		msleep(10);
	}
	pthread_join(t, NULL);
	sigaction(SIGUSR1, &old, NULL);
	ck_assert_ptr_null(ia.lock);
	return ia.result;
}

START_TEST(test_interruptible)
{
	struct lock_req q = { D0->loop.dev, DDLP_SHARED, 0, 0, NULL };
	struct proc p;
	int res = -1, fds;

	ck_assert_int_eq(proc_start(&p, take_lock, release_lock, &q, &res), 0);
	ck_assert_int_eq(res, 0);
	fds = count_open_fds();
	ck_assert_int_eq(lock_while_signalled(DDLP_LOCK_INTERRUPTIBLE), -EINTR);
	/* nothing held or queued after the interrupted wait */
	ck_assert_int_eq(tickets(), 0);
	ck_assert_int_eq(count_open_fds(), fds);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_SHARED), 0);
	/* without the flag the signals are absorbed: the wait runs out */
	ck_assert_int_eq(lock_while_signalled(0), -ETIMEDOUT);
	proc_release(&p, 0);
	ck_assert_int_eq(proc_wait(&p), 0);
}
END_TEST

/* ---- writer preference, order, deaths ---- */

/* Shared holders whose holds overlap by construction (each next one is
 * started while the previous one holds) keep coming while an exclusive
 * request waits: it gets the drive when the holders that were there when
 * it queued have let go, before every shared request that came after. */
static void writer_vs_readers(int readers)
{
	struct waiter r[8], w, late[8];
	int i;

	setup_log();
	for (i = 0; i < readers; i++) {
		waiter_start(&r[i], 1 + i, DDLP_SHARED, true);
		wait_order(i + 1);
	}
	waiter_start(&w, 100, DDLP_EXCLUSIVE, true);
	wait_queued();
	/* readers that come now wait behind the exclusive request */
	for (i = 0; i < readers; i++)
		waiter_start(&late[i], 200 + i, DDLP_SHARED, true);
	/* the first readers let go, one after the other */
	for (i = 0; i < readers; i++)
		ck_assert_int_eq(waiter_wait(&r[i]), 0);
	wait_order(readers + 1);
	ck_assert_int_eq(order->who[readers], 100);
	ck_assert_int_eq(waiter_wait(&w), 0);
	/* then the late readers, all together */
	wait_order(2 * readers + 1);
	for (i = 0; i < readers; i++) {
		ck_assert_int_ge(order->who[readers + 1 + i], 200);
		ck_assert_int_eq(waiter_wait(&late[i]), 0);
	}
	teardown_log();
}

START_TEST(test_writer_preference_two_readers)
{
	writer_vs_readers(2);
}
END_TEST

START_TEST(test_writer_preference_four_readers)
{
	writer_vs_readers(4);
}
END_TEST

START_TEST(test_exclusive_requests_in_order)
{
	struct waiter h, w[3];

	setup_log();
	waiter_start(&h, 1, DDLP_EXCLUSIVE, true);
	wait_order(1);
	for (int i = 0; i < 3; i++) {
		waiter_start(&w[i], 10 + i, DDLP_EXCLUSIVE, false);
		wait_tickets(i + 1);
		/* tickets are milliseconds: the next one is later */
		msleep(2);
	}
	ck_assert_int_eq(waiter_wait(&h), 0);
	wait_order(4);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(order->who[1 + i], 10 + i);
		ck_assert_int_eq(waiter_wait(&w[i]), 0);
	}
	ck_assert_int_eq(tickets(), 0);
	teardown_log();
}
END_TEST

START_TEST(test_killed_waiters_block_nobody)
{
	struct waiter r, w;

	setup_log();
	/* an exclusive request that holds the claim, waiting for a reader */
	waiter_start(&r, 1, DDLP_SHARED, true);
	wait_order(1);
	waiter_start(&w, 2, DDLP_EXCLUSIVE, true);
	wait_queued();
	waiter_kill(&w);
	ck_assert_int_eq(tickets(), 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_SHARED), 0);
	ck_assert_int_eq(waiter_wait(&r), 0);
	/* a queued one behind an exclusive holder */
	waiter_start(&r, 3, DDLP_EXCLUSIVE, true);
	wait_order(2);
	waiter_start(&w, 4, DDLP_EXCLUSIVE, true);
	wait_tickets(1);
	waiter_kill(&w);
	ck_assert_int_eq(tickets(), 0);
	ck_assert_int_eq(waiter_wait(&r), 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);
	teardown_log();
}
END_TEST

START_TEST(test_excl_only_holder_refuses_shared)
{
	/* a program that knows only O_EXCL (as xorriso on sr): a shared
	 * request is refused at its claim test */
	struct raw_req q = { D0->loop.dev, O_RDWR | O_EXCL | O_NONBLOCK, 0, 0, 0, -1 };
	struct proc p;
	int res = -1;

	ck_assert_int_eq(proc_start(&p, take_raw, release_raw, &q, &res), 0);
	ck_assert_int_eq(res, 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_SHARED), -EBUSY);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), -EBUSY);
	proc_release(&p, 0);
	ck_assert_int_eq(proc_wait(&p), 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_SHARED), 0);
}
END_TEST

START_TEST(test_inheritable)
{
	struct ddlp_lock *l;
	pid_t pid;
	int status, fd;

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, DDLP_LOCK_NO_REPROBE, &l), 0);
	fd = ddlp_lock_fd(l);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(ddlp_lock_set_inheritable(l, 1), 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* the child keeps the descriptors; the parent lets go first */
		msleep(300);
		_exit(fcntl(fd, F_GETFD) >= 0 ? 0 : 1);
	}
	ck_assert_int_eq(ddlp_unlock(l), 0);
	/* the child still holds the drive (its claim and flock at least) */
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_SHARED), -EBUSY);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);
	/* and back: not inheritable */
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, 0, &l), 0);
	ck_assert_int_eq(ddlp_lock_set_inheritable(l, 1), 0);
	ck_assert_int_eq(ddlp_lock_set_inheritable(l, 0), 0);
	ck_assert_int_eq(fcntl(ddlp_lock_fd(l), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(ddlp_unlock(l), 0);
}
END_TEST

START_TEST(test_upgrade_refused_by_a_waiting_writer)
{
	struct ddlp_attempt *a;
	struct ddlp_lock *l, *got = NULL;

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, 0, &l), 0);
	ck_assert_int_eq(ddlp_attempt_new(D0->loop.dev, DDLP_EXCLUSIVE, DDLP_LOCK_NO_REPROBE, &a), 0);
	ck_assert_int_eq(ddlp_attempt_try(a, &got), -EBUSY);
	if (test_posix_backend) {
		ck_assert_int_eq(ddlp_lock_convert(l, 0, DDLP_EXCLUSIVE, 0), -EOPNOTSUPP);
	} else {
		/* the waiting request keeps the claim: the upgrade is refused
		 * and the drive stays held shared */
		ck_assert_int_eq(ddlp_lock_convert(l, 0, DDLP_EXCLUSIVE, 0), -EBUSY);
		ck_assert_int_ge(ddlp_lock_fd(l), 0);
		ck_assert_int_eq(ddlp_lock_get_mode(l, 0), DDLP_SHARED);
		ck_assert_int_eq(proclocks_count(&D0->dev_st, "OFDLCK", 0), 1);
	}
	ck_assert_int_eq(ddlp_attempt_try(a, &got), -EBUSY);
	ck_assert_int_eq(ddlp_unlock(l), 0);
	for (int i = 0; i < 100 && ddlp_attempt_try(a, &got) == -EBUSY; i++)
		msleep(10);
	ck_assert_ptr_nonnull(got);
	ddlp_attempt_free(a);
	ck_assert_int_eq(ddlp_unlock(got), 0);
}
END_TEST

Suite *suite_attempt(bool posix)
{
	Suite *s = suite_host_create("attempt", "attempt-posix", posix);
	TCase *tc = tcase_create("attempt");

	tcase_host(tc, posix, false, 60);
	tcase_add_test(tc, test_attempt_busy_then_taken);
	tcase_add_test(tc, test_attempt_free_cancels);
	tcase_add_test(tc, test_attempt_bad_arguments);
	tcase_add_test(tc, test_interruptible);
	tcase_add_test(tc, test_excl_only_holder_refuses_shared);
	tcase_add_test(tc, test_inheritable);
	tcase_add_test(tc, test_upgrade_refused_by_a_waiting_writer);
	suite_add_tcase(s, tc);
	tc = tcase_create("queue");
	tcase_host(tc, posix, false, 120);
	tcase_add_test(tc, test_writer_preference_two_readers);
	tcase_add_test(tc, test_writer_preference_four_readers);
	tcase_add_test(tc, test_exclusive_requests_in_order);
	tcase_add_test(tc, test_killed_waiters_block_nobody);
	suite_add_tcase(s, tc);
	return s;
}
