/*
 * The state of a drive as other programs see it, without opening it:
 * the fcntl and flock locks on its nodes from /proc/locks.  Shared holders
 * are counted on the first node of the order (every DDLP holder locks it);
 * an exclusive holder shows as a write lock on any node.  Holders that only
 * keep the drive open with O_EXCL (most burning programs) do not show in
 * /proc/locks, and an OFD lock shows no pid: ddlp_users_new() (users.c)
 * finds them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ddlp-private.h"

struct ddlp_status {
	enum ddlp_state state;
	unsigned holders;
	pid_t holder_pid;
	char holder_name[64];
};

struct scan {
	const struct ddlp_drive *drive;
	unsigned readers;
	bool writer;
	pid_t pid;       /* a writer's, else a reader's */
};

/* One line of /proc/locks: a lock on one of the drive's nodes? */
static int scan_lock(const struct ddlp_plock *l, dev_t dev, ino_t ino, void *data)
{
	struct scan *s = data;
	size_t i;

	if (l->blocked || l->kind == DDLP_PLOCK_OTHER)
		return 0;
	for (i = 0; i < s->drive->n_nodes; i++)
		if (s->drive->nodes[i].inode == ino && s->drive->nodes[i].inode_dev == dev)
			break;
	if (i == s->drive->n_nodes)
		return 0;
	if (l->write) {
		if (l->pid > 0 && !s->writer)
			s->pid = l->pid;
		s->writer = true;
	} else if (i == 0 && l->kind != DDLP_PLOCK_FLOCK) {
		/* shared holders are counted on the first node */
		s->readers++;
		if (l->pid > 0 && !s->pid)
			s->pid = l->pid;
	}
	return 0;
}

DDLP_EXPORT int ddlp_status_new(const struct ddlp_drive *drive, unsigned flags,
                                struct ddlp_status **out)
{
	struct ddlp_status *status;
	struct scan s = { .drive = drive };
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!drive || flags)
		return -EINVAL;
	status = calloc(1, sizeof(*status));
	if (!status)
		return -ENOMEM;
	/* one read of /proc/locks for all the nodes */
	r = ddlp_proclocks_scan(scan_lock, &s);
	if (r < 0) {
		free(status);
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
	*out = status;
	return 0;
}

DDLP_EXPORT void ddlp_status_free(struct ddlp_status *status)
{
	free(status);
}

DDLP_EXPORT enum ddlp_state ddlp_status_get_state(const struct ddlp_status *status)
{
	return status ? status->state : DDLP_STATE_FREE;
}

DDLP_EXPORT unsigned ddlp_status_get_holder_count(const struct ddlp_status *status)
{
	return status ? status->holders : 0;
}

DDLP_EXPORT pid_t ddlp_status_get_holder_pid(const struct ddlp_status *status)
{
	return status ? status->holder_pid : 0;
}

DDLP_EXPORT const char *ddlp_status_get_holder_name(const struct ddlp_status *status)
{
	return status && status->holder_name[0] ? status->holder_name : NULL;
}

