/*
 * ddlp-lock: what the files of the tool share.  The tool is split by
 * responsibility:
 *
 *   ddlp-lock.c            options and main
 *   ddlp-lock-messages.c   the help text, error reports and exit codes
 *   tool.c                 messages, usage errors, SECONDS (shared with
 *                          ddlp-guard: tool.h)
 *   ddlp-lock-run.c        taking the lock (waiting with a progress line)
 *                          and the warning about unlocked openers
 *   ddlp-lock-exec.c       running the command with signals forwarded
 *   ddlp-lock-info.c       --resolve, --status, --list (libsmartcols tables)
 *   ddlp-lock-columns.c    the columns of those tables and --output
 *
 * Uses nothing but the public API of libddlp (ddlp.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef DDLP_LOCK_H
#define DDLP_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ddlp.h"
#include "tool.h"

#define PROG "ddlp-lock"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

/* At most this many drives in one call (the library's limit is 64). */
#define MAX_DRIVES 64

enum action { ACT_LOCK, ACT_RESOLVE, ACT_STATUS, ACT_LIST };

/* The output options of --resolve, --status and --list. */
struct table_options {
	bool json;
	bool raw;
	bool noheadings;
	bool all;                  /* --output-all */
	const char *columns;       /* --output LIST, or NULL for the defaults */
};

struct options {
	enum action action;
	enum ddlp_mode mode;       /* of the first DEVICE */
	int timeout_ms;            /* < 0: no limit, 0: try once */
	int conflict_code;
	int verbose;
	bool quiet;
	bool close_fds;            /* -o: the command gets no lock descriptor */
	bool wait_unused;          /* --wait-unused */
	int unused_ms;             /* its limit: < 0 none */
	unsigned flags;            /* DDLP_LOCK_* */
	const char *command;       /* -c */
	struct table_options table;
};

struct lock_req {
	const char *spec;
	enum ddlp_mode mode;
};

/* ---- messages (ddlp-lock-messages.c; msg() and the like: tool.h) ---- */
void help(void);
/* Flush stdout; EX_OSERR with a message on a write error, else 0. */
int finish_stdout(void);
/* "/dev/sg0 held by cdrskin (pid 1234)", or "/dev/sg0 (exclusive open
 * refused)" when the system does not tell. */
void describe_conflict(const struct ddlp_conflict *c, char *buf, size_t size);
/* Does the library take spec for a SCSI address? */
bool spec_is_address(const char *spec);
const char *mode_name(enum ddlp_mode m);
int64_t now_ms(void);

/* ---- errors and exit codes (ddlp-lock-messages.c) ---- */
/* Report a failure of a libddlp call and return the exit code.  spec: the
 * device it concerns (best knowledge); c: the conflict, or NULL; waited:
 * ms spent waiting (for a time-out message). */
int report_error(const struct options *o, int r, const char *spec, enum ddlp_mode mode,
                 const struct ddlp_conflict *c, int64_t waited);
/* After a failure before any node was touched: find which request it was
 * about by resolving each again. */
int report_request_error(const struct options *o, int r, const struct lock_req *reqs, size_t n);

/* ---- locking and running (ddlp-lock-run.c, ddlp-lock-exec.c) ---- */
/* The signals forwarded to the command (and that end a wait). */
#define N_FORWARDED_SIGNALS 4
extern const int forwarded_signals[N_FORWARDED_SIGNALS];
int do_lock(const struct options *o, const struct lock_req *reqs, size_t n, char **argv);
struct child_result {
	int status;     /* exit code of ddlp-lock */
	int exec_errno; /* 0, or why the command could not be run */
};
/* Run the command as a child with SIGINT, SIGTERM, SIGHUP and SIGQUIT
 * forwarded; wait for it.  0, or -1 when it could not be started (with a
 * message; res->status is then the exit code). */
int run_command(const struct options *o, char **argv, const char *device,
                struct child_result *res);

/* ---- information (ddlp-lock-info.c) ---- */
int do_resolve(const struct options *o, const char *spec);
int do_status(const struct options *o, char **specs, int n);
int do_list(const struct options *o);

/* ---- columns (ddlp-lock-columns.c) ---- */
struct libscols_table;
struct libscols_line;

/* What a row of a table shows: a drive, and for --resolve one of its
 * nodes (node_index), with what was found about the drive. */
struct row {
	const struct ddlp_drive *drive;
	size_t node_index;             /* --resolve: the node of this row */
	const struct ddlp_status *status; /* or NULL when not read */
	const struct ddlp_users *users;   /* or NULL when not scanned */
	size_t users_index;            /* the drive's index in users */
};

/* What the chosen columns need to be read. */
enum column_need { NEED_STATUS = 1u << 0, NEED_USERS = 1u << 1 };

struct columns;
/* Choose the columns of action's table from the options; a usage error
 * (its exit code) on an unknown or unfit column name. */
int columns_choose(const struct options *o, struct columns **out);
void columns_free(struct columns *c);
unsigned columns_needs(const struct columns *c);
/* Make the table with the chosen columns and the output options. */
struct libscols_table *columns_table(const struct columns *c, const struct table_options *t);
/* Fill one line of the table; 0 or -ENOMEM. */
int columns_fill(const struct columns *c, const struct table_options *t,
                 struct libscols_line *line, const struct row *row);
/* Print the column names and their descriptions (for --help). */
void columns_help(void);

#endif
