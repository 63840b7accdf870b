/*
 * autopkgtest: a downstream program of libddlp, built against the
 * installed libddlp-dev with pkg-config only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <ddlp.h>

int main(int argc, char **argv)
{
	const char *want = argc > 1 ? argv[1] : "";
	struct ddlp_drive *drive = NULL;
	int r;

	/* the library that runs is the one that was installed */
	if (strcmp(ddlp_version(), want) != 0) {
		fprintf(stderr, "ddlp_version() is \"%s\", expected \"%s\"\n", ddlp_version(), want);
		return 1;
	}
	/* resolution reaches the file system and reports errors as documented */
	r = ddlp_drive_resolve("/nonexistent/drive", 0, &drive);
	if (r != -ENOENT) {
		fprintf(stderr, "ddlp_drive_resolve(/nonexistent/drive) = %d, expected -ENOENT\n", r);
		return 1;
	}
	r = ddlp_drive_resolve("/dev/null", 0, &drive);
	if (r != -ENODEV) {
		fprintf(stderr, "ddlp_drive_resolve(/dev/null) = %d, expected -ENODEV\n", r);
		return 1;
	}
	printf("libddlp %s: resolution errors as documented\n", ddlp_version());
	return 0;
}
