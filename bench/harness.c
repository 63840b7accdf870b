/*
 * ddlp-bench: what a lock costs, whom it disturbs, and how fast a waiter
 * gets the drive (issue 7).  See bench/README.md.
 *
 * Runs as root on a machine with optical drives (bench/run-vm.sh runs it in
 * the test VM with scsi_debug drives) and prints one Markdown table.  This
 * file is the harness: the options, the entry table of the sections (each
 * section is a file of its own, named in the table), and main(), which
 * runs the chosen sections in the table's order and prints the table
 * (output.c).  The sections:
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
 *   8. the waiter table: SCSI commands to the drive and the waiter's CPU
 *      while a waiter (ddlp_lock() or `ddlp-lock -w`, shared or exclusive)
 *      waits for each kind of holder (DDLP, flock, udevadm lock, O_EXCL)
 *   9. writer preference: an exclusive waiter among 1, 2, 4, 8 shared
 *      lockers whose holds overlap, and the readers' throughput
 *  10. the listings: `ddlp-lock --list` and `--status DEV` next to
 *      `lslocks` and `lsblk`, time and system calls, with and without a
 *      few hundred more processes that hold files open
 *  11. ddlp-guard: opens of a regular file, of /dev/null and of the drive
 *      with and without the guard, against ddlp_lock()
 *
 * `ddlp-bench --agent ...` is the harness's other mode: a DDLP holder or a
 * library waiter that section 8 starts in the lock backend it wants
 * (agents.c).
 *
 * It asserts nothing about time: the exit status is 1 only when the
 * benchmark itself broke (a lock error, an overlap, a tool that failed).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* ------------------------------------------------------------------ *
 * The entry table: --only names, in the order they run
 * ------------------------------------------------------------------ */

static const struct bench_section {
	const char *name;
	void (*run)(void);
} sections[] = {
	{ "lock", section_lock },             /* 1, lock.c */
	{ "resolve", section_resolve },       /* 2, resolve.c */
	{ "syscalls", section_syscalls },     /* 3 (and 4's node row), syscalls.c */
	{ "intrusive", section_intrusive },   /* 4, intrusive.c */
	{ "handoff", section_handoff },       /* 5, handoff.c */
	{ "cpu", section_cpu },               /* 5, handoff.c */
	{ "contention", section_contention }, /* 6, contention.c */
	{ "tool", section_tool },             /* 7, tool.c */
	{ "waiters", section_waiters },       /* 8, waiters.c */
	{ "writer", section_writer },         /* 9, writer.c */
	{ "listing", section_listing },       /* 10, listing.c */
	{ "guard", section_guard },           /* 11, guard.c */
};

#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))
#define S_ALL ((1u << N_SECTIONS) - 1)

/* ------------------------------------------------------------------ *
 * Options
 * ------------------------------------------------------------------ */

struct options opt = {
	.rounds = 1000,
	.res_rounds = 1000,
	.intrusive_reps = 20,
	.handoffs = 200,
	.cli_handoffs = 200,
	.wait_ms = 5000,
	.contention_ms = 10000,
	.hold_us = 1000,
	.tool_runs = 30,
	.waiter_ms = 3000,
	.writer_rounds = 10,
	.writer_hold_ms = 200,
	.writer_ms = 3000,
	.listing_extra = 300,
	.sections = S_ALL,
};

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
	      "  --tool-runs N       runs of each tool and listing (30)\n"
	      "  --waiter-ms N       how long each waiter of the waiter table waits (3000)\n"
	      "  --writer-rounds N   exclusive rounds per number of shared lockers (10)\n"
	      "  --writer-hold-ms N  how long each shared locker holds the drive (200)\n"
	      "  --writer-ms N       the exclusive waiter's timeout; the throughput window (3000)\n"
	      "  --listing-extra N   more processes, holding files open, for the listings (300)\n"
	      "  --ddlp-lock PATH    the ddlp-lock binary (sections handoff, cpu, tool, waiters,\n"
	      "                      listing)\n"
	      "  --guard PATH        the ddlp-guard binary (section guard; without it: n/a)\n"
	      "  --guard-preload PATH  its library (DDLP_GUARD_PRELOAD), when not installed\n"
	      "  --only LIST         sections: lock,resolve,syscalls,intrusive,handoff,cpu,\n"
	      "                      contention,tool,waiters,writer,listing,guard (default: all)\n"
	      "  --skip LIST         leave these sections out\n"
	      "  --short             fewer rounds (CI): 100, 100, 3, 20, 10, 2000 ms, 2000 ms, 5,\n"
	      "                      500 ms, 3, 100 ms, 1000 ms, 50\n"
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

		for (i = 0; i < N_SECTIONS; i++)
			if (strcmp(tok, sections[i].name) == 0)
				break;
		if (i == N_SECTIONS) {
			fprintf(stderr, "ddlp-bench: unknown section %s\n", tok);
			exit(64);
		}
		bits |= 1u << i;
	}
	free(copy);
	return bits;
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
		{ "waiter-ms", required_argument, NULL, 'w' },
		{ "writer-rounds", required_argument, NULL, 'n' },
		{ "writer-hold-ms", required_argument, NULL, 'y' },
		{ "writer-ms", required_argument, NULL, 'Y' },
		{ "listing-extra", required_argument, NULL, 'x' },
		{ "ddlp-lock", required_argument, NULL, 'L' },
		{ "guard", required_argument, NULL, 'G' },
		{ "guard-preload", required_argument, NULL, 'P' },
		{ "only", required_argument, NULL, 'O' },
		{ "skip", required_argument, NULL, 'S' },
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
	unsigned skip = 0;
	int c;

	if (argc > 1 && strcmp(argv[1], "--agent") == 0)
		return agent_main(argc - 1, argv + 1);
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
		case 'w': opt.waiter_ms = parse_int(optarg, "--waiter-ms"); break;
		case 'n': opt.writer_rounds = parse_int(optarg, "--writer-rounds"); break;
		case 'y': opt.writer_hold_ms = parse_int(optarg, "--writer-hold-ms"); break;
		case 'Y': opt.writer_ms = parse_int(optarg, "--writer-ms"); break;
		case 'x': opt.listing_extra = parse_int(optarg, "--listing-extra"); break;
		case 'L': opt.ddlp_lock = optarg; break;
		case 'G': opt.guard = optarg; break;
		case 'P': opt.guard_preload = optarg; break;
		case 'O': opt.sections = parse_sections(optarg); break;
		case 'S': skip |= parse_sections(optarg); break;
		case 's':
			opt.rounds = 100;
			opt.res_rounds = 100;
			opt.intrusive_reps = 3;
			opt.handoffs = 20;
			opt.cli_handoffs = 10;
			opt.wait_ms = 2000;
			opt.contention_ms = 2000;
			opt.tool_runs = 5;
			opt.waiter_ms = 500;
			opt.writer_rounds = 3;
			opt.writer_hold_ms = 100;
			opt.writer_ms = 1000;
			opt.listing_extra = 50;
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
	opt.sections &= ~skip;
	if (opt.rounds < 1)
		opt.rounds = 1;
	if (opt.res_rounds < 1)
		opt.res_rounds = 1;
	if (opt.intrusive_reps < 1)
		opt.intrusive_reps = 1;
	if (opt.tool_runs < 1)
		opt.tool_runs = 1;
	if (opt.writer_rounds < 1)
		opt.writer_rounds = 1;
	if (opt.writer_hold_ms < 1)
		opt.writer_hold_ms = 1;
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
		if (kv_open(opt.kv_path) < 0) {
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
	for (size_t i = 0; i < N_SECTIONS; i++) {
		char key[64];
		int64_t t0 = now_ns();

		if (!(opt.sections & (1u << i)))
			continue;
		sections[i].run();
		snprintf(key, sizeof(key), "section_%s_s", sections[i].name);
		kv(key, "%.1f", (double)(now_ns() - t0) / 1e9);
		section_time(sections[i].name, (double)(now_ns() - t0) / 1e9);
	}
	forms_cleanup();

	read_file("/proc/loadavg", load1, sizeof(load1));
	if (strlen(load1) > 14)
		load1[14] = '\0';
	kv("load_end", "%s", load1);
	cal1 = calibrate();
	kv("cal_syscall_ns", "%.0f", (cal0 + cal1) / 2);
	kv("failures", "%d", failures);
	kv("seconds", "%.0f", (double)(now_ns() - start) / 1e9);
	print_table(stdout, kernel, date, load0, load1, (double)(now_ns() - start) / 1e9, cal0,
	            cal1);
	if (opt.md_path) {
		FILE *f = fopen(opt.md_path, "we");

		if (f) {
			print_table(f, kernel, date, load0, load1, (double)(now_ns() - start) / 1e9,
			            cal0, cal1);
			fclose(f);
		} else {
			fail("%s: %s", opt.md_path, strerror(errno));
		}
	}
	kv_close();
	fflush(stdout);
	if (failures)
		fprintf(stderr, "ddlp-bench: %d failures\n", failures);
	return failures ? 1 : 0;
}
