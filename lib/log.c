/*
 * Logging: nothing is printed unless the application installs a hook with
 * ddlp_set_log_fn() or sets DDLP_LOG (err, warning, info, debug or 3..7),
 * in which case the default hook writes to stderr.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddlp-private.h"

/* The hook and the priority are process-wide (ddlp_lock() takes no context
 * object).  They are read without the registry mutex: the setters are meant
 * to be called once at start-up; the values are stored atomically. */
static ddlp_log_fn log_fn;
static void *log_data;
static int log_priority = -1;    /* -1: not yet read from the environment */

static void log_stderr(void *userdata, int priority, const char *file, int line,
                       const char *fn, const char *format, va_list args)
{
	(void)userdata;
	(void)file;
	(void)line;
	fprintf(stderr, "libddlp: %s: ", fn);
	vfprintf(stderr, format, args);
	fputc('\n', stderr);
	(void)priority;
}

static int priority_from_string(const char *s)
{
	static const struct {
		const char *name;
		int prio;
	} names[] = { { "err", 3 }, { "error", 3 }, { "warning", 4 }, { "warn", 4 },
		      { "info", 6 }, { "debug", 7 } };
	char *end;
	long v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].prio;
	v = strtol(s, &end, 10);
	if (end != s && *end == '\0' && v >= 0 && v <= 7)
		return (int)v;
	return 3;
}

static void log_init_once(void)
{
	const char *env = ddlp_getenv("DDLP_LOG");

	if (env && *env) {
		__atomic_store_n(&log_priority, priority_from_string(env), __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&log_priority, 3, __ATOMIC_RELAXED);
	}
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

DDLP_EXPORT void ddlp_set_log_fn(ddlp_log_fn fn, void *userdata)
{
	pthread_once(&log_once, log_init_once);
	__atomic_store_n(&log_data, userdata, __ATOMIC_RELAXED);
	__atomic_store_n(&log_fn, fn, __ATOMIC_RELEASE);
}

DDLP_EXPORT void ddlp_set_log_priority(int priority)
{
	pthread_once(&log_once, log_init_once);
	__atomic_store_n(&log_priority, priority, __ATOMIC_RELAXED);
}

DDLP_EXPORT int ddlp_get_log_priority(void)
{
	pthread_once(&log_once, log_init_once);
	return __atomic_load_n(&log_priority, __ATOMIC_RELAXED);
}

bool ddlp_log_enabled(int priority)
{
	pthread_once(&log_once, log_init_once);
	if (priority > __atomic_load_n(&log_priority, __ATOMIC_RELAXED))
		return false;
	/* Without a hook, only DDLP_LOG makes the library print. */
	if (!__atomic_load_n(&log_fn, __ATOMIC_ACQUIRE)) {
		const char *env = ddlp_getenv("DDLP_LOG");
		return env && *env;
	}
	return true;
}

void ddlp_log_msg(int priority, const char *file, int line, const char *fn,
                  const char *format, ...)
{
	ddlp_log_fn hook = __atomic_load_n(&log_fn, __ATOMIC_ACQUIRE);
	void *data = __atomic_load_n(&log_data, __ATOMIC_RELAXED);
	va_list args;

	if (!hook)
		hook = log_stderr;
	va_start(args, format);
	hook(data, priority, file, line, fn, format, args);
	va_end(args);
}

DDLP_EXPORT const char *ddlp_version(void)
{
	return LIBDDLP_VERSION;
}
