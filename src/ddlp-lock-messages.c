/*
 * ddlp-lock: messages.  Every message is one line on stderr that begins
 * with "ddlp-lock: ", with the device's name and control characters shown
 * safely; the help text; small helpers the other files share.
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

/* Length of a valid UTF-8 sequence at s, or 0. */
size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* Copy in to out as it may go to a terminal: printable ASCII and valid UTF-8 as they
 * are; control characters (C0, DEL and C1, also UTF-8 encoded) and bytes
 * that are not valid UTF-8 as \xHH.  So a device name can neither break
 * a message into two lines nor send an escape sequence to the terminal. */
void printable(const char *in, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	while (*s && o + 5 < size) {
		size_t n = *s >= 0x20 && *s != 0x7f ? utf8_len(s) : 0;

		if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)
			n = 0; /* U+0080..U+009F */
		if (n == 0) {
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", *s);
			s++;
			continue;
		}
		memcpy(out + o, s, n);
		o += n;
		s += n;
	}
	out[o] = '\0';
}

void msg(const char *fmt, ...)
{
	char buf[2 * PATH_MAX + 1024], out[4 * sizeof(buf)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* one line, always: a message never contains a newline */
	printable(buf, out, sizeof(out));
	fprintf(stderr, PROG ": %s\n", out);
}

void warning(const char *fmt, ...)
{
	char buf[2 * PATH_MAX + 1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	msg("warning: %s", buf);
}

int usage_error(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	msg("%s (try '" PROG " --help')", buf);
	return EX_USAGE;
}

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
