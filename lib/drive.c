/*
 * The drive object: allocation, release and the public accessors.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdint.h>
#include <stdlib.h>

#include "ddlp-private.h"

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

DDLP_EXPORT const char *ddlp_drive_get_persistent_name(const struct ddlp_drive *drive)
{
	return drive ? drive->persistent : NULL;
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
