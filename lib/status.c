/*
 * The state of a drive as other programs see it, without opening it:
 * the fcntl and flock locks on its nodes from /proc/locks.  Shared holders
 * are counted on the first node of the order (every DDLP holder locks it);
 * an exclusive holder shows as a write lock on any node.  Holders that only
 * keep the drive open with O_EXCL (most burning programs) do not show in
 * /proc/locks: ddlp-lock --status looks for openers separately.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "ddlp-private.h"

struct scan {
	unsigned readers;
	bool writer;
	pid_t pid;
	bool first;
};

static int scan_lock(const struct ddlp_plock *l, void *data)
{
	struct scan *s = data;

	if (l->blocked || l->kind == DDLP_PLOCK_OTHER)
		return 0;
	if (l->write) {
		s->writer = true;
		if (l->pid > 0)
			s->pid = l->pid;
	} else if (s->first && l->kind != DDLP_PLOCK_FLOCK) {
		s->readers++;
		if (l->pid > 0 && !s->pid)
			s->pid = l->pid;
	}
	return 0;
}

DDLP_EXPORT int ddlp_drive_get_status(const struct ddlp_drive *drive, struct ddlp_status *status)
{
	struct scan s = { 0 };
	int r;

	if (!drive || !status)
		return -EINVAL;
	memset(status, 0, sizeof(*status));
	for (size_t i = 0; i < drive->n_nodes; i++) {
		s.first = i == 0;
		r = ddlp_proclocks_foreach(drive->nodes[i].inode_dev, drive->nodes[i].inode,
		                           scan_lock, &s);
		if (r < 0)
			return r;
	}
	if (s.writer)
		status->state = DDLP_STATE_EXCLUSIVE;
	else if (s.readers)
		status->state = DDLP_STATE_SHARED;
	status->holders = s.writer ? 1 : s.readers;
	status->holder_pid = s.pid;
	if (s.pid > 0)
		ddlp_pid_name(s.pid, status->holder_name, sizeof(status->holder_name));
	return 0;
}
