/*
 * Converting a held drive between shared and exclusive.
 *
 * Which steps are atomic (see also libddlp(3), "Conversion"):
 *   - fcntl locks: an OFD (or POSIX) lock changes type on the same
 *     descriptor atomically, both ways: the node is never free.
 *   - flock: a downgrade (LOCK_EX to LOCK_SH) is atomic on Linux; an
 *     upgrade is not (the kernel drops the shared lock before it tries the
 *     exclusive one), so it is done last, after every fcntl upgrade has
 *     proved that no other DDLP holder is there.
 *   - O_EXCL needs a new open.  sr: the claim tolerates our other opens, so
 *     a downgrade opens the new descriptor before it closes the old one (no
 *     gap); an upgrade opens the O_EXCL descriptor first, then moves the
 *     fcntl lock and the flock to it (a gap of two system calls on that
 *     node, covered by the claim against exclusive holders).  sg: its
 *     exclusive open tolerates no other open, ours included, so the old
 *     descriptor is closed before the new one is opened (a gap on the sg
 *     node, while the block node stays held).
 * On failure the drive is kept in its old mode when the failure came before
 * any descriptor was exchanged (an upgrade refused at the claim of the
 * block node, which a waiting exclusive request keeps: doc/ddlp.txt, 7,
 * is such a failure); otherwise the drive is released entirely
 * (never left half-locked) and its descriptors read as -EBADF.
 * Conversion is not offered in the POSIX backend (-EOPNOTSUPP): its
 * descriptors are shared between the process's holders.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "ddlp-private.h"

/* Exchange node i's descriptor for one opened for mode (with O_EXCL where
 * the mode wants it), carrying the fcntl lock and flock of mode. */
static int reopen_node(struct ddlp_lock *lock, struct ddlp_lock_drive *ld, size_t i,
                       enum ddlp_mode mode)
{
	const struct ddlp_node *n = &ld->drive->nodes[i];
	bool excl = ddlp_lockset_node_excl(ld->drive, i, mode);
	struct ddlp_held *h = &ld->held[i];
	int fd, r;

	if (n->excl == DDLP_EXCL_OPEN || mode == DDLP_SHARED) {
		/* sg (either way), or a downgrade: the old descriptor goes first
		 * for sg; for others the new shared one coexists with the old */
		if (n->excl == DDLP_EXCL_OPEN) {
			close(h->fd);
			h->fd = -1;
		}
		r = ddlp_node_open_locked(ld->drive, n, mode, lock->backend, excl, &fd);
		if (r < 0)
			return r;
		if (h->fd >= 0)
			close(h->fd);
		h->fd = fd;
		return 0;
	}
	/* sr upgrade: claim first, then move the locks */
	fd = open(n->path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_EXCL);
	if (fd < 0) {
		r = errno == EBUSY ? -EBUSY : -errno;
		ddlp_conflict_set(ld->drive, n, r, "exclusive open");
		return r;
	}
	close(h->fd);
	h->fd = -1;
	r = ddlp_node_relock(fd, n, DDLP_EXCLUSIVE, lock->backend);
	if (r < 0) {
		ddlp_conflict_set(ld->drive, n, r, "write lock");
		close(fd);
		return r;
	}
	h->fd = fd;
	return 0;
}

static void release_drive(struct ddlp_lock *lock, struct ddlp_lock_drive *ld)
{
	for (size_t i = ld->drive->n_nodes; i-- > 0;)
		if (ld->held[i].fd >= 0)
			ddlp_registry_release(lock, &ld->held[i]);
}

static bool held(const struct ddlp_lock_drive *ld, size_t i)
{
	return ld->held[i].fd >= 0;
}

DDLP_EXPORT int ddlp_lock_convert(struct ddlp_lock *lock, size_t d, enum ddlp_mode mode,
                                  int timeout_ms)
{
	struct ddlp_lock_drive *ld;
	bool exchanged = false;
	size_t i, k;
	int r = 0;

	(void)timeout_ms;
	ddlp_conflict_clear();
	if (!lock || d >= lock->n || (mode != DDLP_SHARED && mode != DDLP_EXCLUSIVE))
		return -EINVAL;
	if (lock->orphaned)
		return -EBADF;
	ld = &lock->drives[d];
	if (!held(ld, ld->caller))
		return -EBADF;
	if (ld->mode == mode)
		return 0;
	if (lock->backend == DDLP_BACKEND_POSIX)
		return -EOPNOTSUPP;

	if (mode == DDLP_SHARED) {
		/* fcntl and flock downgrades in place: atomic */
		for (i = 0; i < ld->drive->n_nodes; i++)
			if (held(ld, i) && (r = ddlp_node_relock(ld->held[i].fd, &ld->drive->nodes[i],
			                                         DDLP_SHARED, lock->backend)) < 0)
				break;
	} else {
		/* fcntl upgrades in place: atomic, and they prove that no other
		 * DDLP holder is there; flock last (not atomic) */
		for (i = 0; i < ld->drive->n_nodes; i++) {
			struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

			if (held(ld, i) && fcntl(ld->held[i].fd, F_OFD_SETLK, &fl) < 0) {
				r = -EBUSY;
				ddlp_conflict_set(ld->drive, &ld->drive->nodes[i], r, "write lock");
				break;
			}
		}
		for (k = 0; r == 0 && k < ld->drive->n_nodes; k++)
			if (held(ld, k) && ld->drive->nodes[k].kind == DDLP_NODE_BLOCK &&
			    flock(ld->held[k].fd, LOCK_EX | LOCK_NB) < 0) {
				r = -EBUSY;
				ddlp_conflict_set(ld->drive, &ld->drive->nodes[k], r, "flock");
				/* the kernel dropped our LOCK_SH: take it back */
				if (flock(ld->held[k].fd, LOCK_SH | LOCK_NB) < 0)
					i = SIZE_MAX; /* lost: release the drive below */
			}
		if (r < 0 && i != SIZE_MAX) {
			/* back to shared: fcntl downgrades are atomic */
			for (k = 0; k < i && k < ld->drive->n_nodes; k++) {
				struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };

				if (held(ld, k))
					fcntl(ld->held[k].fd, F_OFD_SETLK, &fl);
			}
			return r;
		}
		if (r < 0) {
			release_drive(lock, ld);
			return r;
		}
	}
	if (r < 0) {
		release_drive(lock, ld);
		return r;
	}

	/* an sg alias is not held under an exclusive lock (and its open would
	 * refuse our exclusive open of sg): drop it before the reopen */
	if (mode == DDLP_EXCLUSIVE)
		for (i = 0; i < ld->drive->n_nodes; i++)
			if (held(ld, i) && !ddlp_lockset_node_wanted(ld->drive, i, mode))
				ddlp_registry_release(lock, &ld->held[i]);

	/* O_EXCL changes need new descriptors, in the global order */
	for (i = 0; i < ld->drive->n_nodes; i++) {
		const struct ddlp_node *n = &ld->drive->nodes[i];

		if (!held(ld, i) || n->excl == DDLP_EXCL_NONE || (n->flags & DDLP_NODE_ALIAS))
			continue;
		ddlp_registry_fd_begin();
		r = reopen_node(lock, ld, i, mode);
		ddlp_registry_fd_end();
		if (r < 0 && !exchanged && mode == DDLP_EXCLUSIVE && held(ld, i)) {
			/* the claim was refused (an exclusive request waits with
			 * it, or an O_EXCL-only program has it) before any
			 * descriptor changed: back to shared, still held */
			for (k = 0; k < ld->drive->n_nodes; k++)
				if (held(ld, k))
					ddlp_node_relock(ld->held[k].fd, &ld->drive->nodes[k], DDLP_SHARED,
					                 lock->backend);
			ddlp_conflict_find_holder();
			return r;
		}
		if (r < 0) {
			release_drive(lock, ld);
			ddlp_conflict_find_holder();
			return r;
		}
		exchanged = true;
	}
	/* and back under a shared lock */
	for (i = 0; mode == DDLP_SHARED && i < ld->drive->n_nodes; i++)
		if (!held(ld, i) && ddlp_lockset_node_wanted(ld->drive, i, mode)) {
			r = ddlp_registry_acquire(lock, ld->drive, &ld->drive->nodes[i], mode, false,
			                          &ld->held[i]);
			if (r < 0) {
				release_drive(lock, ld);
				return r;
			}
		}
	ld->mode = mode;
	ld->caller = ddlp_lock_caller_node(ld);
	{
		int fd = ld->held[ld->caller].fd;
		int fl = fcntl(fd, F_GETFL);

		if (fl >= 0 && (fl & O_NONBLOCK))
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	}
	return 0;
}
