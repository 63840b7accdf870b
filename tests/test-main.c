/*
 * The one Check runner of libddlp's unit and host suites.
 * Run one suite with CK_RUN_SUITE=name, one test case with CK_RUN_CASE=name,
 * Check's fork isolation off with CK_FORK=no (valgrind).
 *
 * Root-only suites (loop devices, mknod) are left out with a line
 * "SKIP: <suite>: needs root (loop devices)" when not root; when nothing at
 * all ran, the exit code is 77 (automake's SKIP).
 *
 * Helper modes, used by tests that need a separate program:
 *   test-ddlp --helper-resolve SPEC    resolve SPEC, print its identity
 *   test-ddlp --helper-has-dev MAJ:MIN exit 1 if an fd of this process is on
 *                                      block device MAJ:MIN, else 0
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "test-common.h"

static char self_exe[PATH_MAX];
static int skipped;

int test_is_root(void)
{
	return geteuid() == 0;
}

const char *test_self_exe(void)
{
	return self_exe;
}

void test_note_skip(const char *what, const char *why)
{
	printf("SKIP: %s: %s\n", what, why);
	fflush(stdout);
	skipped++;
}

static int helper_resolve(const char *spec)
{
	struct ddlp_drive *d;
	int r = ddlp_drive_resolve(spec, 0, &d);

	if (r < 0) {
		printf("error %d\n", r);
		return 1;
	}
	printf("%s\n", ddlp_drive_get_id(d));
	ddlp_drive_free(d);
	return 0;
}

static int helper_has_dev(const char *arg)
{
	unsigned maj, min;

	if (sscanf(arg, "%u:%u", &maj, &min) != 2)
		return 2;
	return pid_has_dev_open(getpid(), makedev(maj, min)) ? 1 : 0;
}

struct suite_def {
	const char *name;
	Suite *(*make)(void);
	Suite *(*make_backend)(bool posix);
	bool posix;
	bool root;
};

static const struct suite_def suites[] = {
	{ "address", suite_address, NULL, false, false },
	{ "order", suite_order, NULL, false, false },
	{ "wait", suite_wait, NULL, false, false },
	{ "hostile", suite_hostile, NULL, false, false }, /* its root part says so itself */
	{ "identity", suite_identity, NULL, false, true },
	{ "lock", NULL, suite_lock, false, true },
	{ "lock-posix", NULL, suite_lock, true, true },
	{ "threads", NULL, suite_threads, false, true },
	{ "threads-posix", NULL, suite_threads, true, true },
	{ "fork", NULL, suite_fork, false, true },
	{ "fork-posix", NULL, suite_fork, true, true },
	{ "attempt", NULL, suite_attempt, false, true },
	{ "attempt-posix", NULL, suite_attempt, true, true },
	{ "status", NULL, suite_status, false, true },
	{ "status-posix", NULL, suite_status, true, true },
	{ "users", NULL, suite_users, false, true },
	{ "users-posix", NULL, suite_users, true, true },
	{ "fault", NULL, suite_fault, false, true },
	{ "fault-posix", NULL, suite_fault, true, true },
	{ "stress", NULL, suite_stress, false, true },
	{ "stress-posix", NULL, suite_stress, true, true },
	{ "alloc", suite_alloc, NULL, false, false }, /* its root part says so itself */
};

int main(int argc, char **argv)
{
	const char *only = getenv("CK_RUN_SUITE");
	SRunner *sr;
	ssize_t len;
	int failed, ran;

	if (argc == 3 && strcmp(argv[1], "--helper-resolve") == 0)
		return helper_resolve(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--helper-has-dev") == 0)
		return helper_has_dev(argv[2]);

	len = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (len < 0)
		len = 0;
	self_exe[len] = '\0';

	sr = srunner_create(NULL);
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		const struct suite_def *s = &suites[i];

		if (only && strcmp(only, s->name) != 0)
			continue;
		if (s->root && !test_is_root()) {
			test_note_skip(s->name, "needs root (loop devices)");
			continue;
		}
		srunner_add_suite(sr, s->make ? s->make() : s->make_backend(s->posix));
	}
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	ran = srunner_ntests_run(sr);
	srunner_free(sr);
	if (failed)
		return EXIT_FAILURE;
	if (ran == 0) {
		printf("SKIP: no test ran%s\n", skipped ? " (see the SKIP lines above)" : "");
		return 77;
	}
	return EXIT_SUCCESS;
}
