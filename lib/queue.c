/*
 * The queue of exclusive requests of a drive (doc/ddlp.txt, section 7).
 *
 * The queue lives in read locks on the drive's queue file: the sysfs
 * uevent file of the device its identity names (readable by everybody;
 * opening it opens no device and sends the drive nothing).  A waiting
 * exclusive request holds a read lock on one byte, at the offset of its
 * ticket (the monotonic clock in ms when it began to wait); it is at the
 * head when no other lock lies below its ticket.  Read locks never refuse
 * each other, so taking a ticket cannot fail for another's; F_OFD_GETLK
 * with F_WRLCK shows another's read lock, never the caller's own.  A dead
 * waiter's ticket goes with its descriptor.
 *
 * OFD locks where the kernel has them (whatever DDLP_LOCK_BACKEND says,
 * which is about the drive's nodes): a POSIX lock would be dropped by any
 * close of the file anywhere in the process.  Kernels without OFD locks
 * get POSIX locks, and waiters of one process are then not ordered among
 * themselves.
 *
 * Also here: whether a block device is mounted (a mount holds the claim
 * that shared requests test, but does not burn).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "ddlp-private.h"

#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#endif
#ifndef F_OFD_SETLK
#define F_OFD_SETLK 37
#endif

int ddlp_queue_open(const struct ddlp_drive *drive)
{
	char path[PATH_MAX];
	int fd;

	if (!drive->syspath ||
	    snprintf(path, sizeof(path), "%s/uevent", drive->syspath) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

/* fcntl with the OFD command, or the POSIX one where the kernel has none */
static int queue_fcntl(int fd, int ofd_cmd, int posix_cmd, struct flock *fl)
{
	if (fcntl(fd, ofd_cmd, fl) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	fl->l_pid = 0;
	return fcntl(fd, posix_cmd, fl) == 0 ? 0 : -errno;
}

int ddlp_queue_ahead(int fd, int64_t before)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1,
		            .l_len = before > 1 ? before - 1 : 0 };
	int r;

	if (before == 1)
		return 0;
	r = queue_fcntl(fd, F_OFD_GETLK, F_GETLK, &fl);
	if (r < 0)
		return r;
	return fl.l_type != F_UNLCK;
}

int ddlp_queue_take(int fd, int64_t t)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = t, .l_len = 1 };

	return queue_fcntl(fd, F_OFD_SETLK, F_SETLK, &fl);
}

int64_t ddlp_queue_new_ticket(void)
{
	int64_t t = ddlp_now_ms();

	return t >= 1 ? t : 1;
}

bool ddlp_devnum_mounted(dev_t devnum)
{
	char line[4096], want[32];
	bool found = false;
	FILE *f;

	snprintf(want, sizeof(want), " %u:%u ", major(devnum), minor(devnum));
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...": the third field */
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ' ');

		p = p ? strchr(p + 1, ' ') : NULL;
		found = p && strncmp(p, want, strlen(want)) == 0;
	}
	fclose(f);
	return found;
}
