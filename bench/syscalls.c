/*
 * Section 3, system calls, and the device-node row of section 4.
 *
 * A traced child (count-syscalls.c) runs a lock+unlock, a floor round and
 * one resolution per alias form, each once untraced (warm) and once
 * between two marker calls; every system call entry between the markers
 * is counted.  Deterministic: the same count on every run and machine
 * with the same kernel, libc and libudev.  Also the calls by kind, the
 * paths they name, and the /dev nodes that one lock+unlock opens other
 * than the target's siblings (section 4's "foreign opens").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#ifdef HAVE_SYSCALL_COUNTER
static long sc_lock = -1, sc_floor = -1, sc_res_block = -1;
#endif

/* The traced child runs: a lock+unlock, a floor round and one resolution
 * per form, each once untraced (warm) and once between markers. */
void section_syscalls(void)
{
#ifdef HAVE_SYSCALL_COUNTER
	enum { OP_LOCK, OP_FLOOR, OP_RES0 };
	int nops = OP_RES0 + (int)n_forms, status = 0, marks;
	struct sc_count *c = calloc((size_t)nops, sizeof(*c));
	char top[600], key[64];
	pid_t pid;

	progress("3: system calls (ptrace counter)");
	if (!c) {
		fail("out of memory");
		return;
	}
	pid = fork();
	if (pid < 0) {
		fail("fork: %s", strerror(errno));
		free(c);
		return;
	}
	if (pid == 0) {
		int bad = 0;

		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(3);
		raise(SIGSTOP);
		bad |= lib_lock_unlock(tg.spec) < 0;
		mark();
		bad |= lib_lock_unlock(tg.spec) < 0;
		mark();
		bad |= floor_lock_unlock() < 0;
		mark();
		bad |= floor_lock_unlock() < 0;
		mark();
		for (size_t f = 0; f < n_forms; f++) {
			bad |= resolve_free(forms[f].spec) < 0;
			mark();
			bad |= resolve_free(forms[f].spec) < 0;
			mark();
		}
		_exit(bad ? 1 : 0);
	}
	marks = sc_follow(pid, true, c, nops, &status);
	if (marks < 0) {
		row("3", "system calls", NULL, NULL, "n/a (ptrace refused: %s)", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || marks != 2 * nops) {
		fail("the traced child failed (status 0x%x, %d markers)", status, marks);
		goto out;
	}
	sc_lock = c[OP_LOCK].total;
	sc_floor = c[OP_FLOOR].total;
	row("3", "system calls per exclusive lock+unlock (resolution included)", "<= 150",
	    verdict(sc_lock <= 150), "%ld", sc_lock);
	row("3", "system calls per floor lock+unlock", NULL, NULL, "%ld", sc_floor);
	for (int f = 0; f < (int)n_forms; f++) {
		char what[160];

		snprintf(what, sizeof(what), "system calls per resolution, %s", forms[f].label);
		row("3", what, NULL, NULL, "%ld", c[OP_RES0 + f].total);
		snprintf(key, sizeof(key), "sys_res_%.15s", forms[f].key);
		kv(key, "%ld", c[OP_RES0 + f].total);
		if (strcmp(forms[f].key, "block") == 0)
			sc_res_block = c[OP_RES0 + f].total;
	}
	kv("sys_lock", "%ld", sc_lock);
	kv("sys_floor", "%ld", sc_floor);
	top_syscalls(&c[OP_LOCK], top, sizeof(top));
	detail("- system calls of one lock+unlock of `%s` by kind: %s", tg.spec, top);
	top_syscalls(&c[OP_FLOOR], top, sizeof(top));
	detail("- system calls of one floor round by kind: %s", top);
	if (n_forms) {
		top_syscalls(&c[OP_RES0], top, sizeof(top));
		detail("- system calls of one resolution of `%s` by kind: %s", forms[0].spec, top);
	}
	detail("- paths named by the system calls of one lock+unlock, in order:");
	detail("%s", "");
	detail("  ```");
	for (size_t i = 0; i < c[OP_LOCK].n_paths; i++)
		detail("  %s", c[OP_LOCK].paths[i]);
	detail("  ```");
	detail("%s", "");

	/* 4. device nodes opened besides the siblings (the lock's strace) */
	{
		char list[600] = "";
		size_t len = 0;

		for (size_t i = 0; i < c[OP_LOCK].n_foreign && len < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, " %s",
			                        c[OP_LOCK].foreign[i]);
		row("4", "device nodes opened by one lock+unlock other than the siblings", "0",
		    verdict(c[OP_LOCK].foreign_opens == 0), "%ld (of %ld /dev opens)%s",
		    c[OP_LOCK].foreign_opens, c[OP_LOCK].dev_opens, list);
		kv("foreign_opens", "%ld", c[OP_LOCK].foreign_opens);
		kv("dev_opens", "%ld", c[OP_LOCK].dev_opens);
	}
out:
	for (int i = 0; i < nops; i++)
		sc_free(&c[i]);
	free(c);
#else
	row("3", "system calls", NULL, NULL, "n/a (the counter is for x86_64 only)");
#endif
}
