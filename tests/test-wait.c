/*
 * Unit tests of the waiter (lib/wait.c): what wakes it and what each wake
 * tells the caller.  On a regular file in a temporary directory: only this
 * test closes it, so every event is one the test made.  No assertion is
 * about time: each checks what ddlp_waiter_wait() returned, in order.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test-common.h"

/* The quick retries that follow one close event (1, 2, 4 ... 64 ms). */
#define SOON_RETRIES 7

static char dir[] = "/tmp/test-wait.XXXXXX";
static char file[sizeof(dir) + 8];
/* a waiter watching file, made by the fixture */
static struct ddlp_waiter *w;

static void setup(void)
{
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/node", dir);
	fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(ddlp_waiter_new(&w), 0);
	ck_assert_int_eq(ddlp_waiter_watch(w, file), 1);
}

static void teardown(void)
{
	ddlp_waiter_free(w);
	w = NULL;
	unlink(file);
	rmdir(dir);
	snprintf(dir, sizeof(dir), "/tmp/test-wait.XXXXXX");
}

static void close_once(void)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	close(fd);
}

/* After a close event was answered: the quick retries, each "try at once"
 * (no /proc/locks look first), then only the fallback: "look first". */
static void expect_soon_retries_then_fallback(void)
{
	for (int i = 0; i < SOON_RETRIES; i++)
		ck_assert_msg(ddlp_waiter_wait(w, -1) == 1, "quick retry %d", i + 1);
	ck_assert_int_eq(ddlp_waiter_wait(w, -1), 0);
}

START_TEST(test_close_then_soon_retries_then_fallback)
{
	ck_assert_int_eq(ddlp_waiter_watch(w, file), 0); /* watched once (the fixture did) */
	close_once();
	/* the close: try at once; the holder may still be letting go */
	ck_assert_int_eq(ddlp_waiter_wait(w, -1), 1);
	expect_soon_retries_then_fallback();
}
END_TEST

START_TEST(test_event_restarts_soon_retries)
{
	close_once();
	ck_assert_int_eq(ddlp_waiter_wait(w, -1), 1);
	ck_assert_int_eq(ddlp_waiter_wait(w, -1), 1);
	ck_assert_int_eq(ddlp_waiter_wait(w, -1), 1);
	/* another close in the middle of the quick retries: all of them again */
	close_once();
	ck_assert_int_eq(ddlp_waiter_wait(w, -1), 1);
	expect_soon_retries_then_fallback();
}
END_TEST

START_TEST(test_no_event_is_fallback)
{
	/* nothing closed: the fallback interval, "look first" */
	ck_assert_int_eq(ddlp_waiter_wait(w, -1), 0);
}
END_TEST

START_TEST(test_deadline)
{
	/* a deadline that has passed ends the wait, events or not */
	ck_assert_int_eq(ddlp_waiter_wait(w, ddlp_now_ms() - 1), -ETIMEDOUT);
	close_once();
	ck_assert_int_eq(ddlp_waiter_wait(w, ddlp_now_ms() - 1), -ETIMEDOUT);
	/* with time left, the close above (still pending) answers at once */
	ck_assert_int_eq(ddlp_waiter_wait(w, ddlp_now_ms() + 20), 1);
	ddlp_waiter_drain(w);
}
END_TEST

START_TEST(test_drain_forgets_events)
{
	close_once();
	close_once();
	/* events drained before an attempt are answered by that attempt */
	ddlp_waiter_drain(w);
	ck_assert_int_eq(ddlp_waiter_wait(w, -1), 0);
}
END_TEST

Suite *suite_wait(void)
{
	Suite *s = suite_create("wait");
	TCase *tc = tcase_create("waiter");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_close_then_soon_retries_then_fallback);
	tcase_add_test(tc, test_event_restarts_soon_retries);
	tcase_add_test(tc, test_no_event_is_fallback);
	tcase_add_test(tc, test_deadline);
	tcase_add_test(tc, test_drain_forgets_events);
	suite_add_tcase(s, tc);
	return s;
}
