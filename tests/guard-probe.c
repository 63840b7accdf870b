/*
 * guard-probe: a program that knows nothing of DDLP, driven line by line,
 * for the tests of ddlp-guard(1) (tests/test-guard.sh on loop devices,
 * tests/vm/suite/guard.sh on real drives).  Run under ddlp-guard, it shows
 * what the preload does with opens, copies, closes, fork and exec.
 *
 * It prints "READY" when it starts (also after "exec"), then reads one
 * command per line on stdin and answers one line on stdout:
 * "OK [VALUE...]" or "ERR ENAME".
 *
 *   open PATH FLAGS        FLAGS: comma list of ro, wo, rw, excl, nonblock,
 *                          cloexec, creat (ro alone: "ro")  -> OK FD
 *   openat DIR NAME FLAGS  openat() relative to an O_PATH fd of DIR
 *   fopen PATH MODE        -> OK FD (the FILE's descriptor); fclose FD
 *   close FD | dup FD | dup2 A B | dup3 A B [cloexec] | dupfd FD MIN [cloexec]
 *   cloexec FD 0|1         F_SETFD
 *   getfl FD               -> OK FLAGS (hex, F_GETFL)
 *   lock FD r|w|u [ofd]    F_SETLK (or F_OFD_SETLK)
 *   flock FD sh|ex|un      (non-blocking)
 *   closefrom N | close_range A B
 *   fork SCRIPT            a child runs SCRIPT (commands separated by ';',
 *                          answers on stderr as "C ...", "C END" last) and
 *                          exits; -> OK PID
 *   wait PID               -> OK STATUS
 *   spawn-sh SCRIPT        posix_spawn() "sh -c SCRIPT" (the rest of the
 *                          line) -> OK PID
 *   until FILE             wait until FILE exists (60 s at most)
 *   touch FILE             create FILE
 *   exec                   execute this program again (descriptors stay
 *                          as they are; the new image says READY)
 *   fstat FD               -> OK b|c|f|o MAJ:MIN
 *   bench-open PATH N      open+close N times through libc (so through the
 *                          guard when it is loaded), and N times through
 *                          raw system calls, interleaved in rounds of 1000
 *                          -> OK NS_LIBC NS_RAW (per open+close, the
 *                          fastest round of each)
 *   exit [CODE]            exit() (destructors run)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 64

extern char **environ;

static FILE *files[MAX_FILES];
static FILE *out;
static const char *prefix = "";

static const char *ename(int e)
{
	static const struct {
		int e;
		const char *n;
	} t[] = {
		{ EPERM, "EPERM" },   { ENOENT, "ENOENT" }, { EBADF, "EBADF" },       { EAGAIN, "EAGAIN" },
		{ EACCES, "EACCES" }, { EBUSY, "EBUSY" },   { EEXIST, "EEXIST" },     { ENODEV, "ENODEV" },
		{ EINVAL, "EINVAL" }, { EMFILE, "EMFILE" }, { EROFS, "EROFS" },       { EDEADLK, "EDEADLK" },
		{ ENXIO, "ENXIO" },   { EIO, "EIO" },       { ENOMEDIUM, "ENOMEDIUM" },
	};
	static char buf[16];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].e == e)
			return t[i].n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static void answer(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void answer(int r, const char *fmt, ...)
{
	if (r < 0) {
		fprintf(out, "%sERR %s\n", prefix, ename(errno));
	} else {
		va_list ap;

		fprintf(out, "%sOK", prefix);
		if (fmt) {
			fputc(' ', out);
			va_start(ap, fmt);
			vfprintf(out, fmt, ap);
			va_end(ap);
		}
		fputc('\n', out);
	}
	fflush(out);
}

static int parse_flags(const char *s)
{
	int f = 0;
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", s);
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "ro"))
			f |= O_RDONLY;
		else if (!strcmp(w, "wo"))
			f |= O_WRONLY;
		else if (!strcmp(w, "rw"))
			f |= O_RDWR;
		else if (!strcmp(w, "excl"))
			f |= O_EXCL;
		else if (!strcmp(w, "nonblock"))
			f |= O_NONBLOCK;
		else if (!strcmp(w, "cloexec"))
			f |= O_CLOEXEC;
		else if (!strcmp(w, "creat"))
			f |= O_CREAT;
	}
	return f;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void run_script(char *script);

static void command(char *line)
{
	char *argv[32] = { 0 }, *save = NULL;
	int argc = 0, r;

	if (!strncmp(line, "spawn-sh ", 9)) {
		char *sargv[] = { "sh", "-c", line + 9, NULL };
		pid_t pid;

		line[strcspn(line, "\n")] = '\0';
		r = posix_spawnp(&pid, "sh", NULL, NULL, sargv, environ);
		errno = r;
		answer(r ? -1 : 0, "%ld", (long)pid);
		return;
	}
	for (char *w = strtok_r(line, " \t\n", &save); w && argc < 32; w = strtok_r(NULL, " \t\n", &save))
		argv[argc++] = w;
	if (argc == 0)
		return;
#define ARG(i) (argv[i] ? argv[i] : "")
#define NUM(i) atoi(ARG(i))
	if (!strcmp(argv[0], "open")) {
		r = open(ARG(1), parse_flags(ARG(2)), 0644);
		answer(r, "%d", r);
	} else if (!strcmp(argv[0], "openat")) {
		int d = open(ARG(1), O_PATH | O_DIRECTORY | O_CLOEXEC);

		r = d < 0 ? -1 : openat(d, ARG(2), parse_flags(ARG(3)), 0644);
		answer(r, "%d", r);
		if (d >= 0)
			close(d);
	} else if (!strcmp(argv[0], "fopen")) {
		FILE *f = fopen(ARG(1), ARG(2));

		r = f ? fileno(f) : -1;
		if (f && r < MAX_FILES)
			files[r] = f;
		answer(r, "%d", r);
	} else if (!strcmp(argv[0], "fclose")) {
		int fd = NUM(1);

		if (fd < 0 || fd >= MAX_FILES || !files[fd]) {
			errno = EBADF;
			r = -1;
		} else {
			r = fclose(files[fd]);
			files[fd] = NULL;
		}
		answer(r, NULL);
	} else if (!strcmp(argv[0], "close")) {
		answer(close(NUM(1)), NULL);
	} else if (!strcmp(argv[0], "dup")) {
		r = dup(NUM(1));
		answer(r, "%d", r);
	} else if (!strcmp(argv[0], "dup2")) {
		r = dup2(NUM(1), NUM(2));
		answer(r, "%d", r);
	} else if (!strcmp(argv[0], "dup3")) {
		r = dup3(NUM(1), NUM(2), argv[3] && !strcmp(argv[3], "cloexec") ? O_CLOEXEC : 0);
		answer(r, "%d", r);
	} else if (!strcmp(argv[0], "dupfd")) {
		r = fcntl(NUM(1), argv[3] ? F_DUPFD_CLOEXEC : F_DUPFD, NUM(2));
		answer(r, "%d", r);
	} else if (!strcmp(argv[0], "cloexec")) {
		answer(fcntl(NUM(1), F_SETFD, NUM(2) ? FD_CLOEXEC : 0), NULL);
	} else if (!strcmp(argv[0], "getfl")) {
		r = fcntl(NUM(1), F_GETFL);
		answer(r, "%x", (unsigned)r);
	} else if (!strcmp(argv[0], "lock")) {
		struct flock fl = { .l_whence = SEEK_SET };

		fl.l_type = ARG(2)[0] == 'w' ? F_WRLCK : ARG(2)[0] == 'r' ? F_RDLCK : F_UNLCK;
		answer(fcntl(NUM(1), argv[3] ? F_OFD_SETLK : F_SETLK, &fl), NULL);
	} else if (!strcmp(argv[0], "flock")) {
		int op = !strcmp(ARG(2), "ex") ? LOCK_EX : !strcmp(ARG(2), "sh") ? LOCK_SH : LOCK_UN;

		answer(flock(NUM(1), op | LOCK_NB), NULL);
	} else if (!strcmp(argv[0], "closefrom")) {
		closefrom(NUM(1));
		answer(0, NULL);
	} else if (!strcmp(argv[0], "close_range")) {
		answer(close_range((unsigned)NUM(1), (unsigned)NUM(2), 0), NULL);
	} else if (!strcmp(argv[0], "fork")) {
		char script[1024] = "";

		for (int i = 1; i < argc; i++) {
			strncat(script, argv[i], sizeof(script) - strlen(script) - 2);
			strcat(script, " ");
		}
		fflush(out);
		r = fork();
		if (r == 0) {
			out = stderr;
			prefix = "C ";
			run_script(script);
			fprintf(out, "C END\n");
			fflush(out);
			exit(0);
		}
		answer(r, "%d", r);
	} else if (!strcmp(argv[0], "wait")) {
		int st = 0;

		r = waitpid(NUM(1), &st, 0);
		answer(r, "%d", st);
	} else if (!strcmp(argv[0], "until")) {
		int i;

		for (i = 0; i < 6000 && access(ARG(1), F_OK) < 0; i++)
			usleep(10000);
		errno = ETIMEDOUT;
		answer(i < 6000 ? 0 : -1, NULL);
	} else if (!strcmp(argv[0], "touch")) {
		r = open(ARG(1), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (r >= 0)
			close(r);
		answer(r, NULL);
	} else if (!strcmp(argv[0], "exec")) {
		fflush(out);
		execl("/proc/self/exe", "guard-probe", (char *)NULL);
		answer(-1, NULL);
	} else if (!strcmp(argv[0], "fstat")) {
		struct stat st;

		r = fstat(NUM(1), &st);
		answer(r, "%c %u:%u", S_ISBLK(st.st_mode) ? 'b' : S_ISCHR(st.st_mode) ? 'c' : S_ISREG(st.st_mode) ? 'f' : 'o',
		       major(st.st_rdev), minor(st.st_rdev));
	} else if (!strcmp(argv[0], "bench-open")) {
		long n = atol(ARG(2));
		double best_libc = 1e30, best_raw = 1e30;

		r = 0;
		for (long done = 0; done < n && r >= 0; done += 1000) {
			double t0 = now(), t1;

			for (int i = 0; i < 1000 && r >= 0; i++) {
				r = open(ARG(1), O_RDONLY | O_CLOEXEC);
				if (r >= 0)
					close(r);
			}
			t1 = now();
			for (int i = 0; i < 1000 && r >= 0; i++) {
				r = (int)syscall(SYS_openat, AT_FDCWD, ARG(1), O_RDONLY | O_CLOEXEC);
				if (r >= 0)
					syscall(SYS_close, r);
			}
			if (t1 - t0 < best_libc)
				best_libc = t1 - t0;
			if (now() - t1 < best_raw)
				best_raw = now() - t1;
		}
		answer(r, "%.1f %.1f", best_libc * 1e6, best_raw * 1e6);
	} else if (!strcmp(argv[0], "exit")) {
		fflush(out);
		exit(NUM(1));
	} else {
		errno = EINVAL;
		answer(-1, NULL);
	}
}

static void run_script(char *script)
{
	char *save = NULL;

	for (char *c = strtok_r(script, ";", &save); c; c = strtok_r(NULL, ";", &save)) {
		char buf[512];

		snprintf(buf, sizeof(buf), "%s", c);
		command(buf);
	}
}

int main(void)
{
	char line[1024];

	out = stdout;
	fprintf(out, "READY\n");
	fflush(out);
	while (fgets(line, sizeof(line), stdin))
		command(line);
	return 0;
}
