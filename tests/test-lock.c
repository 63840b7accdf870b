/*
 * Host tests (root): locking loop drives, in both backends ("lock" and
 * "lock-posix").  Exclusive and shared, in one process and across
 * processes; mknod aliases; the caller's fd; waiting and timeouts; foreign
 * holders (a raw O_EXCL open, a flock); several drives; bad arguments; and
 * that unlock and every failure leave nothing held.
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
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-common.h"

#define D0 (&host.d[0])
#define D1 (&host.d[1])

/* A child process that holds spec in mode until released. */
static struct proc hold(const char *spec, enum ddlp_mode mode, unsigned flags)
{
	static struct lock_req q; /* the child's copy is the one used */
	struct proc p;
	int res = -1;

	q = (struct lock_req){ spec, mode, flags, 0, NULL };
	ck_assert_int_eq(proc_start(&p, take_lock, release_lock, &q, &res), 0);
	ck_assert_msg(res == 0, "holder: ddlp_lock(%s) gave %d", spec, res);
	return p;
}

/* The step of the last conflict is one of a NULL-terminated list: where a
 * DDLP holder has taken several things, whichever check comes first may
 * refuse. */
static void assert_step_in(const char *const *steps)
{
	const struct ddlp_conflict *c = ddlp_last_conflict();
	const char *step;

	ck_assert_ptr_nonnull(c);
	step = ddlp_conflict_get_step(c);
	ck_assert_ptr_nonnull(step);
	for (size_t i = 0; steps[i]; i++)
		if (strcmp(step, steps[i]) == 0)
			return;
	ck_abort_msg("unexpected conflict step \"%s\"", step);
}

static const char *const excl_refusals[] = { "exclusive open", "write lock", "flock", NULL };
/* a shared request sees an exclusive holder first at its claim test */
static const char *const shared_refusals[] = { "claim", "read lock", "flock", NULL };

/* Our locks on the drive's inodes in /proc/locks (any kind). */
static int locks_on(const struct stat *st)
{
	return proclocks_count(st, NULL, 0);
}

static void release_and_wait(struct proc *p)
{
	proc_release(p, 0);
	ck_assert_int_eq(proc_wait(p), 0);
}

/* ---------------------------------------------------------------- */

START_TEST(test_excl_vs_excl_same_process)
{
	struct ddlp_lock *a = NULL, *b = (struct ddlp_lock *)0x1;
	const struct ddlp_conflict *c;

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &a), 0);
	ck_assert_ptr_null(ddlp_last_conflict());
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &b), -EBUSY);
	ck_assert_ptr_null(b);
	ck_assert_conflict(D0->loop.dev, -EBUSY);
	c = ddlp_last_conflict();
	ck_assert_str_eq(ddlp_conflict_get_spec(c), D0->loop.dev);
	/* the same through another form of the drive, and shared */
	ck_assert_int_eq(ddlp_lock(D0->link, DDLP_EXCLUSIVE, 0, 0, &b), -EBUSY);
	ck_assert_int_eq(ddlp_lock(D0->chain, DDLP_SHARED, 0, 0, &b), -EBUSY);
	ck_assert_conflict(D0->loop.dev, -EBUSY);
	/* and from another process */
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), -EBUSY);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_SHARED), -EBUSY);
	/* the other drive is free */
	ck_assert_int_eq(try_lock_elsewhere(D1->loop.dev, DDLP_EXCLUSIVE), 0);
	ck_assert_int_eq(ddlp_unlock(a), 0);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &b), 0);
	ck_assert_ptr_null(ddlp_last_conflict());
	ck_assert_int_eq(ddlp_unlock(b), 0);
}
END_TEST

START_TEST(test_excl_vs_excl_other_process)
{
	struct proc p = hold(D0->loop.dev, DDLP_EXCLUSIVE, 0);
	struct ddlp_lock *b = (struct ddlp_lock *)0x1;
	const struct ddlp_conflict *c;
	int fds = count_open_fds();

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &b), -EBUSY);
	ck_assert_ptr_null(b);
	ck_assert_conflict(D0->loop.dev, -EBUSY);
	assert_step_in(excl_refusals);
	c = ddlp_last_conflict();
	/* the holder's flock (or POSIX lock) names it in /proc/locks */
	ck_assert_int_eq(ddlp_conflict_get_holder_pid(c), p.pid);
	ck_assert_ptr_nonnull(ddlp_conflict_get_holder_name(c));
	ck_assert_int_eq(count_open_fds(), fds);

	ck_assert_int_eq(ddlp_lock(D0->alias, DDLP_EXCLUSIVE, 0, 0, &b), -EBUSY);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, 0, &b), -EBUSY);
	ck_assert_conflict(D0->loop.dev, -EBUSY);
	ck_assert_int_eq(count_open_fds(), fds);
	release_and_wait(&p);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &b), 0);
	ck_assert_int_eq(ddlp_unlock(b), 0);
}
END_TEST

START_TEST(test_shared_shared)
{
	struct ddlp_lock *a, *b;
	struct proc p = hold(D0->loop.dev, DDLP_SHARED, 0);

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, 0, &a), 0);
	ck_assert_int_eq(ddlp_lock(D0->link, DDLP_SHARED, 0, 0, &b), 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->alias, DDLP_SHARED), 0);
	ck_assert_int_eq(ddlp_unlock(a), 0);
	ck_assert_int_eq(ddlp_unlock(b), 0);
	release_and_wait(&p);
}
END_TEST

START_TEST(test_shared_vs_excl)
{
	struct ddlp_lock *a, *b = (struct ddlp_lock *)0x1;
	struct proc p;

	/* we share, another process wants it exclusive, and the reverse */
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, 0, &a), 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), -EBUSY);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &b), -EBUSY);
	ck_assert_ptr_null(b);
	ck_assert_conflict(D0->loop.dev, -EBUSY);
	ck_assert_int_eq(ddlp_unlock(a), 0);

	p = hold(D0->loop.dev, DDLP_SHARED, 0);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &b), -EBUSY);
	ck_assert_conflict(D0->loop.dev, -EBUSY);
	assert_step_in(excl_refusals + 1); /* no O_EXCL to refuse: a lock */
	release_and_wait(&p);

	p = hold(D0->loop.dev, DDLP_EXCLUSIVE, 0);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, 0, &b), -EBUSY);
	ck_assert_conflict(D0->loop.dev, -EBUSY);
	assert_step_in(shared_refusals);
	release_and_wait(&p);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, 0, &a), 0);
	ck_assert_int_eq(ddlp_unlock(a), 0);
}
END_TEST

/* An exclusive lock through the mknod alias locks both inodes. */
START_TEST(test_alias)
{
	struct ddlp_lock *a, *b = (struct ddlp_lock *)0x1;
	struct stat st;
	struct proc p;
	int fd, fl;

	ck_assert_int_eq(ddlp_lock(D0->alias, DDLP_EXCLUSIVE, 0, 0, &a), 0);
	ck_assert_int_gt(locks_on(&D0->dev_st), 0);
	ck_assert_int_gt(locks_on(&D0->alias_st), 0);
	ck_assert_int_eq(proclocks_count(&D0->dev_st, "FLOCK", getpid()), 1);
	ck_assert_int_eq(proclocks_count(&D0->alias_st, "FLOCK", getpid()), 1);
	if (test_posix_backend) {
		ck_assert_int_eq(proclocks_count(&D0->dev_st, "POSIX", getpid()), 1);
		ck_assert_int_eq(proclocks_count(&D0->alias_st, "POSIX", getpid()), 1);
	} else {
		ck_assert_int_eq(proclocks_count(&D0->dev_st, "OFDLCK", 0), 1);
		ck_assert_int_eq(proclocks_count(&D0->alias_st, "OFDLCK", 0), 1);
	}

	/* the caller's fd is on the alias inode, blocking, close-on-exec */
	fd = ddlp_lock_fd(a);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(st.st_ino == D0->alias_st.st_ino && st.st_dev == D0->alias_st.st_dev);
	fl = fcntl(fd, F_GETFL);
	ck_assert_int_eq(fl & O_NONBLOCK, 0);
	ck_assert_int_eq(fl & O_ACCMODE, O_RDWR);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &b), -EBUSY);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), -EBUSY);
	ck_assert_int_eq(try_lock_elsewhere(D0->alias, DDLP_SHARED), -EBUSY);
	ck_assert_int_eq(ddlp_unlock(a), 0);
	ck_assert_int_eq(locks_on(&D0->dev_st), 0);
	ck_assert_int_eq(locks_on(&D0->alias_st), 0);

	/* the reverse: held through /dev/loopN, wanted through the alias */
	p = hold(D0->loop.dev, DDLP_EXCLUSIVE, 0);
	ck_assert_int_eq(ddlp_lock(D0->alias, DDLP_EXCLUSIVE, 0, 0, &b), -EBUSY);
	ck_assert_conflict(D0->loop.dev, -EBUSY);
	ck_assert_int_eq(ddlp_lock(D0->alias, DDLP_SHARED, 0, 0, &b), -EBUSY);
	release_and_wait(&p);

	/* shared through the alias holds both inodes against an exclusive one */
	p = hold(D0->alias, DDLP_SHARED, 0);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &b), -EBUSY);
	release_and_wait(&p);
}
END_TEST

START_TEST(test_fd_named_node)
{
	struct ddlp_lock *a;
	struct stat st;
	char id[64];
	int fd;

	snprintf(id, sizeof(id), "block:%s", D1->loop.name);
	for (int mode = DDLP_SHARED; mode <= DDLP_EXCLUSIVE; mode++) {
		ck_assert_int_eq(ddlp_lock(D1->link, mode, 0, 0, &a), 0);
		fd = ddlp_lock_fd(a);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(fstat(fd, &st), 0);
		ck_assert(st.st_ino == D1->dev_st.st_ino && st.st_dev == D1->dev_st.st_dev);
		ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
		ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
		ck_assert_int_eq(ddlp_lock_fd_at(a, 0), fd);
		ck_assert_int_eq(ddlp_lock_fd_at(a, 1), -EINVAL);
		ck_assert_uint_eq(ddlp_lock_get_drive_count(a), 1);
		ck_assert_int_eq(ddlp_lock_get_mode(a, 0), mode);
		ck_assert_str_eq(ddlp_drive_get_id(ddlp_lock_get_drive(a, 0)), id);
		ck_assert_ptr_null(ddlp_lock_get_drive(a, 1));
		ck_assert_int_eq(ddlp_unlock(a), 0);
	}
}
END_TEST

/* ---------------------------------------------------------------- *
 * Waiting
 * ---------------------------------------------------------------- */

START_TEST(test_wait_for_process)
{
	struct ddlp_lock *b;
	struct proc p = hold(D0->loop.dev, DDLP_EXCLUSIVE, 0);

	proc_release(&p, 200);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 5000, 0, &b), 0);
	ck_assert_ptr_null(ddlp_last_conflict());
	ck_assert_int_eq(proc_wait(&p), 0);
	ck_assert_int_eq(ddlp_unlock(b), 0);

	/* no limit, from a shared holder */
	p = hold(D0->alias, DDLP_SHARED, 0);
	proc_release(&p, 200);
	ck_assert_int_eq(ddlp_lock(D0->link, DDLP_EXCLUSIVE, -1, 0, &b), 0);
	ck_assert_int_eq(proc_wait(&p), 0);
	ck_assert_int_eq(ddlp_unlock(b), 0);
}
END_TEST

struct thread_holder {
	const char *spec;
	enum ddlp_mode mode;
	unsigned delay_ms;
	struct ddlp_lock *lock;
	int result;
};

static void *unlock_later(void *arg)
{
	struct thread_holder *h = arg;

	msleep(h->delay_ms);
	h->result = ddlp_unlock(h->lock);
	return NULL;
}

START_TEST(test_wait_for_thread)
{
	struct thread_holder h = { D0->loop.dev, DDLP_EXCLUSIVE, 200, NULL, -1 };
	struct ddlp_lock *b;
	pthread_t t;

	/* locked here, unlocked on another thread while this one waits */
	ck_assert_int_eq(ddlp_lock(h.spec, h.mode, 0, 0, &h.lock), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, unlock_later, &h), 0);
	ck_assert_int_eq(ddlp_lock(D0->alias, DDLP_EXCLUSIVE, 5000, 0, &b), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(h.result, 0);
	ck_assert_int_eq(ddlp_unlock(b), 0);
}
END_TEST

START_TEST(test_timeout)
{
	struct ddlp_lock *b = (struct ddlp_lock *)0x1;
	struct proc p = hold(D0->loop.dev, DDLP_EXCLUSIVE, 0);
	int fds = count_open_fds();
	int64_t t0 = now_ms();

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 100, 0, &b), -ETIMEDOUT);
	/* it did wait (never returns before its deadline) */
	ck_assert_int_ge(now_ms() - t0, 99);
	ck_assert_ptr_null(b);
	ck_assert_conflict(D0->loop.dev, -EBUSY);
	ck_assert_int_eq(count_open_fds(), fds);
	ck_assert_int_eq(ddlp_lock(D0->alias, DDLP_SHARED, 100, 0, &b), -ETIMEDOUT);
	ck_assert_int_eq(count_open_fds(), fds);
	release_and_wait(&p);
}
END_TEST

/* ---------------------------------------------------------------- *
 * Foreign holders
 * ---------------------------------------------------------------- */

START_TEST(test_foreign_excl_open)
{
	struct raw_req q = { D0->loop.dev, O_RDONLY | O_EXCL, 0, 0, 0, -1 };
	struct ddlp_lock *b = (struct ddlp_lock *)0x1;
	const struct ddlp_conflict *c;
	struct proc p;
	int res = -1, fds;

	ck_assert_int_eq(proc_start(&p, take_raw, release_raw, &q, &res), 0);
	ck_assert_int_eq(res, 0);
	fds = count_open_fds();
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &b), -EBUSY);
	ck_assert_ptr_null(b);
	ck_assert_conflict(D0->loop.dev, -EBUSY);
	c = ddlp_last_conflict();
	ck_assert_str_eq(ddlp_conflict_get_step(c), "exclusive open");
	/* an O_EXCL open shows in no lock table: found among the openers */
	ck_assert_int_eq(ddlp_conflict_get_holder_pid(c), p.pid);
	/* nothing of ours is left */
	ck_assert_int_eq(count_open_fds(), fds);
	ck_assert_int_eq(locks_on(&D0->dev_st), 0);
	ck_assert_int_eq(ddlp_lock(D0->alias, DDLP_EXCLUSIVE, 0, 0, &b), -EBUSY);
	ck_assert_int_eq(count_open_fds(), fds);
	ck_assert_int_eq(locks_on(&D0->dev_st), 0);
	ck_assert_int_eq(locks_on(&D0->alias_st), 0);
	release_and_wait(&p);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &b), 0);
	ck_assert_int_eq(ddlp_unlock(b), 0);
}
END_TEST

START_TEST(test_foreign_flock)
{
	struct raw_req q = { D0->loop.dev, O_RDONLY, LOCK_EX, 0, 0, -1 };
	struct ddlp_lock *b = (struct ddlp_lock *)0x1;
	const struct ddlp_conflict *c;
	struct proc p;
	int res = -1, fds;
	char comm[32] = "";
	FILE *f;

	ck_assert_int_eq(proc_start(&p, take_raw, release_raw, &q, &res), 0);
	ck_assert_int_eq(res, 0);
	fds = count_open_fds();
	for (int mode = DDLP_SHARED; mode <= DDLP_EXCLUSIVE; mode++) {
		ck_assert_int_eq(ddlp_lock(D0->loop.dev, mode, 0, 0, &b), -EBUSY);
		ck_assert_ptr_null(b);
		ck_assert_conflict(D0->loop.dev, -EBUSY);
		c = ddlp_last_conflict();
		ck_assert_str_eq(ddlp_conflict_get_step(c), "flock");
		ck_assert_int_eq(ddlp_conflict_get_holder_pid(c), p.pid);
		ck_assert_int_eq(count_open_fds(), fds);
		/* only the foreign flock is left on the node */
		ck_assert_int_eq(locks_on(&D0->dev_st), 1);
		ck_assert_int_eq(proclocks_count(&D0->dev_st, "FLOCK", p.pid), 1);
	}
	f = fopen("/proc/self/comm", "re");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	ck_assert_str_eq(ddlp_conflict_get_holder_name(c), comm);
	release_and_wait(&p);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &b), 0);
	ck_assert_int_eq(ddlp_unlock(b), 0);
}
END_TEST

/* A foreign fcntl lock: classic POSIX (cdrskin's kind; /proc/locks names
 * its pid) and OFD (pid -1: the holder is found among the openers). */
START_TEST(test_foreign_fcntl)
{
	for (int ofd = 0; ofd < 2; ofd++) {
		struct raw_req q = { D0->loop.dev, O_RDWR, 0, ofd ? F_OFD_SETLK : F_SETLK, F_WRLCK, -1 };
		struct ddlp_lock *b = (struct ddlp_lock *)0x1;
		const struct ddlp_conflict *c;
		struct proc p;
		int res = -1, fds;

		ck_assert_int_eq(proc_start(&p, take_raw, release_raw, &q, &res), 0);
		ck_assert_int_eq(res, 0);
		fds = count_open_fds();
		for (int mode = DDLP_SHARED; mode <= DDLP_EXCLUSIVE; mode++) {
			ck_assert_int_eq(ddlp_lock(D0->link, mode, 0, 0, &b), -EBUSY);
			ck_assert_ptr_null(b);
			ck_assert_conflict(D0->loop.dev, -EBUSY);
			c = ddlp_last_conflict();
			ck_assert_str_eq(ddlp_conflict_get_step(c),
			                 mode == DDLP_EXCLUSIVE ? "write lock" : "read lock");
			ck_assert_int_eq(ddlp_conflict_get_holder_pid(c), p.pid);
			ck_assert_int_eq(count_open_fds(), fds);
			ck_assert_int_eq(locks_on(&D0->dev_st), 1);
		}
		release_and_wait(&p);
		ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &b), 0);
		ck_assert_int_eq(ddlp_unlock(b), 0);
	}
}
END_TEST

/* flock(1) itself, when installed */
START_TEST(test_foreign_flock_program)
{
	struct ddlp_lock *b;
	pid_t pid;
	int status;
	bool seen = false;

	if (access("/usr/bin/flock", X_OK) != 0) {
		test_note_skip("lock/foreign_flock_program", "flock(1) is not installed");
		return;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setpgid(0, 0);
		execl("/usr/bin/flock", "flock", "-x", "-o", D0->loop.dev, "sleep", "600",
		      (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	for (int i = 0; i < 1000 && !seen; i++) {
		seen = proclocks_count(&D0->dev_st, "FLOCK", pid) == 1;
		if (!seen)
			msleep(10);
	}
	if (seen) {
		const struct ddlp_conflict *c;
		char comm[64] = "", path[64];
		int r = ddlp_lock(D0->link, DDLP_EXCLUSIVE, 0, 0, &b);
		FILE *f;

		c = ddlp_last_conflict();
		/* "flock", or valgrind's name when it traces children */
		snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
		f = fopen(path, "re");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
		}
		comm[strcspn(comm, "\n")] = '\0';
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
		ck_assert_int_eq(r, -EBUSY);
		ck_assert_str_eq(ddlp_conflict_get_step(c), "flock");
		ck_assert_int_eq(ddlp_conflict_get_holder_pid(c), pid);
		ck_assert_str_eq(ddlp_conflict_get_holder_name(c), comm);
		ck_assert_int_eq(ddlp_lock(D0->link, DDLP_EXCLUSIVE, 0, 0, &b), 0);
		ck_assert_int_eq(ddlp_unlock(b), 0);
	} else {
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
		ck_abort_msg("flock(1) did not take its lock within 10 s");
	}
}
END_TEST

/* ---------------------------------------------------------------- *
 * Several drives
 * ---------------------------------------------------------------- */

START_TEST(test_lock_many)
{
	struct ddlp_request req[2] = { { D0->loop.dev, DDLP_SHARED }, { D1->alias, DDLP_EXCLUSIVE } };
	struct ddlp_lock *l, *b = (struct ddlp_lock *)0x1;
	struct stat st;
	int fds = count_open_fds();

	ck_assert_int_eq(ddlp_lock_many(req, 2, 0, 0, &l), 0);
	ck_assert_uint_eq(ddlp_lock_get_drive_count(l), 2);
	ck_assert_int_eq(ddlp_lock_get_mode(l, 0), DDLP_SHARED);
	ck_assert_int_eq(ddlp_lock_get_mode(l, 1), DDLP_EXCLUSIVE);
	ck_assert_int_eq(ddlp_lock_fd(l), ddlp_lock_fd_at(l, 0));
	ck_assert_int_eq(fstat(ddlp_lock_fd_at(l, 0), &st), 0);
	ck_assert(st.st_ino == D0->dev_st.st_ino);
	ck_assert_int_eq(fstat(ddlp_lock_fd_at(l, 1), &st), 0);
	ck_assert(st.st_ino == D1->alias_st.st_ino);
	ck_assert_int_eq(ddlp_lock_fd_at(l, 2), -EINVAL);
	/* drive 0 is shared, drive 1 exclusive (through both inodes) */
	ck_assert_int_eq(try_lock_elsewhere(D0->link, DDLP_SHARED), 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->link, DDLP_EXCLUSIVE), -EBUSY);
	ck_assert_int_eq(try_lock_elsewhere(D1->loop.dev, DDLP_SHARED), -EBUSY);
	ck_assert_int_eq(try_lock_elsewhere(D1->alias, DDLP_SHARED), -EBUSY);
	ck_assert_int_eq(ddlp_lock_many(req, 2, 0, 0, &b), -EBUSY);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(ddlp_unlock(l), 0);
	ck_assert_int_eq(count_open_fds(), fds);
	ck_assert_int_eq(try_lock_elsewhere(D1->alias, DDLP_EXCLUSIVE), 0);

	/* all or nothing: the second drive busy leaves the first free */
	{
		struct proc p = hold(D1->loop.dev, DDLP_SHARED, 0);

		fds = count_open_fds(); /* with the pipes to the holder */
		ck_assert_int_eq(ddlp_lock_many(req, 2, 0, 0, &b), -EBUSY);
		/* the conflict names the second drive's node and spec */
		ck_assert_conflict(D1->loop.dev, -EBUSY);
		ck_assert_str_eq(ddlp_conflict_get_spec(ddlp_last_conflict()), D1->alias);
		ck_assert_int_eq(ddlp_conflict_get_holder_pid(ddlp_last_conflict()), p.pid);
		ck_assert_int_eq(count_open_fds(), fds);
		ck_assert_int_eq(locks_on(&D0->dev_st), 0);
		ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);
		/* and waiting for it ends when it goes */
		proc_release(&p, 200);
		ck_assert_int_eq(ddlp_lock_many(req, 2, 5000, 0, &b), 0);
		ck_assert_int_eq(proc_wait(&p), 0);
		ck_assert_int_eq(ddlp_unlock(b), 0);
	}
}
END_TEST

START_TEST(test_lock_many_duplicate)
{
	struct ddlp_lock *l = (struct ddlp_lock *)0x1;
	struct ddlp_request same[][2] = {
		{ { D0->loop.dev, DDLP_SHARED }, { D0->loop.dev, DDLP_SHARED } },
		{ { D0->loop.dev, DDLP_SHARED }, { D0->alias, DDLP_EXCLUSIVE } },
		{ { D1->chain, DDLP_EXCLUSIVE }, { D1->relative, DDLP_EXCLUSIVE } },
	};
	int fds = count_open_fds();

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		ck_assert_int_eq(ddlp_lock_many(same[i], 2, 0, 0, &l), -EINVAL);
		ck_assert_ptr_null(l);
	}
	ck_assert_int_eq(count_open_fds(), fds);
	ck_assert_int_eq(locks_on(&D0->dev_st), 0);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct ddlp_request req[2] = { { D0->loop.dev, DDLP_SHARED }, { D1->loop.dev, 7 } };
	struct ddlp_lock *l = (struct ddlp_lock *)0x1;
	int fds = count_open_fds();

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, 0, 0, 0, &l), -EINVAL);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, 3, 0, 0, &l), -EINVAL);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, -1, 0, 0, &l), -EINVAL);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, 1u << 20, &l), -EINVAL);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, ~0u, &l), -EINVAL);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(ddlp_lock(NULL, DDLP_SHARED, 0, 0, &l), -EINVAL);
	ck_assert_int_eq(ddlp_lock_many(req, 2, 0, 0, &l), -EINVAL);
	ck_assert_int_eq(ddlp_lock_many(req, 0, 0, 0, &l), -EINVAL);
	ck_assert_int_eq(ddlp_lock_many(NULL, 1, 0, 0, &l), -EINVAL);
	ck_assert_ptr_null(l);
	ck_assert_ptr_null(ddlp_last_conflict());
	ck_assert_int_eq(ddlp_unlock(NULL), -EINVAL);
	ck_assert_int_eq(ddlp_lock_fd(NULL), -EINVAL);
	ck_assert_int_eq(count_open_fds(), fds);
	ck_assert_int_eq(locks_on(&D0->dev_st), 0);
	ck_assert_int_eq(locks_on(&D1->dev_st), 0);
}
END_TEST

START_TEST(test_unlock_releases_all)
{
	struct ddlp_lock *l;
	int fds = count_open_fds();

	for (int mode = DDLP_SHARED; mode <= DDLP_EXCLUSIVE; mode++) {
		ck_assert_int_eq(ddlp_lock(D0->alias, mode, 0, 0, &l), 0);
		ck_assert_int_gt(count_open_fds(), fds);
		ck_assert_int_gt(locks_on(&D0->dev_st), 0);
		ck_assert_int_eq(ddlp_unlock(l), 0);
		ck_assert_int_eq(count_open_fds(), fds);
		ck_assert_int_eq(locks_on(&D0->dev_st), 0);
		ck_assert_int_eq(locks_on(&D0->alias_st), 0);
		ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);
		ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 0, 0, &l), 0);
		ck_assert_int_eq(ddlp_unlock(l), 0);
	}
}
END_TEST

/* Two shared holders in one process: one unlock keeps the other's lock
 * (the POSIX backend must not let the first close drop the process's lock). */
START_TEST(test_shared_holders_independent)
{
	struct ddlp_lock *a, *b;

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, 0, &a), 0);
	ck_assert_int_eq(ddlp_lock(D0->alias, DDLP_SHARED, 0, 0, &b), 0);
	ck_assert_int_eq(ddlp_unlock(a), 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), -EBUSY);
	ck_assert_int_eq(try_lock_elsewhere(D0->alias, DDLP_EXCLUSIVE), -EBUSY);
	ck_assert_int_eq(ddlp_unlock(b), 0);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), 0);

	/* the same with both through one inode, in the other order */
	ck_assert_int_eq(ddlp_lock(D1->loop.dev, DDLP_SHARED, 0, 0, &a), 0);
	ck_assert_int_eq(ddlp_lock(D1->link, DDLP_SHARED, 0, 0, &b), 0);
	ck_assert_int_eq(ddlp_unlock(b), 0);
	ck_assert_int_eq(try_lock_elsewhere(D1->loop.dev, DDLP_EXCLUSIVE), -EBUSY);
	ck_assert_int_eq(ddlp_unlock(a), 0);
	ck_assert_int_eq(try_lock_elsewhere(D1->loop.dev, DDLP_EXCLUSIVE), 0);
}
END_TEST

/* A refused attempt in the process must not drop what the process holds
 * (POSIX locks go with any close of the inode). */
START_TEST(test_refusal_keeps_own_lock)
{
	struct ddlp_lock *a, *b;

	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_SHARED, 0, 0, &a), 0);
	ck_assert_int_eq(ddlp_lock(D0->alias, DDLP_EXCLUSIVE, 0, 0, &b), -EBUSY);
	ck_assert_int_eq(ddlp_lock(D0->loop.dev, DDLP_EXCLUSIVE, 100, 0, &b), -ETIMEDOUT);
	ck_assert_int_eq(try_lock_elsewhere(D0->loop.dev, DDLP_EXCLUSIVE), -EBUSY);
	ck_assert_int_eq(ddlp_unlock(a), 0);
}
END_TEST

static Suite *make(bool posix)
{
	Suite *s = suite_host_create("lock", "lock-posix", posix);
	TCase *tc = tcase_create("lock");

	tcase_host(tc, posix, false, 60);
	tcase_add_test(tc, test_excl_vs_excl_same_process);
	tcase_add_test(tc, test_excl_vs_excl_other_process);
	tcase_add_test(tc, test_shared_shared);
	tcase_add_test(tc, test_shared_vs_excl);
	tcase_add_test(tc, test_alias);
	tcase_add_test(tc, test_fd_named_node);
	tcase_add_test(tc, test_lock_many);
	tcase_add_test(tc, test_lock_many_duplicate);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_unlock_releases_all);
	tcase_add_test(tc, test_shared_holders_independent);
	tcase_add_test(tc, test_refusal_keeps_own_lock);
	suite_add_tcase(s, tc);

	tc = tcase_create("wait");
	tcase_host(tc, posix, false, 60);
	tcase_add_test(tc, test_wait_for_process);
	tcase_add_test(tc, test_wait_for_thread);
	tcase_add_test(tc, test_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("foreign");
	tcase_host(tc, posix, false, 60);
	tcase_add_test(tc, test_foreign_excl_open);
	tcase_add_test(tc, test_foreign_flock);
	tcase_add_test(tc, test_foreign_fcntl);
	tcase_add_test(tc, test_foreign_flock_program);
	suite_add_tcase(s, tc);
	return s;
}

Suite *suite_lock(bool posix)
{
	return make(posix);
}
