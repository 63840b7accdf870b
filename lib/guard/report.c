/*
 * How a refused open is told: one line on the program's standard error,
 * naming the node that refused and who holds it, in the words of
 * ddlp-lock(1):
 *
 *   ddlp-guard: blkid[552]: /dev/sr0: busy: /dev/sr0 held by ddlp-lock (pid 525)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "guard.h"

/* The holder part of a refusal: "/dev/sg0 held by cdrskin (pid 1234)",
 * as ddlp-lock(1) says it. */
void guard_describe_conflict(char *buf, size_t size)
{
	const struct ddlp_conflict *c = ddlp_last_conflict();
	const char *name, *step;
	pid_t pid;

	if (!c) {
		snprintf(buf, size, "a node of the drive");
		return;
	}
	name = ddlp_conflict_get_holder_name(c);
	step = ddlp_conflict_get_step(c);
	pid = ddlp_conflict_get_holder_pid(c);
	if (pid > 0 && name)
		snprintf(buf, size, "%s held by %s (pid %ld)", ddlp_conflict_get_node(c), name, (long)pid);
	else if (pid > 0)
		snprintf(buf, size, "%s held by pid %ld", ddlp_conflict_get_node(c), (long)pid);
	else
		snprintf(buf, size, "%s (%s refused)", ddlp_conflict_get_node(c), step ? step : "lock");
}

void guard_report_refusal(const char *spec, int r, int64_t waited_ms)
{
	char why[512];

	if (guard_cfg.quiet)
		return;
	if (r == -EBUSY || r == -ETIMEDOUT) {
		guard_describe_conflict(why, sizeof(why));
		if (r == -ETIMEDOUT)
			guard_say("%s: timed out after %.1f s: busy: %s", spec, (double)waited_ms / 1000.0, why);
		else
			guard_say("%s: busy: %s", spec, why);
	} else {
		guard_say("%s: cannot lock the drive: %s", spec, strerror(-r));
	}
}
