/*
 * Section 11, what ddlp-guard costs (issue 13).
 *
 * An agent (ddlp-bench --agent opens PATH N FLAGS BATCH) opens and closes
 * PATH N times through libc, in batches of BATCH, each batch followed by
 * the same batch through raw system calls (which a preload does not see),
 * and prints the median per open+close of each and the median of the
 * batches' ratios libc / raw (which the machine's changing speed under TCG
 * moves far less than the times).  It runs plain and under
 * `ddlp-guard --no-reprobe -q` (--guard), alternately, 5 times each (3
 * with --short):
 *
 *   - a regular file in /tmp, 100,000 opens (10,000 with --short; batches
 *     of 1000), O_RDONLY: the guard looks at no plain open outside /dev
 *     (doc/guard.txt, section 2);
 *   - the same with O_RDONLY|O_NONBLOCK, the flags of a device open: one
 *     fstat after each open;
 *   - /dev/null, as many opens: a path in /dev costs one stat;
 *   - the target's block node, read-only, 20 opens (batches of 1): under
 *     the guard each open takes a shared lock of the whole drive first and
 *     each close releases it.  Against ddlp_lock(DDLP_SHARED,
 *     DDLP_LOCK_NO_REPROBE) + ddlp_unlock() in this process, 20 rounds
 *     interleaved with the agents' runs.
 *
 * The figures are the medians over the runs.  The guard's cost is the
 * ratio of the libc/raw ratios under the guard and without it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define MAX_RUNS 5

/* ---- the agent ---- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int guard_agent_main(int argc, char **argv)
{
	long n, batch;
	int flags, fd;
	int64_t *libc_ns, *raw_ns, *ratio;
	size_t k = 0, nb;

	if (argc != 5 || (strcmp(argv[3], "ro") != 0 && strcmp(argv[3], "ronb") != 0)) {
		fputs("ddlp-bench: --agent opens PATH N ro|ronb BATCH\n", stderr);
		return 64;
	}
	n = atol(argv[2]);
	batch = atol(argv[4]);
	if (n < 1 || batch < 1)
		return 64;
	flags = O_RDONLY | O_CLOEXEC | (strcmp(argv[3], "ronb") == 0 ? O_NONBLOCK : 0);
	nb = (size_t)((n + batch - 1) / batch);
	libc_ns = calloc(nb, sizeof(*libc_ns));
	raw_ns = calloc(nb, sizeof(*raw_ns));
	ratio = calloc(nb, sizeof(*ratio));
	if (!libc_ns || !raw_ns || !ratio)
		return 1;
	for (long done = 0; done < n; done += batch, k++) {
		int64_t t0 = now_ns(), t1;

		for (long i = 0; i < batch; i++) {
			fd = open(argv[1], flags);
			if (fd < 0) {
				printf("ERR %d\n", errno);
				return 1;
			}
			close(fd);
		}
		t1 = now_ns();
		for (long i = 0; i < batch; i++) {
			fd = (int)syscall(SYS_openat, AT_FDCWD, argv[1], flags);
			if (fd >= 0)
				syscall(SYS_close, fd);
		}
		libc_ns[k] = (t1 - t0) / batch;
		raw_ns[k] = (now_ns() - t1) / batch;
		ratio[k] = raw_ns[k] > 0 ? libc_ns[k] * 1000 / raw_ns[k] : 0;
	}
	qsort(libc_ns, k, sizeof(*libc_ns), cmp_i64);
	qsort(raw_ns, k, sizeof(*raw_ns), cmp_i64);
	qsort(ratio, k, sizeof(*ratio), cmp_i64);
	printf("%lld %lld %lld\n", (long long)libc_ns[k / 2], (long long)raw_ns[k / 2],
	       (long long)ratio[k / 2]);
	fflush(stdout);
	free(libc_ns);
	free(raw_ns);
	free(ratio);
	return 0;
}

/* ---- the section ---- */

static char self[PATH_MAX];

/* One agent run; 0 and its two medians, or -1. */
static int run_agent(bool guarded, const char *path, long n, const char *flags, long batch,
                     int64_t *libc_ns, int64_t *ratio)
{
	char ns[32], bs[32], line[128] = "";
	char *plain[] = { self, "--agent", "opens", (char *)path, ns, (char *)flags, bs, NULL };
	char *guard[] = { (char *)opt.guard, "--no-reprobe", "-q", self, "--agent", "opens",
		          (char *)path, ns, (char *)flags, bs, NULL };
	char pre[PATH_MAX + 32], *env[] = { pre, NULL };
	long long a, b, c;
	int p[2], st = 0;
	ssize_t len;
	pid_t pid;

	snprintf(ns, sizeof(ns), "%ld", n);
	snprintf(bs, sizeof(bs), "%ld", batch);
	snprintf(pre, sizeof(pre), "DDLP_GUARD_PRELOAD=%s", opt.guard_preload ? opt.guard_preload : "");
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = spawn_ex(guarded ? guard : plain, opt.guard_preload ? env : NULL, -1, p[1], false, false);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	len = read(p[0], line, sizeof(line) - 1);
	close(p[0]);
	if (wait_child(pid, 300000, &st, NULL) < 0 || st != 0 || len <= 0)
		return -1;
	line[len] = '\0';
	if (sscanf(line, "%lld %lld %lld", &a, &b, &c) != 3)
		return -1;
	*libc_ns = a;
	*ratio = c;
	return 0;
}

/* What measure() finds: medians over the runs of the libc times and of
 * the libc/raw ratios (x1000), plain and guarded; ddlp_lock's time. */
struct guard_fig {
	int64_t plain_ns, guard_ns, plain_ratio, guard_ratio, lib_ns;
};

/* runs plain and runs guarded agents, alternately.  With lib, four
 * ddlp_lock(shared)+ddlp_unlock rounds after each agent. */
static int measure(const char *path, long n, const char *flags, long batch, bool lib,
                   struct guard_fig *f)
{
	int runs = opt.rounds < 1000 ? 3 : MAX_RUNS;
	int64_t v[4][MAX_RUNS], l[2 * MAX_RUNS * 4];
	size_t nl = 0;

	for (int r = 0; r < runs; r++)
		for (int g = 0; g < 2; g++) {
			if (run_agent(g, path, n, flags, batch, &v[2 * g][r], &v[2 * g + 1][r]) < 0) {
				fail("guard: the agent on %s (%s) failed", path, g ? "guarded" : "plain");
				return -1;
			}
			for (int i = 0; lib && i < 4; i++) {
				int64_t t0 = now_ns();
				struct ddlp_lock *dl;
				int e = ddlp_lock(tg.block, DDLP_SHARED, 5000, DDLP_LOCK_NO_REPROBE, &dl);

				if (e < 0) {
					fail("guard: ddlp_lock(%s, shared): %s", tg.block, strerror(-e));
					return -1;
				}
				ddlp_unlock(dl);
				l[nl++] = now_ns() - t0;
			}
		}
	f->plain_ns = stats_of(v[0], (size_t)runs).p50;
	f->plain_ratio = stats_of(v[1], (size_t)runs).p50;
	f->guard_ns = stats_of(v[2], (size_t)runs).p50;
	f->guard_ratio = stats_of(v[3], (size_t)runs).p50;
	f->lib_ns = nl ? stats_of(l, nl).p50 : 0;
	return 0;
}

static double cost(const struct guard_fig *f)
{
	return f->plain_ratio > 0 ? (double)f->guard_ratio / (double)f->plain_ratio : 0;
}

void section_guard(void)
{
	struct guard_fig f;
	char tmpl[] = "/tmp/ddlp-bench-guard.XXXXXX";
	long n = opt.rounds < 1000 ? 10000 : 100000; /* --short: 10,000 */
	ssize_t len;
	int fd;

	if (!opt.guard) {
		row("11", "ddlp-guard", NULL, NULL, "n/a (no --guard)");
		return;
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		fail("guard: /proc/self/exe: %s", strerror(errno));
		return;
	}
	self[len] = '\0';
	fd = mkstemp(tmpl);
	if (fd < 0) {
		fail("guard: %s: %s", tmpl, strerror(errno));
		return;
	}
	if (write(fd, "x\n", 2) != 2)
		fail("guard: %s: %s", tmpl, strerror(errno));
	close(fd);

	for (int nb = 0; nb < 2; nb++) {
		char what[256];

		progress("guard: %ld opens of a regular file%s", n, nb ? ", O_NONBLOCK" : "");
		if (measure(tmpl, n, nb ? "ronb" : "ro", 1000, false, &f) < 0)
			continue;
		snprintf(what, sizeof(what), "%s, %ld per run: plain; guarded; libc/raw plain, guarded; cost",
		         nb ? "file, O_RDONLY|O_NONBLOCK (one fstat)" : "regular file, O_RDONLY", n);
		row("11", what, NULL, NULL, "%.3f us; %.3f us; %.2f, %.2f; %.2fx", f.plain_ns / 1e3,
		    f.guard_ns / 1e3, f.plain_ratio / 1e3, f.guard_ratio / 1e3, cost(&f));
		kv(nb ? "guard_file_nb_cost" : "guard_file_cost", "%.2f", cost(&f));
	}
	unlink(tmpl);

	progress("guard: %ld opens of /dev/null", n);
	if (measure("/dev/null", n, "ronb", 1000, false, &f) == 0) {
		row("11", "/dev/null (one stat): plain; guarded; libc/raw plain, guarded; cost",
		    NULL, NULL, "%.3f us; %.3f us; %.2f, %.2f; %.2fx", f.plain_ns / 1e3, f.guard_ns / 1e3,
		    f.plain_ratio / 1e3, f.guard_ratio / 1e3, cost(&f));
		kv("guard_devnull_cost", "%.2f", cost(&f));
	}

	progress("guard: opens of the drive");
	if (measure(tg.block, 20, "ronb", 1, true, &f) == 0) {
		row("11", "drive, O_RDONLY, 20 per run: plain; guarded; ddlp_lock(shared)+unlock; "
		          "guarded/lock; guarded/(lock+plain)",
		    NULL, NULL, "%.3f ms; %.3f ms; %.3f ms; %.2fx; %.2fx", ms(f.plain_ns), ms(f.guard_ns),
		    ms(f.lib_ns), (double)f.guard_ns / (double)f.lib_ns,
		    (double)f.guard_ns / (double)(f.lib_ns + f.plain_ns));
		kv("guard_drive_plain_ms", "%.3f", ms(f.plain_ns));
		kv("guard_drive_guard_ms", "%.3f", ms(f.guard_ns));
		kv("guard_drive_lock_ms", "%.3f", ms(f.lib_ns));
		kv("guard_drive_ratio_lock", "%.2f", (double)f.guard_ns / (double)f.lib_ns);
	}
}
