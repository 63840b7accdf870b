/*
 * What ddlp-lock and ddlp-guard share (src/tool.c): messages, usage
 * errors, the SECONDS of -w.  Each tool defines tool_prog, its name.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef DDLP_TOOL_H
#define DDLP_TOOL_H

#include <stddef.h>

#define DDLP_PRINTF_ATTR(a, b) __attribute__((format(printf, a, b)))

/* The tool's name, the first word of every message ("ddlp-lock"). */
extern const char tool_prog[];

/* "TOOL: " and the message on stderr, one line, control characters
 * and bytes that are not UTF-8 shown as \xHH. */
void msg(const char *fmt, ...) DDLP_PRINTF_ATTR(1, 2);
/* The same after "TOOL: warning: ". */
void warning(const char *fmt, ...) DDLP_PRINTF_ATTR(1, 2);
/* A usage error: the message with a hint at --help; returns EX_USAGE. */
int usage_error(const char *fmt, ...) DDLP_PRINTF_ATTR(1, 2);
/* Copy in to out as it may go to a terminal (see msg()). */
void printable(const char *in, char *out, size_t size);
/* Length of a valid UTF-8 sequence at s, or 0. */
size_t utf8_len(const unsigned char *s);
/* "SECONDS" with fractions to ms (rounded up; INT_MAX at most); -1 on a
 * malformed value. */
int parse_seconds(const char *s, int *ms);

#endif
