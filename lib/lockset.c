/*
 * A lock set: every wanted node of every drive of a handle, taken in the
 * global order (order.c), all or nothing: when one node refuses, what was
 * taken is released in reverse order.
 *
 * Which nodes, and with O_EXCL or not:
 *   - exclusive: every canonical node; O_EXCL on the nodes whose driver
 *     gives it a meaning (sr: claim of the block device, sg: exclusive
 *     open).  An alias inode of a block or bsg device is opened without
 *     O_EXCL (the claim is per device and already taken through the
 *     canonical node); an alias of an sg device is not opened at all: the
 *     exclusive open of the canonical sg node refuses every open, through
 *     any inode, ours included.
 *   - shared: every node, alias inodes included, without O_EXCL; but
 *     the first node is opened with O_EXCL first (the claim test), and
 *     opened again without it when everything else is taken.
 * A waiter keeps the claim descriptor of each first node it got, and the
 * descriptor of a node whose lock step refused, open across its wait
 * (kept[]), so that its retries open nothing that sends the drive a
 * command (doc/ddlp.txt, sections 5 and 6).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddlp-private.h"

bool ddlp_lockset_node_wanted(const struct ddlp_drive *drive, size_t i, enum ddlp_mode mode)
{
	const struct ddlp_node *n = &drive->nodes[i];

	return !(mode == DDLP_EXCLUSIVE && (n->flags & DDLP_NODE_ALIAS) &&
	         n->excl == DDLP_EXCL_OPEN);
}

bool ddlp_lockset_node_excl(const struct ddlp_drive *drive, size_t i, enum ddlp_mode mode)
{
	const struct ddlp_node *n = &drive->nodes[i];

	return mode == DDLP_EXCLUSIVE && n->excl != DDLP_EXCL_NONE && !(n->flags & DDLP_NODE_ALIAS);
}

struct slot {
	size_t drive;
	size_t node;
	const struct ddlp_node *n;
};

static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = ddlp_node_compare(x->n, y->n);

	if (c)
		return c;
	return x->drive < y->drive ? -1 : x->drive > y->drive;
}

/* The handle's nodes in the order they are taken. */
static struct slot *ordered_slots(const struct ddlp_lock *lock, size_t *count)
{
	struct slot *s = calloc(lock->n * DDLP_MAX_NODES, sizeof(*s));
	size_t k = 0;

	if (!s)
		return NULL;
	for (size_t d = 0; d < lock->n; d++) {
		const struct ddlp_lock_drive *ld = &lock->drives[d];

		for (size_t i = 0; i < ld->drive->n_nodes; i++)
			if (ddlp_lockset_node_wanted(ld->drive, i, ld->mode))
				s[k++] = (struct slot){ d, i, &ld->drive->nodes[i] };
	}
	if (lock->n > 1)
		qsort(s, k, sizeof(*s), slot_cmp);
	*count = k;
	return s;
}

void ddlp_test_pause_point(size_t taken)
{
	const char *after = ddlp_getenv("DDLP_TEST_PAUSE_AFTER");
	const char *file = ddlp_getenv("DDLP_TEST_PAUSE_FILE");

	if (!after || !file || strtoul(after, NULL, 10) != taken)
		return;
	/* test-only: tell the test we are between two siblings, then stay */
	close(open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	for (;;)
		pause();
}

bool ddlp_drive_has_claim(const struct ddlp_drive *drive)
{
	return drive->n_nodes > 0 && drive->nodes[0].excl == DDLP_EXCL_CLAIM &&
	       !(drive->nodes[0].flags & DDLP_NODE_ALIAS);
}

/* Whether a shared request tests the claim of the drive's first node
 * (doc/ddlp.txt, 5): not when the process already holds that node in the
 * POSIX backend (closing the test descriptor would drop its lock; the
 * process's own hold already keeps exclusive requests out). */
static bool tests_claim(const struct ddlp_lock *lock, const struct ddlp_lock_drive *ld)
{
	return ld->mode == DDLP_SHARED && ddlp_drive_has_claim(ld->drive) &&
	       !ddlp_registry_holds(lock, &ld->drive->nodes[0]);
}

static int take_slot(struct ddlp_lock *lock, struct ddlp_lock_drive *ld, size_t i, bool keep)
{
	const struct ddlp_node *n = &ld->drive->nodes[i];
	int r;

	if (i == 0 && tests_claim(lock, ld)) {
		/* the claim test: an O_EXCL open, refused before the driver's
		 * open (no command) while an exclusive holder, a queued exclusive
		 * request or an O_EXCL-only burner has the claim */
		r = ddlp_registry_acquire_kept(lock, ld->drive, n, DDLP_SHARED, true, keep,
		                               &ld->kept[0], &ld->held[0]);
		struct ddlp_conflict *c = ddlp_conflict_current();

		if (r == 0) {
			ld->test = true;
			return 0;
		}
		/* refused at a lock step: the claim was ours */
		if (r != -EBUSY || !c || strcmp(c->step, "exclusive open") != 0)
			return r;
		if (!ddlp_devnum_mounted(n->devnum)) {
			c->step = "claim";
			return r;
		}
		dbg("%s: claimed by a mount: not a burner", n->path);
	}
	/* a refused node's descriptor is kept, but not an sg node's (a plain
	 * open of sg refuses others' O_EXCL), nor in the POSIX backend unless
	 * it is a claim (closing it later would drop the lock of another
	 * handle of the process that took the inode meanwhile; a claim keeps
	 * such handles out) */
	keep = keep && (i == 0 ? ddlp_lockset_node_excl(ld->drive, 0, ld->mode)
	                       : n->kind != DDLP_NODE_SG && lock->backend == DDLP_BACKEND_OFD);
	return ddlp_registry_acquire_kept(lock, ld->drive, n, ld->mode,
	                                  ddlp_lockset_node_excl(ld->drive, i, ld->mode), keep,
	                                  &ld->kept[i], &ld->held[i]);
}

/* Whether node i's descriptor is a claim that a waiter keeps. */
static bool is_claim(const struct ddlp_lock_drive *ld, size_t i)
{
	return i == 0 && (ld->test || ddlp_lockset_node_excl(ld->drive, 0, ld->mode));
}

static void release_slot(struct ddlp_lock *lock, struct ddlp_lock_drive *ld, size_t i, bool keep)
{
	if (keep && is_claim(ld, i)) {
		int fd = ddlp_registry_release_keep(lock, &ld->drive->nodes[i], &ld->held[i]);

		if (fd >= 0)
			ld->kept[i] = fd;
	} else {
		ddlp_registry_release(lock, &ld->held[i]);
	}
	if (i == 0)
		ld->test = false;
}

int ddlp_lockset_acquire(struct ddlp_lock *lock, bool keep, const struct ddlp_node **busy_node)
{
	struct slot *s;
	size_t count, k;
	int r = 0;

	*busy_node = NULL;
	s = ordered_slots(lock, &count);
	if (!s)
		return -ENOMEM;
	for (k = 0; k < count; k++) {
		r = take_slot(lock, &lock->drives[s[k].drive], s[k].node, keep);
		if (r < 0) {
			*busy_node = s[k].n;
			break;
		}
		ddlp_test_pause_point(k + 1);
	}
	/* a shared request's last step: a plain descriptor of the first node
	 * takes the place of the claim test's, which goes with the claim */
	for (size_t d = 0; r == 0 && d < lock->n; d++) {
		struct ddlp_lock_drive *ld = &lock->drives[d];

		if (!ld->test)
			continue;
		r = ddlp_registry_swap_fd(lock, ld->drive, &ld->drive->nodes[0], &ld->held[0]);
		if (r < 0)
			*busy_node = &ld->drive->nodes[0];
		ld->test = false;
	}
	if (r < 0) {
		while (k-- > 0)
			release_slot(lock, &lock->drives[s[k].drive], s[k].node, keep);
	}
	free(s);
	return r;
}

void ddlp_lockset_drop_kept(struct ddlp_lock *lock)
{
	for (size_t d = 0; d < lock->n; d++)
		for (size_t i = 0; i < DDLP_MAX_NODES; i++)
			ddlp_registry_close_fd(&lock->drives[d].kept[i]);
}

void ddlp_lockset_release(struct ddlp_lock *lock)
{
	/* reverse of the global order */
	size_t count;
	struct slot *s = ordered_slots(lock, &count);

	if (s) {
		while (count-- > 0)
			ddlp_registry_release(lock, &lock->drives[s[count].drive].held[s[count].node]);
		free(s);
		return;
	}
	/* no memory for the order: release in any order rather than leak */
	for (size_t d = 0; d < lock->n; d++)
		for (size_t i = DDLP_MAX_NODES; i-- > 0;)
			if (lock->drives[d].held[i].fd >= 0)
				ddlp_registry_release(lock, &lock->drives[d].held[i]);
}
