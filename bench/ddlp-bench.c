/*
 * ddlp-bench: what a lock costs, whom it disturbs, and how fast a waiter
 * gets the drive (issue 7).  See bench/README.md.
 *
 * Runs as root on a machine with optical drives (bench/run-vm.sh runs it in
 * the test VM with scsi_debug drives) and prints one Markdown table:
 *
 *   1. lock+unlock of one drive (exclusive, DDLP_LOCK_NO_REPROBE): median,
 *      p90, p99; the floor (the same opens and locks on the already-known
 *      sibling nodes, no resolution) in the same loop, interleaved; ratio
 *   2. resolution alone, per alias form
 *   3. system calls per lock+unlock, per floor round and per resolution
 *      (counted with a ptrace counter between two marker system calls)
 *   4. intrusiveness: device nodes opened besides the siblings (ptrace),
 *      SCSI commands dispatched to each drive during one lock+unlock
 *      (tracefs, scsi:scsi_dispatch_cmd_start), against the floor's
 *   5. hand-off latency (holder's ddlp_unlock() call to the waiter's
 *      return) for a waiter in ddlp_lock() and for `ddlp-lock -w`; CPU time
 *      of a waiter that waits N seconds
 *   6. contention: 4 processes x 2 threads on one drive, with an overlap
 *      checker in shared memory
 *   7. the tool: whole-process time of `ddlp-lock DEV true` against
 *      `flock DEV true` and `udevadm lock --device=DEV true`
 *
 * It asserts nothing about time: the exit status is 1 only when the
 * benchmark itself broke (a lock error, an overlap, a tool that failed).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <sys/user.h>
#define HAVE_SYSCALL_COUNTER 1
#endif

#include <ddlp.h>

extern char **environ;

#define MAX_NODES 8
#define MAX_FORMS 10
#define MAX_ROWS 128
#define WORKERS_PROCS 4
#define WORKERS_THREADS 2
#define WORKERS (WORKERS_PROCS * WORKERS_THREADS)

/* ------------------------------------------------------------------ *
 * Options
 * ------------------------------------------------------------------ */

enum section {
	S_LOCK = 1u << 0,
	S_RESOLVE = 1u << 1,
	S_SYSCALLS = 1u << 2,
	S_INTRUSIVE = 1u << 3,
	S_HANDOFF = 1u << 4,
	S_CPU = 1u << 5,
	S_CONTENTION = 1u << 6,
	S_TOOL = 1u << 7,
	S_ALL = 0xff
};

static const struct {
	const char *name;
	unsigned bit;
} section_names[] = {
	{ "lock", S_LOCK },         { "resolve", S_RESOLVE },     { "syscalls", S_SYSCALLS },
	{ "intrusive", S_INTRUSIVE }, { "handoff", S_HANDOFF },     { "cpu", S_CPU },
	{ "contention", S_CONTENTION }, { "tool", S_TOOL },
};

static struct options {
	const char *drive;
	int rounds;
	int res_rounds;
	int intrusive_reps;
	int handoffs;
	int cli_handoffs;
	int wait_ms;
	int contention_ms;
	int hold_us;
	int tool_runs;
	const char *ddlp_lock;
	const char *md_path;
	const char *kv_path;
	const char *title;
	unsigned sections;
} opt = {
	.rounds = 1000,
	.res_rounds = 1000,
	.intrusive_reps = 20,
	.handoffs = 200,
	.cli_handoffs = 200,
	.wait_ms = 5000,
	.contention_ms = 10000,
	.hold_us = 1000,
	.tool_runs = 30,
	.sections = S_ALL,
};

static int failures;

/* ------------------------------------------------------------------ *
 * Small helpers
 * ------------------------------------------------------------------ */

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ddlp-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ddlp-bench: FAILED: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	failures++;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	size_t n;
	int64_t p50, p90, p99, min, max;
};

/* Nearest-rank percentiles; sorts v. */
static struct stats stats_of(int64_t *v, size_t n)
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

static ssize_t read_file(const char *path, char *buf, size_t size)
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

static int write_file(const char *path, const char *text)
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

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		fputs("ddlp-bench: out of memory\n", stderr);
		exit(2);
	}
	return d;
}

/* ------------------------------------------------------------------ *
 * Output: a table of rows, details, and key=value pairs
 * ------------------------------------------------------------------ */

struct row {
	char item[8];
	char what[160];
	char value[240];
	char target[80];
	char verdict[16];
};

static struct row rows[MAX_ROWS];
static size_t n_rows;
static char *details;
static size_t details_len, details_cap;
static FILE *kvf;

static void row(const char *item, const char *what, const char *target, const char *verdict,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void row(const char *item, const char *what, const char *target, const char *verdict,
                const char *fmt, ...)
{
	struct row *r;
	va_list ap;

	if (n_rows == MAX_ROWS)
		return;
	r = &rows[n_rows++];
	snprintf(r->item, sizeof(r->item), "%s", item);
	snprintf(r->what, sizeof(r->what), "%s", what);
	snprintf(r->target, sizeof(r->target), "%s", target ? target : "");
	snprintf(r->verdict, sizeof(r->verdict), "%s", verdict ? verdict : "");
	va_start(ap, fmt);
	vsnprintf(r->value, sizeof(r->value), fmt, ap);
	va_end(ap);
}

static const char *verdict(bool met)
{
	return met ? "met" : "**missed**";
}

static void detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void detail(const char *fmt, ...)
{
	va_list ap;
	int need;

	va_start(ap, fmt);
	need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (need < 0)
		return;
	if (details_len + (size_t)need + 2 > details_cap) {
		size_t cap = (details_cap + (size_t)need + 2) * 2;
		char *p = realloc(details, cap);

		if (!p)
			return;
		details = p;
		details_cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(details + details_len, details_cap - details_len, fmt, ap);
	va_end(ap);
	details_len += (size_t)need;
	details[details_len++] = '\n';
	details[details_len] = '\0';
}

static void kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kv(const char *key, const char *fmt, ...)
{
	va_list ap;

	if (!kvf)
		return;
	fprintf(kvf, "%s=", key);
	va_start(ap, fmt);
	vfprintf(kvf, fmt, ap);
	va_end(ap);
	fputc('\n', kvf);
	fflush(kvf);
}

/* ------------------------------------------------------------------ *
 * The target drive
 * ------------------------------------------------------------------ */

struct tnode {
	char path[PATH_MAX];
	enum ddlp_node_kind kind;
	enum ddlp_excl excl;
	unsigned flags;
	dev_t devnum;
};

static struct target {
	char spec[PATH_MAX];
	char id[128];
	bool scsi;
	unsigned h, c, t;
	unsigned long long l;
	size_t n;
	struct tnode node[MAX_NODES];
	char block[PATH_MAX]; /* the block node */
	char model[64];
	int delay;            /* scsi_debug delay in jiffies, -1 unknown */
	int ndelay;
	unsigned n_sr;        /* sr drives present */
} tg;

static int sr_number(const char *name)
{
	return strncmp(name, "sr", 2) == 0 && isdigit((unsigned char)name[2]) ? atoi(name + 2) : -1;
}

static int pick_default_drive(char *out, size_t size)
{
	DIR *d = opendir("/sys/class/block");
	struct dirent *de;
	int best = -1;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int n = sr_number(de->d_name);

		if (n > best)
			best = n;
	}
	closedir(d);
	if (best < 0)
		return -ENODEV;
	snprintf(out, size, "/dev/sr%d", best);
	return 0;
}

static unsigned count_sr(void)
{
	DIR *d = opendir("/sys/class/block");
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += sr_number(de->d_name) >= 0;
	closedir(d);
	return n;
}

static int target_init(const char *spec)
{
	struct ddlp_drive *d;
	char path[PATH_MAX], buf[64];
	int r;

	memset(&tg, 0, sizeof(tg));
	snprintf(tg.spec, sizeof(tg.spec), "%s", spec);
	r = ddlp_drive_resolve(spec, 0, &d);
	if (r < 0) {
		fprintf(stderr, "ddlp-bench: %s: %s\n", spec, strerror(-r));
		return r;
	}
	snprintf(tg.id, sizeof(tg.id), "%s", ddlp_drive_get_id(d));
	tg.scsi = sscanf(tg.id, "scsi:%u:%u:%u:%llu", &tg.h, &tg.c, &tg.t, &tg.l) == 4;
	tg.n = ddlp_drive_get_node_count(d);
	if (tg.n > MAX_NODES)
		tg.n = MAX_NODES;
	for (size_t i = 0; i < tg.n; i++) {
		const struct ddlp_node *n = ddlp_drive_get_node(d, i);
		struct tnode *t = &tg.node[i];

		snprintf(t->path, sizeof(t->path), "%s", ddlp_node_get_path(n));
		t->kind = ddlp_node_get_kind(n);
		t->excl = ddlp_node_get_excl(n);
		t->flags = ddlp_node_get_flags(n);
		t->devnum = ddlp_node_get_devnum(n);
		if (t->kind == DDLP_NODE_BLOCK && !tg.block[0] && !(t->flags & DDLP_NODE_ALIAS))
			snprintf(tg.block, sizeof(tg.block), "%s", t->path);
	}
	ddlp_drive_free(d);
	tg.delay = tg.ndelay = -1;
	if (tg.block[0]) {
		snprintf(path, sizeof(path), "/sys/class/block/%s/device/model",
		         strrchr(tg.block, '/') + 1);
		if (read_file(path, tg.model, sizeof(tg.model)) < 0)
			tg.model[0] = '\0';
	}
	if (strncmp(tg.model, "scsi_debug", 10) == 0) {
		if (read_file("/sys/module/scsi_debug/parameters/delay", buf, sizeof(buf)) > 0)
			tg.delay = atoi(buf);
		if (read_file("/sys/module/scsi_debug/parameters/ndelay", buf, sizeof(buf)) > 0)
			tg.ndelay = atoi(buf);
	}
	tg.n_sr = count_sr();
	return 0;
}

static bool is_sibling(const char *path)
{
	for (size_t i = 0; i < tg.n; i++)
		if (strcmp(tg.node[i].path, path) == 0)
			return true;
	return false;
}

/* delay=0 (and ndelay=0): what remains is software cost */
static bool zero_delay(void)
{
	return tg.delay == 0 && tg.ndelay <= 0;
}

/* ------------------------------------------------------------------ *
 * The two things measured: a libddlp lock+unlock, and the floor
 * ------------------------------------------------------------------ */

static int lib_lock(const char *spec, struct ddlp_lock **l)
{
	return ddlp_lock(spec, DDLP_EXCLUSIVE, 5000, DDLP_LOCK_NO_REPROBE, l);
}

static int lib_lock_unlock(const char *spec)
{
	struct ddlp_lock *l;
	int r = lib_lock(spec, &l);

	if (r < 0)
		return r;
	return ddlp_unlock(l);
}

/* The floor: what an exclusive holder takes (doc/ddlp.txt, 5) on the nodes
 * resolved before the loop, without resolving, without the verify fstat,
 * without the /proc/locks check. */
static int floor_lock(int fds[])
{
	size_t i;
	int r = 0;

	for (i = 0; i < tg.n; i++) {
		const struct tnode *t = &tg.node[i];
		int flags = O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		fds[i] = -1;
		if ((t->flags & DDLP_NODE_ALIAS) && t->excl == DDLP_EXCL_OPEN)
			continue;
		if (t->excl != DDLP_EXCL_NONE && !(t->flags & DDLP_NODE_ALIAS))
			flags |= O_EXCL;
		fds[i] = open(t->path, flags);
		if (fds[i] < 0) {
			r = -errno;
			break;
		}
		if (fcntl(fds[i], F_OFD_SETLK, &fl) < 0) {
			r = -errno;
			i++;
			break;
		}
		if (t->kind == DDLP_NODE_BLOCK && flock(fds[i], LOCK_EX | LOCK_NB) < 0) {
			r = -errno;
			i++;
			break;
		}
	}
	if (r < 0)
		while (i-- > 0)
			if (fds[i] >= 0)
				close(fds[i]);
	return r;
}

static void floor_unlock(const int fds[])
{
	for (size_t i = tg.n; i-- > 0;)
		if (fds[i] >= 0)
			close(fds[i]);
}

static long floor_busy;

static int floor_lock_unlock(void)
{
	int fds[MAX_NODES], r;

	for (int tries = 0; tries < 5000; tries++) {
		r = floor_lock(fds);
		if (r == 0) {
			floor_unlock(fds);
			return 0;
		}
		if (r != -EBUSY && r != -EAGAIN && r != -EWOULDBLOCK)
			return r;
		floor_busy++;
		sleep_us(1000);
	}
	return -EBUSY;
}

/* ------------------------------------------------------------------ *
 * 1. lock+unlock against the floor
 * ------------------------------------------------------------------ */

static struct stats lock_stats, floor_stats;

/* One /proc/locks read as libddlp's friendly check makes it after a
 * fallback wake-up (fopen, getline to the end, fclose). */
static int read_proc_locks(void)
{
	FILE *f = fopen("/proc/locks", "re");
	char *line = NULL;
	size_t cap = 0;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0)
		;
	free(line);
	fclose(f);
	return 0;
}

/* What one /proc/locks read costs, read back to back, 10 ms apart and
 * 100 ms apart (like a program that locks once).  The kernel's locks_start()
 * takes file_rwsem for writing (percpu_down_write), which waits for an RCU
 * grace period unless one ended moments ago. */
static void proc_locks_cost(void)
{
	enum { N = 40 };
	static const long gaps_us[3] = { 0, 10000, 100000 };
	struct stats s[3];

	for (int g = 0; g < 3; g++) {
		int64_t v[N];

		for (int i = 0; i < N; i++) {
			int64_t t0;

			if (gaps_us[g])
				sleep_us(gaps_us[g]);
			t0 = now_ns();
			read_proc_locks();
			v[i] = now_ns() - t0;
		}
		s[g] = stats_of(v, N);
	}
	row("1", "one read of /proc/locks (libddlp's friendly check), medians: back to back; 10 ms "
	         "apart; 100 ms apart",
	    NULL, NULL, "%.3f ms; %.3f ms; %.3f ms (p90 %.3f)", ms(s[0].p50), ms(s[1].p50),
	    ms(s[2].p50), ms(s[2].p90));
	kv("proclocks_b2b_ms", "%.3f", ms(s[0].p50));
	kv("proclocks_10ms_ms", "%.3f", ms(s[1].p50));
	kv("proclocks_100ms_ms", "%.3f", ms(s[2].p50));
}

/* The floor after a resolution: what libddlp would cost without its own
 * bookkeeping (registry, fstat checks). */
static int model_lock_unlock(void)
{
	struct ddlp_drive *d;
	int r = ddlp_drive_resolve(tg.spec, 0, &d);

	if (r < 0)
		return r;
	r = floor_lock_unlock();
	ddlp_drive_free(d);
	return r;
}

static int64_t isolated_lib_p50;

/* Each op on an idle drive, 100 ms after anything else, as a program that
 * locks once does it (nothing of the previous round is left to overlap). */
static void isolated_rounds(void)
{
	enum { N = 30 };
	int64_t v[3][N];
	struct stats st[3];
	int n = opt.rounds < 100 ? 10 : N;

	for (int i = 0; i < n; i++)
		for (int k = 0; k < 3; k++) {
			int64_t t0;
			int r;

			sleep_us(100000);
			t0 = now_ns();
			r = k == 0 ? lib_lock_unlock(tg.spec) : k == 1 ? floor_lock_unlock()
			                                               : model_lock_unlock();
			v[k][i] = now_ns() - t0;
			if (r < 0) {
				fail("isolated round: %s", strerror(-r));
				return;
			}
		}
	for (int k = 0; k < 3; k++)
		st[k] = stats_of(v[k], (size_t)n);
	isolated_lib_p50 = st[0].p50;
	row("1", "each on an idle drive", NULL, NULL, "%.3f ms; %.3f ms; %.3f ms; %.2fx", ms(st[0].p50), ms(st[1].p50),
	    ms(st[2].p50), (double)st[0].p50 / (double)st[1].p50);
	snprintf(rows[n_rows - 1].what, sizeof(rows[n_rows - 1].what),
	         "each on an idle drive, 100 ms apart (medians of %d): libddlp; floor; "
	         "resolution+floor; libddlp / floor",
	         n);
	kv("iso_lock_p50_ms", "%.3f", ms(st[0].p50));
	kv("iso_floor_p50_ms", "%.3f", ms(st[1].p50));
	kv("iso_model_p50_ms", "%.3f", ms(st[2].p50));
	kv("iso_ratio", "%.2f", (double)st[0].p50 / (double)st[1].p50);
}

static void section_lock(void)
{
	enum { V_LIB, V_FLOOR, V_MODEL, NV };
	int64_t *v[NV] = { NULL }, *lk[NV] = { NULL }, *ul[NV] = { NULL };
	struct stats st[NV], sl[NV], su[NV];
	double ratio, ratio90, limit = zero_delay() ? 3.0 : 1.2;
	char tgt[64];
	int r;

	for (int k = 0; k < NV; k++) {
		v[k] = calloc((size_t)opt.rounds, sizeof(int64_t));
		lk[k] = calloc((size_t)opt.rounds, sizeof(int64_t));
		ul[k] = calloc((size_t)opt.rounds, sizeof(int64_t));
		if (!v[k] || !lk[k] || !ul[k]) {
			fail("out of memory");
			goto out;
		}
	}
	progress("1: %d rounds of lock+unlock, of the floor and of resolution+floor, interleaved",
	         opt.rounds);
	/* warm up (page cache of sysfs, libudev, dentries) */
	for (int i = 0; i < 10; i++) {
		if ((r = lib_lock_unlock(tg.spec)) < 0 || (r = floor_lock_unlock()) < 0) {
			fail("warm-up lock+unlock: %s", strerror(-r));
			goto out;
		}
	}
	for (int i = 0; i < opt.rounds; i++) {
		for (int j = 0; j < NV; j++) {
			int k = (i + j) % NV;
			int64_t t0 = now_ns(), t1;

			if (k == V_LIB) {
				struct ddlp_lock *l;

				r = lib_lock(tg.spec, &l);
				t1 = now_ns();
				if (r == 0)
					r = ddlp_unlock(l);
			} else if (k == V_FLOOR) {
				int fds[MAX_NODES];

				r = floor_lock(fds);
				t1 = now_ns();
				if (r == 0)
					floor_unlock(fds);
				else if (r == -EBUSY || r == -EAGAIN || r == -EWOULDBLOCK) {
					floor_busy++;
					r = floor_lock_unlock(); /* retries */
				}
			} else {
				r = model_lock_unlock();
				t1 = now_ns();
			}
			if (r < 0) {
				fail("%s round %d: %s",
				     k == V_LIB ? "lock+unlock" : k == V_FLOOR ? "floor" : "model", i,
				     strerror(-r));
				goto out;
			}
			v[k][i] = now_ns() - t0;
			lk[k][i] = t1 - t0;
			ul[k][i] = v[k][i] - lk[k][i];
		}
	}
	for (int k = 0; k < NV; k++) {
		st[k] = stats_of(v[k], (size_t)opt.rounds);
		sl[k] = stats_of(lk[k], (size_t)opt.rounds);
		su[k] = stats_of(ul[k], (size_t)opt.rounds);
	}
	lock_stats = st[V_LIB];
	floor_stats = st[V_FLOOR];
	ratio = (double)lock_stats.p50 / (double)floor_stats.p50;
	ratio90 = (double)lock_stats.p90 / (double)floor_stats.p90;
	row("1", "lock+unlock, libddlp (median / p90 / p99)", NULL, NULL,
	    "%.3f / %.3f / %.3f ms", ms(lock_stats.p50), ms(lock_stats.p90), ms(lock_stats.p99));
	row("1", "floor: same opens and locks, no resolution (median / p90 / p99)", NULL, NULL,
	    "%.3f / %.3f / %.3f ms", ms(floor_stats.p50), ms(floor_stats.p90),
	    ms(floor_stats.p99));
	snprintf(tgt, sizeof(tgt), "<= %.1fx (%s)", limit, zero_delay() ? "delay=0" : "with delay");
	row("1", "libddlp / floor (medians; p90s)", tgt, verdict(ratio <= limit), "%.2fx; %.2fx",
	    ratio, ratio90);
	row("1", "libddlp - floor (software cost, medians)", NULL, NULL, "%.3f ms",
	    ms(lock_stats.p50 - floor_stats.p50));
	row("1", "lock / unlock separately, medians: libddlp; floor", NULL, NULL,
	    "%.3f / %.3f ms; %.3f / %.3f ms", ms(sl[V_LIB].p50), ms(su[V_LIB].p50),
	    ms(sl[V_FLOOR].p50), ms(su[V_FLOOR].p50));
	row("1", "model: ddlp_drive_resolve() + the floor, i.e. libddlp without its own "
	         "bookkeeping (median / p90; / floor)",
	    NULL, NULL, "%.3f / %.3f ms; %.2fx", ms(st[V_MODEL].p50), ms(st[V_MODEL].p90),
	    (double)st[V_MODEL].p50 / (double)floor_stats.p50);
	if (floor_busy)
		detail("- the floor found the drive busy %ld times (udev?) and retried", floor_busy);
	kv("rounds", "%d", opt.rounds);
	kv("lock_p50_ms", "%.3f", ms(lock_stats.p50));
	kv("lock_p90_ms", "%.3f", ms(lock_stats.p90));
	kv("lock_p99_ms", "%.3f", ms(lock_stats.p99));
	kv("lock_only_p50_ms", "%.3f", ms(sl[V_LIB].p50));
	kv("unlock_only_p50_ms", "%.3f", ms(su[V_LIB].p50));
	kv("floor_p50_ms", "%.3f", ms(floor_stats.p50));
	kv("floor_p90_ms", "%.3f", ms(floor_stats.p90));
	kv("floor_p99_ms", "%.3f", ms(floor_stats.p99));
	kv("lock_floor_ratio", "%.2f", ratio);
	kv("lock_floor_ratio_p90", "%.2f", ratio90);
	kv("lock_minus_floor_ms", "%.3f", ms(lock_stats.p50 - floor_stats.p50));
	kv("model_p50_ms", "%.3f", ms(st[V_MODEL].p50));
	kv("model_floor_ratio", "%.2f", (double)st[V_MODEL].p50 / (double)floor_stats.p50);
	isolated_rounds();
	proc_locks_cost();
out:
	for (int k = 0; k < NV; k++) {
		free(v[k]);
		free(lk[k]);
		free(ul[k]);
	}
}

/* ------------------------------------------------------------------ *
 * 2. Resolution per alias form
 * ------------------------------------------------------------------ */

struct form {
	char key[16];
	char label[48];
	char spec[PATH_MAX];
};

static struct form forms[MAX_FORMS];
static size_t n_forms;
static char alias_path[PATH_MAX];

static void add_form(const char *key, const char *label, const char *spec)
{
	if (n_forms == MAX_FORMS || !spec || !*spec)
		return;
	snprintf(forms[n_forms].key, sizeof(forms[n_forms].key), "%s", key);
	snprintf(forms[n_forms].label, sizeof(forms[n_forms].label), "%s", label);
	snprintf(forms[n_forms].spec, sizeof(forms[n_forms].spec), "%s", spec);
	n_forms++;
}

/* A symlink in dir that leads to the block node. */
static bool find_link(const char *dir, char *out, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char p[PATH_MAX], *real;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		real = realpath(p, NULL);
		if (real && strcmp(real, tg.block) == 0) {
			snprintf(out, size, "%s", p);
			found = true;
		}
		free(real);
	}
	closedir(d);
	return found;
}

static void forms_init(void)
{
	char buf[PATH_MAX];

	n_forms = 0;
	for (size_t i = 0; i < tg.n; i++) {
		const struct tnode *t = &tg.node[i];

		if (t->flags & DDLP_NODE_ALIAS)
			continue;
		if (t->kind == DDLP_NODE_BLOCK)
			add_form("block", "block node", t->path);
		else if (t->kind == DDLP_NODE_SG)
			add_form("sg", "sg node", t->path);
		else if (t->kind == DDLP_NODE_BSG)
			add_form("bsg", "bsg node", t->path);
	}
	if (tg.scsi) {
		snprintf(buf, sizeof(buf), "%u:%u:%u:%llu", tg.h, tg.c, tg.t, tg.l);
		add_form("hctl", "H:C:T:L", buf);
		if (tg.c == 0) {
			snprintf(buf, sizeof(buf), "%u,%u,%llu", tg.h, tg.t, tg.l);
			add_form("btl", "B,T,L", buf);
		}
	}
	if (tg.block[0] && find_link("/dev/disk/by-id", buf, sizeof(buf)))
		add_form("byid", "/dev/disk/by-id symlink", buf);
	if (tg.block[0] && find_link("/dev/disk/by-path", buf, sizeof(buf)))
		add_form("bypath", "/dev/disk/by-path symlink", buf);
	if (tg.block[0] && geteuid() == 0) {
		for (size_t i = 0; i < tg.n; i++) {
			if (tg.node[i].kind != DDLP_NODE_BLOCK)
				continue;
			snprintf(alias_path, sizeof(alias_path), "/tmp/ddlp-bench-alias-%ld",
			         (long)getpid());
			unlink(alias_path);
			if (mknod(alias_path, S_IFBLK | 0600, tg.node[i].devnum) == 0)
				add_form("alias", "mknod alias of the block node", alias_path);
			else
				alias_path[0] = '\0';
			break;
		}
	}
}

static int resolve_free(const char *spec)
{
	struct ddlp_drive *d;
	int r = ddlp_drive_resolve(spec, 0, &d);

	if (r < 0)
		return r;
	r = strcmp(ddlp_drive_get_id(d), tg.id) == 0 ? 0 : -EXDEV;
	ddlp_drive_free(d);
	return r;
}

static void section_resolve(void)
{
	int64_t *v[MAX_FORMS] = { NULL };
	int r;

	progress("2: %d resolutions per form, %zu forms", opt.res_rounds, n_forms);
	for (size_t f = 0; f < n_forms; f++) {
		v[f] = calloc((size_t)opt.res_rounds, sizeof(int64_t));
		if (!v[f]) {
			fail("out of memory");
			goto out;
		}
		if ((r = resolve_free(forms[f].spec)) < 0) {
			fail("resolve %s: %s", forms[f].spec,
			     r == -EXDEV ? "another drive" : strerror(-r));
			goto out;
		}
	}
	for (int i = 0; i < opt.res_rounds; i++)
		for (size_t f = 0; f < n_forms; f++) {
			int64_t t0 = now_ns();

			if ((r = resolve_free(forms[f].spec)) < 0) {
				fail("resolve %s: %s", forms[f].spec, strerror(-r));
				goto out;
			}
			v[f][i] = now_ns() - t0;
		}
	for (size_t f = 0; f < n_forms; f++) {
		struct stats s = stats_of(v[f], (size_t)opt.res_rounds);
		char what[160], key[64];

		snprintf(what, sizeof(what), "resolution, %s `%s` (median / p90 / p99)",
		         forms[f].label, forms[f].spec);
		row("2", what, NULL, NULL, "%.3f / %.3f / %.3f ms", ms(s.p50), ms(s.p90), ms(s.p99));
		snprintf(key, sizeof(key), "res_%.15s_p50_ms", forms[f].key);
		kv(key, "%.3f", ms(s.p50));
		snprintf(key, sizeof(key), "res_%.15s_p90_ms", forms[f].key);
		kv(key, "%.3f", ms(s.p90));
	}
out:
	for (size_t f = 0; f < n_forms; f++)
		free(v[f]);
}

/* ------------------------------------------------------------------ *
 * 3./4. A system call counter (ptrace), with the paths a process opens
 * ------------------------------------------------------------------ */

#define NSYS 512
#define MAX_PATHS 400

struct sc_count {
	long total;
	long per_nr[NSYS];
	long dev_opens;        /* opens of /dev nodes */
	long foreign_opens;    /* ... that are not the target's siblings */
	char *foreign[16];
	size_t n_foreign;
	char *paths[MAX_PATHS]; /* "syscall path", in order */
	size_t n_paths;
};

static void sc_free(struct sc_count *c)
{
	for (size_t i = 0; i < c->n_foreign; i++)
		free(c->foreign[i]);
	for (size_t i = 0; i < c->n_paths; i++)
		free(c->paths[i]);
	memset(c, 0, sizeof(*c));
}

#ifdef HAVE_SYSCALL_COUNTER
static const char *sys_name(long nr)
{
	static char buf[32];

	switch (nr) {
	case SYS_read: return "read";
	case SYS_write: return "write";
	case SYS_open: return "open";
	case SYS_close: return "close";
	case SYS_stat: return "stat";
	case SYS_fstat: return "fstat";
	case SYS_lstat: return "lstat";
	case SYS_poll: return "poll";
	case SYS_lseek: return "lseek";
	case SYS_mmap: return "mmap";
	case SYS_mprotect: return "mprotect";
	case SYS_munmap: return "munmap";
	case SYS_brk: return "brk";
	case SYS_rt_sigaction: return "rt_sigaction";
	case SYS_rt_sigprocmask: return "rt_sigprocmask";
	case SYS_ioctl: return "ioctl";
	case SYS_pread64: return "pread64";
	case SYS_access: return "access";
	case SYS_getpid: return "getpid";
	case SYS_clone: return "clone";
	case SYS_clone3: return "clone3";
	case SYS_fork: return "fork";
	case SYS_vfork: return "vfork";
	case SYS_execve: return "execve";
	case SYS_exit: return "exit";
	case SYS_exit_group: return "exit_group";
	case SYS_wait4: return "wait4";
	case SYS_fcntl: return "fcntl";
	case SYS_flock: return "flock";
	case SYS_getdents64: return "getdents64";
	case SYS_readlink: return "readlink";
	case SYS_readlinkat: return "readlinkat";
	case SYS_getuid: return "getuid";
	case SYS_geteuid: return "geteuid";
	case SYS_getgid: return "getgid";
	case SYS_getegid: return "getegid";
	case SYS_arch_prctl: return "arch_prctl";
	case SYS_set_tid_address: return "set_tid_address";
	case SYS_set_robust_list: return "set_robust_list";
	case SYS_rseq: return "rseq";
	case SYS_prlimit64: return "prlimit64";
	case SYS_futex: return "futex";
	case SYS_openat: return "openat";
	case SYS_newfstatat: return "newfstatat";
	case SYS_statx: return "statx";
	case SYS_getrandom: return "getrandom";
	case SYS_inotify_init1: return "inotify_init1";
	case SYS_inotify_add_watch: return "inotify_add_watch";
	case SYS_clock_gettime: return "clock_gettime";
	case SYS_socket: return "socket";
	case SYS_connect: return "connect";
	case SYS_sendmsg: return "sendmsg";
	case SYS_recvmsg: return "recvmsg";
	case SYS_uname: return "uname";
	case SYS_getcwd: return "getcwd";
	case SYS_dup2: return "dup2";
	case SYS_dup3: return "dup3";
	case SYS_pipe2: return "pipe2";
	case SYS_ppoll: return "ppoll";
	case SYS_pidfd_open: return "pidfd_open";
	case SYS_faccessat2: return "faccessat2";
	default:
		snprintf(buf, sizeof(buf), "sys_%ld", nr);
		return buf;
	}
}

static void peek_str(pid_t pid, unsigned long addr, char *buf, size_t size)
{
	size_t i = 0;

	buf[0] = '\0';
	while (i + sizeof(long) < size) {
		long w;

		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, pid, (void *)(addr + i), NULL);
		if (errno)
			break;
		memcpy(buf + i, &w, sizeof(w));
		i += sizeof(w);
		if (memchr(&w, 0, sizeof(w)))
			break;
	}
	buf[i < size ? i : size - 1] = '\0';
	buf[size - 1] = '\0';
}

static void sc_record(struct sc_count *c, pid_t pid, const struct user_regs_struct *regs)
{
	long nr = (long)regs->orig_rax;
	unsigned long patharg = 0;
	bool opener = false;
	char path[PATH_MAX + 32];

	c->total++;
	if (nr >= 0 && nr < NSYS)
		c->per_nr[nr]++;
	switch (nr) {
	case SYS_open:
		opener = true;
		/* fall through */
	case SYS_stat:
	case SYS_lstat:
	case SYS_readlink:
	case SYS_access:
		patharg = regs->rdi;
		break;
	case SYS_openat:
		opener = true;
		/* fall through */
	case SYS_newfstatat:
	case SYS_statx:
	case SYS_readlinkat:
	case SYS_faccessat2:
		patharg = regs->rsi;
		break;
	default:
		return;
	}
	if (!patharg)
		return;
	peek_str(pid, patharg, path, PATH_MAX);
	if (opener && strncmp(path, "/dev/", 5) == 0 && strncmp(path, "/dev/null", 9) != 0 &&
	    strncmp(path, "/dev/tty", 8) != 0 && strncmp(path, "/dev/shm/", 9) != 0) {
		c->dev_opens++;
		if (!is_sibling(path)) {
			c->foreign_opens++;
			if (c->n_foreign < 16)
				c->foreign[c->n_foreign++] = xstrdup(path);
		}
	}
	if (c->n_paths < MAX_PATHS) {
		char line[PATH_MAX + 48];

		snprintf(line, sizeof(line), "%s %s", sys_name(nr), path);
		c->paths[c->n_paths++] = xstrdup(line);
	}
}

/* Follow a tracee that did PTRACE_TRACEME and stopped itself (or execs):
 * with markers, the system calls between the 2k-th and 2k+1-th marker
 * (write(-1, ...)) go to c[k]; without, every call after the first stop
 * goes to c[0].  Returns the number of markers seen, or -1. */
static int sc_follow(pid_t pid, bool markers, struct sc_count *c, int nc, int *status_out)
{
	int status, sig = 0, marks = 0, cur = markers ? -1 : 0;
	bool in_call = false;

	if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status))
		return -1;
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
	           (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC)) <
	    0)
		return -1;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig) < 0)
			return -1;
		sig = 0;
		if (waitpid(pid, &status, 0) < 0)
			return -1;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (!WIFSTOPPED(status))
			continue;
		if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			struct user_regs_struct regs;

			in_call = !in_call;
			if (!in_call)
				continue;
			if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) < 0)
				return -1;
			if (markers && (long)regs.orig_rax == SYS_write && (int)regs.rdi == -1) {
				marks++;
				cur = marks % 2 ? marks / 2 : -1;
				continue;
			}
			if (cur >= 0 && cur < nc)
				sc_record(&c[cur], pid, &regs);
		} else if ((status >> 16) != 0) {
			/* a ptrace event stop (exec): nothing to deliver */
		} else {
			sig = WSTOPSIG(status);
		}
	}
	if (status_out)
		*status_out = status;
	return marks;
}

static void mark(void)
{
	static const char m[] = "ddlp-bench mark";

	(void)!syscall(SYS_write, (long)-1, m, sizeof(m) - 1);
}

static void top_syscalls(const struct sc_count *c, char *out, size_t size)
{
	bool used[NSYS] = { false };
	size_t len = 0;

	out[0] = '\0';
	for (int k = 0; k < 12; k++) {
		long best = -1;

		for (long nr = 0; nr < NSYS; nr++)
			if (!used[nr] && c->per_nr[nr] > 0 && (best < 0 || c->per_nr[nr] > c->per_nr[best]))
				best = nr;
		if (best < 0)
			break;
		used[best] = true;
		len += (size_t)snprintf(out + len, size - len, "%s%s %ld", k ? ", " : "",
		                        sys_name(best), c->per_nr[best]);
		if (len >= size)
			break;
	}
}
#endif /* HAVE_SYSCALL_COUNTER */

static long sc_lock = -1, sc_floor = -1, sc_res_block = -1;

/* The traced child runs: a lock+unlock, a floor round and one resolution
 * per form, each once untraced (warm) and once between markers. */
static void section_syscalls(void)
{
#ifdef HAVE_SYSCALL_COUNTER
	enum { OP_LOCK, OP_FLOOR, OP_RES0 };
	int nops = OP_RES0 + (int)n_forms, status = 0, marks;
	struct sc_count *c = calloc((size_t)nops, sizeof(*c));
	char top[600], key[64];
	pid_t pid;

	progress("3: system calls (ptrace counter)");
	if (!c) {
		fail("out of memory");
		return;
	}
	pid = fork();
	if (pid < 0) {
		fail("fork: %s", strerror(errno));
		free(c);
		return;
	}
	if (pid == 0) {
		int bad = 0;

		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(3);
		raise(SIGSTOP);
		bad |= lib_lock_unlock(tg.spec) < 0;
		mark();
		bad |= lib_lock_unlock(tg.spec) < 0;
		mark();
		bad |= floor_lock_unlock() < 0;
		mark();
		bad |= floor_lock_unlock() < 0;
		mark();
		for (size_t f = 0; f < n_forms; f++) {
			bad |= resolve_free(forms[f].spec) < 0;
			mark();
			bad |= resolve_free(forms[f].spec) < 0;
			mark();
		}
		_exit(bad ? 1 : 0);
	}
	marks = sc_follow(pid, true, c, nops, &status);
	if (marks < 0) {
		row("3", "system calls", NULL, NULL, "n/a (ptrace refused: %s)", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || marks != 2 * nops) {
		fail("the traced child failed (status 0x%x, %d markers)", status, marks);
		goto out;
	}
	sc_lock = c[OP_LOCK].total;
	sc_floor = c[OP_FLOOR].total;
	row("3", "system calls per exclusive lock+unlock (resolution included)", "<= 150",
	    verdict(sc_lock <= 150), "%ld", sc_lock);
	row("3", "system calls per floor lock+unlock", NULL, NULL, "%ld", sc_floor);
	for (int f = 0; f < (int)n_forms; f++) {
		char what[160];

		snprintf(what, sizeof(what), "system calls per resolution, %s", forms[f].label);
		row("3", what, NULL, NULL, "%ld", c[OP_RES0 + f].total);
		snprintf(key, sizeof(key), "sys_res_%.15s", forms[f].key);
		kv(key, "%ld", c[OP_RES0 + f].total);
		if (strcmp(forms[f].key, "block") == 0)
			sc_res_block = c[OP_RES0 + f].total;
	}
	kv("sys_lock", "%ld", sc_lock);
	kv("sys_floor", "%ld", sc_floor);
	top_syscalls(&c[OP_LOCK], top, sizeof(top));
	detail("- system calls of one lock+unlock of `%s` by kind: %s", tg.spec, top);
	top_syscalls(&c[OP_FLOOR], top, sizeof(top));
	detail("- system calls of one floor round by kind: %s", top);
	if (n_forms) {
		top_syscalls(&c[OP_RES0], top, sizeof(top));
		detail("- system calls of one resolution of `%s` by kind: %s", forms[0].spec, top);
	}
	detail("- paths named by the system calls of one lock+unlock, in order:");
	detail("%s", "");
	detail("  ```");
	for (size_t i = 0; i < c[OP_LOCK].n_paths; i++)
		detail("  %s", c[OP_LOCK].paths[i]);
	detail("  ```");
	detail("%s", "");

	/* 4. device nodes opened besides the siblings (the lock's strace) */
	{
		char list[600] = "";
		size_t len = 0;

		for (size_t i = 0; i < c[OP_LOCK].n_foreign && len < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, " %s",
			                        c[OP_LOCK].foreign[i]);
		row("4", "device nodes opened by one lock+unlock other than the siblings", "0",
		    verdict(c[OP_LOCK].foreign_opens == 0), "%ld (of %ld /dev opens)%s",
		    c[OP_LOCK].foreign_opens, c[OP_LOCK].dev_opens, list);
		kv("foreign_opens", "%ld", c[OP_LOCK].foreign_opens);
		kv("dev_opens", "%ld", c[OP_LOCK].dev_opens);
	}
out:
	for (int i = 0; i < nops; i++)
		sc_free(&c[i]);
	free(c);
#else
	row("3", "system calls", NULL, NULL, "n/a (the counter is for x86_64 only)");
#endif
}

/* ------------------------------------------------------------------ *
 * 4. SCSI commands per drive (tracefs)
 * ------------------------------------------------------------------ */

static char tracedir[64];

static bool tracefs_init(void)
{
	static const char *dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char p[128];

	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/events/scsi/scsi_dispatch_cmd_start/enable", dirs[i]);
		if (access(p, W_OK) == 0) {
			snprintf(tracedir, sizeof(tracedir), "%s", dirs[i]);
			return true;
		}
	}
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0) {
		snprintf(p, sizeof(p), "/sys/kernel/tracing/events/scsi/scsi_dispatch_cmd_start/enable");
		if (access(p, W_OK) == 0) {
			snprintf(tracedir, sizeof(tracedir), "/sys/kernel/tracing");
			return true;
		}
	}
	return false;
}

static int trace_write(const char *file, const char *text)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", tracedir, file);
	return write_file(p, text);
}

static int trace_clear(void)
{
	char p[160];
	int fd;

	snprintf(p, sizeof(p), "%s/trace", tracedir);
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

struct cmdcount {
	long target, others;
	char other_addrs[256];
	struct {
		char name[40];
		long n;
	} op[16];
	size_t n_op;
};

static void cmd_add_op(struct cmdcount *cc, const char *name)
{
	for (size_t i = 0; i < cc->n_op; i++)
		if (strcmp(cc->op[i].name, name) == 0) {
			cc->op[i].n++;
			return;
		}
	if (cc->n_op < 16) {
		snprintf(cc->op[cc->n_op].name, sizeof(cc->op[cc->n_op].name), "%s", name);
		cc->op[cc->n_op++].n = 1;
	}
}

static const char *opcode_name(const char *raw)
{
	static const struct {
		const char *hex, *name;
	} names[] = {
		{ "0x4a", "GET_EVENT_STATUS_NOTIFICATION" },
		{ "0x46", "GET_CONFIGURATION" },
		{ "0x51", "READ_DISC_INFORMATION" },
		{ "0x5a", "MODE_SENSE_10" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(raw, names[i].hex) == 0)
			return names[i].name;
	return raw;
}

/* Count the dispatched commands in the trace buffer. */
static int trace_collect(struct cmdcount *cc)
{
	char p[160], *buf = NULL, *line, *save = NULL;
	size_t cap = 0, len = 0;
	int fd;

	snprintf(p, sizeof(p), "%s/trace", tracedir);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (len + 65536 > cap) {
			char *nb = realloc(buf, cap + 262144);

			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
			cap += 262144;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf)
		return 0;
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *ev = strstr(line, "scsi_dispatch_cmd_start:"), *cmd;
		unsigned h, c, t;
		unsigned long long l;

		if (!ev)
			continue;
		ev = strstr(ev, "host_no=");
		if (!ev || sscanf(ev, "host_no=%u channel=%u id=%u lun=%llu", &h, &c, &t, &l) != 4)
			continue;
		if (tg.scsi && h == tg.h && c == tg.c && t == tg.t && l == tg.l) {
			char name[40] = "?";

			cc->target++;
			cmd = strstr(ev, "cmnd=(");
			if (cmd && sscanf(cmd + 6, "%39[^ )]", name) == 1)
				cmd_add_op(cc, opcode_name(name));
			else
				cmd_add_op(cc, "?");
		} else {
			char a[48];

			cc->others++;
			snprintf(a, sizeof(a), " %u:%u:%u:%llu", h, c, t, l);
			if (!strstr(cc->other_addrs, a) &&
			    strlen(cc->other_addrs) + strlen(a) < sizeof(cc->other_addrs))
				strcat(cc->other_addrs, a);
		}
	}
	free(buf);
	return 0;
}

static void ops_string(const struct cmdcount *cc, long reps, char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < cc->n_op && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s %.1f", i ? ", " : "",
		                        cc->op[i].name, (double)cc->op[i].n / (double)reps);
}

/* Media polling (every 2 s per drive with udev's rules) sends commands of
 * its own: switched off during the measurement, put back afterwards. */
struct poll_saved {
	char path[PATH_MAX];
	char value[16];
};

static struct poll_saved *polls;
static size_t n_polls;

static void polling_off(void)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[PATH_MAX], v[16];
		struct poll_saved *np;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/events_poll_msecs", de->d_name);
		if (read_file(p, v, sizeof(v)) < 0)
			continue;
		np = realloc(polls, (n_polls + 1) * sizeof(*polls));
		if (!np)
			break;
		polls = np;
		snprintf(polls[n_polls].path, sizeof(polls[n_polls].path), "%s", p);
		snprintf(polls[n_polls].value, sizeof(polls[n_polls].value), "%s", v);
		if (write_file(p, "0") == 0)
			n_polls++;
	}
	closedir(d);
}

static void polling_restore(void)
{
	for (size_t i = 0; i < n_polls; i++)
		write_file(polls[i].path, polls[i].value);
	free(polls);
	polls = NULL;
	n_polls = 0;
}

static void section_intrusive(void)
{
	struct cmdcount lib = { 0 }, flr = { 0 }, idle = { 0 }, rep = { 0 };
	struct cmdcount loop_lib = { 0 }, loop_flr = { 0 };
	int64_t lib_ns = 0;
	char s1[300], s2[300];
	int r = 0;

	progress("4: SCSI commands per drive, %d lock+unlock and floor rounds", opt.intrusive_reps);
	if (geteuid() != 0 || !tg.scsi || !tracefs_init()) {
		row("4", "SCSI commands per drive", NULL, NULL,
		    "n/a (needs root, a SCSI drive and tracefs)");
		return;
	}
	polling_off();
	sleep_us(300000); /* a poll already under way ends */
	if (trace_write("events/scsi/scsi_dispatch_cmd_start/enable", "1") < 0 ||
	    trace_write("tracing_on", "1") < 0) {
		row("4", "SCSI commands per drive", NULL, NULL, "n/a (cannot enable the event)");
		polling_restore();
		return;
	}
	for (int i = 0; i < opt.intrusive_reps && r == 0; i++) {
		int64_t t0;

		/* each window: from a quiet drive to 100 ms after the op, so
		 * that the event check the kernel queues at the close (a
		 * kworker's GET EVENT STATUS NOTIFICATION and TEST UNIT
		 * READY) is counted with the op that caused it */
		sleep_us(100000);
		trace_clear();
		t0 = now_ns();
		r = lib_lock_unlock(tg.spec);
		lib_ns += now_ns() - t0;
		sleep_us(100000);
		trace_collect(&lib);
		if (r < 0) {
			fail("lock+unlock: %s", strerror(-r));
			break;
		}
		sleep_us(100000);
		trace_clear();
		r = floor_lock_unlock();
		sleep_us(100000);
		trace_collect(&flr);
		if (r < 0) {
			fail("floor: %s", strerror(-r));
			break;
		}
	}
	/* back to back, as section 1 runs them: the event check that a close
	 * queues is cancelled by the next open when it has not started yet */
	for (int pass = 0; pass < 2 && r == 0; pass++) {
		sleep_us(100000);
		trace_clear();
		for (int i = 0; i < opt.intrusive_reps && r == 0; i++)
			r = pass == 0 ? lib_lock_unlock(tg.spec) : floor_lock_unlock();
		sleep_us(100000);
		trace_collect(pass == 0 ? &loop_lib : &loop_flr);
	}
	/* the same time with nothing done: what the system sends by itself */
	trace_clear();
	sleep_us((long)(lib_ns / 1000) + 100000L * opt.intrusive_reps);
	trace_collect(&idle);
	/* once with the re-probe (the default), and 3 s for udev to act on it */
	trace_clear();
	{
		struct ddlp_lock *l;

		if (ddlp_lock(tg.spec, DDLP_EXCLUSIVE, 5000, 0, &l) == 0)
			ddlp_unlock(l);
	}
	sleep_us(3000000);
	trace_collect(&rep);
	trace_write("events/scsi/scsi_dispatch_cmd_start/enable", "0");
	polling_restore();

	{
		double n = opt.intrusive_reps;
		double lt = (double)lib.target / n, lo = (double)lib.others / n;
		double ft = (double)flr.target / n, fo = (double)flr.others / n;

		row("4", "SCSI commands to other drives per lock+unlock (libddlp; floor)", "0",
		    verdict(lib.others == 0), "%.2f; %.2f%s%s", lo, fo, lib.others ? " at" : "",
		    lib.other_addrs);
		ops_string(&lib, opt.intrusive_reps, s1, sizeof(s1));
		ops_string(&flr, opt.intrusive_reps, s2, sizeof(s2));
		row("4", "SCSI commands to the target per lock+unlock (libddlp; floor)", "<= floor",
		    verdict(lib.target <= flr.target), "%.2f; %.2f", lt, ft);
		detail("- SCSI commands to the target per lock+unlock, libddlp: %s; floor: %s "
		       "(tracefs, %d rounds each, media polling off)",
		       s1[0] ? s1 : "none", s2[0] ? s2 : "none", opt.intrusive_reps);
		detail("- with media polling off, an idle window as long as the %d lock+unlock "
		       "windows (%.0f ms) saw %ld commands (target %ld, others %ld)",
		       opt.intrusive_reps, ms(lib_ns) + 100.0 * opt.intrusive_reps,
		       idle.target + idle.others, idle.target, idle.others);
		detail("- back to back (%d rounds in a row, as in section 1), commands per round to "
		       "the target: libddlp %.2f, floor %.2f; to other drives: %.2f, %.2f",
		       opt.intrusive_reps, (double)loop_lib.target / n, (double)loop_flr.target / n,
		       (double)loop_lib.others / n, (double)loop_flr.others / n);
		ops_string(&rep, 1, s1, sizeof(s1));
		detail("- one lock+unlock with the default re-probe, and 3 s for udev to act on it: "
		       "%ld commands to the target (%s), %ld to other drives%s",
		       rep.target, s1[0] ? s1 : "none", rep.others, rep.other_addrs);
		kv("cmds_target_lib", "%.2f", lt);
		kv("cmds_target_floor", "%.2f", ft);
		kv("cmds_others_lib", "%.2f", lo);
		kv("cmds_others_floor", "%.2f", fo);
		kv("cmds_idle", "%ld", idle.target + idle.others);
		kv("cmds_reprobe_target", "%ld", rep.target);
	}
}

/* ------------------------------------------------------------------ *
 * 5. Hand-off latency
 * ------------------------------------------------------------------ */

/* Is pid asleep in poll(2)?  1 yes, 0 no, -1 it is gone. */
static int in_poll(pid_t pid)
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

static int wait_in_poll(pid_t pid, int timeout_ms)
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

/* Blocks until an IN_OPEN of the watched node; its arrival time. */
static int64_t wait_open_event(int ifd, int timeout_ms)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		struct pollfd pfd = { .fd = ifd, .events = POLLIN };
		int64_t left = (end - now_ns()) / 1000000;
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = read(ifd, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_OPEN)
				return now_ns();
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void drain(int ifd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(ifd, buf, sizeof(buf)) > 0)
		;
}

struct wmsg {
	int r;
	int64_t t;
};

static void lib_waiter(int cmd_fd, int res_fd)
{
	char c;

	while (read(cmd_fd, &c, 1) == 1) {
		struct ddlp_lock *l = NULL;
		struct wmsg m;

		m.r = ddlp_lock(tg.spec, DDLP_EXCLUSIVE, 30000, DDLP_LOCK_NO_REPROBE, &l);
		m.t = now_ns();
		if (m.r == 0)
			ddlp_unlock(l);
		if (write(res_fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
			_exit(2);
	}
	_exit(0);
}

static pid_t spawn(char *const argv[], bool quiet)
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

/* One lock+unlock of an idle drive (100 ms after anything else), as a
 * program that locks once does it: the median of 30. */
static int64_t isolated_p50(void)
{
	int64_t v[30];

	if (isolated_lib_p50 > 0)
		return isolated_lib_p50; /* section 1 measured it */

	for (int i = 0; i < 30; i++) {
		int64_t t0;

		sleep_us(100000);
		t0 = now_ns();
		if (lib_lock_unlock(tg.spec) < 0)
			return 0;
		v[i] = now_ns() - t0;
	}
	return stats_of(v, 30).p50;
}

/* The holder is this process (a libddlp lock); the waiter is either a
 * child in ddlp_lock() with a 30 s timeout, or `ddlp-lock -w 30`.  Each
 * round: the holder locks, the waiter starts waiting, the holder waits
 * until the waiter sleeps in poll(2) (/proc/PID/syscall), then t0 = now and
 * ddlp_unlock().  t1: the waiter's own clock right after ddlp_lock()
 * returned (library), or the arrival of the inotify IN_OPEN of the last
 * node of the lock order, which the waiter opens last (both; for the tool
 * it is the only clock: its command would add an exec). */
static int handoff_rounds(bool cli, int rounds, int64_t *lat, int64_t *lat_ev, int64_t *unl)
{
	int cmd[2] = { -1, -1 }, res[2] = { -1, -1 }, ifd, n = 0;
	pid_t child = -1;
	const char *last = tg.node[tg.n - 1].path;

	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0 || inotify_add_watch(ifd, last, IN_OPEN) < 0) {
		fail("inotify on %s: %s", last, strerror(errno));
		if (ifd >= 0)
			close(ifd);
		return 0;
	}
	if (!cli) {
		if (pipe2(cmd, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0) {
			fail("pipe: %s", strerror(errno));
			goto out;
		}
		child = fork();
		if (child < 0) {
			fail("fork: %s", strerror(errno));
			goto out;
		}
		if (child == 0) {
			close(cmd[1]);
			close(res[0]);
			lib_waiter(cmd[0], res[1]);
		}
		close(cmd[0]);
		close(res[1]);
		cmd[0] = res[1] = -1;
	}
	for (int i = 0; i < rounds; i++) {
		struct ddlp_lock *hold;
		int64_t t0, t0e, tev;
		struct wmsg m = { 0, 0 };
		int r;

		r = lib_lock(tg.spec, &hold);
		if (r < 0) {
			fail("hand-off holder lock: %s", strerror(-r));
			break;
		}
		if (cli) {
			char *argv[] = { (char *)opt.ddlp_lock, "-w", "30", "--no-reprobe",
			                 tg.spec, "true", NULL };

			child = spawn(argv, false);
			if (child < 0) {
				fail("%s: %s", opt.ddlp_lock, strerror(errno));
				ddlp_unlock(hold);
				break;
			}
		} else if (write(cmd[1], "g", 1) != 1) {
			fail("waiter gone");
			ddlp_unlock(hold);
			break;
		}
		r = wait_in_poll(child, 20000);
		if (r < 0) {
			fail("the %s waiter never slept in poll (%s)", cli ? "ddlp-lock" : "library",
			     strerror(-r));
			ddlp_unlock(hold);
			break;
		}
		sleep_us(1000 + rand() % 2000);
		drain(ifd);
		t0 = now_ns();
		ddlp_unlock(hold);
		t0e = now_ns();
		tev = wait_open_event(ifd, 20000);
		if (cli) {
			int status;

			if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
			    WEXITSTATUS(status) != 0) {
				fail("ddlp-lock -w ended with status 0x%x", status);
				break;
			}
			child = -1;
			m.t = tev;
		} else {
			if (read(res[0], &m, sizeof(m)) != (ssize_t)sizeof(m) || m.r != 0) {
				fail("library waiter: %s", strerror(-m.r));
				break;
			}
		}
		if (tev < 0) {
			fail("no open of %s seen after the hand-off", last);
			break;
		}
		lat[n] = m.t - t0;
		lat_ev[n] = tev - t0;
		unl[n] = t0e - t0;
		n++;
	}
out:
	if (!cli && child > 0) {
		if (cmd[1] >= 0)
			close(cmd[1]);
		cmd[1] = -1;
		waitpid(child, NULL, 0);
	}
	for (int i = 0; i < 2; i++) {
		if (cmd[i] >= 0)
			close(cmd[i]);
		if (res[i] >= 0)
			close(res[i]);
	}
	close(ifd);
	return n;
}

static void handoff_report(bool cli, int n, int64_t *lat, int64_t *ev, int64_t *unl,
                           int64_t base)
{
	const char *key = cli ? "cli" : "lib";
	int64_t *after = calloc((size_t)n, sizeof(int64_t));
	struct stats s, sa, se, su;
	char tgt[96], what[160], k[64];
	int slow = 0;

	if (!after)
		return;
	for (int i = 0; i < n; i++) {
		slow += lat[i] >= 400000000;
		after[i] = lat[i] - unl[i];
	}
	s = stats_of(lat, (size_t)n);
	sa = stats_of(after, (size_t)n);
	se = stats_of(ev, (size_t)n);
	su = stats_of(unl, (size_t)n);
	snprintf(tgt, sizeof(tgt), "p50 <= one lock+unlock of an idle drive (%.3f ms)", ms(base));
	snprintf(what, sizeof(what),
	         "hand-off to %s, from the holder's unlock call (p50 / p99 / max; p50 from the "
	         "unlock's return)",
	         cli ? "`ddlp-lock -w 30` (lock taken)" : "a waiter in ddlp_lock(timeout)");
	row("5", what, tgt, verdict(s.p50 <= base), "%.3f / %.3f / %.3f ms; %.3f ms (n=%d)",
	    ms(s.p50), ms(s.p99), ms(s.max), ms(sa.p50), n);
	if (!cli)
		detail("- hand-off, library waiter: the holder's ddlp_unlock() took %.3f ms (median); "
		       "the waiter's open of %s, the last node of the order, came %.3f ms (median) "
		       "after the unlock call",
		       ms(su.p50), tg.node[tg.n - 1].path, ms(se.p50));
	if (slow)
		detail("- hand-off, %s: %d of %d hand-offs took 400 ms or more (the waiter slept "
		       "until its 500 ms fallback retry)",
		       cli ? "ddlp-lock -w" : "library waiter", slow, n);
	snprintf(k, sizeof(k), "handoff_%s_p50_ms", key);
	kv(k, "%.3f", ms(s.p50));
	snprintf(k, sizeof(k), "handoff_%s_p99_ms", key);
	kv(k, "%.3f", ms(s.p99));
	snprintf(k, sizeof(k), "handoff_%s_max_ms", key);
	kv(k, "%.3f", ms(s.max));
	snprintf(k, sizeof(k), "handoff_%s_after_unlock_p50_ms", key);
	kv(k, "%.3f", ms(sa.p50));
	snprintf(k, sizeof(k), "handoff_%s_n", key);
	kv(k, "%d", n);
	snprintf(k, sizeof(k), "handoff_%s_slow", key);
	kv(k, "%d", slow);
	free(after);
}

static void section_handoff(void)
{
	int64_t base = isolated_p50();
	int max = opt.handoffs > opt.cli_handoffs ? opt.handoffs : opt.cli_handoffs;
	int64_t *lat = calloc((size_t)max + 1, sizeof(int64_t));
	int64_t *ev = calloc((size_t)max + 1, sizeof(int64_t));
	int64_t *unl = calloc((size_t)max + 1, sizeof(int64_t));
	int n;

	if (!lat || !ev || !unl) {
		fail("out of memory");
		goto out;
	}
	if (base <= 0) {
		fail("lock+unlock for the hand-off baseline failed");
		goto out;
	}
	if (lock_stats.n)
		row("5", "baseline: one lock+unlock of an idle drive, 100 ms after anything else "
		         "(median; section 1's back-to-back median for comparison)",
		    NULL, NULL, "%.3f ms; %.3f ms", ms(base), ms(lock_stats.p50));
	else
		row("5", "baseline: one lock+unlock of an idle drive, 100 ms after anything else "
		         "(median of 30)",
		    NULL, NULL, "%.3f ms", ms(base));
	kv("handoff_base_ms", "%.3f", ms(base));
	if (opt.handoffs > 0) {
		progress("5: %d hand-offs to a waiter in ddlp_lock()", opt.handoffs);
		n = handoff_rounds(false, opt.handoffs, lat, ev, unl);
		if (n > 0)
			handoff_report(false, n, lat, ev, unl, base);
	}
	if (opt.cli_handoffs > 0 && opt.ddlp_lock) {
		progress("5: %d hand-offs to ddlp-lock -w", opt.cli_handoffs);
		n = handoff_rounds(true, opt.cli_handoffs, lat, ev, unl);
		if (n > 0)
			handoff_report(true, n, lat, ev, unl, base);
	}
out:
	free(lat);
	free(ev);
	free(unl);
}

/* ------------------------------------------------------------------ *
 * 5. CPU time of a waiter
 * ------------------------------------------------------------------ */

static double tv_ms(struct timeval tv)
{
	return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

static double rusage_ms(const struct rusage *r)
{
	return tv_ms(r->ru_utime) + tv_ms(r->ru_stime);
}

/* Time pid has run on a CPU (ns): /proc/PID/schedstat, else stat's ticks. */
static int64_t cpu_ns(pid_t pid)
{
	char p[64], buf[1024];
	long long run;

	snprintf(p, sizeof(p), "/proc/%ld/schedstat", (long)pid);
	if (read_file(p, buf, sizeof(buf)) > 0 && sscanf(buf, "%lld", &run) == 1)
		return run;
	snprintf(p, sizeof(p), "/proc/%ld/stat", (long)pid);
	if (read_file(p, buf, sizeof(buf)) > 0) {
		const char *q = strrchr(buf, ')');
		unsigned long long ut, stime;

		if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		                &stime) == 2)
			return (int64_t)((ut + stime) * (1000000000ull / (unsigned long long)sysconf(_SC_CLK_TCK)));
	}
	return -1;
}

/* Both waiters wait for opt.wait_ms on a drive this process holds: a child
 * in ddlp_lock() (getrusage around the call), and `ddlp-lock -w`
 * (wait4's rusage).  Besides the whole call or process, the CPU time of the
 * waiting phase alone: /proc/PID/schedstat from the moment the waiter
 * first sleeps in poll(2) to 300 ms before its deadline. */
static void section_cpu(void)
{
	struct ddlp_lock *hold;
	struct rusage ru;
	pid_t lib, cli = -1;
	int p[2], r, status;
	double lib_cpu = -1, lib_wall = 0, cli_cpu = -1, cli_wall = 0;
	int64_t start, t0 = 0, t1 = 0, l0 = -1, l1 = -1, c0 = -1, c1 = -1;

	progress("5: CPU time of waiters waiting %d ms", opt.wait_ms);
	r = lib_lock(tg.spec, &hold);
	if (r < 0) {
		fail("cpu: holder lock: %s", strerror(-r));
		return;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		fail("pipe: %s", strerror(errno));
		ddlp_unlock(hold);
		return;
	}
	start = now_ns();
	lib = fork();
	if (lib == 0) {
		struct rusage a, b;
		struct ddlp_lock *l;
		double m[2];
		int64_t s = now_ns();

		getrusage(RUSAGE_SELF, &a);
		r = ddlp_lock(tg.spec, DDLP_EXCLUSIVE, opt.wait_ms, DDLP_LOCK_NO_REPROBE, &l);
		getrusage(RUSAGE_SELF, &b);
		m[0] = rusage_ms(&b) - rusage_ms(&a);
		m[1] = ms(now_ns() - s);
		if (write(p[1], m, sizeof(m)) != (ssize_t)sizeof(m))
			_exit(2);
		_exit(r == -ETIMEDOUT ? 0 : 1);
	}
	close(p[1]);
	if (opt.ddlp_lock) {
		char secs[32];
		char *argv[] = { (char *)opt.ddlp_lock, "-w", secs, "--no-reprobe", tg.spec,
		                 "true", NULL };

		snprintf(secs, sizeof(secs), "%.3f", opt.wait_ms / 1000.0);
		cli = spawn(argv, true);
	}
	if (lib > 0 && wait_in_poll(lib, opt.wait_ms) == 0)
		l0 = cpu_ns(lib);
	if (cli > 0 && wait_in_poll(cli, opt.wait_ms) == 0)
		c0 = cpu_ns(cli);
	t0 = now_ns();
	if (start + (int64_t)(opt.wait_ms - 300) * 1000000 > t0)
		sleep_us((long)((start + (int64_t)(opt.wait_ms - 300) * 1000000 - t0) / 1000));
	if (l0 >= 0)
		l1 = cpu_ns(lib);
	if (c0 >= 0)
		c1 = cpu_ns(cli);
	t1 = now_ns();
	if (lib > 0) {
		double m[2];

		if (read(p[0], m, sizeof(m)) == (ssize_t)sizeof(m)) {
			lib_cpu = m[0];
			lib_wall = m[1];
		}
		if (waitpid(lib, &status, 0) != lib || !WIFEXITED(status) || WEXITSTATUS(status))
			fail("the library waiter did not time out (status 0x%x)", status);
	}
	close(p[0]);
	if (cli > 0 && wait4(cli, &status, 0, &ru) == cli) {
		cli_wall = ms(now_ns() - start);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
			cli_cpu = rusage_ms(&ru);
		else
			fail("ddlp-lock -w on a held drive: status 0x%x", status);
	}
	ddlp_unlock(hold);
	if (lib_cpu >= 0) {
		double pct = 100.0 * lib_cpu / lib_wall;
		double spct = l1 >= l0 && l0 >= 0 ? 100.0 * (double)(l1 - l0) / (double)(t1 - t0) : -1;

		row("5", "CPU time of a waiter in ddlp_lock(): the whole call (getrusage); the waiting "
		         "phase alone (schedstat)",
		    "<= 1%", verdict(pct <= 1.0), "%.1f ms in %.0f ms (%.3f%%); %.2f ms in %.0f ms (%.3f%%)",
		    lib_cpu, lib_wall, pct, ms(l1 - l0), ms(t1 - t0), spct);
		kv("waitcpu_lib_ms", "%.1f", lib_cpu);
		kv("waitcpu_lib_pct", "%.3f", pct);
		kv("waitcpu_lib_steady_pct", "%.3f", spct);
	}
	if (cli_cpu >= 0) {
		double spct = c1 >= c0 && c0 >= 0 ? 100.0 * (double)(c1 - c0) / (double)(t1 - t0) : -1;

		row("5", "CPU time of `ddlp-lock -w`: the waiting phase (schedstat); the whole process "
		         "with its start (wait4)",
		    "<= 1%", verdict(spct >= 0 && spct <= 1.0),
		    "%.2f ms in %.0f ms (%.3f%%); %.1f ms in %.0f ms", ms(c1 - c0), ms(t1 - t0), spct,
		    cli_cpu, cli_wall);
		kv("waitcpu_cli_ms", "%.1f", cli_cpu);
		kv("waitcpu_cli_steady_pct", "%.3f", spct);
	}
}

/* ------------------------------------------------------------------ *
 * 6. Contention
 * ------------------------------------------------------------------ */

struct shared {
	atomic_int go, stop, inside;
	atomic_long overlaps, errors, timeouts;
	atomic_long acq[WORKERS];
	atomic_int first_error;
};

static struct shared *sh;

static void *worker(void *arg)
{
	int idx = (int)(intptr_t)arg;

	while (!atomic_load(&sh->go))
		sleep_us(200);
	while (!atomic_load(&sh->stop)) {
		struct ddlp_lock *l;
		int r = ddlp_lock(tg.spec, DDLP_EXCLUSIVE, 1000, DDLP_LOCK_NO_REPROBE, &l);

		if (r == -ETIMEDOUT) {
			atomic_fetch_add(&sh->timeouts, 1);
			continue;
		}
		if (r < 0) {
			int zero = 0;

			atomic_fetch_add(&sh->errors, 1);
			atomic_compare_exchange_strong(&sh->first_error, &zero, r);
			sleep_us(1000);
			continue;
		}
		if (atomic_fetch_add(&sh->inside, 1) != 0)
			atomic_fetch_add(&sh->overlaps, 1);
		atomic_fetch_add(&sh->acq[idx], 1);
		if (opt.hold_us > 0)
			sleep_us(opt.hold_us);
		if (atomic_fetch_sub(&sh->inside, 1) != 1)
			atomic_fetch_add(&sh->overlaps, 1);
		ddlp_unlock(l);
	}
	return NULL;
}

static void section_contention(void)
{
	pid_t pids[WORKERS_PROCS];
	int64_t t0, t1;
	long total = 0, mx = 0, mn = LONG_MAX;
	double ratio;
	char per[200] = "";
	size_t len = 0;

	progress("6: contention, %d processes x %d threads, %d ms", WORKERS_PROCS, WORKERS_THREADS,
	         opt.contention_ms);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		fail("mmap: %s", strerror(errno));
		return;
	}
	memset(sh, 0, sizeof(*sh));
	for (int p = 0; p < WORKERS_PROCS; p++) {
		pids[p] = fork();
		if (pids[p] < 0) {
			fail("fork: %s", strerror(errno));
			atomic_store(&sh->stop, 1);
			atomic_store(&sh->go, 1);
			for (int q = 0; q < p; q++)
				waitpid(pids[q], NULL, 0);
			return;
		}
		if (pids[p] == 0) {
			pthread_t th[WORKERS_THREADS];

			for (int t = 1; t < WORKERS_THREADS; t++)
				if (pthread_create(&th[t], NULL, worker,
				                   (void *)(intptr_t)(p * WORKERS_THREADS + t)) != 0)
					_exit(3);
			worker((void *)(intptr_t)(p * WORKERS_THREADS));
			for (int t = 1; t < WORKERS_THREADS; t++)
				pthread_join(th[t], NULL);
			_exit(0);
		}
	}
	sleep_us(200000);
	t0 = now_ns();
	atomic_store(&sh->go, 1);
	sleep_us((long)opt.contention_ms * 1000);
	atomic_store(&sh->stop, 1);
	t1 = now_ns();
	for (int p = 0; p < WORKERS_PROCS; p++) {
		int status;

		if (waitpid(pids[p], &status, 0) != pids[p] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			fail("contention worker process %d: status 0x%x", p, status);
	}
	for (int w = 0; w < WORKERS; w++) {
		long a = atomic_load(&sh->acq[w]);

		total += a;
		if (a > mx)
			mx = a;
		if (a < mn)
			mn = a;
		len += (size_t)snprintf(per + len, sizeof(per) - len, "%s%ld", w ? " " : "", a);
	}
	ratio = mn > 0 ? (double)mx / (double)mn : INFINITY;
	row("6", "contention: locks per second (8 workers: 4 processes x 2 threads)", NULL, NULL,
	    "%.1f/s (%ld in %.1f s, hold %d us)", (double)total / ((double)(t1 - t0) / 1e9), total,
	    (double)(t1 - t0) / 1e9, opt.hold_us);
	row("6", "contention: acquisitions per worker, max / min", "<= 2", verdict(ratio <= 2.0),
	    "%ld / %ld = %.2f (all: %s)", mx, mn, ratio, per);
	row("6", "contention: overlaps (shared-memory checker)", "0",
	    verdict(atomic_load(&sh->overlaps) == 0), "%ld", atomic_load(&sh->overlaps));
	if (atomic_load(&sh->timeouts) || atomic_load(&sh->errors))
		detail("- contention: %ld waits ran into their 1 s timeout and started again; %ld "
		       "lock errors (first: %s)",
		       atomic_load(&sh->timeouts), atomic_load(&sh->errors),
		       atomic_load(&sh->first_error) ? strerror(-atomic_load(&sh->first_error))
		                                     : "none");
	kv("cont_locks_per_s", "%.1f", (double)total / ((double)(t1 - t0) / 1e9));
	kv("cont_max", "%ld", mx);
	kv("cont_min", "%ld", mn);
	kv("cont_ratio", "%.2f", ratio);
	kv("cont_overlaps", "%ld", atomic_load(&sh->overlaps));
	kv("cont_timeouts", "%ld", atomic_load(&sh->timeouts));
	kv("cont_errors", "%ld", atomic_load(&sh->errors));
	if (atomic_load(&sh->overlaps))
		fail("%ld overlaps under contention", atomic_load(&sh->overlaps));
	if (atomic_load(&sh->errors))
		fail("%ld lock errors under contention", atomic_load(&sh->errors));
	munmap(sh, sizeof(*sh));
	sh = NULL;
}

/* ------------------------------------------------------------------ *
 * 7. The tool
 * ------------------------------------------------------------------ */

static void settle(void)
{
	char *argv[] = { "udevadm", "settle", "--timeout=10", NULL };
	pid_t pid = spawn(argv, true);

	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static bool in_path(const char *prog)
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

#ifdef HAVE_SYSCALL_COUNTER
/* System calls of a whole process (from its execve), children not counted. */
static long count_process(char *const argv[])
{
	struct sc_count c;
	int status = 0;
	long total;
	pid_t pid;

	memset(&c, 0, sizeof(c));
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(3);
		raise(SIGSTOP);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (sc_follow(pid, false, &c, 1, &status) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		sc_free(&c);
		return -1;
	}
	total = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? c.total : -1;
	sc_free(&c);
	return total;
}
#endif

static void section_tool(void)
{
	enum { T_DDLP, T_DDLP_NR, T_FLOCK, T_UDEVADM, T_DDLP_VER, T_FLOCK_VER, N_TOOLS };
	static const char *labels[N_TOOLS] = { "`ddlp-lock DEV true`",
		                               "`ddlp-lock --no-reprobe DEV true`",
		                               "`flock DEV true`", "`udevadm lock --device=DEV true`",
		                               "`ddlp-lock --version` (no lock)",
		                               "`flock --version` (no lock)" };
	static const char *keys[N_TOOLS] = { "ddlp", "ddlp_norep", "flock", "udevadm", "ddlp_ver",
		                             "flock_ver" };
	char devopt[PATH_MAX + 16];
	char *argv[N_TOOLS][6] = {
		{ (char *)opt.ddlp_lock, tg.block, "true", NULL },
		{ (char *)opt.ddlp_lock, "--no-reprobe", tg.block, "true", NULL },
		{ "flock", tg.block, "true", NULL },
		{ "udevadm", "lock", devopt, "true", NULL },
		{ (char *)opt.ddlp_lock, "--version", NULL },
		{ "flock", "--version", NULL },
	};
	bool have[N_TOOLS];
	int64_t *v[N_TOOLS] = { NULL };
	struct stats s[N_TOOLS];
	int n = opt.tool_runs;

	snprintf(devopt, sizeof(devopt), "--device=%s", tg.block);
	have[T_DDLP] = have[T_DDLP_NR] = have[T_DDLP_VER] =
		opt.ddlp_lock && access(opt.ddlp_lock, X_OK) == 0;
	have[T_FLOCK] = have[T_FLOCK_VER] = in_path("flock");
	have[T_UDEVADM] = in_path("udevadm");
	progress("7: the tool, %d runs of each", n);
	for (int k = 0; k < N_TOOLS; k++) {
		v[k] = calloc((size_t)n, sizeof(int64_t));
		if (!v[k]) {
			fail("out of memory");
			goto out;
		}
	}
	settle();
	for (int i = 0; i < n; i++)
		for (int j = 0; j < N_TOOLS; j++) {
			int k = (i + j) % N_TOOLS, status;
			int64_t t0;
			pid_t pid;

			if (!have[k])
				continue;
			t0 = now_ns();
			pid = spawn(argv[k], true);
			if (pid < 0 || waitpid(pid, &status, 0) != pid) {
				fail("%s: %s", argv[k][0], strerror(errno));
				have[k] = false;
				continue;
			}
			v[k][i] = now_ns() - t0;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				fail("%s ended with status 0x%x", labels[k], status);
				have[k] = false;
			}
			if (k == T_DDLP)
				settle(); /* udev's re-probe: not on the next tool's time */
		}
	for (int k = 0; k < N_TOOLS; k++) {
		char key[64], what[160];

		if (!have[k]) {
			row("7", labels[k], NULL, NULL, "n/a");
			continue;
		}
		s[k] = stats_of(v[k], (size_t)n);
		snprintf(what, sizeof(what), "%s, whole process (median / p90)", labels[k]);
		row("7", what, NULL, NULL, "%.2f / %.2f ms", ms(s[k].p50), ms(s[k].p90));
		snprintf(key, sizeof(key), "tool_%s_p50_ms", keys[k]);
		kv(key, "%.2f", ms(s[k].p50));
	}
	if (have[T_DDLP] && have[T_FLOCK]) {
		double r1 = (double)s[T_DDLP].p50 / (double)s[T_FLOCK].p50;
		double r2 = (double)s[T_DDLP_NR].p50 / (double)s[T_FLOCK].p50;

		row("7", "`ddlp-lock DEV true` / `flock DEV true` (medians; --no-reprobe)", "<= 1.3x",
		    verdict(r1 <= 1.3), "%.2fx; %.2fx", r1, r2);
		kv("tool_ratio", "%.2f", r1);
		kv("tool_ratio_norep", "%.2f", r2);
	}
	if (have[T_DDLP_VER] && have[T_FLOCK_VER]) {
		double r3 = (double)s[T_DDLP_VER].p50 / (double)s[T_FLOCK_VER].p50;

		row("7", "process start alone: `ddlp-lock --version` / `flock --version`; the lock's "
		         "share: (ddlp-lock DEV true - ddlp-lock --version) / (flock DEV true - flock "
		         "--version)",
		    NULL, NULL, "%.2fx; %.2fx", r3,
		    (double)(s[T_DDLP].p50 - s[T_DDLP_VER].p50) /
		        (double)(s[T_FLOCK].p50 - s[T_FLOCK_VER].p50));
		kv("tool_start_ratio", "%.2f", r3);
	}
	if (have[T_DDLP] && have[T_UDEVADM])
		kv("tool_ratio_udevadm", "%.2f",
		   (double)s[T_DDLP].p50 / (double)s[T_UDEVADM].p50);
#ifdef HAVE_SYSCALL_COUNTER
	{
		char line[400] = "";
		size_t len = 0;

		for (int k = 0; k < N_TOOLS; k++) {
			long c = have[k] ? count_process(argv[k]) : -1;
			char key[64];

			if (k == T_DDLP)
				settle();
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %ld",
			                        k ? "; " : "", labels[k], c);
			snprintf(key, sizeof(key), "sys_tool_%s", keys[k]);
			kv(key, "%ld", c);
		}
		row("7", "system calls of the whole process (execve to exit, without `true`)", NULL,
		    NULL, "%s", line);
	}
#endif
	detail("- the tool is timed as posix_spawn() to waitpid(), stdout/stderr to /dev/null, "
	       "%d runs each, interleaved; ddlp-lock is the built binary (%s), not libtool's "
	       "wrapper script; after each default `ddlp-lock DEV true` (which asks udev to "
	       "re-probe) `udevadm settle` runs, untimed",
	       n, opt.ddlp_lock ? opt.ddlp_lock : "none");
out:
	for (int k = 0; k < N_TOOLS; k++)
		free(v[k]);
}

/* ------------------------------------------------------------------ *
 * main
 * ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage: ddlp-bench [options]\n"
	      "  --drive SPEC        the drive (default: the highest-numbered /dev/srN)\n"
	      "  --rounds N          lock+unlock and floor rounds (1000)\n"
	      "  --res-rounds N      resolutions per form (1000)\n"
	      "  --intrusive-reps N  traced lock+unlock rounds (20)\n"
	      "  --handoffs N        hand-offs to a waiter in ddlp_lock() (200)\n"
	      "  --cli-handoffs N    hand-offs to ddlp-lock -w (200)\n"
	      "  --wait-ms N         how long the CPU-time waiters wait (5000)\n"
	      "  --contention-ms N   contention run (10000)\n"
	      "  --hold-us N         time each contention worker holds the drive (1000)\n"
	      "  --tool-runs N       runs of each tool (30)\n"
	      "  --ddlp-lock PATH    the ddlp-lock binary (sections handoff, cpu, tool)\n"
	      "  --only LIST         sections: lock,resolve,syscalls,intrusive,handoff,cpu,\n"
	      "                      contention,tool (default: all)\n"
	      "  --short             fewer rounds (CI): 100, 100, 3, 20, 10, 2000 ms, 2000 ms, 5\n"
	      "  --title TEXT        heading of the table\n"
	      "  --md FILE           write the table there too\n"
	      "  --kv FILE           key=value figures (for bench/run-vm.sh)\n",
	      f);
}

static int parse_int(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end || v < 0 || v > 100000000) {
		fprintf(stderr, "ddlp-bench: bad %s: %s\n", what, s);
		exit(64);
	}
	return (int)v;
}

static unsigned parse_sections(const char *s)
{
	char *copy = xstrdup(s), *tok, *save = NULL;
	unsigned bits = 0;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(section_names) / sizeof(section_names[0]); i++)
			if (strcmp(tok, section_names[i].name) == 0)
				break;
		if (i == sizeof(section_names) / sizeof(section_names[0])) {
			fprintf(stderr, "ddlp-bench: unknown section %s\n", tok);
			exit(64);
		}
		bits |= section_names[i].bit;
	}
	free(copy);
	return bits;
}

static double cal_start, cal_end;

static void print_table(FILE *f, const char *kernel, const char *date, const char *load0,
                        const char *load1, double secs)
{
	fprintf(f, "### %s\n\n", opt.title ? opt.title : "ddlp-bench");
	fprintf(f, "- date %s, kernel %s, %ld CPUs, load average at start %s, at end %s, "
	           "%.0f s\n",
	        date, kernel, sysconf(_SC_NPROCESSORS_ONLN), load0, load1, secs);
	fprintf(f, "- speed of the VM: one getppid() took %.0f ns at the start, %.0f ns at the end\n",
	        cal_start, cal_end);
	fprintf(f, "- drives: %u sr drives; target `%s` (%s, %s), nodes:", tg.n_sr, tg.spec, tg.id,
	        tg.model[0] ? tg.model : "?");
	for (size_t i = 0; i < tg.n; i++)
		fprintf(f, " `%s`", tg.node[i].path);
	fputc('\n', f);
	if (tg.delay >= 0)
		fprintf(f, "- scsi_debug delay=%d jiffies%s, ndelay=%d\n", tg.delay,
		        tg.delay == 1 ? " (the default)" : "", tg.ndelay);
	fputs("- every lock is exclusive with DDLP_LOCK_NO_REPROBE, so that udev's re-probe "
	      "after an unlock does not run into the next lock (except where a row says so)\n\n",
	      f);
	fputs("| # | measure | value | target | |\n|---|---|---|---|---|\n", f);
	for (size_t i = 0; i < n_rows; i++)
		fprintf(f, "| %s | %s | %s | %s | %s |\n", rows[i].item, rows[i].what, rows[i].value,
		        rows[i].target, rows[i].verdict);
	fputc('\n', f);
	if (details_len)
		fprintf(f, "%s\n", details);
}

/* The speed of this (virtual) machine right now: one getppid() system call,
 * ns (median of 15 loops of 2000).  Under TCG on a shared host it varies
 * from run to run; figures divided by it can be compared across VMs. */
static double calibrate(void)
{
	int64_t v[15];

	for (int i = 0; i < 15; i++) {
		int64_t t0 = now_ns();

		for (int k = 0; k < 2000; k++)
			(void)syscall(SYS_getppid);
		v[i] = now_ns() - t0;
	}
	return (double)stats_of(v, 15).p50 / 2000.0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "drive", required_argument, NULL, 'd' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "res-rounds", required_argument, NULL, 'R' },
		{ "intrusive-reps", required_argument, NULL, 'i' },
		{ "handoffs", required_argument, NULL, 'H' },
		{ "cli-handoffs", required_argument, NULL, 'C' },
		{ "wait-ms", required_argument, NULL, 'W' },
		{ "contention-ms", required_argument, NULL, 'c' },
		{ "hold-us", required_argument, NULL, 'o' },
		{ "tool-runs", required_argument, NULL, 't' },
		{ "ddlp-lock", required_argument, NULL, 'L' },
		{ "only", required_argument, NULL, 'O' },
		{ "short", no_argument, NULL, 's' },
		{ "title", required_argument, NULL, 'T' },
		{ "md", required_argument, NULL, 'm' },
		{ "kv", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char spec[PATH_MAX], kernel[128], date[64], load0[64] = "?", load1[64] = "?";
	struct utsname un;
	time_t now = time(NULL);
	double cal0, cal1;
	int64_t start = now_ns();
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': opt.drive = optarg; break;
		case 'r': opt.rounds = parse_int(optarg, "--rounds"); break;
		case 'R': opt.res_rounds = parse_int(optarg, "--res-rounds"); break;
		case 'i': opt.intrusive_reps = parse_int(optarg, "--intrusive-reps"); break;
		case 'H': opt.handoffs = parse_int(optarg, "--handoffs"); break;
		case 'C': opt.cli_handoffs = parse_int(optarg, "--cli-handoffs"); break;
		case 'W': opt.wait_ms = parse_int(optarg, "--wait-ms"); break;
		case 'c': opt.contention_ms = parse_int(optarg, "--contention-ms"); break;
		case 'o': opt.hold_us = parse_int(optarg, "--hold-us"); break;
		case 't': opt.tool_runs = parse_int(optarg, "--tool-runs"); break;
		case 'L': opt.ddlp_lock = optarg; break;
		case 'O': opt.sections = parse_sections(optarg); break;
		case 's':
			opt.rounds = 100;
			opt.res_rounds = 100;
			opt.intrusive_reps = 3;
			opt.handoffs = 20;
			opt.cli_handoffs = 10;
			opt.wait_ms = 2000;
			opt.contention_ms = 2000;
			opt.tool_runs = 5;
			break;
		case 'T': opt.title = optarg; break;
		case 'm': opt.md_path = optarg; break;
		case 'k': opt.kv_path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 64;
	}
	if (opt.rounds < 1)
		opt.rounds = 1;
	if (opt.res_rounds < 1)
		opt.res_rounds = 1;
	if (opt.intrusive_reps < 1)
		opt.intrusive_reps = 1;
	if (opt.tool_runs < 1)
		opt.tool_runs = 1;
	if (opt.drive)
		snprintf(spec, sizeof(spec), "%s", opt.drive);
	else if (pick_default_drive(spec, sizeof(spec)) < 0) {
		fputs("ddlp-bench: no /dev/srN drive here (use --drive)\n", stderr);
		return 77;
	}
	if (target_init(spec) < 0)
		return 1;
	if (tg.n == 0) {
		fprintf(stderr, "ddlp-bench: %s has no nodes\n", spec);
		return 1;
	}
	if (opt.kv_path) {
		kvf = fopen(opt.kv_path, "we");
		if (!kvf) {
			fprintf(stderr, "ddlp-bench: %s: %s\n", opt.kv_path, strerror(errno));
			return 1;
		}
	}
	srand((unsigned)getpid());
	uname(&un);
	snprintf(kernel, sizeof(kernel), "%s", un.release);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
	read_file("/proc/loadavg", load0, sizeof(load0));
	if (strlen(load0) > 14)
		load0[14] = '\0';
	kv("date", "%s", date);
	kv("kernel", "%s", kernel);
	kv("drives", "%u", tg.n_sr);
	kv("target", "%s", tg.spec);
	kv("delay", "%d", tg.delay);
	kv("load_start", "%s", load0);
	cal0 = calibrate();

	forms_init();
	if (opt.sections & S_LOCK)
		section_lock();
	if (opt.sections & S_RESOLVE)
		section_resolve();
	if (opt.sections & S_SYSCALLS)
		section_syscalls();
	if (opt.sections & S_INTRUSIVE)
		section_intrusive();
	if (opt.sections & S_HANDOFF)
		section_handoff();
	if (opt.sections & S_CPU)
		section_cpu();
	if (opt.sections & S_CONTENTION)
		section_contention();
	if (opt.sections & S_TOOL)
		section_tool();
	if (alias_path[0])
		unlink(alias_path);

	read_file("/proc/loadavg", load1, sizeof(load1));
	if (strlen(load1) > 14)
		load1[14] = '\0';
	kv("load_end", "%s", load1);
	cal1 = calibrate();
	kv("cal_syscall_ns", "%.0f", (cal0 + cal1) / 2);
	cal_start = cal0;
	cal_end = cal1;
	kv("failures", "%d", failures);
	kv("seconds", "%.0f", (double)(now_ns() - start) / 1e9);
	print_table(stdout, kernel, date, load0, load1, (double)(now_ns() - start) / 1e9);
	if (opt.md_path) {
		FILE *f = fopen(opt.md_path, "we");

		if (f) {
			print_table(f, kernel, date, load0, load1, (double)(now_ns() - start) / 1e9);
			fclose(f);
		} else {
			fail("%s: %s", opt.md_path, strerror(errno));
		}
	}
	if (kvf)
		fclose(kvf);
	fflush(stdout);
	if (failures)
		fprintf(stderr, "ddlp-bench: %d failures\n", failures);
	return failures ? 1 : 0;
}
