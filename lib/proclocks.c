/*
 * Who holds a node, as far as the system tells: /proc/locks for fcntl and
 * flock locks, and (through procscan.c) the processes that have it open,
 * a lock holder among them first.  Nothing here opens a device node.
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

#include "ddlp-private.h"

/* One line of /proc/locks (or the part after "lock:" of a line of
 * /proc/PID/fdinfo/FD, which has the same form), e.g.
 *   "1: OFDLCK ADVISORY  WRITE -1 00:05:123 0 EOF"
 *   "2: -> FLOCK  ADVISORY  WRITE 4321 00:05:123 0 EOF"
 * The device is the file system's, in hex, then the inode in decimal. */
int ddlp_proclocks_parse_line(char *line, struct ddlp_plock *l, dev_t *dev, ino_t *ino)
{
	char *tok[8], *save = NULL, *p;
	unsigned maj, min;
	unsigned long long inode;
	size_t n = 0, i = 1;
	long pid;

	for (p = strtok_r(line, " \t\n", &save); p && n < 8; p = strtok_r(NULL, " \t\n", &save))
		tok[n++] = p;
	if (n < 6)
		return -EINVAL;
	l->blocked = false;
	if (strcmp(tok[i], "->") == 0) {
		l->blocked = true;
		i++;
	}
	if (n < i + 5)
		return -EINVAL;
	if (strcmp(tok[i], "POSIX") == 0)
		l->kind = DDLP_PLOCK_POSIX;
	else if (strcmp(tok[i], "OFDLCK") == 0)
		l->kind = DDLP_PLOCK_OFD;
	else if (strcmp(tok[i], "FLOCK") == 0)
		l->kind = DDLP_PLOCK_FLOCK;
	else
		l->kind = DDLP_PLOCK_OTHER;
	l->write = strcmp(tok[i + 2], "WRITE") == 0;
	pid = strtol(tok[i + 3], NULL, 10);
	l->pid = (pid_t)pid;
	if (sscanf(tok[i + 4], "%x:%x:%llu", &maj, &min, &inode) != 3)
		return -EINVAL;
	*dev = makedev(maj, min);
	*ino = (ino_t)inode;
	return 0;
}

int ddlp_proclocks_read(FILE *f, const char *prefix,
                        int (*fn)(const struct ddlp_plock *l, dev_t dev, ino_t ino, void *data),
                        void *data)
{
	size_t cap = 0, skip = prefix ? strlen(prefix) : 0;
	char *line = NULL;
	int r = 0;

	for (;;) {
		struct ddlp_plock l;
		dev_t ldev;
		ino_t lino;

		errno = 0;
		if (getline(&line, &cap, f) < 0) {
			/* the end, or a failure (no memory) that must not read
			 * as "no more locks" */
			if (!feof(f))
				r = errno ? -errno : -EIO;
			break;
		}
		if (skip && strncmp(line, prefix, skip) != 0)
			continue;
		if (ddlp_proclocks_parse_line(line + skip, &l, &ldev, &lino) < 0)
			continue;
		if (fn(&l, ldev, lino, data))
			break;
	}
	free(line);
	return r;
}

int ddlp_proclocks_scan(int (*fn)(const struct ddlp_plock *l, dev_t dev, ino_t ino, void *data),
                        void *data)
{
	FILE *f = fopen("/proc/locks", "re");
	int r;

	if (!f)
		return -errno;
	r = ddlp_proclocks_read(f, NULL, fn, data);
	fclose(f);
	return r;
}

struct one_inode {
	dev_t dev;
	ino_t ino;
	int (*fn)(const struct ddlp_plock *l, void *data);
	void *data;
};

static int one_inode_fn(const struct ddlp_plock *l, dev_t dev, ino_t ino, void *data)
{
	struct one_inode *o = data;

	if (dev != o->dev || ino != o->ino)
		return 0;
	return o->fn(l, o->data);
}

int ddlp_proclocks_foreach(dev_t dev, ino_t ino,
                           int (*fn)(const struct ddlp_plock *l, void *data), void *data)
{
	struct one_inode o = { dev, ino, fn, data };

	return ddlp_proclocks_scan(one_inode_fn, &o);
}

struct opener {
	mode_t type;
	dev_t rdev;
	pid_t exclude;
	pid_t first;     /* the first process with the node open */
	pid_t locker;    /* one whose open file of it holds a lock */
};

static bool opener_want(mode_t type, dev_t rdev, void *data)
{
	const struct opener *o = data;

	return type == o->type && rdev == o->rdev;
}

static int any_lock(const struct ddlp_plock *l, dev_t dev, ino_t ino, void *data)
{
	(void)dev;
	(void)ino;
	if (l->blocked || l->kind == DDLP_PLOCK_OTHER)
		return 0;
	*(bool *)data = true;
	return 1;
}

static int opener_found(const struct ddlp_procscan_hit *hit, void *data)
{
	struct opener *o = data;
	bool locked = false;

	if (hit->pid == o->exclude)
		return 0;
	if (!o->first)
		o->first = hit->pid;
	ddlp_procscan_locks(hit, any_lock, &locked);
	if (!locked)
		return 0;
	o->locker = hit->pid;
	return 1; /* found: the scan may stop */
}

pid_t ddlp_find_opener(mode_t type, dev_t rdev, pid_t exclude)
{
	static const struct ddlp_procscan_ops ops = { opener_want, opener_found };
	struct opener o = { type, rdev, exclude, 0, 0 };
	unsigned unseen;

	/* a holder of a lock on the node first (its OFD lock shows no pid in
	 * /proc/locks, but its fdinfo lists it), else the first opener (an
	 * O_EXCL open shows nowhere) */
	ddlp_procscan(&ops, &o, &unseen);
	return o.locker ? o.locker : o.first;
}

int ddlp_pid_name(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t r;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	r = ddlp_read_text(AT_FDCWD, path, buf, size);
	if (r < 0) {
		buf[0] = '\0';
		return (int)r;
	}
	return 0;
}
