/*
 * stdio: fopen and fopen64 of a drive's node go through the same rules as
 * open() (open.c), the FILE is made with fdopen() on the descriptor the
 * guard opened; fclose (which closes its descriptor inside libc, out of the
 * close() wrapper's sight) and freopen (which closes the old one) do the
 * bookkeeping of the descriptor they close.
 *
 * Not guarded: freopen() onto a drive's node (libc opens it internally);
 * doc/guard.txt lists it among the limits.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* this file defines fopen() and friends: none of the headers' redirections */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "guard.h"

/* open(2) flags of an fopen() mode, or -1 when it is not one. */
static int mode_flags(const char *m)
{
	int f;

	switch (*m) {
	case 'r':
		f = O_RDONLY;
		break;
	case 'w':
		f = O_WRONLY | O_CREAT | O_TRUNC;
		break;
	case 'a':
		f = O_WRONLY | O_CREAT | O_APPEND;
		break;
	default:
		return -1;
	}
	for (m++; *m && *m != ','; m++) {
		if (*m == '+')
			f = (f & ~O_ACCMODE) | O_RDWR;
		else if (*m == 'x')
			f |= O_EXCL;
		else if (*m == 'e')
			f |= O_CLOEXEC;
	}
	return f;
}

static FILE *drive_fopen(const char *path, const char *mode, int flags, const struct stat *st)
{
	FILE *fp;
	int fd = guard_drive_open(GUARD_OPEN, AT_FDCWD, path, flags, 0666, st);

	if (fd < 0)
		return NULL;
	fp = guard_real.fdopen(fd, mode);
	if (!fp) {
		int e = errno;

		close(fd); /* the wrapper: the hold lets go of it */
		errno = e;
	}
	return fp;
}

static FILE *fopen_common(bool is64, const char *path, const char *mode, const void *ret)
{
	FILE *(*real)(const char *, const char *);
	struct stat st;
	FILE *fp;
	int flags;

	guard_real_init();
	real = is64 && guard_real.fopen64 ? guard_real.fopen64 : guard_real.fopen;
	if (!guard_on() || !path || !mode || (flags = mode_flags(mode)) < 0 ||
	    (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return real(path, mode);
	if (guard_holding() || guard_path_in_dev(AT_FDCWD, path)) {
		if (stat(path, &st) == 0 && guard_wants(&st, ret))
			return drive_fopen(path, mode, flags, &st);
		return real(path, mode);
	}
	fp = real(path, mode);
	if (fp && guard_flags_look_at(flags) && fstat(fileno(fp), &st) == 0 &&
	    (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) &&
	    guard_wants(&st, ret)) {
		/* late: a drive reached from outside /dev */
		guard_real.fclose(fp);
		guard_after_stray_close();
		return drive_fopen(path, mode, flags, &st);
	}
	return fp;
}

GUARD_EXPORT FILE *fopen(const char *path, const char *mode)
{
	return fopen_common(false, path, mode, __builtin_return_address(0));
}

GUARD_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return fopen_common(true, path, mode, __builtin_return_address(0));
}

GUARD_EXPORT int fclose(FILE *fp)
{
	int fd, r, e;

	guard_real_init();
	if (!guard_on() || !fp || !guard_fd_any() || getpid() != guard_pid)
		return guard_real.fclose(fp);
	fd = fileno(fp);
	if (guard_fd_kind(fd) != GUARD_FD_PROGRAM)
		return guard_real.fclose(fp);
	guard_tab_lock();
	r = guard_real.fclose(fp);
	e = errno;
	guard_hold_fd_gone(fd);
	guard_hold_settle();
	guard_tab_unlock();
	errno = e;
	return r;
}

static FILE *freopen_common(bool is64, const char *path, const char *mode, FILE *fp)
{
	FILE *(*real)(const char *, const char *, FILE *);
	FILE *r;
	int fd, e;

	guard_real_init();
	real = is64 && guard_real.freopen64 ? guard_real.freopen64 : guard_real.freopen;
	if (!guard_on() || !fp || !guard_fd_any() || getpid() != guard_pid)
		return real(path, mode, fp);
	fd = fileno(fp);
	if (guard_fd_kind(fd) != GUARD_FD_PROGRAM)
		return real(path, mode, fp);
	guard_tab_lock();
	r = real(path, mode, fp);
	e = errno;
	/* the old descriptor was closed; the number may now be another file
	 * (a freopen onto a drive's node is not guarded) */
	guard_hold_fd_gone(fd);
	guard_hold_settle();
	guard_tab_unlock();
	errno = e;
	return r;
}

GUARD_EXPORT FILE *freopen(const char *path, const char *mode, FILE *fp)
{
	return freopen_common(false, path, mode, fp);
}

GUARD_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *fp)
{
	return freopen_common(true, path, mode, fp);
}
