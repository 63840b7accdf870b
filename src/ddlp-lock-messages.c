/*
 * ddlp-lock: the help text, error reports and exit codes, and small
 * helpers the other files share (the one-line messages themselves are
 * src/tool.c's, shared with ddlp-guard).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "ddlp-lock.h"

void help(void)
{
	fputs("Usage:\n"
	      " " PROG " [options] DEVICE COMMAND [ARG...]\n"
	      " " PROG " [options] DEVICE -c 'COMMAND LINE'\n"
	      " " PROG " [options] DEVICE {-s|-x} DEVICE2... [--] COMMAND [ARG...]\n"
	      " " PROG " [output options] --resolve DEVICE\n"
	      " " PROG " [output options] --status DEVICE...\n"
	      " " PROG " [output options] --list\n"
	      "\n"
	      "Lock optical drives (every sibling node: sr, sg, bsg) for the time a\n"
	      "command runs, like flock(1) for a file.  DEVICE is a device node, a\n"
	      "symlink to one, \"H:C:T:L\" or \"B,T,L\".\n"
	      "\n"
	      "Options:\n"
	      " -x, -e, --exclusive       exclusive lock (the default)\n"
	      " -s, --shared              shared lock\n"
	      " -n, --nonblock            fail at once when a drive is busy\n"
	      " -w, --timeout SECONDS     wait at most this long (fractions allowed; 0 = -n)\n"
	      " -E, --conflict-exit-code N  exit status when busy or timed out (default 1)\n"
	      " -c, --command 'LINE'      run LINE with /bin/sh -c\n"
	      " -o, --close               the command gets no descriptor of the lock: the\n"
	      "                           lock ends with ddlp-lock (by default the command\n"
	      "                           holds it too, as with flock(1))\n"
	      "     --wait-unused[=SECONDS]  after an exclusive lock, wait (at most SECONDS)\n"
	      "                           until no other process has the drive open\n"
	      "     --partial             skip sibling nodes the user may not open\n"
	      "     --no-reprobe          do not ask udev to re-probe after an exclusive lock\n"
	      " -v, --verbose             say what was resolved and locked, and how long it took\n"
	      " -q, --quiet               no message when busy or timed out, no progress\n"
	      "                           line, no warning about processes without a lock\n"
	      "\n"
	      "Several drives, each with its own mode, locked all or nothing:\n"
	      " " PROG " -s /dev/sr0 -x /dev/sr1 -- COMMAND...   (copy sr0 to sr1)\n"
	      "\n"
	      "Information (opens no drive):\n"
	      "     --resolve DEVICE      identity and nodes in lock order\n"
	      "     --status DEVICE...    free, shared or exclusive, the holder, who has it open\n"
	      "     --list                every optical drive, its nodes and its state\n"
	      "Output options:\n"
	      "     --output LIST         the columns to show (+LIST: after the default ones)\n"
	      "     --output-all          every column\n"
	      "     --noheadings          no header line\n"
	      "     --raw                 one space between columns, names encoded\n"
	      " -J, --json                JSON\n"
	      "\n"
	      " -h, --help                this text\n"
	      " -V, --version             version\n"
	      "\n",
	      stdout);
	columns_help();
	fputs("\n"
	      "Exit status: the command's, or 128+N when it died of signal N; the\n"
	      "conflict code (1) when busy; 64 usage, 66 no such device, 69 not a drive,\n"
	      "71 system error, 77 permission denied, 126/127 command not runnable/found.\n"
	      "See ddlp-lock(1).\n",
	      stdout);
}

int finish_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		msg("write error on standard output: %s", strerror(errno));
		return EX_OSERR;
	}
	return 0;
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *mode_name(enum ddlp_mode m)
{
	return m == DDLP_SHARED ? "shared" : "exclusive";
}

/* Does the library take spec for a SCSI address (same rule as libddlp)? */
bool spec_is_address(const char *spec)
{
	if (strchr(spec, '/') || (!strchr(spec, ':') && !strchr(spec, ',')))
		return false;
	return isdigit((unsigned char)spec[0]) || spec[0] == '-' || spec[0] == '+';
}

/* The holder part of a busy message: "/dev/sg0 held by cdrskin (pid 1234)",
 * or "/dev/sg0 (exclusive open refused)" when the system does not tell. */
void describe_conflict(const struct ddlp_conflict *c, char *buf, size_t size)
{
	const char *node = ddlp_conflict_get_node(c);
	const char *name = ddlp_conflict_get_holder_name(c);
	const char *step = ddlp_conflict_get_step(c);
	pid_t pid = ddlp_conflict_get_holder_pid(c);

	if (!c) {
		snprintf(buf, size, "a node of the drive");
		return;
	}
	if (pid > 0 && name)
		snprintf(buf, size, "%s held by %s (pid %ld)", node, name, (long)pid);
	else if (pid > 0)
		snprintf(buf, size, "%s held by pid %ld", node, (long)pid);
	else
		snprintf(buf, size, "%s (%s refused)", node, step ? step : "lock");
}
