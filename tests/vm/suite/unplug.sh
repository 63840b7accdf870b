#!/bin/bash
# Hot unplug (scsi_debug drives, removed through sysfs
# /sys/class/scsi_device/H:C:T:L/device/delete):
#   - a drive removed while locked: ddlp_unlock still returns 0 and leaks
#     no descriptor, and a new lock gets -ENODEV or -ENOENT (by node and
#     by address);
#   - a waiter waiting for a drive that is removed gets an error instead of
#     waiting on (its own timeout, 10 s, is the bound: ETIMEDOUT fails).
#
#   unplug.sh      (in a VM booted with --scsi-debug K, K >= 2)
. "$(dirname "$0")/lib.sh"
suite_begin unplug

mapfile -t drives < <(for f in /sys/class/block/sr*; do
	case $(cat "$f/device/model" 2>/dev/null) in scsi_debug*) basename "$f" ;; esac
done | sort -V)
if [ "${#drives[@]}" -lt 2 ]; then
	skip "unplug: needs 2 scsi_debug drives (boot with --scsi-debug)"
	suite_end
	exit
fi
X=${drives[1]} Y=${drives[2]:-${drives[0]}}

# A locked drive removed.
hX=$(hctl_of "$X")
out=$("$VMTOOL" unplug "/dev/$X" "$hX" 2>&1)
note "unplug of locked /dev/$X ($hX): $(paste -sd' ' <<<"$out")"
get() { sed -n "s/^$1 //p" <<<"$out"; }
if [ "$(get DELETED)" = ok ] && [ "$(get GONE)" = yes ]; then
	pass "unplug: /dev/$X ($hX) removed while locked exclusively"
	check "unplug: ddlp_unlock of the removed drive returns 0 ($(get UNLOCK))" test "$(get UNLOCK)" = 0
	fds=$(get FDS)
	b=$(sed 's/before=\([0-9]*\).*/\1/' <<<"$fds") a=$(sed 's/.*after=\([0-9]*\).*/\1/' <<<"$fds")
	check "unplug: ... and leaks no descriptor ($fds)" test "$b" = "$a"
	case $(get RELOCK) in ENODEV | ENOENT) ok=1 ;; *) ok=0 ;; esac
	check "unplug: a new lock of /dev/$X gets ENODEV or ENOENT ($(get RELOCK))" test "$ok" = 1
	case $(get RELOCK_ADDR) in ENODEV | ENOENT) ok=1 ;; *) ok=0 ;; esac
	check "unplug: a new lock of $hX gets ENODEV or ENOENT ($(get RELOCK_ADDR))" test "$ok" = 1
	check "unplug: no descriptor left at the end ($(get FDS_END), $fds)" test "$(get FDS_END)" = "$b"
else
	fail "unplug: /dev/$X removed while locked ($(paste -sd' ' <<<"$out"))"
fi

# A waiter for a drive that is removed.
hY=$(hctl_of "$Y")
if hold_lock a --no-reprobe excl 0 "/dev/$Y"; then
	start b "$VMTOOL" lock --no-reprobe excl 10000 "/dev/$Y"
	sleep 1
	early=$(head -n1 "$W/b.out")
	echo 1 >"/sys/class/scsi_device/$hY/device/delete"
	wait_for "$W/b.out" '^(LOCKED|BUSY|TIMEDOUT|ERROR)' 60
	line=$(head -n1 "$W/b.out")
	note "waiter for /dev/$Y ($hY), removed while it waited: ${line:-still waiting after 60 s}"
	if [ -n "$early" ]; then
		fail "unplug: the waiter was waiting when /dev/$Y was removed (it said: $early)"
	else
		case $line in
		ERROR\ *) case $(field "$line" err) in
			ENODEV | ENOENT) pass "unplug: a waiter for /dev/$Y gets an error when the drive is removed ($line)" ;;
			*) fail "unplug: a waiter for /dev/$Y gets ENODEV or ENOENT when the drive is removed ($line)" ;;
			esac ;;
		*) fail "unplug: a waiter for /dev/$Y gets an error when the drive is removed, instead of waiting on (${line:-nothing in 60 s})" ;;
		esac
	fi
	release b
	release a
	check "unplug: the holder of the removed /dev/$Y unlocks with 0 ($RELEASE_LINE)" test "$RELEASE_LINE" = "UNLOCKED 0"
else
	fail "unplug: /dev/$Y locked ($HOLD_LINE)"
	release a
fi

suite_end
