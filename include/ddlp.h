/*
 * libddlp - reliable locking of optical drives on Linux
 * (the Delicate Device Locking Protocol).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every function that can fail returns 0 (or a non-negative value) on
 * success and a negative errno on failure.  Objects are handed out through
 * an `**out` parameter and released with the matching free/unlock call.
 * The library prints nothing; diagnostics go through ddlp_set_log_fn().
 * See libddlp(3) and doc/ddlp.txt.
 */
#ifndef DDLP_H
#define DDLP_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- *
 * Logging (process-wide; nothing is printed unless a hook is set or
 * DDLP_LOG is set in the environment)
 * ---------------------------------------------------------------- */

/* Priorities use syslog's numbering: 3 error, 4 warning, 6 info, 7 debug. */
typedef void (*ddlp_log_fn)(void *userdata, int priority, const char *file,
                            int line, const char *fn, const char *format,
                            va_list args);

/* Install a log hook (NULL restores the default: silent, or stderr when
 * the environment variable DDLP_LOG is set). */
void ddlp_set_log_fn(ddlp_log_fn fn, void *userdata);
/* Messages with a priority above this value are dropped.  Default 3 (err). */
void ddlp_set_log_priority(int priority);
int ddlp_get_log_priority(void);

/* The library's version string, e.g. "0.1.0". */
const char *ddlp_version(void);

/* ---------------------------------------------------------------- *
 * Drive identity: resolution of a spec without opening any device
 * ---------------------------------------------------------------- */

/* What an exclusive holder takes on a node besides its fcntl lock. */
enum ddlp_node_kind {
	DDLP_NODE_BLOCK = 1, /* block device (sr, loop, sd...) */
	DDLP_NODE_SG = 2,    /* SCSI generic character device */
	DDLP_NODE_BSG = 3    /* block SCSI generic character device */
};

/* What O_EXCL means for the driver of a node. */
enum ddlp_excl {
	DDLP_EXCL_NONE = 0,  /* O_EXCL has no meaning (bsg) */
	DDLP_EXCL_CLAIM = 1, /* exclusive claim of the block device (sr) */
	DDLP_EXCL_OPEN = 2   /* exclusive open, refuses every other open (sg) */
};

/* Flags of a node (a bit set). */
enum ddlp_node_flags {
	DDLP_NODE_NAMED = 1u << 0, /* the node the caller's spec led to */
	DDLP_NODE_ALIAS = 1u << 1  /* an inode other than the canonical /dev node */
};

struct ddlp_drive;
struct ddlp_node;

/*
 * Resolve spec to a drive: a path to a device node (through any chain of
 * symlinks), "H:C:T:L" or "B,T,L".  No device node is opened.
 * flags: 0 (reserved).
 * Errors: -EINVAL (malformed spec or address), -ENOENT, -ELOOP, -EACCES,
 * -ENAMETOOLONG, -ENODEV (not a drive, or no device at that address),
 * -ENOMEM.
 */
int ddlp_drive_resolve(const char *spec, unsigned flags, struct ddlp_drive **out);
void ddlp_drive_free(struct ddlp_drive *drive);

/* The spec this drive was resolved from. */
const char *ddlp_drive_get_spec(const struct ddlp_drive *drive);
/* Canonical identity, the same for every spec of one drive:
 * "scsi:H:C:T:L" for a SCSI device, "block:NAME" for another block device. */
const char *ddlp_drive_get_id(const struct ddlp_drive *drive);
/* udev's persistent name (ID_SERIAL, else ID_WWN), or NULL. */
const char *ddlp_drive_get_persistent_name(const struct ddlp_drive *drive);
/* sysfs path of the device the identity names. */
const char *ddlp_drive_get_syspath(const struct ddlp_drive *drive);

/* The nodes, in the global lock order (doc/ddlp.txt, "Lock order"). */
size_t ddlp_drive_get_node_count(const struct ddlp_drive *drive);
const struct ddlp_node *ddlp_drive_get_node(const struct ddlp_drive *drive, size_t index);

const char *ddlp_node_get_path(const struct ddlp_node *node);
enum ddlp_node_kind ddlp_node_get_kind(const struct ddlp_node *node);
enum ddlp_excl ddlp_node_get_excl(const struct ddlp_node *node);
dev_t ddlp_node_get_devnum(const struct ddlp_node *node);
unsigned ddlp_node_get_flags(const struct ddlp_node *node);
/* "block", "sg", "bsg" */
const char *ddlp_node_kind_name(enum ddlp_node_kind kind);

/* ---------------------------------------------------------------- *
 * Locking
 * ---------------------------------------------------------------- */

enum ddlp_mode { DDLP_SHARED = 1, DDLP_EXCLUSIVE = 2 };

/* Flags of ddlp_lock() and friends (a bit set; 0 means the defaults). */
enum ddlp_lock_flags {
	/* Do not ask udev to re-probe the drive when an exclusive lock ends. */
	DDLP_LOCK_NO_REPROBE = 1u << 0,
	/* Let a child made by fork() keep the lock (hand it over).  By default
	 * the child's copies of the lock's fds are closed right after fork. */
	DDLP_LOCK_INHERIT = 1u << 1,
	/* Skip sibling nodes the caller may not open (EACCES) instead of
	 * failing.  Such a lock does not protect the skipped nodes. */
	DDLP_LOCK_PARTIAL = 1u << 2,
	/* A signal whose handler runs while the call waits ends the wait with
	 * -EINTR, nothing held or queued.  Without it signals are absorbed and
	 * the wait goes on to its deadline. */
	DDLP_LOCK_INTERRUPTIBLE = 1u << 3
};

struct ddlp_lock;

/*
 * Lock every node of the drive named by spec, in the global order, all or
 * nothing.  timeout_ms: 0 tries once, < 0 waits without limit, > 0 waits up
 * to that long.
 * Errors: those of ddlp_drive_resolve(), and -EBUSY (busy, timeout_ms 0),
 * -ETIMEDOUT (still busy when the time ran out), -EACCES, -EMFILE,
 * -EINVAL (bad mode or flags), -EINTR (only with DDLP_LOCK_INTERRUPTIBLE;
 * otherwise waits are restarted).
 * On -EBUSY and -ETIMEDOUT, ddlp_last_conflict() tells which node refused.
 */
int ddlp_lock(const char *spec, enum ddlp_mode mode, int timeout_ms,
              unsigned flags, struct ddlp_lock **out);

/* One drive of a multi-drive lock. */
struct ddlp_request {
	const char *spec;
	enum ddlp_mode mode;
};

/* Lock several drives in one call (copying a disc: the source shared, the
 * target exclusive), in the global order, all or nothing.  Naming one drive
 * twice is -EINVAL. */
int ddlp_lock_many(const struct ddlp_request *requests, size_t n,
                   int timeout_ms, unsigned flags, struct ddlp_lock **out);

/* Release everything (in the reverse of the global order) and free.  After
 * an exclusive lock, ask udev to re-probe the drive (unless
 * DDLP_LOCK_NO_REPROBE).  Returns 0; -EINVAL for NULL. */
int ddlp_unlock(struct ddlp_lock *lock);

/* A read-write fd (O_NONBLOCK cleared) on the node the caller named, owned
 * by the lock: do not close it.  For ddlp_lock_many(), the first drive's. */
int ddlp_lock_fd(const struct ddlp_lock *lock);
/* The same for drive i of ddlp_lock_many() (-EINVAL if out of range). */
int ddlp_lock_fd_at(const struct ddlp_lock *lock, size_t i);
/* Number of drives held, and the identity of drive i. */
size_t ddlp_lock_get_drive_count(const struct ddlp_lock *lock);
const struct ddlp_drive *ddlp_lock_get_drive(const struct ddlp_lock *lock, size_t i);
enum ddlp_mode ddlp_lock_get_mode(const struct ddlp_lock *lock, size_t i);

/*
 * Convert a held lock of drive i to another mode (OFD backend only;
 * -EOPNOTSUPP with the POSIX fallback).  fcntl lock changes are atomic;
 * O_EXCL needs a new open, and the sg node is briefly unlocked while it is
 * reopened (see libddlp(3)).  On -EBUSY before any descriptor was exchanged
 * the drive is still held in its old mode; a failure after that releases
 * the drive entirely (ddlp_lock_fd_at() then gives -EBADF; the handle must
 * still be unlocked).  The fd of ddlp_lock_fd() may change: ask again.
 * timeout_ms: reserved, pass 0 (the conversion is tried once).
 */
int ddlp_lock_convert(struct ddlp_lock *lock, size_t i, enum ddlp_mode mode,
                      int timeout_ms);

/*
 * Hand a held lock to the programs this process starts, on purpose (what
 * ddlp-lock(1) does for its command): with inheritable != 0 the lock's
 * descriptors lose close-on-exec and stay open in fork() children (as with
 * DDLP_LOCK_INHERIT), so the drive stays held until every copy is closed:
 * this process's (ddlp_unlock()) and those of every program that inherited
 * them.  0 restores the defaults.  In the POSIX-lock fallback only the
 * O_EXCL claims and the flock are shared with children (POSIX locks belong
 * to the process).  Returns 0, -EINVAL (NULL), -EBADF (a released lock).
 */
int ddlp_lock_set_inheritable(struct ddlp_lock *lock, int inheritable);

/* ---------------------------------------------------------------- *
 * Waiting that fits an event loop: a lock attempt
 * ---------------------------------------------------------------- */

struct ddlp_attempt;

/*
 * Start an attempt to lock the drive named by spec (flags as ddlp_lock()).
 * Nothing is tried yet, but a pending exclusive attempt already takes its
 * place in the drive's queue (doc/ddlp.txt), so shared requests wait
 * behind it from now until it is taken or freed.
 * Errors: those of ddlp_drive_resolve(), -EINVAL, -ENOMEM, -EMFILE.
 */
int ddlp_attempt_new(const char *spec, enum ddlp_mode mode, unsigned flags,
                     struct ddlp_attempt **out);
/* The same for several drives, all or nothing (see ddlp_lock_many()). */
int ddlp_attempt_new_many(const struct ddlp_request *requests, size_t n,
                          unsigned flags, struct ddlp_attempt **out);
/* A descriptor to poll() for POLLIN: readable when the drive may have
 * become free; then call ddlp_attempt_try().  Owned by the attempt. */
int ddlp_attempt_get_fd(const struct ddlp_attempt *a);
/* Try again after this many ms even without an event; -1: no need. */
int ddlp_attempt_get_timeout_ms(const struct ddlp_attempt *a);
/*
 * One non-blocking step: 0 and *out the lock when taken (the attempt is
 * then spent: free it); -EBUSY when not yet (ddlp_last_conflict() says
 * why); another negative errno when it failed for good.
 */
int ddlp_attempt_try(struct ddlp_attempt *a, struct ddlp_lock **out);
/* Cancel (or dispose of a spent attempt): nothing stays held or queued. */
void ddlp_attempt_free(struct ddlp_attempt *a);

/* ---------------------------------------------------------------- *
 * Why the calling thread's last ddlp_lock*() failed
 * ---------------------------------------------------------------- */

struct ddlp_conflict;

/* Valid until the next ddlp_lock*() call on this thread; NULL when the last
 * call succeeded or failed before touching a node. */
const struct ddlp_conflict *ddlp_last_conflict(void);
/* The node that refused, e.g. "/dev/sg0". */
const char *ddlp_conflict_get_node(const struct ddlp_conflict *c);
/* The spec of the drive it belongs to. */
const char *ddlp_conflict_get_spec(const struct ddlp_conflict *c);
/* Negative errno of the refusal (-EBUSY, -EAGAIN, -EACCES...). */
int ddlp_conflict_get_error(const struct ddlp_conflict *c);
/* What was refused: "open", "exclusive open", "write lock", "read lock",
 * "flock", "verify". */
const char *ddlp_conflict_get_step(const struct ddlp_conflict *c);
/* Who holds it, where the system tells: pid (0 unknown) and command name
 * (NULL unknown). */
pid_t ddlp_conflict_get_holder_pid(const struct ddlp_conflict *c);
const char *ddlp_conflict_get_holder_name(const struct ddlp_conflict *c);

/* ---------------------------------------------------------------- *
 * State of a drive without opening it (from /proc/locks)
 * ---------------------------------------------------------------- */

enum ddlp_state { DDLP_STATE_FREE = 0, DDLP_STATE_SHARED = 1, DDLP_STATE_EXCLUSIVE = 2 };

struct ddlp_status;

/* Read the state of a resolved drive from /proc/locks (one read; no device
 * node is opened).  flags: 0 (reserved).  Free with ddlp_status_free().
 * Errors: -EINVAL, -ENOMEM, and those of reading /proc/locks. */
int ddlp_status_new(const struct ddlp_drive *drive, unsigned flags, struct ddlp_status **out);
void ddlp_status_free(struct ddlp_status *status);
enum ddlp_state ddlp_status_get_state(const struct ddlp_status *status);
/* Shared holders counted on the first node; 1 when exclusive; 0 free. */
unsigned ddlp_status_get_holder_count(const struct ddlp_status *status);
/* A holder's pid where /proc/locks shows it (POSIX and flock locks; an
 * OFD lock shows none: ddlp_users_new() names it), else 0; and its
 * command name, or NULL. */
pid_t ddlp_status_get_holder_pid(const struct ddlp_status *status);
const char *ddlp_status_get_holder_name(const struct ddlp_status *status);

/* ---------------------------------------------------------------- *
 * Who has a drive open: one scan of /proc for several drives
 * ---------------------------------------------------------------- */

struct ddlp_users;
struct ddlp_user;

/* Flags of ddlp_users_new() and ddlp_users_wait_unused(). */
enum ddlp_users_flags {
	/* Leave the calling process out. */
	DDLP_USERS_OTHERS = 1u << 0
};

/* What a process that has a drive open holds on it. */
enum ddlp_user_lock {
	DDLP_USER_LOCK_NONE = 0,  /* open, no lock: blkid, a player, an O_EXCL-only burner */
	DDLP_USER_LOCK_FLOCK = 1, /* a flock(2) only: flock(1), udevadm lock, udevd */
	DDLP_USER_LOCK_DDLP = 2   /* an OFD or POSIX record lock: this protocol's lock */
};

/*
 * Find the processes that have any node of the n drives open, through any
 * inode of the node (found by its device number: /dev nodes, symlinks,
 * mknod aliases), in one pass over /proc; no device node is opened.
 * Processes whose open files the caller may not see (other users', for
 * anyone but root) are counted by ddlp_users_get_unseen(), not guessed.
 * flags: DDLP_USERS_OTHERS or 0.
 * Errors: -EINVAL, -ENOMEM, -EMFILE, and those of reading /proc.
 */
int ddlp_users_new(const struct ddlp_drive *const *drives, size_t n, unsigned flags,
                   struct ddlp_users **out);
void ddlp_users_free(struct ddlp_users *users);
/* The number of drives asked about, and of processes the caller could not
 * look at (the same for every drive: they may or may not have one open). */
size_t ddlp_users_get_drive_count(const struct ddlp_users *users);
unsigned ddlp_users_get_unseen(const struct ddlp_users *users);
/* The processes that have drive i (in the order given) open, by pid. */
size_t ddlp_users_get_count(const struct ddlp_users *users, size_t drive);
const struct ddlp_user *ddlp_users_get(const struct ddlp_users *users, size_t drive,
                                       size_t index);

pid_t ddlp_user_get_pid(const struct ddlp_user *user);
/* Its command name (/proc/PID/comm), or NULL when it could not be read. */
const char *ddlp_user_get_name(const struct ddlp_user *user);
/* The nodes of the drive it has open, each path as the kernel shows it
 * (an alias's own path; " (deleted)" after an unlinked one). */
size_t ddlp_user_get_node_count(const struct ddlp_user *user);
const char *ddlp_user_get_node(const struct ddlp_user *user, size_t index);
/* Its strongest lock on the drive (from /proc/PID/fdinfo), and that
 * lock's mode (DDLP_SHARED, DDLP_EXCLUSIVE; 0 without a lock). */
enum ddlp_user_lock ddlp_user_get_lock(const struct ddlp_user *user);
enum ddlp_mode ddlp_user_get_mode(const struct ddlp_user *user);

/*
 * Wait until no process other than the caller has a node of lock's drives
 * open without holding a lock on it (a blkid, a media player that opened
 * it before the lock was taken), up to
 * timeout_ms (0: look once, < 0: no limit).  Sleeps on inotify close
 * events of the nodes those processes have open (no device is opened),
 * and looks again at least every 500 ms.  flags: 0, or
 * DDLP_LOCK_INTERRUPTIBLE (a signal whose handler runs ends the wait with
 * -EINTR).  With out, the last scan (as ddlp_users_new() with
 * DDLP_USERS_OTHERS) is handed out on success and on -EBUSY/-ETIMEDOUT.
 * Returns 0 when unused, -EBUSY (timeout_ms 0) or -ETIMEDOUT when still
 * in use, -EINVAL, -ENOMEM, -EINTR.
 */
int ddlp_users_wait_unused(const struct ddlp_lock *lock, int timeout_ms, unsigned flags,
                           struct ddlp_users **out);

/* ---------------------------------------------------------------- *
 * Every optical drive of the system (without opening any)
 * ---------------------------------------------------------------- */

/* Hand out an array of the system's optical drives (SCSI type 5), in the
 * global order; free with ddlp_drive_list_free(). */
int ddlp_drive_list(struct ddlp_drive ***out, size_t *n);
void ddlp_drive_list_free(struct ddlp_drive **list, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* DDLP_H */
