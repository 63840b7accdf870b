/*
 * The open family: open, open64, openat, openat64, their _FORTIFY_SOURCE
 * variants (__open_2 ...), creat, creat64.
 *
 * Every call first decides whether it may concern a drive (classify.c):
 *   - a path whose lookup starts in /dev is stat'ed before the open (one
 *     stat): a guarded drive's node is opened under the protocol;
 *   - any other path is opened at once; with the flags of a device open
 *     (guard_flags_look_at()) the descriptor is fstat'ed (no lookup): a
 *     guarded drive's node reached that way (a symlink or a mknod alias
 *     outside /dev) is closed again and opened under the protocol ("late":
 *     that first open reached the drive unguarded);
 *   - except while the process holds a drive: then every path is stat'ed
 *     first, since an open of an sg alias outside /dev would block on the
 *     guard's own exclusive open of the sg node.
 * O_PATH, O_DIRECTORY, O_TMPFILE and O_CREAT|O_EXCL opens cannot open a
 * device and go straight through.  So do the opens of libddlp itself
 * (inside the guard, or a program that locks with libddlp on its own).
 *
 * Under the protocol (doc/guard.txt, "Rules per driver"):
 *   mode: exclusive when the program opens for writing or with O_EXCL,
 *         shared otherwise; one hold per drive and process, made exclusive
 *         when a later open needs it (OFD backend).
 *   sr and other block nodes (O_EXCL = a claim): the guard holds the
 *         claim; the program's open goes ahead without O_EXCL.
 *   sg (O_EXCL = an exclusive open, refusing every other open): in an
 *         exclusive hold the program gets a duplicate of the guard's
 *         descriptor, with its O_NONBLOCK/O_APPEND/O_ASYNC and
 *         close-on-exec; in a shared hold its own open.  O_RDONLY|O_EXCL
 *         is refused with EPERM first, as the sg driver does.
 *   bsg (O_EXCL means nothing): the program's own open.
 *   alias nodes and symlinks: as the node they stand for.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* this file defines open() and friends: none of the headers' redirections */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "guard.h"

static int real_open(enum guard_entry e, int dirfd, const char *path, int flags, mode_t mode)
{
	guard_real_init();
	switch (e) {
	case GUARD_OPEN:
		if (guard_real.open)
			return guard_real.open(path, flags, mode);
		break;
	case GUARD_OPEN64:
		if (guard_real.open64)
			return guard_real.open64(path, flags, mode);
		break;
	case GUARD_OPENAT:
		if (guard_real.openat)
			return guard_real.openat(dirfd, path, flags, mode);
		break;
	case GUARD_OPENAT64:
		if (guard_real.openat64)
			return guard_real.openat64(dirfd, path, flags, mode);
		break;
	case GUARD_OPEN_2:
		if (guard_real.open_2)
			return guard_real.open_2(path, flags);
		break;
	case GUARD_OPEN64_2:
		if (guard_real.open64_2)
			return guard_real.open64_2(path, flags);
		break;
	case GUARD_OPENAT_2:
		if (guard_real.openat_2)
			return guard_real.openat_2(dirfd, path, flags);
		break;
	case GUARD_OPENAT64_2:
		if (guard_real.openat64_2)
			return guard_real.openat64_2(dirfd, path, flags);
		break;
	case GUARD_CREAT:
		if (guard_real.creat)
			return guard_real.creat(path, mode);
		break;
	case GUARD_CREAT64:
		if (guard_real.creat64)
			return guard_real.creat64(path, mode);
		break;
	}
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

/* Inside the guard: libddlp's lock descriptors go above fd_base (its
 * node opens are the ones with O_NONBLOCK; its reads of sysfs files are
 * closed at once and stay where they are). */
static int relocate(int fd, int flags)
{
	if (fd >= 0 && fd < guard_cfg.fd_base && (flags & O_NONBLOCK)) {
		int n = guard_sys_fcntl(fd, F_DUPFD_CLOEXEC, guard_cfg.fd_base);

		if (n >= 0) {
			guard_sys_close(fd);
			return n;
		}
	}
	return fd;
}

static bool caller_is_libddlp(const void *ret)
{
	Dl_info info;
	const char *base;

	if (!ret || !dladdr(ret, &info) || !info.dli_fname)
		return false;
	base = strrchr(info.dli_fname, '/');
	base = base ? base + 1 : info.dli_fname;
	return strncmp(base, "libddlp.so", 10) == 0;
}

bool guard_wants(const struct stat *st, const void *ret)
{
	if (!S_ISCHR(st->st_mode) && !S_ISBLK(st->st_mode))
		return false;
	if (!guard_rdev_guarded(st->st_mode, st->st_rdev))
		return false;
	if (getpid() != guard_pid)
		return false; /* a vfork child: the table is the parent's */
	return !caller_is_libddlp(ret);
}

void guard_after_stray_close(void)
{
	guard_tab_lock();
	for (struct guard_hold *h = guard_holds; h; h = h->next)
		h->reassert |= h->posix;
	guard_hold_settle();
	guard_tab_unlock();
}

/* A duplicate of the guard's sg descriptor for the program, with the file
 * status flags it asked for.  The flags belong to the open file, which
 * the guard shares: the guard itself never reads or writes through it. */
static int dup_for_program(int sgfd, int flags)
{
	const int mask = O_NONBLOCK | O_APPEND | O_ASYNC;
	int fd = guard_sys_fcntl(sgfd, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
	int fl;

	if (fd < 0)
		return -1;
	fl = guard_sys_fcntl(fd, F_GETFL, 0);
	if (fl >= 0)
		guard_sys_fcntl(fd, F_SETFL, (fl & ~mask) | (flags & mask));
	return fd;
}

#define SCSI_GENERIC_MAJOR 21

int guard_drive_open(enum guard_entry e, int dirfd, const char *path, int flags, mode_t mode,
                     const struct stat *st)
{
	char spec[PATH_MAX + 32];
	struct guard_hold *h;
	enum ddlp_excl excl;
	enum ddlp_mode m;
	int acc = flags & O_ACCMODE, r, fd, sgfd, err;

	/* what O_EXCL means for the node opened (doc/ddlp.txt, 1) */
	if (S_ISBLK(st->st_mode))
		excl = DDLP_EXCL_CLAIM;
	else if (major(st->st_rdev) == SCSI_GENERIC_MAJOR)
		excl = DDLP_EXCL_OPEN;
	else
		excl = DDLP_EXCL_NONE;
	if (excl == DDLP_EXCL_OPEN && (flags & O_EXCL) && acc == O_RDONLY) {
		errno = EPERM; /* what the sg driver answers */
		return -1;
	}
	if (path[0] != '/' && dirfd != AT_FDCWD)
		snprintf(spec, sizeof(spec), "/proc/self/fd/%d/%s", dirfd, path);
	else
		snprintf(spec, sizeof(spec), "%s", path);
	m = acc != O_RDONLY || (flags & O_EXCL) ? DDLP_EXCLUSIVE : DDLP_SHARED;
	r = guard_hold_get(spec, m, &h);
	if (r == -ENODEV)
		return real_open(e, dirfd, path, flags, mode); /* no drive libddlp can name */
	if (r < 0) {
		errno = -r;
		return -1;
	}
	if (excl == DDLP_EXCL_OPEN && h->mode == DDLP_EXCLUSIVE && (sgfd = guard_hold_sg_fd(h)) >= 0)
		fd = dup_for_program(sgfd, flags);
	else if (excl == DDLP_EXCL_OPEN)
		fd = real_open(e, dirfd, path, flags, mode);
	else
		fd = real_open(e, dirfd, path, flags & ~O_EXCL, mode);
	err = errno;
	guard_hold_done(h, fd);
	errno = err;
	return fd;
}

static int open_common(enum guard_entry e, int dirfd, const char *path, int flags, mode_t mode,
                       const void *ret)
{
	struct stat st;
	int fd;

	if (!guard_on() || !path) {
		fd = real_open(e, dirfd, path, flags, mode);
		if (guard_depth && guard_relocate)
			fd = relocate(fd, flags);
		return fd;
	}
	if ((flags & O_PATH) || (flags & O_DIRECTORY) || (flags & O_TMPFILE) == O_TMPFILE ||
	    (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return real_open(e, dirfd, path, flags, mode);
	if (guard_holding() || guard_path_in_dev(dirfd, path)) {
		if (fstatat(dirfd, path, &st, (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0) == 0 &&
		    guard_wants(&st, ret))
			return guard_drive_open(e, dirfd, path, flags, mode, &st);
		return real_open(e, dirfd, path, flags, mode);
	}
	fd = real_open(e, dirfd, path, flags, mode);
	if (fd >= 0 && guard_flags_look_at(flags) && fstat(fd, &st) == 0 &&
	    (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) &&
	    guard_wants(&st, ret)) {
		/* late: a drive reached from outside /dev */
		guard_sys_close(fd);
		guard_after_stray_close();
		return guard_drive_open(e, dirfd, path, flags, mode, &st);
	}
	return fd;
}

#define MODE_ARG(flags, mode)                                              \
	do {                                                               \
		if ((flags) & O_CREAT || ((flags) & O_TMPFILE) == O_TMPFILE) { \
			va_list ap;                                        \
			va_start(ap, flags);                               \
			mode = (mode_t)va_arg(ap, int);                    \
			va_end(ap);                                        \
		}                                                          \
	} while (0)

GUARD_EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_common(GUARD_OPEN, AT_FDCWD, path, flags, mode, __builtin_return_address(0));
}

GUARD_EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_common(GUARD_OPEN64, AT_FDCWD, path, flags, mode, __builtin_return_address(0));
}

GUARD_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_common(GUARD_OPENAT, dirfd, path, flags, mode, __builtin_return_address(0));
}

GUARD_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;

	MODE_ARG(flags, mode);
	return open_common(GUARD_OPENAT64, dirfd, path, flags, mode, __builtin_return_address(0));
}

/* The _FORTIFY_SOURCE variants: O_CREAT without a mode is the caller's
 * bug, which the real function reports (it aborts).  (Declared here: the
 * headers declare them only with _FORTIFY_SOURCE.) */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

GUARD_EXPORT int __open_2(const char *path, int flags)
{
	if (flags & O_CREAT || (flags & O_TMPFILE) == O_TMPFILE)
		return real_open(GUARD_OPEN_2, AT_FDCWD, path, flags, 0);
	return open_common(GUARD_OPEN_2, AT_FDCWD, path, flags, 0, __builtin_return_address(0));
}

GUARD_EXPORT int __open64_2(const char *path, int flags)
{
	if (flags & O_CREAT || (flags & O_TMPFILE) == O_TMPFILE)
		return real_open(GUARD_OPEN64_2, AT_FDCWD, path, flags, 0);
	return open_common(GUARD_OPEN64_2, AT_FDCWD, path, flags, 0, __builtin_return_address(0));
}

GUARD_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	if (flags & O_CREAT || (flags & O_TMPFILE) == O_TMPFILE)
		return real_open(GUARD_OPENAT_2, dirfd, path, flags, 0);
	return open_common(GUARD_OPENAT_2, dirfd, path, flags, 0, __builtin_return_address(0));
}

GUARD_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	if (flags & O_CREAT || (flags & O_TMPFILE) == O_TMPFILE)
		return real_open(GUARD_OPENAT64_2, dirfd, path, flags, 0);
	return open_common(GUARD_OPENAT64_2, dirfd, path, flags, 0, __builtin_return_address(0));
}

GUARD_EXPORT int creat(const char *path, mode_t mode)
{
	return open_common(GUARD_CREAT, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode,
	                   __builtin_return_address(0));
}

GUARD_EXPORT int creat64(const char *path, mode_t mode)
{
	return open_common(GUARD_CREAT64, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode,
	                   __builtin_return_address(0));
}
