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

DDLP_EXPORT int ddlp_status_new(const struct ddlp_drive *drive, unsigned flags,
                                struct ddlp_status **out)
{
	struct ddlp_status *status;
	struct scan s = { 0 };
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!drive || flags)
		return -EINVAL;
	status = calloc(1, sizeof(*status));
	if (!status)
		return -ENOMEM;
	for (size_t i = 0; i < drive->n_nodes; i++) {
		s.first = i == 0;
		r = ddlp_proclocks_foreach(drive->nodes[i].inode_dev, drive->nodes[i].inode,
		                           scan_lock, &s);
		if (r < 0) {
			free(status);
			return r;
		}
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

