/*
 * ddlp-guard's preload (libddlp-guard.so): declarations shared by its
 * files.  The preload puts every open of an optical drive's node by the
 * program it is loaded into under the DDLP protocol; doc/guard.txt states
 * the rules, ddlp-guard(1) the use.
 *
 * Files:
 *   real.c      the next definitions (libc's) of the interposed functions,
 *               and the per-thread "inside the guard" depth
 *   config.c    settings from the environment, messages on stderr, the
 *               constructor and the destructor
 *   report.c    how a refused open is told
 *   classify.c  which paths may be a device, which devices are guarded
 *   hold.c      the process's holds: one DDLP lock per drive, the program's
 *               descriptors of that drive, release with the last one
 *   fdtrack.c   what each descriptor number is (program's drive fd, the
 *               guard's own), for the fast paths
 *   state.c     the holds written down for the next image (exec) and for
 *               fork children
 *   open.c      the open family and fopen: lock first, then the program's
 *               own open adjusted per driver
 *   fdops.c     close, dup, fcntl, flock, lockf, ioctl, close_range ...
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef DDLP_GUARD_H
#define DDLP_GUARD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ddlp-private.h"

#define GUARD_EXPORT __attribute__((visibility("default")))

/* ---- the next definitions of the interposed functions (real.c) ---- */
struct guard_real {
	int (*open)(const char *, int, ...);
	int (*open64)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*openat64)(int, const char *, int, ...);
	int (*open_2)(const char *, int);
	int (*open64_2)(const char *, int);
	int (*openat_2)(int, const char *, int);
	int (*openat64_2)(int, const char *, int);
	int (*creat)(const char *, mode_t);
	int (*creat64)(const char *, mode_t);
	FILE *(*fopen)(const char *, const char *);
	FILE *(*fopen64)(const char *, const char *);
	FILE *(*freopen)(const char *, const char *, FILE *);
	FILE *(*freopen64)(const char *, const char *, FILE *);
	FILE *(*fdopen)(int, const char *);
	int (*fclose)(FILE *);
	int (*close)(int);
	int (*close_range)(unsigned, unsigned, int);
	void (*closefrom)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*flock)(int, int);
	int (*lockf)(int, int, off_t);
	int (*lockf64)(int, int, off_t);
	int (*ioctl)(int, unsigned long, ...);
	int (*chdir)(const char *);
	int (*fchdir)(int);
};
extern struct guard_real guard_real;
/* Look the next definitions up (once; safe to call from every wrapper). */
void guard_real_init(void);

/* Depth of the guard's own work on this thread: opens and closes made by
 * libddlp inside the guard (and by the guard itself) go straight through. */
extern __thread int guard_depth __attribute__((tls_model("initial-exec")));
static inline void guard_enter(void) { guard_depth++; }
static inline void guard_leave(void) { guard_depth--; }
/* Set while libddlp takes a lock for the guard: the descriptors it opens
 * are moved at or above guard_cfg.fd_base, out of the numbers programs and
 * shells choose themselves (exec 3</dev/sr0). */
extern __thread int guard_relocate __attribute__((tls_model("initial-exec")));

/* The real open/close/fcntl for the guard's own use (no bookkeeping). */
int guard_sys_open(const char *path, int flags, mode_t mode);
int guard_sys_close(int fd);
int guard_sys_fcntl(int fd, int cmd, long arg);

/* ---- settings and messages (config.c) ---- */
struct guard_config {
	int timeout_ms;          /* 0: fail at once, > 0 wait, < 0 no limit */
	bool quiet;              /* no message when an open is refused */
	bool verbose;            /* say what is locked and released */
	bool reprobe;            /* ask udev to re-probe after exclusive */
	bool all_paths;          /* fstat every open outside /dev (classify.c) */
	int state_fd;            /* DDLP_GUARD_STATE_FD, or -1 */
	int fd_base;             /* the guard's own fds are moved at or above */
	size_t n_extra;          /* devices guarded besides optical drives */
	struct { mode_t type; dev_t rdev; } extra[16];
};
extern struct guard_config guard_cfg;
/* One line on stderr: "ddlp-guard: PROG[PID]: MESSAGE". */
void guard_say(const char *fmt, ...) DDLP_PRINTF(1, 2);
void guard_init(void);
/* True once guard_init() has run (the wrappers do nothing before). */
extern int guard_ready;
/* The process the table belongs to (a vfork child shares our memory but
 * not our descriptor table: it must not touch the table). */
extern pid_t guard_pid;
/* Whether a wrapper should look at this call at all. */
static inline bool guard_on(void)
{
	return __atomic_load_n(&guard_ready, __ATOMIC_ACQUIRE) && !guard_depth;
}

/* ---- refusals (report.c) ---- */
/* "NODE held by NAME (pid PID)" from the thread's last conflict. */
void guard_describe_conflict(char *buf, size_t size);
/* Say why a lock for spec failed (r: -EBUSY, -ETIMEDOUT, another errno),
 * unless -q. */
void guard_report_refusal(const char *spec, int r, int64_t waited_ms);

/* ---- classification (classify.c) ---- */
/* Whether an open of (dirfd, path) is looked at before the real open
 * (one stat): the lookup starts in /dev (an absolute path below /dev, or
 * a relative one from a directory on /dev's file system). */
bool guard_path_in_dev(int dirfd, const char *path);
/* Whether an open outside /dev with these flags is fstat'ed afterwards
 * (the late catch of a drive reached through a symlink or alias). */
bool guard_flags_look_at(int flags);
/* Whether a device node of this type and number belongs to a guarded
 * drive (an optical drive's sr, sg or bsg node, or an extra device). */
bool guard_rdev_guarded(mode_t type, dev_t rdev);
/* Remember the current directory's file system (at start, after chdir). */
void guard_cwd_changed(void);

/* ---- descriptors (fdtrack.c) ---- */
enum guard_fdkind { GUARD_FD_NONE = 0, GUARD_FD_PROGRAM = 1, GUARD_FD_OWN = 2 };
/* Any program descriptor of a drive or guard descriptor at all?  (The fast
 * paths return at once when not.) */
bool guard_fd_any(void);
enum guard_fdkind guard_fd_kind(int fd);
void guard_fd_set(int fd, enum guard_fdkind kind);

/* ---- holds (hold.c) ---- */
struct guard_lk {
	int fd;
	enum ddlp_node_kind kind;
	bool alias;
	mode_t type;
	dev_t rdev;
	dev_t ino_dev;
	ino_t ino;
};

/* What a hold keeps of its drive (copied out of libddlp's drive, which a
 * lock owns and frees with it). */
struct guard_drive {
	char *spec;                /* as the program named it */
	char *id;                  /* "scsi:H:C:T:L" ... */
	char *block_syspath;       /* for the re-probe, or NULL */
	size_t n_nodes;
	struct {
		mode_t type;
		dev_t devnum;
	} nodes[DDLP_MAX_NODES];
};
struct guard_drive *guard_drive_copy(const struct ddlp_drive *d);
void guard_drive_free(struct guard_drive *d);

struct guard_hold {
	struct guard_hold *next;
	struct guard_drive *drive; /* owned */
	struct ddlp_lock *lock;    /* NULL when adopted from a former image */
	enum ddlp_mode mode;
	pid_t owner;               /* the process that took the lock */
	size_t n_lk;
	struct guard_lk lk[DDLP_MAX_NODES]; /* the guard's descriptors, lock order */
	int *fds;                  /* the program's descriptors of the drive */
	size_t n_fds, cap_fds;
	unsigned pending;          /* opens between lock and record */
	bool inheritable;          /* the lk fds survive exec */
	bool posix;                /* POSIX-lock backend: re-take after closes */
	bool reassert;             /* a close may have dropped the POSIX locks */
};

/* The table's mutex: held for short work only (never while waiting for a
 * drive).  Lock order: the acquisition mutex (hold.c), then this one, then
 * libddlp's own.  Signals are blocked while it is held, so that a handler
 * that closes a descriptor cannot deadlock on it. */
void guard_tab_lock(void);
void guard_tab_unlock(void);
extern struct guard_hold *guard_holds;
/* Whether the process holds any drive (lock-free). */
bool guard_holding(void);

/* Get a hold of the drive spec names in at least mode for an open (wait
 * as configured): 0 and *out with its pending count raised, or a negative
 * errno (-EBUSY when busy, after the refusal was reported; -ENODEV when
 * libddlp cannot name a drive there). */
int guard_hold_get(const char *spec, enum ddlp_mode mode, struct guard_hold **out);
/* The open made under the hold: fd >= 0 is recorded as the program's,
 * fd < 0 only drops the pending count.  The hold is released when nothing
 * is left of it. */
void guard_hold_done(struct guard_hold *h, int fd);
/* The hold's descriptor of the canonical sg node, or -1. */
int guard_hold_sg_fd(const struct guard_hold *h);
/* Under the table lock: the hold of a program descriptor, or NULL. */
struct guard_hold *guard_hold_of_fd(int fd);
/* Under the table lock: fd was closed (or replaced) by the program. */
void guard_hold_fd_gone(int fd);
/* Under the table lock: newfd is a copy of oldfd (both the program's). */
void guard_hold_fd_copied(int oldfd, int newfd);
/* Under the table lock: release every hold that has no descriptor and no
 * pending open left; re-take POSIX locks after a close (POSIX backend). */
void guard_hold_settle(void);
/* Under the table lock: a program fd's close-on-exec flag may have changed. */
void guard_hold_cloexec_changed(int fd);
/* Whether h holds at least mode; converting shared to exclusive (OFD
 * backend) when not.  Under the table lock.  0 or -EBUSY. */
int guard_hold_cover(struct guard_hold *h, enum ddlp_mode mode);
/* Adopt a hold handed down by the former image (state.c): takes over
 * drive and the lk fds.  Under the table lock. */
struct guard_hold *guard_hold_adopt(struct guard_drive *drive, enum ddlp_mode mode, pid_t owner,
                                    const struct guard_lk *lk, size_t n_lk);
/* Under the table lock: record fd as the program's descriptor of h. */
void guard_hold_add_fd(struct guard_hold *h, int fd);
/* Under the table lock: set the lk fds' close-on-exec from the program's. */
void guard_hold_update_inheritable(struct guard_hold *h);
/* Under the table lock: take the POSIX locks of h again (POSIX backend). */
void guard_hold_reassert(struct guard_hold *h);
/* Release every hold (at exit). */
void guard_hold_release_all(void);
/* fork(): handlers. */
void guard_hold_atfork_register(void);

/* ---- the state for the next image (state.c) ---- */
/* Write the table to the state file (under the table lock). */
void guard_state_write(void);
/* At start: adopt what the former image (or the spawning parent) held. */
void guard_state_load(void);
/* In a fork child: the state file is the parent's; write our own. */
void guard_state_forked(void);

/* ---- the open family (open.c) ---- */
/* Which interposed function an open came through (the adjusted open is
 * made through the same one). */
enum guard_entry {
	GUARD_OPEN, GUARD_OPEN64, GUARD_OPENAT, GUARD_OPENAT64,
	GUARD_OPEN_2, GUARD_OPEN64_2, GUARD_OPENAT_2, GUARD_OPENAT64_2,
	GUARD_CREAT, GUARD_CREAT64
};
/* An open of a guarded drive's node: lock, then the program's own open
 * adjusted per driver.  The fd, or -1 with errno. */
int guard_drive_open(enum guard_entry e, int dirfd, const char *path, int flags, mode_t mode,
                     const struct stat *st);
/* Whether (type, rdev) of an open is to be guarded, for a caller at ret. */
bool guard_wants(const struct stat *st, const void *ret);
/* After an unguarded descriptor of a drive was closed (a late catch):
 * the POSIX backend's locks of this process on it are gone. */
void guard_after_stray_close(void);

#endif
