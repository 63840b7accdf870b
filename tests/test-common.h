/*
 * Shared declarations of the Check test runner (tests/test-main.c): every
 * suite file defines one suite function that the runner calls, and the
 * host suites share the fixtures and helpers of tests/hostenv.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef TEST_COMMON_H
#define TEST_COMMON_H

#include <check.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ddlp-private.h"
#include "loopdev.h"

/* Each suite file provides one of these; tests/test-main.c lists them.
 * The host suites that lock exist twice: posix = false for the default
 * (OFD) backend, true for DDLP_LOCK_BACKEND=posix ("NAME-posix"). */
Suite *suite_address(void);
Suite *suite_order(void);
Suite *suite_identity(void);
Suite *suite_lock(bool posix);
Suite *suite_threads(bool posix);
Suite *suite_fork(bool posix);
Suite *suite_stress(bool posix);
Suite *suite_hostile(void);
Suite *suite_fault(bool posix);
Suite *suite_status(bool posix);
Suite *suite_users(bool posix);
Suite *suite_alloc(void);
Suite *suite_wait(void);
Suite *suite_attempt(bool posix);

/* Suites whose every test needs root (loop devices, mknod) say so here:
 * the runner skips them with a SKIP line when not root. */
int test_is_root(void);
/* The runner's own executable (its helper modes, see test-main.c). */
const char *test_self_exe(void);
/* Tell the runner a test case was left out (printed as a SKIP line). */
void test_note_skip(const char *what, const char *why);

/* ---------------------------------------------------------------- *
 * The host environment (root): two loop drives with aliases
 * ---------------------------------------------------------------- */
#define TEST_DRIVES 2
#define TEST_DIR_MAX 64   /* host.dir: /tmp/ddlp-test.XXXXXX */
#define TEST_PATH_MAX 128 /* a file in host.dir */

struct test_drive {
	struct loopdev loop;
	char link[TEST_PATH_MAX];     /* symlink -> /dev/loopN (absolute target) */
	char rlink[TEST_PATH_MAX];    /* symlink with a relative target */
	char chain[TEST_PATH_MAX];    /* symlink -> symlink -> symlink -> /dev/loopN */
	char alias[TEST_PATH_MAX];    /* mknod copy of /dev/loopN: its own inode */
	char relative[PATH_MAX]; /* /dev/loopN relative to the working directory */
	struct stat dev_st;      /* stat of /dev/loopN */
	struct stat alias_st;    /* stat of the alias */
};

struct test_host {
	bool ready;
	char why[512];           /* why setup failed */
	char dir[TEST_DIR_MAX];  /* temporary directory of images and aliases */
	struct test_drive d[TEST_DRIVES];
	struct loopdev part;     /* host_setup_part(): a partitioned loop device */
	bool have_part;
	char part_why[256];
};
extern struct test_host host;

/* Write DIR/owner ("PID COMM"): a later host setup reaps DIR once that
 * process is gone. */
void test_write_owner(const char *dir);
/* Unchecked fixtures (run once per test case, in the runner). */
void host_setup(void);
void host_setup_part(void); /* host_setup() plus a partitioned loop device */
void host_teardown(void);
/* Add the host fixtures (and, with posix, the backend fixture) and a
 * timeout in seconds to tc. */
void tcase_host(TCase *tc, bool posix, bool part, double timeout);
/* suite_create() of name, or of posix_name ("name-posix") for the POSIX
 * backend (string literals: Check keeps the pointer) */
Suite *suite_host_create(const char *name, const char *posix_name, bool posix);
/* The backend the tests of this process expect. */
extern bool test_posix_backend;

/* ---------------------------------------------------------------- *
 * Other processes that hold a drive
 * ---------------------------------------------------------------- */
typedef int (*proc_fn)(void *arg);
struct proc {
	pid_t pid;
	int cmd;  /* parent -> child */
	int rep;  /* child -> parent */
};
/* Fork a child that runs take(arg) and reports its int result (stored in
 * *result); then it waits for proc_release() and runs release(arg) (NULL:
 * nothing) and exits 0.  If the parent goes away it releases and exits.
 * Returns 0 or a negative errno. */
int proc_start(struct proc *p, proc_fn take, proc_fn release, void *arg, int *result);
/* Ask the child to release after delay_ms and exit; returns at once. */
void proc_release(struct proc *p, int delay_ms);
/* Wait for the child: its exit code, or 128 + the signal that ended it. */
int proc_wait(struct proc *p);
/* SIGKILL and wait. */
void proc_kill(struct proc *p);

struct lock_req {
	const char *spec;
	enum ddlp_mode mode;
	unsigned flags;
	int timeout;
	struct ddlp_lock *lock;
};
int take_lock(void *lock_req);
/* ddlp_lock(spec, mode, timeout 0) from a new process: its result. */
int try_lock_elsewhere(const char *spec, enum ddlp_mode mode);
int release_lock(void *lock_req);

/* A foreign (non-DDLP) holder: open path with oflags, then optionally
 * flock(flock_op) and an fcntl lock (fcntl_cmd F_SETLK / F_OFD_SETLK with
 * fcntl_type); 0 means none. */
struct raw_req {
	const char *path;
	int oflags;
	int flock_op;
	int fcntl_cmd;
	short fcntl_type;
	int fd;
};
int take_raw(void *raw_req);
int release_raw(void *raw_req);

/* ---------------------------------------------------------------- *
 * Small helpers
 * ---------------------------------------------------------------- */
/* Lines of /proc/locks on the inode of st: of kind ("OFDLCK", "FLOCK",
 * "POSIX"; NULL any) and pid (0 any), waiters ("->") not counted. */
int proclocks_count(const struct stat *st, const char *kind, pid_t pid);
/* Whether process pid has an fd open on a block node of rdev. */
bool pid_has_dev_open(pid_t pid, dev_t rdev);
void msleep(unsigned ms);
int64_t now_ms(void);

/* Check on a lock's conflict after a refusal. */
#define ck_assert_conflict(node_path, err_)                                           \
	do {                                                                            \
		const struct ddlp_conflict *c_ = ddlp_last_conflict();                  \
		ck_assert_msg(c_ != NULL, "no conflict recorded");                      \
		ck_assert_str_eq(ddlp_conflict_get_node(c_), (node_path));              \
		ck_assert_int_eq(ddlp_conflict_get_error(c_), (err_));                  \
		ck_assert_ptr_nonnull(ddlp_conflict_get_step(c_));                      \
	} while (0)

#endif
