/*
 * Unit tests of the waiter (lib/wait.c): what wakes it and what each wake
 * tells the caller.  On a regular file in a temporary directory: only this
 * test closes it, so every event is one the test made.  No assertion is
 * about time: each checks what the waiter returned or armed, in order.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test-common.h"

/* The quick retries that follow one close event (1, 2, 4 ... 64 ms). */
#define SOON_RETRIES 7

static char dir[] = "/tmp/test-wait.XXXXXX";
static char file[sizeof(dir) + 8];
static char other[sizeof(dir) + 8];
/* a waiter watching file as the latest refusal, made by the fixture */
static struct ddlp_waiter *w;

static void make_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/node", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	make_file(file);
	make_file(other);
	ck_assert_int_eq(ddlp_waiter_new(&w), 0);
	ck_assert_int_eq(ddlp_waiter_watch_refusal(w, file), 1);
}

static void teardown(void)
{
	ddlp_waiter_free(w);
	w = NULL;
	unlink(file);
	unlink(other);
	rmdir(dir);
	snprintf(dir, sizeof(dir), "/tmp/test-wait.XXXXXX");
}

static void close_once(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	close(fd);
}

/* One refused attempt as attempt.c makes it: events read first, then the
 * retry armed.  Returns what begin_try said (1: a close was seen). */
static int refused_attempt(void)
{
	int r = ddlp_waiter_begin_try(w);

	ddlp_waiter_arm(w);
	return r;
}

/* After a close event was answered: the quick retries at 1, 2, 4 ... 64
 * ms, each reached by waiting, then the fallback interval. */
static void expect_soon_retries_then_fallback(void)
{
	for (int i = 0; i < SOON_RETRIES; i++) {
		ck_assert_msg(ddlp_waiter_interval_ms(w) == 1 << i, "quick retry %d: %d ms", i + 1,
		              ddlp_waiter_interval_ms(w));
		ck_assert_int_eq(ddlp_waiter_wait(w, -1, false), 1);
		ck_assert_int_eq(refused_attempt(), 0);
	}
	ck_assert_int_eq(ddlp_waiter_interval_ms(w), 500);
}

START_TEST(test_close_then_soon_retries_then_fallback)
{
	ck_assert_int_eq(ddlp_waiter_watch_refusal(w, file), 0); /* already watched */
	ck_assert_int_eq(refused_attempt(), 0);
	ck_assert_int_eq(ddlp_waiter_interval_ms(w), 500);
	close_once(file);
	/* the close: try at once; the holder may still be letting go */
	ck_assert_int_eq(ddlp_waiter_wait(w, -1, false), 1);
	ck_assert_int_eq(refused_attempt(), 1);
	expect_soon_retries_then_fallback();
}
END_TEST

START_TEST(test_event_restarts_soon_retries)
{
	close_once(file);
	ck_assert_int_eq(refused_attempt(), 1);
	ck_assert_int_eq(ddlp_waiter_wait(w, -1, false), 1);
	ck_assert_int_eq(refused_attempt(), 0);
	ck_assert_int_eq(ddlp_waiter_interval_ms(w), 2);
	/* another close in the middle of the quick retries: all of them again */
	close_once(file);
	ck_assert_int_eq(ddlp_waiter_wait(w, -1, false), 1);
	ck_assert_int_eq(refused_attempt(), 1);
	expect_soon_retries_then_fallback();
}
END_TEST

START_TEST(test_only_the_latest_refusal_wakes)
{
	/* the refusal moves: the old file's closes (the waiter's own closes
	 * of the nodes it took and released) no longer wake it */
	ck_assert_int_eq(ddlp_waiter_watch_refusal(w, other), 1);
	ck_assert_int_eq(refused_attempt(), 0); /* the old watch's removal is no wake-up */
	close_once(file);
	ck_assert_int_eq(refused_attempt(), 0);
	close_once(other);
	ck_assert_int_eq(refused_attempt(), 1);
}
END_TEST

START_TEST(test_deadline)
{
	ck_assert_int_eq(refused_attempt(), 0);
	/* a deadline that has passed ends the wait, events or not */
	ck_assert_int_eq(ddlp_waiter_wait(w, ddlp_now_ms() - 1, false), -ETIMEDOUT);
	close_once(file);
	ck_assert_int_eq(ddlp_waiter_wait(w, ddlp_now_ms() - 1, false), -ETIMEDOUT);
	/* with time left, the close above (still pending) answers at once */
	ck_assert_int_eq(ddlp_waiter_wait(w, ddlp_now_ms() + 20, false), 1);
	ck_assert_int_eq(refused_attempt(), 1);
}
END_TEST

START_TEST(test_events_before_an_attempt_are_its_own)
{
	close_once(file);
	close_once(file);
	/* events read before an attempt are answered by that attempt */
	ck_assert_int_eq(refused_attempt(), 1);
	ck_assert_int_eq(refused_attempt(), 0);
}
END_TEST

static void on_signal(int sig)
{
	(void)sig;
}

static void *kill_soon(void *arg)
{
	pthread_t *main_thread = arg;

	/* until the main thread is in its wait: it cannot end otherwise */
	for (int i = 0; i < 200; i++) {
		pthread_kill(*main_thread, SIGUSR1);
		usleep(10000);
	}
	return NULL;
}

START_TEST(test_interruptible)
{
	struct sigaction sa = { .sa_handler = on_signal }, old;
	pthread_t self = pthread_self(), t;

	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
	ck_assert_int_eq(refused_attempt(), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, kill_soon, &self), 0);
	/* interruptible: the handler's signal ends the wait */
	ck_assert_int_eq(ddlp_waiter_wait(w, -1, true), -EINTR);
	/* not interruptible: the signals are absorbed; the retry comes */
	ck_assert_int_eq(ddlp_waiter_wait(w, -1, false), 1);
	pthread_join(t, NULL);
	sigaction(SIGUSR1, &old, NULL);
}
END_TEST

Suite *suite_wait(void)
{
	Suite *s = suite_create("wait");
	TCase *tc = tcase_create("waiter");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_close_then_soon_retries_then_fallback);
	tcase_add_test(tc, test_event_restarts_soon_retries);
	tcase_add_test(tc, test_only_the_latest_refusal_wakes);
	tcase_add_test(tc, test_deadline);
	tcase_add_test(tc, test_events_before_an_attempt_are_its_own);
	tcase_add_test(tc, test_interruptible);
	suite_add_tcase(s, tc);
	return s;
}
