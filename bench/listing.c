/*
 * Section 10, the listings: whole-process time (posix_spawn() to
 * waitpid(), --tool-runs runs each, interleaved) and system calls
 * (count-syscalls.c, execve to exit) of `ddlp-lock --list`, `ddlp-lock
 * --status DEV`, `ddlp-lock --list --output ID,NODES` (the enumeration
 * alone: no state, no scan of /proc), `lslocks` and `lsblk`, first on the
 * machine as it is, then with --listing-extra (300; --short 50) more
 * processes that hold LISTING_FDS files open each (so that the one scan of /proc that
 * --list and --status make has that much more to look at).  The number
 * of drives is the machine's (bench/run-vm.sh: 1 and 64).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* The files each extra process holds open. */
#define LISTING_FDS 16

enum { L_LIST, L_STATUS, L_ENUM, L_LSLOCKS, L_LSBLK, N_LISTINGS };

static const char *labels[N_LISTINGS] = { "`ddlp-lock --list`", "`ddlp-lock --status DEV`",
	                                  "`ddlp-lock --list --output ID,NODES` (no state, no "
	                                  "/proc scan)",
	                                  "`lslocks`", "`lsblk`" };
static const char *keys[N_LISTINGS] = { "list", "status", "enum", "lslocks", "lsblk" };

static int count_processes(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] >= '1' && de->d_name[0] <= '9';
	closedir(d);
	return n;
}

/* n processes that each hold LISTING_FDS files open until killed. */
static int start_extra(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return -errno;
		if (pids[i] == 0) {
			for (int k = 0; k < LISTING_FDS; k++)
				if (open("/dev/null", O_RDONLY) < 0)
					break;
			for (;;)
				pause();
		}
	}
	return 0;
}

static void stop_extra(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
}

/* One condition: every listing, timed and counted. */
static void measure(char *argv[N_LISTINGS][6], bool have[N_LISTINGS], const char *cond,
                    const char *kcond)
{
	int64_t *v[N_LISTINGS] = { NULL };
	int n = opt.tool_runs;

	for (int k = 0; k < N_LISTINGS; k++) {
		v[k] = calloc((size_t)n, sizeof(int64_t));
		if (!v[k]) {
			fail("out of memory");
			goto out;
		}
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < N_LISTINGS; j++) {
			int k = (i + j) % N_LISTINGS;

			if (!have[k])
				continue;
			v[k][i] = time_run(argv[k], labels[k]);
			if (v[k][i] < 0)
				have[k] = false;
		}
	for (int k = 0; k < N_LISTINGS; k++) {
		char key[64], what[240], sys[64] = "";
		struct stats s;
		long c = -1;

		if (!have[k]) {
			snprintf(what, sizeof(what), "%s, %s", labels[k], cond);
			row("10", what, NULL, NULL, "n/a");
			continue;
		}
		s = stats_of(v[k], (size_t)n);
#ifdef HAVE_SYSCALL_COUNTER
		c = count_process(argv[k]);
		snprintf(sys, sizeof(sys), "; %ld system calls", c);
		snprintf(key, sizeof(key), "sys_listing_%s_%s", keys[k], kcond);
		kv(key, "%ld", c);
#endif
		(void)c;
		snprintf(what, sizeof(what), "%s, %s: whole process (median / p90)", labels[k], cond);
		row("10", what, NULL, NULL, "%.2f / %.2f ms%s", ms(s.p50), ms(s.p90), sys);
		snprintf(key, sizeof(key), "listing_%s_%s_p50_ms", keys[k], kcond);
		kv(key, "%.2f", ms(s.p50));
	}
out:
	for (int k = 0; k < N_LISTINGS; k++)
		free(v[k]);
}

void section_listing(void)
{
	char *argv[N_LISTINGS][6] = {
		{ (char *)opt.ddlp_lock, "--list", NULL },
		{ (char *)opt.ddlp_lock, "--status", tg.block, NULL },
		{ (char *)opt.ddlp_lock, "--list", "--output", "ID,NODES", NULL },
		{ "lslocks", NULL },
		{ "lsblk", NULL },
	};
	bool have[N_LISTINGS];
	pid_t *extra;
	char cond[128];
	int procs;

	have[L_LIST] = have[L_STATUS] = have[L_ENUM] = opt.ddlp_lock && access(opt.ddlp_lock, X_OK) == 0;
	have[L_LSLOCKS] = in_path("lslocks");
	have[L_LSBLK] = in_path("lsblk");
	progress("10: the listings, %d runs of each, with and without %d more processes", opt.tool_runs,
	         opt.listing_extra);
	procs = count_processes();
	snprintf(cond, sizeof(cond), "%u drive%s, %d processes", tg.n_sr, tg.n_sr == 1 ? "" : "s",
	         procs);
	measure(argv, have, cond, "idle");
	kv("listing_procs_idle", "%d", procs);

	if (opt.listing_extra < 1)
		return;
	extra = calloc((size_t)opt.listing_extra, sizeof(*extra));
	if (!extra) {
		fail("out of memory");
		return;
	}
	if (start_extra(extra, opt.listing_extra) < 0) {
		fail("cannot start the extra processes: %s", strerror(errno));
	} else {
		procs = count_processes();
		snprintf(cond, sizeof(cond), "%u drive%s, %d processes (%d holding %d files each)",
		         tg.n_sr, tg.n_sr == 1 ? "" : "s", procs, opt.listing_extra, LISTING_FDS);
		measure(argv, have, cond, "busy");
		kv("listing_procs_busy", "%d", procs);
	}
	stop_extra(extra, opt.listing_extra);
	free(extra);
	detail("- section 10: each listing is timed as posix_spawn() to waitpid(), stdout/stderr to "
	       "/dev/null, %d runs each, interleaved; system calls execve to exit; ddlp-lock is the "
	       "built binary (%s); the extra processes are fork()ed copies of ddlp-bench, each with "
	       "%d more descriptors (on /dev/null), asleep in pause()",
	       opt.tool_runs, opt.ddlp_lock ? opt.ddlp_lock : "none", LISTING_FDS);
}
