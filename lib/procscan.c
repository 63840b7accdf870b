/*
 * One pass over /proc: which processes have a device node of interest open
 * (by its type and device number, so through any inode: the canonical
 * /dev node, a udev symlink's target, a mknod alias anywhere), and which
 * locks each of those open files carries.  Nothing here opens a device:
 * /proc/PID/fd/N is stat()ed (the inode it points to, not an open), and
 * /proc/PID/fdinfo/N is read for its "lock:" lines (Linux 4.1 and later
 * list there the locks of that open file: its OFD and flock locks, and the
 * POSIX locks the process took through it).
 *
 * A process whose fd directory the caller may not read (another user's,
 * without CAP_SYS_PTRACE) is counted as unseen, never guessed at.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddlp-private.h"

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Scan the fd directory of one process ("PID/fd" below procfd), reading
 * it with getdents64() into a buffer on the stack: per process one open,
 * two reads and a close, and one stat() per descriptor. */
static int scan_process(int procfd, const char *name, pid_t pid,
                        const struct ddlp_procscan_ops *ops, void *data)
{
	char path[64], buf[4096] __attribute__((aligned(8)));
	int fdfd, r = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/fd", name);
	fdfd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fdfd < 0)
		return -errno;
	while (r == 0 && (n = getdents64(fdfd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n && r == 0;) {
			const struct dirent64 *de = (const struct dirent64 *)(buf + off);
			struct ddlp_procscan_hit hit;
			struct stat st;
			char *end;
			long fd;

			off += de->d_reclen;
			if (de->d_name[0] == '.')
				continue;
			if (fstatat(fdfd, de->d_name, &st, 0) < 0)
				continue; /* closed meanwhile, or a dead link */
			if (!S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode))
				continue;
			if (!ops->want(st.st_mode & S_IFMT, st.st_rdev, data))
				continue;
			fd = strtol(de->d_name, &end, 10);
			if (*end || fd < 0 || fd > INT_MAX)
				continue;
			hit = (struct ddlp_procscan_hit){ .pid = pid, .fd = (int)fd, .st = &st,
				                          .procfd = procfd, .name = name, .fddir = fdfd };
			r = ops->found(&hit, data);
		}
	}
	close(fdfd);
	return r;
}

int ddlp_procscan(const struct ddlp_procscan_ops *ops, void *data, unsigned *unseen)
{
	int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *proc;
	struct dirent *de;
	int r = 0;

	*unseen = 0;
	if (procfd < 0)
		return -errno;
	proc = fdopendir(procfd);
	if (!proc) {
		r = -errno;
		close(procfd);
		return r;
	}
	while ((de = readdir(proc))) {
		int e;

		if (!all_digits(de->d_name))
			continue;
		e = scan_process(dirfd(proc), de->d_name, (pid_t)atol(de->d_name), ops, data);
		if (e > 0) {
			break; /* the callback found what it looked for */
		} else if (e == -EACCES || e == -EPERM) {
			(*unseen)++;
		} else if (e == -ENOMEM || e == -EMFILE || e == -ENFILE) {
			/* a failure of ours (or the callback's), not a fact
			 * about the process: the answer would be wrong */
			r = e;
			break;
		}
		/* else done, or gone meanwhile (ENOENT, ESRCH) */
	}
	closedir(proc);
	return r;
}

int ddlp_procscan_locks(const struct ddlp_procscan_hit *hit,
                        int (*fn)(const struct ddlp_plock *l, dev_t dev, ino_t ino, void *data),
                        void *data)
{
	char path[64];
	FILE *f;
	int fd, r;

	snprintf(path, sizeof(path), "%s/fdinfo/%d", hit->name, hit->fd);
	fd = openat(hit->procfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "re");
	if (!f) {
		r = -errno;
		close(fd);
		return r;
	}
	/* "lock:\t1: OFDLCK ADVISORY  WRITE -1 00:05:123 0 EOF" */
	r = ddlp_proclocks_read(f, "lock:", fn, data);
	fclose(f);
	return r;
}

int ddlp_procscan_path(const struct ddlp_procscan_hit *hit, char *buf, size_t size)
{
	char name[32];
	ssize_t n;

	if (size == 0)
		return -EINVAL;
	snprintf(name, sizeof(name), "%d", hit->fd);
	n = readlinkat(hit->fddir, name, buf, size - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n == size - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

int ddlp_procscan_comm(const struct ddlp_procscan_hit *hit, char *buf, size_t size)
{
	char path[64];
	ssize_t r;

	snprintf(path, sizeof(path), "%s/comm", hit->name);
	r = ddlp_read_text(hit->procfd, path, buf, size);

	if (r < 0) {
		buf[0] = '\0';
		return (int)r;
	}
	return 0;
}
