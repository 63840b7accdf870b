#!/bin/bash
# A waiter must never disturb the drive it waits for (doc/ddlp.txt,
# section 6): for every kind of holder and both kinds of waiter, the SCSI
# commands that reach the drive while the waiter waits, counted with the
# tracefs event scsi:scsi_dispatch_cmd_start (media polling off for the
# drive; an idle window of the same length with the holder alone is the
# control and must read 0).  A waiter may send at most the commands of one
# open of the block node (2) over its whole wait, and gets the drive when
# the holder ends.  Also: a shared request refused by a holder that knows
# only O_EXCL (xorriso, cdrskin, a bare O_EXCL open of sr) with 0 commands,
# waited for with 0 commands, and taken when the holder ends.
#
# Run twice by run.sh: in the default backend and with
# DDLP_LOCK_BACKEND=posix (for the DDLP holders and the waiters alike).
# The windows are counted, not timed: nothing here asserts a duration.
# Counting: scsicount.sh (the event stays on for the whole script).
. "$(dirname "$0")/lib.sh"
suite_begin quiet "${DDLP_LOCK_BACKEND:+[$DDLP_LOCK_BACKEND] }"
trap 'cleanup_quiet' EXIT

. "$(dirname "$0")/scsicount.sh"

A=sr0
DEV=/dev/$A
SG=$(sg_of "$A")
DL=$VMSUITE_BUILDDIR/src/ddlp-lock
WINDOW=${QUIET_WINDOW:-3}

cleanup_quiet() {
	local p
	for p in $(jobs -p); do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done
	scsi_count_teardown
	cleanup_suite 2>/dev/null
	true
}

[ -b "$DEV" ] || { fail "no $DEV"; suite_end; exit 1; }
if ! scsi_count_setup "$(hctl_of "$A")"; then
	fail "tracefs event scsi:scsi_dispatch_cmd_start is available"
	suite_end
	exit 1
fi

# holder_start KIND: start a holder of the drive in its own process group;
# HPID is its pid; returns 0 when it holds the drive (its ready mark).
holder_start() {
	local kind=$1 ready=$W/ready.$1 i node=$DEV cmd
	rm -f "$ready"
	case $kind in
	ddlp-x) cmd=("$DL" -x --no-reprobe "$DEV" sh -c "touch $ready; exec sleep 120") ;;
	ddlp-s) cmd=("$DL" -s --no-reprobe "$DEV" sh -c "touch $ready; exec sleep 120") ;;
	flock) cmd=(flock "$DEV" sh -c "touch $ready; exec sleep 120") ;;
	udevadm-lock) cmd=(udevadm lock --device="$DEV" sh -c "touch $ready; exec sleep 120") ;;
	excl-sr | excl-sg)
		[ "$kind" = excl-sg ] && node=/dev/$SG
		cmd=(python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_EXCL | os.O_NONBLOCK)
open(sys.argv[2], "w").close()
time.sleep(120)' "$node" "$ready")
		;;
	xorriso) cmd=(xorriso -outdev "$DEV" -sleep 120) ;;
	cdrskin) cmd=(cdrskin dev="$DEV" grab_drive_and_wait=120) ;;
	esac
	# setsid as the script's own child: it makes the new process group
	# itself, so HPID is the group that holder_end ends
	setsid "${cmd[@]}" >"$W/holder.$kind.out" 2>&1 </dev/null &
	HPID=$!
	# xorriso and cdrskin say when they hold the drive (cdrskin ends that
	# line with a carriage return only: look into the file, not for lines)
	for i in $(seq 600); do
		case $kind in
		xorriso) grep -q 'Will sleep' "$W/holder.$kind.out" && touch "$ready" ;;
		cdrskin) grep -q 'holding drive grabbed' "$W/holder.$kind.out" && touch "$ready" ;;
		esac
		[ -e "$ready" ] && return 0
		kill -0 "$HPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

holder_end() {
	kill -TERM -- "-$HPID" 2>/dev/null
	wait "$HPID" 2>/dev/null
	# the holder's whole process group is gone (xorriso's pipe included)
	local i
	for i in $(seq 100); do
		pgrep -g "$HPID" >/dev/null 2>&1 || break
		sleep 0.1
	done
}

# mix HOLDER WAITER-MODE: count what reaches the drive while a waiter of
# that mode waits for the holder, then end the holder and check that the
# waiter took the drive.
mix() {
	local kind=$1 mode=$2 what="$1 holder, ddlp-lock -$2 -w waiter" got=$W/got wpid rc
	if ! holder_start "$kind"; then
		fail "$what: the holder did not start ($(tail -c 300 "$W/holder.$kind.out"))"
		holder_end
		return
	fi
	sleep 0.3
	scsi_count_begin
	sleep "$WINDOW"
	scsi_count_end
	if [ "$COUNT" != 0 ]; then
		fail "$what: control window with the holder alone reads $COUNT commands, not 0"
		holder_end
		return
	fi
	rm -f "$got"
	scsi_count_begin
	"$DL" "-$mode" -w 30 --no-reprobe "$DEV" touch "$got" >"$W/waiter.out" 2>&1 </dev/null &
	wpid=$!
	sleep "$WINDOW"
	scsi_count_end
	note "$what: $COUNT commands during a ${WINDOW}s wait"
	if kill -0 "$wpid" 2>/dev/null; then
		check "$what: at most the commands of one open while waiting ($COUNT)" [ "$COUNT" -le 2 ]
	else
		fail "$what: the waiter did not wait ($(head -c 300 "$W/waiter.out"))"
	fi
	holder_end
	wait "$wpid"
	rc=$?
	check "$what: the waiter took the drive when the holder ended (status $rc$([ "$rc" = 0 ] || echo ": $(head -c 200 "$W/waiter.out")"))" [ "$rc" = 0 ] && [ -e "$got" ]
}

# In the posix backend only the waiters and the DDLP holders change: the
# holders that are programs of their own (udevadm lock is flock(1) again,
# xorriso and cdrskin are O_EXCL on sr again) run in the default one.
if [ "${DDLP_LOCK_BACKEND:-}" = posix ]; then
	holders="ddlp-x ddlp-s flock excl-sr"
else
	holders="ddlp-x ddlp-s flock udevadm-lock excl-sr"
fi
[ -n "$SG" ] && holders="$holders excl-sg"
# the real burners that know only O_EXCL on sr (default backend: they are
# programs of their own, the backend changes nothing of theirs)
if [ "${DDLP_LOCK_BACKEND:-}" != posix ]; then
	for p in xorriso cdrskin; do
		if command -v "$p" >/dev/null; then holders="$holders $p"; else skip "$p not installed"; fi
	done
fi
for kind in $holders; do
	for mode in s x; do
		# two shared holders coexist: no wait to measure
		[ "$kind/$mode" = ddlp-s/s ] && continue
		mix "$kind" "$mode"
	done
done

# A shared request against holders that know only O_EXCL on sr: refused
# at its claim test, without a command, and taken when they end.
refused_then_taken() {
	local kind=$1 got=$W/got rc wpid
	if ! holder_start "$kind"; then
		skip "$kind holder did not start ($(tail -c 200 "$W/holder.$kind.out"))"
		holder_end
		return
	fi
	sleep 0.3
	scsi_count_begin
	"$DL" -n -s --no-reprobe "$DEV" true >"$W/try.out" 2>&1 </dev/null
	rc=$?
	scsi_count_end
	check "$kind holds sr: ddlp-lock -n -s is refused (status $rc: $(head -c 200 "$W/try.out"))" [ "$rc" = 1 ]
	check "$kind holds sr: the refused shared try sent no command ($COUNT)" [ "$COUNT" = 0 ]
	rm -f "$got"
	scsi_count_begin
	"$DL" -s -w 30 --no-reprobe "$DEV" touch "$got" >"$W/waiter.out" 2>&1 </dev/null &
	wpid=$!
	sleep "$WINDOW"
	scsi_count_end
	check "$kind holds sr: ddlp-lock -s -w waits" kill -0 "$wpid"
	check "$kind holds sr: the shared waiter sent no command during a ${WINDOW}s wait ($COUNT)" [ "$COUNT" = 0 ]
	holder_end
	wait "$wpid"
	rc=$?
	check "$kind ended: the shared waiter took the drive (status $rc)" [ "$rc" = 0 ] && [ -e "$got" ]
}
refused_then_taken excl-sr
if [ "${DDLP_LOCK_BACKEND:-}" = posix ]; then
	suite_end
	exit
fi
if command -v xorriso >/dev/null; then refused_then_taken xorriso; else skip "xorriso not installed"; fi
if command -v cdrskin >/dev/null; then refused_then_taken cdrskin; else skip "cdrskin not installed"; fi

# A mounted disc holds the claim too, but is not being burned: a shared
# request may go on.
mkdir -p "$W/mnt"
if mount -o ro "$DEV" "$W/mnt" 2>/dev/null; then
	"$DL" -n -s --no-reprobe "$DEV" true >"$W/try.out" 2>&1 </dev/null
	check "a mounted disc: ddlp-lock -n -s takes the drive ($(head -c 200 "$W/try.out"))" [ $? = 0 ]
	"$DL" -n -x --no-reprobe "$DEV" true >/dev/null 2>&1 </dev/null
	check "a mounted disc: ddlp-lock -n -x is refused" [ $? = 1 ]
	umount "$W/mnt"
else
	fail "mount -o ro $DEV (the test disc)"
fi

suite_end
