/*
 * Host tests (root): threads of one process on one drive, in both backends
 * ("threads" and "threads-posix").  A second lock in the process conflicts
 * as another process's would; a waiting thread is released by another
 * thread's unlock; lock and unlock may run on different threads; many
 * threads locking and unlocking their own handles never overlap.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-common.h"

#define D0 (&host.d[0])

struct locker {
	const char *spec;
	enum ddlp_mode mode;
	int timeout;
	struct ddlp_lock *lock;
	int result;
	bool had_conflict;         /* ddlp_last_conflict() on this thread after */
	int *released;             /* set by the holder right before its unlock */
	int saw_released;          /* *released when the lock was granted */
};

static void *lock_thread(void *arg)
{
	struct locker *l = arg;

	l->result = ddlp_lock(l->spec, l->mode, l->timeout, 0, &l->lock);
	l->had_conflict = ddlp_last_conflict() != NULL;
	if (l->released)
		l->saw_released = __atomic_load_n(l->released, __ATOMIC_SEQ_CST);
	return NULL;
}

START_TEST(test_excl_vs_excl)
{
	struct locker a = { D0->loop.dev, DDLP_EXCLUSIVE, 0, NULL, -1, false, NULL, 0 };
	struct locker b = { D0->alias, DDLP_EXCLUSIVE, 0, NULL, -1, false, NULL, 0 };
	struct locker c = { D0->link, DDLP_SHARED, 0, NULL, -1, false, NULL, 0 };
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, lock_thread, &a), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(a.result, 0);
	ck_assert(!a.had_conflict);
	ck_assert_int_eq(pthread_create(&t, NULL, lock_thread, &b), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(b.result, -EBUSY);
	ck_assert_ptr_null(b.lock);
	ck_assert(b.had_conflict);
	ck_assert_int_eq(pthread_create(&t, NULL, lock_thread, &c), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(c.result, -EBUSY);
	/* the conflict is per thread: this one has made no call */
	ck_assert_ptr_null(ddlp_last_conflict());
	/* unlocked on another thread than the one that locked */
	ck_assert_int_eq(ddlp_unlock(a.lock), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, lock_thread, &b), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(b.result, 0);
	ck_assert_int_eq(ddlp_unlock(b.lock), 0);
}
END_TEST

START_TEST(test_waiter_released_by_other_thread)
{
	for (int mode = DDLP_SHARED; mode <= DDLP_EXCLUSIVE; mode++) {
		int released = 0;
		struct locker w = { D0->chain, mode, 10000, NULL, -1, false, &released, 0 };
		struct ddlp_lock *mine;
		pthread_t t;

		ck_assert_int_eq(ddlp_lock(D0->alias, DDLP_EXCLUSIVE, 0, 0, &mine), 0);
		ck_assert_int_eq(pthread_create(&t, NULL, lock_thread, &w), 0);
		msleep(100); /* let it start waiting (the test holds either way) */
		__atomic_store_n(&released, 1, __ATOMIC_SEQ_CST);
		ck_assert_int_eq(ddlp_unlock(mine), 0);
		pthread_join(t, NULL);
		ck_assert_int_eq(w.result, 0);
		/* it got the drive only after the unlock */
		ck_assert_int_eq(w.saw_released, 1);
		/* and it is really held: locked there, unlocked here */
		ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &mine), -EBUSY);
		ck_assert_int_eq(ddlp_unlock(w.lock), 0);
		ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &mine), 0);
		ck_assert_int_eq(ddlp_unlock(mine), 0);
	}
}
END_TEST

/* ---------------------------------------------------------------- */

#define MANY_THREADS 6
#define MANY_ROUNDS 60

struct overlap {
	int excl;
	int shared;
	int violations;
	int errors;
	int first_error;
	int done;
};

struct many_arg {
	struct overlap *o;
	unsigned seed;
};

static void *many_thread(void *arg)
{
	struct many_arg *a = arg;
	struct overlap *o = a->o;
	const char *forms[] = { D0->loop.dev, D0->link, D0->chain, D0->alias, D0->relative };

	for (int i = 0; i < MANY_ROUNDS; i++) {
		const char *spec = forms[rand_r(&a->seed) % 5];
		enum ddlp_mode mode = rand_r(&a->seed) % 3 ? DDLP_EXCLUSIVE : DDLP_SHARED;
		struct ddlp_lock *l;
		int r = ddlp_lock(spec, mode, 60000, 0, &l);

		if (r < 0) {
			if (__atomic_fetch_add(&o->errors, 1, __ATOMIC_SEQ_CST) == 0)
				o->first_error = r;
			continue;
		}
		if (mode == DDLP_EXCLUSIVE) {
			if (__atomic_add_fetch(&o->excl, 1, __ATOMIC_SEQ_CST) != 1 ||
			    __atomic_load_n(&o->shared, __ATOMIC_SEQ_CST) != 0)
				__atomic_fetch_add(&o->violations, 1, __ATOMIC_SEQ_CST);
		} else {
			__atomic_add_fetch(&o->shared, 1, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(&o->excl, __ATOMIC_SEQ_CST) != 0)
				__atomic_fetch_add(&o->violations, 1, __ATOMIC_SEQ_CST);
		}
		if (rand_r(&a->seed) % 2)
			sched_yield();
		if (mode == DDLP_EXCLUSIVE)
			__atomic_sub_fetch(&o->excl, 1, __ATOMIC_SEQ_CST);
		else
			__atomic_sub_fetch(&o->shared, 1, __ATOMIC_SEQ_CST);
		if (ddlp_unlock(l) < 0)
			__atomic_fetch_add(&o->errors, 1, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&o->done, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

START_TEST(test_many_threads)
{
	struct overlap o = { 0 };
	struct many_arg args[MANY_THREADS];
	pthread_t t[MANY_THREADS];
	int fds = count_open_fds();

	for (int i = 0; i < MANY_THREADS; i++) {
		args[i] = (struct many_arg){ &o, (unsigned)(i * 7919 + getpid()) };
		ck_assert_int_eq(pthread_create(&t[i], NULL, many_thread, &args[i]), 0);
	}
	for (int i = 0; i < MANY_THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_msg(o.errors == 0, "%d lock calls failed, the first with %d", o.errors,
	              o.first_error);
	ck_assert_int_eq(o.violations, 0);
	ck_assert_int_eq(o.done, MANY_THREADS * MANY_ROUNDS);
	ck_assert_int_eq(count_open_fds(), fds);
	ck_assert_int_eq(proclocks_count(&D0->dev_st, NULL, 0), 0);
}
END_TEST

/* ---------------------------------------------------------------- *
 * The spec's symlink flipped between the two drives' aliases while this
 * thread locks through it: every lock is on the device it verified, or
 * the attempt fails closed (-ENODEV at "verify"), never anything else.
 * ---------------------------------------------------------------- */

struct flipper {
	char link[TEST_PATH_MAX];
	char tmp[TEST_PATH_MAX];
	int stop;
	long flips;
};

static void *flip_thread(void *arg)
{
	struct flipper *f = arg;

	while (!__atomic_load_n(&f->stop, __ATOMIC_SEQ_CST)) {
		const char *target = f->flips % 2 ? host.d[1].alias : host.d[0].alias;

		unlink(f->tmp);
		if (symlink(target, f->tmp) == 0 && rename(f->tmp, f->link) == 0)
			f->flips++;
	}
	return NULL;
}

START_TEST(test_symlink_flip)
{
	struct flipper f;
	pthread_t t;
	int ok = 0, verify = 0, other = 0, wrong = 0, last_other = 0;
	int64_t end;

	memset(&f, 0, sizeof(f));
	snprintf(f.link, sizeof(f.link), "%s/flip", host.dir);
	snprintf(f.tmp, sizeof(f.tmp), "%s/flip.tmp", host.dir);
	ck_assert_int_eq(symlink(host.d[0].alias, f.link), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, flip_thread, &f), 0);
	end = now_ms() + 1500;
	while (now_ms() < end) {
		struct ddlp_lock *l;
		int r = ddlp_lock(f.link, DDLP_EXCLUSIVE, 0, DDLP_LOCK_NO_REPROBE, &l);

		if (r == 0) {
			const struct ddlp_drive *d = ddlp_lock_get_drive(l, 0);
			dev_t want = ddlp_node_get_devnum(ddlp_drive_get_node(d, 0));
			struct stat st;

			ok++;
			/* the caller's fd, and every node, is the resolved device */
			if (fstat(ddlp_lock_fd(l), &st) != 0 || st.st_rdev != want)
				wrong++;
			for (size_t i = 0; i < ddlp_drive_get_node_count(d); i++)
				if (ddlp_node_get_devnum(ddlp_drive_get_node(d, i)) != want)
					wrong++;
			ddlp_unlock(l);
		} else if (r == -ENODEV && ddlp_last_conflict() &&
		           strcmp(ddlp_conflict_get_step(ddlp_last_conflict()), "verify") == 0) {
			verify++;
		} else {
			other++;
			last_other = r;
		}
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	unlink(f.link);
	unlink(f.tmp);
	printf("symlink flip%s: %ld flips, %d locks, %d refused at verify\n",
	       test_posix_backend ? " (posix)" : "", f.flips, ok, verify);
	fflush(stdout);
	ck_assert_int_gt(f.flips, 0);
	ck_assert_int_gt(ok, 0);
	ck_assert_msg(wrong == 0, "%d locks on another device than the one resolved", wrong);
	ck_assert_msg(other == 0, "%d attempts failed otherwise, the last with %d (%s)", other,
	              last_other, strerror(-last_other));
	ck_assert_int_eq(proclocks_count(&host.d[0].dev_st, NULL, 0), 0);
	ck_assert_int_eq(proclocks_count(&host.d[1].dev_st, NULL, 0), 0);
}
END_TEST

Suite *suite_threads(bool posix)
{
	Suite *s = suite_host_create("threads", "threads-posix", posix);
	TCase *tc = tcase_create("threads");

	tcase_host(tc, posix, false, 120);
	tcase_add_test(tc, test_excl_vs_excl);
	tcase_add_test(tc, test_waiter_released_by_other_thread);
	tcase_add_test(tc, test_many_threads);
	tcase_add_test(tc, test_symlink_flip);
	suite_add_tcase(s, tc);
	return s;
}
