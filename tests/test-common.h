/*
 * Shared declarations of the Check test runner (tests/test-main.c): every
 * suite file defines one TEST_SUITE function that the runner calls.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef TEST_COMMON_H
#define TEST_COMMON_H

#include <check.h>

#include "ddlp-private.h"

/* Each suite file provides one of these; tests/test-main.c lists them. */
Suite *suite_address(void);
Suite *suite_order(void);

/* Suites whose every test needs root (loop devices, mknod) say so here:
 * the runner skips them with a SKIP line when not root. */
int test_is_root(void);

#endif
