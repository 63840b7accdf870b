/*
 * Host tests (root): ddlp_status_new() in both backends ("status"
 * and "status-posix"): free, shared with its holders counted, exclusive
 * with the holder named, a foreign flock holder named, through aliases;
 * it opens nothing that stays open.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include "test-common.h"

#define D0 (&host.d[0])

static struct proc hold(const char *spec, enum ddlp_mode mode)
{
	static struct lock_req q;
	struct proc p;
	int res = -1;

	q = (struct lock_req){ spec, mode, 0, 0, NULL };
	ck_assert_int_eq(proc_start(&p, take_lock, release_lock, &q, &res), 0);
	ck_assert_int_eq(res, 0);
	return p;
}

static void release_and_wait(struct proc *p)
{
	proc_release(p, 0);
	ck_assert_int_eq(proc_wait(p), 0);
}

/* What ddlp_status_new() says about the drive of spec. */
struct st {
	enum ddlp_state state;
	unsigned holders;
	pid_t holder_pid;
	char holder_name[64];
};

static void get_status(const char *spec, struct st *s)
{
	struct ddlp_drive *d;
	struct ddlp_status *status = (struct ddlp_status *)1;
	const char *name;
	int fds;

	ck_assert_int_eq(ddlp_drive_resolve(spec, 0, &d), 0);
	fds = count_open_fds();
	ck_assert_int_eq(ddlp_status_new(d, 0, &status), 0);
	ck_assert_int_eq(count_open_fds(), fds);
	s->state = ddlp_status_get_state(status);
	s->holders = ddlp_status_get_holder_count(status);
	s->holder_pid = ddlp_status_get_holder_pid(status);
	name = ddlp_status_get_holder_name(status);
	ck_assert(name == NULL || *name);
	snprintf(s->holder_name, sizeof(s->holder_name), "%s", name ? name : "");
	ddlp_status_free(status);
	ddlp_drive_free(d);
}

static void comm_of(pid_t pid, char *buf, size_t size)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, (int)size, f));
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

START_TEST(test_free)
{
	struct st s;

	get_status(D0->loop.dev, &s);
	ck_assert_int_eq(s.state, DDLP_STATE_FREE);
	ck_assert_uint_eq(s.holders, 0);
	ck_assert_int_eq(s.holder_pid, 0);
	ck_assert_str_eq(s.holder_name, "");
	get_status(D0->alias, &s);
	ck_assert_int_eq(s.state, DDLP_STATE_FREE);
	{
		struct ddlp_status *st = (struct ddlp_status *)1;
		struct ddlp_drive *d;

		ck_assert_int_eq(ddlp_status_new(NULL, 0, &st), -EINVAL);
		ck_assert_ptr_null(st);
		ck_assert_int_eq(ddlp_drive_resolve(D0->loop.dev, 0, &d), 0);
		ck_assert_int_eq(ddlp_status_new(d, 0, NULL), -EINVAL);
		ck_assert_int_eq(ddlp_status_new(d, 1, &st), -EINVAL);
		ddlp_drive_free(d);
		ddlp_status_free(NULL);
		ck_assert_int_eq(ddlp_status_get_state(NULL), DDLP_STATE_FREE);
		ck_assert_ptr_null(ddlp_status_get_holder_name(NULL));
	}
}
END_TEST

START_TEST(test_shared_two_holders)
{
	struct st s;
	struct proc a = hold(D0->loop.dev, DDLP_SHARED);
	struct proc b;
	struct ddlp_lock *l;

	get_status(D0->loop.dev, &s);
	ck_assert_int_eq(s.state, DDLP_STATE_SHARED);
	ck_assert_uint_eq(s.holders, 1);
	b = hold(D0->link, DDLP_SHARED);
	get_status(D0->loop.dev, &s);
	ck_assert_int_eq(s.state, DDLP_STATE_SHARED);
	ck_assert_uint_eq(s.holders, 2);
	/* through the alias as well */
	get_status(D0->alias, &s);
	ck_assert_int_eq(s.state, DDLP_STATE_SHARED);
	ck_assert_uint_eq(s.holders, 2);
	/* and this process as a third */
	ck_assert_int_eq(ddlp_lock(D0->chain, DDLP_SHARED, 0, 0, &l), 0);
	get_status(D0->loop.dev, &s);
	ck_assert_uint_eq(s.holders, 3);
	ck_assert_int_eq(ddlp_unlock(l), 0);
	release_and_wait(&a);
	get_status(D0->loop.dev, &s);
	ck_assert_int_eq(s.state, DDLP_STATE_SHARED);
	ck_assert_uint_eq(s.holders, 1);
	release_and_wait(&b);
	get_status(D0->loop.dev, &s);
	ck_assert_int_eq(s.state, DDLP_STATE_FREE);
}
END_TEST

START_TEST(test_exclusive)
{
	struct st s;
	char comm[32];

	for (int via_alias = 0; via_alias < 2; via_alias++) {
		struct proc p = hold(via_alias ? D0->alias : D0->loop.dev, DDLP_EXCLUSIVE);

		comm_of(p.pid, comm, sizeof(comm));
		/* seen from either form */
		for (int from_alias = 0; from_alias < 2; from_alias++) {
			get_status(from_alias ? D0->alias : D0->loop.dev, &s);
			ck_assert_int_eq(s.state, DDLP_STATE_EXCLUSIVE);
			ck_assert_uint_eq(s.holders, 1);
			/* its flock names it in /proc/locks */
			ck_assert_int_eq(s.holder_pid, p.pid);
			ck_assert_str_eq(s.holder_name, comm);
		}
		release_and_wait(&p);
		get_status(D0->loop.dev, &s);
		ck_assert_int_eq(s.state, DDLP_STATE_FREE);
	}
}
END_TEST

START_TEST(test_foreign_flock)
{
	struct raw_req q = { D0->loop.dev, O_RDONLY, LOCK_EX, 0, 0, -1 };
	struct st s;
	struct proc p;
	char comm[32];
	int res = -1;

	ck_assert_int_eq(proc_start(&p, take_raw, release_raw, &q, &res), 0);
	ck_assert_int_eq(res, 0);
	comm_of(p.pid, comm, sizeof(comm));
	get_status(D0->loop.dev, &s);
	ck_assert_int_eq(s.state, DDLP_STATE_EXCLUSIVE);
	ck_assert_int_eq(s.holder_pid, p.pid);
	ck_assert_str_eq(s.holder_name, comm);
	release_and_wait(&p);
	get_status(D0->loop.dev, &s);
	ck_assert_int_eq(s.state, DDLP_STATE_FREE);
}
END_TEST

Suite *suite_status(bool posix)
{
	Suite *s = suite_host_create("status", "status-posix", posix);
	TCase *tc = tcase_create("status");

	tcase_host(tc, posix, false, 60);
	tcase_add_test(tc, test_free);
	tcase_add_test(tc, test_shared_two_holders);
	tcase_add_test(tc, test_exclusive);
	tcase_add_test(tc, test_foreign_flock);
	suite_add_tcase(s, tc);
	return s;
}
