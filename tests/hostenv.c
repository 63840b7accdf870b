/*
 * The host suites' shared fixtures and helpers: two loop drives with a
 * symlink, a relative symlink, a symlink chain, a relative path and a mknod
 * alias each; the backend fixture of the "-posix" suites; child processes
 * that hold a drive; /proc/locks and /proc/PID/fd inspection.
 *
 * The loop devices are made in an unchecked fixture (in the runner, once
 * per test case) so that a test that crashes cannot leak them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test-common.h"

struct test_host host;
bool test_posix_backend;

/* How long a child may take to report its first result. */
#define PROC_REPLY_MS 30000

void msleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- */

static int make_drive(struct test_drive *td, int i)
{
	char tag[24], c1[TEST_PATH_MAX], c2[TEST_PATH_MAX], cwd[PATH_MAX], target[TEST_PATH_MAX];
	int r;

	snprintf(tag, sizeof(tag), "drive%d", i);
	r = loopdev_create(&td->loop, host.dir, tag, false, host.why, sizeof(host.why));
	if (r < 0)
		return r;
	if (stat(td->loop.dev, &td->dev_st) < 0)
		goto fail;

	snprintf(td->link, sizeof(td->link), "%s/link%d", host.dir, i);
	if (symlink(td->loop.dev, td->link) < 0)
		goto fail;
	/* host.dir is /tmp/NAME: two levels below / */
	snprintf(td->rlink, sizeof(td->rlink), "%s/rlink%d", host.dir, i);
	snprintf(target, sizeof(target), "../..%s", td->loop.dev);
	if (symlink(target, td->rlink) < 0)
		goto fail;
	snprintf(c1, sizeof(c1), "%s/chain%d-1", host.dir, i);
	snprintf(c2, sizeof(c2), "%s/chain%d-2", host.dir, i);
	snprintf(td->chain, sizeof(td->chain), "%s/chain%d-3", host.dir, i);
	snprintf(target, sizeof(target), "chain%d-1", i);
	if (symlink(td->loop.dev, c1) < 0 || symlink(target, c2) < 0 || symlink(c2, td->chain) < 0)
		goto fail;

	snprintf(td->alias, sizeof(td->alias), "%s/alias%d", host.dir, i);
	r = loopdev_mknod(td->alias, S_IFBLK, td->loop.rdev);
	if (r < 0) {
		snprintf(host.why, sizeof(host.why), "mknod %s: %s", td->alias, strerror(-r));
		return r;
	}
	if (stat(td->alias, &td->alias_st) < 0)
		goto fail;

	if (!getcwd(cwd, sizeof(cwd)))
		goto fail;
	{
		size_t len = 0, depth = 0;

		for (const char *p = cwd; *p; p++)
			if (*p == '/' && p[1])
				depth++;
		if (strcmp(cwd, "/") != 0)
			depth++;
		for (size_t k = 0; k < depth && len + 4 < sizeof(td->relative); k++)
			len += (size_t)snprintf(td->relative + len, sizeof(td->relative) - len, "../");
		snprintf(td->relative + len, sizeof(td->relative) - len, "%s", td->loop.dev + 1);
	}
	return 0;
fail:
	r = -errno;
	snprintf(host.why, sizeof(host.why), "setting up drive %d: %s", i, strerror(errno));
	return r;
}

/* ---------------------------------------------------------------- *
 * A runner that was killed (a timeout, ^C) never ran its teardown: its
 * loop devices stay attached.  Each host directory names its owner (pid
 * and command); directories of dead owners are reaped at the next setup:
 * their loop devices detached, their files removed.
 * ---------------------------------------------------------------- */

static bool owner_alive(const char *dir)
{
	char path[PATH_MAX], comm[64], want[64] = "";
	struct stat st;
	long pid = 0;
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/owner", dir) >= sizeof(path))
		return true;
	f = fopen(path, "re");
	if (!f) {
		/* no owner file (being made, or an old runner): leave it for
		 * an hour */
		return stat(dir, &st) == 0 && st.st_mtime > time(NULL) - 3600;
	}
	if (fscanf(f, "%ld %63s", &pid, want) < 1)
		pid = 0;
	fclose(f);
	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return false; /* no such process */
	comm[0] = '\0';
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return !want[0] || strcmp(comm, want) == 0;
}

static void detach_loops_of(const char *dir)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	size_t len = strlen(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX], back[PATH_MAX];
		struct loopdev l;
		FILE *f;

		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		back[0] = '\0';
		if (!fgets(back, sizeof(back), f))
			back[0] = '\0';
		fclose(f);
		if (strncmp(back, dir, len) != 0 || back[len] != '/')
			continue;
		memset(&l, 0, sizeof(l));
		if ((size_t)snprintf(l.dev, sizeof(l.dev), "/dev/%s", de->d_name) >= sizeof(l.dev))
			continue;
		l.number = atoi(de->d_name + 4);
		loopdev_destroy(&l);
	}
	closedir(d);
}

static void remove_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d))) {
			char sub[PATH_MAX];
			struct stat st;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
				remove_dir(sub);
			else
				unlink(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static void reap_stale(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char dir[PATH_MAX];

		if (strncmp(de->d_name, "ddlp-test.", 10) != 0)
			continue;
		snprintf(dir, sizeof(dir), "/tmp/%s", de->d_name);
		if (owner_alive(dir))
			continue;
		detach_loops_of(dir);
		remove_dir(dir);
	}
	closedir(d);
}

void test_write_owner(const char *dir)
{
	char path[PATH_MAX], comm[64] = "";
	FILE *f = fopen("/proc/self/comm", "re");

	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		comm[strcspn(comm, "\n")] = '\0';
	}
	snprintf(path, sizeof(path), "%s/owner", dir);
	f = fopen(path, "we");
	if (f) {
		fprintf(f, "%ld %s\n", (long)getpid(), comm);
		fclose(f);
	}
}

static void host_setup_common(bool part)
{
	memset(&host, 0, sizeof(host));
	for (int i = 0; i < TEST_DRIVES; i++)
		host.d[i].loop.number = -1;
	host.part.number = -1;
	reap_stale();
	snprintf(host.dir, sizeof(host.dir), "/tmp/ddlp-test.XXXXXX");
	if (!mkdtemp(host.dir)) {
		snprintf(host.why, sizeof(host.why), "mkdtemp: %s", strerror(errno));
		host.dir[0] = '\0';
		return;
	}
	test_write_owner(host.dir);
	for (int i = 0; i < TEST_DRIVES; i++)
		if (make_drive(&host.d[i], i) < 0)
			return;
	if (part) {
		int r = loopdev_create(&host.part, host.dir, "part", true, host.part_why,
		                       sizeof(host.part_why));

		if (r < 0)
			return; /* host.why stays empty: only the partition is missing */
		host.have_part = host.part.part[0] != '\0';
		if (!host.have_part)
			snprintf(host.part_why, sizeof(host.part_why),
			         "the partition of %s did not appear", host.part.dev);
	}
	host.ready = true;
}

void host_setup(void)
{
	host_setup_common(false);
}

void host_setup_part(void)
{
	host_setup_common(true);
}

void host_teardown(void)
{
	for (int i = 0; i < TEST_DRIVES; i++)
		loopdev_destroy(&host.d[i].loop);
	loopdev_destroy(&host.part);
	if (!host.dir[0])
		return;
	remove_dir(host.dir);
	host.dir[0] = '\0';
	host.ready = false;
}

static void host_require(void)
{
	if (!host.ready)
		ck_abort_msg("host setup failed: %s", host.why);
}

static void backend_setup(void)
{
	host_require();
	if (test_posix_backend)
		setenv("DDLP_LOCK_BACKEND", "posix", 1);
	else
		unsetenv("DDLP_LOCK_BACKEND");
	ddlp_registry_reset_backend();
	ck_assert_int_eq(ddlp_registry_backend(),
	                 test_posix_backend ? DDLP_BACKEND_POSIX : DDLP_BACKEND_OFD);
}

static void backend_teardown(void)
{
	unsetenv("DDLP_LOCK_BACKEND");
	ddlp_registry_reset_backend();
}

static void posix_on(void)
{
	test_posix_backend = true;
	backend_setup();
}

static void posix_off(void)
{
	test_posix_backend = false;
	backend_setup();
}

void tcase_host(TCase *tc, bool posix, bool part, double timeout)
{
	tcase_add_unchecked_fixture(tc, part ? host_setup_part : host_setup, host_teardown);
	tcase_add_checked_fixture(tc, posix ? posix_on : posix_off, backend_teardown);
	tcase_set_timeout(tc, timeout);
}

Suite *suite_host_create(const char *name, const char *posix_name, bool posix)
{
	/* Check keeps the pointer: the names are string literals */
	return suite_create(posix ? posix_name : name);
}

/* ---------------------------------------------------------------- */

static ssize_t full_read(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : (ssize_t)got;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int proc_start(struct proc *p, proc_fn take, proc_fn release, void *arg, int *result)
{
	int cmd[2], rep[2];

	p->pid = -1;
	if (pipe2(cmd, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(rep, O_CLOEXEC) < 0) {
		close(cmd[0]);
		close(cmd[1]);
		return -errno;
	}
	p->pid = fork();
	if (p->pid < 0) {
		int e = errno;

		close(cmd[0]);
		close(cmd[1]);
		close(rep[0]);
		close(rep[1]);
		return -e;
	}
	if (p->pid == 0) {
		int res, delay = 0;
		ssize_t n;

		close(cmd[1]);
		close(rep[0]);
		res = take(arg);
		if (write(rep[1], &res, sizeof(res)) != sizeof(res))
			_exit(2);
		n = full_read(cmd[0], &delay, sizeof(delay));
		if (n == (ssize_t)sizeof(delay) && delay > 0)
			msleep((unsigned)delay);
		if (release && res == 0)
			release(arg);
		_exit(0);
	}
	close(cmd[0]);
	close(rep[1]);
	p->cmd = cmd[1];
	p->rep = rep[0];
	/* a child stuck in the library (a deadlock) fails the test here, with
	 * a message, instead of at Check's timeout */
	{
		struct pollfd pfd = { .fd = p->rep, .events = POLLIN };
		int n;

		do
			n = poll(&pfd, 1, PROC_REPLY_MS);
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			proc_kill(p);
			return -ETIMEDOUT;
		}
	}
	if (full_read(p->rep, result, sizeof(*result)) != (ssize_t)sizeof(*result)) {
		proc_kill(p);
		return -EPIPE;
	}
	return 0;
}

void proc_release(struct proc *p, int delay_ms)
{
	if (p->cmd >= 0) {
		if (write(p->cmd, &delay_ms, sizeof(delay_ms)) != sizeof(delay_ms)) {
			/* the child is gone: proc_wait() tells */
		}
		close(p->cmd);
		p->cmd = -1;
	}
}

int proc_wait(struct proc *p)
{
	int status;

	if (p->pid <= 0)
		return -1;
	if (p->cmd >= 0) {
		close(p->cmd);
		p->cmd = -1;
	}
	while (waitpid(p->pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	p->pid = -1;
	if (p->rep >= 0) {
		close(p->rep);
		p->rep = -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void proc_kill(struct proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		proc_wait(p);
	}
}

int take_lock(void *a)
{
	struct lock_req *q = a;

	return ddlp_lock(q->spec, q->mode, q->timeout, q->flags, &q->lock);
}

int try_lock_elsewhere(const char *spec, enum ddlp_mode mode)
{
	struct lock_req q = { spec, mode, 0, 0, NULL };
	struct proc p;
	int res = -1;

	ck_assert_int_eq(proc_start(&p, take_lock, release_lock, &q, &res), 0);
	proc_release(&p, 0);
	ck_assert_int_eq(proc_wait(&p), 0);
	return res;
}

int release_lock(void *a)
{
	struct lock_req *q = a;
	int r = ddlp_unlock(q->lock);

	q->lock = NULL;
	return r;
}

int take_raw(void *a)
{
	struct raw_req *q = a;

	q->fd = open(q->path, q->oflags | O_CLOEXEC);
	if (q->fd < 0)
		return -errno;
	if (q->flock_op && flock(q->fd, q->flock_op) < 0)
		return -errno;
	if (q->fcntl_cmd) {
		struct flock fl = { .l_type = q->fcntl_type, .l_whence = SEEK_SET };

		if (fcntl(q->fd, q->fcntl_cmd, &fl) < 0)
			return -errno;
	}
	return 0;
}

int release_raw(void *a)
{
	struct raw_req *q = a;

	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	return 0;
}

/* ---------------------------------------------------------------- */

int proclocks_count(const struct stat *st, const char *kind, pid_t pid)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[512];
	int n = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char k[32], mand[32], rw[32], dev[64];
		long lpid;
		unsigned maj, min;
		unsigned long long ino;
		const char *p = strchr(line, ':');

		if (!p || strstr(line, "->"))
			continue;
		if (sscanf(p + 1, "%31s %31s %31s %ld %63s", k, mand, rw, &lpid, dev) != 5)
			continue;
		if (sscanf(dev, "%x:%x:%llu", &maj, &min, &ino) != 3)
			continue;
		if (makedev(maj, min) != st->st_dev || ino != (unsigned long long)st->st_ino)
			continue;
		if (kind && strcmp(kind, k) != 0)
			continue;
		if (pid && lpid != pid)
			continue;
		n++;
	}
	fclose(f);
	return n;
}

bool pid_has_dev_open(pid_t pid, dev_t rdev)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 && S_ISBLK(st.st_mode) &&
		    st.st_rdev == rdev)
			found = true;
	}
	closedir(d);
	return found;
}
