/*
 * The drive object: allocation, release and the public accessors.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libudev.h>

#include "ddlp-private.h"

/* drive->persistent when the udev database has no name for the drive */
static char drive_no_name[] = "";

struct ddlp_drive *ddlp_drive_new(void)
{
	struct ddlp_drive *d = calloc(1, sizeof(*d));

	if (d)
		d->named = SIZE_MAX;
	return d;
}

DDLP_EXPORT void ddlp_drive_free(struct ddlp_drive *drive)
{
	if (!drive)
		return;
	for (size_t i = 0; i < drive->n_nodes; i++)
		free(drive->nodes[i].path);
	free(drive->spec);
	free(drive->id);
	if (drive->persistent != drive_no_name)
		free(drive->persistent);
	free(drive->syspath);
	free(drive->block_syspath);
	free(drive);
}

DDLP_EXPORT const char *ddlp_drive_get_spec(const struct ddlp_drive *drive)
{
	return drive ? drive->spec : NULL;
}

DDLP_EXPORT const char *ddlp_drive_get_id(const struct ddlp_drive *drive)
{
	return drive ? drive->id : NULL;
}

/* udev's persistent name from the udev database of the drive's block node
 * (else its first node): ID_SERIAL, else ID_WWN. */
static char *lookup_persistent_name(const struct ddlp_drive *drive)
{
	const struct ddlp_node *n = NULL;
	struct udev *udev;
	struct udev_device *dev;
	char *name = NULL;

	for (size_t i = 0; i < drive->n_nodes && !n; i++)
		if (drive->nodes[i].kind == DDLP_NODE_BLOCK)
			n = &drive->nodes[i];
	if (!n && drive->n_nodes)
		n = &drive->nodes[0];
	if (!n)
		return NULL;
	udev = udev_new();
	if (!udev)
		return NULL;
	dev = udev_device_new_from_devnum(udev, n->type == S_IFBLK ? 'b' : 'c', n->devnum);
	if (dev) {
		const char *v = udev_device_get_property_value(dev, "ID_SERIAL");

		if (!v || !*v)
			v = udev_device_get_property_value(dev, "ID_WWN");
		if (v && *v)
			name = strdup(v);
		udev_device_unref(dev);
	}
	udev_unref(udev);
	return name;
}

/* Looked up on first use and cached (thread-safe: the first answer to be
 * stored wins), so that locking never pays for the udev database. */
DDLP_EXPORT const char *ddlp_drive_get_persistent_name(const struct ddlp_drive *drive)
{
	struct ddlp_drive *d = (struct ddlp_drive *)drive;
	char *name, *expected = NULL;

	if (!d)
		return NULL;
	name = __atomic_load_n(&d->persistent, __ATOMIC_ACQUIRE);
	if (!name) {
		name = lookup_persistent_name(d);
		if (!name)
			name = drive_no_name;
		if (!__atomic_compare_exchange_n(&d->persistent, &expected, name, false,
		                                 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			if (name != drive_no_name)
				free(name);
			name = expected;
		}
	}
	return name == drive_no_name ? NULL : name;
}

DDLP_EXPORT const char *ddlp_drive_get_syspath(const struct ddlp_drive *drive)
{
	return drive ? drive->syspath : NULL;
}

DDLP_EXPORT size_t ddlp_drive_get_node_count(const struct ddlp_drive *drive)
{
	return drive ? drive->n_nodes : 0;
}

DDLP_EXPORT const struct ddlp_node *ddlp_drive_get_node(const struct ddlp_drive *drive, size_t index)
{
	if (!drive || index >= drive->n_nodes)
		return NULL;
	return &drive->nodes[index];
}

DDLP_EXPORT const char *ddlp_node_get_path(const struct ddlp_node *node)
{
	return node ? node->path : NULL;
}

DDLP_EXPORT enum ddlp_node_kind ddlp_node_get_kind(const struct ddlp_node *node)
{
	return node ? node->kind : 0;
}

DDLP_EXPORT enum ddlp_excl ddlp_node_get_excl(const struct ddlp_node *node)
{
	return node ? node->excl : DDLP_EXCL_NONE;
}

DDLP_EXPORT dev_t ddlp_node_get_devnum(const struct ddlp_node *node)
{
	return node ? node->devnum : 0;
}

DDLP_EXPORT unsigned ddlp_node_get_flags(const struct ddlp_node *node)
{
	return node ? node->flags : 0;
}

DDLP_EXPORT const char *ddlp_node_kind_name(enum ddlp_node_kind kind)
{
	switch (kind) {
	case DDLP_NODE_BLOCK:
		return "block";
	case DDLP_NODE_SG:
		return "sg";
	case DDLP_NODE_BSG:
		return "bsg";
	}
	return "unknown";
}
