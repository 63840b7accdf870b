/*
 * What the two stress tests share (tests/test-stress.c on loop devices,
 * tests/vm/suite/ddlp-vmtool.c on real drives): the overlap checker and the
 * shape of one round.
 *
 * The checker counts the holders of each drive in memory that every
 * participant maps (MAP_SHARED): a holder counts itself in right after its
 * lock call returned and out right before it unlocks, so two holders that
 * the protocol should have kept apart are seen together, whatever thread
 * or process they are in.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef DDLP_TESTS_STRESS_ROUND_H
#define DDLP_TESTS_STRESS_ROUND_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <ddlp.h>

struct holder_count {
	int excl;
	int shared;
};

/* Count a new holder in; true when it overlaps another (an exclusive one
 * with anybody, a shared one with an exclusive one). */
static inline bool holders_enter(struct holder_count *h, enum ddlp_mode mode)
{
	if (mode == DDLP_EXCLUSIVE)
		return __atomic_add_fetch(&h->excl, 1, __ATOMIC_SEQ_CST) != 1 ||
		       __atomic_load_n(&h->shared, __ATOMIC_SEQ_CST) != 0;
	__atomic_add_fetch(&h->shared, 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&h->excl, __ATOMIC_SEQ_CST) != 0;
}

static inline void holders_leave(struct holder_count *h, enum ddlp_mode mode)
{
	__atomic_sub_fetch(mode == DDLP_EXCLUSIVE ? &h->excl : &h->shared, 1, __ATOMIC_SEQ_CST);
}

/* The drives and modes of one round: one of the two drives, or (one round
 * in three) both in random order through ddlp_lock_many().  Returns how
 * many (1 or 2); the caller fills in req[k].spec for drive[k]. */
static inline int stress_pick(unsigned *seed, int drive[2], struct ddlp_request req[2])
{
	int n = rand_r(seed) % 3 == 0 ? 2 : 1;

	drive[0] = (int)(rand_r(seed) % 2);
	drive[1] = 1 - drive[0];
	for (int k = 0; k < n; k++)
		req[k].mode = rand_r(seed) % 2 ? DDLP_EXCLUSIVE : DDLP_SHARED;
	return n;
}

/* Try once; when busy, count a wait in *waited and wait up to wait_ms
 * (negative: without limit, so that a deadlock shows as a stall). */
static inline int stress_lock(const struct ddlp_request *req, int n, int wait_ms, unsigned flags,
                              long *waited, struct ddlp_lock **l)
{
	int r = n == 1 ? ddlp_lock(req[0].spec, req[0].mode, 0, flags, l)
	               : ddlp_lock_many(req, 2, 0, flags, l);

	if (r != -EBUSY)
		return r;
	__atomic_fetch_add(waited, 1, __ATOMIC_RELAXED);
	return n == 1 ? ddlp_lock(req[0].spec, req[0].mode, wait_ms, flags, l)
	              : ddlp_lock_many(req, 2, wait_ms, flags, l);
}

#endif
