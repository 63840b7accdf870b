/*
 * ddlp-bench's output: progress and failures on stderr; the Markdown table
 * (one row per figure: item, what, value, target, verdict), the details
 * printed under it, and the key=value figures that bench/run-vm.sh turns
 * into the summary of a results file.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MAX_ROWS 128

int failures;

void progress(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ddlp-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ddlp-bench: FAILED: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	failures++;
}

struct row {
	char item[8];
	char what[160];
	char value[240];
	char target[80];
	char verdict[16];
};

static struct row rows[MAX_ROWS];
static size_t n_rows;
static char *details;
static size_t details_len, details_cap;
static FILE *kvf;
static char times[512];
static size_t times_len;

void row(const char *item, const char *what, const char *target, const char *verdict,
         const char *fmt, ...)
{
	struct row *r;
	va_list ap;

	if (n_rows == MAX_ROWS)
		return;
	r = &rows[n_rows++];
	snprintf(r->item, sizeof(r->item), "%s", item);
	snprintf(r->what, sizeof(r->what), "%s", what);
	snprintf(r->target, sizeof(r->target), "%s", target ? target : "");
	snprintf(r->verdict, sizeof(r->verdict), "%s", verdict ? verdict : "");
	va_start(ap, fmt);
	vsnprintf(r->value, sizeof(r->value), fmt, ap);
	va_end(ap);
}

const char *verdict(bool met)
{
	return met ? "met" : "**missed**";
}

void detail(const char *fmt, ...)
{
	va_list ap;
	int need;

	va_start(ap, fmt);
	need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (need < 0)
		return;
	if (details_len + (size_t)need + 2 > details_cap) {
		size_t cap = (details_cap + (size_t)need + 2) * 2;
		char *p = realloc(details, cap);

		if (!p)
			return;
		details = p;
		details_cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(details + details_len, details_cap - details_len, fmt, ap);
	va_end(ap);
	details_len += (size_t)need;
	details[details_len++] = '\n';
	details[details_len] = '\0';
}

/* How long a section ran, for the table's heading. */
void section_time(const char *name, double secs)
{
	if (times_len < sizeof(times))
		times_len += (size_t)snprintf(times + times_len, sizeof(times) - times_len, "%s%s %.0f",
		                              times_len ? ", " : "", name, secs);
}

int kv_open(const char *path)
{
	kvf = fopen(path, "we");
	return kvf ? 0 : -1;
}

void kv_close(void)
{
	if (kvf)
		fclose(kvf);
	kvf = NULL;
}

void kv(const char *key, const char *fmt, ...)
{
	va_list ap;

	if (!kvf)
		return;
	fprintf(kvf, "%s=", key);
	va_start(ap, fmt);
	vfprintf(kvf, fmt, ap);
	va_end(ap);
	fputc('\n', kvf);
	fflush(kvf);
}

void print_table(FILE *f, const char *kernel, const char *date, const char *load0,
                 const char *load1, double secs, double cal_start, double cal_end)
{
	fprintf(f, "### %s\n\n", opt.title ? opt.title : "ddlp-bench");
	fprintf(f, "- date %s, kernel %s, %ld CPUs, load average at start %s, at end %s, "
	           "%.0f s\n",
	        date, kernel, sysconf(_SC_NPROCESSORS_ONLN), load0, load1, secs);
	fprintf(f, "- speed of the VM: one getppid() took %.0f ns at the start, %.0f ns at the end\n",
	        cal_start, cal_end);
	fprintf(f, "- drives: %u sr drives; target `%s` (%s, %s), nodes:", tg.n_sr, tg.spec, tg.id,
	        tg.model[0] ? tg.model : "?");
	for (size_t i = 0; i < tg.n; i++)
		fprintf(f, " `%s`", tg.node[i].path);
	fputc('\n', f);
	if (tg.delay >= 0)
		fprintf(f, "- scsi_debug delay=%d jiffies%s, ndelay=%d\n", tg.delay,
		        tg.delay == 1 ? " (the default)" : "", tg.ndelay);
	if (times_len)
		fprintf(f, "- seconds per section: %s\n", times);
	fputs("- every lock is exclusive with DDLP_LOCK_NO_REPROBE, so that udev's re-probe "
	      "after an unlock does not run into the next lock (except where a row says so); "
	      "sections 8 and 9 take shared locks too, also with DDLP_LOCK_NO_REPROBE\n\n",
	      f);
	fputs("| # | measure | value | target | |\n|---|---|---|---|---|\n", f);
	for (size_t i = 0; i < n_rows; i++)
		fprintf(f, "| %s | %s | %s | %s | %s |\n", rows[i].item, rows[i].what, rows[i].value,
		        rows[i].target, rows[i].verdict);
	fputc('\n', f);
	if (details_len)
		fprintf(f, "%s\n", details);
}
