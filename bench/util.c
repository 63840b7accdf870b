/*
 * ddlp-bench's small parts: the clock, statistics (nearest-rank
 * percentiles), reading and writing small files (sysfs, procfs, tracefs),
 * and child processes (spawning a command, finding one in PATH, `udevadm
 * settle`, and whether a process sleeps in poll(2), read from
 * /proc/PID/syscall; spawning with more environment, stdin/stdout pipes
 * and a process group of its own; reaping with a deadline; whether
 * /proc/locks shows a lock on a node).  Nothing here measures anything by
 * itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
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

int64_t time_run(char *const argv[], const char *label)
{
	int64_t t0 = now_ns(), t;
	int status;
	pid_t pid = spawn(argv, true);

	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		fail("%s: %s", argv[0], strerror(errno));
		return -1;
	}
	t = now_ns() - t0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fail("%s ended with status 0x%x", label, status);
		return -1;
	}
	return t;
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

/* Start argv[0] (PATH searched unless it has a slash) with env[] ("NAME=
 * VALUE", NULL-terminated, may be NULL) added to the environment, replacing
 * the same names; stdin from in_fd or /dev/null (-1); stdout to out_fd
 * (-1: /dev/null when quiet, else this process's); stderr to /dev/null when
 * quiet; in a process group of its own when pgroup, so that killing the
 * group ends the command and whatever it forked. */
pid_t spawn_ex(char *const argv[], char *const env[], int in_fd, int out_fd, bool quiet,
               bool pgroup)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	size_t n_env = 0, n_add = 0, k = 0;
	char **envp;
	pid_t pid;
	int r;

	while (environ[n_env])
		n_env++;
	while (env && env[n_add])
		n_add++;
	envp = calloc(n_env + n_add + 1, sizeof(*envp));
	if (!envp)
		return -1;
	for (size_t i = 0; i < n_env; i++) {
		bool replaced = false;

		for (size_t j = 0; j < n_add && !replaced; j++) {
			size_t len = strcspn(env[j], "=");

			replaced = strncmp(environ[i], env[j], len) == 0 && environ[i][len] == '=';
		}
		if (!replaced)
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < n_add; j++)
		envp[k++] = env[j];
	envp[k] = NULL;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	if (in_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	else if (quiet)
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (pgroup) {
		posix_spawnattr_setpgroup(&attr, 0);
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	}
	r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	if (r != 0) {
		errno = r;
		return -1;
	}
	return pid;
}

/* Reap pid, waiting at most timeout_ms (a pidfd; without one, blocking);
 * past the deadline it is killed (SIGKILL) and reaped, and -ETIMEDOUT is
 * returned.  status and ru (both may be NULL) as wait4() gives them. */
int wait_child(pid_t pid, int timeout_ms, int *status, struct rusage *ru)
{
	int st = 0, pfd = -1, r = 0;
	struct rusage dummy;

#ifdef SYS_pidfd_open
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif

	if (pfd >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
		int n;

		do {
			int64_t left = (end - now_ns()) / 1000000;

			n = poll(&p, 1, left > 0 ? (int)left : 0);
		} while (n < 0 && errno == EINTR);
		close(pfd);
		if (n == 0) {
			kill(pid, SIGKILL);
			r = -ETIMEDOUT;
		}
	}
	while (wait4(pid, &st, 0, ru ? ru : &dummy) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (status)
		*status = st;
	return r;
}

/* Does /proc/locks show a lock of this kind ("FLOCK", "OFDLCK", "POSIX")
 * on the inode of path (its device node, not the device it stands for)? */
bool node_locked(const char *path, const char *kind)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	struct stat st;
	bool found = false;

	if (!f)
		return false;
	if (stat(path, &st) < 0) {
		fclose(f);
		return false;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		char k[16];
		unsigned maj, min;
		unsigned long ino;

		/* "1: FLOCK  ADVISORY  WRITE 123 00:05:456 0 EOF"; a blocked
		 * request reads "1: -> FLOCK ..." and is not a holder */
		if (sscanf(line, "%*d: %15s %*s %*s %*d %x:%x:%lu", k, &maj, &min, &ino) == 4)
			found = strcmp(k, kind) == 0 && makedev(maj, min) == st.st_dev &&
			        ino == (unsigned long)st.st_ino;
	}
	fclose(f);
	return found;
}
