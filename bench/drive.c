/*
 * The target drive and the two operations that the sections measure on it:
 * a libddlp lock+unlock (exclusive, DDLP_LOCK_NO_REPROBE), and the floor:
 * what an exclusive holder takes (doc/ddlp.txt, section 5) on the nodes
 * resolved once, without resolution or checks.  Also the alias forms of
 * the target (block, sg, bsg node, H:C:T:L, B,T,L, /dev/disk symlinks, a
 * mknod alias) that sections 2 and 3 resolve.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bench.h"

struct target tg;

/* ------------------------------------------------------------------ *
 * The target drive
 * ------------------------------------------------------------------ */

static int sr_number(const char *name)
{
	return strncmp(name, "sr", 2) == 0 && isdigit((unsigned char)name[2]) ? atoi(name + 2) : -1;
}

int pick_default_drive(char *out, size_t size)
{
	DIR *d = opendir("/sys/class/block");
	struct dirent *de;
	int best = -1;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int n = sr_number(de->d_name);

		if (n > best)
			best = n;
	}
	closedir(d);
	if (best < 0)
		return -ENODEV;
	snprintf(out, size, "/dev/sr%d", best);
	return 0;
}

static unsigned count_sr(void)
{
	DIR *d = opendir("/sys/class/block");
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += sr_number(de->d_name) >= 0;
	closedir(d);
	return n;
}

int target_init(const char *spec)
{
	struct ddlp_drive *d;
	char path[PATH_MAX], buf[64];
	int r;

	memset(&tg, 0, sizeof(tg));
	snprintf(tg.spec, sizeof(tg.spec), "%s", spec);
	r = ddlp_drive_resolve(spec, 0, &d);
	if (r < 0) {
		fprintf(stderr, "ddlp-bench: %s: %s\n", spec, strerror(-r));
		return r;
	}
	snprintf(tg.id, sizeof(tg.id), "%s", ddlp_drive_get_id(d));
	tg.scsi = sscanf(tg.id, "scsi:%u:%u:%u:%llu", &tg.h, &tg.c, &tg.t, &tg.l) == 4;
	tg.n = ddlp_drive_get_node_count(d);
	if (tg.n > MAX_NODES)
		tg.n = MAX_NODES;
	for (size_t i = 0; i < tg.n; i++) {
		const struct ddlp_node *n = ddlp_drive_get_node(d, i);
		struct tnode *t = &tg.node[i];

		snprintf(t->path, sizeof(t->path), "%s", ddlp_node_get_path(n));
		t->kind = ddlp_node_get_kind(n);
		t->excl = ddlp_node_get_excl(n);
		t->flags = ddlp_node_get_flags(n);
		t->devnum = ddlp_node_get_devnum(n);
		if (t->kind == DDLP_NODE_BLOCK && !tg.block[0] && !(t->flags & DDLP_NODE_ALIAS))
			snprintf(tg.block, sizeof(tg.block), "%s", t->path);
	}
	ddlp_drive_free(d);
	tg.delay = tg.ndelay = -1;
	if (tg.block[0]) {
		snprintf(path, sizeof(path), "/sys/class/block/%s/device/model",
		         strrchr(tg.block, '/') + 1);
		if (read_file(path, tg.model, sizeof(tg.model)) < 0)
			tg.model[0] = '\0';
	}
	if (strncmp(tg.model, "scsi_debug", 10) == 0) {
		if (read_file("/sys/module/scsi_debug/parameters/delay", buf, sizeof(buf)) > 0)
			tg.delay = atoi(buf);
		if (read_file("/sys/module/scsi_debug/parameters/ndelay", buf, sizeof(buf)) > 0)
			tg.ndelay = atoi(buf);
	}
	tg.n_sr = count_sr();
	return 0;
}

bool is_sibling(const char *path)
{
	for (size_t i = 0; i < tg.n; i++)
		if (strcmp(tg.node[i].path, path) == 0)
			return true;
	return false;
}

bool zero_delay(void)
{
	return tg.delay == 0 && tg.ndelay <= 0;
}

/* ------------------------------------------------------------------ *
 * The two things measured: a libddlp lock+unlock, and the floor
 * ------------------------------------------------------------------ */

int lib_lock(const char *spec, struct ddlp_lock **l)
{
	return ddlp_lock(spec, DDLP_EXCLUSIVE, 5000, DDLP_LOCK_NO_REPROBE, l);
}

int lib_lock_unlock(const char *spec)
{
	struct ddlp_lock *l;
	int r = lib_lock(spec, &l);

	if (r < 0)
		return r;
	return ddlp_unlock(l);
}

/* The floor: what an exclusive holder takes (doc/ddlp.txt, 5) on the nodes
 * resolved before the loop, without resolving, without the verify fstat,
 * without the /proc/locks check. */
int floor_lock(int fds[])
{
	size_t i;
	int r = 0;

	for (i = 0; i < tg.n; i++) {
		const struct tnode *t = &tg.node[i];
		int flags = O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		fds[i] = -1;
		if ((t->flags & DDLP_NODE_ALIAS) && t->excl == DDLP_EXCL_OPEN)
			continue;
		if (t->excl != DDLP_EXCL_NONE && !(t->flags & DDLP_NODE_ALIAS))
			flags |= O_EXCL;
		fds[i] = open(t->path, flags);
		if (fds[i] < 0) {
			r = -errno;
			break;
		}
		if (fcntl(fds[i], F_OFD_SETLK, &fl) < 0) {
			r = -errno;
			i++;
			break;
		}
		if (t->kind == DDLP_NODE_BLOCK && flock(fds[i], LOCK_EX | LOCK_NB) < 0) {
			r = -errno;
			i++;
			break;
		}
	}
	if (r < 0)
		while (i-- > 0)
			if (fds[i] >= 0)
				close(fds[i]);
	return r;
}

void floor_unlock(const int fds[])
{
	for (size_t i = tg.n; i-- > 0;)
		if (fds[i] >= 0)
			close(fds[i]);
}

long floor_busy;

int floor_lock_unlock(void)
{
	int fds[MAX_NODES], r;

	for (int tries = 0; tries < 5000; tries++) {
		r = floor_lock(fds);
		if (r == 0) {
			floor_unlock(fds);
			return 0;
		}
		if (r != -EBUSY && r != -EAGAIN && r != -EWOULDBLOCK)
			return r;
		floor_busy++;
		sleep_us(1000);
	}
	return -EBUSY;
}

/* ------------------------------------------------------------------ *
 * The alias forms of the target
 * ------------------------------------------------------------------ */

struct form forms[MAX_FORMS];
size_t n_forms;
static char alias_path[PATH_MAX];

static void add_form(const char *key, const char *label, const char *spec)
{
	if (n_forms == MAX_FORMS || !spec || !*spec)
		return;
	snprintf(forms[n_forms].key, sizeof(forms[n_forms].key), "%s", key);
	snprintf(forms[n_forms].label, sizeof(forms[n_forms].label), "%s", label);
	snprintf(forms[n_forms].spec, sizeof(forms[n_forms].spec), "%s", spec);
	n_forms++;
}

/* A symlink in dir that leads to the block node. */
static bool find_link(const char *dir, char *out, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char p[PATH_MAX], *real;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		real = realpath(p, NULL);
		if (real && strcmp(real, tg.block) == 0) {
			snprintf(out, size, "%s", p);
			found = true;
		}
		free(real);
	}
	closedir(d);
	return found;
}

void forms_init(void)
{
	char buf[PATH_MAX];

	n_forms = 0;
	for (size_t i = 0; i < tg.n; i++) {
		const struct tnode *t = &tg.node[i];

		if (t->flags & DDLP_NODE_ALIAS)
			continue;
		if (t->kind == DDLP_NODE_BLOCK)
			add_form("block", "block node", t->path);
		else if (t->kind == DDLP_NODE_SG)
			add_form("sg", "sg node", t->path);
		else if (t->kind == DDLP_NODE_BSG)
			add_form("bsg", "bsg node", t->path);
	}
	if (tg.scsi) {
		snprintf(buf, sizeof(buf), "%u:%u:%u:%llu", tg.h, tg.c, tg.t, tg.l);
		add_form("hctl", "H:C:T:L", buf);
		if (tg.c == 0) {
			snprintf(buf, sizeof(buf), "%u,%u,%llu", tg.h, tg.t, tg.l);
			add_form("btl", "B,T,L", buf);
		}
	}
	if (tg.block[0] && find_link("/dev/disk/by-id", buf, sizeof(buf)))
		add_form("byid", "/dev/disk/by-id symlink", buf);
	if (tg.block[0] && find_link("/dev/disk/by-path", buf, sizeof(buf)))
		add_form("bypath", "/dev/disk/by-path symlink", buf);
	if (tg.block[0] && geteuid() == 0) {
		for (size_t i = 0; i < tg.n; i++) {
			if (tg.node[i].kind != DDLP_NODE_BLOCK)
				continue;
			snprintf(alias_path, sizeof(alias_path), "/tmp/ddlp-bench-alias-%ld",
			         (long)getpid());
			unlink(alias_path);
			if (mknod(alias_path, S_IFBLK | 0600, tg.node[i].devnum) == 0)
				add_form("alias", "mknod alias of the block node", alias_path);
			else
				alias_path[0] = '\0';
			break;
		}
	}
}

int resolve_free(const char *spec)
{
	struct ddlp_drive *d;
	int r = ddlp_drive_resolve(spec, 0, &d);

	if (r < 0)
		return r;
	r = strcmp(ddlp_drive_get_id(d), tg.id) == 0 ? 0 : -EXDEV;
	ddlp_drive_free(d);
	return r;
}

/* The mknod alias in /tmp is removed at the end of the run. */
void forms_cleanup(void)
{
	if (alias_path[0])
		unlink(alias_path);
	alias_path[0] = '\0';
}
