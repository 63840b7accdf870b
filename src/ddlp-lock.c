/*
 * ddlp-lock: lock optical drives for a shell command, the way flock(1)
 * locks a file, and report drives' identities, states and users.  See
 * ddlp-lock(1).  This file: the options and main; ddlp-lock.h lists the
 * other files and what each is for.
 *
 *   ddlp-lock [options] DEVICE COMMAND [ARG...]
 *   ddlp-lock [options] DEVICE -c 'COMMAND LINE'
 *   ddlp-lock [options] DEVICE {-s|-x} DEVICE2 ... [--] COMMAND [ARG...]
 *   ddlp-lock [output options] --resolve DEVICE
 *   ddlp-lock [output options] --status DEVICE...
 *   ddlp-lock [output options] --list
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddlp-lock.h"

/* the name of every message (msg() and the like: tool.c) */
const char tool_prog[] = PROG;

static int parse_exit_code(const char *s, int *code)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < 0 || v > 255)
		return -1;
	*code = (int)v;
	return 0;
}

/* ------------------------------------------------------------------ *
 * The log hook for -v: libddlp's warnings (and with -vv its debug
 * messages) on stderr, one line each
 * ------------------------------------------------------------------ */

static void log_hook(void *userdata, int priority, const char *file, int line, const char *fn,
                     const char *format, va_list args)
{
	char buf[1024];

	(void)userdata;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	vsnprintf(buf, sizeof(buf), format, args);
	msg("libddlp: %s", buf);
}

/* ------------------------------------------------------------------ *
 * main
 * ------------------------------------------------------------------ */

enum {
	OPT_RESOLVE = 256,
	OPT_STATUS,
	OPT_LIST,
	OPT_NO_REPROBE,
	OPT_PARTIAL,
	OPT_WAIT_UNUSED,
	OPT_OUTPUT,
	OPT_OUTPUT_ALL,
	OPT_NOHEADINGS,
	OPT_RAW
};

static const struct option long_options[] = {
	{ "exclusive", no_argument, NULL, 'x' },
	{ "shared", no_argument, NULL, 's' },
	{ "nonblock", no_argument, NULL, 'n' },
	{ "nb", no_argument, NULL, 'n' },
	{ "timeout", required_argument, NULL, 'w' },
	{ "wait", required_argument, NULL, 'w' },
	{ "conflict-exit-code", required_argument, NULL, 'E' },
	{ "command", required_argument, NULL, 'c' },
	{ "close", no_argument, NULL, 'o' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "silent", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "json", no_argument, NULL, 'J' },
	{ "resolve", no_argument, NULL, OPT_RESOLVE },
	{ "status", no_argument, NULL, OPT_STATUS },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "no-reprobe", no_argument, NULL, OPT_NO_REPROBE },
	{ "partial", no_argument, NULL, OPT_PARTIAL },
	{ "wait-unused", optional_argument, NULL, OPT_WAIT_UNUSED },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "output-all", no_argument, NULL, OPT_OUTPUT_ALL },
	{ "noheadings", no_argument, NULL, OPT_NOHEADINGS },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ NULL, 0, NULL, 0 },
};

static bool is_mode_arg(const char *a, enum ddlp_mode *mode)
{
	if (strcmp(a, "-s") == 0 || strcmp(a, "--shared") == 0) {
		*mode = DDLP_SHARED;
		return true;
	}
	if (strcmp(a, "-x") == 0 || strcmp(a, "-e") == 0 || strcmp(a, "--exclusive") == 0) {
		*mode = DDLP_EXCLUSIVE;
		return true;
	}
	return false;
}

static int set_action(struct options *o, enum action a)
{
	if (o->action != ACT_LOCK && o->action != a)
		return -1;
	o->action = a;
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .action = ACT_LOCK, .mode = DDLP_EXCLUSIVE, .timeout_ms = -1,
		             .conflict_code = 1, .unused_ms = -1 };
	bool table_option = false;
	struct lock_req reqs[MAX_DRIVES];
	size_t n_reqs = 0;
	char **cmd = NULL;
	int c, i;

	/* libsmartcols shows a name's characters as the locale says (in a
	 * UTF-8 locale, printable UTF-8 as it is; control characters and
	 * invalid bytes as \xHH); messages are not translated */
	setlocale(LC_CTYPE, "");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:xesnw:E:c:ovqhVJ", long_options, NULL)) != -1) {
		switch (c) {
		case 'x':
		case 'e':
			o.mode = DDLP_EXCLUSIVE;
			break;
		case 's':
			o.mode = DDLP_SHARED;
			break;
		case 'n':
			o.timeout_ms = 0;
			break;
		case 'w':
			if (parse_seconds(optarg, &o.timeout_ms) < 0)
				return usage_error("invalid timeout '%s': seconds, fractions allowed",
				                   optarg);
			break;
		case 'E':
			if (parse_exit_code(optarg, &o.conflict_code) < 0)
				return usage_error("invalid conflict exit code '%s': 0 to 255", optarg);
			break;
		case 'c':
			o.command = optarg;
			break;
		case 'o':
			o.close_fds = true;
			break;
		case 'v':
			o.verbose++;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			help();
			return finish_stdout();
		case 'V':
			printf("%s %s (libddlp %s)\n", PROG, PACKAGE_VERSION, ddlp_version());
			return finish_stdout();
		case 'J':
			o.table.json = true;
			table_option = true;
			break;
		case OPT_OUTPUT:
			o.table.columns = optarg;
			table_option = true;
			break;
		case OPT_OUTPUT_ALL:
			o.table.all = true;
			table_option = true;
			break;
		case OPT_NOHEADINGS:
			o.table.noheadings = true;
			table_option = true;
			break;
		case OPT_RAW:
			o.table.raw = true;
			table_option = true;
			break;
		case OPT_WAIT_UNUSED:
			o.wait_unused = true;
			o.unused_ms = -1;
			if (optarg && parse_seconds(optarg, &o.unused_ms) < 0)
				return usage_error("invalid time for --wait-unused '%s': seconds, "
				                   "fractions allowed",
				                   optarg);
			break;
		case OPT_RESOLVE:
			if (set_action(&o, ACT_RESOLVE) < 0)
				return usage_error("--resolve, --status and --list exclude each other");
			break;
		case OPT_STATUS:
			if (set_action(&o, ACT_STATUS) < 0)
				return usage_error("--resolve, --status and --list exclude each other");
			break;
		case OPT_LIST:
			if (set_action(&o, ACT_LIST) < 0)
				return usage_error("--resolve, --status and --list exclude each other");
			break;
		case OPT_NO_REPROBE:
			o.flags |= DDLP_LOCK_NO_REPROBE;
			break;
		case OPT_PARTIAL:
			o.flags |= DDLP_LOCK_PARTIAL;
			break;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt && optopt < 256)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}

	if (o.verbose) {
		ddlp_set_log_fn(log_hook, NULL);
		ddlp_set_log_priority(o.verbose > 1 ? 7 : 6);
	}

	if (o.action != ACT_LOCK && o.close_fds)
		return usage_error("-o is --close, for locking (as in flock(1)); choose columns with "
		                   "--output");
	if (o.action != ACT_LOCK && o.wait_unused)
		return usage_error("--wait-unused is for locking, not with --resolve, --status or --list");
	if (o.table.json && o.table.raw)
		return usage_error("--json and --raw exclude each other");
	switch (o.action) {
	case ACT_RESOLVE:
		if (o.command)
			return usage_error("-c is for running a command, not with --resolve");
		if (argc - optind != 1)
			return usage_error("--resolve takes one DEVICE");
		return do_resolve(&o, argv[optind]);
	case ACT_STATUS:
		if (o.command)
			return usage_error("-c is for running a command, not with --status");
		if (argc - optind < 1)
			return usage_error("--status takes one or more DEVICEs");
		return do_status(&o, argv + optind, argc - optind);
	case ACT_LIST:
		if (o.command)
			return usage_error("-c is for running a command, not with --list");
		if (argc - optind != 0)
			return usage_error("--list takes no DEVICE");
		return do_list(&o);
	case ACT_LOCK:
		break;
	}

	if (table_option)
		return usage_error("--json, --raw, --noheadings and --output are for --resolve, "
		                   "--status and --list");
	if (optind >= argc)
		return usage_error("no DEVICE given");
	reqs[n_reqs++] = (struct lock_req){ argv[optind], o.mode };
	i = optind + 1;
	/* more drives: DEVICE -s DEVICE2 -x DEVICE3 ... [--] COMMAND */
	for (;;) {
		enum ddlp_mode m;

		if (i < argc && is_mode_arg(argv[i], &m)) {
			if (i + 1 >= argc)
				return usage_error("'%s' needs a DEVICE after it", argv[i]);
			if (n_reqs >= MAX_DRIVES)
				return usage_error("at most %d drives in one call", MAX_DRIVES);
			reqs[n_reqs++] = (struct lock_req){ argv[i + 1], m };
			i += 2;
			continue;
		}
		break;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i < argc && (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--command") == 0)) {
		if (o.command)
			return usage_error("-c given twice");
		if (i + 1 >= argc)
			return usage_error("'%s' needs a COMMAND LINE", argv[i]);
		if (i + 2 < argc)
			return usage_error("-c takes one argument, the whole command line ('%s' is one too many)",
			                   argv[i + 2]);
		o.command = argv[i + 1];
		i = argc;
	}
	if (o.command) {
		if (i < argc)
			return usage_error("both -c and a COMMAND ('%s') given", argv[i]);
	} else {
		if (i >= argc)
			return usage_error("no COMMAND given for %s", reqs[0].spec);
		cmd = argv + i;
	}
	return do_lock(&o, reqs, n_reqs, cmd);
}
