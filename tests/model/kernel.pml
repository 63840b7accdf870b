/*
 * kernel.pml: the kernel objects of a drive's sibling nodes, as Linux 6.1
 * gives them (doc/ddlp.txt section 1, measured in the test VM): O_EXCL per
 * driver, OFD locks, flock, and inotify's close events.
 *
 * Every open file description a process has is one byte of flags below;
 * a node's state (who has its claim, which locks lie on it) is not stored
 * apart but read off the descriptors, so that closing a descriptor
 * releases exactly what it held, as the kernel does (release on close;
 * release on process death is the same closes, done by the kernel).
 *
 * Each system call is atomic (it runs inside one d_step of the caller):
 * open, fcntl(F_OFD_SETLK), flock, close.  Every try is non-blocking: it
 * succeeds or is refused, never waits.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Node kinds of one drive, in the global order (section 4): block node
 * first, then sg, then bsg. */
#define SR  0   /* /dev/srN: O_EXCL = the claim of the block device */
#define SG  1   /* /dev/sgN: O_EXCL = exclusive open */
#define BSG 2   /* /dev/bsg/H:C:T:L: O_EXCL means nothing */

/* Node n is at position n of the global order: the order merges the
 * drives' lists (section 4), so sr0 sr1 sg0 sg1 bsg0 bsg1 for two drives. */
#define NNODES      (3 * NDRIVES)
#define NODE(d, k)  ((k) * NDRIVES + (d))
#define KIND(n)     ((n) / NDRIVES)
#define DRV(n)      ((n) % NDRIVES)
/* Inotify watch targets: the nodes, then Q of each drive. */
#define QNODE(d)    (NNODES + (d))
#define NOWATCH     255

/* Flags of one open file description. */
#define OPEN 1      /* open */
#define EXCL 2      /* opened with O_EXCL and got it (sr: the claim; sg: exclusive open) */
#define RD   4      /* OFD read lock on the whole node */
#define WR   8      /* OFD write lock on the whole node */
#define FSH  16     /* flock LOCK_SH */
#define FEX  32     /* flock LOCK_EX */
#define LOCKS (RD | WR | FSH | FEX)

/* fd[p*NNODES+n]: process p's descriptor of node n (X or T on an sr node,
 * the sg or bsg descriptor).  pf[p*NDRIVES+d]: the second descriptor P of
 * drive d's sr node (a shared holder's plain open after the claim test,
 * section 5). */
#define FD(p, n)  fd[(p) * NNODES + (n)]
#define PF(p, d)  pf[(p) * NDRIVES + (d)]
byte fd[NPROC * NNODES];
byte pf[NPROC * NDRIVES];

/* The queue file Q of each drive (section 7b): the ticket of process p
 * on drive d is an OFD read lock on byte [t, t+1) of Q, t >= 1 (0: none),
 * through a descriptor of Q that p keeps until it has the drive. */
#define TK(p, d)  tk[(p) * NDRIVES + (d)]
byte tk[NPROC * NDRIVES];
byte clk;       /* the last ticket's time (abstract CLOCK_MONOTONIC, ms) */

/* inotify (section 6c): each waiter watches one file, the node or the
 * queue file that refused its latest attempt; ev: an event is pending.
 * qo: the queue files a request has opened (kept open until it has the
 * drive, so that its own looks do not wake anybody).  Only with NO_TIMER:
 * with the fallback timer a waiter may retry at any moment, which is
 * every wake-up an event could give, so the events are left out there
 * (they would only multiply the states). */
#ifdef NO_TIMER
byte watch[NPROC];
bool ev[NPROC];
byte qo[NPROC];
#define DRAIN()        ev[me] = 0
#define WAIT_END()     watch[me] = NOWATCH; ev[me] = 0; again = 0
#define QOPEN(d)       qo[me] = qo[me] | (1 << (d))
#define HAS_Q(d)       (TK(me, d) != 0 || (qo[me] & (1 << (d))))
#else
#define DRAIN()        skip
#define WAIT_END()     skip
#define QOPEN(d)       skip
#define HAS_Q(d)       (TK(me, d) != 0)
#endif

/* Scratch of the d_steps below; not part of the state. */
hidden byte om, ki, kj;
hidden int tkn;  /* tickets already renumbered */
hidden byte ok;

/* The name of node n, for the trail (spin -t: see README.md). */
inline pnode(n)
{
	if
	:: KIND((n)) == SR -> printf("sr%d", DRV((n)))
	:: KIND((n)) == SG -> printf("sg%d", DRV((n)))
	:: else -> printf("bsg%d", DRV((n)))
	fi
}

/* om := the flags of every other open file description of node n than
 * the one being used (self: P if isp, else the main descriptor of me). */
inline others(n, isp)
{
	om = 0;
	ki = 0;
	do
	:: ki < NPROC ->
		if
		:: ki != me || (isp) -> om = om | FD(ki, (n))
		:: else -> skip
		fi;
		if
		:: KIND((n)) == SR && (ki != me || !(isp)) -> om = om | PF(ki, DRV((n)))
		:: else -> skip
		fi;
		ki++
	:: else -> break
	od
}

/* A close of node n (or of Q: n = QNODE(d)): IN_CLOSE_* for every watcher,
 * the closing process's own watch included.  The close is atomic here,
 * the locks gone when the event comes; Linux sends the event a moment
 * before, which the waiter's quick retries (section 6d) are for: with
 * NO_TIMER the model takes them to outlast that moment (README.md). */
inline notify(n)
{
#ifdef NO_TIMER
	kj = 0;
	do
	:: kj < NPROC ->
		if
		:: watch[kj] == (n) ->
			ev[kj] = 1
		:: else -> skip
		fi;
		kj++
	:: else -> break
	od;
#endif
	skip    /* the loop's exit stays inside the caller's d_step */
}

/* open(2) of node n by me, O_EXCL or not: ok or refused (EBUSY).
 *   sr:  O_EXCL fails while another open file has the claim; a plain open
 *        always succeeds.
 *   sg:  O_EXCL fails while anybody has it open; any open fails while
 *        somebody has it open with O_EXCL.
 *   bsg: always succeeds. */
inline sys_open(n, excl)
{
	others((n), 0);
	if
	:: KIND((n)) == SR && (excl) -> ok = !(om & EXCL)
	:: KIND((n)) == SG && (excl) -> ok = !(om & OPEN)
	:: KIND((n)) == SG && !(excl) -> ok = !(om & EXCL)
	:: else -> ok = 1
	fi;
	if
	:: ok && (excl) -> FD(me, (n)) = OPEN | EXCL
	:: ok && !(excl) -> FD(me, (n)) = OPEN
	:: else -> skip
	fi;
	printf("MSC: %d open ", me); pnode((n));
	if :: (excl) -> printf(" O_EXCL") :: else -> skip fi;
	if :: ok -> printf(" -> ok\n") :: else -> printf(" -> EBUSY\n") fi
}

/* fcntl(F_OFD_SETLK) over the whole node, on me's main descriptor (isp 0)
 * or on P (isp 1): a read lock conflicts with another description's write
 * lock, a write lock with any other description's lock (two descriptions
 * of one process conflict too). */
inline sys_ofd(n, isp, w)
{
	others((n), (isp));
	if
	:: (w) -> ok = !(om & (RD | WR))
	:: else -> ok = !(om & WR)
	fi;
	if
	:: ok && (isp) -> PF(me, DRV((n))) = PF(me, DRV((n))) | RD
	:: ok && !(isp) && (w) -> FD(me, (n)) = FD(me, (n)) | WR
	:: ok && !(isp) && !(w) -> FD(me, (n)) = FD(me, (n)) | RD
	:: else -> skip
	fi;
	if :: (w) -> printf("MSC: %d OFD W ", me) :: else -> printf("MSC: %d OFD R ", me) fi;
	pnode((n));
	if :: (isp) -> printf(" (P)") :: else -> skip fi;
	if :: ok -> printf(" -> ok\n") :: else -> printf(" -> EAGAIN\n") fi
}

/* flock(LOCK_SH or LOCK_EX | LOCK_NB): independent of fcntl locks. */
inline sys_flock(n, isp, x)
{
	others((n), (isp));
	if
	:: (x) -> ok = !(om & (FSH | FEX))
	:: else -> ok = !(om & FEX)
	fi;
	if
	:: ok && (isp) -> PF(me, DRV((n))) = PF(me, DRV((n))) | FSH
	:: ok && !(isp) && (x) -> FD(me, (n)) = FD(me, (n)) | FEX
	:: ok && !(isp) && !(x) -> FD(me, (n)) = FD(me, (n)) | FSH
	:: else -> skip
	fi;
	if :: (x) -> printf("MSC: %d LOCK_EX ", me) :: else -> printf("MSC: %d LOCK_SH ", me) fi;
	pnode((n));
	if :: (isp) -> printf(" (P)") :: else -> skip fi;
	if :: ok -> printf(" -> ok\n") :: else -> printf(" -> EWOULDBLOCK\n") fi
}

/* close(2): the description's claim and locks go with it. */
inline sys_close(n)
{
	printf("MSC: %d close ", me); pnode((n)); printf("\n");
	FD(me, (n)) = 0;
	notify((n))
}

inline sys_close_p(d)
{
	printf("MSC: %d close sr%d (P)\n", me, (d));
	PF(me, (d)) = 0;
	notify(NODE((d), SR))
}

/* Closing a Q descriptor, the ticket with it.  The live tickets are
 * then renumbered 1, 2, ... keeping their order and equalities, and the
 * clock to the last one, or one past it when the last ticket issued is
 * gone: only the order among live tickets and the next ticket's place
 * among them matter, and this keeps the state space finite. */
hidden byte kv, kr, kmin;
hidden byte kclk;
inline sys_close_q(d)
{
	printf("MSC: %d close Q%d (ticket %d)\n", me, (d), TK(me, (d)));
	TK(me, (d)) = 0;
#ifdef NO_TIMER
	qo[me] = qo[me] & ~(1 << (d));
#endif
	notify(QNODE((d)));
	kv = 0;         /* the last value renumbered (old numbering) */
	kr = 0;         /* its new number */
	kclk = 0;       /* clk is a live ticket's value */
	do
	:: 1 ->
		kmin = 255;
		ki = 0;
		do
		:: ki < NPROC * NDRIVES ->
			if
			:: tk[ki] > kv && tk[ki] < kmin && !(tkn & (1 << ki)) -> kmin = tk[ki]
			:: else -> skip
			fi;
			ki++
		:: else -> break
		od;
		if
		:: kmin == 255 -> break
		:: else -> skip
		fi;
		kr++;
		if
		:: kmin == clk -> kclk = 1; clk = kr
		:: else -> skip
		fi;
		ki = 0;
		do
		:: ki < NPROC * NDRIVES ->
			if
			:: tk[ki] == kmin && !(tkn & (1 << ki)) -> tk[ki] = kr; tkn = tkn | (1 << ki)
			:: else -> skip
			fi;
			ki++
		:: else -> break
		od;
		kv = kmin
	od;
	tkn = 0;
	if
	:: kr == 0 -> clk = 0
	:: kr != 0 && !kclk -> clk = kr + 1
	:: else -> skip
	fi
}
