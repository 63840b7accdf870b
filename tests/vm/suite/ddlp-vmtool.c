/*
 * ddlp-vmtool: the driver program of the VM suite (the scripts in tests/vm/suite).
 * It runs inside the test VM against real sr, sg and bsg nodes and prints
 * one stable line format per result, which the scripts parse.
 *
 *   resolve [--mark] SPEC...
 *       One line per spec:
 *         OK spec=S id=ID name=NAME|- canon=P,KIND,MAJ:MIN;... nodes=N;...
 *       where canon lists the canonical nodes (no alias inodes, no flags)
 *       and nodes every node as PATH,KIND,MAJ:MIN,EXCL,FLAGS (EXCL: none,
 *       claim, open; FLAGS: "-" or named, alias, named+alias), in order.
 *         ERR spec=S err=ENAME
 *       Exit 0 when every spec resolved, 2 otherwise.  --mark: before
 *       spec number I, faccessat("/ddlp-vmtool-mark/I") (fails): a marker
 *       in an strace of the run.
 *
 *   lock [--no-reprobe] [--hold SEC] MODE TIMEOUT_MS SPEC [SPEC2 MODE2]...
 *        [-- CMD ARGS...]
 *       MODE: excl or shared.  Several drives go to ddlp_lock_many().
 *         LOCKED fd=PATH ids=ID[,ID2]
 *       then holds the lock until stdin reaches EOF (or SEC seconds with
 *       --hold, or while CMD runs: "CHILD STATUS"), unlocks and prints
 *         UNLOCKED RC
 *       On failure:
 *         BUSY|TIMEDOUT node=N step=S err=ENAME pid=P holder=NAME spec=S left=K
 *       (spaces in values become '_': step=exclusive_open)
 *         ERROR err=ENAME left=K
 *       (left = descriptors of this process still open on a /dev node
 *       besides 0, 1 and 2: must be 0).  Exit 0 locked, 1 busy, 2 timed
 *       out, 3 other error, 4 unlock failed.
 *
 *   try [--no-reprobe] MODE TIMEOUT_MS SPEC...
 *       One lock attempt per spec, each released at once: one line per
 *       spec (LOCKED..., or the failure line as above).  Exit 0 when all
 *       were taken.
 *
 *   open PATH FLAGS [--hold]
 *       A foreign, non-DDLP opener: FLAGS is a comma list of rw, ro, wo,
 *       excl, nonblock.  Prints "OPEN" or "ERROR err=ENAME"; with --hold
 *       keeps the node open until stdin reaches EOF.  Exit 0 or 1.
 *
 *   proclocks PATH...
 *       The /proc/locks entries on PATH's inode, one per line:
 *       "KIND TYPE PID" (waiters left out); nothing when there are none.
 *       With several paths each line starts with the PATH.
 *
 *   openers PATH
 *       Processes with PATH's device (same type and st_rdev) open, one
 *       "PID COMM" per line.
 *
 *   stress [--rounds N] [--procs P] [--threads T] [--reprobe]
 *          SPECS_A SPECS_B
 *       SPECS_x: aliases of one drive separated by ';'.  P processes of T
 *       threads lock the two drives for N rounds in all, through random
 *       aliases, in random modes, one drive or both at once with
 *       ddlp_lock_many() in random order; a checker in shared memory
 *       counts the holders of each drive.  Prints
 *         STRESS rounds=R expected=E waited=W overlaps=O errors=X badfd=B
 *       and exits 0 when R == E and O == X == B == 0.  If no round ends
 *       for 120 s it prints "STALL ..." and exits 5 (a deadlock).
 *
 *   soak [--seconds S] [--interval I] [--warmup W] [--threads T]
 *        [--stall N] SPECS_A SPECS_B
 *       One long-lived process of T threads (default 2) doing the rounds
 *       of stress for S seconds (default 60).  It prints
 *         START seconds=S interval=I warmup=W threads=T
 *       first (so that stdout's buffer exists before any sample: stdio
 *       allocates it at the first write).  Every I seconds (default 10)
 *       the threads stop between two rounds, so that nothing is locked,
 *       and it prints
 *         SAMPLE t=SEC locks=N fds=F rss_kb=R heap=H
 *       (F: its open descriptors, R: VmRSS, H: malloc's bytes in use,
 *       mallinfo2), then at the end
 *         SOAK seconds=S locks=N waited=W many=M overlaps=O errors=X
 *         badfd=B samples=K fds_first=F fds_last=F fds_max=F
 *         rss_first=R rss_last=R heap_first=H heap_last=H
 *       (one line; first: the first sample after W seconds of warm-up,
 *       default S/6 up to 30).  Exit 0 when O == X == B == 0; 5 with a
 *       "STALL" line when no round ended for N seconds (default 120).
 *
 *   With VMTOOL_CHECKER=FILE in the environment, stress and soak keep
 *   the holder counts of the overlap checker in FILE (created, shared
 *   mapping), so that runs of both that go on at the same time check each
 *   other too; without it, each run has its own.
 *
 *   version
 *       The library's version.
 *
 *   unplug SPEC ADDRESS
 *       Hot unplug of a locked drive: lock SPEC exclusively, delete the
 *       SCSI device ADDRESS (H:C:T:L) through sysfs, unlock, lock again.
 *       Prints LOCKED, DELETED, GONE, UNLOCK, FDS, RELOCK, RELOCK_ADDR
 *       lines (see the code); exit 0 when it got that far.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ddlp.h"
#include "../../stress-round.h"

static const struct {
	int e;
	const char *name;
} errnames[] = {
	{ EPERM, "EPERM" },         { ENOENT, "ENOENT" },   { ESRCH, "ESRCH" },
	{ EINTR, "EINTR" },         { EIO, "EIO" },         { ENXIO, "ENXIO" },
	{ EBADF, "EBADF" },         { EAGAIN, "EAGAIN" },   { ENOMEM, "ENOMEM" },
	{ EACCES, "EACCES" },       { EBUSY, "EBUSY" },     { EEXIST, "EEXIST" },
	{ ENODEV, "ENODEV" },       { ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" },
	{ EINVAL, "EINVAL" },       { EMFILE, "EMFILE" },   { EROFS, "EROFS" },
	{ ENAMETOOLONG, "ENAMETOOLONG" }, { ELOOP, "ELOOP" },
	{ ETIMEDOUT, "ETIMEDOUT" }, { ESTALE, "ESTALE" },   { ENOMEDIUM, "ENOMEDIUM" },
	{ EOPNOTSUPP, "EOPNOTSUPP" }, { ENOTTY, "ENOTTY" },
};

static const char *errname(int e)
{
	static __thread char buf[16];

	if (e < 0)
		e = -e;
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].e == e)
			return errnames[i].name;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static void usage(void)
{
	fputs("usage: ddlp-vmtool resolve [--mark] SPEC...\n"
	      "       ddlp-vmtool lock [--no-reprobe] [--hold SEC] MODE TIMEOUT_MS SPEC [SPEC MODE]... [-- CMD...]\n"
	      "       ddlp-vmtool try [--no-reprobe] MODE TIMEOUT_MS SPEC...\n"
	      "       ddlp-vmtool open PATH FLAGS [--hold]\n"
	      "       ddlp-vmtool proclocks PATH...\n"
	      "       ddlp-vmtool openers PATH\n"
	      "       ddlp-vmtool stress [--rounds N] [--procs P] [--threads T] [--reprobe] SPECS_A SPECS_B\n"
	      "       ddlp-vmtool soak [--seconds S] [--interval I] [--warmup W] [--threads T] [--stall N] SPECS_A SPECS_B\n"
	      "       ddlp-vmtool unplug SPEC H:C:T:L\n"
	      "       ddlp-vmtool version\n",
	      stderr);
	exit(64);
}

/* ------------------------------------------------------------------ */
/* resolve                                                            */

static const char *excl_name(enum ddlp_excl e)
{
	switch (e) {
	case DDLP_EXCL_CLAIM:
		return "claim";
	case DDLP_EXCL_OPEN:
		return "open";
	default:
		return "none";
	}
}

static void print_drive(const char *spec, const struct ddlp_drive *d)
{
	const char *pn = ddlp_drive_get_persistent_name(d);
	size_t n = ddlp_drive_get_node_count(d);
	int first = 1;

	printf("OK spec=%s id=%s name=%s canon=", spec, ddlp_drive_get_id(d), pn ? pn : "-");
	for (size_t i = 0; i < n; i++) {
		const struct ddlp_node *nd = ddlp_drive_get_node(d, i);
		dev_t dv = ddlp_node_get_devnum(nd);

		if (ddlp_node_get_flags(nd) & DDLP_NODE_ALIAS)
			continue;
		printf("%s%s,%s,%u:%u", first ? "" : ";", ddlp_node_get_path(nd),
		       ddlp_node_kind_name(ddlp_node_get_kind(nd)), major(dv), minor(dv));
		first = 0;
	}
	printf(" nodes=");
	for (size_t i = 0; i < n; i++) {
		const struct ddlp_node *nd = ddlp_drive_get_node(d, i);
		dev_t dv = ddlp_node_get_devnum(nd);
		unsigned fl = ddlp_node_get_flags(nd);
		const char *fs = "-";

		if ((fl & DDLP_NODE_NAMED) && (fl & DDLP_NODE_ALIAS))
			fs = "named+alias";
		else if (fl & DDLP_NODE_NAMED)
			fs = "named";
		else if (fl & DDLP_NODE_ALIAS)
			fs = "alias";
		printf("%s%s,%s,%u:%u,%s,%s", i ? ";" : "", ddlp_node_get_path(nd),
		       ddlp_node_kind_name(ddlp_node_get_kind(nd)), major(dv), minor(dv),
		       excl_name(ddlp_node_get_excl(nd)), fs);
	}
	printf("\n");
}

static int cmd_resolve(int argc, char **argv)
{
	int rc = 0;

	int mark = 0;

	if (argc > 0 && !strcmp(argv[0], "--mark")) {
		mark = 1;
		argc--;
		argv++;
	}
	if (argc < 1)
		usage();
	for (int i = 0; i < argc; i++) {
		struct ddlp_drive *d = NULL;
		int r;

		if (mark) {
			/* a marker for strace: which spec the next calls serve */
			char m[PATH_MAX];
			int ignored;

			snprintf(m, sizeof(m), "/ddlp-vmtool-mark/%d", i);
			/* it fails (ENOENT): only the call is wanted; the result
			 * is stored because a cast to void does not silence
			 * -Wunused-result (glibc's fortified declarations) */
			ignored = faccessat(AT_FDCWD, m, F_OK, 0);
			(void)ignored;
		}
		r = ddlp_drive_resolve(argv[i], 0, &d);

		if (r < 0) {
			printf("ERR spec=%s err=%s\n", argv[i], errname(r));
			rc = 2;
			continue;
		}
		print_drive(argv[i], d);
		ddlp_drive_free(d);
	}
	fflush(stdout);
	return rc;
}

/* ------------------------------------------------------------------ */
/* descriptors                                                        */

/* Descriptors of this process open on something under /dev, fds 0-2
 * left out. */
static int count_dev_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		char p[64], t[PATH_MAX];
		ssize_t l;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		fd = atoi(e->d_name);
		if (fd <= 2 || fd == dirfd(dir))
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		l = readlink(p, t, sizeof(t) - 1);
		if (l <= 0)
			continue;
		t[l] = 0;
		if (strncmp(t, "/dev/", 5) == 0)
			n++;
	}
	closedir(dir);
	return n;
}

static int count_all_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
			n++;
	closedir(dir);
	return n - 1; /* the directory's own */
}

static void fd_path(int fd, char *buf, size_t size)
{
	char p[64];
	ssize_t l;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	l = readlink(p, buf, size - 1);
	if (l < 0)
		snprintf(buf, size, "?");
	else
		buf[l] = 0;
}

/* ------------------------------------------------------------------ */
/* lock                                                               */

static int parse_mode(const char *s, enum ddlp_mode *m)
{
	if (!strcmp(s, "excl") || !strcmp(s, "exclusive") || !strcmp(s, "x"))
		*m = DDLP_EXCLUSIVE;
	else if (!strcmp(s, "shared") || !strcmp(s, "s"))
		*m = DDLP_SHARED;
	else
		return -1;
	return 0;
}

/* A value for a "name=value" field: no spaces (they become '_'). */
static const char *word(const char *s, char *buf, size_t size)
{
	size_t i;

	if (!s || !*s)
		return "-";
	for (i = 0; s[i] && i + 1 < size; i++)
		buf[i] = s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ? '_' : s[i];
	buf[i] = 0;
	return buf;
}

static void print_failure(int r)
{
	const struct ddlp_conflict *c = ddlp_last_conflict();
	int left = count_dev_fds();

	if ((r == -EBUSY || r == -ETIMEDOUT) && c) {
		char b1[256], b2[64], b3[64], b4[256];

		printf("%s node=%s step=%s err=%s pid=%ld holder=%s spec=%s left=%d\n",
		       r == -EBUSY ? "BUSY" : "TIMEDOUT",
		       word(ddlp_conflict_get_node(c), b1, sizeof(b1)),
		       word(ddlp_conflict_get_step(c), b2, sizeof(b2)),
		       errname(ddlp_conflict_get_error(c)), (long)ddlp_conflict_get_holder_pid(c),
		       word(ddlp_conflict_get_holder_name(c), b3, sizeof(b3)),
		       word(ddlp_conflict_get_spec(c), b4, sizeof(b4)), left);
	} else if (r == -EBUSY || r == -ETIMEDOUT) {
		printf("%s node=? step=? err=? pid=0 holder=- spec=? left=%d\n",
		       r == -EBUSY ? "BUSY" : "TIMEDOUT", left);
	} else {
		printf("ERROR err=%s left=%d\n", errname(r), left);
	}
	fflush(stdout);
}

static int cmd_lock(int argc, char **argv)
{
	struct ddlp_request req[64];
	size_t n = 0;
	unsigned flags = 0;
	int hold = -1, timeout, r, i = 0;
	char **child = NULL;
	struct ddlp_lock *lock = NULL;
	char path[PATH_MAX];

	while (i < argc && !strncmp(argv[i], "--", 2) && strcmp(argv[i], "--")) {
		if (!strcmp(argv[i], "--no-reprobe"))
			flags |= DDLP_LOCK_NO_REPROBE;
		else if (!strcmp(argv[i], "--hold") && i + 1 < argc)
			hold = atoi(argv[++i]);
		else
			usage();
		i++;
	}
	if (argc - i < 3)
		usage();
	if (parse_mode(argv[i], &req[0].mode) < 0)
		usage();
	timeout = atoi(argv[i + 1]);
	req[0].spec = argv[i + 2];
	n = 1;
	i += 3;
	while (i < argc && strcmp(argv[i], "--")) {
		if (i + 1 >= argc || n >= 64 || parse_mode(argv[i + 1], &req[n].mode) < 0)
			usage();
		req[n].spec = argv[i];
		n++;
		i += 2;
	}
	if (i < argc) { /* "--" */
		child = argv + i + 1;
		if (!*child)
			usage();
	}

	r = n == 1 ? ddlp_lock(req[0].spec, req[0].mode, timeout, flags, &lock)
	           : ddlp_lock_many(req, n, timeout, flags, &lock);
	if (r < 0) {
		print_failure(r);
		return r == -EBUSY ? 1 : r == -ETIMEDOUT ? 2 : 3;
	}
	fd_path(ddlp_lock_fd(lock), path, sizeof(path));
	printf("LOCKED fd=%s ids=", path);
	for (size_t d = 0; d < ddlp_lock_get_drive_count(lock); d++)
		printf("%s%s", d ? "," : "", ddlp_drive_get_id(ddlp_lock_get_drive(lock, d)));
	printf("\n");
	fflush(stdout);

	if (child) {
		pid_t pid = fork();
		int st = 0;

		if (pid == 0) {
			execvp(child[0], child);
			fprintf(stderr, "ddlp-vmtool: %s: %s\n", child[0], strerror(errno));
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &st, 0) < 0)
			printf("CHILD -1\n");
		else
			printf("CHILD %d\n",
			       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		fflush(stdout);
	} else if (hold >= 0) {
		sleep((unsigned)hold);
	} else {
		char buf[256];

		while (read(0, buf, sizeof(buf)) > 0)
			;
	}
	r = ddlp_unlock(lock);
	printf("UNLOCKED %d%s%s\n", r, r ? " " : "", r ? errname(r) : "");
	fflush(stdout);
	return r ? 4 : 0;
}

/* try [--no-reprobe] MODE TIMEOUT_MS SPEC...: one lock attempt per spec,
 * each released at once; one line per spec, as lock prints it. */
static int cmd_try(int argc, char **argv)
{
	enum ddlp_mode mode;
	unsigned flags = 0;
	int timeout, rc = 0;

	if (argc > 0 && !strcmp(argv[0], "--no-reprobe")) {
		flags |= DDLP_LOCK_NO_REPROBE;
		argc--;
		argv++;
	}
	if (argc < 3 || parse_mode(argv[0], &mode) < 0)
		usage();
	timeout = atoi(argv[1]);
	for (int i = 2; i < argc; i++) {
		struct ddlp_lock *lock = NULL;
		char path[PATH_MAX];
		int r = ddlp_lock(argv[i], mode, timeout, flags, &lock);

		if (r < 0) {
			print_failure(r);
			rc = 1;
			continue;
		}
		fd_path(ddlp_lock_fd(lock), path, sizeof(path));
		printf("LOCKED fd=%s ids=%s\n", path, ddlp_drive_get_id(ddlp_lock_get_drive(lock, 0)));
		r = ddlp_unlock(lock);
		if (r < 0)
			printf("UNLOCKED %d %s\n", r, errname(r));
	}
	fflush(stdout);
	return rc;
}

/* ------------------------------------------------------------------ */
/* open                                                               */

static int cmd_open(int argc, char **argv)
{
	int fl = 0, acc = O_RDONLY, fd;
	char *s, *tok, *save = NULL;

	if (argc < 2)
		usage();
	s = strdup(argv[1]);
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "rw"))
			acc = O_RDWR;
		else if (!strcmp(tok, "ro"))
			acc = O_RDONLY;
		else if (!strcmp(tok, "wo"))
			acc = O_WRONLY;
		else if (!strcmp(tok, "excl"))
			fl |= O_EXCL;
		else if (!strcmp(tok, "nonblock"))
			fl |= O_NONBLOCK;
		else
			usage();
	}
	free(s);
	fd = open(argv[0], acc | fl | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		printf("ERROR err=%s\n", errname(errno));
		fflush(stdout);
		return 1;
	}
	printf("OPEN\n");
	fflush(stdout);
	if (argc > 2 && !strcmp(argv[2], "--hold")) {
		char buf[256];

		while (read(0, buf, sizeof(buf)) > 0)
			;
	}
	close(fd);
	return 0;
}

/* ------------------------------------------------------------------ */
/* proclocks, openers                                                 */

static int cmd_proclocks(int argc, char **argv)
{
	struct {
		char want[64];
	} *w;
	char line[512];
	FILE *f;

	if (argc < 1)
		usage();
	w = calloc((size_t)argc, sizeof(*w));
	if (!w)
		return 1;
	for (int i = 0; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			printf("ERROR err=%s\n", errname(errno));
			free(w);
			return 1;
		}
		snprintf(w[i].want, sizeof(w[i].want), "%02x:%02x:%llu", major(st.st_dev),
		         minor(st.st_dev), (unsigned long long)st.st_ino);
	}
	f = fopen("/proc/locks", "re");
	if (!f) {
		printf("ERROR err=%s\n", errname(errno));
		free(w);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *t[8], *save = NULL, *p;
		int n = 0;

		for (p = strtok_r(line, " \t\n", &save); p && n < 8; p = strtok_r(NULL, " \t\n", &save))
			t[n++] = p;
		/* "1: FLOCK ADVISORY WRITE 123 00:05:456 0 EOF"; waiters: "1: -> FLOCK ..." */
		if (n < 6 || !strcmp(t[1], "->"))
			continue;
		for (int i = 0; i < argc; i++) {
			if (strcmp(t[5], w[i].want) != 0)
				continue;
			if (argc > 1)
				printf("%s ", argv[i]);
			printf("%s %s %s\n", t[1], t[3], t[4]);
		}
	}
	fclose(f);
	free(w);
	return 0;
}

static int cmd_openers(int argc, char **argv)
{
	struct stat want;
	DIR *proc;
	struct dirent *pe;

	if (argc != 1)
		usage();
	if (stat(argv[0], &want) < 0) {
		printf("ERROR err=%s\n", errname(errno));
		return 1;
	}
	proc = opendir("/proc");
	if (!proc)
		return 1;
	while ((pe = readdir(proc))) {
		char p[PATH_MAX], comm[64] = "?";
		DIR *fds;
		struct dirent *fe;
		int found = 0;
		FILE *f;

		if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/fd", pe->d_name);
		fds = opendir(p);
		if (!fds)
			continue;
		while (!found && (fe = readdir(fds))) {
			struct stat st;

			if (fe->d_name[0] < '0' || fe->d_name[0] > '9')
				continue;
			snprintf(p, sizeof(p), "/proc/%s/fd/%s", pe->d_name, fe->d_name);
			if (stat(p, &st) == 0 && (st.st_mode & S_IFMT) == (want.st_mode & S_IFMT) &&
			    (S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode)) && st.st_rdev == want.st_rdev)
				found = 1;
		}
		closedir(fds);
		if (!found)
			continue;
		snprintf(p, sizeof(p), "/proc/%s/comm", pe->d_name);
		f = fopen(p, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = 0;
			fclose(f);
		}
		printf("%s %s\n", pe->d_name, comm);
	}
	closedir(proc);
	return 0;
}

/* ------------------------------------------------------------------ */
/* stress                                                             */

#define MAX_FORMS 16

struct stress_state {
	char first_error_where[300];
	int overlaps;
	int errors;
	int badfd;
	int first_error;
	char first_error_spec[128];
	long rounds;
	long waited;
	long many;
};

static struct stress_state *sst;

/* The holders of each drive that the overlap checker counts: in a file
 * named by VMTOOL_CHECKER when several runs share it, else private. */
struct checker {
	struct holder_count holders[2];
	int overlaps;
};

static struct checker *chk;

static int checker_map(void)
{
	const char *file = getenv("VMTOOL_CHECKER");
	int fd;

	if (!file || !*file) {
		chk = mmap(NULL, sizeof(*chk), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		           -1, 0);
		return chk == MAP_FAILED ? -1 : 0;
	}
	fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	/* (extending with zeros: harmless when another run did it first) */
	if (fd < 0 || ftruncate(fd, sizeof(*chk)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	chk = mmap(NULL, sizeof(*chk), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return chk == MAP_FAILED ? -1 : 0;
}

static void overlap(void)
{
	__atomic_fetch_add(&sst->overlaps, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&chk->overlaps, 1, __ATOMIC_SEQ_CST);
}

static char *forms[2][MAX_FORMS];
static int n_forms[2];
static dev_t drive_devs[2][8];
static int n_drive_devs[2];
static long rounds_per_thread;
static unsigned stress_flags = DDLP_LOCK_NO_REPROBE;

static void enter(int d, enum ddlp_mode mode)
{
	if (holders_enter(&chk->holders[d], mode))
		overlap();
}

static void note_error(int r, const char *spec)
{
	if (__atomic_fetch_add(&sst->errors, 1, __ATOMIC_SEQ_CST) == 0) {
		const struct ddlp_conflict *c = ddlp_last_conflict();

		sst->first_error = r;
		snprintf(sst->first_error_spec, sizeof(sst->first_error_spec), "%s", spec);
		if (c)
			snprintf(sst->first_error_where, sizeof(sst->first_error_where),
			         "%s:%s:%s", ddlp_conflict_get_node(c),
			         ddlp_conflict_get_step(c) ? ddlp_conflict_get_step(c) : "?",
			         errname(ddlp_conflict_get_error(c)));
		else
			snprintf(sst->first_error_where, sizeof(sst->first_error_where), "-");
	}
}

/* The lock's fd must be on one of the drive's devices. */
static void check_fd(const struct ddlp_lock *l, size_t i, int d)
{
	struct stat st;
	int fd = ddlp_lock_fd_at(l, i);

	if (fd < 0 || fstat(fd, &st) < 0) {
		__atomic_fetch_add(&sst->badfd, 1, __ATOMIC_SEQ_CST);
		return;
	}
	for (int k = 0; k < n_drive_devs[d]; k++)
		if (st.st_rdev == drive_devs[d][k])
			return;
	__atomic_fetch_add(&sst->badfd, 1, __ATOMIC_SEQ_CST);
}

/* One round: lock one drive or both through random aliases in random
 * modes, check, hold a moment, unlock. */
static void stress_round(unsigned *seedp)
{
	unsigned seed = *seedp;

	do {
		struct ddlp_request req[2];
		int drive[2], n;
		struct ddlp_lock *l = NULL;
		int r;

		n = stress_pick(&seed, drive, req);
		for (int k = 0; k < n; k++)
			req[k].spec = forms[drive[k]][rand_r(&seed) % (unsigned)n_forms[drive[k]]];
		/* try once, then wait without limit: a deadlock shows as a stall */
		r = stress_lock(req, n, -1, stress_flags, &sst->waited, &l);
		if (r < 0) {
			note_error(r, req[0].spec);
			continue; /* out of the round, which does not count */
		}
		if (n == 2)
			__atomic_fetch_add(&sst->many, 1, __ATOMIC_RELAXED);
		for (int k = 0; k < n; k++) {
			enter(drive[k], req[k].mode);
			check_fd(l, (size_t)k, drive[k]);
		}
		if (rand_r(&seed) % 4 == 0)
			usleep(rand_r(&seed) % 2000);
		else
			sched_yield();
		for (int k = 0; k < n; k++)
			holders_leave(&chk->holders[drive[k]], req[k].mode);
		r = ddlp_unlock(l);
		if (r < 0)
			note_error(r, "unlock");
		__atomic_fetch_add(&sst->rounds, 1, __ATOMIC_SEQ_CST);
	} while (0);
	*seedp = seed;
}

static void *stress_thread(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	for (long i = 0; i < rounds_per_thread; i++)
		stress_round(&seed);
	return NULL;
}

static void stress_process(int p, int threads)
{
	pthread_t t[64];

	for (int i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, stress_thread,
		                   (void *)(uintptr_t)((unsigned)getpid() * 131u + (unsigned)i * 7u +
		                                       (unsigned)p)))
			_exit(3);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	_exit(0);
}

static int split_forms(int d, char *list)
{
	char *save = NULL;

	for (char *t = strtok_r(list, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
		if (n_forms[d] >= MAX_FORMS)
			return -1;
		forms[d][n_forms[d]++] = t;
	}
	return n_forms[d] > 0 ? 0 : -1;
}

/* The drives' aliases and device numbers, the shared state and the
 * checker; -1 (after a message) on failure. */
static int stress_setup(char **specs)
{
	for (int d = 0; d < 2; d++) {
		struct ddlp_drive *drv;

		if (split_forms(d, specs[d]) < 0)
			usage();
		if (ddlp_drive_resolve(forms[d][0], 0, &drv) < 0) {
			printf("ERROR cannot resolve %s\n", forms[d][0]);
			return -1;
		}
		for (size_t k = 0; k < ddlp_drive_get_node_count(drv) && k < 8; k++)
			drive_devs[d][n_drive_devs[d]++] =
				ddlp_node_get_devnum(ddlp_drive_get_node(drv, k));
		ddlp_drive_free(drv);
	}
	sst = mmap(NULL, sizeof(*sst), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sst == MAP_FAILED || checker_map() < 0) {
		printf("ERROR cannot map the shared state: %s\n", strerror(errno));
		return -1;
	}
	memset(sst, 0, sizeof(*sst));
	return 0;
}

static int cmd_stress(int argc, char **argv)
{
	long rounds = 2000;
	int procs = 4, threads = 2, i = 0, stalled = 0, failed = 0;
	pid_t pids[64];
	long last = -1;
	time_t last_change = time(NULL);
	long expected;

	while (i < argc && !strncmp(argv[i], "--", 2)) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atol(argv[++i]);
		else if (!strcmp(argv[i], "--procs") && i + 1 < argc)
			procs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--reprobe"))
			stress_flags = 0;
		else
			usage();
		i++;
	}
	if (argc - i != 2 || procs < 1 || procs > 64 || threads < 1 || threads > 64 || rounds < 1)
		usage();
	if (stress_setup(argv + i) < 0)
		return 3;
	rounds_per_thread = (rounds + procs * threads - 1) / (procs * threads);
	expected = rounds_per_thread * procs * threads;
	fflush(stdout);
	for (int p = 0; p < procs; p++) {
		pids[p] = fork();
		if (pids[p] < 0)
			return 3;
		if (pids[p] == 0)
			stress_process(p, threads);
	}
	/* Watchdog: a deadlock shows as no round ending for a long time. */
	for (int alive = procs; alive > 0;) {
		int st;
		pid_t w = waitpid(-1, &st, WNOHANG);
		long now_rounds;

		if (w > 0) {
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				failed++;
			alive--;
			continue;
		}
		now_rounds = __atomic_load_n(&sst->rounds, __ATOMIC_SEQ_CST);
		if (now_rounds != last) {
			last = now_rounds;
			last_change = time(NULL);
		} else if (time(NULL) - last_change > 120) {
			printf("STALL rounds=%ld excl=%d,%d shared=%d,%d\n", now_rounds, chk->holders[0].excl,
			       chk->holders[1].excl, chk->holders[0].shared, chk->holders[1].shared);
			fflush(stdout);
			stalled = 1;
			/* what everybody holds, for the report */
			{
				char cmd[256];

				if (system("echo '# /proc/locks:'; sed 's/^/#   /' /proc/locks") < 0)
					break;
				for (int p = 0; p < procs; p++) {
					snprintf(cmd, sizeof(cmd),
					         "echo '# worker %ld:'; ls -l /proc/%ld/fd | grep /dev/ | "
					         "sed 's/^/#   /'; cat /proc/%ld/task/*/wchan | sed 's/^/#   wchan /'",
					         (long)pids[p], (long)pids[p], (long)pids[p]);
					if (system(cmd) < 0)
						break;
				}
			}
			for (int p = 0; p < procs; p++)
				kill(pids[p], SIGKILL);
			while (waitpid(-1, &st, 0) > 0)
				;
			break;
		}
		usleep(100000);
	}
	printf("STRESS rounds=%ld expected=%ld waited=%ld many=%ld overlaps=%d errors=%d badfd=%d "
	       "procs=%d threads=%d",
	       sst->rounds, expected, sst->waited, sst->many, sst->overlaps, sst->errors, sst->badfd,
	       procs, threads);
	if (sst->errors)
		printf(" first_error=%s first_spec=%s first_where=%s", errname(sst->first_error),
		       sst->first_error_spec, sst->first_error_where);
	if (failed)
		printf(" crashed=%d", failed);
	printf("\n");
	fflush(stdout);
	if (stalled)
		return 5;
	return sst->rounds == expected && !sst->overlaps && !sst->errors && !sst->badfd &&
	                       !failed
	               ? 0
	               : 1;
}

/* ------------------------------------------------------------------ */
/* soak                                                               */

static int soak_stop;   /* the threads end after their round */
static int soak_pause;  /* the threads wait after their round */
static int soak_paused; /* how many wait */

static void *soak_thread(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	while (!__atomic_load_n(&soak_stop, __ATOMIC_SEQ_CST)) {
		if (__atomic_load_n(&soak_pause, __ATOMIC_SEQ_CST)) {
			__atomic_add_fetch(&soak_paused, 1, __ATOMIC_SEQ_CST);
			while (__atomic_load_n(&soak_pause, __ATOMIC_SEQ_CST))
				usleep(1000);
			__atomic_sub_fetch(&soak_paused, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		stress_round(&seed);
	}
	return NULL;
}

struct soak_sample {
	int fds;
	long rss_kb;
	size_t heap;
};

static long vm_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static size_t heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	return mallinfo2().uordblks;
#else
	return 0;
#endif
}

/* The watchdog's verdict: whether rounds still end (else STALL). */
static int soak_progress(long *last, time_t *last_change, int stall)
{
	long now = __atomic_load_n(&sst->rounds, __ATOMIC_SEQ_CST);

	if (now != *last) {
		*last = now;
		*last_change = time(NULL);
		return 0;
	}
	if (time(NULL) - *last_change <= stall)
		return 0;
	printf("STALL rounds=%ld excl=%d,%d shared=%d,%d paused=%d\n", now, chk->holders[0].excl,
	       chk->holders[1].excl, chk->holders[0].shared, chk->holders[1].shared,
	       __atomic_load_n(&soak_paused, __ATOMIC_SEQ_CST));
	if (system("echo '# /proc/locks:'; sed 's/^/#   /' /proc/locks") < 0)
		printf("# (no /proc/locks)\n");
	fflush(stdout);
	return -1;
}

static int cmd_soak(int argc, char **argv)
{
	long seconds = 60, interval = 10, warmup = -1, last = -1;
	int threads = 2, stall = 120, i = 0, n_samples = 0, fds_max = 0;
	struct soak_sample first = { -1, -1, 0 }, cur = { -1, -1, 0 };
	pthread_t t[64];
	time_t start, next, last_change;

	while (i < argc && !strncmp(argv[i], "--", 2)) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atol(argv[++i]);
		else if (!strcmp(argv[i], "--interval") && i + 1 < argc)
			interval = atol(argv[++i]);
		else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
			warmup = atol(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--stall") && i + 1 < argc)
			stall = atoi(argv[++i]);
		else
			usage();
		i++;
	}
	if (argc - i != 2 || seconds < 1 || interval < 1 || threads < 1 || threads > 64 ||
	    stall < 1)
		usage();
	if (warmup < 0)
		warmup = seconds / 6 < 30 ? seconds / 6 : 30;
	if (stress_setup(argv + i) < 0)
		return 3;
	printf("START seconds=%ld interval=%ld warmup=%ld threads=%d\n", seconds, interval, warmup,
	       threads);
	fflush(stdout);
	start = time(NULL);
	last_change = start;
	for (int k = 0; k < threads; k++)
		if (pthread_create(&t[k], NULL, soak_thread,
		                   (void *)(uintptr_t)((unsigned)getpid() * 131u + (unsigned)k * 7u)))
			return 3;
	for (next = start + interval;; next += interval) {
		time_t now;

		/* run until the next sample (or the end) */
		while ((now = time(NULL)) < next && now < start + seconds)
			if (soak_progress(&last, &last_change, stall) < 0)
				_exit(5);
			else
				usleep(100000);
		/* stop every thread between two rounds: nothing is held, so
		 * what is left is what the process keeps */
		__atomic_store_n(&soak_pause, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&soak_paused, __ATOMIC_SEQ_CST) < threads)
			if (soak_progress(&last, &last_change, stall) < 0)
				_exit(5);
			else
				usleep(10000);
		cur.fds = count_all_fds();
		cur.rss_kb = vm_rss_kb();
		cur.heap = heap_in_use();
		now = time(NULL);
		printf("SAMPLE t=%ld locks=%ld fds=%d rss_kb=%ld heap=%zu\n", (long)(now - start),
		       __atomic_load_n(&sst->rounds, __ATOMIC_SEQ_CST), cur.fds, cur.rss_kb, cur.heap);
		if (now - start >= warmup) {
			if (first.fds < 0)
				first = cur;
			if (cur.fds > fds_max)
				fds_max = cur.fds;
			n_samples++;
		}
		if (now >= start + seconds)
			break;
		last_change = time(NULL); /* the pause is no stall */
		__atomic_store_n(&soak_pause, 0, __ATOMIC_SEQ_CST);
	}
	__atomic_store_n(&soak_stop, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&soak_pause, 0, __ATOMIC_SEQ_CST);
	for (int k = 0; k < threads; k++)
		pthread_join(t[k], NULL);
	printf("SOAK seconds=%ld locks=%ld waited=%ld many=%ld overlaps=%d errors=%d badfd=%d "
	       "samples=%d fds_first=%d fds_last=%d fds_max=%d rss_first=%ld rss_last=%ld "
	       "heap_first=%zu heap_last=%zu",
	       (long)(time(NULL) - start), sst->rounds, sst->waited, sst->many, sst->overlaps,
	       sst->errors, sst->badfd, n_samples, first.fds, cur.fds, fds_max, first.rss_kb,
	       cur.rss_kb, first.heap, cur.heap);
	if (sst->errors)
		printf(" first_error=%s first_spec=%s first_where=%s", errname(sst->first_error),
		       sst->first_error_spec, sst->first_error_where);
	printf("\n");
	fflush(stdout);
	return !sst->overlaps && !sst->errors && !sst->badfd ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* unplug                                                             */

static int cmd_unplug(int argc, char **argv)
{
	struct ddlp_lock *lock = NULL, *again = NULL;
	char path[PATH_MAX];
	int fds0, fds1, fds2, r, fd;
	struct stat st;

	if (argc != 2)
		usage();
	fds0 = count_all_fds();
	r = ddlp_lock(argv[0], DDLP_EXCLUSIVE, 0, 0, &lock);
	if (r < 0) {
		print_failure(r);
		return 3;
	}
	fds1 = count_all_fds();
	printf("LOCKED fds=%d\n", fds1 - fds0);
	fflush(stdout);

	snprintf(path, sizeof(path), "/sys/class/scsi_device/%s/device/delete", argv[1]);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1) {
		printf("DELETED %s\n", errname(errno));
		if (fd >= 0)
			close(fd);
		ddlp_unlock(lock);
		return 3;
	}
	close(fd);
	printf("DELETED ok\n");
	/* devtmpfs removes the node with the device; give udev a moment */
	for (int k = 0; k < 100 && stat(argv[0], &st) == 0; k++)
		usleep(100000);
	printf("GONE %s\n", stat(argv[0], &st) == 0 ? "no" : "yes");
	fflush(stdout);

	r = ddlp_unlock(lock);
	fds2 = count_all_fds();
	printf("UNLOCK %d%s%s\n", r, r ? " " : "", r ? errname(r) : "");
	printf("FDS before=%d after=%d\n", fds0, fds2);
	fflush(stdout);

	r = ddlp_lock(argv[0], DDLP_EXCLUSIVE, 0, 0, &again);
	printf("RELOCK %s\n", r == 0 ? "LOCKED" : errname(r));
	if (r == 0)
		ddlp_unlock(again);
	r = ddlp_lock(argv[1], DDLP_EXCLUSIVE, 0, 0, &again);
	printf("RELOCK_ADDR %s\n", r == 0 ? "LOCKED" : errname(r));
	if (r == 0)
		ddlp_unlock(again);
	printf("FDS_END %d\n", count_all_fds());
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "resolve"))
		return cmd_resolve(argc - 2, argv + 2);
	if (!strcmp(argv[1], "lock"))
		return cmd_lock(argc - 2, argv + 2);
	if (!strcmp(argv[1], "try"))
		return cmd_try(argc - 2, argv + 2);
	if (!strcmp(argv[1], "open"))
		return cmd_open(argc - 2, argv + 2);
	if (!strcmp(argv[1], "proclocks"))
		return cmd_proclocks(argc - 2, argv + 2);
	if (!strcmp(argv[1], "openers"))
		return cmd_openers(argc - 2, argv + 2);
	if (!strcmp(argv[1], "stress"))
		return cmd_stress(argc - 2, argv + 2);
	if (!strcmp(argv[1], "soak"))
		return cmd_soak(argc - 2, argv + 2);
	if (!strcmp(argv[1], "unplug"))
		return cmd_unplug(argc - 2, argv + 2);
	if (!strcmp(argv[1], "version")) {
		printf("%s\n", ddlp_version());
		return 0;
	}
	usage();
	return 64;
}
