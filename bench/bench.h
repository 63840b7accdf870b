/*
 * bench.h: what the parts of ddlp-bench share (see bench/README.md for
 * what each section measures and how).
 *
 * The harness (harness.c: options, the entry table of sections, main;
 * output.c: the table, the details and the key=value figures; util.c:
 * clocks, statistics, files and child processes), the target drive and the
 * operations measured on it (drive.c), the counters (count-syscalls.c:
 * system calls by ptrace; count-scsi.c: SCSI commands by tracefs;
 * count-cpu.c: CPU time) and one file per section.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef DDLP_BENCH_H
#define DDLP_BENCH_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>

#include <ddlp.h>

#if defined(__x86_64__)
#define HAVE_SYSCALL_COUNTER 1
#endif

#define MAX_NODES 8
#define MAX_FORMS 10

/* ------------------------------------------------------------------ *
 * Options (harness.c)
 * ------------------------------------------------------------------ */

struct options {
	const char *drive;
	int rounds;
	int res_rounds;
	int intrusive_reps;
	int handoffs;
	int cli_handoffs;
	int wait_ms;
	int contention_ms;
	int hold_us;
	int tool_runs;
	int waiter_ms;
	int writer_rounds;
	int writer_hold_ms;
	int writer_ms;
	int listing_extra;
	const char *ddlp_lock;
	const char *guard;         /* the ddlp-guard binary (section 10) */
	const char *guard_preload; /* its library, when not the installed one */
	const char *md_path;
	const char *kv_path;
	const char *title;
	unsigned sections;
};

extern struct options opt;

/* ------------------------------------------------------------------ *
 * Output (output.c): progress and failures on stderr; the table rows,
 * the details under the table and the key=value figures for run-vm.sh
 * ------------------------------------------------------------------ */

extern int failures;

void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The benchmark itself broke: counted, and the exit status becomes 1. */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void row(const char *item, const char *what, const char *target, const char *verdict,
         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *verdict(bool met);
void detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void section_time(const char *name, double secs);
int kv_open(const char *path);
void kv_close(void);
void kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void print_table(FILE *f, const char *kernel, const char *date, const char *load0,
                 const char *load1, double secs, double cal_start, double cal_end);

/* ------------------------------------------------------------------ *
 * Clocks, statistics, files, processes (util.c)
 * ------------------------------------------------------------------ */

int64_t now_ns(void);
void sleep_us(long us);
double ms(int64_t ns);

struct stats {
	size_t n;
	int64_t p50, p90, p99, min, max;
};

/* Nearest-rank percentiles; sorts v. */
struct stats stats_of(int64_t *v, size_t n);

ssize_t read_file(const char *path, char *buf, size_t size);
int write_file(const char *path, const char *text);
char *xstrdup(const char *s);

pid_t spawn(char *const argv[], bool quiet);
/* Run argv once, quietly, and wait: its wall time (ns), or -1 when it
 * could not run or did not exit 0 (said through fail(), naming label). */
int64_t time_run(char *const argv[], const char *label);
bool in_path(const char *prog);
void settle(void);
/* Is pid asleep in poll(2)?  1 yes, 0 no, -1 it is gone. */
int in_poll(pid_t pid);
int wait_in_poll(pid_t pid, int timeout_ms);
pid_t spawn_ex(char *const argv[], char *const env[], int in_fd, int out_fd, bool quiet,
               bool pgroup);
int wait_child(pid_t pid, int timeout_ms, int *status, struct rusage *ru);
bool node_locked(const char *path, const char *kind);

/* ------------------------------------------------------------------ *
 * The target drive and the operations measured on it (drive.c)
 * ------------------------------------------------------------------ */

struct tnode {
	char path[PATH_MAX];
	enum ddlp_node_kind kind;
	enum ddlp_excl excl;
	unsigned flags;
	dev_t devnum;
};

struct target {
	char spec[PATH_MAX];
	char id[128];
	bool scsi;
	unsigned h, c, t;
	unsigned long long l;
	size_t n;
	struct tnode node[MAX_NODES];
	char block[PATH_MAX]; /* the block node */
	char model[64];
	int delay;            /* scsi_debug delay in jiffies, -1 unknown */
	int ndelay;
	unsigned n_sr;        /* sr drives present */
};

extern struct target tg;

int pick_default_drive(char *out, size_t size);
int target_init(const char *spec);
bool is_sibling(const char *path);
/* delay=0 (and ndelay=0): what remains is software cost */
bool zero_delay(void);

int lib_lock(const char *spec, struct ddlp_lock **l);
int lib_lock_unlock(const char *spec);
int floor_lock(int fds[]);
void floor_unlock(const int fds[]);
int floor_lock_unlock(void);
extern long floor_busy;

/* The alias forms of the target (block, sg, bsg node, H:C:T:L, ...). */
struct form {
	char key[16];
	char label[48];
	char spec[PATH_MAX];
};

extern struct form forms[MAX_FORMS];
extern size_t n_forms;

void forms_init(void);
void forms_cleanup(void);
/* Resolve spec and free the result; -EXDEV if it is not the target. */
int resolve_free(const char *spec);

/* ------------------------------------------------------------------ *
 * Counters
 * ------------------------------------------------------------------ */

/* System calls (count-syscalls.c, a ptrace counter, x86_64 only) */
#define NSYS 512
#define MAX_PATHS 400

struct sc_count {
	long total;
	long per_nr[NSYS];
	long dev_opens;        /* opens of /dev nodes */
	long foreign_opens;    /* ... that are not the target's siblings */
	char *foreign[16];
	size_t n_foreign;
	char *paths[MAX_PATHS]; /* "syscall path", in order */
	size_t n_paths;
};

void sc_free(struct sc_count *c);
#ifdef HAVE_SYSCALL_COUNTER
int sc_follow(pid_t pid, bool markers, struct sc_count *c, int nc, int *status_out);
void mark(void);
void top_syscalls(const struct sc_count *c, char *out, size_t size);
long count_process(char *const argv[]);
#endif

/* SCSI commands per drive (count-scsi.c, tracefs) */
struct cmdcount {
	long target, others;
	char other_addrs[256];
	struct {
		char name[40];
		long n;
	} op[16];
	size_t n_op;
};

bool tracefs_init(void);
int trace_write(const char *file, const char *text);
int trace_clear(void);
int trace_event_on(void);
void trace_event_off(void);
int trace_collect(struct cmdcount *cc);
void ops_string(const struct cmdcount *cc, long reps, char *out, size_t size);
void polling_off(void);
void polling_restore(void);

/* CPU time (count-cpu.c) */
double rusage_ms(const struct rusage *r);
int64_t cpu_ns(pid_t pid);

/* ------------------------------------------------------------------ *
 * Other processes on the drive: holders and waiters (agents.c)
 * ------------------------------------------------------------------ */

enum holder_kind {
	HOLD_DDLP_X,       /* ddlp_lock() exclusive, OFD backend */
	HOLD_DDLP_X_POSIX, /* ... DDLP_LOCK_BACKEND=posix */
	HOLD_DDLP_S,       /* ddlp_lock() shared, OFD backend */
	HOLD_DDLP_S_POSIX,
	HOLD_FLOCK,        /* flock DEV sleep */
	HOLD_UDEVADM,      /* udevadm lock --device=DEV sleep */
	HOLD_EXCL_SR,      /* only O_EXCL on the block node (xorriso) */
	HOLD_EXCL_SG,      /* only O_EXCL on the sg node (wodim dev=/dev/sgN) */
	N_HOLDERS
};

struct holder {
	enum holder_kind kind;
	pid_t pid;
	int ctl;     /* closing it tells the holder to let go; -1 none */
	bool pgroup; /* a process group of its own, ended by a signal */
};

enum waiter_kind {
	WAIT_TOOL_NS, /* ddlp-lock -n -s --no-reprobe DEV true: one refused try */
	WAIT_TOOL_NX, /* ddlp-lock -n -x --no-reprobe DEV true */
	WAIT_LIB_S,   /* ddlp_lock(DDLP_SHARED, timeout) */
	WAIT_LIB_X,   /* ddlp_lock(DDLP_EXCLUSIVE, timeout) */
	WAIT_TOOL_S,  /* ddlp-lock -s -w T --no-reprobe DEV true */
	WAIT_TOOL_X,  /* ddlp-lock -x -w T --no-reprobe DEV true */
	N_WAITERS
};

struct wait_result {
	int outcome;    /* 0 taken, 1 timed out or refused, < 0 the waiter failed */
	int status;     /* ddlp_lock()'s result (library), the wait status (tool) */
	double wall_ms; /* from its start to its end, as this process saw it */
	double call_ms; /* the ddlp_lock() call (library); wall_ms (tool) */
	double cpu_ms;  /* getrusage around the call (library); wait4 (tool) */
	double wait_pct; /* CPU share while it waits (schedstat, between its
	                  * first and last sleep in poll(2) seen); -1 when that
	                  * is under 50 ms, -2 when it never slept in poll(2) */
};

const char *holder_label(enum holder_kind k);
const char *waiter_label(enum waiter_kind k);
bool waiter_is_tool(enum waiter_kind k);
bool waiter_waits(enum waiter_kind k); /* false: a refused try (-n) */
bool holder_posix(enum holder_kind k);
/* 0 once the holder holds the drive; -ENOENT when its program or node is
 * not here; another negative errno when it could not take the drive. */
int holder_start(struct holder *h, enum holder_kind kind);
void holder_stop(struct holder *h);
/* Runs one waiter to its end (DDLP_LOCK_BACKEND=posix when posix); 0 and
 * *out, or a negative errno when it could not be run. */
int waiter_run(enum waiter_kind k, bool posix, int timeout_ms, struct wait_result *out);
/* ddlp-bench --agent ...: the DDLP holder and the library waiter */
int agent_main(int argc, char **argv);

/* ------------------------------------------------------------------ *
 * The sections, in the order of the entry table in harness.c, and the
 * figures one section leaves for a later one
 * ------------------------------------------------------------------ */

void section_lock(void);       /* lock.c */
void section_resolve(void);    /* resolve.c */
void section_syscalls(void);   /* syscalls.c */
void section_intrusive(void);  /* intrusive.c */
void section_handoff(void);    /* handoff.c */
void section_cpu(void);        /* handoff.c */
void section_contention(void); /* contention.c */
void section_tool(void);       /* tool.c */
void section_waiters(void);    /* waiters.c */
void section_writer(void);     /* writer.c */
void section_listing(void);    /* listing.c */
void section_guard(void);      /* guard.c */
/* ddlp-bench --agent opens ...: section 10's timed opens (guard.c) */
int guard_agent_main(int argc, char **argv);

extern struct stats lock_stats;  /* section 1, back to back */
extern int64_t isolated_lib_p50; /* section 1, one lock+unlock of an idle drive */
extern int64_t handoff_lib_p50;  /* section 5, hand-off to a library waiter */

#endif
