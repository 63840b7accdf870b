/*
 * The per-process registry of held drives.
 *
 * libabc asks for no global state; libddlp keeps this one, because fcntl
 * record locks of the POSIX kind belong to the process, and so must the
 * bookkeeping that emulates open-file-description (OFD) locks with them,
 * and because fork() needs one list of every lock fd to close in a child.
 *
 * What it holds:
 *   - backend: the lock backend of the process: OFD locks (F_OFD_SETLK,
 *     Linux >= 3.15) or classic POSIX locks.  Chosen once: DDLP_LOCK_BACKEND
 *     ("ofd" or "posix", read with secure_getenv) or OFD, switched to POSIX
 *     the first time the kernel refuses F_OFD_SETLK with EINVAL.
 *   - live: the list of every lock handle of the process.
 *   - the descriptors a pending attempt keeps across its wait (kept[] and
 *     qfd of each drive of a handle in live): closed in a fork child.
 *   - posix_table (POSIX backend only): one entry per locked inode with the
 *     one kernel fd that carries the process's POSIX lock and its flock,
 *     the mode and the number of holders in this process.  Handles share
 *     that fd; it is closed when the last holder releases.  This makes a
 *     same-process conflict (exclusive against anything) refuse exactly as a
 *     foreign process would, where POSIX locks alone would let it through.
 *
 * Locking rules for reg_mutex:
 *   - it guards backend, live and posix_table, and nothing else;
 *   - it is held only for short non-blocking work: list and table updates
 *     and, in the POSIX backend, the open and lock of one node (all with
 *     O_NONBLOCK / F_SETLK / LOCK_NB, so they never sleep on a drive);
 *   - it is never held while waiting for a drive, and no other lock is
 *     taken while holding it (the log hook may be called under it: a hook
 *     must not call back into libddlp's lock functions);
 *   - fork: the prepare handler takes fd_guard for writing and then
 *     reg_mutex, the parent handler releases both and the child handler
 *     initialises both afresh, so a child
 *     never starts with either held, and never with a lock fd that its
 *     handler does not know of (an fd between open() and its handle).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ddlp-private.h"

struct posix_entry {
	dev_t dev;
	ino_t ino;
	int fd;
	enum ddlp_mode mode;
	unsigned holders;
	struct posix_entry *next;
};

static pthread_mutex_t reg_mutex = PTHREAD_MUTEX_INITIALIZER;
/* Held for reading while a thread opens a lock fd and records it in its
 * handle (or closes one and forgets it); fork's prepare handler takes it
 * for writing, before reg_mutex.  Lock order: fd_guard, then reg_mutex. */
static pthread_rwlock_t fd_guard = PTHREAD_RWLOCK_INITIALIZER;
static int backend = -1;                 /* enum ddlp_backend, -1 undecided */
static struct ddlp_lock *live;
static struct posix_entry *posix_table;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

void ddlp_registry_fd_begin(void)
{
	pthread_rwlock_rdlock(&fd_guard);
}

void ddlp_registry_fd_end(void)
{
	pthread_rwlock_unlock(&fd_guard);
}

static void atfork_prepare(void)
{
	pthread_rwlock_wrlock(&fd_guard);
	pthread_mutex_lock(&reg_mutex);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&reg_mutex);
	pthread_rwlock_unlock(&fd_guard);
}

/* In the child: close the child's copies of every lock fd, so that the
 * parent's unlock really frees the drive, except for handles taken with
 * DDLP_LOCK_INHERIT (handed over on purpose).  The child has no POSIX
 * locks (fork does not inherit them): the POSIX table is emptied. */
static void atfork_child(void)
{
	for (struct ddlp_lock *l = live; l; l = l->next) {
		/* what a pending attempt keeps across its wait (a claim, a
		 * ticket) is never the child's */
		for (size_t d = 0; d < l->n; d++) {
			struct ddlp_lock_drive *ld = &l->drives[d];

			for (size_t i = 0; i < DDLP_MAX_NODES; i++)
				if (ld->kept[i] >= 0) {
					close(ld->kept[i]);
					ld->kept[i] = -1;
				}
			if (ld->qfd >= 0) {
				close(ld->qfd);
				ld->qfd = -1;
			}
		}
		if (l->flags & DDLP_LOCK_INHERIT)
			continue;
		for (size_t d = 0; d < l->n; d++)
			for (size_t i = 0; i < DDLP_MAX_NODES; i++) {
				struct ddlp_held *h = &l->drives[d].held[i];

				if (h->fd >= 0 && !h->entry)
					close(h->fd);
				h->fd = -1;
				h->entry = NULL;
			}
		l->orphaned = true;
	}
	/* entries still referenced by an inherited handle stay, with the
	 * number of those references; the others are closed */
	for (struct posix_entry **p = &posix_table; *p;) {
		struct posix_entry *e = *p;
		unsigned refs = 0;

		for (struct ddlp_lock *l = live; l; l = l->next)
			if (l->flags & DDLP_LOCK_INHERIT)
				for (size_t d = 0; d < l->n; d++)
					for (size_t i = 0; i < DDLP_MAX_NODES; i++)
						refs += l->drives[d].held[i].entry == e;
		if (refs) {
			e->holders = refs;
			p = &e->next;
		} else {
			*p = e->next;
			close(e->fd);
			free(e);
		}
	}
	/* the child is single-threaded and its thread has a new TID, which
	 * glibc's rwlock would not recognise as the writer: start afresh */
	pthread_mutex_init(&reg_mutex, NULL);
	pthread_rwlock_init(&fd_guard, NULL);
}

static void register_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static enum ddlp_backend backend_locked(void)
{
	if (backend < 0) {
		const char *env = ddlp_getenv("DDLP_LOCK_BACKEND");

		backend = DDLP_BACKEND_OFD;
		if (env && strcmp(env, "posix") == 0)
			backend = DDLP_BACKEND_POSIX;
		else if (env && *env && strcmp(env, "ofd") != 0)
			warn("DDLP_LOCK_BACKEND=%s: unknown, using ofd", env);
		dbg("lock backend: %s", backend == DDLP_BACKEND_POSIX ? "posix" : "ofd");
	}
	return (enum ddlp_backend)backend;
}

enum ddlp_backend ddlp_registry_backend(void)
{
	enum ddlp_backend b;

	pthread_mutex_lock(&reg_mutex);
	b = backend_locked();
	pthread_mutex_unlock(&reg_mutex);
	return b;
}

void ddlp_registry_reset_backend(void)
{
	pthread_mutex_lock(&reg_mutex);
	if (!live)
		backend = -1;
	pthread_mutex_unlock(&reg_mutex);
}

static struct posix_entry *posix_find(const struct ddlp_node *node)
{
	for (struct posix_entry *e = posix_table; e; e = e->next)
		if (e->dev == node->inode_dev && e->ino == node->inode)
			return e;
	return NULL;
}

/* Open node (or take the descriptor *kept the caller kept across a wait)
 * and lock it.  When the lock step refuses and keep is set, the descriptor
 * is handed back through *kept, open and unlocked; otherwise it is
 * closed.  On success *kept is -1 (the descriptor is held). */
static int open_and_lock(const struct ddlp_drive *drive, const struct ddlp_node *node,
                         enum ddlp_mode mode, enum ddlp_backend b, bool excl, bool keep,
                         int *kept, int *fdp)
{
	int fd = *kept, r;

	*kept = -1;
	if (fd < 0) {
		r = ddlp_node_open(drive, node, mode, excl, &fd);
		if (r < 0)
			return r;
	}
	r = ddlp_node_lock(drive, node, fd, mode, b);
	if (r < 0) {
		if (keep && r == -EBUSY)
			*kept = fd;
		else
			close(fd);
		return r;
	}
	*fdp = fd;
	return 0;
}

static int acquire_posix(const struct ddlp_drive *drive, const struct ddlp_node *node,
                         enum ddlp_mode mode, bool excl, bool keep, int *kept,
                         struct ddlp_held *held)
{
	struct posix_entry *e = posix_find(node);
	int fd, r;

	if (e) {
		if (mode == DDLP_EXCLUSIVE || e->mode == DDLP_EXCLUSIVE) {
			/* as another process would be refused by our lock */
			ddlp_conflict_set(drive, node, -EBUSY,
			                  mode == DDLP_EXCLUSIVE ? "write lock" : "read lock");
			return -EBUSY;
		}
		e->holders++;
		held->fd = e->fd;
		held->entry = e;
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	r = open_and_lock(drive, node, mode, DDLP_BACKEND_POSIX, excl, keep, kept, &fd);
	if (r < 0) {
		free(e);
		return r;
	}
	e->dev = node->inode_dev;
	e->ino = node->inode;
	e->fd = fd;
	e->mode = mode;
	e->holders = 1;
	e->next = posix_table;
	posix_table = e;
	held->fd = fd;
	held->entry = e;
	return 0;
}

int ddlp_registry_acquire(struct ddlp_lock *lock, const struct ddlp_drive *drive,
                          const struct ddlp_node *node, enum ddlp_mode mode,
                          bool excl, struct ddlp_held *held)
{
	int none = -1;

	return ddlp_registry_acquire_kept(lock, drive, node, mode, excl, false, &none, held);
}

int ddlp_registry_acquire_kept(struct ddlp_lock *lock, const struct ddlp_drive *drive,
                               const struct ddlp_node *node, enum ddlp_mode mode, bool excl,
                               bool keep, int *kept, struct ddlp_held *held)
{
	int r;

	held->fd = -1;
	held->entry = NULL;
	if (lock->backend == DDLP_BACKEND_OFD) {
		ddlp_registry_fd_begin();
		r = open_and_lock(drive, node, mode, DDLP_BACKEND_OFD, excl, keep, kept, &held->fd);
		ddlp_registry_fd_end();
		if (r == -EINVAL) {
			/* no OFD locks in this kernel: fall back for the process */
			pthread_mutex_lock(&reg_mutex);
			if (backend == DDLP_BACKEND_OFD) {
				info("the kernel has no OFD locks: using POSIX locks");
				backend = DDLP_BACKEND_POSIX;
			}
			pthread_mutex_unlock(&reg_mutex);
			return -EAGAIN; /* the caller starts over in the new backend */
		}
		return r;
	}
	ddlp_registry_fd_begin();
	pthread_mutex_lock(&reg_mutex);
	r = acquire_posix(drive, node, mode, excl, keep, kept, held);
	pthread_mutex_unlock(&reg_mutex);
	ddlp_registry_fd_end();
	return r;
}

bool ddlp_registry_holds(const struct ddlp_lock *lock, const struct ddlp_node *node)
{
	bool r;

	if (lock->backend != DDLP_BACKEND_POSIX)
		return false;
	pthread_mutex_lock(&reg_mutex);
	r = posix_find(node) != NULL;
	pthread_mutex_unlock(&reg_mutex);
	return r;
}

static void forget_entry(struct posix_entry *e)
{
	struct posix_entry **p;

	for (p = &posix_table; *p && *p != e; p = &(*p)->next)
		;
	if (*p)
		*p = e->next;
	free(e);
}

int ddlp_registry_release_keep(struct ddlp_lock *lock, const struct ddlp_node *node,
                               struct ddlp_held *held)
{
	struct posix_entry *e = held->entry;
	int fd = -1;

	ddlp_registry_fd_begin();
	pthread_mutex_lock(&reg_mutex);
	if (!e || e->holders == 1) {
		fd = held->fd;
		ddlp_node_unlock(fd, node, lock->backend);
		if (e)
			forget_entry(e);
		held->fd = -1;
		held->entry = NULL;
	}
	pthread_mutex_unlock(&reg_mutex);
	ddlp_registry_fd_end();
	if (fd < 0)
		ddlp_registry_release(lock, held);
	return fd;
}

int ddlp_registry_swap_fd(struct ddlp_lock *lock, const struct ddlp_drive *drive,
                          const struct ddlp_node *node, struct ddlp_held *held)
{
	bool posix = held->entry != NULL;
	int fd, r;

	/* The new open file takes the old one's descriptor number (dup3), so
	 * that nobody who copied the number (the handles of the process that
	 * share a POSIX entry) has to be told.  OFD: the read lock and LOCK_SH
	 * are taken on the new open file first, and the old one goes with the
	 * claim.  POSIX: any close of the inode drops the process's lock, so
	 * LOCK_SH first, then the exchange, then the read lock again (LOCK_SH
	 * covers the moment between). */
	ddlp_registry_fd_begin();
	r = ddlp_node_open(drive, node, DDLP_SHARED, false, &fd);
	if (r < 0) {
		ddlp_registry_fd_end();
		return r;
	}
	if (!posix) {
		r = ddlp_node_lock(drive, node, fd, DDLP_SHARED, DDLP_BACKEND_OFD);
	} else if (node->kind == DDLP_NODE_BLOCK && flock(fd, LOCK_SH | LOCK_NB) < 0) {
		r = -EBUSY;
		ddlp_conflict_set(drive, node, r, "flock");
	}
	if (r == 0 && dup3(fd, held->fd, O_CLOEXEC) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && posix) {
		pthread_mutex_lock(&reg_mutex);
		r = ddlp_node_lock(drive, node, held->fd, DDLP_SHARED, DDLP_BACKEND_POSIX);
		pthread_mutex_unlock(&reg_mutex);
	}
	ddlp_registry_fd_end();
	return r;
}

void ddlp_registry_release(struct ddlp_lock *lock, struct ddlp_held *held)
{
	struct posix_entry *e = held->entry;

	ddlp_registry_fd_begin();
	if (!e) {
		if (held->fd >= 0)
			close(held->fd);
		held->fd = -1;
		ddlp_registry_fd_end();
		return;
	}
	pthread_mutex_lock(&reg_mutex);
	if (--e->holders == 0) {
		close(e->fd);
		forget_entry(e);
	}
	held->fd = -1;
	held->entry = NULL;
	pthread_mutex_unlock(&reg_mutex);
	ddlp_registry_fd_end();
	(void)lock;
}

void ddlp_registry_close_fd(int *fd)
{
	if (*fd < 0)
		return;
	ddlp_registry_fd_begin();
	close(*fd);
	*fd = -1;
	ddlp_registry_fd_end();
}

int ddlp_registry_set_inheritable(struct ddlp_lock *lock, bool inheritable)
{
	int r = 0;

	pthread_mutex_lock(&reg_mutex);
	if (lock->orphaned) {
		r = -EBADF;
	} else {
		if (inheritable)
			lock->flags |= DDLP_LOCK_INHERIT;
		else
			lock->flags &= ~(unsigned)DDLP_LOCK_INHERIT;
		for (size_t d = 0; d < lock->n; d++)
			for (size_t i = 0; i < DDLP_MAX_NODES; i++) {
				int fd = lock->drives[d].held[i].fd;

				if (fd >= 0 && fcntl(fd, F_SETFD, inheritable ? 0 : FD_CLOEXEC) < 0)
					r = -errno;
			}
	}
	pthread_mutex_unlock(&reg_mutex);
	return r;
}

void ddlp_registry_add(struct ddlp_lock *lock)
{
	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&reg_mutex);
	lock->prev = NULL;
	lock->next = live;
	if (live)
		live->prev = lock;
	live = lock;
	pthread_mutex_unlock(&reg_mutex);
}

void ddlp_registry_remove(struct ddlp_lock *lock)
{
	pthread_mutex_lock(&reg_mutex);
	if (lock->prev)
		lock->prev->next = lock->next;
	else if (live == lock)
		live = lock->next;
	if (lock->next)
		lock->next->prev = lock->prev;
	lock->prev = lock->next = NULL;
	pthread_mutex_unlock(&reg_mutex);
}
