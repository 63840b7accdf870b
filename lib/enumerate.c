/*
 * Every optical drive of the system, for listings (ddlp-lock --list): the
 * SCSI devices of type 5 (CD/DVD/BD), found through libudev and resolved
 * by their address.  No device node is opened.  Unlike resolution, this is
 * an enumeration: its cost grows with the number of SCSI devices.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libudev.h>

#include "ddlp-private.h"

static int drive_ptr_cmp(const void *a, const void *b)
{
	return ddlp_drive_compare(*(struct ddlp_drive *const *)a, *(struct ddlp_drive *const *)b);
}

DDLP_EXPORT void ddlp_drive_list_free(struct ddlp_drive **list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		ddlp_drive_free(list[i]);
	free(list);
}

DDLP_EXPORT int ddlp_drive_list(struct ddlp_drive ***out, size_t *n)
{
	struct udev *udev;
	struct udev_enumerate *e = NULL;
	struct udev_list_entry *entry;
	struct ddlp_drive **list = NULL;
	size_t count = 0, cap = 0;
	int r = 0;

	if (!out || !n)
		return -EINVAL;
	*out = NULL;
	*n = 0;
	udev = udev_new();
	if (!udev)
		return -ENOMEM;
	e = udev_enumerate_new(udev);
	if (!e || udev_enumerate_add_match_subsystem(e, "scsi") < 0 ||
	    udev_enumerate_add_match_sysattr(e, "type", "5") < 0 ||
	    udev_enumerate_scan_devices(e) < 0) {
		r = -ENOMEM;
		goto out;
	}
	udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
		const char *syspath = udev_list_entry_get_name(entry);
		const char *sysname = strrchr(syspath, '/');
		struct ddlp_drive *d;

		if (!sysname || !strchr(sysname, ':'))
			continue; /* hosts and targets, not devices */
		sysname++;
		if (ddlp_drive_resolve_at(sysname, &d) < 0)
			continue; /* gone meanwhile, or no nodes */
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct ddlp_drive **nl = realloc(list, ncap * sizeof(*nl));

			if (!nl) {
				ddlp_drive_free(d);
				r = -ENOMEM;
				goto out;
			}
			list = nl;
			cap = ncap;
		}
		list[count++] = d;
	}
	if (count > 1)
		qsort(list, count, sizeof(*list), drive_ptr_cmp);
out:
	udev_enumerate_unref(e);
	udev_unref(udev);
	if (r < 0) {
		ddlp_drive_list_free(list, count);
		return r;
	}
	*out = list;
	*n = count;
	return 0;
}
