/*
 * Section 4, intrusiveness: the SCSI commands that one lock+unlock sends
 * to each drive (count-scsi.c: tracefs scsi:scsi_dispatch_cmd_start,
 * counted per H:C:T:L), against the floor's.  Media polling is switched
 * off for all drives meanwhile.  Each of --intrusive-reps rounds counts a
 * window from a quiet drive to 100 ms after the operation, so that the
 * event check that the kernel queues at the block device's last close is
 * counted with the lock that caused it.  Also: the same back to back, an
 * idle window of the same length (nothing else may send commands), and
 * one lock+unlock with the default re-probe plus 3 s for udev.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <unistd.h>

#include "bench.h"

void section_intrusive(void)
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
	if (trace_event_on() < 0) {
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
	trace_event_off();
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
