/*
 * The state of a drive as other programs see it, without opening it:
 * the fcntl and flock locks on its nodes from /proc/locks.  Shared holders
 * are counted on the first node of the order (every DDLP holder locks it);
 * an exclusive holder shows as a write lock on any node.  Holders that only
 * keep the drive open with O_EXCL (most burning programs) do not show in
 * /proc/locks, and an OFD lock shows no pid: ddlp_users_new() (users.c)
 * finds them.  Also the friendly check of a lock attempt
 * (ddlp_visible_conflict()).
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

struct visible {
	const struct ddlp_lock *lock;
	const struct ddlp_drive *drive;
	const struct ddlp_node *node;
	const struct ddlp_plock *hit;
	struct ddlp_plock copy;
};

static int visible_fn(const struct ddlp_plock *l, dev_t dev, ino_t ino, void *data)
{
	struct visible *v = data;

	if (l->blocked || l->kind == DDLP_PLOCK_OTHER)
		return 0;
	for (size_t d = 0; d < v->lock->n; d++) {
		const struct ddlp_lock_drive *ld = &v->lock->drives[d];

		for (size_t i = 0; i < ld->drive->n_nodes; i++) {
			const struct ddlp_node *n = &ld->drive->nodes[i];

			if (n->inode != ino || n->inode_dev != dev ||
			    !ddlp_lockset_node_wanted(ld->drive, i, ld->mode))
				continue;
			if (ld->mode == DDLP_SHARED && !l->write)
				continue;
			/* the earliest node of the order wins */
			if (!v->node || ddlp_node_compare(n, v->node) < 0) {
				v->drive = ld->drive;
				v->node = n;
				v->copy = *l;
			}
		}
	}
	return 0;
}

static bool shared_request(const struct ddlp_lock *lock, const struct ddlp_node *node)
{
	for (size_t d = 0; d < lock->n; d++) {
		const struct ddlp_drive *dr = lock->drives[d].drive;

		if (node >= dr->nodes && node < dr->nodes + dr->n_nodes)
			return lock->drives[d].mode == DDLP_SHARED;
	}
	return false;
}

/* Are the drive's nodes still the ones resolved?  A removed drive's dead
 * holder can stay listed on the unlinked inode: then the attempt, not the
 * check, must answer (-ENODEV). */
static bool nodes_present(const struct ddlp_lock *lock)
{
	for (size_t d = 0; d < lock->n; d++) {
		const struct ddlp_drive *dr = lock->drives[d].drive;

		for (size_t i = 0; i < dr->n_nodes; i++) {
			struct stat st;

			if (stat(dr->nodes[i].path, &st) < 0 || st.st_ino != dr->nodes[i].inode ||
			    st.st_rdev != dr->nodes[i].devnum)
				return false;
		}
	}
	return true;
}

const struct ddlp_node *ddlp_visible_conflict(const struct ddlp_lock *lock)
{
	struct visible v = { .lock = lock };
	struct ddlp_conflict *c;

	if (!nodes_present(lock))
		return NULL;
	if (ddlp_proclocks_scan(visible_fn, &v) < 0 || !v.node)
		return NULL;
	/* the step we would have been refused at */
	ddlp_conflict_set(v.drive, v.node, -EBUSY,
	                  v.copy.kind == DDLP_PLOCK_FLOCK ? "flock"
	                  : shared_request(v.lock, v.node) ? "read lock"
	                                                   : "write lock");
	c = ddlp_conflict_current();
	if (c && v.copy.pid > 0)
		c->holder_pid = v.copy.pid;
	return v.node;
}
