/*
 * A lock attempt: the handle being taken, what it keeps while it waits,
 * and one non-blocking step at a time (doc/ddlp.txt, sections 6 and 7).
 * ddlp_lock_many() drives one to its end (lock.c); the public
 * ddlp_attempt_*() calls let an event loop drive it.
 *
 * One step: the queue check of every drive (the queue file, no device
 * opened), then the nodes in the global order, all or nothing (lockset.c).
 * An attempt that may wait keeps across its wait: its claim descriptors
 * and the descriptors whose lock step refused (kept[] of the drives, so
 * that no retry sends the drive a command), the queue files it looked at
 * (so that its looks do not close them and wake itself), and, for an
 * exclusive request, its ticket in each drive's queue.  A request that is
 * behind an older ticket gives up its claims (doc/ddlp.txt, 7: that is
 * what keeps claims and tickets from making a cycle).  Everything kept is
 * closed when the attempt is taken or freed; in a fork child the
 * registry's handler closes it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddlp-private.h"

#define KNOWN_FLAGS (DDLP_LOCK_NO_REPROBE | DDLP_LOCK_INHERIT | DDLP_LOCK_PARTIAL | \
                     DDLP_LOCK_INTERRUPTIBLE)
#define MAX_DRIVES 64
/* at most this many steps in a row without a sleep (doc/ddlp.txt, 6c) */
#define MAX_AGAIN 8

struct ddlp_attempt {
	struct ddlp_lock *lock;     /* being taken (in the registry); NULL once handed out */
	bool wait;                  /* may wait: keeps descriptors, takes a ticket */
	struct ddlp_waiter *w;      /* made at the first refusal of one that may wait */
	bool again;                 /* try again at once (first try, a new watch) */
	int again_run;              /* steps in a row that asked that */
};

void ddlp_lock_handle_free(struct ddlp_lock *lock)
{
	if (!lock)
		return;
	for (size_t d = 0; d < lock->n; d++)
		ddlp_drive_free(lock->drives[d].drive);
	free(lock->drives);
	free(lock);
}

static int handle_new(const struct ddlp_request *requests, size_t n, unsigned flags,
                      struct ddlp_lock **out)
{
	struct ddlp_lock *lock = calloc(1, sizeof(*lock));
	int r;

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

		for (size_t k = 0; k < DDLP_MAX_NODES; k++) {
			ld->held[k].fd = -1;
			ld->kept[k] = -1;
		}
		ld->qfd = -1;
		ld->mode = requests[i].mode;
		r = ddlp_drive_resolve_at(requests[i].spec, &ld->drive);
		if (r < 0) {
			ddlp_lock_handle_free(lock);
			return r;
		}
		lock->n = i + 1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(lock->drives[j].drive->id, ld->drive->id) == 0) {
				err("%s and %s are the same drive (%s)", requests[j].spec,
				    requests[i].spec, ld->drive->id);
				ddlp_lock_handle_free(lock);
				return -EINVAL;
			}
	}
	*out = lock;
	return 0;
}

int ddlp_attempt_make(const struct ddlp_request *requests, size_t n, unsigned flags, bool wait,
                      struct ddlp_attempt **out)
{
	struct ddlp_attempt *a;
	int r;

	ddlp_conflict_clear();
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!requests || n == 0 || n > MAX_DRIVES || (flags & ~KNOWN_FLAGS))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!requests[i].spec ||
		    (requests[i].mode != DDLP_SHARED && requests[i].mode != DDLP_EXCLUSIVE))
			return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->wait = wait;
	r = handle_new(requests, n, flags, &a->lock);
	if (r < 0) {
		free(a);
		return r;
	}
	/* in the list before the first open, so that a fork() in another
	 * thread during the attempt closes the child's copies too */
	ddlp_registry_add(a->lock);
	a->again = true;
	*out = a;
	return 0;
}

/* Partial locks: drop the nodes that the caller may not open. */
static int drop_inaccessible(struct ddlp_lock *lock, const struct ddlp_node *node)
{
	for (size_t d = 0; d < lock->n; d++) {
		struct ddlp_lock_drive *ld = &lock->drives[d];
		struct ddlp_drive *dr = ld->drive;

		for (size_t i = 0; i < dr->n_nodes; i++) {
			size_t after = dr->n_nodes - i - 1;

			if (&dr->nodes[i] != node)
				continue;
			if (dr->n_nodes == 1)
				return -EACCES;
			info("%s: %s not accessible: locked without it", dr->spec, node->path);
			free(dr->nodes[i].path);
			ddlp_registry_close_fd(&ld->kept[i]);
			memmove(&dr->nodes[i], &dr->nodes[i + 1], after * sizeof(dr->nodes[0]));
			memmove(&ld->kept[i], &ld->kept[i + 1], after * sizeof(ld->kept[0]));
			ld->kept[dr->n_nodes - 1] = -1;
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

static void queue_path(const struct ddlp_drive *drive, char *buf, size_t size)
{
	snprintf(buf, size, "%s/uevent", drive->syspath ? drive->syspath : "");
}

/* The drive's queue file, opened once for an attempt that waits. */
static int queue_fd(struct ddlp_lock_drive *ld)
{
	if (ld->qfd < 0) {
		ddlp_registry_fd_begin();
		ld->qfd = ddlp_queue_open(ld->drive);
		ddlp_registry_fd_end();
		if (ld->qfd < 0)
			dbg("%s: no queue file: %s", ld->drive->spec, strerror(-ld->qfd));
	}
	return ld->qfd;
}

/* Whether the attempt holds the claim of drive ld (a kept descriptor). */
static bool holds_claim(const struct ddlp_lock_drive *ld)
{
	return ld->kept[0] >= 0 && ddlp_drive_has_claim(ld->drive) &&
	       (ld->mode == DDLP_EXCLUSIVE || ld->drive->nodes[0].kind == DDLP_NODE_BLOCK);
}

/* Queue check of every drive: -EBUSY (and the queue file to watch) when an
 * older exclusive request is queued; a drive whose claim the attempt
 * holds is past its queue. */
static int queue_check(struct ddlp_attempt *a, char *watch, size_t size)
{
	struct ddlp_lock *lock = a->lock;

	for (size_t d = 0; d < lock->n; d++) {
		struct ddlp_lock_drive *ld = &lock->drives[d];
		int fd, r;

		if (holds_claim(ld))
			continue;
		fd = queue_fd(ld);
		if (fd < 0)
			continue; /* no queue file: nothing queued we could see */
		/* behind older tickets only (a request with a ticket has one
		 * age for all its drives, the shared ones too) */
		r = ddlp_queue_ahead(fd, lock->ticket);
		if (!a->wait || (r == 0 && !a->w))
			ddlp_registry_close_fd(&ld->qfd); /* kept once it waits */
		if (r > 0) {
			ddlp_conflict_set(ld->drive, &ld->drive->nodes[0], -EBUSY, "queue");
			queue_path(ld->drive, watch, size);
			return -EBUSY;
		}
	}
	return 0;
}

/* The claims a waiter keeps must be a prefix of the global order of its
 * drives' first nodes (doc/ddlp.txt, 7c): after the first drive whose
 * claim it does not hold, it holds none.  A refusal keeps them so by
 * itself; a claim lost otherwise (a POSIX entry shared by another handle
 * of the process when the refusal came) must not leave a later one. */
static void keep_claims_a_prefix(struct ddlp_lock *lock)
{
	for (size_t d = 0; d < lock->n; d++) {
		struct ddlp_lock_drive *ld = &lock->drives[d];

		if (!holds_claim(ld))
			continue;
		for (size_t e = 0; e < lock->n; e++) {
			const struct ddlp_lock_drive *le = &lock->drives[e];

			if (e != d && !holds_claim(le) && ddlp_drive_has_claim(le->drive) &&
			    ddlp_node_compare(&le->drive->nodes[0], &ld->drive->nodes[0]) < 0) {
				dbg("%s: claim given back (an earlier drive's is not held)",
				    ld->drive->spec);
				ddlp_registry_close_fd(&ld->kept[0]);
				break;
			}
		}
	}
}

/* An exclusive request that waits takes its ticket in the queue of each
 * drive it wants exclusively (one ticket value for all of them). */
static void take_tickets(struct ddlp_attempt *a)
{
	struct ddlp_lock *lock = a->lock;

	for (size_t d = 0; d < lock->n; d++) {
		struct ddlp_lock_drive *ld = &lock->drives[d];
		int r;

		if (ld->mode != DDLP_EXCLUSIVE || ld->ticket || queue_fd(ld) < 0)
			continue;
		if (!lock->ticket)
			lock->ticket = ddlp_queue_new_ticket();
		r = ddlp_queue_take(ld->qfd, lock->ticket);
		if (r < 0)
			dbg("%s: no ticket: %s", ld->drive->spec, strerror(-r));
		ld->ticket = r == 0;
	}
}

static void drop_queue(struct ddlp_lock *lock)
{
	for (size_t d = 0; d < lock->n; d++) {
		ddlp_registry_close_fd(&lock->drives[d].qfd);
		lock->drives[d].ticket = false;
	}
}

/* The lock is taken: hand it out. */
static void finish(struct ddlp_lock *lock)
{
	drop_queue(lock);
	ddlp_lockset_drop_kept(lock);
	for (size_t i = 0; i < lock->n; i++) {
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
}

/* Close what the attempt keeps and forget its handle. */
static void attempt_drop(struct ddlp_attempt *a)
{
	if (!a->lock)
		return;
	ddlp_lockset_drop_kept(a->lock);
	drop_queue(a->lock);
	ddlp_registry_remove(a->lock);
	ddlp_lock_handle_free(a->lock);
	a->lock = NULL;
}

int ddlp_attempt_step(struct ddlp_attempt *a, struct ddlp_lock **out)
{
	struct ddlp_lock *lock = a->lock;
	const struct ddlp_node *busy = NULL;
	char watch[PATH_MAX] = "";
	int r;

	*out = NULL;
	if (!lock)
		return -EINVAL; /* spent */
	if (a->w)
		ddlp_waiter_begin_try(a->w);
	a->again = false;
	for (;;) {
		ddlp_conflict_clear();
		lock->backend = ddlp_registry_backend();
		r = queue_check(a, watch, sizeof(watch));
		if (r == -EBUSY) {
			/* behind an older ticket: no claim kept meanwhile */
			ddlp_lockset_drop_kept(lock);
			break;
		}
		r = ddlp_lockset_acquire(lock, a->wait, &busy);
		if (r == 0) {
			finish(lock);
			a->lock = NULL;
			*out = lock;
			return 0;
		}
		if (r == -EAGAIN)
			continue; /* the backend changed: start over */
		/* a bsg node the caller may not open is left out: its driver
		 * ignores O_EXCL, and udev makes it root-only by default, so only
		 * root could use it against us (doc/ddlp.txt, 5) */
		if (r == -EACCES && busy &&
		    (busy->kind == DDLP_NODE_BSG || (lock->flags & DDLP_LOCK_PARTIAL)) &&
		    drop_inaccessible(lock, busy) == 0)
			continue;
		if (busy)
			snprintf(watch, sizeof(watch), "%s", busy->path);
		break;
	}
	if (r != -EBUSY || !a->wait)
		return r;
	if (!a->w && (r = ddlp_waiter_new(&a->w)) < 0) {
		attempt_drop(a);
		return r;
	}
	r = -EBUSY;
	keep_claims_a_prefix(lock);
	take_tickets(a);
	/* a new watch: look again at once, in case the holder let go before
	 * it was in place (the refusal moves only when somebody else's state
	 * changed, so this does not loop by itself: doc/ddlp.txt, 6c) */
	if (watch[0] && ddlp_waiter_watch_refusal(a->w, watch) > 0 &&
	    a->again_run < MAX_AGAIN)
		a->again = true;
	/* a bound all the same: a run of moving refusals sleeps after it */
	a->again_run = a->again ? a->again_run + 1 : 0;
	ddlp_waiter_arm(a->w);
	return -EBUSY;
}

bool ddlp_attempt_again(const struct ddlp_attempt *a)
{
	return a->again;
}

struct ddlp_waiter *ddlp_attempt_waiter(const struct ddlp_attempt *a)
{
	return a->w;
}

DDLP_EXPORT int ddlp_attempt_new_many(const struct ddlp_request *requests, size_t n,
                                      unsigned flags, struct ddlp_attempt **out)
{
	int r = ddlp_attempt_make(requests, n, flags, true, out);

	if (r < 0)
		return r;
	/* the descriptor to poll exists from the start */
	r = ddlp_waiter_new(&(*out)->w);
	if (r < 0) {
		ddlp_attempt_free(*out);
		*out = NULL;
		return r;
	}
	/* a pending exclusive attempt is a waiting exclusive request */
	take_tickets(*out);
	return 0;
}

DDLP_EXPORT int ddlp_attempt_new(const char *spec, enum ddlp_mode mode, unsigned flags,
                                 struct ddlp_attempt **out)
{
	struct ddlp_request req = { spec, mode };

	if (!spec) {
		ddlp_conflict_clear();
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	return ddlp_attempt_new_many(&req, 1, flags, out);
}

DDLP_EXPORT int ddlp_attempt_get_fd(const struct ddlp_attempt *a)
{
	if (!a)
		return -EINVAL;
	return a->w ? ddlp_waiter_get_fd(a->w) : -1;
}

DDLP_EXPORT int ddlp_attempt_get_timeout_ms(const struct ddlp_attempt *a)
{
	if (!a || !a->lock)
		return -1;
	if (a->again || !a->w)
		return 0; /* not tried yet, or wants another step at once */
	return ddlp_waiter_timeout_ms(a->w);
}

DDLP_EXPORT int ddlp_attempt_try(struct ddlp_attempt *a, struct ddlp_lock **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!a) {
		ddlp_conflict_clear();
		return -EINVAL;
	}
	return ddlp_attempt_step(a, out);
}

DDLP_EXPORT void ddlp_attempt_free(struct ddlp_attempt *a)
{
	if (!a)
		return;
	attempt_drop(a);
	ddlp_waiter_free(a->w);
	free(a);
}
