/*
 * Host tests (root): drive identity on loop devices.  Every form of a spec
 * (the node, symlinks, a relative path, a symlink chain, a mknod alias, a
 * partition, /proc/self/fd of an O_PATH fd) resolves to one identity and one
 * node list; bad specs get their errno; resolution opens no device node
 * (checked under strace).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-common.h"

static void expect_id(const char *spec, const struct test_drive *td, bool alias)
{
	struct ddlp_drive *d = NULL;
	const struct ddlp_node *n;
	char id[64], sys[128];
	int r = ddlp_drive_resolve(spec, 0, &d);

	ck_assert_msg(r == 0, "%s: resolve gave %d", spec, r);
	snprintf(id, sizeof(id), "block:%s", td->loop.name);
	snprintf(sys, sizeof(sys), "/sys/devices/virtual/block/%s", td->loop.name);
	ck_assert_str_eq(ddlp_drive_get_id(d), id);
	ck_assert_str_eq(ddlp_drive_get_spec(d), spec);
	ck_assert_str_eq(ddlp_drive_get_syspath(d), sys);
	ck_assert_uint_eq(ddlp_drive_get_node_count(d), alias ? 2 : 1);

	n = ddlp_drive_get_node(d, 0);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(ddlp_node_get_path(n), td->loop.dev);
	ck_assert_int_eq(ddlp_node_get_kind(n), DDLP_NODE_BLOCK);
	ck_assert_int_eq(ddlp_node_get_excl(n), DDLP_EXCL_CLAIM);
	ck_assert(ddlp_node_get_devnum(n) == td->loop.rdev);
	ck_assert_uint_eq(ddlp_node_get_flags(n), alias ? 0 : DDLP_NODE_NAMED);
	if (alias) {
		char *real = realpath(td->alias, NULL);

		n = ddlp_drive_get_node(d, 1);
		ck_assert_ptr_nonnull(n);
		ck_assert_str_eq(ddlp_node_get_path(n), real);
		free(real);
		ck_assert_int_eq(ddlp_node_get_kind(n), DDLP_NODE_BLOCK);
		ck_assert(ddlp_node_get_devnum(n) == td->loop.rdev);
		ck_assert_uint_eq(ddlp_node_get_flags(n), DDLP_NODE_ALIAS | DDLP_NODE_NAMED);
	}
	ck_assert_ptr_null(ddlp_drive_get_node(d, alias ? 2 : 1));
	ddlp_drive_free(d);
}

START_TEST(test_every_form)
{
	for (int i = 0; i < TEST_DRIVES; i++) {
		const struct test_drive *td = &host.d[i];
		char procfd[64];
		int fd = open(td->loop.dev, O_PATH | O_CLOEXEC); /* no driver open */

		ck_assert_int_ge(fd, 0);
		snprintf(procfd, sizeof(procfd), "/proc/self/fd/%d", fd);
		expect_id(td->loop.dev, td, false);
		expect_id(td->link, td, false);
		expect_id(td->rlink, td, false);
		expect_id(td->chain, td, false);
		expect_id(td->relative, td, false);
		expect_id(procfd, td, false);
		expect_id(td->alias, td, true);
		close(fd);
	}
}
END_TEST

START_TEST(test_alias_of_alias_link)
{
	/* a symlink to the mknod alias: the alias inode is the named node */
	char link[PATH_MAX];

	snprintf(link, sizeof(link), "%s/to-alias0", host.dir);
	ck_assert_int_eq(symlink(host.d[0].alias, link), 0);
	expect_id(link, &host.d[0], true);
	unlink(link);
}
END_TEST

START_TEST(test_two_drives_differ)
{
	struct ddlp_drive *a, *b;

	ck_assert_int_eq(ddlp_drive_resolve(host.d[0].loop.dev, 0, &a), 0);
	ck_assert_int_eq(ddlp_drive_resolve(host.d[1].alias, 0, &b), 0);
	ck_assert_str_ne(ddlp_drive_get_id(a), ddlp_drive_get_id(b));
	ck_assert(ddlp_node_get_devnum(ddlp_drive_get_node(a, 0)) !=
	          ddlp_node_get_devnum(ddlp_drive_get_node(b, 0)));
	ddlp_drive_free(a);
	ddlp_drive_free(b);
}
END_TEST

START_TEST(test_same_order_every_form)
{
	/* the canonical nodes come first, the same list for every form */
	const struct test_drive *td = &host.d[1];
	const char *specs[] = { td->loop.dev, td->link, td->chain, td->relative, td->alias };
	struct ddlp_drive *ref;

	ck_assert_int_eq(ddlp_drive_resolve(td->loop.dev, 0, &ref), 0);
	for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
		struct ddlp_drive *d;
		size_t n = 0;

		ck_assert_int_eq(ddlp_drive_resolve(specs[s], 0, &d), 0);
		for (size_t i = 0; i < ddlp_drive_get_node_count(d); i++) {
			const struct ddlp_node *x = ddlp_drive_get_node(d, i);

			if (ddlp_node_get_flags(x) & DDLP_NODE_ALIAS) {
				ck_assert_uint_eq(i, ddlp_drive_get_node_count(d) - 1);
				continue;
			}
			ck_assert_str_eq(ddlp_node_get_path(x),
			                 ddlp_node_get_path(ddlp_drive_get_node(ref, n)));
			n++;
		}
		ck_assert_uint_eq(n, ddlp_drive_get_node_count(ref));
		ddlp_drive_free(d);
	}
	ddlp_drive_free(ref);
}
END_TEST

START_TEST(test_partition)
{
	struct ddlp_drive *d;
	char alias[PATH_MAX], id[64];
	const struct ddlp_node *n;

	if (!host.part.dev[0] || !host.have_part) {
		test_note_skip("identity/partition", host.part_why[0] ? host.part_why
		                                                       : "no partitioned loop device");
		return;
	}
	snprintf(id, sizeof(id), "block:%s", host.part.name);
	ck_assert_int_eq(ddlp_drive_resolve(host.part.part, 0, &d), 0);
	ck_assert_str_eq(ddlp_drive_get_id(d), id);
	ck_assert_uint_eq(ddlp_drive_get_node_count(d), 1);
	n = ddlp_drive_get_node(d, 0);
	ck_assert_str_eq(ddlp_node_get_path(n), host.part.dev);
	ck_assert(ddlp_node_get_devnum(n) == host.part.rdev);
	ck_assert_uint_eq(ddlp_node_get_flags(n), DDLP_NODE_NAMED);
	ddlp_drive_free(d);

	/* the whole disk itself, and a mknod copy of the partition */
	ck_assert_int_eq(ddlp_drive_resolve(host.part.dev, 0, &d), 0);
	ck_assert_str_eq(ddlp_drive_get_id(d), id);
	ddlp_drive_free(d);
	snprintf(alias, sizeof(alias), "%s/part-alias", host.dir);
	ck_assert_int_eq(loopdev_mknod(alias, S_IFBLK, host.part.part_rdev), 0);
	ck_assert_int_eq(ddlp_drive_resolve(alias, 0, &d), 0);
	ck_assert_str_eq(ddlp_drive_get_id(d), id);
	ck_assert_str_eq(ddlp_node_get_path(ddlp_drive_get_node(d, 0)), host.part.dev);
	ddlp_drive_free(d);
	unlink(alias);
}
END_TEST

static void expect_err(const char *spec, int err)
{
	struct ddlp_drive *d = (struct ddlp_drive *)0x1;
	int r = ddlp_drive_resolve(spec, 0, &d);

	ck_assert_msg(r == err, "%s: expected %d (%s), got %d (%s)", spec ? spec : "(null)", err,
	              strerror(-err), r, r < 0 ? strerror(-r) : "success");
	/* every failure clears *out, as ddlp_lock() does */
	ck_assert_msg(d == NULL, "%s: *out not cleared on failure", spec ? spec : "(null)");
}

START_TEST(test_errors)
{
	char path[PATH_MAX], other[PATH_MAX], *longspec;
	int fd, sock;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	/* missing things */
	snprintf(path, sizeof(path), "%s/missing", host.dir);
	expect_err(path, -ENOENT);
	snprintf(path, sizeof(path), "%s/dangling", host.dir);
	snprintf(other, sizeof(other), "%s/nowhere", host.dir);
	ck_assert_int_eq(symlink(other, path), 0);
	expect_err(path, -ENOENT);

	/* a symlink loop */
	snprintf(path, sizeof(path), "%s/loop-a", host.dir);
	snprintf(other, sizeof(other), "%s/loop-b", host.dir);
	ck_assert_int_eq(symlink(other, path), 0);
	ck_assert_int_eq(symlink(path, other), 0);
	expect_err(path, -ELOOP);

	/* not drives */
	expect_err("/dev/null", -ENODEV);
	expect_err(host.dir, -ENODEV);
	expect_err(host.d[0].loop.image, -ENODEV);
	snprintf(path, sizeof(path), "%s/fifo", host.dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	expect_err(path, -ENODEV);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", host.dir);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(sock, 0);
	ck_assert_int_eq(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	expect_err(sa.sun_path, -ENODEV);
	close(sock);

	/* addresses: malformed, and well-formed with no device (no SCSI here) */
	expect_err("0,0", -EINVAL);
	expect_err("0:0:0", -EINVAL);
	expect_err("1,2,3junk", -EINVAL);
	expect_err("-1,-1,-1", -EINVAL);
	expect_err("4294967296:0:0:0", -EINVAL);
	expect_err("99999999:0:0:0", -ENODEV);
	expect_err("0,0,0", -ENODEV);
	expect_err("0:0:0:0", -ENODEV);

	/* length, empty, NULL */
	longspec = malloc(4097);
	ck_assert_ptr_nonnull(longspec);
	memset(longspec, 'a', 4096);
	longspec[4096] = '\0';
	expect_err(longspec, -ENAMETOOLONG);
	longspec[0] = '/';
	expect_err(longspec, -ENAMETOOLONG);
	free(longspec);
	expect_err("", -EINVAL);

	/* bad arguments */
	{
		struct ddlp_drive *d = (struct ddlp_drive *)0x1;

		ck_assert_int_eq(ddlp_drive_resolve(host.d[0].loop.dev, 1, &d), -EINVAL);
		ck_assert_ptr_null(d);
		ck_assert_int_eq(ddlp_drive_resolve(host.d[0].loop.dev, 0, NULL), -EINVAL);
	}
	fd = count_open_fds();
	expect_err("/dev/null", -ENODEV);
	ck_assert_int_eq(count_open_fds(), fd);
	expect_err(NULL, -EINVAL);
}
END_TEST

/* ---------------------------------------------------------------- *
 * No device node is opened: the runner's --helper-resolve under strace
 * ---------------------------------------------------------------- */

static bool have_program(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path)
		path = "/usr/bin:/bin";
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, name);
		if (access(buf, X_OK) == 0)
			return true;
		p += n;
		if (*p == ':')
			p++;
	}
	return false;
}

/* Run argv with stdout to out_path (NULL: /dev/null); the exit code. */
static int run(char *const argv[], const char *out_path)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int nul = open("/dev/null", O_WRONLY);

		if (fd < 0 || nul < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(nul, 2);
		/* LeakSanitizer refuses to run under ptrace (strace): the traced
		 * helper of an ASan build would abort */
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Trace one resolution; fail on any open of a device node or of the spec. */
static void trace_resolve(const char *spec, const struct test_drive *td)
{
	char trace[PATH_MAX], out[PATH_MAX], line[4096], expect[64], exe[PATH_MAX];
	char *argv[] = { "strace", "-f", "-qq", "-e", "trace=open,openat,openat2,creat,open_tree",
		         "-o", trace, exe, "--helper-resolve", (char *)spec, NULL };
	int opens = 0, sysfs = 0, rc;
	FILE *f;

	snprintf(exe, sizeof(exe), "%s", test_self_exe());
	snprintf(trace, sizeof(trace), "%s/strace.out", host.dir);
	snprintf(out, sizeof(out), "%s/helper.out", host.dir);
	rc = run(argv, out);
	ck_assert_msg(rc == 0, "strace %s --helper-resolve %s: exit %d", exe, spec, rc);

	f = fopen(out, "re");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	snprintf(expect, sizeof(expect), "block:%s\n", td->loop.name);
	ck_assert_str_eq(line, expect);

	f = fopen(trace, "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "open") && !strstr(line, "creat"))
			continue;
		opens++;
		if (strstr(line, "\"/sys/"))
			sysfs++;
		ck_assert_msg(!strstr(line, "\"/dev/"), "resolving %s opened: %s", spec, line);
		ck_assert_msg(!strstr(line, host.dir), "resolving %s opened: %s", spec, line);
	}
	fclose(f);
	/* the trace did see the resolution's own reads */
	ck_assert_int_gt(opens, 0);
	ck_assert_int_gt(sysfs, 0);
}

START_TEST(test_no_device_open)
{
	const struct test_drive *td = &host.d[0];
	char *check[] = { "strace", "-qq", "-o", "/dev/null", "true", NULL };

	if (!have_program("strace")) {
		test_note_skip("identity/no_device_open", "strace is not installed");
		return;
	}
	if (run(check, NULL) != 0) {
		test_note_skip("identity/no_device_open", "strace cannot trace here (ptrace refused)");
		return;
	}
	if (!test_self_exe()[0]) {
		test_note_skip("identity/no_device_open", "cannot find the runner's executable");
		return;
	}
	trace_resolve(td->loop.dev, td);
	trace_resolve(td->link, td);
	trace_resolve(td->chain, td);
	trace_resolve(td->alias, td);
	trace_resolve(td->relative, td);
}
END_TEST

Suite *suite_identity(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("loop");

	tcase_host(tc, false, true, 60);
	tcase_add_test(tc, test_every_form);
	tcase_add_test(tc, test_alias_of_alias_link);
	tcase_add_test(tc, test_two_drives_differ);
	tcase_add_test(tc, test_same_order_every_form);
	tcase_add_test(tc, test_partition);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_no_device_open);
	suite_add_tcase(s, tc);
	return s;
}
