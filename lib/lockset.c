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
 *   - shared: every node, alias inodes included, without O_EXCL.
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

int ddlp_lockset_acquire(struct ddlp_lock *lock, const struct ddlp_node **busy_node)
{
	struct slot *s;
	size_t count, k;
	int r = 0;

	*busy_node = NULL;
	s = ordered_slots(lock, &count);
	if (!s)
		return -ENOMEM;
	for (k = 0; k < count; k++) {
		struct ddlp_lock_drive *ld = &lock->drives[s[k].drive];

		r = ddlp_registry_acquire(lock, ld->drive, s[k].n, ld->mode,
		                          ddlp_lockset_node_excl(ld->drive, s[k].node, ld->mode),
		                          &ld->held[s[k].node]);
		if (r < 0) {
			*busy_node = s[k].n;
			break;
		}
		ddlp_test_pause_point(k + 1);
	}
	if (r < 0) {
		while (k-- > 0)
			ddlp_registry_release(lock, &lock->drives[s[k].drive].held[s[k].node]);
	}
	free(s);
	return r;
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
