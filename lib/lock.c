/*
 * The public lock calls: ddlp_lock(), ddlp_lock_many(), ddlp_unlock(), the
 * accessors, and mode conversion.  Resolution is identity.c's, the ordered
 * all-or-nothing taking lockset.c's, waiting wait.c's.
 *
 * Waiting: check /proc/locks, then try the whole set; when a node is busy, release everything
 * (nothing is held while asleep), wait for a close on the drive's nodes or
 * the fallback interval, and try again until the deadline.  Because no
 * waiter sleeps holding a part of a drive, two waiters that start from
 * different aliases, or lock the same drives named in opposite order,
 * cannot deadlock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddlp-private.h"

#define KNOWN_FLAGS (DDLP_LOCK_NO_REPROBE | DDLP_LOCK_INHERIT | DDLP_LOCK_PARTIAL)
#define MAX_DRIVES 64

static void lock_free(struct ddlp_lock *lock)
{
	if (!lock)
		return;
	for (size_t d = 0; d < lock->n; d++)
		ddlp_drive_free(lock->drives[d].drive);
	free(lock->drives);
	free(lock);
}

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

/* Partial locks: drop the nodes that the caller may not open. */
static int drop_inaccessible(struct ddlp_lock *lock, const struct ddlp_node *node)
{
	for (size_t d = 0; d < lock->n; d++) {
		struct ddlp_drive *dr = lock->drives[d].drive;

		for (size_t i = 0; i < dr->n_nodes; i++) {
			if (&dr->nodes[i] != node)
				continue;
			if (dr->n_nodes == 1)
				return -EACCES;
			info("%s: %s not accessible: locked without it", dr->spec, node->path);
			free(dr->nodes[i].path);
			memmove(&dr->nodes[i], &dr->nodes[i + 1],
			        (dr->n_nodes - i - 1) * sizeof(dr->nodes[0]));
			dr->n_nodes--;
			if (dr->named == i)
				dr->named = SIZE_MAX;
			else if (dr->named != SIZE_MAX && dr->named > i)
				dr->named--;
			return 0;
		}
	}
	return -EACCES;
}

/*
 * Try; when busy, watch the node that refused and sleep until a close of a
 * watched node or the fallback interval.  After a close, try again at
 * once.  After a fallback wake (no close seen: the holder is most likely
 * still there) make the friendly check first (/proc/locks, no open): a
 * drive held by a visible holder is not opened, so a waiter sends no
 * commands to a burning drive every 500 ms.  The check is not made before
 * the first attempt nor after a close: reading /proc/locks write-locks the
 * kernel's file-lock rwsem, which waits for an RCU grace period (about
 * 15 ms in the test VM, several times the cost of the lock itself) and
 * holds up every file lock of the system meanwhile.
 */
static int acquire_until(struct ddlp_lock *lock, int timeout_ms)
{
	int64_t deadline = timeout_ms > 0 ? ddlp_now_ms() + timeout_ms : -1;
	struct ddlp_waiter *w = NULL;
	bool check_first = false;
	int r;

	for (;;) {
		const struct ddlp_node *busy;

		/* events that came before this attempt are answered by it;
		 * those that come during it wake the sleep below */
		if (w)
			ddlp_waiter_drain(w);
		ddlp_conflict_clear();
		lock->backend = ddlp_registry_backend();
		busy = check_first ? ddlp_visible_conflict(lock) : NULL;
		if (busy) {
			r = -EBUSY;
		} else {
			r = ddlp_lockset_acquire(lock, &busy);
			if (r == 0)
				break;
			if (r == -EAGAIN)
				continue; /* the backend changed: start over */
			/* a bsg node the caller may not open is left out: its
			 * driver ignores O_EXCL, and udev makes it root-only by
			 * default, so only root could use it against us
			 * (doc/ddlp.txt, 5) */
			if (r == -EACCES && busy &&
			    (busy->kind == DDLP_NODE_BSG || (lock->flags & DDLP_LOCK_PARTIAL))) {
				r = drop_inaccessible(lock, busy);
				if (r == 0)
					continue;
			}
		}
		if (r != -EBUSY || timeout_ms == 0)
			break;
		if (!w) {
			r = ddlp_waiter_new(&w);
			if (r < 0)
				break;
		}
		/* a new watch: look again before sleeping, in case the holder
		 * let go before the watch was in place (bounded: each node is
		 * watched once) */
		if (busy && ddlp_waiter_watch(w, busy->path) > 0)
			continue;
		r = ddlp_waiter_wait(w, deadline);
		if (r < 0)
			break;
		check_first = r == 0;
	}
	ddlp_waiter_free(w);
	return r;
}

DDLP_EXPORT int ddlp_lock_many(const struct ddlp_request *requests, size_t n, int timeout_ms,
                               unsigned flags, struct ddlp_lock **out)
{
	struct ddlp_lock *lock;
	int r;

	ddlp_conflict_clear();
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!requests || n == 0 || n > MAX_DRIVES || (flags & ~KNOWN_FLAGS))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (requests[i].mode != DDLP_SHARED && requests[i].mode != DDLP_EXCLUSIVE)
			return -EINVAL;

	lock = calloc(1, sizeof(*lock));
	if (!lock)
		return -ENOMEM;
	lock->drives = calloc(n, sizeof(*lock->drives));
	if (!lock->drives) {
		free(lock);
		return -ENOMEM;
	}
	lock->flags = flags;
	for (size_t i = 0; i < n; i++) {
		struct ddlp_lock_drive *ld = &lock->drives[i];

		for (size_t k = 0; k < DDLP_MAX_NODES; k++)
			ld->held[k].fd = -1;
		ld->mode = requests[i].mode;
		r = ddlp_drive_resolve_at(requests[i].spec, &ld->drive);
		if (r < 0) {
			lock_free(lock);
			return r;
		}
		lock->n = i + 1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(lock->drives[j].drive->id, ld->drive->id) == 0) {
				err("%s and %s are the same drive (%s)", requests[j].spec,
				    requests[i].spec, ld->drive->id);
				lock_free(lock);
				return -EINVAL;
			}
	}

	/* in the list before the first open, so that a fork() in another
	 * thread during the attempt closes the child's copies too */
	ddlp_registry_add(lock);
	r = acquire_until(lock, timeout_ms);
	if (r < 0) {
		ddlp_registry_remove(lock);
		if (r == -EBUSY || r == -ETIMEDOUT)
			ddlp_conflict_find_holder();
		lock_free(lock);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		struct ddlp_lock_drive *ld = &lock->drives[i];
		int fd;

		ld->caller = ddlp_lock_caller_node(ld);
		fd = ld->held[ld->caller].fd;
		if (fd >= 0) {
			int fl = fcntl(fd, F_GETFL);

			if (fl >= 0 && (fl & O_NONBLOCK))
				fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		}
		dbg("%s: locked %s (%s)", ld->drive->spec, ld->drive->id,
		    ld->mode == DDLP_EXCLUSIVE ? "exclusive" : "shared");
	}
	*out = lock;
	return 0;
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
	lock_free(lock);
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
