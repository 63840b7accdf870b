/*
 * After an exclusive lock: udevd postponed the drive's events while we held
 * the flock and gives up on them after 3 minutes, and nothing else tells
 * udisks or a desktop that the medium changed.  Ask for a re-probe by
 * writing "change" to the block device's uevent file in sysfs, where the
 * caller may.  Failure is reported through the log hook only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ddlp-private.h"

int ddlp_reprobe(const struct ddlp_drive *drive)
{
	char path[PATH_MAX];
	ssize_t w;
	int fd, r = 0;

	if (!drive->block_syspath)
		return 0;
	snprintf(path, sizeof(path), "%s/uevent", drive->block_syspath);
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		info("%s: cannot ask udev to re-probe (%s: %s)", drive->spec, path, strerror(-r));
		return r;
	}
	w = write(fd, "change", 6);
	if (w != 6) {
		r = w < 0 ? -errno : -EIO;
		info("%s: cannot ask udev to re-probe (%s: %s)", drive->spec, path, strerror(-r));
	} else {
		dbg("%s: asked udev to re-probe %s", drive->spec, drive->block_syspath);
	}
	close(fd);
	return r;
}
