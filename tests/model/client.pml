/*
 * client.pml: one process's requests under the protocol, version 2: the
 * queue check, the nodes in the global order, all or nothing, the claim
 * test, keeping the claim while waiting, tickets, waiting and retrying
 * (doc/ddlp.txt sections 4, 5, 6 and 7).
 *
 * A process runs ROUNDS(me) requests one after the other; MODE(me, d) is
 * its mode on drive d (NONE, SH, EX); ORDER(me, o) the node it takes at
 * position o (the global order, unless FAULT_UNORDERED).
 *
 * One attempt is a sequence of steps; the next one is read off what the
 * process holds (next_call below), so that descriptors kept from an
 * earlier attempt are not opened again.  A step is one system call, or
 * two on the same node whose outcome nobody can tell apart from one
 * (README.md, "Granularity"):
 *   - the OFD lock and the flock of sr, both or neither: every holder
 *     takes and drops them together, so the one is free exactly when the
 *     other is;
 *   - open and OFD lock of sg: the open alone decides (a lock on sg needs
 *     a description of sg, which an exclusive open keeps out);
 *   - open and OFD lock of bsg: an open of bsg is invisible to others;
 *   - open of P, its R lock and LOCK_SH (step 4): they cannot be refused
 *     while T holds the same locks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* results of next_call (in the scratch hres) */
#define CONT 0
#define REF  1          /* refused at a node */
#define DONE 2
#define REFQ 3          /* refused at a queue: behind an older ticket */

/* The phases of a process; each step of it is one d_step below. */
#define P_START 0       /* the next step starts an attempt */
#define P_TRY   1       /* in an attempt */
#define P_RB    2       /* refused: rolling back */
#define P_SLEEP 3       /* waiting for an event (NO_TIMER) */
#define P_HOLD  4       /* holding the drive */
#define P_REL   5       /* releasing it */
#define P_END   6       /* all requests done */
#define P_RBQ   7       /* refused at a queue: rolling back */
#define IN_RB   (phase == P_RB || phase == P_RBQ)

/* Section 7b: a request behind an older ticket closes the claims it keeps
 * (FAULT_KEEP_CLAIMS: it keeps them). */
#ifdef FAULT_KEEP_CLAIMS
#define DROP_CLAIMS 0
#else
#define DROP_CLAIMS (phase == P_RBQ)
#endif


hidden byte hd, hm, hn, ho, more, hres;

/* rf: the node that refused the latest attempt (a local of the process);
 * it matters only to the watches: without them it is scratch. */
#ifdef NO_TIMER
#define RF rf
#define WAKE (phase == P_SLEEP && ev[me])
#else
hidden byte hrf;
#define RF hrf
#define WAKE 0
#endif
hidden byte hbusy, hany, hearlier;

/* FAULT_CLAIM_ONLY: an exclusive request takes only the claim of sr (as
 * a program that knows only O_EXCL). */
#ifdef FAULT_CLAIM_ONLY
#define CLAIM_ONLY(n) \
	(MODE(me, DRV(n)) == EX && (KIND(n) != SR || (FD(me, n) & OPEN)))
#else
#define CLAIM_ONLY(n) 0
#endif
/* Is node n fully taken by me?
 *   sr:  the claim descriptor (X or T) open with both locks, or (shared,
 *        after the last step) P with both locks and T closed;
 *   sg, bsg: open with the lock. */
#define TAKEN(n) \
	(((FD(me, n) & OPEN) && (FD(me, n) & (RD | WR))) || \
	 (KIND(n) == SR && (PF(me, DRV(n)) & RD) && !(FD(me, n) & OPEN)))

/* The request's ticket: the same t in the queue of each drive it wants
 * exclusively, its age for all its drives. */
#define MY_TICKET  (TK(me, 0) != 0 -> TK(me, 0) : TK(me, NDRIVES - 1))

/*
 * Section 7b: the queue check of drive d, before anything else, no device
 * opened: F_OFD_GETLK with F_WRLCK over [1, t) of Q, t the request's
 * ticket, or over [1, end of file) without one.  A lock there is an
 * older ticket: busy.  (The request's own ticket is never reported.)
 * FAULT_ALL_HEADS: a request with a ticket does not look.
 */
inline queue_check(d)
{
	hany = 0;
	hearlier = 0;
	ki = 0;
	do
	:: ki < NPROC ->
		if
		:: ki != me && TK(ki, (d)) != 0 ->
			hany = 1;
			if
			:: MY_TICKET != 0 && TK(ki, (d)) < MY_TICKET -> hearlier = 1
			:: else -> skip
			fi
		:: else -> skip
		fi;
		ki++
	:: else -> break
	od;
	if
	:: MY_TICKET == 0 -> hbusy = hany
#ifdef FAULT_ALL_HEADS
	:: else -> hbusy = 0
#else
	:: else -> hbusy = hearlier
#endif
	fi;
	QOPEN(d)
}

/* The queue check is made for each requested drive whose claim the
 * request does not hold (section 7b: a waiter that keeps the claim is
 * past that queue).  FAULT_SHARED_NO_QUEUE: shared requests do not make
 * it (as a version 1 reader). */
#define KEEPS_CLAIM(d)  (FD(me, NODE(d, SR)) & EXCL)
#ifdef FAULT_SHARED_NO_QUEUE
#define NEEDS_Q(d)  (QUEUE && MODE(me, d) == EX && !KEEPS_CLAIM(d))
#else
#define NEEDS_Q(d)  (QUEUE && MODE(me, d) != NONE && !KEEPS_CLAIM(d))
#endif

/* Take both locks of sr, or neither: OFD (W for exclusive, R for shared)
 * and flock (LOCK_EX, LOCK_SH), on the main descriptor or on P. */
inline lock_sr(n, isp, x)
{
	sys_ofd((n), (isp), (x));
	if
	:: ok ->
		sys_flock((n), (isp), (x));
		if
		:: !ok && (isp) -> PF(me, DRV((n))) = PF(me, DRV((n))) & ~(RD | WR)
		:: !ok && !(isp) -> FD(me, (n)) = FD(me, (n)) & ~(RD | WR)
		:: else -> skip
		fi
	:: else -> skip
	fi
}

/*
 * The next step of the attempt, done (atomic): sets hres to CONT (go on),
 * REF or REFQ (refused; RF is the node or queue that refused) or DONE
 * (everything taken).  The steps, section 5 with 6b and 7b:
 *   0. the queue check of each drive whose claim the request does not hold;
 *   1. sr: open with O_EXCL (X for exclusive; the claim test T for shared,
 *      FAULT_NO_CLAIM_TEST: a plain open), unless kept;
 *   2. sr: OFD lock and flock through it;
 *   3. sg (O_EXCL for exclusive), bsg (unless kept): open and OFD lock;
 *   4. shared: P, its R lock and LOCK_SH, then T closed (the claim given
 *      back); then the queue descriptors closed, tickets with them (kept
 *      until the request has the drive).
 */
inline next_call()
{
	hres = CONT;
	/* step 0, drive by drive */
	hd = 0;
	do
	:: hd < NDRIVES && (q0 & (1 << hd)) -> hd++
	:: hd < NDRIVES && !(q0 & (1 << hd)) && !NEEDS_Q(hd) ->
		/* decided once, at the start of the attempt */
		q0 = q0 | (1 << hd); hd++
	:: else -> break
	od;
	if
	:: hd < NDRIVES ->
		queue_check(hd);
		q0 = q0 | (1 << hd);
		printf("MSC: %d queue check Q%d (own ticket %d) -> busy %d\n", me, hd, TK(me, hd), hbusy);
		if
		:: hbusy -> hres = REFQ; RF = QNODE(hd)
		:: else -> skip
		fi
	:: else ->
		/* steps 1-3: the first node in the order not fully taken */
		ho = 0;
		do
		:: ho < NNODES && (MODE(me, DRV(ORDER(me, ho))) == NONE ||
		                  TAKEN(ORDER(me, ho)) || CLAIM_ONLY(ORDER(me, ho))) -> ho++
		:: else -> break
		od;
		if
		:: ho < NNODES ->
			hn = ORDER(me, ho);
			hm = MODE(me, DRV(hn));
			if
			:: KIND(hn) == SR && !(FD(me, hn) & OPEN) ->
				/* step 1: open sr with O_EXCL: the claim (X), or for a
				 * shared request the claim test (T) */
				sys_open(hn, CLAIM_TEST(hm));
				if
				:: !ok -> hres = REF; RF = hn
				:: else -> COMMANDS(2); MON_CLAIM(DRV(hn))
				fi
			:: KIND(hn) == SR && (FD(me, hn) & OPEN) ->
				/* step 2: OFD lock and flock on X or T */
				lock_sr(hn, 0, hm == EX);
				if
				:: !ok -> hres = REF; RF = hn
				:: else -> skip
				fi
			:: KIND(hn) == SG ->
				/* step 3: sg, O_EXCL for exclusive; its OFD lock */
				sys_open(hn, hm == EX);
				if
				:: ok ->
					sys_ofd(hn, 0, hm == EX);
					if
					:: !ok -> sys_close(hn)     /* an sg descriptor is never kept */
					:: else -> skip
					fi
				:: else -> skip
				fi;
				if
				:: !ok -> hres = REF; RF = hn
				:: else -> skip
				fi
			:: KIND(hn) == BSG ->
				/* step 3: bsg (a descriptor kept from an earlier attempt
				 * is not opened again); its OFD lock */
				if
				:: !(FD(me, hn) & OPEN) -> sys_open(hn, 0)
				:: else -> skip
				fi;
				sys_ofd(hn, 0, hm == EX);
				if
				:: !ok -> hres = REF; RF = hn
				:: else -> skip
				fi
			fi
		:: else ->
			/* step 4, shared drives: P with its R lock and LOCK_SH,
			 * then close T */
			hd = 0;
			do
			:: hd < NDRIVES && !(MODE(me, hd) == SH && (FD(me, NODE(hd, SR)) & EXCL)) -> hd++
			:: else -> break
			od;
			if
			:: hd == NDRIVES ->
				/* everything taken: the queue descriptors are closed,
				 * the tickets with them (section 7b: kept until the
				 * request has the drive), one drive a step */
				hd = 0;
				do
				:: hd < NDRIVES && !HAS_Q(hd) -> hd++
				:: else -> break
				od;
				if
				:: hd < NDRIVES -> sys_close_q(hd)
				:: else -> hres = DONE
				fi
			:: else ->
				hn = NODE(hd, SR);
				if
				:: !(PF(me, hd) & OPEN) ->
					printf("MSC: %d open sr%d (P) -> ok\n", me, hd);
					PF(me, hd) = OPEN;
					COMMANDS(2);
					lock_sr(hn, 1, 0);
					if
					:: !ok -> hres = REF; RF = hn
					:: else -> skip
					fi
				:: (PF(me, hd) & OPEN) && !(PF(me, hd) & RD) ->
					lock_sr(hn, 1, 0);
					if
					:: !ok -> hres = REF; RF = hn
					:: else -> skip
					fi
				:: else -> sys_close(hn)
				fi
			fi
		fi
	fi
}

/*
 * After a refusal (section 6a): release what this attempt took, in the
 * reverse order, one node a step, except:
 *   - F's claim descriptor (X or T) stays open, its OFD lock and flock
 *     released (F_UNLCK, LOCK_UN);
 *   - a descriptor without a lock stays open (the node whose lock step
 *     refused after its open succeeded, or one kept from an earlier
 *     attempt), unless it is an sg node (never kept: sg's open is what
 *     refuses others).
 * After a refusal at a queue (behind an older ticket) the claims kept are
 * closed too (section 7b).  Sets more when it did something.
 */
inline rollback_next()
{
	more = 0;
	ho = NNODES;
	do
	:: ho > 0 && !more ->
		ho--;
		hn = ORDER(me, ho);
		if
		:: MODE(me, DRV(hn)) == NONE -> skip
		:: KIND(hn) == SR && (PF(me, DRV(hn)) & OPEN) ->
			sys_close_p(DRV(hn)); more = 1
		:: KIND(hn) == SR && !(PF(me, DRV(hn)) & OPEN) && DROP_CLAIMS && (FD(me, hn) & OPEN) ->
			/* behind an older ticket: the claims kept are closed (and
			 * the open that got one may come again) */
			sys_close(hn); more = 1;
			PRE(me, DRV(hn)) = 0;
			CMDS_AGAIN(2)
		:: KIND(hn) == SR && !(PF(me, DRV(hn)) & OPEN) && KEEP_CLAIM && (FD(me, hn) & LOCKS) ->
			printf("MSC: %d unlock sr%d (keeps the claim)\n", me, DRV(hn));
			FD(me, hn) = FD(me, hn) & ~LOCKS; more = 1
		:: KIND(hn) == SR && !(PF(me, DRV(hn)) & OPEN) && !KEEP_CLAIM && (FD(me, hn) & OPEN) ->
			sys_close(hn); more = 1
		:: KIND(hn) == SG && (FD(me, hn) & OPEN) ->
			sys_close(hn); more = 1
		:: KIND(hn) == BSG && (FD(me, hn) & LOCKS) ->
			sys_close(hn); more = 1
		:: else -> skip
		fi
	:: else -> break
	od;
	skip    /* the loop's exit must stay inside the d_step */
}

/* Release of a holder: every descriptor, the last node of the order
 * first (section 5). */
inline release_next()
{
	more = 0;
	ho = NNODES;
	do
	:: ho > 0 && !more ->
		ho--;
		hn = ORDER(me, ho);
		if
		:: KIND(hn) == SR && (PF(me, DRV(hn)) & OPEN) -> sys_close_p(DRV(hn)); more = 1
		:: FD(me, hn) & OPEN -> sys_close(hn); more = 1
		:: else -> skip
		fi
	:: else -> break
	od;
	skip
}

/* A refused exclusive request that will wait takes a ticket in the queue
 * of each drive it wants exclusively: t = the clock, the same t in each
 * queue; two requests in one ms get equal tickets (section 7b). */
#define NEEDS_TICKET(d) \
	(MODE(me, d) == EX && TK(me, d) == 0)
#define WANTS_TICKET \
	(QUEUE && (NEEDS_TICKET(0) || (NDRIVES > 1 && NEEDS_TICKET(NDRIVES - 1))))

/* Is the last ticket issued still live?  (If not, sys_close_q left the
 * clock one past the last live ticket: later than all of them.) */
#if NPROC * NDRIVES > 3
#define CLK_LIVE (clk != 0 && (tk[0] == clk || tk[1] == clk || tk[2] == clk || \
                               tk[3] == clk || tk[4] == clk || tk[5] == clk))
#else
#define CLK_LIVE (clk != 0 && (tk[0] == clk || tk[1] == clk || tk[2] == clk))
#endif

inline set_tickets()
{
	hd = 0;
	do
	:: hd < NDRIVES ->
		if
		:: NEEDS_TICKET(hd) -> TK(me, hd) = clk
		:: else -> skip
		fi;
		hd++
	:: else -> break
	od;
	printf("MSC: %d takes ticket %d\n", me, clk)
}

/* What a rollback step would release on node n (rollback_next). */
#define RB_REL(n) \
	(MODE(me, DRV(n)) != NONE && \
	 ((KIND(n) == SR && ((PF(me, DRV(n)) & OPEN) || \
	                     (DROP_CLAIMS && (FD(me, n) & OPEN)) || \
	                     (KEEP_CLAIM && (FD(me, n) & LOCKS)) || \
	                     (!KEEP_CLAIM && (FD(me, n) & OPEN)))) || \
	  (KIND(n) == SG && (FD(me, n) & OPEN)) || \
	  (KIND(n) == BSG && (FD(me, n) & LOCKS))))
#ifdef FAULT_NO_ROLLBACK
#define ANY_RB 0
#elif NDRIVES > 1
#define ANY_RB (RB_REL(0) || RB_REL(1) || RB_REL(2) || RB_REL(3) || RB_REL(4) || RB_REL(5))
#else
#define ANY_RB (RB_REL(0) || RB_REL(1) || RB_REL(2))
#endif

/* Anything still open (release_next). */
#if NDRIVES > 1
#define ANY_OPEN ((FD(me, 0) | FD(me, 1) | FD(me, 2) | FD(me, 3) | FD(me, 4) | FD(me, 5) | \
                   PF(me, 0) | PF(me, 1)) & OPEN)
#else
#define ANY_OPEN ((FD(me, 0) | FD(me, 1) | FD(me, 2) | PF(me, 0)) & OPEN)
#endif

/* The start of an attempt: inotify events are read and discarded before
 * it (section 6), never after. */
inline begin_attempt()
{
#ifndef FAULT_DRAIN_AFTER
	DRAIN();
#endif
	q0 = 0;
	MON_ATTEMPT();
	printf("MSC: %d attempt\n", me)
}

inline after_call()
{
	if
	:: hres == DONE ->
		printf("MSC: %d HOLDS\n", me);
		MON_ACQUIRED();
		WAIT_END();
		q0 = 0;
		phase = P_HOLD
	:: hres == REF -> phase = P_RB
	:: hres == REFQ -> phase = P_RBQ
	:: else -> phase = P_TRY
	fi
}

/*
 * Waiting (section 6c, 6d).  With the fallback timer a waiter may retry at
 * any moment; the model lets it go on at once, which covers every wake-up
 * (a retry that an event or the timer would bring later is the same as
 * one after the other processes' steps in between).  With NO_TIMER it
 * watches the one file, node or queue, that refused it: when that file
 * changes, the new one is watched, the events drained and the attempt
 * repeated at once, every time (FAULT_REPEAT_ONCE: not twice in a row, as
 * version 2's first text had it, which loses a wake-up; FAULT_NO_REPEAT:
 * never); else it sleeps until an event.
 */
inline after_refusal()
{
#ifdef FAULT_DRAIN_AFTER
	DRAIN();
#endif
	MON_WAITS();
	MON_SLEEP();
#ifdef NO_TIMER
	if
	:: rf != watch[me] ->
		/* the old watch removed, the new one in place */
		watch[me] = rf;
		ev[me] = 0;
#ifdef FAULT_NO_REPEAT
		phase = P_SLEEP
#else
#ifndef FAULT_REPEAT_ONCE
		phase = P_START
#else
		if
		:: !again -> phase = P_START; again = 1
		:: else -> phase = P_SLEEP; again = 0
		fi
#endif
#endif
	:: else -> phase = P_SLEEP; again = 0
	fi;
	rf = 0
#else
	phase = P_START
#endif
}

/* After a release step: the last one ends the request. */
inline after_release()
{
	if
	:: ANY_OPEN -> phase = P_REL
	:: else ->
		rnd++;
		CMDS_RESET();
		if
		:: rnd < ROUNDS(me) -> phase = P_START
		:: else -> phase = P_END
		fi
	fi
}

proctype client(byte me)
{
	byte phase;     /* P_* */
	byte rnd;       /* requests done */
	byte q0;        /* drives whose queue check this attempt made */
#ifdef NO_TIMER
	byte rf;        /* the node that refused the latest attempt */
	bool again;     /* this attempt is a repeat at once */
#endif

#ifdef NO_TIMER
	watch[me] = NOWATCH;
#endif
	{
	do
	:: d_step { (phase == P_START || WAKE) -> begin_attempt(); next_call(); after_call() }
	:: d_step { phase == P_TRY -> next_call(); after_call() }
	:: d_step { IN_RB && ANY_RB -> rollback_next() }
	:: d_step {
		IN_RB && !ANY_RB ->
		/* an exclusive request that will wait takes a ticket, in the
		 * same ms as the last ticket issued (or the first ticket) */
		if
		:: WANTS_TICKET ->
			if
			:: clk == 0 -> clk = 1
			:: else -> skip
			fi;
			set_tickets()
		:: else -> skip
		fi;
		after_refusal()
	   }
	:: d_step {
		/* ... or later than the last ticket issued */
		IN_RB && !ANY_RB && WANTS_TICKET && CLK_LIVE ->
		clk++;
		set_tickets();
		after_refusal()
	   }
	:: d_step {
		phase == P_HOLD ->
		/* let go: every descriptor, in the reverse order */
		printf("MSC: %d releases\n", me);
		MON_RELEASING();
		release_next();
		after_release()
	   }
	:: d_step { phase == P_REL -> release_next(); after_release() }
	:: phase == P_END -> break
	od
	} unless { victim == me };
	if
	:: victim == me -> printf("MSC: %d DIES\n", me); die()
	:: else -> skip
	fi;
	ndone++
}
