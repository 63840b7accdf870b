/*
 * The public lock calls: ddlp_lock(), ddlp_lock_many(), ddlp_unlock(), the
 * accessors, and handing a lock to the programs the process starts.  A
 * lock call drives an attempt (attempt.c) to its end: one step, and while
 * busy, a wait for a close event or the retry interval (wait.c), until the
 * deadline.  Resolution is identity.c's, the ordered all-or-nothing taking
 * lockset.c's, the queue queue.c's.  Conversion is convert.c's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddlp-private.h"

/* Which node's fd the caller gets: the named one, or the first. */
size_t ddlp_lock_caller_node(const struct ddlp_lock_drive *ld)
{
	const struct ddlp_drive *d = ld->drive;
	size_t i = d->named != SIZE_MAX ? d->named : 0;

	if (!ddlp_lockset_node_wanted(d, i, ld->mode)) {
		/* an sg alias under an exclusive lock: its canonical node */
		for (size_t j = 0; j < d->n_nodes; j++)
			if (!(d->nodes[j].flags & DDLP_NODE_ALIAS) &&
			    d->nodes[j].devnum == d->nodes[i].devnum &&
			    d->nodes[j].type == d->nodes[i].type)
				return j;
		return 0;
	}
	return i;
}

DDLP_EXPORT int ddlp_lock_many(const struct ddlp_request *requests, size_t n, int timeout_ms,
                               unsigned flags, struct ddlp_lock **out)
{
	int64_t deadline = timeout_ms > 0 ? ddlp_now_ms() + timeout_ms : -1;
	struct ddlp_attempt *a;
	int r;

	if (!out) {
		ddlp_conflict_clear();
		return -EINVAL;
	}
	*out = NULL;
	r = ddlp_attempt_make(requests, n, flags, timeout_ms != 0, &a);
	if (r < 0)
		return r;
	for (;;) {
		r = ddlp_attempt_step(a, out);
		if (r != -EBUSY || timeout_ms == 0)
			break;
		if (ddlp_attempt_again(a))
			continue;
		r = ddlp_waiter_wait(ddlp_attempt_waiter(a), deadline,
		                     (flags & DDLP_LOCK_INTERRUPTIBLE) != 0);
		if (r < 0)
			break;
	}
	if (r == -EBUSY || r == -ETIMEDOUT)
		ddlp_conflict_find_holder();
	ddlp_attempt_free(a);
	return r;
}

DDLP_EXPORT int ddlp_lock(const char *spec, enum ddlp_mode mode, int timeout_ms, unsigned flags,
                          struct ddlp_lock **out)
{
	struct ddlp_request req = { spec, mode };

	if (!spec) {
		ddlp_conflict_clear();
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	return ddlp_lock_many(&req, 1, timeout_ms, flags, out);
}

DDLP_EXPORT int ddlp_unlock(struct ddlp_lock *lock)
{
	if (!lock)
		return -EINVAL;
	/* release while still in the registry: a fork() in another thread
	 * meanwhile must find the fds to close in its child */
	if (!lock->orphaned) {
		ddlp_lockset_release(lock);
		if (!(lock->flags & DDLP_LOCK_NO_REPROBE))
			for (size_t d = 0; d < lock->n; d++)
				if (lock->drives[d].mode == DDLP_EXCLUSIVE)
					ddlp_reprobe(lock->drives[d].drive);
	}
	ddlp_registry_remove(lock);
	ddlp_lock_handle_free(lock);
	return 0;
}

DDLP_EXPORT int ddlp_lock_fd_at(const struct ddlp_lock *lock, size_t i)
{
	int fd;

	if (!lock || i >= lock->n)
		return -EINVAL;
	if (lock->orphaned)
		return -EBADF;
	fd = lock->drives[i].held[lock->drives[i].caller].fd;
	return fd >= 0 ? fd : -EBADF; /* released by a failed conversion */
}

DDLP_EXPORT int ddlp_lock_fd(const struct ddlp_lock *lock)
{
	return ddlp_lock_fd_at(lock, 0);
}

DDLP_EXPORT size_t ddlp_lock_get_drive_count(const struct ddlp_lock *lock)
{
	return lock ? lock->n : 0;
}

DDLP_EXPORT const struct ddlp_drive *ddlp_lock_get_drive(const struct ddlp_lock *lock, size_t i)
{
	return lock && i < lock->n ? lock->drives[i].drive : NULL;
}

DDLP_EXPORT enum ddlp_mode ddlp_lock_get_mode(const struct ddlp_lock *lock, size_t i)
{
	return lock && i < lock->n ? lock->drives[i].mode : 0;
}

DDLP_EXPORT int ddlp_lock_set_inheritable(struct ddlp_lock *lock, int inheritable)
{
	if (!lock)
		return -EINVAL;
	return ddlp_registry_set_inheritable(lock, inheritable != 0);
}
