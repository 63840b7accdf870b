/*
 * Who has a drive open: the processes that have any node of one or more
 * drives open, found in one pass over /proc (procscan.c) by the nodes'
 * device numbers, each with its command name, the nodes it has open and
 * the lock it holds (this protocol's record lock, a flock, or none) as
 * /proc/PID/fdinfo tells; and ddlp_users_wait_unused(), which waits until
 * the unlocked openers of a held drive have closed it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "ddlp-private.h"

/* Look again at least this often while waiting (ms): a close through an
 * inode nobody watches (an opener the caller cannot see) sends no event. */
#define DDLP_USERS_FALLBACK_MS 500

struct ddlp_user {
	pid_t pid;
	char name[64];
	bool have_name;
	size_t n_nodes;
	char **nodes;
	enum ddlp_user_lock lock;
	enum ddlp_mode mode;
};

struct users_of_drive {
	size_t n, cap;
	struct ddlp_user **users;
};

/* A node number the scan looks for, and the drive it belongs to. */
struct key {
	mode_t type;
	dev_t rdev;
	size_t drive;
};

/* A POSIX or flock lock of /proc/locks (kernels that list no locks in
 * fdinfo still tell the pid of these two kinds there). */
struct pid_lock {
	dev_t dev;
	ino_t ino;
	pid_t pid;
	struct ddlp_plock l;
};

struct ddlp_users {
	size_t n_drives;
	struct users_of_drive *drives;
	unsigned unseen;
	/* during the scan */
	struct key *keys;
	size_t n_keys;
	struct pid_lock *plocks;
	size_t n_plocks, cap_plocks;
	bool plocks_failed;
	pid_t self;
	unsigned flags;
};

static void user_free(struct ddlp_user *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n_nodes; i++)
		free(u->nodes[i]);
	free(u->nodes);
	free(u);
}

DDLP_EXPORT void ddlp_users_free(struct ddlp_users *users)
{
	if (!users)
		return;
	for (size_t d = 0; users->drives && d < users->n_drives; d++) {
		for (size_t i = 0; i < users->drives[d].n; i++)
			user_free(users->drives[d].users[i]);
		free(users->drives[d].users);
	}
	free(users->drives);
	free(users->keys);
	free(users->plocks);
	free(users);
}

static int key_compare(const void *a, const void *b)
{
	const struct key *x = a, *y = b;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->rdev != y->rdev)
		return x->rdev < y->rdev ? -1 : 1;
	return 0;
}

/* The first key of (type, rdev) or NULL. */
static const struct key *key_find(const struct ddlp_users *u, mode_t type, dev_t rdev)
{
	struct key k = { type, rdev, 0 };
	size_t lo = 0, hi = u->n_keys;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_compare(&u->keys[mid], &k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < u->n_keys && key_compare(&u->keys[lo], &k) == 0 ? &u->keys[lo] : NULL;
}

static bool scan_want(mode_t type, dev_t rdev, void *data)
{
	return key_find(data, type, rdev) != NULL;
}

/* The strongest of two locks: a record lock over a flock over none, and
 * within one kind exclusive over shared. */
static void user_add_lock(struct ddlp_user *u, enum ddlp_user_lock lock, bool write)
{
	enum ddlp_mode mode = write ? DDLP_EXCLUSIVE : DDLP_SHARED;

	if (lock > u->lock) {
		u->lock = lock;
		u->mode = mode;
	} else if (lock == u->lock && mode > u->mode) {
		u->mode = mode;
	}
}

static void user_add_plock(struct ddlp_user *u, const struct ddlp_plock *l)
{
	switch (l->kind) {
	case DDLP_PLOCK_POSIX:
	case DDLP_PLOCK_OFD:
		user_add_lock(u, DDLP_USER_LOCK_DDLP, l->write);
		break;
	case DDLP_PLOCK_FLOCK:
		user_add_lock(u, DDLP_USER_LOCK_FLOCK, l->write);
		break;
	case DDLP_PLOCK_OTHER:
		break; /* leases, delegations */
	}
}

static int fdinfo_lock(const struct ddlp_plock *l, dev_t dev, ino_t ino, void *data)
{
	(void)dev;
	(void)ino;
	if (!l->blocked)
		user_add_plock(data, l);
	return 0;
}

static int user_add_node(struct ddlp_user *u, const char *path)
{
	char **n;

	for (size_t i = 0; i < u->n_nodes; i++)
		if (strcmp(u->nodes[i], path) == 0)
			return 0;
	n = realloc(u->nodes, (u->n_nodes + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	u->nodes = n;
	n[u->n_nodes] = strdup(path);
	if (!n[u->n_nodes])
		return -ENOMEM;
	u->n_nodes++;
	return 0;
}

/* The entry of pid for drive d: the scan goes process by process, so it
 * is the last one if there is one. */
static int user_of(struct ddlp_users *us, size_t d, const struct ddlp_procscan_hit *hit,
                   struct ddlp_user **out)
{
	struct users_of_drive *ud = &us->drives[d];
	struct ddlp_user *u;

	if (ud->n && ud->users[ud->n - 1]->pid == hit->pid) {
		*out = ud->users[ud->n - 1];
		return 0;
	}
	if (ud->n == ud->cap) {
		size_t cap = ud->cap ? ud->cap * 2 : 4;
		struct ddlp_user **a = realloc(ud->users, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		ud->users = a;
		ud->cap = cap;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->pid = hit->pid;
	u->have_name = ddlp_procscan_comm(hit, u->name, sizeof(u->name)) == 0;
	ud->users[ud->n++] = u;
	*out = u;
	return 0;
}

static int scan_found(const struct ddlp_procscan_hit *hit, void *data)
{
	struct ddlp_users *us = data;
	const struct key *k = key_find(us, hit->st->st_mode & S_IFMT, hit->st->st_rdev);
	const struct key *end = us->keys + us->n_keys;
	struct ddlp_user probe = { 0 };
	char path[4096];
	int r;

	if (!k || ((us->flags & DDLP_USERS_OTHERS) && hit->pid == us->self))
		return 0;
	/* the locks of this open file (and, on kernels that do not list
	 * them in fdinfo, the POSIX and flock locks /proc/locks names this
	 * process for) */
	r = ddlp_procscan_locks(hit, fdinfo_lock, &probe);
	if (r == -ENOENT)
		return 0; /* closed meanwhile */
	if (r == -ENOMEM || r == -EMFILE || r == -ENFILE)
		return r; /* not a fact about the process: the answer would be wrong */
	for (size_t i = 0; i < us->n_plocks; i++) {
		const struct pid_lock *pl = &us->plocks[i];

		if (pl->pid == hit->pid && pl->dev == hit->st->st_dev && pl->ino == hit->st->st_ino)
			user_add_plock(&probe, &pl->l);
	}
	r = ddlp_procscan_path(hit, path, sizeof(path));
	if (r < 0)
		return 0; /* closed meanwhile */
	for (; k < end && k->type == (hit->st->st_mode & S_IFMT) && k->rdev == hit->st->st_rdev; k++) {
		struct ddlp_user *u;

		r = user_of(us, k->drive, hit, &u);
		if (r < 0)
			return r;
		r = user_add_node(u, path);
		if (r < 0)
			return r;
		if (probe.lock != DDLP_USER_LOCK_NONE)
			user_add_lock(u, probe.lock, probe.mode == DDLP_EXCLUSIVE);
	}
	return 0;
}

static int collect_plock(const struct ddlp_plock *l, dev_t dev, ino_t ino, void *data)
{
	struct ddlp_users *us = data;

	if (l->blocked || l->pid <= 0 || (l->kind != DDLP_PLOCK_POSIX && l->kind != DDLP_PLOCK_FLOCK))
		return 0;
	if (us->n_plocks == us->cap_plocks) {
		size_t cap = us->cap_plocks ? us->cap_plocks * 2 : 16;
		struct pid_lock *a = realloc(us->plocks, cap * sizeof(*a));

		if (!a) {
			us->plocks_failed = true;
			return -1;
		}
		us->plocks = a;
		us->cap_plocks = cap;
	}
	us->plocks[us->n_plocks++] = (struct pid_lock){ dev, ino, l->pid, *l };
	return 0;
}

static int user_compare(const void *a, const void *b)
{
	const struct ddlp_user *x = *(struct ddlp_user *const *)a;
	const struct ddlp_user *y = *(struct ddlp_user *const *)b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static const struct ddlp_procscan_ops scan_ops = { scan_want, scan_found };

DDLP_EXPORT int ddlp_users_new(const struct ddlp_drive *const *drives, size_t n, unsigned flags,
                               struct ddlp_users **out)
{
	struct ddlp_users *us;
	size_t nk = 0;
	int r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if ((n && !drives) || (flags & ~(unsigned)DDLP_USERS_OTHERS))
		return -EINVAL;
	for (size_t d = 0; d < n; d++)
		if (!drives[d])
			return -EINVAL;
	us = calloc(1, sizeof(*us));
	if (!us)
		return -ENOMEM;
	us->n_drives = n;
	us->self = getpid();
	us->flags = flags;
	us->drives = calloc(n ? n : 1, sizeof(*us->drives));
	for (size_t d = 0; d < n; d++)
		nk += drives[d]->n_nodes;
	us->keys = calloc(nk ? nk : 1, sizeof(*us->keys));
	if (!us->drives || !us->keys) {
		ddlp_users_free(us);
		return -ENOMEM;
	}
	for (size_t d = 0; d < n; d++)
		for (size_t i = 0; i < drives[d]->n_nodes; i++) {
			const struct ddlp_node *node = &drives[d]->nodes[i];
			struct key k = { node->type, node->devnum, d };
			bool dup = false;

			/* an alias has the number of a canonical node */
			for (size_t j = 0; j < us->n_keys && !dup; j++)
				dup = key_compare(&us->keys[j], &k) == 0 && us->keys[j].drive == d;
			if (!dup)
				us->keys[us->n_keys++] = k;
		}
	qsort(us->keys, us->n_keys, sizeof(*us->keys), key_compare);

	if (n) {
		r = ddlp_proclocks_scan(collect_plock, us);
		if (r == 0 && us->plocks_failed)
			r = -ENOMEM;
		if (r == -ENOMEM) {
			ddlp_users_free(us);
			return r;
		}
		if (r < 0)
			dbg("reading /proc/locks: %s; only fdinfo tells the locks", strerror(-r));
		r = ddlp_procscan(&scan_ops, us, &us->unseen);
		if (r < 0) {
			ddlp_users_free(us);
			return r;
		}
	}
	for (size_t d = 0; d < n; d++)
		if (us->drives[d].n > 1)
			qsort(us->drives[d].users, us->drives[d].n, sizeof(*us->drives[d].users),
			      user_compare);
	free(us->keys);
	us->keys = NULL;
	us->n_keys = 0;
	free(us->plocks);
	us->plocks = NULL;
	us->n_plocks = us->cap_plocks = 0;
	*out = us;
	return 0;
}

DDLP_EXPORT size_t ddlp_users_get_drive_count(const struct ddlp_users *users)
{
	return users ? users->n_drives : 0;
}

DDLP_EXPORT unsigned ddlp_users_get_unseen(const struct ddlp_users *users)
{
	return users ? users->unseen : 0;
}

DDLP_EXPORT size_t ddlp_users_get_count(const struct ddlp_users *users, size_t drive)
{
	return users && drive < users->n_drives ? users->drives[drive].n : 0;
}

DDLP_EXPORT const struct ddlp_user *ddlp_users_get(const struct ddlp_users *users, size_t drive,
                                                   size_t index)
{
	if (!users || drive >= users->n_drives || index >= users->drives[drive].n)
		return NULL;
	return users->drives[drive].users[index];
}

DDLP_EXPORT pid_t ddlp_user_get_pid(const struct ddlp_user *user)
{
	return user ? user->pid : 0;
}

DDLP_EXPORT const char *ddlp_user_get_name(const struct ddlp_user *user)
{
	return user && user->have_name ? user->name : NULL;
}

DDLP_EXPORT size_t ddlp_user_get_node_count(const struct ddlp_user *user)
{
	return user ? user->n_nodes : 0;
}

DDLP_EXPORT const char *ddlp_user_get_node(const struct ddlp_user *user, size_t index)
{
	return user && index < user->n_nodes ? user->nodes[index] : NULL;
}

DDLP_EXPORT enum ddlp_user_lock ddlp_user_get_lock(const struct ddlp_user *user)
{
	return user ? user->lock : DDLP_USER_LOCK_NONE;
}

DDLP_EXPORT enum ddlp_mode ddlp_user_get_mode(const struct ddlp_user *user)
{
	return user ? user->mode : (enum ddlp_mode)0;
}

/* ------------------------------------------------------------------ *
 * Waiting until the unlocked openers of a held drive have closed it
 * ------------------------------------------------------------------ */

/* The number of processes in us that have a drive open without a lock. */
static size_t unlocked_openers(const struct ddlp_users *us)
{
	size_t n = 0;

	for (size_t d = 0; d < us->n_drives; d++)
		for (size_t i = 0; i < us->drives[d].n; i++)
			n += us->drives[d].users[i]->lock == DDLP_USER_LOCK_NONE;
	return n;
}

static void watch(int ifd, const char *path)
{
	/* an unlinked node (" (deleted)") or one of another mount namespace
	 * cannot be watched: the fallback interval covers it */
	if (ifd >= 0 && inotify_add_watch(ifd, path, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE) < 0)
		dbg("inotify_add_watch %s: %s", path, strerror(errno));
}

/* Watch the paths the unlocked openers have open (aliases among them).
 * Watches of one inotify instance on one inode are one watch: adding
 * again is cheap. */
static void watch_openers(int ifd, const struct ddlp_users *us)
{
	for (size_t d = 0; d < us->n_drives; d++)
		for (size_t i = 0; i < us->drives[d].n; i++) {
			const struct ddlp_user *u = us->drives[d].users[i];

			if (u->lock != DDLP_USER_LOCK_NONE)
				continue;
			for (size_t k = 0; k < u->n_nodes; k++)
				watch(ifd, u->nodes[k]);
		}
}

static void drain(int ifd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(ifd, buf, sizeof(buf)) > 0)
		;
}

static int scan_lock(const struct ddlp_lock *lock, const struct ddlp_drive **drives,
                     struct ddlp_users **us)
{
	for (size_t d = 0; d < lock->n; d++)
		drives[d] = lock->drives[d].drive;
	return ddlp_users_new(drives, lock->n, DDLP_USERS_OTHERS, us);
}

DDLP_EXPORT int ddlp_users_wait_unused(const struct ddlp_lock *lock, int timeout_ms,
                                       unsigned flags, struct ddlp_users **out)
{
	const struct ddlp_drive **drives;
	struct ddlp_users *us = NULL;
	int64_t deadline = timeout_ms < 0 ? -1 : ddlp_now_ms() + timeout_ms;
	int ifd = -1, r;

	if (out)
		*out = NULL;
	if (!lock || lock->n == 0 || (flags & ~(unsigned)DDLP_LOCK_INTERRUPTIBLE))
		return -EINVAL;
	drives = calloc(lock->n, sizeof(*drives));
	if (!drives)
		return -ENOMEM;
	if (timeout_ms != 0) {
		ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (ifd < 0)
			dbg("inotify_init1: %s; looking again every %d ms", strerror(errno),
			    DDLP_USERS_FALLBACK_MS);
		for (size_t d = 0; d < lock->n; d++)
			for (size_t i = 0; i < lock->drives[d].drive->n_nodes; i++)
				watch(ifd, lock->drives[d].drive->nodes[i].path);
	}
	for (;;) {
		int64_t now, left;
		struct pollfd pfd = { .fd = ifd, .events = POLLIN };

		/* the drives' own nodes are watched before the look, so a
		 * close between the two still wakes the sleep below */
		ddlp_users_free(us);
		us = NULL;
		if (ifd >= 0)
			drain(ifd);
		r = scan_lock(lock, drives, &us);
		if (r < 0)
			break;
		if (unlocked_openers(us) == 0) {
			r = 0;
			break;
		}
		if (ifd >= 0)
			watch_openers(ifd, us);
		now = ddlp_now_ms();
		if (deadline >= 0 && now >= deadline) {
			r = timeout_ms == 0 ? -EBUSY : -ETIMEDOUT;
			break;
		}
		left = DDLP_USERS_FALLBACK_MS;
		if (deadline >= 0 && deadline - now < left)
			left = deadline - now;
		r = poll(&pfd, ifd >= 0 ? 1 : 0, (int)left);
		if (r < 0 && errno == EINTR && (flags & DDLP_LOCK_INTERRUPTIBLE)) {
			r = -EINTR;
			break;
		}
	}
	if (ifd >= 0)
		close(ifd);
	free(drives);
	if (out && (r == 0 || r == -EBUSY || r == -ETIMEDOUT))
		*out = us;
	else
		ddlp_users_free(us);
	return r;
}
