/*
 * libFuzzer target: spec parsing and resolution on arbitrary strings.
 *
 * Every input is run through
 *   - ddlp_spec_classify() and ddlp_drive_resolve() (and, when resolution
 *     succeeds, every ddlp_drive_* / ddlp_node_* accessor and
 *     ddlp_status_new(), then ddlp_drive_free()), on the input up to
 *     its first NUL and on the part after that NUL;
 *   - the /proc/locks line parser and the sysfs uevent parser, which are
 *     static in lib/proclocks.c and lib/identity.c: this file includes those
 *     two sources to reach them (the fuzz build compiles every other file of
 *     lib/ separately, see tests/hardening.inc).
 * Resolution only stat()s, readlink()s and reads sysfs and the udev
 * database: no device node is opened, nothing is locked, nothing written.
 * A log hook at debug priority formats every message (into a buffer that
 * is thrown away), so the messages that quote the spec are fuzzed too.
 *
 * Besides the sanitizers' reports, a broken invariant aborts: an address
 * spec with other characters than digits and its separators, a result
 * outside the documented errors of ddlp_drive_resolve(), a drive whose
 * accessors disagree with what it was resolved from.
 *
 * Build and run: make check-fuzz (FUZZ_SECONDS=3600 for a longer run);
 * see tests/fuzz/README.md.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddlp-private.h"

/* the /proc/locks parser ddlp_proclocks_parse_line() and the static
 * parse_uevent() */
#include "proclocks.c"
#include "identity.c"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "fuzz-spec: invariant broken at %s:%d: %s\n", \
			        __FILE__, __LINE__, #cond);                          \
			abort();                                                     \
		}                                                                    \
	} while (0)

static void log_sink(void *userdata, int priority, const char *file, int line,
                     const char *fn, const char *format, va_list args)
{
	char buf[512];

	(void)userdata;
	(void)file;
	(void)line;
	(void)fn;
	(void)priority;
	vsnprintf(buf, sizeof(buf), format, args);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* no environment may change what the library does */
	unsetenv("DDLP_LOG");
	unsetenv("DDLP_LOCK_BACKEND");
	unsetenv("DDLP_TEST_PAUSE_AFTER");
	unsetenv("DDLP_TEST_PAUSE_FILE");
	ddlp_set_log_fn(log_sink, NULL);
	ddlp_set_log_priority(7);
	return 0;
}

static void fuzz_classify(const char *spec)
{
	struct ddlp_scsi_addr addr;
	int form = ddlp_spec_classify(spec, &addr);

	CHECK(form == DDLP_SPEC_PATH || form == DDLP_SPEC_ADDRESS || form == -EINVAL);
	if (form == DDLP_SPEC_ADDRESS) {
		size_t colons = 0, commas = 0;

		CHECK(spec[0] >= '0' && spec[0] <= '9');
		for (const char *p = spec; *p; p++) {
			CHECK((*p >= '0' && *p <= '9') || *p == ':' || *p == ',');
			colons += *p == ':';
			commas += *p == ',';
		}
		CHECK((colons == 3 && commas == 0) || (colons == 0 && commas == 2));
		CHECK(addr.lun <= UINT32_MAX);
		if (commas)
			CHECK(addr.channel == 0);
	}
	if (form == DDLP_SPEC_PATH && spec[0])
		CHECK(strchr(spec, '/') || (!strchr(spec, ':') && !strchr(spec, ',')) ||
		      !((spec[0] >= '0' && spec[0] <= '9') || spec[0] == '-' || spec[0] == '+'));
}

static void check_drive(const char *spec, const struct ddlp_drive *d)
{
	size_t n = ddlp_drive_get_node_count(d), named = 0;
	const char *id = ddlp_drive_get_id(d);
	const char *syspath = ddlp_drive_get_syspath(d);
	const char *pers = ddlp_drive_get_persistent_name(d);
	struct ddlp_status *st = NULL;

	CHECK(ddlp_drive_get_spec(d) && strcmp(ddlp_drive_get_spec(d), spec) == 0);
	CHECK(id && (strncmp(id, "scsi:", 5) == 0 || strncmp(id, "block:", 6) == 0));
	CHECK(syspath && strncmp(syspath, "/sys/", 5) == 0);
	CHECK(!pers || *pers);
	CHECK(n >= 1 && n <= DDLP_MAX_NODES);
	for (size_t i = 0; i < n; i++) {
		const struct ddlp_node *node = ddlp_drive_get_node(d, i);
		enum ddlp_node_kind kind;

		CHECK(node);
		CHECK(ddlp_node_get_path(node) && ddlp_node_get_path(node)[0] == '/');
		kind = ddlp_node_get_kind(node);
		CHECK(kind == DDLP_NODE_BLOCK || kind == DDLP_NODE_SG || kind == DDLP_NODE_BSG);
		CHECK(strcmp(ddlp_node_kind_name(kind), "unknown") != 0);
		CHECK(ddlp_node_get_excl(node) <= DDLP_EXCL_OPEN);
		CHECK((ddlp_node_get_flags(node) & ~(unsigned)(DDLP_NODE_NAMED | DDLP_NODE_ALIAS)) == 0);
		named += (ddlp_node_get_flags(node) & DDLP_NODE_NAMED) != 0;
		(void)ddlp_node_get_devnum(node);
		if (i > 0)
			CHECK(ddlp_node_compare(ddlp_drive_get_node(d, i - 1), node) <= 0);
	}
	CHECK(named <= 1);
	CHECK(ddlp_drive_get_node(d, n) == NULL);
	/* /proc/locks only: no device node is opened */
	CHECK(ddlp_status_new(d, 0, &st) == 0);
	CHECK(ddlp_status_get_state(st) <= DDLP_STATE_EXCLUSIVE);
	CHECK(!ddlp_status_get_holder_name(st) || *ddlp_status_get_holder_name(st));
	ddlp_status_free(st);
}

static void fuzz_resolve(const char *spec)
{
	struct ddlp_drive *d = (struct ddlp_drive *)1;
	int r = ddlp_drive_resolve(spec, 0, &d);

	if (r == 0) {
		CHECK(d != NULL);
		check_drive(spec, d);
		ddlp_drive_free(d);
		return;
	}
	CHECK(d == NULL);
	/* the errors ddlp.h documents for ddlp_drive_resolve() */
	if (r != -EINVAL && r != -ENOENT && r != -ELOOP && r != -EACCES &&
	    r != -ENAMETOOLONG && r != -ENODEV && r != -ENOMEM) {
		fprintf(stderr, "fuzz-spec: ddlp_drive_resolve(\"%s\") = %d (%s), not a documented error\n",
		        spec, r, strerror(-r));
		abort();
	}
	/* flags are reserved: always -EINVAL, *out cleared */
	d = (struct ddlp_drive *)1;
	CHECK(ddlp_drive_resolve(spec, 1, &d) == -EINVAL && d == NULL);
}

static void fuzz_spec(const char *spec)
{
	fuzz_classify(spec);
	fuzz_resolve(spec);
}

/* Each line of the input as a line of /proc/locks. */
static void fuzz_proclocks(const char *text, size_t size)
{
	char *copy = malloc(size + 1), *line, *save = NULL;

	if (!copy)
		return;
	memcpy(copy, text, size);
	copy[size] = '\0';
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct ddlp_plock l;
		dev_t dev;
		ino_t ino;
		char *one = strdup(line);

		if (!one)
			break;
		if (ddlp_proclocks_parse_line(one, &l, &dev, &ino) == 0)
			CHECK(l.kind >= DDLP_PLOCK_POSIX && l.kind <= DDLP_PLOCK_OTHER);
		free(one);
	}
	free(copy);
}

/* The whole input as a sysfs uevent file (the library reads up to 1023 bytes). */
static void fuzz_uevent(const char *text, size_t size)
{
	char buf[1024], devname[256];
	dev_t devnum;

	if (size > sizeof(buf) - 1)
		size = sizeof(buf) - 1;
	memcpy(buf, text, size);
	buf[size] = '\0';
	if (parse_uevent(buf, &devnum, devname, sizeof(devname)) == 0)
		CHECK(devname[0] && memchr(devname, '\0', sizeof(devname)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	const uint8_t *nul;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_spec(s); /* up to the first NUL, as a C caller would pass it */
	nul = memchr(data, '\0', size);
	if (nul)
		fuzz_spec(s + (nul - data) + 1); /* the part after it */
	fuzz_proclocks(s, strlen(s));
	fuzz_uevent(s, strlen(s));
	free(s);
	return 0;
}
