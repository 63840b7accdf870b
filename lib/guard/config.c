/*
 * The preload's settings, its messages, its constructor and destructor.
 *
 * Settings come from the environment that ddlp-guard(1) prepares (read
 * with secure_getenv: a set-id program that loads the preload through
 * /etc/ld.so.preload ignores them):
 *
 *   DDLP_GUARD_TIMEOUT_MS  how long an open waits for a busy drive (0: fail
 *                          at once with EBUSY; < 0: no limit)
 *   DDLP_GUARD_FLAGS       letters: q quiet, v verbose, n no re-probe,
 *                          a every path (--all-paths)
 *   DDLP_GUARD_DEVICES     devices guarded besides optical drives:
 *                          "b7:0,c21:3" (type, major:minor)
 *   DDLP_GUARD_STATE_FD    the descriptor number of the state file (state.c)
 *
 * Without them (the system-wide mode, doc/guard.txt) the defaults are: fail
 * at once, say why on stderr, re-probe, no state across exec.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "guard.h"

struct guard_config guard_cfg = { .reprobe = true, .state_fd = -1, .fd_base = 256 };
int guard_ready;
pid_t guard_pid;

/* A message as it may go to a terminal: control characters and bytes
 * above 0x7e as \xHH, so that a device name cannot break the line or send
 * an escape sequence. */
static void put_printable(char *out, size_t size, const char *in)
{
	size_t o = 0;

	for (const unsigned char *s = (const unsigned char *)in; *s && o + 5 < size; s++) {
		if (*s < 0x20 || *s == 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", *s);
		else
			out[o++] = (char)*s;
	}
	out[o] = '\0';
}

void guard_say(const char *fmt, ...)
{
	char msg[1024], clean[4 * sizeof(msg)], line[sizeof(clean) + 128];
	va_list ap;
	int n, e = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	put_printable(clean, sizeof(clean), msg);
	n = snprintf(line, sizeof(line), "ddlp-guard: %s[%ld]: %s\n", program_invocation_short_name,
	             (long)getpid(), clean);
	if (n > 0 && write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0) {
		/* nowhere to say it */
	}
	errno = e;
}

static void read_devices(const char *s)
{
	while (s && *s && guard_cfg.n_extra < sizeof(guard_cfg.extra) / sizeof(guard_cfg.extra[0])) {
		unsigned maj, min;
		char t;

		if (sscanf(s, "%c%u:%u", &t, &maj, &min) == 3 && (t == 'b' || t == 'c')) {
			guard_cfg.extra[guard_cfg.n_extra].type = t == 'b' ? S_IFBLK : S_IFCHR;
			guard_cfg.extra[guard_cfg.n_extra].rdev = makedev(maj, min);
			guard_cfg.n_extra++;
		}
		s = strchr(s, ',');
		if (s)
			s++;
	}
}

static void read_settings(void)
{
	const char *v;
	struct rlimit rl;

	v = ddlp_getenv("DDLP_GUARD_TIMEOUT_MS");
	if (v && *v)
		guard_cfg.timeout_ms = atoi(v);
	v = ddlp_getenv("DDLP_GUARD_FLAGS");
	if (v) {
		guard_cfg.quiet = strchr(v, 'q') != NULL;
		guard_cfg.verbose = strchr(v, 'v') != NULL;
		guard_cfg.reprobe = strchr(v, 'n') == NULL;
		guard_cfg.all_paths = strchr(v, 'a') != NULL;
	}
	read_devices(ddlp_getenv("DDLP_GUARD_DEVICES"));
	v = ddlp_getenv("DDLP_GUARD_STATE_FD");
	if (v && *v) {
		char *end;
		long n = strtol(v, &end, 10);

		if (!*end && n > 2 && n < INT_MAX)
			guard_cfg.state_fd = (int)n;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 512)
		guard_cfg.fd_base = rl.rlim_cur > 6 ? (int)rl.rlim_cur / 2 : 3;
}

void guard_init(void)
{
	struct ddlp_lock probe;

	if (guard_ready)
		return;
	guard_real_init();
	guard_enter();
	read_settings();
	guard_pid = getpid();
	guard_cwd_changed();
	/* libddlp's fork handlers first, ours after them (hold.c) */
	memset(&probe, 0, sizeof(probe));
	ddlp_registry_add(&probe);
	ddlp_registry_remove(&probe);
	guard_hold_atfork_register();
	guard_state_load();
	guard_leave();
	__atomic_store_n(&guard_ready, 1, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void guard_constructor(void)
{
	guard_init();
}

/* At exit: release every hold, so that a drive held exclusively is
 * re-probed (the kernel would close the descriptors anyway). */
__attribute__((destructor)) static void guard_destructor(void)
{
	if (!guard_ready || getpid() != guard_pid)
		return;
	guard_enter();
	guard_hold_release_all();
	guard_leave();
}
