/*
 * ddlp.pml: the Delicate Device Locking Protocol, version 2 (doc/ddlp.txt),
 * as a Promela model for spin: the sibling nodes of one drive (or two),
 * three processes taking them exclusive or shared, waiting, queueing and
 * one of them perhaps dying, and the properties the protocol promises.
 * README.md in this directory says what is modelled, what is left out and
 * why, and the figures; check-model.sh runs it (make check-model).
 *
 *   kernel.pml   the kernel objects: O_EXCL per driver, OFD locks, flock,
 *                close and its inotify events (section 1)
 *   client.pml   a process's requests: the steps of sections 5, 6, 7 in
 *                the order of section 4
 *   ddlp.pml     configurations, the properties, death, the processes
 *
 * Configurations (cpp switches, e.g. spin -DTWO_DRIVES -a ddlp.pml):
 *   (default)      one drive; processes 0 and 1 exclusive, 2 shared
 *   -DMIX_ESS      one drive; process 0 exclusive, 1 and 2 shared
 *   -DTWO_DRIVES   two drives A and B; processes 0 and 1 exclusive on both,
 *                  0 naming them A B, 1 naming them B A; 2 shared on B
 *   -DRX=n -DRS=n  requests each exclusive / shared process makes, one
 *                  after the other (default 2 and 2; with TWO_DRIVES 1 and
 *                  2); attempts and retries are not bounded
 *   -DNO_DEATH     nobody dies (default: any one process may die, at any
 *                  step of it)
 *   -DNO_TIMER     no fallback timer: a waiter wakes on close events only
 *   -DFAULT_REPEAT_ONCE  with NO_TIMER: repeat the attempt at once when
 *                  the refusing file changes only once in a row (the rule
 *                  of version 2's first text; it loses a wake-up)
 *   -DLIVE         the LTL property "finish", for pan -a -f
 *   -DONLY=n       check assertion property n alone (see below)
 * Seeded faults, each removing one rule (check-model.sh names the property
 * each must break):
 *   -DFAULT_NO_KEEP_CLAIM   a waiter closes its claim descriptor (6a)
 *   -DFAULT_NO_CLAIM_TEST   a shared request opens sr without O_EXCL (5)
 *   -DFAULT_NO_TURNSTILE    both of the above
 *   -DFAULT_CLAIM_ONLY      an exclusive request takes only the claim (5)
 *   -DFAULT_NO_ROLLBACK     a refused attempt keeps what it took (5, 6a)
 *   -DFAULT_NO_QUEUE        no queue check, no tickets (7b)
 *   -DFAULT_SHARED_NO_QUEUE shared requests skip the queue check, as a
 *                           version 1 reader (13)
 *   -DFAULT_ALL_HEADS       a request with a ticket does not look at the
 *                           queue: every ticket holder tries the claim (7b)
 *   -DFAULT_KEEP_CLAIMS     a request behind an older ticket keeps its
 *                           claims (7b, 7c)
 *   -DFAULT_UNORDERED       process 1 takes the drives in the order it
 *                           named them (4)
 *   -DFAULT_FILE_TICKET     a ticket is a file: it outlives its process (7b)
 *   -DFAULT_NO_REPEAT       with NO_TIMER: no repeat when the refusing
 *                           file changes (6c)
 *   -DFAULT_DRAIN_AFTER     with NO_TIMER: events drained after the attempt,
 *                           not before (6c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifdef FAULT_NO_TURNSTILE
#define FAULT_NO_KEEP_CLAIM
#define FAULT_NO_CLAIM_TEST
#endif

/* ---- configuration ---------------------------------------------------- */

/* modes */
#define NONE 0
#define SH   1
#define EX   2

/* requests per exclusive and per shared process */
#ifndef RX
#ifdef TWO_DRIVES
#define RX 1
#else
#define RX 2
#endif
#endif
#ifndef RS
#define RS 2
#endif

#ifdef TWO_DRIVES
#define NDRIVES 2
#define NPROC   3
/* 0: A and B exclusive; 1: B and A exclusive; 2: B shared */
#define MODE(p, d)  ((p) < 2 -> EX : ((d) == 1 -> SH : NONE))
#define ROUNDS(p)   ((p) < 2 -> RX : RS)
#define NSH         1
#else
#define NDRIVES 1
#define NPROC   3
#ifdef MIX_ESS
#define MODE(p, d)  ((p) == 0 -> EX : SH)
#define ROUNDS(p)   ((p) == 0 -> RX : RS)
#define NSH         2
#else
#define MODE(p, d)  ((p) < 2 -> EX : SH)
#define ROUNDS(p)   ((p) < 2 -> RX : RS)
#define NSH         1
#endif
#endif

/* The node process p takes at position o of its order (section 4).  With
 * FAULT_UNORDERED process 1 takes the drives in the order it named them
 * (B before A) instead of the merged global order. */
#if defined(FAULT_UNORDERED) && NDRIVES == 2
#define ORDER(p, o)  ((p) == 1 -> NODE(1 - DRV(o), KIND(o)) : (o))
#else
#define ORDER(p, o)  (o)
#endif

#ifdef NO_TIMER
#define TIMER 0
#else
#define TIMER 1
#endif

#ifdef FAULT_NO_KEEP_CLAIM
#define KEEP_CLAIM 0
#else
#define KEEP_CLAIM 1
#endif

#ifdef FAULT_NO_CLAIM_TEST
#define CLAIM_TEST(m) ((m) == EX)
#else
#define CLAIM_TEST(m) 1
#endif

#ifdef FAULT_NO_QUEUE
#define QUEUE 0
#else
#define QUEUE 1
#endif

/* ---- the properties' bookkeeping ------------------------------------- */

byte hx[NDRIVES];       /* exclusive holders of each drive */
byte hs[NDRIVES];       /* shared holders */
bool holding[NPROC];
/* PRE(p, d): the shared requests past their claim test (P open) when p got
 * the claim of drive d */
byte pre[NPROC * NDRIVES];
#define PRE(p, d)  pre[(p) * NDRIVES + (d)]
byte cmds[NPROC];       /* commands this request sent the drive (opens of sr) */
byte ndone;             /* processes finished (or dead) */
byte victim = NPROC;    /* the process that dies (NPROC: none yet) */
#if NDRIVES == 1
bool waitx[NPROC];      /* an exclusive request that has been refused and waits */
byte ahead[NPROC];      /* the waiting requests this one must not pass */
byte bypass[NPROC];     /* shared acquisitions while this exclusive one waits */
#endif

/* The properties checked by assertions (the LTL property "finish" is at
 * the end).  Each is named by a variable that pan prints at the head of a
 * failed assertion's expression; -DONLY=n checks property n alone (the
 * seeded faults are run so: each must break the property that the rule
 * it removes is there for). */
hidden byte mutual_exclusion, writer_preference, queue_order, quiet,
	waiter_holds_no_lock, death_releases, claim_head;
/* never two exclusive holders, nor an exclusive and a shared one (5) */
#define MUTUAL_EXCLUSION     1
/* a waiting exclusive request sees at most NSH shared acquisitions (7d) */
#define WRITER_PREFERENCE    2
/* nobody passes a waiting exclusive request it is behind: a request whose
 * attempt began while the other waited, unless it has an older or equal
 * ticket (7b, 7d) */
#define QUEUE_ORDER          3
/* a request sends the drive the commands of one open of each claim node
 * (and of P), over its whole wait (6b) */
#define QUIET                4
/* a waiter asleep holds no fcntl lock and no flock (6a; section 9's
 * friendly check and udev see no holder in it) */
#define WAITER_HOLDS_NO_LOCK 5
/* a dead process leaves no claim, no lock, no ticket (7b) */
#define DEATH_RELEASES       6
/* no shared request comes in while an exclusive request keeps the claim,
 * but those past their claim test when it got it (7a) */
#define CLAIM_HEAD           7
#ifndef ONLY
#define ONLY 0
#endif
#define CHECK(p, e)  assert(p##_NAME || (ONLY != 0 && ONLY != p) || (e))
#define MUTUAL_EXCLUSION_NAME     mutual_exclusion
#define WRITER_PREFERENCE_NAME    writer_preference
#define QUEUE_ORDER_NAME          queue_order
#define QUIET_NAME                quiet
#define WAITER_HOLDS_NO_LOCK_NAME waiter_holds_no_lock
#define DEATH_RELEASES_NAME       death_releases
#define CLAIM_HEAD_NAME           claim_head

#include "kernel.pml"

/* Commands sent to the drive: an open of sr that runs the driver's open
 * (a plain open, or an O_EXCL open that got the claim) sends 2 (section
 * 1).  A request sends at most the commands of the one open of sr that got
 * the claim, and a shared one those of P as well (6b); a request for
 * several drives that closes its claims behind an older ticket (7b) may
 * open them once more each time (CMDS_AGAIN). */
#define CMD_BOUND(p) \
	((MODE(p, 0) == EX -> 2 : (MODE(p, 0) == SH -> 4 : 0)) + \
	 (NDRIVES > 1 -> (MODE(p, NDRIVES - 1) == EX -> 2 : (MODE(p, NDRIVES - 1) == SH -> 4 : 0)) : 0))
#define COMMANDS(k) \
	cmds[me] = cmds[me] + (k); \
	CHECK(QUIET, cmds[me] <= CMD_BOUND(me)); \
	if \
	:: cmds[me] > CMD_BOUND(me) -> cmds[me] = CMD_BOUND(me) + 1  /* (unchecked: stays finite) */ \
	:: else -> skip \
	fi
#define CMDS_RESET()  cmds[me] = 0
#define CMDS_AGAIN(k) \
	if \
	:: cmds[me] >= (k) -> cmds[me] = cmds[me] - (k) \
	:: else -> skip \
	fi

/* The drive is taken: nobody else holds it against the mode; nobody
 * passed a waiting exclusive request it may not pass (sections 5, 7). */
inline MON_ACQUIRED()
{
	hd = 0;
	do
	:: hd < NDRIVES ->
		if
		:: MODE(me, hd) == EX ->
			CHECK(MUTUAL_EXCLUSION, (hx[hd] == 0 && hs[hd] == 0));
			hx[hd]++;
			PRE(me, hd) = 0
		:: MODE(me, hd) == SH ->
			CHECK(MUTUAL_EXCLUSION, hx[hd] == 0);
			hs[hd]++;
			/* no shared request comes in while an exclusive one
			 * keeps the claim, but those that were past their claim
			 * test when it got it (7a) */
			ki = 0;
			do
			:: ki < NPROC ->
				CHECK(CLAIM_HEAD, ki == me || ki == victim || MODE(ki, hd) != EX || !(FD(ki, NODE(hd, SR)) & EXCL) ||
				                  (PRE(ki, hd) & (1 << me)));
				ki++
			:: else -> break
			od
		:: else -> skip
		fi;
		hd++
	:: else -> break
	od;
	holding[me] = 1;
#if NDRIVES == 1
	CHECK(QUEUE_ORDER, ahead[me] == 0);
	ki = 0;
	do
	:: ki < NPROC ->
		if
		:: MODE(me, 0) == SH && waitx[ki] ->
			bypass[ki]++;
			CHECK(WRITER_PREFERENCE, bypass[ki] <= NSH)
		:: else -> skip
		fi;
		ahead[ki] = ahead[ki] & ~(1 << me);
		ki++
	:: else -> break
	od;
	waitx[me] = 0;
	bypass[me] = 0;
	ahead[me] = 0
#endif
}

inline MON_RELEASING()
{
	hd = 0;
	do
	:: hd < NDRIVES ->
		if
		:: MODE(me, hd) == EX -> hx[hd]--
		:: MODE(me, hd) == SH -> hs[hd]--
		:: else -> skip
		fi;
		hd++
	:: else -> break
	od;
	holding[me] = 0
}

/* me got the claim of drive d */
inline MON_CLAIM(d)
{
	PRE(me, d) = 0;
	if
	:: MODE(me, d) == EX ->
		ki = 0;
		do
		:: ki < NPROC ->
			if
			:: PF(ki, d) & OPEN -> PRE(me, d) = PRE(me, d) | (1 << ki)
			:: else -> skip
			fi;
			ki++
		:: else -> break
		od
	:: else -> skip
	fi
}

/* Refused, going to wait: from now on an exclusive request is waiting. */
inline MON_WAITS()
{
#if NDRIVES == 1
	if
	:: MODE(me, 0) == EX && !waitx[me] -> waitx[me] = 1; bypass[me] = 0
	:: else -> skip
	fi
#else
	skip
#endif
}

/* An attempt that makes the queue check (one that keeps no claim) takes
 * its place in the line here: it must not pass the exclusive requests
 * that wait now and are before it in the queue (all of them for a
 * request without a ticket; for one with ticket t those with an older
 * ticket).  A request that keeps the claim keeps its place. */
inline MON_ATTEMPT()
{
#if NDRIVES == 1
	if
	:: !(FD(me, NODE(0, SR)) & EXCL) ->
		ahead[me] = 0;
		ki = 0;
		do
		:: ki < NPROC ->
			if
			:: ki != me && waitx[ki] &&
			   !(MODE(me, 0) == EX && TK(me, 0) != 0 && TK(ki, 0) != 0 && TK(ki, 0) >= TK(me, 0)) ->
				ahead[me] = ahead[me] | (1 << ki)
			:: else -> skip
			fi;
			ki++
		:: else -> break
		od
	:: else -> skip
	fi
#else
	skip
#endif
}

/* A waiter going to sleep holds only its claim (and lock-less
 * descriptors): no fcntl lock, no flock, so udev's LOCK_SH and the
 * friendly programs of section 9 do not take it for a holder (6a). */
inline MON_SLEEP()
{
		hn = 0;
		do
		:: hn < NNODES -> CHECK(WAITER_HOLDS_NO_LOCK, !(FD(me, hn) & LOCKS)); hn++
		:: else -> break
		od;
		hd = 0;
		do
		:: hd < NDRIVES -> CHECK(WAITER_HOLDS_NO_LOCK, !(PF(me, hd) & LOCKS)); hd++
		:: else -> break
		od
}

inline MON_DEATH()
{
	hd = 0;
	do
	:: hd < NDRIVES -> PRE(me, hd) = 0; hd++
	:: else -> break
	od;
	if
	:: holding[me] -> MON_RELEASING()
	:: else -> skip
	fi;
	cmds[me] = 0;
#if NDRIVES == 1
	ki = 0;
	do
	:: ki < NPROC -> ahead[ki] = ahead[ki] & ~(1 << me); ki++
	:: else -> break
	od;
	waitx[me] = 0;
	bypass[me] = 0;
	ahead[me] = 0
#endif
}

/* A process dies: the kernel closes its descriptors, in any order (the
 * order of their numbers; any order covers every numbering).  Cancelling
 * a request (a timeout, ddlp_attempt_free) closes the same descriptors in
 * one of these orders. */
inline die()
{
	d_step { MON_DEATH() };
	do
	:: d_step { (FD(me, 0) & OPEN) -> sys_close(0) }
	:: d_step { (FD(me, 1) & OPEN) -> sys_close(1) }
	:: d_step { (FD(me, 2) & OPEN) -> sys_close(2) }
	:: d_step { (PF(me, 0) & OPEN) -> sys_close_p(0) }
#if NDRIVES > 1
	:: d_step { (FD(me, 3) & OPEN) -> sys_close(3) }
	:: d_step { (FD(me, 4) & OPEN) -> sys_close(4) }
	:: d_step { (FD(me, 5) & OPEN) -> sys_close(5) }
	:: d_step { (PF(me, 1) & OPEN) -> sys_close_p(1) }
#endif
#ifndef FAULT_FILE_TICKET
	:: d_step { HAS_Q(0) -> sys_close_q(0) }
#if NDRIVES > 1
	:: d_step { HAS_Q(1) -> sys_close_q(1) }
#endif
#endif
	:: else ->
	/* nothing of it is left: no claim, no lock, no ticket */
	d_step {
		hn = 0;
		do
		:: hn < NNODES -> CHECK(DEATH_RELEASES, FD(me, hn) == 0); hn++
		:: else -> break
		od;
		hd = 0;
		do
		:: hd < NDRIVES ->
			CHECK(DEATH_RELEASES, (PF(me, hd) == 0 && TK(me, hd) == 0));
			hd++
		:: else -> break
		od;
		WAIT_END()
	};
		break
	od
}

#include "client.pml"

/* One of the processes may die, at any step of it. */
active proctype killer()
{
#ifndef NO_DEATH
	if
	:: victim = 0
	:: victim = 1
	:: victim = 2
	:: skip
	fi
#else
	skip
#endif
}

init
{
	atomic {
		run client(0);
		run client(1);
		run client(2)
	}
}

#ifdef LIVE
/* No deadlock, no livelock: every process finishes, all its requests
 * served, or dies (under weak fairness: a process that can always move
 * moves; 7c). */
ltl finish { <> (ndone == NPROC) }
#endif
