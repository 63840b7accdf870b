/*
 * ddlp-bench's small parts: the clock, statistics (nearest-rank
 * percentiles), reading and writing small files (sysfs, procfs, tracefs),
 * and child processes (spawning a command, finding one in PATH, `udevadm
 * settle`, and whether a process sleeps in poll(2), read from
 * /proc/PID/syscall).  Nothing here measures anything by itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

double ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}


/* Nearest-rank percentiles; sorts v. */
struct stats stats_of(int64_t *v, size_t n)
{
	struct stats s = { n, 0, 0, 0, 0, 0 };

	if (n == 0)
		return s;
	qsort(v, n, sizeof(*v), cmp_i64);
	s.p50 = v[(n - 1) * 50 / 100];
	s.p90 = v[(n - 1) * 90 / 100];
	s.p99 = v[(n - 1) * 99 / 100];
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

ssize_t read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0)
		return -errno;
	len = read(fd, buf, size - 1);
	if (len < 0)
		len = -errno;
	close(fd);
	if (len < 0)
		return len;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	buf[len] = '\0';
	return len;
}

int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
	ssize_t len = (ssize_t)strlen(text), w;

	if (fd < 0)
		return -errno;
	w = write(fd, text, (size_t)len);
	if (w != len) {
		int e = w < 0 ? errno : EIO;

		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		fputs("ddlp-bench: out of memory\n", stderr);
		exit(2);
	}
	return d;
}

/* Is pid asleep in poll(2)?  1 yes, 0 no, -1 it is gone. */
int in_poll(pid_t pid)
{
	char p[64], buf[128];
	long nr;

	snprintf(p, sizeof(p), "/proc/%ld/syscall", (long)pid);
	if (read_file(p, buf, sizeof(buf)) < 0)
		return -1;
	if (!isdigit((unsigned char)buf[0]))
		return 0;
	nr = strtol(buf, NULL, 10);
	return nr == SYS_poll || nr == SYS_ppoll;
}

int wait_in_poll(pid_t pid, int timeout_ms)
{
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;

	while (now_ns() < end) {
		int r = in_poll(pid);

		if (r != 0)
			return r > 0 ? 0 : -ESRCH;
		/* the waiter is still resolving or trying: let it get there */
		sleep_us(500);
	}
	return -ETIMEDOUT;
}

pid_t spawn(char *const argv[], bool quiet)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (quiet) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		errno = r;
		return -1;
	}
	return pid;
}

void settle(void)
{
	char *argv[] = { "udevadm", "settle", "--timeout=10", NULL };
	pid_t pid = spawn(argv, true);

	if (pid > 0)
		waitpid(pid, NULL, 0);
}

bool in_path(const char *prog)
{
	char *path = getenv("PATH"), *copy, *dir, *save = NULL;
	bool found = false;

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	if (!path)
		return false;
	copy = xstrdup(path);
	for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/%s", dir, prog);
		found = access(p, X_OK) == 0;
	}
	free(copy);
	return found;
}
