/*
 * Test helper: loop devices on temporary images (real block devices with
 * real O_EXCL semantics), mknod aliases, and a count of open fds.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef TEST_LOOPDEV_H
#define TEST_LOOPDEV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct loopdev {
	char image[PATH_MAX]; /* backing file */
	char dev[64];         /* "/dev/loopN" */
	char name[32];        /* "loopN" */
	int number;           /* N */
	dev_t rdev;           /* its device number */
	char part[64];        /* "/dev/loopNp1" when partitioned and it appeared, else "" */
	dev_t part_rdev;
};

/*
 * Attach a new loop device to a new 4 MiB image made in dir (named
 * dir/tag.img); with partitioned, the image carries an MBR with one
 * partition and the device is attached with partition scanning.  Returns 0
 * or a negative errno; *why gets a short explanation on failure.
 */
int loopdev_create(struct loopdev *l, const char *dir, const char *tag, bool partitioned,
                   char *why, size_t why_size);
/* Detach the device and remove its image.  Returns 0 or a negative errno. */
int loopdev_destroy(struct loopdev *l);

/* mknod a node of the same type and number as dev at path (mode 0600). */
int loopdev_mknod(const char *path, mode_t type, dev_t rdev);

/* The number of open file descriptors of the calling process. */
int count_open_fds(void);

#endif
