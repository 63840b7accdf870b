/*
 * The next definitions of the functions the preload interposes (libc's, or
 * another preload's), looked up once with dlsym(RTLD_NEXT), and the
 * guard's own raw calls.
 *
 * The lookup may run before the constructor (another library's constructor
 * opens a file) and in several threads at once: every pointer is written
 * with the same value, so a race only repeats the work.  While a thread is
 * inside dlsym (which may allocate, and an allocator may open a file), the
 * guard's own calls fall back to raw system calls.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guard.h"

struct guard_real guard_real;
__thread int guard_depth __attribute__((tls_model("initial-exec")));
__thread int guard_relocate __attribute__((tls_model("initial-exec")));

static int real_done;
static __thread int in_lookup __attribute__((tls_model("initial-exec")));

#define LOOKUP(field, name) \
	(*(void **)&guard_real.field = dlsym(RTLD_NEXT, name))

void guard_real_init(void)
{
	if (__atomic_load_n(&real_done, __ATOMIC_ACQUIRE) || in_lookup)
		return;
	in_lookup = 1;
	LOOKUP(open, "open");
	LOOKUP(open64, "open64");
	LOOKUP(openat, "openat");
	LOOKUP(openat64, "openat64");
	LOOKUP(open_2, "__open_2");
	LOOKUP(open64_2, "__open64_2");
	LOOKUP(openat_2, "__openat_2");
	LOOKUP(openat64_2, "__openat64_2");
	LOOKUP(creat, "creat");
	LOOKUP(creat64, "creat64");
	LOOKUP(fopen, "fopen");
	LOOKUP(fopen64, "fopen64");
	LOOKUP(freopen, "freopen");
	LOOKUP(freopen64, "freopen64");
	LOOKUP(fdopen, "fdopen");
	LOOKUP(fclose, "fclose");
	LOOKUP(close, "close");
	LOOKUP(close_range, "close_range");
	LOOKUP(closefrom, "closefrom");
	LOOKUP(dup, "dup");
	LOOKUP(dup2, "dup2");
	LOOKUP(dup3, "dup3");
	LOOKUP(fcntl, "fcntl");
	LOOKUP(fcntl64, "fcntl64");
	LOOKUP(flock, "flock");
	LOOKUP(lockf, "lockf");
	LOOKUP(lockf64, "lockf64");
	LOOKUP(ioctl, "ioctl");
	LOOKUP(chdir, "chdir");
	LOOKUP(fchdir, "fchdir");
	if (!guard_real.fcntl64)
		guard_real.fcntl64 = guard_real.fcntl;
	in_lookup = 0;
	__atomic_store_n(&real_done, 1, __ATOMIC_RELEASE);
}

int guard_sys_open(const char *path, int flags, mode_t mode)
{
	guard_real_init();
	if (guard_real.openat)
		return guard_real.openat(AT_FDCWD, path, flags, mode);
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int guard_sys_close(int fd)
{
	guard_real_init();
	if (guard_real.close)
		return guard_real.close(fd);
	return (int)syscall(SYS_close, fd);
}

int guard_sys_fcntl(int fd, int cmd, long arg)
{
	guard_real_init();
	if (guard_real.fcntl64)
		return guard_real.fcntl64(fd, cmd, arg);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}
