/*
 * Hostile specs, table-driven: each goes through ddlp_drive_resolve() and
 * ddlp_lock() (both modes) and must get its specific negative errno and an
 * error message through the log hook; no crash, the fd count the same
 * before and after, no conflict recorded for a spec that never reached a
 * node.  The "any" test case needs no privilege; the "root" one adds loop
 * devices, mknod nodes and an unprivileged caller (setuid in a child).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "test-common.h"

#define MAX_ROWS 96

struct row {
	char name[64];
	char *spec;      /* owned; NULL is the NULL spec */
	int expect;      /* negative errno, or 0 for a spec that must work */
};

static struct row rows[MAX_ROWS];
static size_t n_rows;
static char dir[TEST_DIR_MAX];
static int extra_fds[8];
static size_t n_extra;

static void add(const char *name, const char *spec, int expect)
{
	ck_assert_uint_lt(n_rows, MAX_ROWS);
	snprintf(rows[n_rows].name, sizeof(rows[n_rows].name), "%s", name);
	rows[n_rows].spec = spec ? strdup(spec) : NULL;
	ck_assert(!spec || rows[n_rows].spec);
	rows[n_rows].expect = expect;
	n_rows++;
}

static void addf(const char *name, int expect, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void addf(const char *name, int expect, const char *fmt, ...)
{
	char buf[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	add(name, buf, expect);
}

static void add_proc_fd(const char *name, int fd, int expect)
{
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(n_extra, sizeof(extra_fds) / sizeof(extra_fds[0]));
	extra_fds[n_extra++] = fd;
	addf(name, expect, "/proc/self/fd/%d", fd);
}

/* ---- the log hook: the last error message ---- */
static char last_msg[8192];
static int n_msgs;

static void hook(void *userdata, int priority, const char *file, int line, const char *fn,
                 const char *format, va_list args)
{
	(void)userdata;
	(void)file;
	(void)line;
	(void)fn;
	if (priority > 3)
		return;
	vsnprintf(last_msg, sizeof(last_msg), format, args);
	n_msgs++;
}

static void rows_free(void)
{
	for (size_t i = 0; i < n_rows; i++)
		free(rows[i].spec);
	n_rows = 0;
	for (size_t i = 0; i < n_extra; i++)
		close(extra_fds[i]);
	n_extra = 0;
}

/* Rows that need no privilege and no device. */
static void add_common_rows(void)
{
	char path[PATH_MAX], other[PATH_MAX], *big;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int sock, fd, pipefd[2];
	size_t len;

	add("NULL", NULL, -EINVAL);
	add("empty", "", -EINVAL);
	big = malloc(4097);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', 4096);
	big[4096] = '\0';
	add("4 KiB name", big, -ENAMETOOLONG);
	big[0] = '/';
	add("4 KiB path", big, -ENAMETOOLONG);
	/* 4095 bytes is still a path: "/././..././" is the root directory */
	big[0] = '/';
	for (len = 1; len + 2 <= 4095; len += 2)
		memcpy(big + len, "./", 2);
	big[len] = '\0';
	add("4095-byte path", big, -ENODEV);
	memset(big, 'b', 256);
	big[256] = '\0';
	addf("256-byte name", -ENAMETOOLONG, "%s/%s", dir, big);
	/* 300 components */
	len = 0;
	for (int i = 0; i < 300; i++)
		len += (size_t)snprintf(big + len, 4097 - len, "/.");
	snprintf(big + len, 4097 - len, "/dev/null");
	add("300 components to /dev/null", big, -ENODEV);
	len = 0;
	for (int i = 0; i < 300; i++)
		len += (size_t)snprintf(big + len, 4097 - len, "x/");
	add("300 missing components", big, -ENOENT);
	free(big);

	add("embedded newline", "/dev/null\n", -ENOENT);
	add("NUL-truncated", "/dev/null\0junk", -ENODEV);
	add("leading space", " /dev/null", -ENOENT);
	add("trailing space", "/dev/null ", -ENOENT);
	add("format string", "%s%n%x%p", -ENOENT);
	add("../../", "../../", -ENODEV);
	add("/", "/", -ENODEV);
	add("//", "//", -ENODEV);
	add(".", ".", -ENODEV);
	add("...", "...", -ENOENT);
	add("-", "-", -ENOENT);
	add(":", ":", -ENOENT);
	add(",", ",", -ENOENT);
	add("/dev/../dev/null", "/dev/../dev/null", -ENODEV);
	add("/dev/null/", "/dev/null/", -ENOENT);
	add("/dev/null/x", "/dev/null/x", -ENOENT);
	add("non-ASCII path", "/dev/\xc3\xa9\xff\xfe", -ENOENT);
	add("non-ASCII address", "\xff,1,2", -ENOENT);
	add("/dev/null", "/dev/null", -ENODEV);
	add("/dev/zero", "/dev/zero", -ENODEV);
	add("/dev/full", "/dev/full", -ENODEV);
	add("/dev/random", "/dev/random", -ENODEV);
	add("/dev/urandom", "/dev/urandom", -ENODEV);
	if (access("/dev/tty", F_OK) == 0)
		add("/dev/tty", "/dev/tty", -ENODEV);
	if (access("/dev/loop-control", F_OK) == 0)
		add("/dev/loop-control (misc)", "/dev/loop-control", -ENODEV);
	if (access("/dev/sda", F_OK) != 0)
		add("/dev/sda (missing)", "/dev/sda", -ENOENT);
	add("/sys/block (directory)", "/sys/block", -ENODEV);
	add("/proc/locks (proc file)", "/proc/locks", -ENODEV);
	add("/proc/self/fd/99999", "/proc/self/fd/99999", -ENOENT);

	/* addresses */
	add("-1,-1,-1", "-1,-1,-1", -EINVAL);
	add("+1,2,3", "+1,2,3", -EINVAL);
	add("0,0", "0,0", -EINVAL);
	add("0:0:0", "0:0:0", -EINVAL);
	add("0:0:0:0:0", "0:0:0:0:0", -EINVAL);
	add("1,2,3junk", "1,2,3junk", -EINVAL);
	add("1:2:3:4 newline", "1:2:3:4\n", -EINVAL);
	add("4294967296:0:0:0", "4294967296:0:0:0", -EINVAL);
	add("huge LUN", "0:0:0:18446744073709551616", -EINVAL);
	add("1,,3", "1,,3", -EINVAL);
	add("99999999:0:0:0 (no device)", "99999999:0:0:0", -ENODEV);
	add("0,0,0 (no device)", "0,0,0", -ENODEV);
	add("0:0:0:0 (no device)", "0:0:0:0", -ENODEV);
	add("4294967295:4294967295:4294967295:4294967295", "4294967295:4294967295:4294967295:4294967295",
	    -ENODEV);

	/* file system objects */
	addf("regular file", -ENODEV, "%s/file", dir);
	addf("directory", -ENODEV, "%s/subdir", dir);
	addf("directory symlink", -ENODEV, "%s/dirlink", dir);
	addf("FIFO", -ENODEV, "%s/fifo", dir);
	addf("socket", -ENODEV, "%s/sock", dir);
	addf("missing", -ENOENT, "%s/missing", dir);
	addf("dangling symlink", -ENOENT, "%s/dangling", dir);
	addf("symlink loop", -ELOOP, "%s/loop-a", dir);
	addf("symlink to itself", -ELOOP, "%s/self", dir);
	addf("41 symlinks", -ELOOP, "%s/chain40", dir);
	addf("symlink to /dev/null", -ENODEV, "%s/tonull", dir);
	addf("trailing slash on a file", -ENOENT, "%s/file/", dir);

	/* create them */
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/subdir", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(other, sizeof(other), "%s/dirlink", dir);
	ck_assert_int_eq(symlink(path, other), 0);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(sock, 0);
	ck_assert_int_eq(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(path, sizeof(path), "%s/dangling", dir);
	ck_assert_int_eq(symlink("/nonexistent/ddlp", path), 0);
	snprintf(path, sizeof(path), "%s/loop-a", dir);
	snprintf(other, sizeof(other), "%s/loop-b", dir);
	ck_assert_int_eq(symlink(other, path), 0);
	ck_assert_int_eq(symlink(path, other), 0);
	snprintf(path, sizeof(path), "%s/self", dir);
	ck_assert_int_eq(symlink("self", path), 0);
	snprintf(path, sizeof(path), "%s/tonull", dir);
	ck_assert_int_eq(symlink("/dev/null", path), 0);
	for (int i = 0; i <= 40; i++) {
		char target[64];

		snprintf(path, sizeof(path), "%s/chain%d", dir, i);
		snprintf(target, sizeof(target), i == 0 ? "/dev/null" : "chain%d", i - 1);
		ck_assert_int_eq(symlink(target, path), 0);
	}
	addf("40 symlinks to /dev/null", -ENODEV, "%s/chain39", dir);

	/* /proc/self/fd/N of various open files */
	snprintf(path, sizeof(path), "%s/file", dir);
	add_proc_fd("/proc/self/fd of a regular file", open(path, O_RDONLY | O_CLOEXEC), -ENODEV);
	add_proc_fd("/proc/self/fd of /dev/null", open("/dev/null", O_RDONLY | O_CLOEXEC), -ENODEV);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	add_proc_fd("/proc/self/fd of a pipe", pipefd[0], -ENODEV);
	add_proc_fd("/proc/self/fd of a pipe's write end", pipefd[1], -ENODEV);
	add_proc_fd("/proc/self/fd of a socket", sock, -ENODEV);
	add_proc_fd("/proc/self/fd of a directory", open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
	            -ENODEV);
}

static void check_rows(void)
{
	int fds = count_open_fds();

	ddlp_set_log_fn(hook, NULL);
	ddlp_set_log_priority(3);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n_rows; i++) {
			const struct row *w = &rows[i];
			struct ddlp_drive *d = (struct ddlp_drive *)0x1;
			struct ddlp_lock *l = (struct ddlp_lock *)0x1;
			int r;

			n_msgs = 0;
			r = ddlp_drive_resolve(w->spec, 0, &d);
			ck_assert_msg(r == w->expect, "%s: resolve: expected %d (%s), got %d (%s)", w->name,
			              w->expect, strerror(-w->expect), r, strerror(-r));
			if (r == 0) {
				ddlp_drive_free(d);
			} else {
				ck_assert_msg(d == NULL, "%s: resolve left *out set", w->name);
				if (w->spec) {
					ck_assert_msg(n_msgs > 0, "%s: no error message", w->name);
					if (*w->spec && strlen(w->spec) < 256)
						ck_assert_msg(strstr(last_msg, w->spec) != NULL,
						              "%s: the message does not name the spec: %s",
						              w->name, last_msg);
				}
			}
			for (int mode = DDLP_SHARED; mode <= DDLP_EXCLUSIVE; mode++) {
				r = ddlp_lock(w->spec, mode, 0, 0, &l);
				ck_assert_msg(r == w->expect, "%s: lock: expected %d (%s), got %d (%s)",
				              w->name, w->expect, strerror(-w->expect), r, strerror(-r));
				if (r == 0) {
					ck_assert_int_eq(ddlp_unlock(l), 0);
				} else {
					ck_assert_ptr_null(l);
					ck_assert_msg(ddlp_last_conflict() == NULL,
					              "%s: a conflict for a spec that reached no node", w->name);
				}
			}
			ck_assert_msg(count_open_fds() == fds, "%s: fd count %d, was %d", w->name,
			              count_open_fds(), fds);
		}
	}
	ddlp_set_log_fn(NULL, NULL);
}

static void dir_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ddlp-hostile.XXXXXX");
	if (!mkdtemp(dir))
		dir[0] = '\0';
}

static void dir_teardown(void)
{
	char cmd[PATH_MAX + 16];

	rows_free();
	if (dir[0] && strncmp(dir, "/tmp/ddlp-hostile.", 18) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
}

START_TEST(test_hostile_any)
{
	ck_assert_msg(dir[0], "mkdtemp failed");
	add_common_rows();
	ck_assert_int_ge(n_rows, 40);
	check_rows();
	rows_free();
}
END_TEST

/* ---------------------------------------------------------------- */

static dev_t unused_block_devnum(void)
{
	char p[64];

	/* a loop minor far beyond any attached device, with no sysfs entry */
	for (unsigned min = 1048000; min < 1048500; min++) {
		snprintf(p, sizeof(p), "/sys/dev/block/7:%u", min);
		if (access(p, F_OK) != 0)
			return makedev(7, min);
	}
	return 0;
}

START_TEST(test_hostile_root)
{
	const struct test_drive *td = &host.d[0];
	char path[PATH_MAX];
	dev_t none = unused_block_devnum();
	int opath;

	ck_assert_msg(dir[0], "mkdtemp failed");
	/* the drive itself, in every odd form that must still work */
	add("loop device", td->loop.dev, 0);
	add("mknod alias", td->alias, 0);
	opath = open(td->loop.dev, O_PATH | O_CLOEXEC);
	add_proc_fd("/proc/self/fd of an O_PATH fd of the loop", opath, 0);
	addf("/dev/../dev/loopN", 0, "/dev/../dev/%s", td->loop.name);
	if (host.have_part)
		add("partition", host.part.part, 0);
	else
		test_note_skip("hostile/partition", host.part_why[0] ? host.part_why : "no partition");
	/* and hostile ones around it */
	addf("trailing slash on the device", -ENOENT, "%s/", td->loop.dev);
	addf("a file below the device", -ENOENT, "%s/x", td->loop.dev);
	ck_assert_int_ne(none, 0);
	addf("block node of no device", -ENODEV, "%s/nodev", dir);
	snprintf(path, sizeof(path), "%s/nodev", dir);
	ck_assert_int_eq(loopdev_mknod(path, S_IFBLK, none), 0);
	addf("char node of /dev/null's number", -ENODEV, "%s/null-copy", dir);
	snprintf(path, sizeof(path), "%s/null-copy", dir);
	ck_assert_int_eq(loopdev_mknod(path, S_IFCHR, makedev(1, 3)), 0);
	addf("char node of a loop's number", -ENODEV, "%s/chr-loop", dir);
	snprintf(path, sizeof(path), "%s/chr-loop", dir);
	ck_assert_int_eq(loopdev_mknod(path, S_IFCHR, td->loop.rdev), 0);
	check_rows();
	rows_free();
}
END_TEST

/* An unprivileged caller: no permission to look, no permission to open. */
struct unpriv {
	char hidden[PATH_MAX];
	const char *dev;
	int resolve_hidden;
	int resolve_dev;
	int lock_dev;
	char conflict_node[256];
	int conflict_error;
	int fds_same;
};

static int unpriv_run(void *arg)
{
	struct unpriv *u = arg;
	struct ddlp_drive *d;
	struct ddlp_lock *l;
	int fds;

	if (setgid(65534) < 0 || setuid(65534) < 0)
		return -1;
	fds = count_open_fds();
	u->resolve_hidden = ddlp_drive_resolve(u->hidden, 0, &d);
	u->resolve_dev = ddlp_drive_resolve(u->dev, 0, &d);
	if (u->resolve_dev == 0)
		ddlp_drive_free(d);
	u->lock_dev = ddlp_lock(u->dev, DDLP_EXCLUSIVE, 0, 0, &l);
	if (ddlp_last_conflict()) {
		snprintf(u->conflict_node, sizeof(u->conflict_node), "%s",
		         ddlp_conflict_get_node(ddlp_last_conflict()));
		u->conflict_error = ddlp_conflict_get_error(ddlp_last_conflict());
	}
	u->fds_same = count_open_fds() == fds;
	/* report everything through the exit path: encode in the result */
	return (u->resolve_hidden == -EACCES) | (u->resolve_dev == 0) << 1 |
	       (u->lock_dev == -EACCES) << 2 | (strcmp(u->conflict_node, u->dev) == 0) << 3 |
	       (u->conflict_error == -EACCES) << 4 | u->fds_same << 5;
}

START_TEST(test_unprivileged)
{
	static struct unpriv u;
	char priv[TEST_PATH_MAX];
	struct stat st;
	struct proc p;
	int res = -1;

	ck_assert_msg(dir[0], "mkdtemp failed");
	ck_assert_int_eq(stat(host.d[0].loop.dev, &st), 0);
	if (st.st_mode & 0006) {
		test_note_skip("hostile/unprivileged", "the loop node is world-accessible");
		return;
	}
	/* dir is 0700 root: nobody may look inside */
	snprintf(priv, sizeof(priv), "%s/private", dir);
	ck_assert_int_eq(mkdir(priv, 0755), 0);
	ck_assert_int_eq(chmod(dir, 0711), 0);
	ck_assert_int_eq(chmod(priv, 0700), 0);
	memset(&u, 0, sizeof(u));
	snprintf(u.hidden, sizeof(u.hidden), "%s/node", priv);
	ck_assert_int_eq(loopdev_mknod(u.hidden, S_IFBLK, host.d[0].loop.rdev), 0);
	u.dev = host.d[0].loop.dev;
	ck_assert_int_eq(proc_start(&p, unpriv_run, NULL, &u, &res), 0);
	proc_release(&p, 0);
	ck_assert_int_eq(proc_wait(&p), 0);
	ck_assert_msg(res != -1, "setuid failed");
	ck_assert_msg(res & 1, "resolving a node in a 0700 directory did not give -EACCES");
	ck_assert_msg(res & 2, "resolving /dev/loopN failed as nobody");
	ck_assert_msg(res & 4, "locking a 0600 node as nobody did not give -EACCES");
	ck_assert_msg(res & 8, "the conflict does not name the node");
	ck_assert_msg(res & 16, "the conflict's error is not -EACCES");
	ck_assert_msg(res & 32, "fds left open");
}
END_TEST

Suite *suite_hostile(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("any");

	tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hostile_any);
	suite_add_tcase(s, tc);

	if (!test_is_root()) {
		test_note_skip("hostile/root", "needs root (loop devices)");
		return s;
	}
	tc = tcase_create("root");
	tcase_host(tc, false, true, 60);
	tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, test_hostile_root);
	tcase_add_test(tc, test_unprivileged);
	suite_add_tcase(s, tc);
	return s;
}
