/*
 * The process's holds: one DDLP lock per drive that the program has open,
 * the program's descriptors of that drive, and the release with the last
 * of them.
 *
 * A hold is taken by libddlp (ddlp_lock(), with DDLP_LOCK_INHERIT so that
 * fork children keep it, DDLP_LOCK_PARTIAL so that nodes the user may not
 * open are left out as the program could not open them either, and
 * DDLP_LOCK_NO_REPROBE: the guard asks udev to re-probe itself, only in
 * the process that took the lock), or adopted from the former image after
 * exec (state.c: raw descriptors, no libddlp handle).  The guard's lock
 * descriptors ("lk") carry close-on-exec exactly when every program
 * descriptor of the drive does, so that the lock goes wherever a
 * descriptor of the drive goes.
 *
 * Locking rules:
 *   - acq_mutex serialises acquisitions (ddlp_lock(), which may wait up to
 *     -w seconds, and conversions); it is never taken by close paths;
 *   - tab_mutex guards the list guard_holds, every field of every hold and
 *     the descriptor marks of fdtrack.c; it is held for short work only
 *     (no waiting for a drive), with every signal blocked, so that a
 *     handler that closes a descriptor cannot deadlock on it;
 *   - order: acq_mutex, then tab_mutex, then libddlp's registry locks;
 *   - fork: libddlp's handlers are registered before ours (config.c), so
 *     our prepare handler (tab_mutex) runs before libddlp's and the child
 *     handlers run after it: the child may call libddlp.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"

static pthread_mutex_t acq_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t tab_mutex = PTHREAD_MUTEX_INITIALIZER;
static __thread sigset_t tab_saved_mask;
struct guard_hold *guard_holds;
static unsigned n_holds; /* the length of guard_holds, read without the lock */

bool guard_holding(void)
{
	return __atomic_load_n(&n_holds, __ATOMIC_RELAXED) != 0;
}

static void insert(struct guard_hold *h)
{
	h->next = guard_holds;
	guard_holds = h;
	__atomic_add_fetch(&n_holds, 1, __ATOMIC_RELAXED);
}

void guard_tab_lock(void)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&tab_mutex);
	tab_saved_mask = old;
}

void guard_tab_unlock(void)
{
	sigset_t old = tab_saved_mask;

	pthread_mutex_unlock(&tab_mutex);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static const char *mode_name(enum ddlp_mode m)
{
	return m == DDLP_EXCLUSIVE ? "exclusive" : "shared";
}

/* The guard's descriptors of a held libddlp lock, in lock order. */
static void take_lk(struct guard_hold *h)
{
	const struct ddlp_lock_drive *ld = &h->lock->drives[0];

	for (size_t k = 0; k < h->n_lk; k++)
		guard_fd_set(h->lk[k].fd, GUARD_FD_NONE);
	h->n_lk = 0;
	for (size_t i = 0; i < ld->drive->n_nodes && i < DDLP_MAX_NODES; i++) {
		const struct ddlp_node *n = &ld->drive->nodes[i];
		struct guard_lk *l;

		if (ld->held[i].fd < 0)
			continue;
		l = &h->lk[h->n_lk++];
		l->fd = ld->held[i].fd;
		l->kind = n->kind;
		l->alias = (n->flags & DDLP_NODE_ALIAS) != 0;
		l->type = n->type;
		l->rdev = n->devnum;
		l->ino_dev = n->inode_dev;
		l->ino = n->inode;
		guard_fd_set(l->fd, GUARD_FD_OWN);
		if (h->inheritable)
			guard_sys_fcntl(l->fd, F_SETFD, 0);
	}
	h->posix = h->lock->backend == DDLP_BACKEND_POSIX;
}

int guard_hold_sg_fd(const struct guard_hold *h)
{
	for (size_t k = 0; k < h->n_lk; k++)
		if (h->lk[k].kind == DDLP_NODE_SG && !h->lk[k].alias)
			return h->lk[k].fd;
	return -1;
}

static struct guard_hold *find_id(const char *id)
{
	for (struct guard_hold *h = guard_holds; h; h = h->next)
		if (strcmp(h->drive->id, id) == 0)
			return h;
	return NULL;
}

/* Whether the program has a descriptor of its own (not the guard's
 * duplicate) on the drive's sg node: it would refuse the O_EXCL reopen of
 * a conversion, after the conversion let go of the shared sg lock. */
static bool own_sg_open(const struct guard_hold *h)
{
	for (size_t k = 0; k < h->n_lk; k++) {
		if (h->lk[k].kind != DDLP_NODE_SG)
			continue;
		for (size_t i = 0; i < h->n_fds; i++) {
			struct stat st;

			if (fstat(h->fds[i], &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == h->lk[k].rdev)
				return true;
		}
	}
	return false;
}

#define HOLD_FLAGS (DDLP_LOCK_INHERIT | DDLP_LOCK_PARTIAL | DDLP_LOCK_NO_REPROBE)

/* libddlp's lock in mode for a hold, with the guard's descriptors moved
 * out of the way. */
static int take_lock(const char *spec, enum ddlp_mode mode, int timeout_ms, struct ddlp_lock **out)
{
	int r;

	guard_enter();
	guard_relocate++;
	r = ddlp_lock(spec, mode, timeout_ms, HOLD_FLAGS, out);
	guard_relocate--;
	guard_leave();
	return r;
}

int guard_hold_cover(struct guard_hold *h, enum ddlp_mode mode)
{
	char why[512];
	int r;

	if (h->mode >= mode)
		return 0;
	if (h->n_lk == 0 || !h->lock) {
		if (!guard_cfg.quiet)
			guard_say("%s: the drive is held shared by this process (%s): cannot make it exclusive",
			          h->drive->spec, h->n_lk ? "since before exec" : "without its lock");
		return -EBUSY;
	}
	if (own_sg_open(h)) {
		if (!guard_cfg.quiet)
			guard_say("%s: the drive is held shared by this process, and its own descriptor of the "
			          "sg node is open: cannot make it exclusive", h->drive->spec);
		return -EBUSY;
	}
	guard_enter();
	guard_relocate++;
	r = ddlp_lock_convert(h->lock, 0, DDLP_EXCLUSIVE, 0);
	guard_relocate--;
	guard_leave();
	if (r == 0) {
		h->mode = DDLP_EXCLUSIVE;
		take_lk(h);
		if (guard_cfg.verbose)
			guard_say("%s: %s now held exclusive", h->drive->spec, h->drive->id);
		guard_state_write();
		return 0;
	}
	if (r == -EBUSY)
		guard_describe_conflict(why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", strerror(-r));
	if (!guard_cfg.quiet)
		guard_say("%s: held shared by this process, cannot make it exclusive: %s%s",
		          h->drive->spec, r == -EBUSY ? "busy: " : "", why);
	if (ddlp_lock_fd_at(h->lock, 0) == -EBADF) {
		/* the conversion let go of the drive after it had given up a
		 * descriptor: take the shared lock again (the program's
		 * descriptors are open meanwhile) */
		struct ddlp_lock *again = NULL;

		for (size_t k = 0; k < h->n_lk; k++)
			guard_fd_set(h->lk[k].fd, GUARD_FD_NONE);
		h->n_lk = 0;
		guard_enter();
		ddlp_unlock(h->lock);
		guard_leave();
		h->lock = NULL;
		if (take_lock(h->drive->spec, DDLP_SHARED, 0, &again) == 0) {
			h->lock = again;
			take_lk(h);
			guard_hold_update_inheritable(h);
		} else if (!guard_cfg.quiet) {
			guard_say("%s: the drive's shared lock was lost in the attempt", h->drive->spec);
		}
		guard_state_write();
	}
	return -EBUSY;
}

struct guard_drive *guard_drive_copy(const struct ddlp_drive *d)
{
	struct guard_drive *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->spec = strdup(d->spec);
	g->id = strdup(d->id);
	g->block_syspath = d->block_syspath ? strdup(d->block_syspath) : NULL;
	if (!g->spec || !g->id || (d->block_syspath && !g->block_syspath)) {
		guard_drive_free(g);
		return NULL;
	}
	for (size_t i = 0; i < d->n_nodes && i < DDLP_MAX_NODES; i++) {
		g->nodes[i].type = d->nodes[i].type;
		g->nodes[i].devnum = d->nodes[i].devnum;
		g->n_nodes++;
	}
	return g;
}

void guard_drive_free(struct guard_drive *d)
{
	if (!d)
		return;
	free(d->spec);
	free(d->id);
	free(d->block_syspath);
	free(d);
}

/* The hold of the drive spec names, when there is one (under acq_mutex).
 * Without any hold there is nothing to look for, and no resolution of
 * spec to pay for: ddlp_lock() resolves it. */
static int find_spec(const char *spec, struct guard_hold **out)
{
	struct ddlp_drive *d = NULL;
	int r;

	*out = NULL;
	if (!__atomic_load_n(&n_holds, __ATOMIC_RELAXED))
		return 0;
	guard_enter();
	r = ddlp_drive_resolve(spec, 0, &d);
	guard_leave();
	if (r < 0)
		return r;
	guard_tab_lock();
	*out = find_id(d->id);
	guard_tab_unlock();
	ddlp_drive_free(d);
	return 0;
}

int guard_hold_get(const char *spec, enum ddlp_mode mode, struct guard_hold **out)
{
	struct guard_hold *h;
	struct ddlp_lock *lock = NULL;
	int64_t t0;
	int r;

	*out = NULL;
	pthread_mutex_lock(&acq_mutex);
	r = find_spec(spec, &h);
	if (r < 0) {
		pthread_mutex_unlock(&acq_mutex);
		return -ENODEV;
	}
	if (h) {
		guard_tab_lock();
		r = guard_hold_cover(h, mode);
		if (r == 0) {
			h->pending++;
			*out = h;
		}
		guard_tab_unlock();
		pthread_mutex_unlock(&acq_mutex);
		return r;
	}

	t0 = ddlp_now_ms();
	r = take_lock(spec, mode, guard_cfg.timeout_ms, &lock);
	if (r == -ENODEV || r == -ENOENT || r == -ENXIO || r == -EINVAL) {
		pthread_mutex_unlock(&acq_mutex);
		return -ENODEV;
	}
	if (r < 0) {
		guard_report_refusal(spec, r, ddlp_now_ms() - t0);
		pthread_mutex_unlock(&acq_mutex);
		return r == -ETIMEDOUT ? -EBUSY : r;
	}
	h = calloc(1, sizeof(*h));
	if (h)
		h->drive = guard_drive_copy(ddlp_lock_get_drive(lock, 0));
	if (!h || !h->drive) {
		guard_enter();
		ddlp_unlock(lock);
		guard_leave();
		pthread_mutex_unlock(&acq_mutex);
		free(h);
		return -ENOMEM;
	}
	h->lock = lock;
	h->mode = mode;
	h->owner = getpid();
	h->pending = 1;
	guard_tab_lock();
	take_lk(h);
	insert(h);
	guard_state_write();
	guard_tab_unlock();
	pthread_mutex_unlock(&acq_mutex);
	if (guard_cfg.verbose)
		guard_say("%s: locked %s %s (%zu nodes)", spec, h->drive->id, mode_name(mode), h->n_lk);
	*out = h;
	return 0;
}

struct guard_hold *guard_hold_adopt(struct guard_drive *drive, enum ddlp_mode mode, pid_t owner,
                                    const struct guard_lk *lk, size_t n_lk)
{
	struct guard_hold *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->drive = drive;
	h->mode = mode;
	h->owner = owner;
	h->n_lk = n_lk;
	memcpy(h->lk, lk, n_lk * sizeof(*lk));
	for (size_t k = 0; k < n_lk; k++)
		guard_fd_set(lk[k].fd, GUARD_FD_OWN);
	insert(h);
	return h;
}

/* Close-on-exec of the lk fds: cleared exactly when a program descriptor
 * of the drive lacks it (it survives exec, so must the lock). */
void guard_hold_update_inheritable(struct guard_hold *h)
{
	bool inh = false;

	for (size_t i = 0; i < h->n_fds && !inh; i++) {
		int fl = guard_sys_fcntl(h->fds[i], F_GETFD, 0);

		inh = fl >= 0 && !(fl & FD_CLOEXEC);
	}
	if (inh == h->inheritable)
		return;
	h->inheritable = inh;
	for (size_t k = 0; k < h->n_lk; k++)
		guard_sys_fcntl(h->lk[k].fd, F_SETFD, inh ? 0 : FD_CLOEXEC);
}

void guard_hold_add_fd(struct guard_hold *h, int fd)
{
	if (h->n_fds == h->cap_fds) {
		size_t cap = h->cap_fds ? 2 * h->cap_fds : 4;
		int *n = realloc(h->fds, cap * sizeof(*n));

		if (!n) {
			/* not recorded: released with the others, at the latest */
			warn("ddlp-guard: out of memory recording descriptor %d", fd);
			return;
		}
		h->fds = n;
		h->cap_fds = cap;
	}
	h->fds[h->n_fds++] = fd;
	guard_fd_set(fd, GUARD_FD_PROGRAM);
	guard_hold_update_inheritable(h);
}

struct guard_hold *guard_hold_of_fd(int fd)
{
	for (struct guard_hold *h = guard_holds; h; h = h->next)
		for (size_t i = 0; i < h->n_fds; i++)
			if (h->fds[i] == fd)
				return h;
	return NULL;
}

void guard_hold_done(struct guard_hold *h, int fd)
{
	guard_tab_lock();
	if (h->pending)
		h->pending--;
	if (fd >= 0)
		guard_hold_add_fd(h, fd);
	guard_hold_settle();
	guard_tab_unlock();
}

void guard_hold_fd_gone(int fd)
{
	struct guard_hold *h = guard_hold_of_fd(fd);

	guard_fd_set(fd, GUARD_FD_NONE);
	if (!h)
		return;
	for (size_t i = 0; i < h->n_fds; i++)
		if (h->fds[i] == fd) {
			h->fds[i] = h->fds[--h->n_fds];
			break;
		}
	h->reassert = h->posix;
	guard_hold_update_inheritable(h);
}

void guard_hold_fd_copied(int oldfd, int newfd)
{
	struct guard_hold *h = guard_hold_of_fd(oldfd);

	if (h && oldfd != newfd)
		guard_hold_add_fd(h, newfd);
}

void guard_hold_cloexec_changed(int fd)
{
	struct guard_hold *h = guard_hold_of_fd(fd);

	if (h)
		guard_hold_update_inheritable(h);
}

/* POSIX backend: a close of any descriptor of a node drops the process's
 * POSIX locks on it (doc/ddlp.txt, 9): take them again. */
void guard_hold_reassert(struct guard_hold *h)
{
	struct flock fl = { .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

	h->reassert = false;
	fl.l_type = h->mode == DDLP_EXCLUSIVE ? F_WRLCK : F_RDLCK;
	for (size_t k = 0; k < h->n_lk; k++)
		if (guard_sys_fcntl(h->lk[k].fd, F_SETLK, (long)&fl) < 0)
			warn("ddlp-guard: %s: cannot take the POSIX lock again: %s", h->drive->spec,
			     strerror(errno));
}

static void release(struct guard_hold *h)
{
	bool reprobe = guard_cfg.reprobe && h->mode == DDLP_EXCLUSIVE && h->owner == getpid();

	__atomic_sub_fetch(&n_holds, 1, __ATOMIC_RELAXED);
	for (size_t k = 0; k < h->n_lk; k++)
		guard_fd_set(h->lk[k].fd, GUARD_FD_NONE);
	guard_enter();
	if (h->lock) {
		ddlp_unlock(h->lock);
	} else {
		for (size_t k = h->n_lk; k-- > 0;)
			guard_sys_close(h->lk[k].fd);
	}
	if (reprobe) {
		struct ddlp_drive d = { .spec = h->drive->spec, .block_syspath = h->drive->block_syspath };

		ddlp_reprobe(&d);
	}
	guard_leave();
	if (guard_cfg.verbose)
		guard_say("%s: released %s", h->drive->spec, h->drive->id);
	guard_drive_free(h->drive);
	free(h->fds);
	free(h);
}

void guard_hold_settle(void)
{
	bool changed = false;

	for (struct guard_hold **p = &guard_holds; *p;) {
		struct guard_hold *h = *p;

		if (h->n_fds == 0 && h->pending == 0) {
			*p = h->next;
			release(h);
			changed = true;
			continue;
		}
		if (h->reassert)
			guard_hold_reassert(h);
		p = &h->next;
	}
	if (changed)
		guard_state_write();
}

void guard_hold_release_all(void)
{
	guard_tab_lock();
	while (guard_holds) {
		struct guard_hold *h = guard_holds;

		guard_holds = h->next;
		release(h);
	}
	guard_tab_unlock();
}

/* ---- fork ---- */

static void atfork_prepare(void)
{
	guard_tab_lock();
}

static void atfork_parent(void)
{
	guard_tab_unlock();
}

/* The child has a copy of every hold and of every descriptor (libddlp's
 * child handler, which ran before this one, kept the lock descriptors of
 * the DDLP_LOCK_INHERIT handles).  Opens that other threads had under way
 * do not exist here: drop their pending counts.  POSIX locks are not
 * inherited: a shared hold takes its read locks again (an exclusive one
 * cannot while the parent holds its write locks: it keeps the drive
 * through the O_EXCL claims and the flock). */
static void atfork_child(void)
{
	sigset_t old = tab_saved_mask;

	pthread_mutex_init(&tab_mutex, NULL);
	pthread_mutex_init(&acq_mutex, NULL);
	guard_pid = getpid();
	for (struct guard_hold *h = guard_holds; h; h = h->next) {
		h->pending = 0;
		h->reassert = h->posix;
	}
	guard_hold_settle();
	guard_state_forked();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void guard_hold_atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}
