/*
 * Drive identity: turn a spec (a path to a device node, "H:C:T:L" or
 * "B,T,L") into one canonical identity and the list of the drive's sibling
 * nodes, without opening any device node.
 *
 * How:
 *   - a path is stat()ed (following symlinks) to get the node type and
 *     st_rdev; the kernel's /sys/dev/{block,char}/MAJ:MIN link leads to
 *     its sysfs device;
 *   - a partition is replaced by its whole disk (its parent in sysfs);
 *   - the SCSI device ("scsi_device") two levels above the node's sysfs
 *     directory (.../H:C:T:L/block/sr0) is the drive; its sysfs
 *     directory lists the siblings in its "block/", "scsi_generic/" and
 *     "bsg/" subdirectories, whose uevent files name the /dev node
 *     (DEVNAME) and its numbers: no enumeration of all devices, no scan of
 *     /dev, so the cost does not depend on the number of drives;
 *   - a block device without a SCSI parent (loop, virtio, nvme) is a drive
 *     of one node;
 *   - the node the caller named is added as an alias when it is another
 *     inode than the canonical /dev node (a mknod copy), because fcntl and
 *     flock locks belong to an inode.
 * Only stat, readlink, realpath and reads of sysfs happen here; udev's
 * persistent name is read from the udev database when it is asked for
 * (drive.c), not on the lock path.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ddlp-private.h"

static const struct sibling_dir {
	const char *dir;
	enum ddlp_node_kind kind;
	enum ddlp_excl excl;
	mode_t type;
} sibling_dirs[] = {
	{ "block", DDLP_NODE_BLOCK, DDLP_EXCL_CLAIM, S_IFBLK },
	{ "scsi_generic", DDLP_NODE_SG, DDLP_EXCL_OPEN, S_IFCHR },
	{ "bsg", DDLP_NODE_BSG, DDLP_EXCL_NONE, S_IFCHR },
};

/* Parse a uevent file's MAJOR, MINOR and DEVNAME. */
static int parse_uevent(char *text, dev_t *devnum, char *devname, size_t size)
{
	unsigned maj = 0, min = 0;
	bool have_maj = false, have_min = false;

	char *save = NULL;

	devname[0] = '\0';
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "MAJOR=", 6) == 0)
			have_maj = sscanf(line + 6, "%u", &maj) == 1;
		else if (strncmp(line, "MINOR=", 6) == 0)
			have_min = sscanf(line + 6, "%u", &min) == 1;
		else if (strncmp(line, "DEVNAME=", 8) == 0)
			snprintf(devname, size, "%s", line + 8);
	}
	if (!have_maj || !have_min || !devname[0])
		return -ENODEV;
	*devnum = makedev(maj, min);
	return 0;
}

/* Add the /dev node of a sysfs device directory (dirfd/name) to d. */
static int add_sysfs_node(struct ddlp_drive *d, int dirfd, const char *name,
                          const struct sibling_dir *sd, const char *parent_syspath)
{
	char path[PATH_MAX], text[1024], devname[256];
	struct ddlp_node *n;
	struct stat st;
	dev_t devnum;
	int r;

	if (d->n_nodes >= DDLP_MAX_NODES)
		return -E2BIG;
	snprintf(path, sizeof(path), "%s/uevent", name);
	r = (int)ddlp_read_text(dirfd, path, text, sizeof(text));
	if (r < 0)
		return r;
	r = parse_uevent(text, &devnum, devname, sizeof(devname));
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/dev/%s", devname);
	if (stat(path, &st) < 0) {
		warn("%s: %s: no node in /dev (%s); it is not locked", d->spec, path,
		     strerror(errno));
		return 0;
	}
	if ((st.st_mode & S_IFMT) != sd->type || st.st_rdev != devnum) {
		warn("%s: %s is not the device %u:%u; it is not locked", d->spec, path,
		     major(devnum), minor(devnum));
		return 0;
	}
	n = &d->nodes[d->n_nodes];
	n->path = strdup(path);
	if (!n->path)
		return -ENOMEM;
	n->kind = sd->kind;
	n->excl = sd->excl;
	n->type = sd->type;
	n->devnum = devnum;
	n->inode_dev = st.st_dev;
	n->inode = st.st_ino;
	n->flags = 0;
	d->n_nodes++;
	if (sd->kind == DDLP_NODE_BLOCK && !d->block_syspath) {
		if (asprintf(&d->block_syspath, "%s/%s/%s", parent_syspath, sd->dir, name) < 0) {
			d->block_syspath = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

/* Collect the sibling nodes listed under a SCSI device's sysfs directory. */
static int collect_scsi_siblings(struct ddlp_drive *d, const char *syspath)
{
	int sysfd = open(syspath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (sysfd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	for (size_t i = 0; i < sizeof(sibling_dirs) / sizeof(sibling_dirs[0]) && r >= 0; i++) {
		const struct sibling_dir *sd = &sibling_dirs[i];
		int dfd = openat(sysfd, sd->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *dir;
		struct dirent *de;

		if (dfd < 0) {
			if (errno == ENOENT)
				continue; /* e.g. no sg module: no scsi_generic/ */
			r = -errno;
			break;
		}
		dir = fdopendir(dfd);
		if (!dir) {
			r = -errno;
			close(dfd);
			break;
		}
		while (r >= 0 && (de = readdir(dir))) {
			if (de->d_name[0] == '.')
				continue;
			r = add_sysfs_node(d, dirfd(dir), de->d_name, sd, syspath);
		}
		closedir(dir);
	}
	close(sysfd);
	return r;
}

/* Mark the node the caller named; add it as an alias when it is another inode. */
static int add_named(struct ddlp_drive *d, const char *spec, const struct stat *st, dev_t devnum)
{
	struct ddlp_node *canon = NULL, *n;
	char *real;

	for (size_t i = 0; i < d->n_nodes; i++)
		if (d->nodes[i].devnum == devnum && d->nodes[i].type == (st->st_mode & S_IFMT))
			canon = &d->nodes[i];
	if (!canon)
		return 0; /* a partition: the whole disk stands for it */
	if (canon->inode == st->st_ino && canon->inode_dev == st->st_dev) {
		canon->flags |= DDLP_NODE_NAMED;
		return 0;
	}
	if (d->n_nodes >= DDLP_MAX_NODES)
		return -E2BIG;
	real = realpath(spec, NULL);
	if (!real)
		return -errno;
	n = &d->nodes[d->n_nodes++];
	*n = *canon;
	n->path = real;
	n->inode_dev = st->st_dev;
	n->inode = st->st_ino;
	n->flags = DDLP_NODE_NAMED | DDLP_NODE_ALIAS;
	return 0;
}

static int errno_for_stat(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return -ENOENT;
	case ELOOP:
	case EACCES:
	case ENAMETOOLONG:
	case ENOMEM:
		return -e;
	default:
		return -e;
	}
}

/* Is dir a SCSI device ("scsi_device" in its uevent)?  1 yes, 0 no, or a
 * negative errno when sysfs could not be read (no fds, no memory): that
 * must not turn a SCSI drive into a drive of one node. */
static int is_scsi_device(const char *dir)
{
	char path[PATH_MAX], text[512];
	ssize_t r;

	if ((size_t)snprintf(path, sizeof(path), "%s/uevent", dir) >= sizeof(path))
		return 0;
	r = ddlp_read_text(AT_FDCWD, path, text, sizeof(text));
	if (r == -ENOENT || r == -ENOTDIR || r == -EACCES)
		return 0;
	if (r < 0)
		return (int)r;
	return strstr(text, "DEVTYPE=scsi_device") != NULL;
}

/* An errno from a failed system call that says "try again later", not
 * "no such device". */
static bool resource_errno(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOMEM || e == EINTR;
}

/* Cut the last n components off a path, in place. */
static bool dirname_n(char *path, int n)
{
	while (n-- > 0) {
		char *slash = strrchr(path, '/');

		if (!slash || slash == path)
			return false;
		*slash = '\0';
	}
	return true;
}

/*
 * Map a device number to its sysfs device.  The kernel publishes one
 * symlink per device number, /sys/dev/{block,char}/MAJ:MIN, pointing to
 * the device's directory ("../../devices/...").  libudev's
 * udev_device_new_from_devnum() reads the same link, then resolves it a
 * second time one path component at a time (an openat and an fstat per
 * component: about 49 system calls for a SCSI CD drive, half of what a
 * whole lock cost; bench/README.md).  Here it takes one readlink, plus one
 * readlink of "subsystem" for a character device or one faccessat of
 * "partition" for a block device.  libudev stays the source of what only
 * udev knows (its database: persistent names, drive.c; the list of
 * drives, enumerate.c).
 * On success *syspath is the whole-disk or character device's sysfs path.
 */
static int devnum_to_syspath(const char *spec, const struct stat *st, char **syspath)
{
	char link[64], target[PATH_MAX], path[PATH_MAX];
	bool blk = S_ISBLK(st->st_mode);
	ssize_t n;

	snprintf(link, sizeof(link), "/sys/dev/%s/%u:%u", blk ? "block" : "char",
	         major(st->st_rdev), minor(st->st_rdev));
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0 && resource_errno(errno)) {
		int r = -errno;

		err("%s: cannot look up the device: %s", spec, strerror(-r));
		return r;
	}
	if (n < 0) {
		err("%s: not a drive (no device %u:%u in sysfs)", spec, major(st->st_rdev),
		    minor(st->st_rdev));
		return -ENODEV;
	}
	target[n] = '\0';
	if (strncmp(target, "../../devices/", 14) == 0) {
		if ((size_t)snprintf(path, sizeof(path), "/sys/%s", target + 6) >= sizeof(path))
			return -ENODEV;
	} else {
		/* not the layout of any kernel we know: let realpath decide */
		char *real = realpath(link, NULL);

		if (!real) {
			int r = resource_errno(errno) ? -errno : -ENODEV;

			err("%s: cannot resolve %s: %s", spec, link, strerror(errno));
			return r;
		}
		snprintf(path, sizeof(path), "%s", real);
		free(real);
	}

	if (!blk) {
		char sub[PATH_MAX + 16]; /* path + "/subsystem" */
		const char *subsys = NULL;

		snprintf(sub, sizeof(sub), "%s/subsystem", path);
		n = readlink(sub, target, sizeof(target) - 1);
		if (n < 0 && resource_errno(errno))
			return -errno;
		if (n > 0) {
			target[n] = '\0';
			subsys = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
		}
		if (!subsys || (strcmp(subsys, "scsi_generic") != 0 && strcmp(subsys, "bsg") != 0)) {
			err("%s: not a drive (character device of subsystem %s)", spec,
			    subsys ? subsys : "none");
			return -ENODEV;
		}
	} else {
		/* a partition (it has a "partition" attribute) stands for its
		 * disk, the parent directory in sysfs */
		char part[PATH_MAX + 16]; /* path + "/partition" */

		snprintf(part, sizeof(part), "%s/partition", path);
		if (faccessat(AT_FDCWD, part, F_OK, 0) == 0) {
			if (!dirname_n(path, 1))
				return -ENODEV;
		} else if (resource_errno(errno)) {
			return -errno;
		}
	}
	*syspath = strdup(path);
	return *syspath ? 0 : -ENOMEM;
}

static int resolve(struct ddlp_drive *d, const char *spec)
{
	struct ddlp_scsi_addr addr;
	struct stat st;
	char *nodepath = NULL, *scsi = NULL;
	int r, form;

	form = ddlp_spec_classify(spec, &addr);
	if (form < 0) {
		err("%s: malformed SCSI address (H:C:T:L or B,T,L)", spec);
		return form;
	}

	if (form == DDLP_SPEC_ADDRESS) {
		char link[128];

		snprintf(link, sizeof(link), "/sys/bus/scsi/devices/%u:%u:%u:%llu", addr.host,
		         addr.channel, addr.target, (unsigned long long)addr.lun);
		scsi = realpath(link, NULL);
		if (!scsi && resource_errno(errno)) {
			r = -errno;
			goto out;
		}
		r = scsi ? is_scsi_device(scsi) : 0;
		if (r <= 0) {
			if (r == 0) {
				err("%s: no SCSI device at this address", spec);
				r = -ENODEV;
			}
			goto out;
		}
	} else {
		if (stat(spec, &st) < 0) {
			r = errno_for_stat(errno);
			err("%s: %s", spec, strerror(-r));
			return r;
		}
		if (!S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode)) {
			err("%s: not a drive (not a device node)", spec);
			return -ENODEV;
		}
		r = devnum_to_syspath(spec, &st, &nodepath);
		if (r < 0)
			goto out;
		/* .../H:C:T:L/{block,scsi_generic,bsg}/NAME */
		scsi = strdup(nodepath);
		if (!scsi) {
			r = -ENOMEM;
			goto out;
		}
		r = dirname_n(scsi, 2) ? is_scsi_device(scsi) : 0;
		if (r < 0)
			goto out;
		if (r == 0) {
			free(scsi);
			scsi = NULL;
			if (S_ISCHR(st.st_mode)) {
				err("%s: not a drive (no SCSI device above it)", spec);
				r = -ENODEV;
				goto out;
			}
		}
	}

	if (scsi) {
		if (asprintf(&d->id, "scsi:%s", strrchr(scsi, '/') + 1) < 0) {
			d->id = NULL;
			r = -ENOMEM;
			goto out;
		}
		d->syspath = scsi;
		scsi = NULL;
		r = collect_scsi_siblings(d, d->syspath);
		if (r < 0) {
			err("%s: cannot read the siblings in %s: %s", spec, d->syspath, strerror(-r));
			goto out;
		}
	} else {
		/* a block device of its own: a drive of one node */
		char *parent = strdup(nodepath);
		const char *name = strrchr(nodepath, '/') + 1;
		int pfd;

		if (!parent || !dirname_n(parent, 1)) {
			free(parent);
			r = parent ? -ENODEV : -ENOMEM;
			goto out;
		}
		if (asprintf(&d->id, "block:%s", name) < 0) {
			d->id = NULL;
			free(parent);
			r = -ENOMEM;
			goto out;
		}
		d->syspath = nodepath;
		nodepath = NULL;
		pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0) {
			r = -errno;
		} else {
			r = add_sysfs_node(d, pfd, name, &sibling_dirs[0], parent);
			close(pfd);
		}
		free(parent);
		if (r < 0)
			goto out;
		free(d->block_syspath);
		d->block_syspath = strdup(d->syspath);
		if (!d->block_syspath) {
			r = -ENOMEM;
			goto out;
		}
	}

	if (d->n_nodes == 0) {
		err("%s: the drive %s has no device node in /dev", spec, d->id);
		r = -ENODEV;
		goto out;
	}
	if (form == DDLP_SPEC_PATH) {
		r = add_named(d, spec, &st, st.st_rdev);
		if (r < 0)
			goto out;
		/* a partition names no node: its disk's node stands for it */
		bool named = false;

		for (size_t i = 0; i < d->n_nodes; i++)
			named |= (d->nodes[i].flags & DDLP_NODE_NAMED) != 0;
		for (size_t i = 0; i < d->n_nodes && !named && S_ISBLK(st.st_mode); i++)
			if (d->nodes[i].kind == DDLP_NODE_BLOCK) {
				d->nodes[i].flags |= DDLP_NODE_NAMED;
				named = true;
			}
	}
	ddlp_nodes_sort(d->nodes, d->n_nodes);
	for (size_t i = 0; i < d->n_nodes; i++)
		if (d->nodes[i].flags & DDLP_NODE_NAMED)
			d->named = i;
	r = 0;
out:
	free(nodepath);
	free(scsi);
	return r;
}

int ddlp_drive_resolve_at(const char *spec, struct ddlp_drive **out)
{
	struct ddlp_drive *d;
	int r;

	if (out)
		*out = NULL;
	if (!spec || !out)
		return -EINVAL;
	if (!*spec) {
		err("empty drive spec");
		return -EINVAL;
	}
	if (strnlen(spec, PATH_MAX) >= PATH_MAX) {
		err("drive spec longer than %d bytes", PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	d = ddlp_drive_new();
	if (!d)
		return -ENOMEM;
	d->spec = strdup(spec);
	if (!d->spec) {
		ddlp_drive_free(d);
		return -ENOMEM;
	}
	r = resolve(d, spec);
	if (r < 0) {
		ddlp_drive_free(d);
		return r;
	}
	dbg("%s: %s, %zu nodes", spec, d->id, d->n_nodes);
	*out = d;
	return 0;
}

DDLP_EXPORT int ddlp_drive_resolve(const char *spec, unsigned flags, struct ddlp_drive **out)
{
	if (flags != 0) {
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	return ddlp_drive_resolve_at(spec, out);
}
