/*
 * The holds written down for the next program image.
 *
 * Descriptors without close-on-exec survive exec(2), and so do the guard's
 * lock descriptors of a drive whose program descriptors do (hold.c).  The
 * new image is a fresh copy of the preload with an empty table: it reads
 * what the former image held from the state file and adopts it, so that
 * the lock is still released with the last descriptor of the drive.
 *
 * The state file is a memfd at the descriptor number ddlp-guard(1) puts in
 * DDLP_GUARD_STATE_FD (it reserves that number with an empty memfd, above
 * the numbers programs choose).  It is never written in place: each write
 * is a new memfd dup3()ed over the number, so that a child that shares the
 * old one (fork, vfork, posix_spawn) keeps what it inherited.  The file
 * names its writer:
 *
 *   DDLP-GUARD-STATE 1 pid=PID
 *   H mode=x|s owner=PID posix=0|1 spec=PERCENT-ENCODED-PATH
 *   L fd=N kind=1|2|3 alias=0|1 type=b|c rdev=MAJ:MIN ino=MAJ:MIN:INO
 *   ...
 *
 * At start the preload accepts the file when PID is its own (an exec) or
 * its parent's (a vfork/posix_spawn child, whose parent is suspended until
 * the exec, so the file is what the child inherited).  Every L descriptor
 * must still be open on the same inode, and the program's descriptors of
 * the drive are found again by looking at every open descriptor (they may
 * have been moved by dup2 in a spawned child): a hold with none left is
 * released at once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "guard.h"

#define STATE_MAX 65536

static bool is_memfd(int fd)
{
	return guard_sys_fcntl(fd, F_GET_SEALS, 0) >= 0;
}

/* Put a new memfd with buf at the state number.  Never written in place:
 * a vfork or posix_spawn child shares the old file with us until its new
 * image has read it, and it must read what it inherited. */
static void replace_state(const char *buf, size_t len)
{
	int n = guard_cfg.state_fd, fd, r;

	if (guard_sys_fcntl(n, F_GETFD, 0) >= 0 && !is_memfd(n))
		return; /* taken by something else: no state for exec */
	fd = memfd_create("ddlp-guard-state", 0);
	if (fd < 0)
		return;
	if (write(fd, buf, len) != (ssize_t)len) {
		warn("ddlp-guard: cannot write the state file: %s", strerror(errno));
		guard_sys_close(fd);
		return;
	}
	r = guard_real.dup3 ? guard_real.dup3(fd, n, 0) : dup2(fd, n);
	guard_sys_close(fd);
	if (r >= 0)
		guard_fd_set(n, GUARD_FD_OWN);
}

static size_t put_spec(char *buf, size_t size, const char *s)
{
	size_t o = 0;

	for (; *s && o + 4 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || c == '%')
			o += (size_t)snprintf(buf + o, size - o, "%%%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return o;
}

static void get_spec(char *s)
{
	char *o = s;

	for (; *s; s++) {
		unsigned v;

		if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1) {
			*o++ = (char)v;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

void guard_state_write(void)
{
	static char buf[STATE_MAX];
	size_t o = 0;

	if (guard_cfg.state_fd < 0)
		return;
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "DDLP-GUARD-STATE 1 pid=%ld\n", (long)getpid());
	for (struct guard_hold *h = guard_holds; h && o + 1024 < sizeof(buf); h = h->next) {
		char spec[3 * 256 + 1];

		if (h->n_lk == 0)
			continue;
		put_spec(spec, sizeof(spec), h->drive->spec);
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "H mode=%c owner=%ld posix=%d spec=%s\n",
		                      h->mode == DDLP_EXCLUSIVE ? 'x' : 's', (long)h->owner, h->posix, spec);
		for (size_t k = 0; k < h->n_lk && o + 256 < sizeof(buf); k++) {
			const struct guard_lk *l = &h->lk[k];

			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			                      "L fd=%d kind=%d alias=%d type=%c rdev=%u:%u ino=%u:%u:%lu\n",
			                      l->fd, (int)l->kind, l->alias, S_ISBLK(l->type) ? 'b' : 'c',
			                      major(l->rdev), minor(l->rdev), major(l->ino_dev),
			                      minor(l->ino_dev), (unsigned long)l->ino);
		}
	}
	replace_state(buf, o);
}

/* A fork child writes its own file at once when it holds something (so
 * that its new images accept it even when the parent is gone). */
void guard_state_forked(void)
{
	if (guard_holds)
		guard_state_write();
}

/* Whether descriptor fd is still the lock descriptor l describes. */
static bool lk_valid(const struct guard_lk *l)
{
	struct stat st;

	return fstat(l->fd, &st) == 0 && (st.st_mode & S_IFMT) == l->type && st.st_rdev == l->rdev &&
	       st.st_dev == l->ino_dev && st.st_ino == l->ino;
}

/* The program's descriptors of h's drive: every open descriptor of one of
 * its nodes that is not one of the guard's. */
static void find_program_fds(struct guard_hold *h)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat st;
		char *end;
		long fd = strtol(e->d_name, &end, 10);

		if (*end || end == e->d_name || fd == dirfd(d) || guard_fd_kind((int)fd) != GUARD_FD_NONE)
			continue;
		if (fstat((int)fd, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
			continue;
		for (size_t i = 0; i < h->drive->n_nodes; i++)
			if (h->drive->nodes[i].type == (st.st_mode & S_IFMT) &&
			    h->drive->nodes[i].devnum == st.st_rdev) {
				guard_hold_add_fd(h, (int)fd);
				break;
			}
	}
	closedir(d);
}

static void adopt(enum ddlp_mode mode, pid_t owner, bool posix, const char *spec,
                  const struct guard_lk *lk, size_t n_lk)
{
	struct ddlp_drive *resolved = NULL;
	struct guard_drive *drive;
	struct guard_hold *h;
	char path[64];
	size_t n = 0;
	struct guard_lk ok[DDLP_MAX_NODES];

	for (size_t k = 0; k < n_lk; k++)
		if (lk_valid(&lk[k]) && guard_fd_kind(lk[k].fd) == GUARD_FD_NONE)
			ok[n++] = lk[k];
	if (n == 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ok[0].fd);
	drive = ddlp_drive_resolve(path, 0, &resolved) == 0 ? guard_drive_copy(resolved) : NULL;
	ddlp_drive_free(resolved);
	if (!drive) {
		/* the drive is gone: let go of what is left of it */
		for (size_t k = 0; k < n; k++)
			guard_sys_close(ok[k].fd);
		return;
	}
	if (*spec) {
		char *s = strdup(spec);

		if (s) {
			free(drive->spec);
			drive->spec = s;
		}
	}
	h = guard_hold_adopt(drive, mode, owner, ok, n);
	if (!h) {
		guard_drive_free(drive);
		for (size_t k = 0; k < n; k++)
			guard_sys_close(ok[k].fd);
		return;
	}
	h->posix = posix;
	h->inheritable = true; /* they survived this exec */
	find_program_fds(h);
	guard_hold_update_inheritable(h);
	h->reassert = posix;
	if (guard_cfg.verbose)
		guard_say("%s: %s held %s from before exec (%zu program descriptors)", drive->spec,
		          drive->id, mode == DDLP_EXCLUSIVE ? "exclusive" : "shared", h->n_fds);
}

void guard_state_load(void)
{
	static char buf[STATE_MAX];
	int n = guard_cfg.state_fd;
	ssize_t len;
	char *line, *save = NULL;
	long pid = 0;
	struct guard_lk lk[DDLP_MAX_NODES];
	size_t n_lk = 0;
	enum ddlp_mode mode = DDLP_SHARED;
	long owner = 0;
	int posix = 0;
	char spec[PATH_MAX] = "";
	bool in_hold = false;

	if (n < 0 || !is_memfd(n))
		return;
	guard_fd_set(n, GUARD_FD_OWN);
	len = pread(n, buf, sizeof(buf) - 1, 0);
	if (len <= 0)
		return;
	buf[len] = '\0';
	if (sscanf(buf, "DDLP-GUARD-STATE 1 pid=%ld", &pid) != 1)
		return;
	if (pid != getpid() && pid != getppid())
		return; /* an ancestor's file, not what this process inherited */
	guard_tab_lock();
	for (line = strtok_r(buf, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
		if ((!line || line[0] == 'H') && in_hold) {
			adopt(mode, (pid_t)owner, posix != 0, spec, lk, n_lk);
			in_hold = false;
		}
		if (!line)
			break;
		if (line[0] == 'H') {
			char m = 's', sp[PATH_MAX];

			sp[0] = '\0';
			if (sscanf(line, "H mode=%c owner=%ld posix=%d spec=%4095s", &m, &owner, &posix, sp) < 3)
				continue;
			mode = m == 'x' ? DDLP_EXCLUSIVE : DDLP_SHARED;
			get_spec(sp);
			snprintf(spec, sizeof(spec), "%s", sp);
			n_lk = 0;
			in_hold = true;
		} else if (line[0] == 'L' && in_hold && n_lk < DDLP_MAX_NODES) {
			struct guard_lk *l = &lk[n_lk];
			int kind, alias;
			char t;
			unsigned rmaj, rmin, imaj, imin;
			unsigned long ino;

			if (sscanf(line, "L fd=%d kind=%d alias=%d type=%c rdev=%u:%u ino=%u:%u:%lu", &l->fd,
			           &kind, &alias, &t, &rmaj, &rmin, &imaj, &imin, &ino) != 9)
				continue;
			l->kind = (enum ddlp_node_kind)kind;
			l->alias = alias != 0;
			l->type = t == 'b' ? S_IFBLK : S_IFCHR;
			l->rdev = makedev(rmaj, rmin);
			l->ino_dev = makedev(imaj, imin);
			l->ino = (ino_t)ino;
			n_lk++;
		}
	}
	guard_hold_settle();
	guard_state_write();
	guard_tab_unlock();
}
