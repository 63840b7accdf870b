/*
 * Host tests (root): fork, exec and process death, in both backends ("fork"
 * and "fork-posix").  A child made by fork() neither owns nor keeps the
 * parent's lock (its copies are closed), unless the lock was taken with
 * DDLP_LOCK_INHERIT; exec never inherits; SIGKILL of a holder frees the
 * drive at once.
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
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-common.h"

#define D0 (&host.d[0])
#define D1 (&host.d[1])

/* A forked child of a lock holder: it reports what it sees of the lock and
 * then waits (holding whatever it inherited) until told to go. */
struct child_view {
	struct ddlp_lock *lock;
	bool unlock;              /* the child calls ddlp_unlock() on its copy */
};

static int child_look(void *arg)
{
	struct child_view *v = arg;
	int fd = ddlp_lock_fd(v->lock);

	if (v->unlock && ddlp_unlock(v->lock) != 0)
		return -1000;
	return fd;
}

START_TEST(test_child_closes_copies)
{
	struct ddlp_request req[2] = { { D0->alias, DDLP_EXCLUSIVE }, { D1->link, DDLP_SHARED } };

	for (int variant = 0; variant < 3; variant++) {
		struct ddlp_lock *l;
		struct child_view v = { NULL, variant == 2 };
		struct proc child;
		int fd = -1;

		if (variant == 0)
			ck_assert_int_eq(ddlp_lock(D0->alias, DDLP_EXCLUSIVE, 0, 0, &l), 0);
		else
			ck_assert_int_eq(ddlp_lock_many(req, 2, 0, 0, &l), 0);
		v.lock = l;
		ck_assert_int_eq(proc_start(&child, child_look, NULL, &v, &fd), 0);
		/* the child's copy is orphaned: no fd, and none of the nodes open */
		ck_assert_int_eq(fd, -EBADF);
		ck_assert(!pid_has_dev_open(child.pid, D0->loop.rdev));
		ck_assert(!pid_has_dev_open(child.pid, D1->loop.rdev));
		ck_assert(pid_has_dev_open(getpid(), D0->loop.rdev));
		/* the parent still holds it (the child's unlock did not free it) */
		ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_SHARED), -EBUSY);
		ck_assert_int_eq(ddlp_unlock(l), 0);
		/* free at once while the child lives */
		ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);
		ck_assert_int_eq(try_lock_elsewhere(D1->loop.dev, DDLP_EXCLUSIVE), 0);
		proc_release(&child, 0);
		ck_assert_int_eq(proc_wait(&child), 0);
	}
}
END_TEST

START_TEST(test_inherit)
{
	for (int mode = DDLP_SHARED; mode <= DDLP_EXCLUSIVE; mode++) {
		struct ddlp_lock *l;
		struct child_view v = { NULL, false };
		struct proc child;
		int fd = -1;

		ck_assert_int_eq(ddlp_lock(D0->alias, mode, 0, DDLP_LOCK_INHERIT, &l), 0);
		v.lock = l;
		ck_assert_int_eq(proc_start(&child, child_look, NULL, &v, &fd), 0);
		/* the child has the lock's fd and the node open */
		ck_assert_int_ge(fd, 0);
		ck_assert(pid_has_dev_open(child.pid, D0->loop.rdev));
		ck_assert_int_eq(ddlp_unlock(l), 0);
		/* handed over: still busy until the child is gone */
		ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), -EBUSY);
		if (mode == DDLP_EXCLUSIVE)
			ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_SHARED), -EBUSY);
		proc_release(&child, 0);
		ck_assert_int_eq(proc_wait(&child), 0);
		ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);
	}
}
END_TEST

/* The inherited lock is the child's to unlock. */
static int child_unlock_inherited(void *arg)
{
	struct child_view *v = arg;

	return ddlp_unlock(v->lock);
}

START_TEST(test_inherit_child_unlocks)
{
	struct ddlp_lock *l;
	struct child_view v = { NULL, false };
	struct proc child;
	int res = -1;

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, DDLP_LOCK_INHERIT, &l), 0);
	v.lock = l;
	ck_assert_int_eq(ddlp_unlock(l), 0); /* the parent lets go first */
	/* (the child was not forked yet: this is the plain case) */
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, DDLP_LOCK_INHERIT, &l), 0);
	v.lock = l;
	ck_assert_int_eq(proc_start(&child, child_unlock_inherited, NULL, &v, &res), 0);
	ck_assert_int_eq(res, 0);
	/* the child let its copy go; the parent still holds the drive */
	ck_assert(!pid_has_dev_open(child.pid, D0->loop.rdev));
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_SHARED), -EBUSY);
	ck_assert_int_eq(ddlp_unlock(l), 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);
	proc_release(&child, 0);
	ck_assert_int_eq(proc_wait(&child), 0);
}
END_TEST

/* Two shared handles on one drive, only one of them inherited: in the
 * child, unlocking the inherited one must close everything the child has
 * (the POSIX backend shares one fd per inode between the handles). */
static int child_unlock_and_look(void *arg)
{
	struct child_view *v = arg;
	int r = ddlp_unlock(v->lock);

	if (r != 0)
		return r;
	return pid_has_dev_open(getpid(), D0->loop.rdev) ? 1 : 0;
}

START_TEST(test_inherit_one_of_two)
{
	struct ddlp_lock *plain, *handed;
	struct child_view v = { NULL, false };
	struct proc child;
	int res = -1;

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, 0, &plain), 0);
	ck_assert_int_eq(ddlp_lock(D0->link, DDLP_SHARED, 0, DDLP_LOCK_INHERIT, &handed), 0);
	v.lock = handed;
	ck_assert_int_eq(proc_start(&child, child_unlock_and_look, NULL, &v, &res), 0);
	ck_assert_msg(res == 0, "after unlocking its inherited lock the child %s",
	              res == 1 ? "still has the drive open" : "failed to unlock");
	ck_assert_int_eq(ddlp_unlock(handed), 0);
	ck_assert_int_eq(ddlp_unlock(plain), 0);
	/* free at once while the child lives */
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);
	proc_release(&child, 0);
	ck_assert_int_eq(proc_wait(&child), 0);
}
END_TEST

/* exec'ed programs get no lock fd, with or without DDLP_LOCK_INHERIT */
START_TEST(test_exec_never_inherits)
{
	char arg[32];

	snprintf(arg, sizeof(arg), "%u:%u", major(D0->loop.rdev), minor(D0->loop.rdev));
	for (int inherit = 0; inherit < 2; inherit++) {
		struct ddlp_lock *l;
		unsigned flags = inherit ? DDLP_LOCK_INHERIT : 0;
		pid_t pid;
		int status;

		ck_assert_int_eq(ddlp_lock(D0->alias, DDLP_EXCLUSIVE, 0, flags, &l), 0);
		/* the runner's helper says whether it has the drive open */
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			execl(test_self_exe(), test_self_exe(), "--helper-has-dev", arg, (char *)NULL);
			_exit(127);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status));
		ck_assert_msg(WEXITSTATUS(status) == 0, "exec'ed child: status %d",
		              WEXITSTATUS(status));

		/* a long-lived exec'ed child does not keep the drive */
		{
			int sync[2];
			char c;

			ck_assert_int_eq(pipe2(sync, O_CLOEXEC), 0);
			pid = fork();
			ck_assert_int_ge(pid, 0);
			if (pid == 0) {
				close(sync[0]);
				execl("/bin/sleep", "sleep", "60", (char *)NULL);
				_exit(127);
			}
			close(sync[1]);
			/* EOF once the exec has closed the child's end */
			ck_assert_int_eq(read(sync[0], &c, 1), 0);
			close(sync[0]);
		}
		ck_assert_int_eq(ddlp_unlock(l), 0);
		ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
}
END_TEST

static int hold_forever_many(void *arg)
{
	const struct ddlp_request *req = arg;
	struct ddlp_lock *l;

	return ddlp_lock_many(req, 2, 0, 0, &l);
}

START_TEST(test_kill9_frees)
{
	for (int variant = 0; variant < 3; variant++) {
		struct ddlp_request req[2] = { { D1->chain, DDLP_EXCLUSIVE },
			                       { D0->alias, DDLP_SHARED } };
		struct lock_req q = { D0->alias, variant ? DDLP_SHARED : DDLP_EXCLUSIVE, 0, 0, NULL };
		struct ddlp_lock *l;
		struct proc p;
		int res = -1;

		if (variant < 2)
			ck_assert_int_eq(proc_start(&p, take_lock, NULL, &q, &res), 0);
		else
			ck_assert_int_eq(proc_start(&p, hold_forever_many, NULL, req, &res), 0);
		ck_assert_int_eq(res, 0);
		ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &l), -EBUSY);
		proc_kill(&p);
		ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &l), 0);
		ck_assert_int_eq(ddlp_unlock(l), 0);
		ck_assert_int_eq(ddlp_lock(D1->alias, DDLP_EXCLUSIVE, 0, 0, &l), 0);
		ck_assert_int_eq(ddlp_unlock(l), 0);
	}
}
END_TEST

/* A fork() in one thread while another thread is in the middle of taking
 * a lock: the child must not end up with a copy of a lock fd. */
struct churn {
	int stop;
	int rounds;
	int errors;
};

static void *churn_thread(void *arg)
{
	struct churn *c = arg;

	while (!__atomic_load_n(&c->stop, __ATOMIC_SEQ_CST)) {
		struct ddlp_lock *l;

		if (ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, DDLP_LOCK_NO_REPROBE, &l) == 0) {
			ddlp_unlock(l);
			__atomic_fetch_add(&c->rounds, 1, __ATOMIC_SEQ_CST);
		} else {
			__atomic_fetch_add(&c->errors, 1, __ATOMIC_SEQ_CST);
		}
	}
	return NULL;
}

/* In a child forked from a multithreaded parent only async-signal-safe
 * calls are allowed (another thread may have held the allocator's lock:
 * opendir() deadlocked under ASan): fstat() every fd number. */
static bool child_has_dev_fd(dev_t rdev)
{
	for (int fd = 3; fd < 1024; fd++) {
		struct stat st;

		if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == rdev)
			return true;
	}
	return false;
}

START_TEST(test_fork_during_lock)
{
	struct churn c = { 0, 0, 0 };
	pthread_t t;
	int leaked = 0, forks = 0;
	int64_t end;

	ck_assert_int_eq(pthread_create(&t, NULL, churn_thread, &c), 0);
	end = now_ms() + 2000;
	while (now_ms() < end) {
		int status;
		pid_t pid = fork();

		/* a distinct code: under valgrind a child that exits with the
		 * other thread's allocations in flight exits with valgrind's
		 * error code (their only pointers were on that thread's stack) */
		if (pid == 0)
			_exit(child_has_dev_fd(D0->loop.rdev) ? 42 : 0);
		if (pid < 0)
			break;
		forks++;
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 42)
			leaked++;
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	ck_assert_int_gt(forks, 0);
	ck_assert_int_gt(c.rounds, 0);
	ck_assert_msg(leaked == 0,
	              "%d of %d children forked during %d lock/unlock rounds had a lock fd", leaked,
	              forks, c.rounds);
}
END_TEST

Suite *suite_fork(bool posix)
{
	Suite *s = suite_host_create("fork", "fork-posix", posix);
	TCase *tc = tcase_create("fork");

	tcase_host(tc, posix, false, 60);
	tcase_add_test(tc, test_child_closes_copies);
	tcase_add_test(tc, test_inherit);
	tcase_add_test(tc, test_inherit_child_unlocks);
	tcase_add_test(tc, test_inherit_one_of_two);
	tcase_add_test(tc, test_exec_never_inherits);
	tcase_add_test(tc, test_kill9_frees);
	tcase_add_test(tc, test_fork_during_lock);
	suite_add_tcase(s, tc);
	return s;
}
