/*
 * Unit tests: the global lock order (doc/ddlp.txt, "Lock order").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <sys/sysmacros.h>

#include "test-common.h"

static struct ddlp_node mk(mode_t type, unsigned maj, unsigned min, unsigned flags, ino_t ino)
{
	struct ddlp_node n = { 0 };

	n.type = type;
	n.devnum = makedev(maj, min);
	n.flags = flags;
	n.inode_dev = 5;
	n.inode = ino;
	return n;
}

START_TEST(test_sr_sg_bsg_alias)
{
	/* a drive's nodes in scrambled order: alias, bsg, sg, sr */
	struct ddlp_node n[4] = {
		mk(S_IFBLK, 11, 0, DDLP_NODE_ALIAS, 900),
		mk(S_IFCHR, 248, 0, 0, 30),
		mk(S_IFCHR, 21, 0, 0, 20),
		mk(S_IFBLK, 11, 0, 0, 10),
	};

	ddlp_nodes_sort(n, 4);
	ck_assert(n[0].type == S_IFBLK && !(n[0].flags & DDLP_NODE_ALIAS));
	ck_assert_uint_eq(major(n[1].devnum), 21);
	ck_assert_uint_eq(major(n[2].devnum), 248);
	ck_assert(n[3].flags & DDLP_NODE_ALIAS);
}
END_TEST

START_TEST(test_every_permutation_same_order)
{
	struct ddlp_node ref[4] = {
		mk(S_IFBLK, 11, 1, 0, 10),
		mk(S_IFCHR, 21, 1, 0, 20),
		mk(S_IFCHR, 248, 1, 0, 30),
		mk(S_IFCHR, 21, 1, DDLP_NODE_ALIAS, 40),
	};
	static const int perm[24][4] = {
		{ 0, 1, 2, 3 }, { 0, 1, 3, 2 }, { 0, 2, 1, 3 }, { 0, 2, 3, 1 }, { 0, 3, 1, 2 },
		{ 0, 3, 2, 1 }, { 1, 0, 2, 3 }, { 1, 0, 3, 2 }, { 1, 2, 0, 3 }, { 1, 2, 3, 0 },
		{ 1, 3, 0, 2 }, { 1, 3, 2, 0 }, { 2, 0, 1, 3 }, { 2, 0, 3, 1 }, { 2, 1, 0, 3 },
		{ 2, 1, 3, 0 }, { 2, 3, 0, 1 }, { 2, 3, 1, 0 }, { 3, 0, 1, 2 }, { 3, 0, 2, 1 },
		{ 3, 1, 0, 2 }, { 3, 1, 2, 0 }, { 3, 2, 0, 1 }, { 3, 2, 1, 0 },
	};

	for (int p = 0; p < 24; p++) {
		struct ddlp_node n[4];

		for (int i = 0; i < 4; i++)
			n[i] = ref[perm[p][i]];
		ddlp_nodes_sort(n, 4);
		for (int i = 0; i < 4; i++)
			ck_assert_uint_eq(n[i].inode, ref[i].inode);
	}
}
END_TEST

START_TEST(test_minor_and_drives)
{
	struct ddlp_node a = mk(S_IFBLK, 11, 1, 0, 1), b = mk(S_IFBLK, 11, 0, 0, 2);
	struct ddlp_node c = mk(S_IFCHR, 1, 0, 0, 3);

	ck_assert_int_gt(ddlp_node_compare(&a, &b), 0);
	ck_assert_int_lt(ddlp_node_compare(&b, &a), 0);
	ck_assert_int_lt(ddlp_node_compare(&a, &c), 0); /* block before char whatever the major */
	ck_assert_int_eq(ddlp_node_compare(&a, &a), 0);
}
END_TEST

Suite *suite_order(void)
{
	Suite *s = suite_create("order");
	TCase *tc = tcase_create("order");

	tcase_add_test(tc, test_sr_sg_bsg_alias);
	tcase_add_test(tc, test_every_permutation_same_order);
	tcase_add_test(tc, test_minor_and_drives);
	suite_add_tcase(s, tc);
	return s;
}
