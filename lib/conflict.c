/*
 * Why the calling thread's last ddlp_lock*() failed: the node that refused,
 * the step, the error and, where the system can tell, the holder.  Kept in
 * thread-local storage, like errno.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ddlp-private.h"

static __thread struct ddlp_conflict conflict;
static __thread bool conflict_valid;
/* whether the holder was looked up (eagerly when a lock call fails, on
 * first use after an attempt's step: the look costs a read of /proc/locks
 * and a scan of /proc) */
static __thread bool holder_known;

struct ddlp_conflict *ddlp_conflict_current(void)
{
	return conflict_valid ? &conflict : NULL;
}

void ddlp_conflict_clear(void)
{
	conflict_valid = false;
}

void ddlp_conflict_set(const struct ddlp_drive *drive, const struct ddlp_node *node,
                       int error, const char *step)
{
	memset(&conflict, 0, sizeof(conflict));
	snprintf(conflict.node, sizeof(conflict.node), "%s", node->path);
	snprintf(conflict.spec, sizeof(conflict.spec), "%s", drive && drive->spec ? drive->spec : "");
	conflict.error = error;
	conflict.step = step;
	conflict.inode_dev = node->inode_dev;
	conflict.inode = node->inode;
	conflict.devnum = node->devnum;
	conflict.type = node->type;
	conflict_valid = true;
	holder_known = false;
}

static int first_holder(const struct ddlp_plock *l, void *data)
{
	pid_t *pid = data;

	if (l->blocked || l->pid <= 0)
		return 0;
	*pid = l->pid;
	return 1;
}

void ddlp_conflict_find_holder(void)
{
	pid_t pid = 0;

	if (!conflict_valid || holder_known)
		return;
	holder_known = true;
	/* a POSIX or flock holder names itself in /proc/locks; an OFD lock
	 * shows -1, and an O_EXCL open shows nowhere: look for an opener. */
	if (conflict.inode_dev || conflict.inode)
		ddlp_proclocks_foreach(conflict.inode_dev, conflict.inode, first_holder, &pid);
	if (pid == 0)
		pid = ddlp_find_opener(conflict.type, conflict.devnum, getpid());
	conflict.holder_pid = pid;
	if (pid > 0)
		ddlp_pid_name(pid, conflict.holder_name, sizeof(conflict.holder_name));
}

DDLP_EXPORT const struct ddlp_conflict *ddlp_last_conflict(void)
{
	return ddlp_conflict_current();
}

DDLP_EXPORT const char *ddlp_conflict_get_node(const struct ddlp_conflict *c)
{
	return c ? c->node : NULL;
}

DDLP_EXPORT const char *ddlp_conflict_get_spec(const struct ddlp_conflict *c)
{
	return c ? c->spec : NULL;
}

DDLP_EXPORT int ddlp_conflict_get_error(const struct ddlp_conflict *c)
{
	return c ? c->error : 0;
}

DDLP_EXPORT const char *ddlp_conflict_get_step(const struct ddlp_conflict *c)
{
	return c ? c->step : NULL;
}

DDLP_EXPORT pid_t ddlp_conflict_get_holder_pid(const struct ddlp_conflict *c)
{
	if (c == &conflict)
		ddlp_conflict_find_holder();
	return c ? c->holder_pid : 0;
}

DDLP_EXPORT const char *ddlp_conflict_get_holder_name(const struct ddlp_conflict *c)
{
	if (c == &conflict)
		ddlp_conflict_find_holder();
	return c && c->holder_name[0] ? c->holder_name : NULL;
}
