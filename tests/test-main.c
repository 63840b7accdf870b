/*
 * The one Check runner of libddlp's unit and host suites.
 * Run one suite with CK_RUN_SUITE=name, one test with CK_RUN_CASE=name.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test-common.h"

int test_is_root(void)
{
	return geteuid() == 0;
}

int main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(suite_address());
	srunner_add_suite(sr, suite_order());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
