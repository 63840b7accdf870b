/*
 * Taking one node: open it with the flags its driver and the mode want,
 * check that the open file is the device that was resolved, take the fcntl
 * lock (OFD, or classic POSIX in the fallback backend) on the whole node
 * and, on a block node, the flock that keeps udevd away.  Opening and
 * locking are separate steps, so that a waiter can keep a descriptor open
 * across its wait and retry only the locks (doc/ddlp.txt, section 6).
 *
 * Exclusive: O_RDWR|O_NONBLOCK, plus O_EXCL where the driver gives it a
 *            meaning; F_WRLCK; LOCK_EX on block nodes.
 * Shared:    O_RDWR|O_NONBLOCK (O_RDONLY where read-write is refused);
 *            F_RDLCK; LOCK_SH on block nodes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ddlp-private.h"

#ifndef F_OFD_SETLK
#define F_OFD_SETLK 37
#endif

static int set_fcntl_lock(int fd, short type, enum ddlp_backend backend)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

	if (fcntl(fd, backend == DDLP_BACKEND_OFD ? F_OFD_SETLK : F_SETLK, &fl) < 0)
		return -errno;
	return 0;
}

/* Map a refusal to -EBUSY where it means "somebody else has it". */
static int busy_errno(int e)
{
	switch (e) {
	case EAGAIN:
	case EACCES: /* fcntl locks report a conflict as EACCES on some systems */
	case EBUSY:
		return -EBUSY;
	default:
		return -e;
	}
}

static int open_node(const struct ddlp_node *node, enum ddlp_mode mode, bool excl)
{
	int flags = O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	int fd;

	if (excl)
		flags |= O_EXCL;
	fd = open(node->path, flags);
	if (fd < 0 && mode == DDLP_SHARED && (errno == EACCES || errno == EROFS || errno == EPERM))
		fd = open(node->path, (flags & ~O_RDWR) | O_RDONLY);
	return fd < 0 ? -errno : fd;
}

int ddlp_node_open(const struct ddlp_drive *drive, const struct ddlp_node *node,
                   enum ddlp_mode mode, bool excl, int *fdp)
{
	struct stat st;
	int fd, r;
	const char *step;

	*fdp = -1;
	fd = open_node(node, mode, excl);
	if (fd < 0) {
		r = fd;
		step = excl ? "exclusive open" : "open";
		if (r == -EBUSY) {
			ddlp_conflict_set(drive, node, r, step);
			dbg("%s: busy (%s)", node->path, step);
		} else {
			if (r == -ENOENT || r == -ENXIO || r == -ENODEV)
				r = -ENODEV;
			ddlp_conflict_set(drive, node, r, step);
			/* EACCES may still be forgiven (a bsg node, a partial
			 * lock): the caller reports what stays an error */
			if (r == -EACCES)
				dbg("%s: cannot open %s: %s", drive->spec, node->path, strerror(-r));
			else
				err("%s: cannot open %s: %s", drive->spec, node->path, strerror(-r));
		}
		return r;
	}

	if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != node->type || st.st_rdev != node->devnum) {
		err("%s: %s is no longer the device %u:%u", drive->spec, node->path,
		    major(node->devnum), minor(node->devnum));
		close(fd);
		ddlp_conflict_set(drive, node, -ENODEV, "verify");
		return -ENODEV;
	}
	*fdp = fd;
	return 0;
}

int ddlp_node_lock(const struct ddlp_drive *drive, const struct ddlp_node *node, int fd,
                   enum ddlp_mode mode, enum ddlp_backend backend)
{
	const char *step = mode == DDLP_EXCLUSIVE ? "write lock" : "read lock";
	int r = set_fcntl_lock(fd, mode == DDLP_EXCLUSIVE ? F_WRLCK : F_RDLCK, backend);

	if (r < 0) {
		if (r != -EINVAL)
			r = busy_errno(-r);
		ddlp_conflict_set(drive, node, r, step);
		dbg("%s: %s refused: %s", node->path, step, strerror(-r));
		return r;
	}
	if (node->kind == DDLP_NODE_BLOCK &&
	    flock(fd, (mode == DDLP_EXCLUSIVE ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		/* the descriptor stays open: give back the fcntl lock */
		set_fcntl_lock(fd, F_UNLCK, backend);
		ddlp_conflict_set(drive, node, r, "flock");
		dbg("%s: flock refused: %s", node->path, strerror(-r));
		return r;
	}
	return 0;
}

void ddlp_node_unlock(int fd, const struct ddlp_node *node, enum ddlp_backend backend)
{
	set_fcntl_lock(fd, F_UNLCK, backend);
	if (node->kind == DDLP_NODE_BLOCK)
		flock(fd, LOCK_UN);
}

int ddlp_node_open_locked(const struct ddlp_drive *drive, const struct ddlp_node *node,
                          enum ddlp_mode mode, enum ddlp_backend backend, bool excl, int *fdp)
{
	int r = ddlp_node_open(drive, node, mode, excl, fdp);

	if (r < 0)
		return r;
	r = ddlp_node_lock(drive, node, *fdp, mode, backend);
	if (r < 0) {
		close(*fdp);
		*fdp = -1;
	}
	return r;
}

int ddlp_node_relock(int fd, const struct ddlp_node *node, enum ddlp_mode mode,
                     enum ddlp_backend backend)
{
	int r = set_fcntl_lock(fd, mode == DDLP_EXCLUSIVE ? F_WRLCK : F_RDLCK, backend);

	if (r < 0)
		return r == -EINVAL ? r : busy_errno(-r);
	if (node->kind == DDLP_NODE_BLOCK &&
	    flock(fd, (mode == DDLP_EXCLUSIVE ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	return 0;
}
