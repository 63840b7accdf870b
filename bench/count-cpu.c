/*
 * CPU time: of a finished process or call (struct rusage, user + system),
 * and of a running process (/proc/PID/schedstat, the time it has run on a
 * CPU in ns; /proc/PID/stat's ticks where schedstat is missing).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static double tv_ms(struct timeval tv)
{
	return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

double rusage_ms(const struct rusage *r)
{
	return tv_ms(r->ru_utime) + tv_ms(r->ru_stime);
}

/* Time pid has run on a CPU (ns): /proc/PID/schedstat, else stat's ticks. */
int64_t cpu_ns(pid_t pid)
{
	char p[64], buf[1024];
	long long run;

	snprintf(p, sizeof(p), "/proc/%ld/schedstat", (long)pid);
	if (read_file(p, buf, sizeof(buf)) > 0 && sscanf(buf, "%lld", &run) == 1)
		return run;
	snprintf(p, sizeof(p), "/proc/%ld/stat", (long)pid);
	if (read_file(p, buf, sizeof(buf)) > 0) {
		const char *q = strrchr(buf, ')');
		unsigned long long ut, stime;

		if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		                &stime) == 2)
			return (int64_t)((ut + stime) * (1000000000ull / (unsigned long long)sysconf(_SC_CLK_TCK)));
	}
	return -1;
}
