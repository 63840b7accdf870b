/*
 * The global lock order (doc/ddlp.txt, "Lock order"):
 *   1. canonical nodes before alias inodes;
 *   2. among canonical nodes: block devices before character devices,
 *      then by major number, then by minor number;
 *   3. among alias inodes: by the same rules, then by the (st_dev, st_ino)
 *      of the alias inode.
 * Several drives are locked by merging their node lists in this order.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <sys/sysmacros.h>

#include "ddlp-private.h"

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

int ddlp_node_compare(const struct ddlp_node *a, const struct ddlp_node *b)
{
	int c;
	bool aa = a->flags & DDLP_NODE_ALIAS, ba = b->flags & DDLP_NODE_ALIAS;

	if ((c = CMP(aa, ba)))
		return c;
	/* block (S_IFBLK) before character (S_IFCHR) */
	if ((c = CMP(a->type != S_IFBLK, b->type != S_IFBLK)))
		return c;
	if ((c = CMP(major(a->devnum), major(b->devnum))))
		return c;
	if ((c = CMP(minor(a->devnum), minor(b->devnum))))
		return c;
	if ((c = CMP(a->inode_dev, b->inode_dev)))
		return c;
	return CMP(a->inode, b->inode);
}

static int node_qsort_cmp(const void *a, const void *b)
{
	return ddlp_node_compare(a, b);
}

void ddlp_nodes_sort(struct ddlp_node *nodes, size_t n)
{
	qsort(nodes, n, sizeof(*nodes), node_qsort_cmp);
}

int ddlp_drive_compare(const struct ddlp_drive *a, const struct ddlp_drive *b)
{
	if (a->n_nodes == 0 || b->n_nodes == 0)
		return CMP(a->n_nodes, b->n_nodes);
	return ddlp_node_compare(&a->nodes[0], &b->nodes[0]);
}
