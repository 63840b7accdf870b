/*
 * Section 8, the waiter table (issue 11): what a waiter costs the drive it
 * waits for, and its own CPU, for every kind of holder and every kind of
 * waiter.
 *
 * Holders (agents.c): a DDLP exclusive and a DDLP shared holder, each in
 * the OFD and the POSIX lock backend (DDLP_LOCK_BACKEND, for the holder and
 * its waiters alike); `flock DEV sleep`; `udevadm lock --device=DEV sleep`;
 * a process holding only O_EXCL on sr (as xorriso), one holding only O_EXCL
 * on sg (as wodim dev=/dev/sgN).  Waiters: ddlp_lock() shared and
 * exclusive with a timeout of --waiter-ms, and `ddlp-lock -s -w` / `-x -w`
 * with the same timeout, all with DDLP_LOCK_NO_REPROBE.
 *
 * With media polling off for all drives (count-scsi.c), each waiter runs
 * alone against the holder; the SCSI commands that reach the target
 * (tracefs scsi:scsi_dispatch_cmd_start, only the target's H:C:T:L) are
 * counted from the waiter's start to 100 ms after its end (so that the
 * event check queued by its last close is counted with it), and per second
 * of its wait; its CPU time as a share of the wait: getrusage around the
 * ddlp_lock() call in the waiter process (library), wait4's rusage of the
 * whole ddlp-lock process (tool); and, for both, the CPU share while it
 * waits (/proc/PID/schedstat, count-cpu.c, between the first and the
 * last time it is seen asleep in poll(2)), which the summary row uses: the call holds the first resolution and libudev's start, the
 * process its exec, both large and noisy in a VM (for a waiter that never
 * sleeps in poll(2) the summary takes its whole figure).
 * Before the waiters, a control window of the same length with the holder
 * alone, and the commands of one refused try (`ddlp-lock -n -s`, `-n -x`:
 * the cost of a refused attempt, a row of issue 11's table).
 * Nothing about the figures is asserted: a waiter that takes the drive
 * (a shared waiter beside a shared holder, or wherever the library lets
 * one in) is an outcome like a timeout; only a waiter or holder that fails
 * is a failure of the benchmark.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static const char *const holder_keys[N_HOLDERS] = {
	"ddlpx", "ddlpx_posix", "ddlps", "ddlps_posix", "flock", "udevadm", "excl_sr", "excl_sg",
};
static const char *const waiter_keys[N_WAITERS] = { "cli_ns", "cli_nx", "lib_s",
	                                            "lib_x",  "cli_s",  "cli_x" };

struct cell {
	bool ran;
	struct wait_result w;
	struct cmdcount cc;
};

/* "TEST_UNIT_READY 20, GET_EVENT_STATUS_NOTIFICATION 20" */
static void ops_counts(const struct cmdcount *cc, char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < cc->n_op && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%s %ld", i ? ", " : "",
		                        cc->op[i].name, cc->op[i].n);
}

/* The waiter's CPU as a share of its wait, comparable between the library
 * and the tool: the waiting phase (schedstat, between its first and last
 * sleep in poll(2) seen).  The call's getrusage holds the first resolution and libudev's
 * start, the tool's wait4 its process start, both large and noisy in a VM;
 * they stand in only for a waiter that never slept in poll(2).  -1: not
 * known (it took the drive). */
static double cpu_share(const struct cell *e, bool *whole)
{
	*whole = e->w.wait_pct == -2;
	if (*whole)
		return e->w.call_ms > 0 ? 100.0 * e->w.cpu_ms / e->w.call_ms : -1;
	return e->w.wait_pct;
}

static void phase_string(double pct_, char *out, size_t size)
{
	if (pct_ >= 0)
		snprintf(out, size, "%.2f%%", pct_);
	else if (pct_ == -2)
		snprintf(out, size, "never asleep in poll(2)");
	else
		snprintf(out, size, "-");
}

struct most {
	double v;
	int h, w;
};

static void most_of(struct most *m, double v, int h, int w)
{
	if (v > m->v) {
		m->v = v;
		m->h = h;
		m->w = w;
	}
}

static void report(struct cell c[N_HOLDERS][N_WAITERS], const struct cmdcount *control,
                   const bool *held, const char *const *why_not)
{
	struct most cmds = { -1, 0, 0 }, rate = { -1, 0, 0 }, cpu = { -1, 0, 0 }, tried = { -1, 0, 0 };
	int n_waits = 0, n_taken = 0, n_out = 0, n_awake = 0;
	long total = 0, ctl_total = 0, others = 0;
	double secs = 0;
	char what[200], ops[300], kb[64];

	detail("- waiter table (section 8): against each holder, first a control window "
	       "(the holder alone), then one try of the tool in each mode (`-n`), then each waiter "
	       "waiting %d ms, all with DDLP_LOCK_NO_REPROBE and alone on the drive; SCSI "
	       "commands to the target from the waiter's start to 100 ms after its end "
	       "(tracefs, media polling off), per second of its wait; CPU: getrusage around "
	       "ddlp_lock() in the waiter process (library), wait4's rusage of the whole "
	       "`ddlp-lock` process (tool, its start included), and the share while it waits "
	       "(/proc/PID/schedstat between the first and the last time it is seen asleep in "
	       "poll(2), looked at every 10 ms; the summary rows use this one, and the whole "
	       "figure for a waiter that never slept in poll(2)); a posix holder's "
	       "waiters run with DDLP_LOCK_BACKEND=posix too",
	       opt.waiter_ms);
	detail("%s", "");
	detail("| holder | waiter | outcome | commands to the drive | per second | waiter CPU |");
	detail("|---|---|---|---|---|---|");
	for (int h = 0; h < N_HOLDERS; h++) {
		if (!held[h]) {
			detail("| %s | | n/a (%s) | | | |", holder_label(h), why_not[h]);
			continue;
		}
		ops_counts(&control[h], ops, sizeof(ops));
		detail("| %s | none (control, %d ms) | | %ld%s%s%s | | |", holder_label(h),
		       opt.waiter_ms + 100, control[h].target, ops[0] ? " (" : "", ops,
		       ops[0] ? ")" : "");
		ctl_total += control[h].target;
		others += control[h].others;
		for (int w = 0; w < N_WAITERS; w++) {
			const struct cell *e = &c[h][w];
			double r = 0, p;
			bool whole;
			char rs[32] = "", cs[160], hs[40];

			if (!e->ran)
				continue;
			others += e->cc.others;
			ops_counts(&e->cc, ops, sizeof(ops));
			snprintf(kb, sizeof(kb), "wt_%s_%s_cmds", holder_keys[h], waiter_keys[w]);
			kv(kb, "%ld", e->cc.target);
			snprintf(kb, sizeof(kb), "wt_%s_%s_taken", holder_keys[h], waiter_keys[w]);
			kv(kb, "%d", e->w.outcome == 0);
			if (!waiter_waits(w)) {
				if (e->w.outcome == 1)
					most_of(&tried, (double)e->cc.target, h, w);
				detail("| | %s | %s | %ld%s%s%s | | |", waiter_label(w),
				       e->w.outcome == 0 ? "**taken**" : "refused", e->cc.target,
				       ops[0] ? " (" : "", ops, ops[0] ? ")" : "");
				continue;
			}
			n_waits++;
			total += e->cc.target;
			secs += e->w.call_ms / 1e3;
			p = cpu_share(e, &whole);
			phase_string(e->w.outcome == 0 ? -1 : e->w.wait_pct, hs, sizeof(hs));
			snprintf(cs, sizeof(cs), "%.1f ms of %.0f ms (%s, %.1f%%); waiting %s",
			         e->w.cpu_ms, e->w.call_ms, waiter_is_tool(w) ? "process" : "call",
			         e->w.call_ms > 0 ? 100.0 * e->w.cpu_ms / e->w.call_ms : 0, hs);
			if (e->w.outcome == 0) {
				n_taken++;
			} else {
				n_out++;
				most_of(&cmds, (double)e->cc.target, h, w);
				n_awake += whole;
				r = e->w.call_ms > 0 ? (double)e->cc.target / (e->w.call_ms / 1e3) : 0;
				snprintf(rs, sizeof(rs), "%.0f/s", r);
				most_of(&rate, r, h, w);
				if (p >= 0) {
					most_of(&cpu, p, h, w);
					snprintf(kb, sizeof(kb), "wt_%s_%s_cpu_pct", holder_keys[h],
					         waiter_keys[w]);
					kv(kb, "%.2f", p);
				}
			}
			detail("| | %s | %s after %.0f ms | %ld%s%s%s | %s | %s |", waiter_label(w),
			       e->w.outcome == 0 ? "**taken**" : "timed out", e->w.call_ms,
			       e->cc.target, ops[0] ? " (" : "", ops, ops[0] ? ")" : "", rs, cs);
		}
	}
	detail("%s", "");
	if (others)
		detail("- waiter table: %ld commands went to other drives during the windows", others);
	if (n_waits == 0) {
		row("8", "waiter table", NULL, NULL, "n/a (no waiter ran)");
		return;
	}
	snprintf(what, sizeof(what),
	         "waiter table, %d waits of %d ms (%d timed out, %d took the drive): SCSI "
	         "commands to the drive per wait that timed out, most (holder; waiter)",
	         n_waits, opt.waiter_ms, n_out, n_taken);
	if (cmds.v >= 0)
		row("8", what, "<= 4 (one open and the check its close queues)",
		    verdict(cmds.v <= 4), "%.0f (%s; %s)", cmds.v, holder_label(cmds.h),
		    waiter_label(cmds.w));
	else
		row("8", what, NULL, NULL, "no wait timed out");
	if (rate.v >= 0)
		row("8", "waiter table: commands per second of waiting, most of the waits that timed "
		         "out (holder; waiter); all waits together",
		    NULL, NULL, "%.0f/s (%s; %s); %ld commands in %.1f s", rate.v,
		    holder_label(rate.h), waiter_label(rate.w), total, secs);
	if (cpu.v >= 0)
		row("8", "waiter table: waiter CPU while it waits (schedstat between its sleeps in "
		         "poll(2)), most of the waits that timed out, % of the time (holder; waiter)",
		    "<= 1%", verdict(cpu.v <= 1.0), "%.2f%% (%s; %s)%s", cpu.v, holder_label(cpu.h),
		    waiter_label(cpu.w),
		    n_awake ? "; some waiters never slept in poll(2): their whole figure" : "");
	if (tried.v >= 0)
		row("8", "waiter table: one refused try (`ddlp-lock -n`), commands to the drive, "
		         "most (holder; mode)",
		    NULL, NULL, "%.0f (%s; %s)", tried.v, holder_label(tried.h),
		    waiter_label(tried.w));
	row("8", "waiter table: control windows (the holder alone), commands to the drive, all "
	         "holders together",
	    "0", verdict(ctl_total == 0), "%ld", ctl_total);
	kv("waiters_ms", "%d", opt.waiter_ms);
	kv("waiters_n", "%d", n_waits);
	kv("waiters_taken", "%d", n_taken);
	if (cmds.v >= 0)
		kv("waiters_max_cmds", "%.0f", cmds.v);
	if (rate.v >= 0)
		kv("waiters_max_cmds_per_s", "%.0f", rate.v);
	if (cpu.v >= 0)
		kv("waiters_max_cpu_pct", "%.2f", cpu.v);
	kv("waiters_total_cmds", "%ld", total);
	if (tried.v >= 0)
		kv("waiters_try_max_cmds", "%.0f", tried.v);
	kv("waiters_control_cmds", "%ld", ctl_total);
	kv("waiters_never_asleep", "%d", n_awake);
}

void section_waiters(void)
{
	static struct cell c[N_HOLDERS][N_WAITERS];
	static struct cmdcount control[N_HOLDERS];
	bool held[N_HOLDERS] = { false };
	const char *why_not[N_HOLDERS] = { NULL };
	int r;

	progress("8: waiters against %d holder kinds, %d ms each", N_HOLDERS, opt.waiter_ms);
	if (geteuid() != 0 || !tg.scsi || !tracefs_init()) {
		row("8", "waiter table", NULL, NULL, "n/a (needs root, a SCSI drive and tracefs)");
		return;
	}
	memset(c, 0, sizeof(c));
	memset(control, 0, sizeof(control));
	settle();
	polling_off();
	sleep_us(300000); /* a poll already under way ends */
	if (trace_event_on() < 0) {
		row("8", "waiter table", NULL, NULL, "n/a (cannot enable the event)");
		polling_restore();
		return;
	}
	for (int h = 0; h < N_HOLDERS; h++) {
		struct holder hd;

		r = holder_start(&hd, h);
		if (r == -ENOENT) {
			why_not[h] = "not here";
			continue;
		}
		if (r < 0) {
			why_not[h] = "did not start";
			fail("waiter table: the holder %s: %s", holder_label(h), strerror(-r));
			continue;
		}
		held[h] = true;
		sleep_us(100000); /* the holder's own open and its event check end */
		trace_clear();
		sleep_us(((long)opt.waiter_ms + 100) * 1000);
		trace_collect(&control[h]);
		for (int w = 0; w < N_WAITERS; w++) {
			struct cell *e = &c[h][w];

			if (waiter_is_tool(w) && !opt.ddlp_lock)
				continue;
			trace_clear();
			r = waiter_run(w, holder_posix(h), opt.waiter_ms, &e->w);
			sleep_us(100000);
			trace_collect(&e->cc);
			if (r < 0) {
				fail("waiter table: %s against %s: %s", waiter_label(w), holder_label(h),
				     strerror(-r));
				continue;
			}
			if (e->w.outcome < 0) {
				if (waiter_is_tool(w))
					fail("waiter table: %s against %s ended with status 0x%x",
					     waiter_label(w), holder_label(h), e->w.status);
				else
					fail("waiter table: %s against %s: %s", waiter_label(w),
					     holder_label(h), strerror(-e->w.outcome));
				continue;
			}
			e->ran = true;
		}
		holder_stop(&hd);
	}
	trace_event_off();
	polling_restore();
	report(c, control, held, why_not);
}
