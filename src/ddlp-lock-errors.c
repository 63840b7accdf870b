/*
 * ddlp-lock: what went wrong, for people and for scripts.  A failure of a
 * libddlp call becomes one message that names the device and the reason
 * (with the remedy where there is one: the group to join, --partial) and
 * the exit code ddlp-lock(1) documents (flock(1)'s conflict code, the
 * sysexits.h codes).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sysexits.h>
#include <unistd.h>

#include "ddlp-lock.h"

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

/* Report a failure of ddlp_lock_many()/ddlp_drive_resolve() and return
 * the exit code.  spec: the device it concerns (best knowledge). */
int report_error(const struct options *o, int r, const char *spec,
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
int report_request_error(const struct options *o, int r, const struct lock_req *reqs,
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
