/*
 * ddlp-lock: the columns of --resolve, --status and --list, and --output.
 * One list of columns for all three: drive columns (one value per drive)
 * and, for --resolve, node columns (one row per node of the drive).  Each
 * column says what must be read for it (the lock state from /proc/locks,
 * the processes that have the drive open from one scan of /proc), so that
 * a table without those columns costs neither.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sysmacros.h>
#include <sysexits.h>

#include <libsmartcols.h>

#include "ddlp-lock.h"

enum col_id {
	COL_DEVICE,
	COL_ID,
	COL_PERSISTENT,
	COL_SYSPATH,
	COL_NODES,
	COL_STATE,
	COL_HOLDERS,
	COL_HOLDER,
	COL_HOLDER_PID,
	COL_USERS,
	COL_UNLOCKED,
	COL_UNSEEN,
	COL_PATH,
	COL_KIND,
	COL_MAJMIN,
	COL_EXCL,
	COL_NAMED,
	COL_ALIAS,
	N_COLS
};

struct coldesc {
	const char *name;
	double whint;
	int flags;       /* SCOLS_FL_* */
	int json;        /* SCOLS_JSON_* */
	unsigned need;   /* enum column_need */
	bool node;       /* one value per node: --resolve only */
	const char *help;
};

static const struct coldesc cols[N_COLS] = {
	[COL_DEVICE] = { "DEVICE", 0.1, 0, SCOLS_JSON_STRING, 0, false,
	                 "the device as named (--list: the SCSI address)" },
	[COL_ID] = { "ID", 0.1, 0, SCOLS_JSON_STRING, 0, false,
	             "identity: scsi:H:C:T:L or block:NAME" },
	[COL_PERSISTENT] = { "PERSISTENT", 0.1, 0, SCOLS_JSON_STRING, 0, false,
	                     "udev's persistent name (ID_SERIAL, ID_WWN)" },
	[COL_SYSPATH] = { "SYSPATH", 0.1, 0, SCOLS_JSON_STRING, 0, false, "sysfs path" },
	[COL_NODES] = { "NODES", 0.1, 0, SCOLS_JSON_ARRAY_STRING, 0, false,
	                "the nodes, in lock order" },
	[COL_STATE] = { "STATE", 0.1, 0, SCOLS_JSON_STRING, NEED_STATUS, false,
	                "free, shared or exclusive" },
	[COL_HOLDERS] = { "HOLDERS", 0.1, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, NEED_STATUS, false,
	                  "number of holders (shared holders; 1 exclusive)" },
	[COL_HOLDER] = { "HOLDER", 0.1, 0, SCOLS_JSON_STRING, NEED_STATUS | NEED_USERS, false,
	                 "a holder's command name" },
	[COL_HOLDER_PID] = { "HOLDER-PID", 0.1, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	                     NEED_STATUS | NEED_USERS, false, "its process ID" },
	[COL_USERS] = { "USERS", 0.1, 0, SCOLS_JSON_ARRAY_STRING, NEED_USERS, false,
	                "processes that have it open: NAME[PID] LOCK NODE..." },
	[COL_UNLOCKED] = { "UNLOCKED", 0.1, 0, SCOLS_JSON_ARRAY_STRING, NEED_USERS, false,
	                   "processes that have it open without a lock: NAME[PID]" },
	[COL_UNSEEN] = { "UNSEEN", 0.1, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER, NEED_USERS, false,
	                 "processes whose open files the caller may not see" },
	[COL_PATH] = { "PATH", 0.1, 0, SCOLS_JSON_STRING, 0, true, "node: its path" },
	[COL_KIND] = { "KIND", 0.1, 0, SCOLS_JSON_STRING, 0, true, "node: block, sg or bsg" },
	[COL_MAJMIN] = { "MAJ:MIN", 0.1, 0, SCOLS_JSON_STRING, 0, true,
	                 "node: its device numbers" },
	[COL_EXCL] = { "EXCL", 0.1, 0, SCOLS_JSON_STRING, 0, true,
	               "node: what O_EXCL means: claim, open or none" },
	[COL_NAMED] = { "NAMED", 0.1, 0, SCOLS_JSON_BOOLEAN, 0, true,
	                "node: the one DEVICE led to" },
	[COL_ALIAS] = { "ALIAS", 0.1, 0, SCOLS_JSON_BOOLEAN, 0, true,
	                "node: an inode other than the /dev node" },
};

static const enum col_id defaults_resolve[] = { COL_PATH, COL_KIND, COL_MAJMIN, COL_EXCL,
	                                        COL_NAMED, COL_ALIAS, COL_ID };
static const enum col_id defaults_status[] = { COL_DEVICE, COL_STATE, COL_HOLDERS, COL_HOLDER,
	                                       COL_HOLDER_PID, COL_UNLOCKED };
static const enum col_id defaults_list[] = { COL_ID, COL_PERSISTENT, COL_NODES, COL_STATE,
	                                     COL_HOLDER, COL_HOLDER_PID, COL_UNLOCKED };

struct columns {
	size_t n;
	enum col_id id[N_COLS * 4]; /* a column may be asked for more than once */
	bool node_rows;
};

void columns_help(void)
{
	fputs("Columns (--output; for --status and --list only the drive columns):\n", stdout);
	for (size_t i = 0; i < N_COLS; i++)
		printf(" %11s  %s\n", cols[i].name, cols[i].help);
}

static int add_default(struct columns *c, const enum col_id *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c->id[c->n++] = ids[i];
	return 0;
}

static int add_list(struct columns *c, const char *list, bool node_rows)
{
	const char *p = list;

	if (!*p)
		return usage_error("--output: an empty list of columns");
	while (*p) {
		size_t len = strcspn(p, ",");
		size_t i;

		for (i = 0; i < N_COLS; i++)
			if (strlen(cols[i].name) == len && strncasecmp(cols[i].name, p, len) == 0)
				break;
		if (i == N_COLS)
			return usage_error("unknown column '%.*s'", (int)len, p);
		if (cols[i].node && !node_rows)
			return usage_error("column '%s' is a column of --resolve (one row per node)",
			                   cols[i].name);
		if (c->n == sizeof(c->id) / sizeof(c->id[0]))
			return usage_error("--output: too many columns");
		c->id[c->n++] = (enum col_id)i;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int columns_choose(const struct options *o, struct columns **out)
{
	struct columns *c = calloc(1, sizeof(*c));
	const char *list = o->table.columns;
	int r = 0;

	if (!c) {
		msg("%s", strerror(ENOMEM));
		return EX_OSERR;
	}
	c->node_rows = o->action == ACT_RESOLVE;
	if (o->table.all) {
		for (size_t i = 0; i < N_COLS; i++)
			if (c->node_rows || !cols[i].node)
				c->id[c->n++] = (enum col_id)i;
	} else if (!list || *list == '+') {
		if (o->action == ACT_RESOLVE)
			add_default(c, defaults_resolve, sizeof(defaults_resolve) / sizeof(defaults_resolve[0]));
		else if (o->action == ACT_STATUS)
			add_default(c, defaults_status, sizeof(defaults_status) / sizeof(defaults_status[0]));
		else
			add_default(c, defaults_list, sizeof(defaults_list) / sizeof(defaults_list[0]));
		if (list)
			r = add_list(c, list + 1, c->node_rows);
	} else {
		r = add_list(c, list, c->node_rows);
	}
	if (r) {
		free(c);
		return r;
	}
	*out = c;
	return 0;
}

void columns_free(struct columns *c)
{
	free(c);
}

unsigned columns_needs(const struct columns *c)
{
	unsigned need = 0;

	for (size_t i = 0; i < c->n; i++)
		need |= cols[c->id[i]].need;
	return need;
}

struct libscols_table *columns_table(const struct columns *c, const struct table_options *t)
{
	struct libscols_table *tb = scols_new_table();

	if (!tb)
		return NULL;
	scols_table_enable_json(tb, t->json);
	scols_table_enable_raw(tb, t->raw);
	scols_table_enable_noheadings(tb, t->noheadings);
	scols_table_set_name(tb, c->node_rows ? "nodes" : "drives");
	for (size_t i = 0; i < c->n; i++) {
		const struct coldesc *d = &cols[c->id[i]];
		bool array = t->json && d->json == SCOLS_JSON_ARRAY_STRING;
		struct libscols_column *cl = scols_table_new_column(tb, d->name, d->whint,
		                                                    d->flags | (array ? SCOLS_FL_WRAP : 0));

		if (!cl) {
			scols_unref_table(tb);
			return NULL;
		}
		scols_column_set_json_type(cl, d->json);
		/* a list is one value per line of the cell: libsmartcols
		 * makes a JSON array of the lines of a wrapped cell */
		if (array)
			scols_column_set_wrapfunc(cl, scols_wrapnl_chunksize, scols_wrapnl_nextchunk, NULL);
	}
	return tb;
}

/* ---------------------------------------------------------------- *
 * Cells
 * ---------------------------------------------------------------- */

/* A growing string for a cell; NULL data after a failed allocation. */
struct text {
	char *data;
	size_t len, cap;
	bool failed;
};

static void text_add(struct text *s, const char *str, size_t n)
{
	if (s->failed)
		return;
	if (s->len + n + 1 > s->cap) {
		size_t cap = (s->len + n + 1) * 2;
		char *p = realloc(s->data, cap);

		if (!p) {
			s->failed = true;
			return;
		}
		s->data = p;
		s->cap = cap;
	}
	memcpy(s->data + s->len, str, n);
	s->len += n;
	s->data[s->len] = '\0';
}

/* A name as JSON may carry it: libsmartcols escapes control characters
 * but passes other bytes as they are, so a byte that is not valid UTF-8
 * becomes U+FFFD here (the exact bytes are not valid JSON). */
static void text_name(struct text *s, const char *name, bool json)
{
	const unsigned char *p = (const unsigned char *)name;

	if (!json) {
		text_add(s, name, strlen(name)); /* libsmartcols shows it safely */
		return;
	}
	while (*p) {
		size_t n = utf8_len(p);

		if (n == 0) {
			text_add(s, "\xef\xbf\xbd", 3);
			p++;
			continue;
		}
		text_add(s, (const char *)p, n);
		p += n;
	}
}

static void text_sep(struct text *s, const char *sep)
{
	if (s->len)
		text_add(s, sep, strlen(sep));
}

static const char *excl_name(enum ddlp_excl e)
{
	switch (e) {
	case DDLP_EXCL_CLAIM:
		return "claim";
	case DDLP_EXCL_OPEN:
		return "open";
	case DDLP_EXCL_NONE:
		break;
	}
	return "none";
}

static const char *state_name(enum ddlp_state s)
{
	switch (s) {
	case DDLP_STATE_SHARED:
		return "shared";
	case DDLP_STATE_EXCLUSIVE:
		return "exclusive";
	case DDLP_STATE_FREE:
		break;
	}
	return "free";
}

static const char *user_lock_name(const struct ddlp_user *u)
{
	bool ex = ddlp_user_get_mode(u) == DDLP_EXCLUSIVE;

	switch (ddlp_user_get_lock(u)) {
	case DDLP_USER_LOCK_DDLP:
		return ex ? "exclusive" : "shared";
	case DDLP_USER_LOCK_FLOCK:
		return ex ? "flock-exclusive" : "flock-shared";
	case DDLP_USER_LOCK_NONE:
		break;
	}
	return "none";
}

/* The holder a row names: a process whose open file of the drive holds a
 * lock of the drive's state, as /proc/PID/fdinfo tells (the one
 * /proc/locks names if it is among them); else the pid of /proc/locks
 * (which may be a process that took a flock for a descriptor it shared
 * and is gone, or one the caller may not see). */
static const struct ddlp_user *row_holder(const struct row *r, pid_t *pid)
{
	enum ddlp_state st = ddlp_status_get_state(r->status);
	size_t n = ddlp_users_get_count(r->users, r->users_index);
	pid_t listed = ddlp_status_get_holder_pid(r->status);
	const struct ddlp_user *found = NULL;

	*pid = 0;
	if (st == DDLP_STATE_FREE)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct ddlp_user *u = ddlp_users_get(r->users, r->users_index, i);
		enum ddlp_user_lock l = ddlp_user_get_lock(u);
		bool ex = ddlp_user_get_mode(u) == DDLP_EXCLUSIVE;

		if (st == DDLP_STATE_EXCLUSIVE ? l == DDLP_USER_LOCK_NONE || !ex
		                               : l != DDLP_USER_LOCK_DDLP || ex)
			continue;
		if (!found || ddlp_user_get_pid(u) == listed)
			found = u;
	}
	*pid = found ? ddlp_user_get_pid(found) : listed;
	return found;
}

static void fill_users(struct text *s, const struct row *r, bool unlocked_only, bool json)
{
	size_t n = ddlp_users_get_count(r->users, r->users_index);
	const char *sep = json ? "\n" : ", ";

	for (size_t i = 0; i < n; i++) {
		const struct ddlp_user *u = ddlp_users_get(r->users, r->users_index, i);
		const char *name = ddlp_user_get_name(u);
		char pid[32];

		if (unlocked_only && ddlp_user_get_lock(u) != DDLP_USER_LOCK_NONE)
			continue;
		text_sep(s, sep);
		text_name(s, name ? name : "?", json);
		snprintf(pid, sizeof(pid), "[%ld]", (long)ddlp_user_get_pid(u));
		text_add(s, pid, strlen(pid));
		if (unlocked_only)
			continue;
		text_add(s, " ", 1);
		text_add(s, user_lock_name(u), strlen(user_lock_name(u)));
		for (size_t k = 0; k < ddlp_user_get_node_count(u); k++) {
			text_add(s, k ? "," : " ", 1);
			text_name(s, ddlp_user_get_node(u, k), json);
		}
	}
}

static void fill_cell(struct text *s, enum col_id id, const struct row *r, bool json)
{
	const struct ddlp_drive *d = r->drive;
	const struct ddlp_node *node = ddlp_drive_get_node(d, r->node_index);
	const struct ddlp_user *holder;
	char buf[64];
	pid_t pid;

	switch (id) {
	case COL_DEVICE:
		text_name(s, ddlp_drive_get_spec(d), json);
		break;
	case COL_ID:
		text_name(s, ddlp_drive_get_id(d), json);
		break;
	case COL_PERSISTENT:
		if (ddlp_drive_get_persistent_name(d))
			text_name(s, ddlp_drive_get_persistent_name(d), json);
		break;
	case COL_SYSPATH:
		text_name(s, ddlp_drive_get_syspath(d), json);
		break;
	case COL_NODES:
		for (size_t i = 0; i < ddlp_drive_get_node_count(d); i++) {
			text_sep(s, json ? "\n" : ",");
			text_name(s, ddlp_node_get_path(ddlp_drive_get_node(d, i)), json);
		}
		break;
	case COL_STATE:
		text_add(s, state_name(ddlp_status_get_state(r->status)),
		         strlen(state_name(ddlp_status_get_state(r->status))));
		break;
	case COL_HOLDERS:
		snprintf(buf, sizeof(buf), "%u", ddlp_status_get_holder_count(r->status));
		text_add(s, buf, strlen(buf));
		break;
	case COL_HOLDER:
		holder = row_holder(r, &pid);
		if (holder && ddlp_user_get_name(holder))
			text_name(s, ddlp_user_get_name(holder), json);
		else if (pid > 0 && pid == ddlp_status_get_holder_pid(r->status) &&
		         ddlp_status_get_holder_name(r->status))
			text_name(s, ddlp_status_get_holder_name(r->status), json);
		break;
	case COL_HOLDER_PID:
		row_holder(r, &pid);
		if (pid > 0) {
			snprintf(buf, sizeof(buf), "%ld", (long)pid);
			text_add(s, buf, strlen(buf));
		}
		break;
	case COL_USERS:
		fill_users(s, r, false, json);
		break;
	case COL_UNLOCKED:
		fill_users(s, r, true, json);
		break;
	case COL_UNSEEN:
		snprintf(buf, sizeof(buf), "%u", ddlp_users_get_unseen(r->users));
		text_add(s, buf, strlen(buf));
		break;
	case COL_PATH:
		text_name(s, ddlp_node_get_path(node), json);
		break;
	case COL_KIND:
		text_add(s, ddlp_node_kind_name(ddlp_node_get_kind(node)),
		         strlen(ddlp_node_kind_name(ddlp_node_get_kind(node))));
		break;
	case COL_MAJMIN:
		snprintf(buf, sizeof(buf), "%u:%u", major(ddlp_node_get_devnum(node)),
		         minor(ddlp_node_get_devnum(node)));
		text_add(s, buf, strlen(buf));
		break;
	case COL_EXCL:
		text_add(s, excl_name(ddlp_node_get_excl(node)),
		         strlen(excl_name(ddlp_node_get_excl(node))));
		break;
	case COL_NAMED:
	case COL_ALIAS:
		if (ddlp_node_get_flags(node) & (id == COL_NAMED ? DDLP_NODE_NAMED : DDLP_NODE_ALIAS))
			text_add(s, json ? "true" : id == COL_NAMED ? "named" : "alias", json ? 4 : 5);
		break;
	case N_COLS:
		break;
	}
}

int columns_fill(const struct columns *c, const struct table_options *t,
                 struct libscols_line *line, const struct row *row)
{
	for (size_t i = 0; i < c->n; i++) {
		struct text s = { 0 };

		fill_cell(&s, c->id[i], row, t->json);
		if (s.failed) {
			free(s.data);
			return -ENOMEM;
		}
		/* an empty cell: libsmartcols writes null (JSON) or nothing */
		if (s.data && scols_line_refer_data(line, i, s.data) < 0) {
			free(s.data);
			return -ENOMEM;
		}
	}
	return 0;
}
