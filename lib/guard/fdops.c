/*
 * The calls that copy, close or lock descriptors, so that a hold lasts as
 * long as the program keeps a descriptor of the drive, and no longer:
 *
 *   close, close_range, closefrom    the last descriptor releases the hold;
 *                                    the guard's own descriptors are kept
 *                                    (a program that closes every number
 *                                    it does not know closes them, too)
 *   dup, dup2, dup3, F_DUPFD(_CLOEXEC)  the copy belongs to the hold; dup2
 *                                    onto one of the guard's own numbers
 *                                    fails with EBUSY
 *   F_SETFD, FIOCLEX, FIONCLEX       close-on-exec of the guard's lock
 *                                    descriptors follows the program's
 *   fcntl record locks, flock, lockf  on a drive descriptor: answered by
 *                                    the hold (the guard's locks are the
 *                                    program's; its own would conflict
 *                                    with them): granted when the hold's
 *                                    mode covers them, a write lock on a
 *                                    shared hold converts it (OFD backend)
 *                                    or is refused
 *   chdir, fchdir                    remembered (classify.c: relative
 *                                    paths from a directory in /dev)
 *
 * Each wrapper returns to the next definition at once when the program
 * holds no drive (one counter) or the descriptor is not one of ours (one
 * byte).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* this file defines fcntl() and friends: none of the headers' redirections */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guard.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Whether the call on fd is ours to look at. */
static bool watched(int fd)
{
	return guard_on() && guard_fd_any() && guard_fd_kind(fd) != GUARD_FD_NONE &&
	       getpid() == guard_pid;
}

GUARD_EXPORT int close(int fd)
{
	int r, e;

	if (!watched(fd))
		return guard_sys_close(fd);
	if (guard_fd_kind(fd) == GUARD_FD_OWN)
		return 0; /* the guard's: the program never opened it */
	guard_tab_lock();
	r = guard_sys_close(fd);
	e = errno;
	guard_hold_fd_gone(fd);
	guard_hold_settle();
	guard_tab_unlock();
	errno = e;
	return r;
}

static int real_close_range(unsigned first, unsigned last, int flags)
{
	guard_real_init();
	if (guard_real.close_range)
		return guard_real.close_range(first, last, flags);
	return (int)syscall(SYS_close_range, first, last, flags);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/* The guard's own descriptors in [first, last], sorted (table locked). */
static size_t own_fds_in(unsigned first, unsigned last, int *out, size_t max)
{
	size_t n = 0;

	for (struct guard_hold *h = guard_holds; h; h = h->next)
		for (size_t k = 0; k < h->n_lk && n < max; k++)
			if ((unsigned)h->lk[k].fd >= first && (unsigned)h->lk[k].fd <= last)
				out[n++] = h->lk[k].fd;
	if (guard_cfg.state_fd >= 0 && guard_fd_kind(guard_cfg.state_fd) == GUARD_FD_OWN &&
	    (unsigned)guard_cfg.state_fd >= first && (unsigned)guard_cfg.state_fd <= last && n < max)
		out[n++] = guard_cfg.state_fd;
	qsort(out, n, sizeof(*out), cmp_int);
	return n;
}

/* close_range around the guard's own descriptors; then the bookkeeping of
 * the program's drive descriptors in the range.  last_open: the last piece
 * goes to closefrom (no upper bound). */
static int close_around(unsigned first, unsigned last, int flags, bool last_open)
{
	int own[1 + 8 * DDLP_MAX_NODES];
	size_t n;
	unsigned lo = first;
	int r = 0, e = 0;

	guard_tab_lock();
	n = own_fds_in(first, last, own, sizeof(own) / sizeof(own[0]));
	for (size_t i = 0; i <= n; i++) {
		unsigned hi = i < n ? (unsigned)own[i] - 1 : last;

		if (i < n && (unsigned)own[i] == lo) {
			lo++;
			continue;
		}
		if (lo > hi) {
			if (i < n)
				lo = (unsigned)own[i] + 1;
			continue;
		}
		if (i == n && last_open && guard_real.closefrom) {
			guard_real.closefrom((int)lo);
		} else if (real_close_range(lo, hi, flags) < 0 && !e) {
			e = errno;
			r = -1;
		}
		if (i < n)
			lo = (unsigned)own[i] + 1;
	}
	for (struct guard_hold *h = guard_holds; h; h = h->next) {
		for (size_t i = 0; i < h->n_fds;) {
			unsigned fd = (unsigned)h->fds[i];

			if (fd < first || fd > last) {
				i++;
			} else if (flags & CLOSE_RANGE_CLOEXEC) {
				guard_hold_update_inheritable(h);
				i++;
			} else {
				guard_hold_fd_gone((int)fd); /* moves the last one here */
			}
		}
	}
	guard_hold_settle();
	guard_tab_unlock();
	errno = e;
	return r;
}

GUARD_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (!guard_on() || !guard_fd_any() || getpid() != guard_pid || first > last)
		return real_close_range(first, last, flags);
	return close_around(first, last, flags, false);
}

GUARD_EXPORT void closefrom(int lowfd)
{
	guard_real_init();
	if (!guard_on() || !guard_fd_any() || getpid() != guard_pid || lowfd < 0) {
		if (guard_real.closefrom)
			guard_real.closefrom(lowfd);
		else
			real_close_range((unsigned)(lowfd < 0 ? 0 : lowfd), ~0U, 0);
		return;
	}
	close_around((unsigned)lowfd, ~0U, 0, true);
}

GUARD_EXPORT int dup(int fd)
{
	int n, e;

	guard_real_init();
	if (!watched(fd) || guard_fd_kind(fd) != GUARD_FD_PROGRAM)
		return guard_real.dup(fd);
	guard_tab_lock();
	n = guard_real.dup(fd);
	e = errno;
	if (n >= 0)
		guard_hold_fd_copied(fd, n);
	guard_tab_unlock();
	errno = e;
	return n;
}

static int dup_common(int oldfd, int newfd, int flags, bool three)
{
	enum guard_fdkind ko, kn;
	int r, e;

	guard_real_init();
	if (!guard_on() || !guard_fd_any() || getpid() != guard_pid || oldfd == newfd)
		return three ? guard_real.dup3(oldfd, newfd, flags) : guard_real.dup2(oldfd, newfd);
	ko = guard_fd_kind(oldfd);
	kn = guard_fd_kind(newfd);
	if (kn == GUARD_FD_OWN) {
		/* the guard's own descriptor sits there (doc/guard.txt) */
		errno = EBUSY;
		return -1;
	}
	if (ko != GUARD_FD_PROGRAM && kn != GUARD_FD_PROGRAM)
		return three ? guard_real.dup3(oldfd, newfd, flags) : guard_real.dup2(oldfd, newfd);
	guard_tab_lock();
	r = three ? guard_real.dup3(oldfd, newfd, flags) : guard_real.dup2(oldfd, newfd);
	e = errno;
	if (r >= 0) {
		if (kn == GUARD_FD_PROGRAM)
			guard_hold_fd_gone(newfd);
		if (ko == GUARD_FD_PROGRAM)
			guard_hold_fd_copied(oldfd, newfd);
		guard_hold_settle();
	}
	guard_tab_unlock();
	errno = e;
	return r;
}

GUARD_EXPORT int dup2(int oldfd, int newfd)
{
	return dup_common(oldfd, newfd, 0, false);
}

GUARD_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return dup_common(oldfd, newfd, flags, true);
}

/* A record lock, flock or lockf on a drive descriptor: granted when the
 * hold covers it.  0, or -1 with errno (busy_errno when refused). */
static int lock_answer(int fd, bool write, bool unlock, int busy_errno)
{
	struct guard_hold *h;
	int r = 0;

	guard_tab_lock();
	h = guard_hold_of_fd(fd);
	if (h && write && !unlock)
		r = guard_hold_cover(h, DDLP_EXCLUSIVE);
	guard_tab_unlock();
	if (r < 0) {
		errno = busy_errno;
		return -1;
	}
	return 0;
}

static int fcntl_common(bool is64, int fd, int cmd, void *arg)
{
	int (*real)(int, int, ...);
	struct flock *fl = arg;
	int r, e;

	guard_real_init();
	real = is64 && guard_real.fcntl64 ? guard_real.fcntl64 : guard_real.fcntl;
	if (!watched(fd) || guard_fd_kind(fd) != GUARD_FD_PROGRAM)
		return real(fd, cmd, arg);
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		guard_tab_lock();
		r = real(fd, cmd, arg);
		e = errno;
		if (r >= 0)
			guard_hold_fd_copied(fd, r);
		guard_tab_unlock();
		errno = e;
		return r;
	case F_SETFD:
		r = real(fd, cmd, arg);
		e = errno;
		guard_tab_lock();
		guard_hold_cloexec_changed(fd);
		guard_tab_unlock();
		errno = e;
		return r;
	case F_SETLK:
	case F_SETLKW:
	case F_OFD_SETLK:
	case F_OFD_SETLKW:
		if (!fl) {
			errno = EFAULT;
			return -1;
		}
		return lock_answer(fd, fl->l_type == F_WRLCK, fl->l_type == F_UNLCK,
		                   cmd == F_SETLKW || cmd == F_OFD_SETLKW ? EDEADLK : EAGAIN);
	case F_GETLK:
	case F_OFD_GETLK: {
		struct guard_hold *h;
		bool covered;

		if (!fl) {
			errno = EFAULT;
			return -1;
		}
		guard_tab_lock();
		h = guard_hold_of_fd(fd);
		covered = h && (h->mode == DDLP_EXCLUSIVE || fl->l_type == F_RDLCK);
		guard_tab_unlock();
		if (!covered)
			return real(fd, cmd, arg);
		fl->l_type = F_UNLCK;
		return 0;
	}
	default:
		return real(fd, cmd, arg);
	}
}

GUARD_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(false, fd, cmd, arg);
}

GUARD_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(true, fd, cmd, arg);
}

GUARD_EXPORT int flock(int fd, int op)
{
	guard_real_init();
	if (!watched(fd) || guard_fd_kind(fd) != GUARD_FD_PROGRAM)
		return guard_real.flock(fd, op);
	return lock_answer(fd, (op & LOCK_EX) != 0, (op & LOCK_UN) != 0, EWOULDBLOCK);
}

static int lockf_common(bool is64, int fd, int cmd, off_t len)
{
	int (*real)(int, int, off_t);

	guard_real_init();
	real = is64 && guard_real.lockf64 ? guard_real.lockf64 : guard_real.lockf;
	if (!watched(fd) || guard_fd_kind(fd) != GUARD_FD_PROGRAM)
		return real(fd, cmd, len);
	switch (cmd) {
	case F_ULOCK:
		return 0;
	case F_LOCK:
		return lock_answer(fd, true, false, EDEADLK);
	case F_TLOCK:
		return lock_answer(fd, true, false, EAGAIN);
	case F_TEST:
		return lock_answer(fd, true, false, EACCES);
	default:
		return real(fd, cmd, len);
	}
}

GUARD_EXPORT int lockf(int fd, int cmd, off_t len)
{
	return lockf_common(false, fd, cmd, len);
}

GUARD_EXPORT int lockf64(int fd, int cmd, off_t len)
{
	return lockf_common(true, fd, cmd, len);
}

GUARD_EXPORT int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	int r, e;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	guard_real_init();
	if ((request != FIOCLEX && request != FIONCLEX) || !watched(fd) ||
	    guard_fd_kind(fd) != GUARD_FD_PROGRAM)
		return guard_real.ioctl(fd, request, arg);
	r = guard_real.ioctl(fd, request, arg);
	e = errno;
	guard_tab_lock();
	guard_hold_cloexec_changed(fd);
	guard_tab_unlock();
	errno = e;
	return r;
}

GUARD_EXPORT int chdir(const char *path)
{
	int r;

	guard_real_init();
	r = guard_real.chdir(path);
	if (r == 0 && guard_on())
		guard_cwd_changed();
	return r;
}

GUARD_EXPORT int fchdir(int fd)
{
	int r;

	guard_real_init();
	r = guard_real.fchdir(fd);
	if (r == 0 && guard_on())
		guard_cwd_changed();
	return r;
}
