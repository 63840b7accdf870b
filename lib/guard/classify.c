/*
 * Which opens the guard looks at, and which devices it guards.
 *
 * Paths: an open whose lookup starts in /dev (an absolute path below /dev,
 * or a relative path from a directory on /dev's file system) may name a
 * drive: the guard stats it before the open (one stat).  /dev/shm,
 * /dev/pts and /dev/mqueue hold no drives and are left out.  Every other
 * path is opened at once.  Its descriptor is fstat'ed afterwards, to catch
 * a drive reached through a symlink or mknod alias outside /dev (open.c:
 * "late"), when the flags are those of a device open: O_NONBLOCK, O_EXCL,
 * O_NOCTTY, or writing without O_CREAT (every drive program we know of
 * opens so); or always with ddlp-guard --all-paths.  An fstat costs about
 * a third of an open+close of a regular file (bench figures in
 * doc/guard.txt): the plain opens of regular files (O_RDONLY, or O_CREAT
 * for writing) pay nothing.
 *
 * Devices: the sr block nodes (major 11), and the sg (major 21) and bsg
 * character nodes of a SCSI device of type 5 (an MMC drive: CD, DVD, BD),
 * told by sysfs (<dev>/device/type), plus the devices ddlp-guard -d named
 * (guard_cfg.extra).  Character majors of terminals and memory devices are
 * rejected without reading anything.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "guard.h"

#define SCSI_CDROM_MAJOR 11
#define SCSI_GENERIC_MAJOR 21
#define TYPE_ROM 5

static dev_t dev_fs = (dev_t)-1;  /* st_dev of /dev */
static int cwd_in_dev;            /* the current directory is on /dev's fs */
static int bsg_major = -2;        /* -2 not looked up yet, -1 none */

static bool on_dev_fs(const struct stat *st)
{
	if (dev_fs == (dev_t)-1) {
		struct stat d;

		if (stat("/dev", &d) == 0)
			dev_fs = d.st_dev;
	}
	return st->st_dev == dev_fs;
}

void guard_cwd_changed(void)
{
	struct stat st;

	__atomic_store_n(&cwd_in_dev, fstatat(AT_FDCWD, ".", &st, 0) == 0 && on_dev_fs(&st),
	                 __ATOMIC_RELAXED);
}

bool guard_path_in_dev(int dirfd, const char *path)
{
	const char *p = path;

	if (!p || !*p)
		return false;
	if (*p != '/') {
		struct stat st;

		if (dirfd == AT_FDCWD)
			return __atomic_load_n(&cwd_in_dev, __ATOMIC_RELAXED);
		return fstat(dirfd, &st) == 0 && S_ISDIR(st.st_mode) && on_dev_fs(&st);
	}
	/* "/dev/..." also spelt "//dev/...", "/./dev/..." */
	for (;;) {
		while (*p == '/')
			p++;
		if (p[0] == '.' && p[1] == '/')
			p += 2;
		else
			break;
	}
	if (strncmp(p, "dev", 3) != 0 || (p[3] != '/' && p[3] != '\0'))
		return false;
	p += 3;
	while (*p == '/')
		p++;
	if ((strncmp(p, "shm", 3) == 0 || strncmp(p, "pts", 3) == 0) && (p[3] == '/' || !p[3]))
		return false;
	if (strncmp(p, "mqueue", 6) == 0 && (p[6] == '/' || !p[6]))
		return false;
	return true;
}

bool guard_flags_look_at(int flags)
{
	if (guard_cfg.all_paths || (flags & (O_NONBLOCK | O_EXCL | O_NOCTTY)))
		return true;
	return (flags & O_ACCMODE) != O_RDONLY && !(flags & O_CREAT);
}

/* Read a small sysfs/procfs file without going through the wrappers. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = guard_sys_open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	guard_sys_close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

static int find_bsg_major(void)
{
	char buf[8192], *p;
	int found = -1;

	if (read_small("/proc/devices", buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "Character devices:");
	if (!p)
		return -1;
	for (char *line = strtok(p, "\n"); line; line = strtok(NULL, "\n")) {
		int maj;
		char name[32];

		if (strncmp(line, "Block devices:", 14) == 0)
			break;
		if (sscanf(line, " %d %31s", &maj, name) == 2 && strcmp(name, "bsg") == 0) {
			found = maj;
			break;
		}
	}
	return found;
}

/* Whether the SCSI device of a character device is an MMC drive. */
static bool scsi_type_rom(dev_t rdev)
{
	char path[96], buf[16];

	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/device/type", major(rdev), minor(rdev));
	return read_small(path, buf, sizeof(buf)) > 0 && atoi(buf) == TYPE_ROM;
}

bool guard_rdev_guarded(mode_t type, dev_t rdev)
{
	unsigned maj = major(rdev);

	type &= S_IFMT;
	for (size_t i = 0; i < guard_cfg.n_extra; i++)
		if (guard_cfg.extra[i].type == type && guard_cfg.extra[i].rdev == rdev)
			return true;
	if (type == S_IFBLK)
		return maj == SCSI_CDROM_MAJOR;
	if (type != S_IFCHR)
		return false;
	/* memory devices, terminals, misc, pseudo-terminals: never a drive */
	if (maj == 1 || maj == 4 || maj == 5 || maj == 10 || (maj >= 136 && maj <= 143))
		return false;
	if (maj == SCSI_GENERIC_MAJOR)
		return scsi_type_rom(rdev);
	if (__atomic_load_n(&bsg_major, __ATOMIC_RELAXED) == -2)
		__atomic_store_n(&bsg_major, find_bsg_major(), __ATOMIC_RELAXED);
	if ((int)maj == __atomic_load_n(&bsg_major, __ATOMIC_RELAXED))
		return scsi_type_rom(rdev);
	return false;
}
