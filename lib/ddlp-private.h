/*
 * libddlp internal declarations: shared by the library's files, the tools
 * and the tests (through the non-installed libddlp-internal.la).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef DDLP_PRIVATE_H
#define DDLP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ddlp.h"

#define DDLP_EXPORT __attribute__((visibility("default")))
#define DDLP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* block, sg, bsg and one alias inode the caller named */
#define DDLP_MAX_NODES 4

/* ---- logging (log.c) ---- */
void ddlp_log_msg(int priority, const char *file, int line, const char *fn,
                  const char *format, ...) DDLP_PRINTF(5, 6);
bool ddlp_log_enabled(int priority);
#define ddlp_log_cond(prio, ...)                                                  \
	do {                                                                       \
		if (ddlp_log_enabled(prio))                                        \
			ddlp_log_msg(prio, __FILE__, __LINE__, __func__, __VA_ARGS__); \
	} while (0)
#define dbg(...) ddlp_log_cond(7, __VA_ARGS__)
#define info(...) ddlp_log_cond(6, __VA_ARGS__)
#define warn(...) ddlp_log_cond(4, __VA_ARGS__)
#define err(...) ddlp_log_cond(3, __VA_ARGS__)

/* ---- small helpers (util.c) ---- */
/* Read a small text file (sysfs, procfs) into buf, NUL-terminated, without
 * the trailing newline.  Returns length or negative errno. */
ssize_t ddlp_read_text(int dirfd, const char *path, char *buf, size_t size);
int64_t ddlp_now_ms(void);
const char *ddlp_getenv(const char *name);

/* ---- SCSI address parsing (address.c) ---- */
struct ddlp_scsi_addr {
	unsigned host, channel, target;
	uint64_t lun;
};
enum ddlp_spec_form {
	DDLP_SPEC_PATH = 0,    /* a file system path */
	DDLP_SPEC_ADDRESS = 1  /* H:C:T:L or B,T,L */
};
/* Decide what a spec is; for an address, parse it into *addr.
 * Returns the form (>= 0) or -EINVAL for a malformed address. */
int ddlp_spec_classify(const char *spec, struct ddlp_scsi_addr *addr);

/* ---- identity (identity.c, drive.c, order.c) ---- */
struct ddlp_node {
	char *path;              /* canonical /dev path, or the alias path */
	enum ddlp_node_kind kind;
	enum ddlp_excl excl;
	mode_t type;             /* S_IFBLK or S_IFCHR */
	dev_t devnum;            /* st_rdev */
	dev_t inode_dev;         /* st_dev of the node file (0 when not in /dev) */
	ino_t inode;             /* st_ino of the node file */
	unsigned flags;          /* enum ddlp_node_flags */
};

struct ddlp_drive {
	char *spec;
	char *id;                /* "scsi:H:C:T:L" or "block:NAME" */
	char *persistent;        /* ID_SERIAL / ID_WWN, looked up on first use (drive.c) */
	char *syspath;
	char *block_syspath;     /* sysfs path of the block device, or NULL */
	size_t n_nodes;
	struct ddlp_node nodes[DDLP_MAX_NODES];
	size_t named;            /* index of the named node, or SIZE_MAX */
};

/* The global order of nodes: block before character, then major, then
 * minor; alias inodes after every canonical node, by (st_dev, st_ino). */
int ddlp_node_compare(const struct ddlp_node *a, const struct ddlp_node *b);
void ddlp_nodes_sort(struct ddlp_node *nodes, size_t n);
/* Order of drives: by their first node. */
int ddlp_drive_compare(const struct ddlp_drive *a, const struct ddlp_drive *b);

struct ddlp_drive *ddlp_drive_new(void);
/* Resolve with an optional sysfs/dev root prefix (tests); NULL = "/". */
int ddlp_drive_resolve_at(const char *spec, struct ddlp_drive **out);

/* ---- conflicts (conflict.c, holder.c) ---- */
struct ddlp_conflict {
	char node[256];
	char spec[256];
	int error;
	const char *step;
	pid_t holder_pid;
	char holder_name[32];
	/* for holder lookup */
	dev_t inode_dev;
	ino_t inode;
	dev_t devnum;
	mode_t type;
};
void ddlp_conflict_clear(void);
void ddlp_conflict_set(const struct ddlp_drive *drive, const struct ddlp_node *node,
                       int error, const char *step);
/* Find who holds a node: /proc/locks first, then processes with it open. */
void ddlp_conflict_find_holder(void);
struct ddlp_conflict *ddlp_conflict_current(void);

/* /proc/locks (proclocks.c) */
enum ddlp_plock_kind { DDLP_PLOCK_POSIX, DDLP_PLOCK_OFD, DDLP_PLOCK_FLOCK, DDLP_PLOCK_OTHER };
struct ddlp_plock {
	enum ddlp_plock_kind kind;
	bool write;
	bool blocked;            /* a waiter ("->" line) */
	pid_t pid;               /* -1 for OFD locks */
};
/* Call fn for each lock of the system (one read of /proc/locks); fn returns
 * non-zero to stop.  Returns 0 or negative errno. */
int ddlp_proclocks_scan(int (*fn)(const struct ddlp_plock *l, dev_t dev, ino_t ino, void *data),
                        void *data);
/* Call fn for each lock on inode (dev, ino); fn returns non-zero to stop.
 * Returns 0 or negative errno. */
int ddlp_proclocks_foreach(dev_t dev, ino_t ino,
                           int (*fn)(const struct ddlp_plock *l, void *data), void *data);
/* Parse one line of /proc/locks (tokenizes line).  0 or -EINVAL. */
int ddlp_proclocks_parse_line(char *line, struct ddlp_plock *l, dev_t *dev, ino_t *ino);
/* The lines of F that start with PREFIX (or all, PREFIX NULL), parsed as
 * above, until FN returns non-zero: /proc/locks and fdinfo's "lock:". */
int ddlp_proclocks_read(FILE *f, const char *prefix,
                        int (*fn)(const struct ddlp_plock *l, dev_t dev, ino_t ino, void *data),
                        void *data);
/* Find a process that has a node with this rdev open, one that holds a
 * lock on it first; 0 if none found. */
pid_t ddlp_find_opener(mode_t type, dev_t rdev, pid_t exclude);
int ddlp_pid_name(pid_t pid, char *buf, size_t size);

/* ---- who has device nodes open: one pass over /proc (procscan.c) ---- */
struct ddlp_procscan_hit {
	pid_t pid;
	int fd;                  /* the descriptor's number in that process */
	const struct stat *st;   /* what /proc/PID/fd/FD points to */
	int procfd;              /* dirfd of /proc (valid during the call) */
	const char *name;        /* "PID", below procfd */
	int fddir;               /* dirfd of /proc/PID/fd (valid during the call) */
};
struct ddlp_procscan_ops {
	/* Is a node of this type (S_IFBLK, S_IFCHR) and number of interest? */
	bool (*want)(mode_t type, dev_t rdev, void *data);
	/* Called for each open descriptor of a wanted node; a negative errno
	 * ends the scan with that error, a positive value ends it with 0. */
	int (*found)(const struct ddlp_procscan_hit *hit, void *data);
};
/* Look at every process once.  *unseen: processes whose descriptors the
 * caller may not see.  Returns 0 or a negative errno. */
int ddlp_procscan(const struct ddlp_procscan_ops *ops, void *data, unsigned *unseen);
/* Call fn for each lock of the hit's open file that /proc/PID/fdinfo/FD
 * lists (fn returns non-zero to stop).  0 or a negative errno. */
int ddlp_procscan_locks(const struct ddlp_procscan_hit *hit,
                        int (*fn)(const struct ddlp_plock *l, dev_t dev, ino_t ino, void *data),
                        void *data);
/* The path of the hit's open file, as the kernel shows it. */
int ddlp_procscan_path(const struct ddlp_procscan_hit *hit, char *buf, size_t size);
/* The command name of the hit's process. */
int ddlp_procscan_comm(const struct ddlp_procscan_hit *hit, char *buf, size_t size);

/* ---- per-node kernel operations (nodelock.c) ---- */
enum ddlp_backend { DDLP_BACKEND_OFD = 0, DDLP_BACKEND_POSIX = 1 };

/* Open a node for mode and take its locks (OFD backend: OFD lock; POSIX
 * backend: classic POSIX lock) and flock on block nodes.  On failure sets
 * the thread's conflict and returns negative errno (-EBUSY for a busy
 * node); nothing stays open. */
int ddlp_node_open_locked(const struct ddlp_drive *drive, const struct ddlp_node *node,
                          enum ddlp_mode mode, enum ddlp_backend backend,
                          bool excl, int *fdp);
/* The two steps of ddlp_node_open_locked(), for waiters that keep a
 * descriptor across a wait: the open with its check (sets the conflict on
 * failure), and the locks (on failure the descriptor stays open without
 * them).  ddlp_node_unlock() gives back the locks of an open descriptor. */
int ddlp_node_open(const struct ddlp_drive *drive, const struct ddlp_node *node,
                   enum ddlp_mode mode, bool excl, int *fdp);
int ddlp_node_lock(const struct ddlp_drive *drive, const struct ddlp_node *node, int fd,
                   enum ddlp_mode mode, enum ddlp_backend backend);
void ddlp_node_unlock(int fd, const struct ddlp_node *node, enum ddlp_backend backend);
/* Change the lock of an open node (conversion). */
int ddlp_node_relock(int fd, const struct ddlp_node *node, enum ddlp_mode mode,
                     enum ddlp_backend backend);

/* ---- the process-wide registry (registry.c) ---- */
struct ddlp_held {
	int fd;                  /* -1 when not held */
	void *entry;             /* POSIX backend: the registry entry */
};

struct ddlp_lock_drive {
	struct ddlp_drive *drive;
	enum ddlp_mode mode;
	struct ddlp_held held[DDLP_MAX_NODES];
	size_t caller;           /* index of the node whose fd the caller gets */
	/* while an attempt waits (doc/ddlp.txt, 6 and 7): */
	int kept[DDLP_MAX_NODES]; /* descriptors kept open, unlocked, or -1 */
	bool test;               /* held[0] is a shared request's claim test */
	int qfd;                 /* the drive's queue file, or -1 */
	bool ticket;             /* qfd carries this request's ticket */
};

struct ddlp_lock {
	unsigned flags;
	int64_t ticket;          /* the exclusive request's ticket, 0 none */
	size_t n;
	struct ddlp_lock_drive *drives;
	enum ddlp_backend backend;
	bool orphaned;           /* in a fork child: fds already closed */
	struct ddlp_lock *prev, *next; /* registry list */
};

enum ddlp_backend ddlp_registry_backend(void);
/* Take one node for a lock (through the POSIX table in that backend). */
int ddlp_registry_acquire(struct ddlp_lock *lock, const struct ddlp_drive *drive,
                          const struct ddlp_node *node, enum ddlp_mode mode,
                          bool excl, struct ddlp_held *held);
/* The same with a descriptor kept across a wait: *kept (-1 none) is used
 * instead of an open; when keep is set and the lock step refuses, the open
 * descriptor comes back through *kept. */
int ddlp_registry_acquire_kept(struct ddlp_lock *lock, const struct ddlp_drive *drive,
                               const struct ddlp_node *node, enum ddlp_mode mode, bool excl,
                               bool keep, int *kept, struct ddlp_held *held);
void ddlp_registry_release(struct ddlp_lock *lock, struct ddlp_held *held);
/* Release a held node's locks but keep its descriptor open, and return it
 * (-1 when it is shared with another holder of the process: then it is
 * released as usual). */
int ddlp_registry_release_keep(struct ddlp_lock *lock, const struct ddlp_node *node,
                               struct ddlp_held *held);
/* A shared request's last step: a plain descriptor of node with the read
 * lock and LOCK_SH takes the place of the claim test's. */
int ddlp_registry_swap_fd(struct ddlp_lock *lock, const struct ddlp_drive *drive,
                          const struct ddlp_node *node, struct ddlp_held *held);
/* Whether the process already holds node's inode (POSIX backend). */
bool ddlp_registry_holds(const struct ddlp_lock *lock, const struct ddlp_node *node);
/* Close a kept descriptor under the fork guard; *fd becomes -1. */
void ddlp_registry_close_fd(int *fd);
int ddlp_registry_set_inheritable(struct ddlp_lock *lock, bool inheritable);
/* Around every open or close of a lock fd: fork() waits until no thread is
 * between creating an fd and recording it (or closing and forgetting it),
 * so that the child's handler closes exactly the lock fds it inherited. */
void ddlp_registry_fd_begin(void);
void ddlp_registry_fd_end(void);
void ddlp_registry_add(struct ddlp_lock *lock);
void ddlp_registry_remove(struct ddlp_lock *lock);
/* Test hook: forget the backend choice so that the environment is read again. */
void ddlp_registry_reset_backend(void);


/* ---- lock sets (lockset.c) ---- */
/* Take every node of every drive of lock in the global order; all or
 * nothing.  On failure *busy_node is the node that refused; with keep
 * (the request will wait) the claim descriptors and the descriptors whose
 * lock step refused stay open in kept[] (doc/ddlp.txt, 6). */
int ddlp_lockset_acquire(struct ddlp_lock *lock, bool keep, const struct ddlp_node **busy_node);
void ddlp_lockset_release(struct ddlp_lock *lock);
/* Close every descriptor kept across a wait. */
void ddlp_lockset_drop_kept(struct ddlp_lock *lock);
/* Whether the drive's first node carries an O_EXCL claim of a block
 * device (the claim a shared request tests and a waiter keeps). */
bool ddlp_drive_has_claim(const struct ddlp_drive *drive);

/* ---- the queue of exclusive requests (queue.c; doc/ddlp.txt, 7) ---- */
/* Open the drive's queue file (its sysfs uevent file): fd or -errno. */
int ddlp_queue_open(const struct ddlp_drive *drive);
/* 1 when a ticket other than fd's own lies below before (before 0: any
 * ticket at all), 0 when none, negative errno. */
int ddlp_queue_ahead(int fd, int64_t before);
/* Take the ticket t (>= 1) on fd; 0 or negative errno. */
int ddlp_queue_take(int fd, int64_t t);
/* A new ticket: the monotonic clock in ms, >= 1. */
int64_t ddlp_queue_new_ticket(void);
/* Whether the block device devnum is mounted (/proc/self/mountinfo). */
bool ddlp_devnum_mounted(dev_t devnum);
/* Whether node i of a drive is opened in mode (an sg alias under an
 * exclusive lock is covered by the exclusive open and is not). */
bool ddlp_lockset_node_wanted(const struct ddlp_drive *drive, size_t i, enum ddlp_mode mode);
bool ddlp_lockset_node_excl(const struct ddlp_drive *drive, size_t i, enum ddlp_mode mode);

/* ---- lock handles (lock.c) ---- */
/* Which node's fd the caller of a drive gets in its current mode. */
size_t ddlp_lock_caller_node(const struct ddlp_lock_drive *ld);

/* ---- waiting (wait.c) ---- */
struct ddlp_waiter;
int ddlp_waiter_new(struct ddlp_waiter **out);
void ddlp_waiter_free(struct ddlp_waiter *w);
/* Watch path as what refused the latest attempt, instead of the previous
 * one: 1 when the watch changed (try again at once), else 0. */
int ddlp_waiter_watch_refusal(struct ddlp_waiter *w, const char *path);
/* The inotify descriptor (-1 without inotify). */
int ddlp_waiter_get_fd(const struct ddlp_waiter *w);
/* Before an attempt: read the events; 1 when a watched file was closed
 * (the quick retries start again), else 0. */
int ddlp_waiter_begin_try(struct ddlp_waiter *w);
/* After a refused attempt: when to try again without an event (a quick
 * retry after an event, else the fallback interval). */
void ddlp_waiter_arm(struct ddlp_waiter *w);
int ddlp_waiter_interval_ms(const struct ddlp_waiter *w);
/* ms left until that retry (>= 0). */
int ddlp_waiter_timeout_ms(const struct ddlp_waiter *w);
/* Sleep until an event, the armed retry or the deadline (ms,
 * CLOCK_MONOTONIC; < 0 none): 1 try now, -ETIMEDOUT, or -EINTR when a
 * signal interrupted it and interruptible is set. */
int ddlp_waiter_wait(struct ddlp_waiter *w, int64_t deadline_ms, bool interruptible);

/* ---- attempts (attempt.c) ---- */
/* Make an attempt for requests; wait: it may wait (keeps descriptors,
 * takes a ticket), else it is tried once. */
int ddlp_attempt_make(const struct ddlp_request *requests, size_t n, unsigned flags, bool wait,
                      struct ddlp_attempt **out);
/* One step: 0 (and *out), -EBUSY, or another negative errno. */
int ddlp_attempt_step(struct ddlp_attempt *a, struct ddlp_lock **out);
/* Whether the attempt wants another step at once, without a wait. */
bool ddlp_attempt_again(const struct ddlp_attempt *a);
struct ddlp_waiter *ddlp_attempt_waiter(const struct ddlp_attempt *a);
void ddlp_lock_handle_free(struct ddlp_lock *lock);

/* ---- re-probe (reprobe.c) ---- */
int ddlp_reprobe(const struct ddlp_drive *drive);

/* test-only pause point between two siblings (DDLP_TEST_PAUSE_AFTER=N) */
void ddlp_test_pause_point(size_t taken);

#endif
