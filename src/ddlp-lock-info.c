/*
 * ddlp-lock: the information verbs, --resolve, --status and --list, as
 * libsmartcols tables (aligned text, --raw, --json), with the columns of
 * ddlp-lock-columns.c.  Nothing here opens a drive: the state comes from
 * /proc/locks, the processes that have a drive open from one scan of
 * /proc for all the drives of the table (ddlp_users_new()).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <libsmartcols.h>

#include "ddlp-lock.h"

/* The drives of one table and what was read about them. */
struct survey {
	size_t n;
	const struct ddlp_drive **drives;
	struct ddlp_status **status;
	struct ddlp_users *users;
};

static void survey_free(struct survey *s)
{
	if (s->status)
		for (size_t i = 0; i < s->n; i++)
			ddlp_status_free(s->status[i]);
	free(s->status);
	ddlp_users_free(s->users);
}

/* Read what the columns need for every drive: the state of each, and one
 * scan of /proc for all of them.  A failure is a message and an exit code
 * (the table is not printed). */
static int survey_read(struct survey *s, unsigned need)
{
	int r;

	if (need & NEED_STATUS) {
		s->status = calloc(s->n ? s->n : 1, sizeof(*s->status));
		if (!s->status) {
			msg("%s", strerror(ENOMEM));
			return EX_OSERR;
		}
		for (size_t i = 0; i < s->n; i++) {
			r = ddlp_status_new(s->drives[i], 0, &s->status[i]);
			if (r < 0) {
				msg("%s: cannot read its state: %s", ddlp_drive_get_spec(s->drives[i]),
				    strerror(-r));
				return r == -ENOMEM ? EX_OSERR : EX_UNAVAILABLE;
			}
		}
	}
	if (need & NEED_USERS) {
		r = ddlp_users_new(s->drives, s->n, DDLP_USERS_OTHERS, &s->users);
		if (r < 0) {
			msg("cannot find the processes that have the drives open: %s", strerror(-r));
			return EX_OSERR;
		}
	}
	return 0;
}

/* Print the table of the drives of s: one row per drive, or (--resolve)
 * one row per node. */
static int print_table(const struct options *o, const struct columns *c, struct survey *s)
{
	struct libscols_table *tb;
	int r, ret = 0;

	r = survey_read(s, columns_needs(c));
	if (r)
		return r;
	tb = columns_table(c, &o->table);
	if (!tb) {
		msg("%s", strerror(ENOMEM));
		return EX_OSERR;
	}
	for (size_t i = 0; i < s->n && !ret; i++) {
		size_t rows = o->action == ACT_RESOLVE ? ddlp_drive_get_node_count(s->drives[i]) : 1;

		for (size_t k = 0; k < rows && !ret; k++) {
			struct libscols_line *line = scols_table_new_line(tb, NULL);
			struct row row = { .drive = s->drives[i], .node_index = k,
				           .status = s->status ? s->status[i] : NULL,
				           .users = s->users, .users_index = i };

			if (!line || columns_fill(c, &o->table, line, &row) < 0) {
				msg("%s", strerror(ENOMEM));
				ret = EX_OSERR;
			}
		}
	}
	if (!ret)
		scols_print_table(tb);
	scols_unref_table(tb);
	return ret;
}

/* The drives named on the command line: those that resolve make the
 * table; the others are reported (and the first one's code returned). */
static int show_specs(const struct options *o, char **specs, size_t n)
{
	struct ddlp_drive **d = calloc(n, sizeof(*d));
	struct survey s = { 0 };
	struct columns *c = NULL;
	int ret = 0, r;

	if (!d) {
		msg("%s", strerror(ENOMEM));
		return EX_OSERR;
	}
	r = columns_choose(o, &c);
	if (r) {
		free(d);
		return r;
	}
	s.drives = calloc(n, sizeof(*s.drives));
	if (!s.drives) {
		msg("%s", strerror(ENOMEM));
		ret = EX_OSERR;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r = ddlp_drive_resolve(specs[i], 0, &d[i]);
		if (r < 0) {
			int code = report_error(o, r, specs[i], DDLP_SHARED, NULL, 0);

			if (!ret)
				ret = code;
			continue;
		}
		s.drives[s.n++] = d[i];
	}
	r = print_table(o, c, &s);
	if (r && !ret)
		ret = r;
out:
	survey_free(&s);
	free(s.drives);
	for (size_t i = 0; i < n; i++)
		ddlp_drive_free(d[i]);
	free(d);
	columns_free(c);
	r = finish_stdout();
	return ret ? ret : r;
}

int do_resolve(const struct options *o, const char *spec)
{
	char *specs[] = { (char *)spec };

	return show_specs(o, specs, 1);
}

int do_status(const struct options *o, char **specs, int n)
{
	return show_specs(o, specs, (size_t)n);
}

int do_list(const struct options *o)
{
	struct ddlp_drive **list;
	struct survey s = { 0 };
	struct columns *c;
	size_t n;
	int r = columns_choose(o, &c), w;

	if (r)
		return r;
	r = ddlp_drive_list(&list, &n);
	if (r < 0) {
		columns_free(c);
		msg("cannot list the drives: %s", strerror(-r));
		return r == -EACCES || r == -EPERM ? EX_NOPERM : EX_OSERR;
	}
	s.n = n;
	s.drives = (const struct ddlp_drive **)list;
	r = print_table(o, c, &s);
	if (!r && n == 0 && o->verbose)
		msg("no optical drives found");
	survey_free(&s);
	ddlp_drive_list_free(list, n);
	columns_free(c);
	w = finish_stdout();
	return r ? r : w;
}
