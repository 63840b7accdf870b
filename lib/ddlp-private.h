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
/* Find a process that has a node with this rdev open; 0 if none found. */
pid_t ddlp_find_opener(mode_t type, dev_t rdev, pid_t exclude);
int ddlp_pid_name(pid_t pid, char *buf, size_t size);

/* ---- who has device nodes open: one pass over /proc (procscan.c) ---- */
struct ddlp_procscan_hit {
	pid_t pid;
	int fd;                  /* the descriptor's number in that process */
	const struct stat *st;   /* what /proc/PID/fd/FD points to */
	int piddir;              /* dirfd of /proc/PID (valid during the call) */
	int fddir;               /* dirfd of /proc/PID/fd (valid during the call) */
};
struct ddlp_procscan_ops {
	/* Is a node of this type (S_IFBLK, S_IFCHR) and number of interest? */
	bool (*want)(mode_t type, dev_t rdev, void *data);
	/* Called for each open descriptor of a wanted node; a negative errno
	 * ends the scan with that error. */
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
};

struct ddlp_lock {
	unsigned flags;
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
void ddlp_registry_release(struct ddlp_lock *lock, struct ddlp_held *held);
/* Around every open or close of a lock fd: fork() waits until no thread is
 * between creating an fd and recording it (or closing and forgetting it),
 * so that the child's handler closes exactly the lock fds it inherited. */
void ddlp_registry_fd_begin(void);
void ddlp_registry_fd_end(void);
void ddlp_registry_add(struct ddlp_lock *lock);
void ddlp_registry_remove(struct ddlp_lock *lock);
/* Test hook: forget the backend choice so that the environment is read again. */
void ddlp_registry_reset_backend(void);

/* The first wanted node of the handle that /proc/locks shows locked in a
 * way that conflicts with its mode (sets the thread's conflict), or NULL.
 * Opens no device: the friendly check of doc/ddlp.txt, section 8. */
const struct ddlp_node *ddlp_visible_conflict(const struct ddlp_lock *lock);

/* ---- lock sets (lockset.c) ---- */
/* Take every node of every drive of lock in the global order; all or
 * nothing.  On failure *busy_node is the node that refused. */
int ddlp_lockset_acquire(struct ddlp_lock *lock, const struct ddlp_node **busy_node);
void ddlp_lockset_release(struct ddlp_lock *lock);
/* Whether node i of a drive is opened in mode (an sg alias under an
 * exclusive lock is covered by the exclusive open and is not). */
bool ddlp_lockset_node_wanted(const struct ddlp_drive *drive, size_t i, enum ddlp_mode mode);
bool ddlp_lockset_node_excl(const struct ddlp_drive *drive, size_t i, enum ddlp_mode mode);

/* ---- lock handles (lock.c) ---- */
/* Which node's fd the caller of a drive gets in its current mode. */
size_t ddlp_lock_caller_node(const struct ddlp_lock_drive *ld);

/* ---- waiting (wait.c) ---- */
/* Sleep until node may have been released (a close of it), the deadline
 * (ms, CLOCK_MONOTONIC; < 0 none) or the fallback poll interval. */
struct ddlp_waiter;
int ddlp_waiter_new(struct ddlp_waiter **out);
void ddlp_waiter_free(struct ddlp_waiter *w);
/* Also watch path for closes.  Returns 1 when the watch is new, else 0. */
int ddlp_waiter_watch(struct ddlp_waiter *w, const char *path);
void ddlp_waiter_drain(struct ddlp_waiter *w);
/* 1 when woken by a close event or at a quick retry after one (try at
 * once), 0 after the fallback interval (check /proc/locks first),
 * -ETIMEDOUT at the deadline. */
int ddlp_waiter_wait(struct ddlp_waiter *w, int64_t deadline_ms);

/* ---- re-probe (reprobe.c) ---- */
int ddlp_reprobe(const struct ddlp_drive *drive);

/* test-only pause point between two siblings (DDLP_TEST_PAUSE_AFTER=N) */
void ddlp_test_pause_point(size_t taken);

#endif
