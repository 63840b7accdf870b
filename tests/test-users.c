/*
 * Host tests (root): ddlp_users_new() and ddlp_users_wait_unused() on loop
 * devices, in both backends ("users" and "users-posix"): a plain opener,
 * a flock holder, an OFD holder, a POSIX holder and a DDLP holder told
 * apart, each with its nodes (an alias inode too); several drives in one
 * scan; the caller left out with DDLP_USERS_OTHERS; processes an
 * unprivileged caller cannot see counted as unseen; nothing left open;
 * waiting until the unlocked openers of a held drive have closed it; the
 * holder a refused lock names is the one whose open file holds the lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-common.h"

#define D0 (&host.d[0])
#define D1 (&host.d[1])

/* A scan of the two drives (drive 0 = D0, 1 = D1), checked to leave no
 * descriptor open. */
static struct ddlp_users *scan(unsigned flags, struct ddlp_drive **d)
{
	const struct ddlp_drive *dd[2];
	struct ddlp_users *us = (struct ddlp_users *)1;
	int fds;

	ck_assert_int_eq(ddlp_drive_resolve(D0->loop.dev, 0, &d[0]), 0);
	ck_assert_int_eq(ddlp_drive_resolve(D1->loop.dev, 0, &d[1]), 0);
	dd[0] = d[0];
	dd[1] = d[1];
	fds = count_open_fds();
	ck_assert_int_eq(ddlp_users_new(dd, 2, flags, &us), 0);
	ck_assert_int_eq(count_open_fds(), fds);
	ck_assert_uint_eq(ddlp_users_get_drive_count(us), 2);
	return us;
}

static void scan_free(struct ddlp_users *us, struct ddlp_drive **d)
{
	ddlp_users_free(us);
	ddlp_drive_free(d[0]);
	ddlp_drive_free(d[1]);
}

/* The user of drive i with this pid, or NULL. */
static const struct ddlp_user *user_of(const struct ddlp_users *us, size_t i, pid_t pid)
{
	for (size_t k = 0; k < ddlp_users_get_count(us, i); k++) {
		const struct ddlp_user *u = ddlp_users_get(us, i, k);

		if (ddlp_user_get_pid(u) == pid)
			return u;
	}
	return NULL;
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

/* A process that holds a raw open (and lock) of path. */
static struct proc raw_holder(struct raw_req *q)
{
	struct proc p;
	int res = -1;

	ck_assert_int_eq(proc_start(&p, take_raw, release_raw, q, &res), 0);
	ck_assert_msg(res == 0, "holder of %s: %s", q->path, strerror(-res));
	return p;
}

static struct proc ddlp_holder(struct lock_req *q)
{
	struct proc p;
	int res = -1;

	ck_assert_int_eq(proc_start(&p, take_lock, release_lock, q, &res), 0);
	ck_assert_msg(res == 0, "DDLP holder of %s: %s", q->spec, strerror(-res));
	return p;
}

static void done(struct proc *p)
{
	proc_release(p, 0);
	ck_assert_int_eq(proc_wait(p), 0);
}

/* u is pid's entry with this lock and mode, and has exactly path open. */
static void check_user(const struct ddlp_users *us, size_t drive, pid_t pid,
                       enum ddlp_user_lock lock, enum ddlp_mode mode, const char *path)
{
	const struct ddlp_user *u = user_of(us, drive, pid);
	char comm[64];

	ck_assert_msg(u != NULL, "pid %ld is not among the users of drive %zu", (long)pid, drive);
	comm_of(pid, comm, sizeof(comm));
	ck_assert_str_eq(ddlp_user_get_name(u), comm);
	ck_assert_int_eq(ddlp_user_get_lock(u), lock);
	ck_assert_int_eq(ddlp_user_get_mode(u), mode);
	ck_assert_uint_eq(ddlp_user_get_node_count(u), 1);
	ck_assert_str_eq(ddlp_user_get_node(u, 0), path);
	ck_assert_ptr_null(ddlp_user_get_node(u, 1));
}

START_TEST(test_nobody)
{
	struct ddlp_drive *d[2];
	struct ddlp_users *us = scan(0, d);

	ck_assert_uint_eq(ddlp_users_get_count(us, 0), 0);
	ck_assert_uint_eq(ddlp_users_get_count(us, 1), 0);
	ck_assert_ptr_null(ddlp_users_get(us, 0, 0));
	ck_assert_ptr_null(ddlp_users_get(us, 2, 0));
	ck_assert_uint_eq(ddlp_users_get_unseen(us), 0); /* root sees every process */
	scan_free(us, d);
	ck_assert_int_eq(ddlp_users_new(NULL, 1, 0, &us), -EINVAL);
	ck_assert_int_eq(ddlp_users_new(NULL, 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(ddlp_users_new(NULL, 0, 1u << 7, &us), -EINVAL);
	ck_assert_int_eq(ddlp_users_new(NULL, 0, 0, &us), 0);
	ck_assert_uint_eq(ddlp_users_get_drive_count(us), 0);
	ddlp_users_free(us);
	ddlp_users_free(NULL);
	ck_assert_int_eq(ddlp_user_get_pid(NULL), 0);
	ck_assert_ptr_null(ddlp_user_get_name(NULL));
}
END_TEST

/* Every kind of user at once on drive 0, told apart; drive 1 has only its
 * own opener. */
START_TEST(test_kinds)
{
	struct raw_req plain = { D0->loop.dev, O_RDONLY, 0, 0, 0, -1 };
	struct raw_req fl_ex = { D0->loop.dev, O_RDONLY, LOCK_EX, 0, 0, -1 };
	struct raw_req ofd_rd = { D0->alias, O_RDONLY, 0, F_OFD_SETLK, F_RDLCK, -1 };
	struct raw_req posix_rd = { D0->loop.dev, O_RDONLY, 0, F_SETLK, F_RDLCK, -1 };
	struct raw_req other = { D1->loop.dev, O_RDONLY, 0, 0, 0, -1 };
	struct proc p_plain = raw_holder(&plain), p_fl = raw_holder(&fl_ex);
	struct proc p_ofd = raw_holder(&ofd_rd), p_posix = raw_holder(&posix_rd);
	struct proc p_other = raw_holder(&other);
	struct lock_req shared = { D0->link, DDLP_SHARED, 0, 0, NULL };
	struct proc p_ddlp;
	struct ddlp_drive *d[2];
	struct ddlp_users *us;

	/* a shared DDLP holder coexists with all of them but the flock
	 * (LOCK_SH against LOCK_EX): that one first lets go */
	done(&p_fl);
	p_ddlp = ddlp_holder(&shared);
	fl_ex.flock_op = LOCK_SH;
	p_fl = raw_holder(&fl_ex);

	us = scan(0, d);
	ck_assert_uint_eq(ddlp_users_get_count(us, 0), 5);
	check_user(us, 0, p_plain.pid, DDLP_USER_LOCK_NONE, 0, D0->loop.dev);
	check_user(us, 0, p_fl.pid, DDLP_USER_LOCK_FLOCK, DDLP_SHARED, D0->loop.dev);
	/* through the alias inode, found by its device number */
	check_user(us, 0, p_ofd.pid, DDLP_USER_LOCK_DDLP, DDLP_SHARED, D0->alias);
	check_user(us, 0, p_posix.pid, DDLP_USER_LOCK_DDLP, DDLP_SHARED, D0->loop.dev);
	check_user(us, 0, p_ddlp.pid, DDLP_USER_LOCK_DDLP, DDLP_SHARED, D0->loop.dev);
	/* by pid */
	for (size_t k = 1; k < 5; k++)
		ck_assert_int_lt(ddlp_user_get_pid(ddlp_users_get(us, 0, k - 1)),
		                 ddlp_user_get_pid(ddlp_users_get(us, 0, k)));
	ck_assert_uint_eq(ddlp_users_get_count(us, 1), 1);
	check_user(us, 1, p_other.pid, DDLP_USER_LOCK_NONE, 0, D1->loop.dev);
	scan_free(us, d);

	done(&p_plain);
	done(&p_fl);
	done(&p_ofd);
	done(&p_posix);
	done(&p_ddlp);
	done(&p_other);
	us = scan(0, d);
	ck_assert_uint_eq(ddlp_users_get_count(us, 0), 0);
	ck_assert_uint_eq(ddlp_users_get_count(us, 1), 0);
	scan_free(us, d);
}
END_TEST

/* Exclusive holders: OFD write lock, flock LOCK_EX, a DDLP exclusive lock
 * (one at a time: they exclude each other). */
START_TEST(test_exclusive)
{
	struct raw_req ofd_wr = { D0->loop.dev, O_RDWR, 0, F_OFD_SETLK, F_WRLCK, -1 };
	struct raw_req fl_ex = { D0->alias, O_RDONLY, LOCK_EX, 0, 0, -1 };
	struct lock_req excl = { D0->alias, DDLP_EXCLUSIVE, DDLP_LOCK_NO_REPROBE, 0, NULL };
	struct ddlp_drive *d[2];
	struct ddlp_users *us;
	struct proc p;
	const struct ddlp_user *u;

	p = raw_holder(&ofd_wr);
	us = scan(0, d);
	check_user(us, 0, p.pid, DDLP_USER_LOCK_DDLP, DDLP_EXCLUSIVE, D0->loop.dev);
	scan_free(us, d);
	done(&p);

	p = raw_holder(&fl_ex);
	us = scan(0, d);
	check_user(us, 0, p.pid, DDLP_USER_LOCK_FLOCK, DDLP_EXCLUSIVE, D0->alias);
	scan_free(us, d);
	done(&p);

	/* a DDLP holder through the alias has the canonical node and the
	 * alias open: both listed */
	p = ddlp_holder(&excl);
	us = scan(0, d);
	ck_assert_uint_eq(ddlp_users_get_count(us, 0), 1);
	u = user_of(us, 0, p.pid);
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(ddlp_user_get_lock(u), DDLP_USER_LOCK_DDLP);
	ck_assert_int_eq(ddlp_user_get_mode(u), DDLP_EXCLUSIVE);
	ck_assert_uint_eq(ddlp_user_get_node_count(u), 2);
	ck_assert_str_eq(ddlp_user_get_node(u, 0), D0->loop.dev);
	ck_assert_str_eq(ddlp_user_get_node(u, 1), D0->alias);
	scan_free(us, d);
	done(&p);
}
END_TEST

/* The caller itself: listed, unless DDLP_USERS_OTHERS; several
 * descriptors on one node are one node. */
START_TEST(test_self)
{
	int fd1 = open(D0->loop.dev, O_RDONLY | O_CLOEXEC);
	int fd2 = open(D0->chain, O_RDONLY | O_CLOEXEC);
	struct ddlp_drive *d[2];
	struct ddlp_users *us;
	const struct ddlp_user *u;

	ck_assert_int_ge(fd1, 0);
	ck_assert_int_ge(fd2, 0);
	us = scan(0, d);
	ck_assert_uint_eq(ddlp_users_get_count(us, 0), 1);
	u = ddlp_users_get(us, 0, 0);
	ck_assert_int_eq(ddlp_user_get_pid(u), getpid());
	ck_assert_uint_eq(ddlp_user_get_node_count(u), 1);
	ck_assert_str_eq(ddlp_user_get_node(u, 0), D0->loop.dev);
	ck_assert_int_eq(ddlp_user_get_lock(u), DDLP_USER_LOCK_NONE);
	scan_free(us, d);
	us = scan(DDLP_USERS_OTHERS, d);
	ck_assert_uint_eq(ddlp_users_get_count(us, 0), 0);
	scan_free(us, d);
	close(fd1);
	close(fd2);
}
END_TEST

/* A caller that may not look at root's processes: the holder is not
 * listed (not guessed), and the processes it could not see are counted. */
START_TEST(test_unseen)
{
	struct raw_req plain = { D0->loop.dev, O_RDONLY, 0, 0, 0, -1 };
	struct proc p = raw_holder(&plain);
	struct ddlp_drive *d[2];
	const struct ddlp_drive *dd[2];
	pid_t child;
	int status;

	ck_assert_int_eq(ddlp_drive_resolve(D0->loop.dev, 0, &d[0]), 0);
	ck_assert_int_eq(ddlp_drive_resolve(D1->loop.dev, 0, &d[1]), 0);
	dd[0] = d[0];
	dd[1] = d[1];
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct ddlp_users *us;

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(10);
		if (ddlp_users_new(dd, 2, 0, &us) < 0)
			_exit(11);
		if (ddlp_users_get_count(us, 0) != 0)
			_exit(12); /* the holder is root's: it must not be seen */
		if (ddlp_users_get_unseen(us) < 2)
			_exit(13); /* at least init and the holder */
		ddlp_users_free(us);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "the unprivileged scan: status 0x%x (10 setuid, 11 scan failed, 12 saw "
	              "root's holder, 13 unseen not counted)", status);
	ddlp_drive_free(d[0]);
	ddlp_drive_free(d[1]);
	done(&p);
}
END_TEST

/* ddlp_users_wait_unused(): the plain opener of a drive the caller holds
 * exclusively keeps it "in use" until it closes; holders of a lock (a
 * shared co-holder) do not. */
START_TEST(test_wait_unused)
{
	struct raw_req plain = { D0->alias, O_RDONLY, 0, 0, 0, -1 };
	struct ddlp_lock *lock;
	struct ddlp_users *us = (struct ddlp_users *)1;
	struct proc p;
	int fds;

	fds = count_open_fds();
	p = raw_holder(&plain);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, DDLP_LOCK_NO_REPROBE, &lock), 0);
	ck_assert_int_eq(ddlp_users_wait_unused(NULL, 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(ddlp_users_wait_unused(lock, 0, 1u << 9, NULL), -EINVAL);
	ck_assert_int_eq(ddlp_users_wait_unused(lock, 0, 0, &us), -EBUSY);
	ck_assert_uint_eq(ddlp_users_get_count(us, 0), 1);
	check_user(us, 0, p.pid, DDLP_USER_LOCK_NONE, 0, D0->alias);
	ddlp_users_free(us);
	ck_assert_int_eq(ddlp_users_wait_unused(lock, 100, 0, NULL), -ETIMEDOUT);
	/* the opener closes a while later: a wait without limit ends */
	proc_release(&p, 300);
	ck_assert_int_eq(ddlp_users_wait_unused(lock, -1, 0, &us), 0);
	ck_assert_uint_eq(ddlp_users_get_count(us, 0), 0);
	ddlp_users_free(us);
	ck_assert_int_eq(proc_wait(&p), 0);
	ck_assert_int_eq(ddlp_unlock(lock), 0);
	ck_assert_int_eq(count_open_fds(), fds);

	/* shared: another shared holder has it open, with its lock */
	{
		struct lock_req shared = { D0->loop.dev, DDLP_SHARED, 0, 0, NULL };
		struct proc q = ddlp_holder(&shared);

		ck_assert_int_eq(ddlp_lock(D0->link, DDLP_SHARED, 0, 0, &lock), 0);
		ck_assert_int_eq(ddlp_users_wait_unused(lock, 0, 0, &us), 0);
		ck_assert_uint_eq(ddlp_users_get_count(us, 0), 1);
		ck_assert_int_eq(ddlp_user_get_lock(ddlp_users_get(us, 0, 0)), DDLP_USER_LOCK_DDLP);
		ddlp_users_free(us);
		ck_assert_int_eq(ddlp_unlock(lock), 0);
		done(&q);
	}
}
END_TEST

/* The holder a refused lock names is the process whose open file holds
 * the lock (an OFD lock shows no pid in /proc/locks), not merely the first
 * process that has the node open. */
START_TEST(test_conflict_holder)
{
	struct raw_req plain = { D0->loop.dev, O_RDONLY, 0, 0, 0, -1 };
	struct raw_req ofd_wr = { D0->loop.dev, O_RDWR, 0, F_OFD_SETLK, F_WRLCK, -1 };
	struct proc p_plain = raw_holder(&plain), p_ofd = raw_holder(&ofd_wr);
	const struct ddlp_conflict *c;
	struct ddlp_lock *l = NULL;

	ck_assert_int_lt(p_plain.pid, p_ofd.pid);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, DDLP_LOCK_NO_REPROBE, &l), -EBUSY);
	c = ddlp_last_conflict();
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(ddlp_conflict_get_node(c), D0->loop.dev);
	ck_assert_int_eq(ddlp_conflict_get_holder_pid(c), p_ofd.pid);
	done(&p_ofd);
	done(&p_plain);
}
END_TEST

Suite *suite_users(bool posix)
{
	Suite *s = suite_host_create("users", "users-posix", posix);
	TCase *tc = tcase_create("users");

	tcase_host(tc, posix, false, 60);
	tcase_add_test(tc, test_nobody);
	tcase_add_test(tc, test_kinds);
	tcase_add_test(tc, test_exclusive);
	tcase_add_test(tc, test_self);
	tcase_add_test(tc, test_unseen);
	tcase_add_test(tc, test_wait_unused);
	tcase_add_test(tc, test_conflict_holder);
	suite_add_tcase(s, tc);
	return s;
}
