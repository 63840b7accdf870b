/*
 * ddlp-lock: lock optical drives for a shell command, the way flock(1)
 * locks a file, and report drives' identities and states.  See
 * ddlp-lock(1).  Uses nothing but the public API of libddlp (ddlp.h).
 *
 *   ddlp-lock [options] DEVICE COMMAND [ARG...]
 *   ddlp-lock [options] DEVICE -c 'COMMAND LINE'
 *   ddlp-lock [options] DEVICE {-s|-x} DEVICE2 ... [--] COMMAND [ARG...]
 *   ddlp-lock [--json] --resolve DEVICE
 *   ddlp-lock [--json] --status DEVICE...
 *   ddlp-lock [--json] --list
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "ddlp.h"

#define PROG "ddlp-lock"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* A wait on a terminal is done in slices of this length, so that the
 * progress line can be updated between them (ms). */
#define SLICE_MS 200

/* At most this many drives in one call (the library's limit is 64). */
#define MAX_DRIVES 64

/* At most this many openers listed per drive in --status and --list. */
#define MAX_OPENERS 16

enum action { ACT_LOCK, ACT_RESOLVE, ACT_STATUS, ACT_LIST };

struct options {
	enum action action;
	enum ddlp_mode mode;       /* of the first DEVICE */
	int timeout_ms;            /* < 0: no limit, 0: try once */
	int conflict_code;
	int verbose;
	bool quiet;
	bool json;
	unsigned flags;            /* DDLP_LOCK_* */
	const char *command;       /* -c */
};

/* ------------------------------------------------------------------ *
 * Messages
 * ------------------------------------------------------------------ */

#define DDLP_PRINTF_ATTR(a, b) __attribute__((format(printf, a, b)))

static size_t utf8_len(const unsigned char *s);

/* Copy in to out as it may go to a terminal: printable ASCII and valid UTF-8 as they
 * are; control characters (C0, DEL and C1, also UTF-8 encoded) and bytes
 * that are not valid UTF-8 as \xHH.  So a device name can neither break
 * a message into two lines nor send an escape sequence to the terminal. */
static void printable(const char *in, char *out, size_t size)
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

static void DDLP_PRINTF_ATTR(1, 2) msg(const char *fmt, ...)
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

static int DDLP_PRINTF_ATTR(1, 2) usage_error(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	msg("%s (try '" PROG " --help')", buf);
	return EX_USAGE;
}

static void help(void)
{
	fputs("Usage:\n"
	      " " PROG " [options] DEVICE COMMAND [ARG...]\n"
	      " " PROG " [options] DEVICE -c 'COMMAND LINE'\n"
	      " " PROG " [options] DEVICE {-s|-x} DEVICE2... [--] COMMAND [ARG...]\n"
	      " " PROG " [--json] --resolve DEVICE\n"
	      " " PROG " [--json] --status DEVICE...\n"
	      " " PROG " [--json] --list\n"
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
	      " -o, --close               accepted for flock(1) compatibility (always so)\n"
	      "     --partial             skip sibling nodes the user may not open\n"
	      "     --no-reprobe          do not ask udev to re-probe after an exclusive lock\n"
	      " -v, --verbose             say what was resolved and locked, and how long it took\n"
	      " -q, --quiet               no message when busy or timed out, no progress line\n"
	      "\n"
	      "Several drives, each with its own mode, locked all or nothing:\n"
	      " " PROG " -s /dev/sr0 -x /dev/sr1 -- COMMAND...   (copy sr0 to sr1)\n"
	      "\n"
	      "Information (opens no drive):\n"
	      "     --resolve DEVICE      identity and nodes in lock order\n"
	      "     --status DEVICE...    free, shared or exclusive, and the holder\n"
	      "     --list                every optical drive, its nodes and its state\n"
	      "     --json                JSON output for --resolve, --status, --list\n"
	      "\n"
	      " -h, --help                this text\n"
	      " -V, --version             version\n"
	      "\n"
	      "Exit status: the command's, or 128+N when it died of signal N; the\n"
	      "conflict code (1) when busy; 64 usage, 66 no such device, 69 not a drive,\n"
	      "71 system error, 77 permission denied, 126/127 command not runnable/found.\n"
	      "See ddlp-lock(1).\n",
	      stdout);
}

/* ------------------------------------------------------------------ *
 * Small helpers
 * ------------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *mode_name(enum ddlp_mode m)
{
	return m == DDLP_SHARED ? "shared" : "exclusive";
}

static const char *excl_name(enum ddlp_excl e)
{
	switch (e) {
	case DDLP_EXCL_CLAIM:
		return "claim";
	case DDLP_EXCL_OPEN:
		return "open";
	case DDLP_EXCL_NONE:
		break;
	}
	return "none";
}

static const char *state_name(enum ddlp_state s)
{
	switch (s) {
	case DDLP_STATE_SHARED:
		return "shared";
	case DDLP_STATE_EXCLUSIVE:
		return "exclusive";
	case DDLP_STATE_FREE:
		break;
	}
	return "free";
}

/* Does the library take spec for a SCSI address (same rule as libddlp)? */
static bool spec_is_address(const char *spec)
{
	if (strchr(spec, '/') || (!strchr(spec, ':') && !strchr(spec, ',')))
		return false;
	return isdigit((unsigned char)spec[0]) || spec[0] == '-' || spec[0] == '+';
}

/* "SECONDS" with fractions to ms; -1 on a malformed value. */
static int parse_seconds(const char *s, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno == ERANGE || !(v >= 0) || v != v)
		return -1;
	if (v * 1000.0 >= (double)INT_MAX)
		*ms = INT_MAX;
	else {
		*ms = (int)(v * 1000.0);
		if ((double)*ms < v * 1000.0)
			(*ms)++; /* round up: -w 0.0001 still waits */
	}
	return 0;
}

static int parse_exit_code(const char *s, int *code)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < 0 || v > 255)
		return -1;
	*code = (int)v;
	return 0;
}

/* The holder part of a busy message: "/dev/sg0 held by cdrskin (pid 1234)",
 * or "/dev/sg0 (exclusive open refused)" when the system does not tell. */
static void describe_conflict(const struct ddlp_conflict *c, char *buf, size_t size)
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

/* ------------------------------------------------------------------ *
 * Errors: one line each, naming the device and the reason; exit codes
 * ------------------------------------------------------------------ */

/* Why a path is not a drive, for the message. */
static const char *not_a_drive_reason(const char *spec, char *buf, size_t size)
{
	struct stat st;

	if (spec_is_address(spec))
		return "no SCSI device at this address";
	if (stat(spec, &st) < 0)
		return "not a drive";
	if (S_ISREG(st.st_mode))
		return "not a drive (a regular file, not a device node)";
	if (S_ISDIR(st.st_mode))
		return "not a drive (a directory, not a device node)";
	if (S_ISCHR(st.st_mode)) {
		snprintf(buf, size,
		         "not a drive (character device %u:%u is neither an sg nor a bsg node)",
		         major(st.st_rdev), minor(st.st_rdev));
		return buf;
	}
	if (S_ISBLK(st.st_mode)) {
		snprintf(buf, size, "not a drive (block device %u:%u: no such device in sysfs)",
		         major(st.st_rdev), minor(st.st_rdev));
		return buf;
	}
	return "not a drive (not a device node)";
}

/* How to get access to a node the user may not open. */
static void permission_hint(const char *node, enum ddlp_mode mode, char *buf, size_t size)
{
	struct stat st;
	struct group *gr;
	struct passwd *pw;
	const char *user, *group;
	char gbuf[32], owner[64];
	mode_t need = mode == DDLP_EXCLUSIVE ? (S_IRGRP | S_IWGRP) : S_IRGRP;

	if (stat(node, &st) < 0) {
		snprintf(buf, size, "cannot look it up (%s): check the directories' permissions",
		         strerror(errno));
		return;
	}
	gr = getgrgid(st.st_gid);
	if (gr)
		group = gr->gr_name;
	else {
		snprintf(gbuf, sizeof(gbuf), "%u", (unsigned)st.st_gid);
		group = gbuf;
	}
	pw = getpwuid(st.st_uid);
	snprintf(owner, sizeof(owner), "%s", pw ? pw->pw_name : "?");
	pw = getpwuid(getuid());
	user = pw ? pw->pw_name : "USER";
	if (st.st_gid != 0 && (st.st_mode & need) == need)
		snprintf(buf, size,
		         "%s is %s:%s mode %04o: add the user to group %s "
		         "(usermod -a -G %s %s, then log in again)",
		         node, owner, group, (unsigned)(st.st_mode & 07777), group, group, user);
	else
		snprintf(buf, size,
		         "%s is %s:%s mode %04o: only %s may open it; grant access with a udev "
		         "rule (GROUP=, MODE=) or run as root",
		         node, owner, group, (unsigned)(st.st_mode & 07777), owner);
}

/* A spec for a message: a name longer than 256 bytes (no valid path
 * component is) is shortened to its start and end, so that the reason
 * still fits in the line. */
static const char *spec_for_message(const char *spec, char *buf, size_t size)
{
	size_t len = strlen(spec);

	if (len <= 256)
		return spec;
	snprintf(buf, size, "%.100s...%s (%zu bytes)", spec, spec + len - 100, len);
	return buf;
}

struct lock_req {
	const char *spec;
	enum ddlp_mode mode;
};

/* Report a failure of ddlp_lock_many()/ddlp_drive_resolve() and return
 * the exit code.  spec: the device it concerns (best knowledge). */
static int report_error(const struct options *o, int r, const char *spec,
                        enum ddlp_mode mode, const struct ddlp_conflict *c, int64_t waited)
{
	char reason[512], hint[512], shown[256];
	const char *cspec = c ? ddlp_conflict_get_spec(c) : NULL;
	const char *name;

	if (cspec && *cspec)
		spec = cspec;
	name = spec_for_message(spec, shown, sizeof(shown));

	switch (r) {
	case -EBUSY:
	case -ETIMEDOUT:
		if (!o->quiet) {
			describe_conflict(c, reason, sizeof(reason));
			if (r == -ETIMEDOUT)
				msg("%s: timed out after %.1f s: busy: %s", name, (double)waited / 1000.0,
				    reason);
			else
				msg("%s: busy: %s", name, reason);
		}
		return o->conflict_code;
	case -ENOENT:
	case -ELOOP:
		if (c)
			msg("%s: cannot open %s: %s", name, ddlp_conflict_get_node(c), strerror(-r));
		else
			msg("%s: no such device: %s", name, strerror(-r));
		return EX_NOINPUT;
	case -ENODEV:
	case -ENXIO:
		if (c) {
			/* a node went away or changed between resolution and open */
			msg("%s: %s: %s (%s): the drive went away or changed", name,
			    ddlp_conflict_get_node(c), strerror(-r),
			    ddlp_conflict_get_step(c) ? ddlp_conflict_get_step(c) : "open");
			return EX_UNAVAILABLE;
		}
		if (spec_is_address(spec)) {
			msg("%s: no such device: no SCSI device at this address", name);
			return EX_NOINPUT;
		}
		msg("%s: %s", name, not_a_drive_reason(spec, reason, sizeof(reason)));
		return EX_UNAVAILABLE;
	case -EACCES:
	case -EPERM: {
		const char *node = c ? ddlp_conflict_get_node(c) : spec;

		permission_hint(node, mode, hint, sizeof(hint));
		if (c && strcmp(node, spec) != 0 && !(o->flags & DDLP_LOCK_PARTIAL))
			msg("%s: permission denied: %s (or lock without it: --partial)", name, hint);
		else
			msg("%s: permission denied: %s", name, hint);
		return EX_NOPERM;
	}
	case -EINVAL:
		if (spec_is_address(spec))
			msg("%s: malformed SCSI address (expected H:C:T:L or B,T,L)", name);
		else if (!*spec)
			msg("empty device name");
		else
			msg("%s: invalid request: %s", name, strerror(-r));
		return EX_USAGE;
	case -ENAMETOOLONG:
		msg("%s: %s", name, strerror(-r));
		return EX_USAGE;
	default:
		if (c)
			msg("%s: %s: %s (%s)", name, ddlp_conflict_get_node(c), strerror(-r),
			    ddlp_conflict_get_step(c) ? ddlp_conflict_get_step(c) : "open");
		else
			msg("%s: %s", name, strerror(-r));
		return EX_OSERR;
	}
}

/* After ddlp_lock_many() failed without a conflict (before touching a
 * node): find which request it was about, by resolving each again. */
static int report_request_error(const struct options *o, int r, const struct lock_req *reqs,
                                size_t n)
{
	struct ddlp_drive **d;
	int ret = -1;

	if (n == 1)
		return report_error(o, r, reqs[0].spec, reqs[0].mode, NULL, 0);
	d = calloc(n, sizeof(*d));
	if (!d)
		return report_error(o, r, reqs[0].spec, reqs[0].mode, NULL, 0);
	for (size_t i = 0; i < n && ret < 0; i++) {
		int e = ddlp_drive_resolve(reqs[i].spec, 0, &d[i]);

		if (e < 0)
			ret = report_error(o, e, reqs[i].spec, reqs[i].mode, NULL, 0);
	}
	for (size_t i = 0; i < n && ret < 0 && r == -EINVAL; i++)
		for (size_t j = 0; j < i && ret < 0; j++)
			if (d[i] && d[j] &&
			    strcmp(ddlp_drive_get_id(d[i]), ddlp_drive_get_id(d[j])) == 0) {
				msg("%s and %s are the same drive (%s): name each drive once",
				    reqs[j].spec, reqs[i].spec, ddlp_drive_get_id(d[i]));
				ret = EX_USAGE;
			}
	for (size_t i = 0; i < n; i++)
		ddlp_drive_free(d[i]);
	free(d);
	if (ret < 0)
		ret = report_error(o, r, reqs[0].spec, reqs[0].mode, NULL, 0);
	return ret;
}

/* ------------------------------------------------------------------ *
 * JSON: a minimal writer with a string escaper (UTF-8 validated; an
 * invalid byte becomes U+FFFD, so the output is always valid JSON)
 * ------------------------------------------------------------------ */

struct json {
	FILE *f;
	int depth;
	bool first[32];
	bool after_key;
};

static void j_indent(struct json *j)
{
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

static void j_sep(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth > 0) {
		if (!j->first[j->depth])
			fputc(',', j->f);
		j->first[j->depth] = false;
		j_indent(j);
	}
}

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
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

static void j_escape(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		size_t n;

		switch (*s) {
		case '"':
			fputs("\\\"", f);
			s++;
			continue;
		case '\\':
			fputs("\\\\", f);
			s++;
			continue;
		case '\b':
			fputs("\\b", f);
			s++;
			continue;
		case '\f':
			fputs("\\f", f);
			s++;
			continue;
		case '\n':
			fputs("\\n", f);
			s++;
			continue;
		case '\r':
			fputs("\\r", f);
			s++;
			continue;
		case '\t':
			fputs("\\t", f);
			s++;
			continue;
		default:
			break;
		}
		if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", *s);
			s++;
			continue;
		}
		n = utf8_len(s);
		if (n == 0) {
			fputs("\\ufffd", f);
			s++;
			continue;
		}
		fwrite(s, 1, n, f);
		s += n;
	}
	fputc('"', f);
}

static void j_open(struct json *j, char c)
{
	j_sep(j);
	fputc(c, j->f);
	j->depth++;
	j->first[j->depth] = true;
}

static void j_close(struct json *j, char c)
{
	bool empty = j->first[j->depth];

	j->depth--;
	if (!empty)
		j_indent(j);
	fputc(c, j->f);
	if (j->depth == 0)
		fputc('\n', j->f);
}

static void j_key(struct json *j, const char *k)
{
	j_sep(j);
	j_escape(j->f, k);
	fputs(": ", j->f);
	j->after_key = true;
}

static void j_str(struct json *j, const char *k, const char *v)
{
	if (k)
		j_key(j, k);
	j_sep(j);
	if (v)
		j_escape(j->f, v);
	else
		fputs("null", j->f);
}

static void j_int(struct json *j, const char *k, long long v)
{
	if (k)
		j_key(j, k);
	j_sep(j);
	fprintf(j->f, "%lld", v);
}

static void j_bool(struct json *j, const char *k, bool v)
{
	if (k)
		j_key(j, k);
	j_sep(j);
	fputs(v ? "true" : "false", j->f);
}

static void j_null(struct json *j, const char *k)
{
	j_str(j, k, NULL);
}

/* ------------------------------------------------------------------ *
 * Who has a drive's nodes open (for --status and --list): the libddlp
 * status reads /proc/locks only, where an OFD lock shows no pid and an
 * O_EXCL open does not show at all.  /proc/PID/fd links are stat()ed,
 * which looks at the inode without opening the device.
 * ------------------------------------------------------------------ */

struct opener {
	pid_t pid;
	char name[32];
};

static void pid_comm(pid_t pid, char *buf, size_t size)
{
	char path[64];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	else
		buf[0] = '\0';
	fclose(f);
}

static bool node_matches(const struct ddlp_drive *d, const struct stat *st)
{
	size_t n = ddlp_drive_get_node_count(d);

	if (!S_ISBLK(st->st_mode) && !S_ISCHR(st->st_mode))
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct ddlp_node *node = ddlp_drive_get_node(d, i);
		bool blk = ddlp_node_get_kind(node) == DDLP_NODE_BLOCK;

		if (ddlp_node_get_devnum(node) == st->st_rdev && blk == (bool)S_ISBLK(st->st_mode))
			return true;
	}
	return false;
}

static size_t find_openers(const struct ddlp_drive *d, struct opener *out, size_t max)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	size_t count = 0;
	pid_t self = getpid();

	if (!proc)
		return 0;
	while (count < max && (de = readdir(proc))) {
		char path[300];
		DIR *fds;
		struct dirent *fe;
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		bool found = false;

		if (*end || pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue; /* gone, or another user's process */
		while (!found && (fe = readdir(fds))) {
			struct stat st;

			if (fe->d_name[0] == '.')
				continue;
			if (fstatat(dirfd(fds), fe->d_name, &st, 0) == 0 && node_matches(d, &st))
				found = true;
		}
		closedir(fds);
		if (found) {
			out[count].pid = (pid_t)pid;
			pid_comm((pid_t)pid, out[count].name, sizeof(out[count].name));
			count++;
		}
	}
	closedir(proc);
	return count;
}

struct drive_state {
	struct ddlp_status st;
	struct opener open_by[MAX_OPENERS];
	size_t n_open;
};

static int drive_state(const struct ddlp_drive *d, struct drive_state *s)
{
	int r = ddlp_drive_get_status(d, &s->st);

	if (r < 0)
		return r;
	s->n_open = find_openers(d, s->open_by, MAX_OPENERS);
	/* an OFD holder shows no pid in /proc/locks: name a process that has
	 * the drive open instead */
	if (s->st.state != DDLP_STATE_FREE && s->st.holder_pid <= 0 && s->n_open > 0) {
		s->st.holder_pid = s->open_by[0].pid;
		snprintf(s->st.holder_name, sizeof(s->st.holder_name), "%s", s->open_by[0].name);
	}
	return 0;
}

static void state_text(const struct drive_state *s, char *buf, size_t size)
{
	size_t len;

	if (s->st.state == DDLP_STATE_SHARED)
		len = (size_t)snprintf(buf, size, "shared (%u holder%s)", s->st.holders,
		                       s->st.holders == 1 ? "" : "s");
	else
		len = (size_t)snprintf(buf, size, "%s", state_name(s->st.state));
	if (len >= size)
		return;
	if (s->st.state != DDLP_STATE_FREE && s->st.holder_pid > 0)
		len += (size_t)snprintf(buf + len, size - len, ", held by %s (pid %ld)",
		                        s->st.holder_name[0] ? s->st.holder_name : "?",
		                        (long)s->st.holder_pid);
	else if (s->st.state != DDLP_STATE_FREE)
		len += (size_t)snprintf(buf + len, size - len, ", holder unknown");
	for (size_t i = 0; i < s->n_open && len < size; i++) {
		if (s->open_by[i].pid == s->st.holder_pid)
			continue;
		len += (size_t)snprintf(buf + len, size - len, "%s%s (pid %ld)",
		                        len && strstr(buf, "; open by") ? ", " : "; open by ",
		                        s->open_by[i].name[0] ? s->open_by[i].name : "?",
		                        (long)s->open_by[i].pid);
	}
}

/* ------------------------------------------------------------------ *
 * --resolve, --status, --list
 * ------------------------------------------------------------------ */

static void json_nodes(struct json *j, const struct ddlp_drive *d)
{
	size_t n = ddlp_drive_get_node_count(d);

	j_key(j, "nodes");
	j_open(j, '[');
	for (size_t i = 0; i < n; i++) {
		const struct ddlp_node *node = ddlp_drive_get_node(d, i);
		dev_t dev = ddlp_node_get_devnum(node);
		unsigned fl = ddlp_node_get_flags(node);

		j_open(j, '{');
		j_str(j, "path", ddlp_node_get_path(node));
		j_str(j, "kind", ddlp_node_kind_name(ddlp_node_get_kind(node)));
		j_int(j, "major", major(dev));
		j_int(j, "minor", minor(dev));
		j_str(j, "excl", excl_name(ddlp_node_get_excl(node)));
		j_bool(j, "named", fl & DDLP_NODE_NAMED);
		j_bool(j, "alias", fl & DDLP_NODE_ALIAS);
		j_close(j, '}');
	}
	j_close(j, ']');
}

static void json_drive_fields(struct json *j, const struct ddlp_drive *d)
{
	j_str(j, "spec", ddlp_drive_get_spec(d));
	j_str(j, "id", ddlp_drive_get_id(d));
	j_str(j, "persistent_name", ddlp_drive_get_persistent_name(d));
	j_str(j, "syspath", ddlp_drive_get_syspath(d));
	json_nodes(j, d);
}

static void json_state_fields(struct json *j, const struct drive_state *s)
{
	j_str(j, "state", state_name(s->st.state));
	j_int(j, "holders", s->st.holders);
	if (s->st.holder_pid > 0) {
		j_int(j, "holder_pid", s->st.holder_pid);
		j_str(j, "holder_name", s->st.holder_name[0] ? s->st.holder_name : NULL);
	} else {
		j_null(j, "holder_pid");
		j_null(j, "holder_name");
	}
	j_key(j, "open_by");
	j_open(j, '[');
	for (size_t i = 0; i < s->n_open; i++) {
		j_open(j, '{');
		j_int(j, "pid", s->open_by[i].pid);
		j_str(j, "name", s->open_by[i].name[0] ? s->open_by[i].name : NULL);
		j_close(j, '}');
	}
	j_close(j, ']');
}

/* A name for the text output (--resolve, --status, --list) as printable()
 * shows it: the spec and an alias path come from the caller, and a line
 * of the text output must neither split nor drive the terminal.  --json
 * gives the exact bytes. */
struct text_name {
	char s[4 * PATH_MAX + 8];
};

static const char *text_name(struct text_name *b, const char *name)
{
	printable(name, b->s, sizeof(b->s));
	return b->s;
}

static void text_resolve(const struct ddlp_drive *d)
{
	size_t n = ddlp_drive_get_node_count(d);
	const char *pn = ddlp_drive_get_persistent_name(d);
	struct text_name b;

	printf("spec:            %s\n", text_name(&b, ddlp_drive_get_spec(d)));
	printf("id:              %s\n", ddlp_drive_get_id(d));
	printf("persistent name: %s\n", pn ? text_name(&b, pn) : "-");
	printf("syspath:         %s\n", text_name(&b, ddlp_drive_get_syspath(d)));
	printf("nodes, in lock order:\n");
	for (size_t i = 0; i < n; i++) {
		const struct ddlp_node *node = ddlp_drive_get_node(d, i);
		dev_t dev = ddlp_node_get_devnum(node);
		unsigned fl = ddlp_node_get_flags(node);
		char num[32];

		snprintf(num, sizeof(num), "%u:%u", major(dev), minor(dev));
		printf("  %-20s %-5s %-9s O_EXCL: %-5s%s%s\n",
		       text_name(&b, ddlp_node_get_path(node)),
		       ddlp_node_kind_name(ddlp_node_get_kind(node)), num,
		       excl_name(ddlp_node_get_excl(node)), fl & DDLP_NODE_NAMED ? " named" : "",
		       fl & DDLP_NODE_ALIAS ? " alias" : "");
	}
}

static int finish_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		msg("write error on standard output: %s", strerror(errno));
		return EX_OSERR;
	}
	return 0;
}

static int do_resolve(const struct options *o, const char *spec)
{
	struct ddlp_drive *d;
	int r = ddlp_drive_resolve(spec, 0, &d);

	if (r < 0)
		return report_error(o, r, spec, DDLP_SHARED, NULL, 0);
	if (o->json) {
		struct json j = { .f = stdout };

		j_open(&j, '{');
		json_drive_fields(&j, d);
		j_close(&j, '}');
	} else {
		text_resolve(d);
	}
	ddlp_drive_free(d);
	return finish_stdout();
}

/* --status: "SPEC: STATE"; --list: "ID [PERSISTENT]: NODES: STATE" */
static void text_drive_line(const struct ddlp_drive *d, const struct drive_state *s,
                            const char *spec)
{
	char state[1024];
	const char *pn = ddlp_drive_get_persistent_name(d);
	size_t n = ddlp_drive_get_node_count(d);
	struct text_name b, bs; /* (a holder's command name is the holder's choice too) */

	state_text(s, state, sizeof(state));
	text_name(&bs, state);
	if (spec) {
		printf("%s: %s\n", text_name(&b, spec), bs.s);
		return;
	}
	printf("%s", ddlp_drive_get_id(d));
	if (pn)
		printf(" [%s]", text_name(&b, pn));
	printf(":");
	for (size_t i = 0; i < n; i++)
		printf(" %s", text_name(&b, ddlp_node_get_path(ddlp_drive_get_node(d, i))));
	printf(": %s\n", bs.s);
}

static int do_status(const struct options *o, char **specs, int n)
{
	struct json j = { .f = stdout };
	int ret = 0;

	if (o->json) {
		j_open(&j, '{');
		j_key(&j, "drives");
		j_open(&j, '[');
	}
	for (int i = 0; i < n; i++) {
		struct ddlp_drive *d;
		struct drive_state s;
		int r = ddlp_drive_resolve(specs[i], 0, &d);

		if (r == 0) {
			r = drive_state(d, &s);
			if (r < 0)
				ddlp_drive_free(d);
		}
		if (r < 0) {
			int code = report_error(o, r, specs[i], DDLP_SHARED, NULL, 0);

			if (!ret)
				ret = code;
			if (o->json) {
				j_open(&j, '{');
				j_str(&j, "spec", specs[i]);
				j_str(&j, "error", strerror(-r));
				j_int(&j, "exit_code", code);
				j_close(&j, '}');
			}
			continue;
		}
		if (o->json) {
			j_open(&j, '{');
			json_drive_fields(&j, d);
			json_state_fields(&j, &s);
			j_close(&j, '}');
		} else {
			text_drive_line(d, &s, specs[i]);
		}
		ddlp_drive_free(d);
	}
	if (o->json) {
		j_close(&j, ']');
		j_close(&j, '}');
	}
	{
		int w = finish_stdout();

		return ret ? ret : w;
	}
}

static int do_list(const struct options *o)
{
	struct ddlp_drive **list;
	struct json j = { .f = stdout };
	size_t n;
	int r = ddlp_drive_list(&list, &n);

	if (r < 0) {
		msg("cannot list the drives: %s", strerror(-r));
		return r == -EACCES || r == -EPERM ? EX_NOPERM : EX_OSERR;
	}
	if (o->json) {
		j_open(&j, '{');
		j_key(&j, "drives");
		j_open(&j, '[');
	}
	for (size_t i = 0; i < n; i++) {
		struct drive_state s;

		r = drive_state(list[i], &s);
		if (r < 0) {
			msg("%s: cannot read its state: %s", ddlp_drive_get_id(list[i]), strerror(-r));
			memset(&s, 0, sizeof(s));
		}
		if (o->json) {
			j_open(&j, '{');
			json_drive_fields(&j, list[i]);
			json_state_fields(&j, &s);
			j_close(&j, '}');
		} else {
			text_drive_line(list[i], &s, NULL);
		}
	}
	if (o->json) {
		j_close(&j, ']');
		j_close(&j, '}');
	} else if (n == 0 && o->verbose) {
		msg("no optical drives found");
	}
	ddlp_drive_list_free(list, n);
	return finish_stdout();
}

/* ------------------------------------------------------------------ *
 * Locking, with a progress line when a person waits at a terminal
 * ------------------------------------------------------------------ */

static volatile sig_atomic_t wait_signal;

static void on_wait_signal(int sig)
{
	wait_signal = sig;
}

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define N_FORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

static void progress_clear(void)
{
	fputs("\r\033[K", stderr);
	fflush(stderr);
}

static int lock_with_progress(const struct options *o, const struct ddlp_request *reqs,
                              size_t n, struct ddlp_lock **lock, int64_t start)
{
	int64_t deadline = o->timeout_ms < 0 ? -1 : start + o->timeout_ms;
	struct sigaction sa = { .sa_handler = on_wait_signal }, old[N_FORWARDED];
	bool shown = false;
	int r;

	/* a signal ends the wait between two slices, with the line cleared */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_FORWARDED; i++) {
		sigaction(forwarded[i], NULL, &old[i]);
		if (old[i].sa_handler != SIG_IGN)
			sigaction(forwarded[i], &sa, NULL);
	}
	for (;;) {
		int64_t t = now_ms(), slice = SLICE_MS;
		char holder[512], line[PATH_MAX + 1024], text[4 * sizeof(line)];
		const struct ddlp_conflict *c;

		if (deadline >= 0 && deadline - t < slice)
			slice = deadline - t;
		if (slice < 1)
			slice = 1;
		r = ddlp_lock_many(reqs, n, (int)slice, o->flags, lock);
		if (r != -ETIMEDOUT)
			break;
		t = now_ms();
		if (wait_signal || (deadline >= 0 && t >= deadline))
			break;
		c = ddlp_last_conflict();
		describe_conflict(c, holder, sizeof(holder));
		snprintf(line, sizeof(line), "waiting for %s (busy: %s) %.1f s",
		         c && *ddlp_conflict_get_spec(c) ? ddlp_conflict_get_spec(c) : reqs[0].spec,
		         holder, (double)(t - start) / 1000.0);
		printable(line, text, sizeof(text));
		fprintf(stderr, "\r%s\033[K", text);
		fflush(stderr);
		shown = true;
	}
	if (shown)
		progress_clear();
	for (size_t i = 0; i < N_FORWARDED; i++)
		sigaction(forwarded[i], &old[i], NULL);
	if (wait_signal) {
		/* die of it, as without the progress line */
		if (r == 0)
			ddlp_unlock(*lock);
		raise(wait_signal);
		return -EINTR;
	}
	return r;
}

/* ------------------------------------------------------------------ *
 * Running the command: a child, with signals forwarded
 * ------------------------------------------------------------------ */

static volatile pid_t child_pid;
static bool session_leader;

static void forward_signal(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	/* The terminal sends SIGINT, SIGQUIT (and SIGHUP on hangup) to the
	 * whole foreground process group, the command included: do not send
	 * it a second copy.  Signals from a process (kill) are forwarded. */
	if (si && si->si_code == SI_KERNEL && !session_leader)
		return;
	if (child_pid > 0)
		kill(child_pid, sig);
}

struct child_result {
	int status;     /* exit code of ddlp-lock */
	int exec_errno; /* 0, or why the command could not be run */
};

static int run_command(const struct options *o, char **argv, const char *device,
                       struct child_result *res)
{
	struct sigaction sa = { .sa_sigaction = forward_signal, .sa_flags = SA_SIGINFO };
	struct sigaction old[N_FORWARDED];
	sigset_t block, saved;
	int pfd[2], e, status;
	ssize_t got;
	pid_t pid, w;

	res->exec_errno = 0;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		msg("%s: cannot run the command: pipe: %s", device, strerror(errno));
		res->status = EX_OSERR;
		return -1;
	}
	session_leader = getsid(0) == getpid();
	sigemptyset(&block);
	for (size_t i = 0; i < N_FORWARDED; i++)
		sigaddset(&block, forwarded[i]);
	sigprocmask(SIG_BLOCK, &block, &saved);
	/* signals that were ignored when we started stay ignored (a command
	 * started with & by a non-interactive shell): not forwarded */
	sa.sa_mask = block;
	for (size_t i = 0; i < N_FORWARDED; i++) {
		sigaction(forwarded[i], NULL, &old[i]);
		if (old[i].sa_handler != SIG_IGN)
			sigaction(forwarded[i], &sa, NULL);
	}
	fflush(NULL);

	pid = fork();
	if (pid < 0) {
		e = errno;
		for (size_t i = 0; i < N_FORWARDED; i++)
			sigaction(forwarded[i], &old[i], NULL);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		close(pfd[0]);
		close(pfd[1]);
		msg("%s: cannot run the command: fork: %s", device, strerror(e));
		res->status = EX_OSERR;
		return -1;
	}
	if (pid == 0) {
		/* the lock's descriptors are O_CLOEXEC, and libddlp closed the
		 * child's copies at fork already */
		for (size_t i = 0; i < N_FORWARDED; i++)
			sigaction(forwarded[i], &old[i], NULL);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		close(pfd[0]);
		if (o->command) {
			char *sh[] = { "/bin/sh", "-c", (char *)o->command, NULL };

			execv(sh[0], sh);
		} else {
			execvp(argv[0], argv);
		}
		e = errno;
		if (write(pfd[1], &e, sizeof(e)) < 0) {
			/* the parent then sees only the exit code */
		}
		_exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
	}
	child_pid = pid;
	sigprocmask(SIG_SETMASK, &saved, NULL);
	close(pfd[1]);
	do
		got = read(pfd[0], &e, sizeof(e));
	while (got < 0 && errno == EINTR);
	close(pfd[0]);
	if (got == (ssize_t)sizeof(e))
		res->exec_errno = e;

	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	child_pid = 0;
	for (size_t i = 0; i < N_FORWARDED; i++)
		sigaction(forwarded[i], &old[i], NULL);
	if (w < 0) {
		msg("%s: waitpid: %s", device, strerror(errno));
		res->status = EX_OSERR;
		return -1;
	}
	if (res->exec_errno) {
		const char *what = o->command ? "/bin/sh" : argv[0];

		msg("%s: cannot run %s: %s", device, what, strerror(res->exec_errno));
		res->status = res->exec_errno == ENOENT || res->exec_errno == ENOTDIR ? 127 : 126;
		return 0;
	}
	if (WIFEXITED(status))
		res->status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		res->status = 128 + WTERMSIG(status);
	else
		res->status = EX_OSERR;
	return 0;
}

/* ------------------------------------------------------------------ *
 * The log hook for -v: libddlp's warnings (and with -vv its debug
 * messages) on stderr, one line each
 * ------------------------------------------------------------------ */

static void log_hook(void *userdata, int priority, const char *file, int line, const char *fn,
                     const char *format, va_list args)
{
	char buf[1024];

	(void)userdata;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	vsnprintf(buf, sizeof(buf), format, args);
	msg("libddlp: %s", buf);
}

static void verbose_drive(const struct ddlp_drive *d, enum ddlp_mode mode)
{
	char nodes[1024] = "";
	size_t n = ddlp_drive_get_node_count(d), len = 0;
	const char *pn = ddlp_drive_get_persistent_name(d);

	for (size_t i = 0; i < n && len < sizeof(nodes); i++)
		len += (size_t)snprintf(nodes + len, sizeof(nodes) - len, "%s%s", i ? " " : "",
		                        ddlp_node_get_path(ddlp_drive_get_node(d, i)));
	msg("%s: %s%s%s%s, %s: %s", ddlp_drive_get_spec(d), ddlp_drive_get_id(d), pn ? " (" : "",
	    pn ? pn : "", pn ? ")" : "", mode_name(mode), nodes);
}

static int do_lock(const struct options *o, const struct lock_req *reqs, size_t n, char **argv)
{
	struct ddlp_request dreq[MAX_DRIVES];
	struct ddlp_lock *lock = NULL;
	struct child_result res;
	const char *device = reqs[0].spec;
	int64_t start, locked;
	int r;

	for (size_t i = 0; i < n; i++) {
		dreq[i].spec = reqs[i].spec;
		dreq[i].mode = reqs[i].mode;
	}
	start = now_ms();
	if (o->timeout_ms != 0 && !o->quiet && isatty(STDERR_FILENO))
		r = lock_with_progress(o, dreq, n, &lock, start);
	else
		r = ddlp_lock_many(dreq, n, o->timeout_ms, o->flags, &lock);
	locked = now_ms();
	if (r < 0) {
		const struct ddlp_conflict *c = ddlp_last_conflict();
		enum ddlp_mode mode = reqs[0].mode;

		if (c) {
			for (size_t i = 0; i < n; i++)
				if (strcmp(ddlp_conflict_get_spec(c), reqs[i].spec) == 0)
					mode = reqs[i].mode;
			return report_error(o, r, device, mode, c, locked - start);
		}
		return report_request_error(o, r, reqs, n);
	}
	if (o->verbose) {
		for (size_t i = 0; i < ddlp_lock_get_drive_count(lock); i++)
			verbose_drive(ddlp_lock_get_drive(lock, i), ddlp_lock_get_mode(lock, i));
		msg("locked %zu drive%s in %.3f s", n, n == 1 ? "" : "s",
		    (double)(locked - start) / 1000.0);
	}

	run_command(o, argv, device, &res);

	/* the child has exited: now the drives may go */
	r = ddlp_unlock(lock);
	if (r < 0)
		msg("%s: releasing the lock: %s", device, strerror(-r));
	if (o->verbose)
		msg("released after %.3f s; exit status %d", (double)(now_ms() - locked) / 1000.0,
		    res.status);
	return res.status;
}

/* ------------------------------------------------------------------ *
 * main
 * ------------------------------------------------------------------ */

enum {
	OPT_JSON = 256,
	OPT_RESOLVE,
	OPT_STATUS,
	OPT_LIST,
	OPT_NO_REPROBE,
	OPT_PARTIAL
};

static const struct option long_options[] = {
	{ "exclusive", no_argument, NULL, 'x' },
	{ "shared", no_argument, NULL, 's' },
	{ "nonblock", no_argument, NULL, 'n' },
	{ "nb", no_argument, NULL, 'n' },
	{ "timeout", required_argument, NULL, 'w' },
	{ "wait", required_argument, NULL, 'w' },
	{ "conflict-exit-code", required_argument, NULL, 'E' },
	{ "command", required_argument, NULL, 'c' },
	{ "close", no_argument, NULL, 'o' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "silent", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "resolve", no_argument, NULL, OPT_RESOLVE },
	{ "status", no_argument, NULL, OPT_STATUS },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "no-reprobe", no_argument, NULL, OPT_NO_REPROBE },
	{ "partial", no_argument, NULL, OPT_PARTIAL },
	{ NULL, 0, NULL, 0 },
};

static bool is_mode_arg(const char *a, enum ddlp_mode *mode)
{
	if (strcmp(a, "-s") == 0 || strcmp(a, "--shared") == 0) {
		*mode = DDLP_SHARED;
		return true;
	}
	if (strcmp(a, "-x") == 0 || strcmp(a, "-e") == 0 || strcmp(a, "--exclusive") == 0) {
		*mode = DDLP_EXCLUSIVE;
		return true;
	}
	return false;
}

static int set_action(struct options *o, enum action a)
{
	if (o->action != ACT_LOCK && o->action != a)
		return -1;
	o->action = a;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .action = ACT_LOCK, .mode = DDLP_EXCLUSIVE, .timeout_ms = -1,
		             .conflict_code = 1 };
	struct lock_req reqs[MAX_DRIVES];
	size_t n_reqs = 0;
	char **cmd = NULL;
	int c, i;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:xesnw:E:c:ovqhV", long_options, NULL)) != -1) {
		switch (c) {
		case 'x':
		case 'e':
			o.mode = DDLP_EXCLUSIVE;
			break;
		case 's':
			o.mode = DDLP_SHARED;
			break;
		case 'n':
			o.timeout_ms = 0;
			break;
		case 'w':
			if (parse_seconds(optarg, &o.timeout_ms) < 0)
				return usage_error("invalid timeout '%s': seconds, fractions allowed",
				                   optarg);
			break;
		case 'E':
			if (parse_exit_code(optarg, &o.conflict_code) < 0)
				return usage_error("invalid conflict exit code '%s': 0 to 255", optarg);
			break;
		case 'c':
			o.command = optarg;
			break;
		case 'o':
			break; /* the command never inherits the lock's descriptors */
		case 'v':
			o.verbose++;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			help();
			return finish_stdout();
		case 'V':
			printf("%s %s (libddlp %s)\n", PROG, PACKAGE_VERSION, ddlp_version());
			return finish_stdout();
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_RESOLVE:
			if (set_action(&o, ACT_RESOLVE) < 0)
				return usage_error("--resolve, --status and --list exclude each other");
			break;
		case OPT_STATUS:
			if (set_action(&o, ACT_STATUS) < 0)
				return usage_error("--resolve, --status and --list exclude each other");
			break;
		case OPT_LIST:
			if (set_action(&o, ACT_LIST) < 0)
				return usage_error("--resolve, --status and --list exclude each other");
			break;
		case OPT_NO_REPROBE:
			o.flags |= DDLP_LOCK_NO_REPROBE;
			break;
		case OPT_PARTIAL:
			o.flags |= DDLP_LOCK_PARTIAL;
			break;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt && optopt < 256)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}

	if (o.verbose) {
		ddlp_set_log_fn(log_hook, NULL);
		ddlp_set_log_priority(o.verbose > 1 ? 7 : 6);
	}

	switch (o.action) {
	case ACT_RESOLVE:
		if (o.command)
			return usage_error("-c is for running a command, not with --resolve");
		if (argc - optind != 1)
			return usage_error("--resolve takes one DEVICE");
		return do_resolve(&o, argv[optind]);
	case ACT_STATUS:
		if (o.command)
			return usage_error("-c is for running a command, not with --status");
		if (argc - optind < 1)
			return usage_error("--status takes one or more DEVICEs");
		return do_status(&o, argv + optind, argc - optind);
	case ACT_LIST:
		if (o.command)
			return usage_error("-c is for running a command, not with --list");
		if (argc - optind != 0)
			return usage_error("--list takes no DEVICE");
		return do_list(&o);
	case ACT_LOCK:
		break;
	}

	if (o.json)
		return usage_error("--json is for --resolve, --status and --list");
	if (optind >= argc)
		return usage_error("no DEVICE given");
	reqs[n_reqs++] = (struct lock_req){ argv[optind], o.mode };
	i = optind + 1;
	/* more drives: DEVICE -s DEVICE2 -x DEVICE3 ... [--] COMMAND */
	for (;;) {
		enum ddlp_mode m;

		if (i < argc && is_mode_arg(argv[i], &m)) {
			if (i + 1 >= argc)
				return usage_error("'%s' needs a DEVICE after it", argv[i]);
			if (n_reqs >= MAX_DRIVES)
				return usage_error("at most %d drives in one call", MAX_DRIVES);
			reqs[n_reqs++] = (struct lock_req){ argv[i + 1], m };
			i += 2;
			continue;
		}
		break;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i < argc && (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--command") == 0)) {
		if (o.command)
			return usage_error("-c given twice");
		if (i + 1 >= argc)
			return usage_error("'%s' needs a COMMAND LINE", argv[i]);
		if (i + 2 < argc)
			return usage_error("-c takes one argument, the whole command line ('%s' is one too many)",
			                   argv[i + 2]);
		o.command = argv[i + 1];
		i = argc;
	}
	if (o.command) {
		if (i < argc)
			return usage_error("both -c and a COMMAND ('%s') given", argv[i]);
	} else {
		if (i >= argc)
			return usage_error("no COMMAND given for %s", reqs[0].spec);
		cmd = argv + i;
	}
	return do_lock(&o, reqs, n_reqs, cmd);
}
