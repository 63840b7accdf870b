/*
 * Unit tests: how a spec is classified and how SCSI addresses parse.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>

#include "test-common.h"

START_TEST(test_hctl)
{
	struct ddlp_scsi_addr a;

	ck_assert_int_eq(ddlp_spec_classify("1:2:3:4", &a), DDLP_SPEC_ADDRESS);
	ck_assert_uint_eq(a.host, 1);
	ck_assert_uint_eq(a.channel, 2);
	ck_assert_uint_eq(a.target, 3);
	ck_assert_uint_eq(a.lun, 4);
	ck_assert_int_eq(ddlp_spec_classify("4294967295:0:0:0", &a), DDLP_SPEC_ADDRESS);
	ck_assert_uint_eq(a.host, 4294967295u);
}
END_TEST

START_TEST(test_btl)
{
	struct ddlp_scsi_addr a;

	ck_assert_int_eq(ddlp_spec_classify("5,6,7", &a), DDLP_SPEC_ADDRESS);
	ck_assert_uint_eq(a.host, 5);
	ck_assert_uint_eq(a.channel, 0);
	ck_assert_uint_eq(a.target, 6);
	ck_assert_uint_eq(a.lun, 7);
}
END_TEST

START_TEST(test_paths)
{
	struct ddlp_scsi_addr a;
	static const char *const paths[] = { "/dev/sr0", "sr0", "/dev/bsg/0:0:0:0", "./1,2,3",
		                             "cdrom", "bsg/0:0:0:0", "a:b", "x,1,2", ":", "," };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		ck_assert_msg(ddlp_spec_classify(paths[i], &a) == DDLP_SPEC_PATH, "%s", paths[i]);
}
END_TEST

START_TEST(test_malformed)
{
	struct ddlp_scsi_addr a;
	static const char *const bad[] = {
		"0,0", "0:0:0", "0:0:0:0:0", "1,2,3junk", "-1,-1,-1", "+1,2,3", "1,,3",
		"1:2:3:", "1:2:3:4:", "4294967296:0:0:0", "0,0,99999999999", "1,2,3,4",
		"1:2,3:4", "0x1,2,3", "1 ,2,3", "1,2,3\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(ddlp_spec_classify(bad[i], &a) == -EINVAL, "%s", bad[i]);
}
END_TEST

Suite *suite_address(void)
{
	Suite *s = suite_create("address");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_hctl);
	tcase_add_test(tc, test_btl);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_malformed);
	suite_add_tcase(s, tc);
	return s;
}
