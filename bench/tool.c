/*
 * Section 7, the tool: posix_spawn() to waitpid() of `ddlp-lock DEV true`,
 * `ddlp-lock --no-reprobe DEV true`, `flock DEV true`, `udevadm lock
 * --device=DEV true` and the two tools' --version (process start alone),
 * --tool-runs runs each, interleaved, stdout/stderr to /dev/null;
 * `udevadm settle` (untimed) after each default ddlp-lock run.  And the
 * system calls of each whole process (count-syscalls.c), execve to exit.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

void section_tool(void)
{
	enum { T_DDLP, T_DDLP_NR, T_FLOCK, T_UDEVADM, T_DDLP_VER, T_FLOCK_VER, N_TOOLS };
	static const char *labels[N_TOOLS] = { "`ddlp-lock DEV true`",
		                               "`ddlp-lock --no-reprobe DEV true`",
		                               "`flock DEV true`", "`udevadm lock --device=DEV true`",
		                               "`ddlp-lock --version` (no lock)",
		                               "`flock --version` (no lock)" };
	static const char *keys[N_TOOLS] = { "ddlp", "ddlp_norep", "flock", "udevadm", "ddlp_ver",
		                             "flock_ver" };
	char devopt[PATH_MAX + 16];
	char *argv[N_TOOLS][6] = {
		{ (char *)opt.ddlp_lock, tg.block, "true", NULL },
		{ (char *)opt.ddlp_lock, "--no-reprobe", tg.block, "true", NULL },
		{ "flock", tg.block, "true", NULL },
		{ "udevadm", "lock", devopt, "true", NULL },
		{ (char *)opt.ddlp_lock, "--version", NULL },
		{ "flock", "--version", NULL },
	};
	bool have[N_TOOLS];
	int64_t *v[N_TOOLS] = { NULL };
	struct stats s[N_TOOLS];
	int n = opt.tool_runs;

	snprintf(devopt, sizeof(devopt), "--device=%s", tg.block);
	have[T_DDLP] = have[T_DDLP_NR] = have[T_DDLP_VER] =
		opt.ddlp_lock && access(opt.ddlp_lock, X_OK) == 0;
	have[T_FLOCK] = have[T_FLOCK_VER] = in_path("flock");
	have[T_UDEVADM] = in_path("udevadm");
	progress("7: the tool, %d runs of each", n);
	for (int k = 0; k < N_TOOLS; k++) {
		v[k] = calloc((size_t)n, sizeof(int64_t));
		if (!v[k]) {
			fail("out of memory");
			goto out;
		}
	}
	settle();
	for (int i = 0; i < n; i++)
		for (int j = 0; j < N_TOOLS; j++) {
			int k = (i + j) % N_TOOLS;

			if (!have[k])
				continue;
			v[k][i] = time_run(argv[k], labels[k]);
			if (v[k][i] < 0)
				have[k] = false;
			if (k == T_DDLP)
				settle(); /* udev's re-probe: not on the next tool's time */
		}
	for (int k = 0; k < N_TOOLS; k++) {
		char key[64], what[160];

		if (!have[k]) {
			row("7", labels[k], NULL, NULL, "n/a");
			continue;
		}
		s[k] = stats_of(v[k], (size_t)n);
		snprintf(what, sizeof(what), "%s, whole process (median / p90)", labels[k]);
		row("7", what, NULL, NULL, "%.2f / %.2f ms", ms(s[k].p50), ms(s[k].p90));
		snprintf(key, sizeof(key), "tool_%s_p50_ms", keys[k]);
		kv(key, "%.2f", ms(s[k].p50));
	}
	if (have[T_DDLP] && have[T_FLOCK]) {
		double r1 = (double)s[T_DDLP].p50 / (double)s[T_FLOCK].p50;
		double r2 = (double)s[T_DDLP_NR].p50 / (double)s[T_FLOCK].p50;

		row("7", "`ddlp-lock DEV true` / `flock DEV true` (medians; --no-reprobe)", "<= 1.3x",
		    verdict(r1 <= 1.3), "%.2fx; %.2fx", r1, r2);
		kv("tool_ratio", "%.2f", r1);
		kv("tool_ratio_norep", "%.2f", r2);
	}
	if (have[T_DDLP_VER] && have[T_FLOCK_VER]) {
		double r3 = (double)s[T_DDLP_VER].p50 / (double)s[T_FLOCK_VER].p50;

		row("7", "process start alone: `ddlp-lock --version` / `flock --version`; the lock's "
		         "share: (ddlp-lock DEV true - ddlp-lock --version) / (flock DEV true - flock "
		         "--version)",
		    NULL, NULL, "%.2fx; %.2fx", r3,
		    (double)(s[T_DDLP].p50 - s[T_DDLP_VER].p50) /
		        (double)(s[T_FLOCK].p50 - s[T_FLOCK_VER].p50));
		kv("tool_start_ratio", "%.2f", r3);
	}
	if (have[T_DDLP] && have[T_UDEVADM])
		kv("tool_ratio_udevadm", "%.2f",
		   (double)s[T_DDLP].p50 / (double)s[T_UDEVADM].p50);
#ifdef HAVE_SYSCALL_COUNTER
	{
		char line[400] = "";
		size_t len = 0;

		for (int k = 0; k < N_TOOLS; k++) {
			long c = have[k] ? count_process(argv[k]) : -1;
			char key[64];

			if (k == T_DDLP)
				settle();
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %ld",
			                        k ? "; " : "", labels[k], c);
			snprintf(key, sizeof(key), "sys_tool_%s", keys[k]);
			kv(key, "%ld", c);
		}
		row("7", "system calls of the whole process (execve to exit, without `true`)", NULL,
		    NULL, "%s", line);
	}
#endif
	detail("- the tool is timed as posix_spawn() to waitpid(), stdout/stderr to /dev/null, "
	       "%d runs each, interleaved; ddlp-lock is the built binary (%s), not libtool's "
	       "wrapper script; after each default `ddlp-lock DEV true` (which asks udev to "
	       "re-probe) `udevadm settle` runs, untimed",
	       n, opt.ddlp_lock ? opt.ddlp_lock : "none");
out:
	for (int k = 0; k < N_TOOLS; k++)
		free(v[k]);
}
