#!/bin/bash
# Locking on real sr, sg and bsg nodes, across processes, in the backend
# DDLP_LOCK_BACKEND selects (run it twice: default and posix):
# exclusive vs exclusive through every alias form, shared/shared coexist,
# shared vs exclusive both ways, the locks /proc/locks shows, waiting, a
# foreign raw O_EXCL holder of the sg node, kill -9 of a holder, and
# ddlp_lock_many() all or nothing.
#
#   locking.sh [DRIVE_A [DRIVE_B]]      (default sr0 sr1)
#
# The holders here use DDLP_LOCK_NO_REPROBE: a re-probe after an exclusive
# unlock makes udevd hold LOCK_SH on the drive for a moment, which would
# refuse the next timeout-0 lock (udev.sh checks that behaviour).
. "$(dirname "$0")/lib.sh"
backend=${DDLP_LOCK_BACKEND:-ofd}
suite_begin locking "[$backend] "

A=${1:-sr0} B=${2:-sr1}
for d in "$A" "$B"; do
	if ! [ -b "/dev/$d" ]; then
		fail "locking: /dev/$d exists"
		suite_end
		exit
	fi
done
sgA=$(sg_of "$A") bsgA=$(bsg_of "$A") hA=$(hctl_of "$A")
sgB=$(sg_of "$B") bsgB=$(bsg_of "$B")
aliasA=$(make_alias "/dev/$A") || aliasA=
aliasSgA=
[ -n "$sgA" ] && { aliasSgA=$(make_alias "/dev/$sgA") || aliasSgA=; }
NR=--no-reprobe

# Alias forms of drive A.
formsA=("/dev/$A")
[ -n "$sgA" ] && formsA+=("/dev/$sgA")
[ -n "$bsgA" ] && formsA+=("/dev/$bsgA")
for l in /dev/cdrom /dev/disk/by-id/* /dev/disk/by-path/*; do
	[ -L "$l" ] && [ "$(readlink -f "$l")" = "/dev/$A" ] && formsA+=("$l")
done
formsA+=("$hA")
case $hA in *:0:*:*) IFS=: read -r hh _ tt ll <<<"$hA"; formsA+=("$hh,$tt,$ll") ;; esac
[ -n "$aliasA" ] && formsA+=("$aliasA")
[ -n "$aliasSgA" ] && formsA+=("$aliasSgA")
# Nodes of drive A (a refusal must name one of them) and of drive B.
nodesA=" /dev/$A ${sgA:+/dev/$sgA} ${bsgA:+/dev/$bsgA} $aliasA $aliasSgA "
nodesB=" /dev/$B ${sgB:+/dev/$sgB} ${bsgB:+/dev/$bsgB} "

# busy_on NODES: the last try_lock was refused with EBUSY on one of NODES
# and left nothing open.
busy_on() {
	local node
	case $TRY_LINE in BUSY\ *) ;; *) return 1 ;; esac
	node=$(field "$TRY_LINE" node)
	[ "$(field "$TRY_LINE" err)" = EBUSY ] && [ "$(field "$TRY_LINE" left)" = 0 ] &&
		case $1 in *" $node "*) return 0 ;; *) return 1 ;; esac
}
locked() { case $TRY_LINE in LOCKED\ *) return 0 ;; *) return 1 ;; esac; }

# The locks /proc/locks shows on PATH, as sorted "KIND TYPE" words
# (pids left out: OFD locks show -1).
locks_of() { "$VMTOOL" proclocks "$1" | awk '{ print $1, $2 }' | sort | paste -sd, -; }
if [ "$backend" = posix ]; then LK=POSIX; else LK=OFDLCK; fi

# ---- exclusive -------------------------------------------------------------
if hold_lock h1 $NR excl 0 "/dev/$A"; then
	if [ "$(field "$HOLD_LINE" fd)" = "/dev/$A" ]; then
		pass "excl: /dev/$A locked exclusively, the caller's fd is on /dev/$A"
	else
		fail "excl: /dev/$A locked exclusively, the caller's fd is on /dev/$A ($HOLD_LINE)"
	fi
	want="FLOCK WRITE,$LK WRITE"
	got=$(locks_of "/dev/$A")
	why=
	[ "$got" = "$want" ] || why="$why /dev/$A: $got"
	if [ -n "$sgA" ]; then
		got=$(locks_of "/dev/$sgA")
		[ "$got" = "$LK WRITE" ] || why="$why /dev/$sgA: $got"
	fi
	if [ -n "$bsgA" ]; then
		got=$(locks_of "/dev/$bsgA")
		[ "$got" = "$LK WRITE" ] || why="$why /dev/$bsgA: $got"
	fi
	if [ -z "$why" ]; then
		pass "excl: /proc/locks shows $LK write locks on every node and LOCK_EX on /dev/$A"
	else
		fail "excl: /proc/locks shows $LK write locks on every node and LOCK_EX on /dev/$A:$why"
	fi

	try_each excl 0 "${formsA[@]}"
	for i in "${!formsA[@]}"; do
		TRY_LINE=${TRY_LINES[$i]:-}
		check "excl vs excl: ${formsA[$i]} refused with EBUSY naming a node of $A, nothing left open ($TRY_LINE)" busy_on "$nodesA"
	done
	specs=("/dev/$A" ${sgA:+"/dev/$sgA"} "$hA")
	try_each shared 0 "${specs[@]}"
	for i in "${!specs[@]}"; do
		TRY_LINE=${TRY_LINES[$i]:-}
		check "excl vs shared: shared lock of ${specs[$i]} refused while $A is held exclusively ($TRY_LINE)" busy_on "$nodesA"
	done
	try_lock $NR excl 0 "/dev/$B"
	check "excl: the other drive /dev/$B locks while $A is held ($TRY_LINE)" locked
	release h1
	check "excl: unlock returns 0 ($RELEASE_LINE)" test "$RELEASE_LINE" = "UNLOCKED 0"
	try_lock $NR excl 0 "/dev/$A"
	check "excl: /dev/$A locks again after the release ($TRY_LINE)" locked
	why=
	for n in $nodesA; do no_locks_on "$n" || why="$why $n"; done
	if [ -z "$why" ]; then pass "excl: no lock left on any node of $A"; else fail "excl: no lock left on any node of $A:$why"; fi
else
	fail "excl: /dev/$A locked exclusively ($HOLD_LINE)"
	release h1
fi

# ---- shared ----------------------------------------------------------------
if hold_lock s1 $NR shared 0 "/dev/$A"; then
	spec2=${sgA:+/dev/$sgA}
	[ -n "$spec2" ] || spec2=$hA
	if hold_lock s2 $NR shared 0 "$spec2"; then
		pass "shared/shared: a second shared holder (via $spec2) coexists with the first"
		want="FLOCK READ,FLOCK READ,$LK READ,$LK READ"
		got=$(locks_of "/dev/$A")
		check "shared: /proc/locks shows two $LK read locks and two LOCK_SH on /dev/$A ($got)" test "$got" = "$want"
		specs=("/dev/$A" ${sgA:+"/dev/$sgA"} ${bsgA:+"/dev/$bsgA"} "$hA" ${aliasA:+"$aliasA"})
		try_each $NR excl 0 "${specs[@]}"
		for i in "${!specs[@]}"; do
			TRY_LINE=${TRY_LINES[$i]:-}
			check "shared vs excl: exclusive lock of ${specs[$i]} refused while two shared holders hold $A ($TRY_LINE)" busy_on "$nodesA"
		done
		specs=("$hA" ${aliasA:+"$aliasA"})
		try_each $NR shared 0 "${specs[@]}"
		for i in "${!specs[@]}"; do
			TRY_LINE=${TRY_LINES[$i]:-}
			check "shared/shared: a third shared lock via ${specs[$i]} is taken ($TRY_LINE)" locked
		done
	else
		fail "shared/shared: a second shared holder (via $spec2) coexists with the first ($HOLD_LINE)"
	fi
	release s2
	release s1
	try_lock $NR excl 0 "/dev/$A"
	check "shared: exclusive lock after both shared holders left ($TRY_LINE)" locked
else
	fail "shared: /dev/$A locked shared ($HOLD_LINE)"
	release s1
fi

# ---- waiting ---------------------------------------------------------------
if hold_lock w1 $NR excl 0 "/dev/$A"; then
	start w2 "$VMTOOL" lock $NR excl 60000 "$hA"
	sleep 1
	early=$(head -n1 "$W/w2.out")
	release w1
	wait_for "$W/w2.out" '^(LOCKED|BUSY|TIMEDOUT|ERROR)' 90
	line=$(head -n1 "$W/w2.out")
	release w2
	if [ -n "$early" ]; then
		fail "wait: a waiter gets nothing while the holder holds the drive (it said: $early)"
	else
		pass "wait: a waiter gets nothing while the holder holds the drive"
	fi
	check "wait: the waiter (via $hA, timeout 60 s) gets the drive when the holder lets go ($line)" \
		test "${line%% *}" = LOCKED
else
	fail "wait: /dev/$A locked exclusively ($HOLD_LINE)"
	release w1
fi

# ---- a foreign O_EXCL holder of the sg node -----------------------------------
if [ -n "$sgA" ]; then
	if hold fx "$VMTOOL" open "/dev/$sgA" rw,excl,nonblock --hold; then
		fxpid=${hold_pid[fx]}
		try_lock $NR excl 0 "/dev/$A"
		check "foreign O_EXCL on /dev/$sgA: exclusive lock of /dev/$A fails with EBUSY naming /dev/$sgA ($TRY_LINE)" \
			busy_on " /dev/$sgA "
		check "foreign O_EXCL on /dev/$sgA: the refusal names the holder's pid $fxpid ($TRY_LINE)" \
			test "$(field "$TRY_LINE" pid)" = "$fxpid"
		why=
		for n in $nodesA; do no_locks_on "$n" || why="$why $n:$("$VMTOOL" proclocks "$n" | paste -sd/)"; done
		if [ -z "$why" ]; then pass "foreign O_EXCL on /dev/$sgA: nothing left held (no lock in /proc/locks on any node of $A)"
		else fail "foreign O_EXCL on /dev/$sgA: nothing left held:$why"; fi
		out=$("$VMTOOL" open "/dev/$A" rw,excl,nonblock </dev/null 2>&1)
		check "foreign O_EXCL on /dev/$sgA: another process's O_EXCL open of /dev/$A then succeeds ($out)" test "$out" = OPEN
		try_lock $NR shared 0 "/dev/$A"
		check "foreign O_EXCL on /dev/$sgA: a shared lock of /dev/$A is refused too ($TRY_LINE)" busy_on " /dev/$sgA "
		release fx
		try_lock $NR excl 0 "/dev/$A"
		check "foreign O_EXCL on /dev/$sgA: /dev/$A locks once the foreign holder closed ($TRY_LINE)" locked
	else
		fail "foreign O_EXCL: open /dev/$sgA O_RDWR|O_EXCL ($HOLD_LINE)"
		release fx
	fi
else
	skip "foreign O_EXCL on the sg node (no sg module)"
fi

# A foreign O_EXCL holder of the block node (e.g. a mounting or burning
# program): refused at the sr node.
if hold fb "$VMTOOL" open "/dev/$A" rw,excl,nonblock --hold; then
	try_lock $NR excl 0 "${formsA[-1]}"
	check "foreign O_EXCL on /dev/$A: exclusive lock of ${formsA[-1]} fails with EBUSY naming /dev/$A ($TRY_LINE)" \
		busy_on " /dev/$A "
	release fb
else
	fail "foreign O_EXCL: open /dev/$A O_RDWR|O_EXCL ($HOLD_LINE)"
	release fb
fi

# ---- kill -9 -----------------------------------------------------------------
for mode in excl shared; do
	if hold_lock k1 $NR $mode 0 "/dev/$A"; then
		kill9 k1
		try_lock $NR excl 0 "/dev/$A"
		check "kill -9: a $mode holder killed with SIGKILL frees the drive at once ($TRY_LINE)" locked
	else
		fail "kill -9: /dev/$A locked $mode ($HOLD_LINE)"
		release k1
	fi
done

# ---- several drives at once ----------------------------------------------------
if hold_lock m1 $NR excl 0 "/dev/$B"; then
	try_lock $NR excl 0 "/dev/$A" "/dev/$B" excl
	check "lock_many: ($A excl, $B excl) refused while $B is held, naming a node of $B ($TRY_LINE)" busy_on "$nodesB"
	why=
	for n in $nodesA; do no_locks_on "$n" || why="$why $n"; done
	out=$("$VMTOOL" open "/dev/$A" rw,excl,nonblock </dev/null 2>&1)
	[ "$out" = OPEN ] || why="$why O_EXCL-open:$out"
	if [ -z "$why" ]; then pass "lock_many: all or nothing: nothing of $A held after the refusal"
	else fail "lock_many: all or nothing: nothing of $A held after the refusal:$why"; fi
	try_lock $NR shared 0 "/dev/$B" "/dev/$A" excl
	check "lock_many: ($B shared, $A excl) refused while $B is held exclusively ($TRY_LINE)" busy_on "$nodesB"
	release m1
	try_lock $NR shared 0 "/dev/$A" "/dev/$B" excl
	ids=$(field "$TRY_LINE" ids)
	check "lock_many: ($A shared, $B excl) taken once $B is free ($TRY_LINE)" \
		test "$ids" = "scsi:$hA,scsi:$(hctl_of "$B")"
else
	fail "lock_many: /dev/$B locked exclusively ($HOLD_LINE)"
	release m1
fi
try_lock $NR excl 0 "/dev/$A" "$hA" shared
check "lock_many: naming one drive twice is EINVAL ($TRY_LINE)" test "$TRY_LINE" = "ERROR err=EINVAL left=0"

# ---- locking through a mknod alias -------------------------------------------
if [ -n "$aliasA" ]; then
	if hold_lock al $NR excl 0 "$aliasA"; then
		got=$(locks_of "$aliasA")
		check "alias: an exclusive lock through $aliasA also locks the alias inode ($got)" \
			test "$got" = "FLOCK WRITE,$LK WRITE"
		got=$(locks_of "/dev/$A")
		check "alias: ... and the canonical /dev/$A ($got)" test "$got" = "FLOCK WRITE,$LK WRITE"
		try_lock $NR shared 0 "/dev/$A"
		check "alias: a shared lock of /dev/$A is refused ($TRY_LINE)" busy_on "$nodesA"
		release al
	else
		fail "alias: lock through $aliasA ($HOLD_LINE)"
		release al
	fi
fi

suite_end
