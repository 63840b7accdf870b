/*
 * Drive identity: turn a spec (a path to a device node, "H:C:T:L" or
 * "B,T,L") into one canonical identity and the list of the drive's sibling
 * nodes, without opening any device node.
 *
 * How:
 *   - a path is stat()ed (following symlinks) to get the node type and
 *     st_rdev; libudev maps the device number to its sysfs device;
 *   - a partition is replaced by its whole disk;
 *   - the SCSI device ("scsi_device") above it is the drive; its sysfs
 *     directory lists the siblings in its "block/", "scsi_generic/" and
 *     "bsg/" subdirectories, whose uevent files name the /dev node
 *     (DEVNAME) and its numbers: no enumeration of all devices, no scan of
 *     /dev, so the cost does not depend on the number of drives;
 *   - a block device without a SCSI parent (loop, virtio, nvme) is a drive
 *     of one node;
 *   - the node the caller named is added as an alias when it is another
 *     inode than the canonical /dev node (a mknod copy), because fcntl and
 *     flock locks belong to an inode.
 * Only stat, readlink, realpath and reads of sysfs and the udev database
 * happen here.
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

#include <libudev.h>

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

	devname[0] = '\0';
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
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
		warn("%s: %s: no node in /dev (%m); it is not locked", d->spec, path);
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

		if (dfd < 0)
			continue; /* e.g. no sg module: no scsi_generic/ */
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

static int set_persistent_name(struct ddlp_drive *d, struct udev_device *dev)
{
	const char *v;

	if (!dev || d->persistent)
		return 0;
	v = udev_device_get_property_value(dev, "ID_SERIAL");
	if (!v || !*v)
		v = udev_device_get_property_value(dev, "ID_WWN");
	if (!v || !*v)
		return 0;
	d->persistent = strdup(v);
	return d->persistent ? 0 : -ENOMEM;
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

static int resolve(struct udev *udev, struct ddlp_drive *d, const char *spec)
{
	struct ddlp_scsi_addr addr;
	struct udev_device *dev = NULL, *scsi = NULL, *block = NULL;
	struct stat st;
	char sysname[96];
	bool is_path;
	int r, form;

	form = ddlp_spec_classify(spec, &addr);
	if (form < 0) {
		err("%s: malformed SCSI address (H:C:T:L or B,T,L)", spec);
		return form;
	}
	is_path = form == DDLP_SPEC_PATH;

	if (!is_path) {
		snprintf(sysname, sizeof(sysname), "%u:%u:%u:%llu", addr.host, addr.channel,
		         addr.target, (unsigned long long)addr.lun);
		dev = udev_device_new_from_subsystem_sysname(udev, "scsi", sysname);
		if (!dev || !udev_device_get_devtype(dev) ||
		    strcmp(udev_device_get_devtype(dev), "scsi_device") != 0) {
			err("%s: no SCSI device at this address", spec);
			r = -ENODEV;
			goto out;
		}
		scsi = dev;
	} else {
		char type;

		if (stat(spec, &st) < 0) {
			r = errno_for_stat(errno);
			err("%s: %s", spec, strerror(-r));
			return r;
		}
		if (S_ISBLK(st.st_mode))
			type = 'b';
		else if (S_ISCHR(st.st_mode))
			type = 'c';
		else {
			err("%s: not a drive (not a device node)", spec);
			return -ENODEV;
		}
		dev = udev_device_new_from_devnum(udev, type, st.st_rdev);
		if (!dev) {
			err("%s: not a drive (no device %u:%u in sysfs)", spec,
			    major(st.st_rdev), minor(st.st_rdev));
			r = -ENODEV;
			goto out;
		}
		if (type == 'b') {
			const char *devtype = udev_device_get_devtype(dev);

			block = dev;
			if (devtype && strcmp(devtype, "partition") == 0) {
				block = udev_device_get_parent_with_subsystem_devtype(dev, "block", "disk");
				if (!block) {
					err("%s: partition without a disk", spec);
					r = -ENODEV;
					goto out;
				}
			}
		} else {
			const char *subsys = udev_device_get_subsystem(dev);

			if (!subsys || (strcmp(subsys, "scsi_generic") != 0 && strcmp(subsys, "bsg") != 0)) {
				err("%s: not a drive (character device of subsystem %s)", spec,
				    subsys ? subsys : "none");
				r = -ENODEV;
				goto out;
			}
		}
		scsi = udev_device_get_parent_with_subsystem_devtype(block ? block : dev, "scsi",
		                                                     "scsi_device");
		if (!scsi && !block) {
			err("%s: not a drive (no SCSI device above it)", spec);
			r = -ENODEV;
			goto out;
		}
	}

	if (scsi) {
		const char *syspath = udev_device_get_syspath(scsi);

		if (asprintf(&d->id, "scsi:%s", udev_device_get_sysname(scsi)) < 0) {
			d->id = NULL;
			r = -ENOMEM;
			goto out;
		}
		d->syspath = strdup(syspath);
		if (!d->syspath) {
			r = -ENOMEM;
			goto out;
		}
		r = collect_scsi_siblings(d, syspath);
		if (r < 0) {
			err("%s: cannot read the siblings in %s: %s", spec, syspath, strerror(-r));
			goto out;
		}
	} else {
		/* a block device of its own: a drive of one node */
		const char *syspath = udev_device_get_syspath(block);
		char *parent = strdup(syspath), *slash;

		if (!parent) {
			r = -ENOMEM;
			goto out;
		}
		slash = strrchr(parent, '/');
		*slash = '\0';
		if (asprintf(&d->id, "block:%s", udev_device_get_sysname(block)) < 0) {
			d->id = NULL;
			free(parent);
			r = -ENOMEM;
			goto out;
		}
		d->syspath = strdup(syspath);
		if (!d->syspath) {
			free(parent);
			r = -ENOMEM;
			goto out;
		}
		{
			int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (pfd < 0) {
				r = -errno;
			} else {
				r = add_sysfs_node(d, pfd, udev_device_get_sysname(block),
				                   &sibling_dirs[0], parent);
				close(pfd);
			}
		}
		free(parent);
		if (r < 0)
			goto out;
		free(d->block_syspath);
		d->block_syspath = strdup(syspath);
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

	/* udev's persistent name: the block device's database entry first */
	if (block) {
		r = set_persistent_name(d, block);
	} else if (d->block_syspath) {
		struct udev_device *b = udev_device_new_from_syspath(udev, d->block_syspath);

		r = set_persistent_name(d, b);
		udev_device_unref(b);
	} else {
		r = set_persistent_name(d, is_path ? dev : NULL);
	}
	if (r < 0)
		goto out;

	if (is_path) {
		r = add_named(d, spec, &st, st.st_rdev);
		if (r < 0)
			goto out;
		if (block && block != dev) {
			/* a partition: its disk's node stands for it */
			for (size_t i = 0; i < d->n_nodes; i++)
				if (d->nodes[i].kind == DDLP_NODE_BLOCK)
					d->nodes[i].flags |= DDLP_NODE_NAMED;
		}
	}
	ddlp_nodes_sort(d->nodes, d->n_nodes);
	for (size_t i = 0; i < d->n_nodes; i++)
		if (d->nodes[i].flags & DDLP_NODE_NAMED)
			d->named = i;
	r = 0;
out:
	udev_device_unref(dev);
	return r;
}

int ddlp_drive_resolve_at(const char *spec, struct ddlp_drive **out)
{
	struct ddlp_drive *d;
	struct udev *udev;
	int r;

	if (!spec || !out)
		return -EINVAL;
	*out = NULL;
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
	udev = udev_new();
	if (!d->spec || !udev) {
		udev_unref(udev);
		ddlp_drive_free(d);
		return -ENOMEM;
	}
	r = resolve(udev, d, spec);
	udev_unref(udev);
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
