/*
 * What the tools (ddlp-lock, ddlp-guard) share: one-line messages on
 * stderr that begin with the tool's name, with device names and control
 * characters shown safely; usage errors; the SECONDS of -w.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "tool.h"

/* Length of a valid UTF-8 sequence at s, or 0. */
size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* Copy in to out as it may go to a terminal: printable ASCII and valid UTF-8 as they
 * are; control characters (C0, DEL and C1, also UTF-8 encoded) and bytes
 * that are not valid UTF-8 as \xHH.  So a device name can neither break
 * a message into two lines nor send an escape sequence to the terminal. */
void printable(const char *in, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	while (*s && o + 5 < size) {
		size_t n = *s >= 0x20 && *s != 0x7f ? utf8_len(s) : 0;

		if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)
			n = 0; /* U+0080..U+009F */
		if (n == 0) {
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", *s);
			s++;
			continue;
		}
		memcpy(out + o, s, n);
		o += n;
		s += n;
	}
	out[o] = '\0';
}

void msg(const char *fmt, ...)
{
	char buf[2 * PATH_MAX + 1024], out[4 * sizeof(buf)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* one line, always: a message never contains a newline */
	printable(buf, out, sizeof(out));
	fprintf(stderr, "%s: %s\n", tool_prog, out);
}

void warning(const char *fmt, ...)
{
	char buf[2 * PATH_MAX + 1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	msg("warning: %s", buf);
}

int usage_error(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	msg("%s (try '%s --help')", buf, tool_prog);
	return EX_USAGE;
}

/* "SECONDS" with fractions to ms; -1 on a malformed value. */
int parse_seconds(const char *s, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno == ERANGE || !(v >= 0) || v != v)
		return -1;
	if (v * 1000.0 >= (double)INT_MAX)
		*ms = INT_MAX;
	else {
		*ms = (int)(v * 1000.0);
		if ((double)*ms < v * 1000.0)
			(*ms)++; /* round up: -w 0.0001 still waits */
	}
	return 0;
}
