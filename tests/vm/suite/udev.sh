#!/bin/bash
# udev and the lock, watched with `udevadm monitor --kernel --udev`:
#   - while an exclusive lock is held, a "change" uevent of the drive reaches
#     udevd (KERNEL line) but is not processed (no UDEV line: no rules, no
#     cdrom_id), and it is processed after the release;
#   - the release of an exclusive lock asks for a re-probe (KERNEL and UDEV
#     change events follow), and DDLP_LOCK_NO_REPROBE suppresses it;
#   - right after a re-probing release, udevd's worker holds LOCK_SH on the
#     drive for a moment: an immediate timeout-0 lock is either taken or
#     refused naming udev's worker, and a lock with a timeout is taken.
# Presence and absence of events are asserted, never how fast they come
# (the waits below are bounds against hangs).
#
#   udev.sh [srN]      (default sr0)
. "$(dirname "$0")/lib.sh"
suite_begin udev

A=${1:-sr0}
if ! [ -S /run/udev/control ]; then
	skip "udev: udevd is not running"
	suite_end
	exit
fi
NR=--no-reprobe
ev_kernel="^KERNEL\[.*\] change +/.*/block/$A \(block\)"
ev_udev="^UDEV +\[.*\] change +/.*/block/$A \(block\)"
db=/run/udev/data/b$(devnum_of "/sys/class/block/$A")

start mon udevadm monitor --kernel --udev --subsystem-match=block
if ! wait_for "$W/mon.out" '^KERNEL - the kernel uevent' 30; then
	fail "udev: udevadm monitor starts ($(head -c 200 "$W/mon.err"))"
	stop mon
	suite_end
	exit
fi
# since(MARK, REGEX): whether a line after line MARK of the monitor matches
mark() { wc -l <"$W/mon.out"; }
since() { tail -n +$(($1 + 1)) "$W/mon.out" | grep -Eq -- "$2"; }
wait_since() { # MARK REGEX BOUND
	local i=0
	while ! since "$1" "$2"; do
		i=$((i + 1))
		[ "$i" -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
}
trigger() { echo change >"/sys/class/block/$A/uevent"; }

# Control: the monitor sees a change event of the free drive processed.
m=$(mark)
trigger
if wait_since "$m" "$ev_udev" 60; then
	pass "udev: a change event of the free drive $A is processed (UDEV line seen)"
else
	fail "udev: a change event of the free drive $A is processed (no UDEV line in 60 s)"
fi
udevadm settle -t 30

# Held exclusively: the event is postponed.
if hold_lock h1 $NR excl 0 "/dev/$A"; then
	db_before=$(stat -c %y "$db" 2>/dev/null)
	m=$(mark)
	trigger
	if wait_since "$m" "$ev_kernel" 30; then
		sleep 3 # the window in which udevd would have run its rules
		if since "$m" "$ev_udev"; then
			fail "udev: while $A is held exclusively a change event is not processed (UDEV line seen: $(tail -n +$((m + 1)) "$W/mon.out" | grep -E "$ev_udev" | head -n1))"
		else
			pass "udev: while $A is held exclusively a change event is not processed (KERNEL line, no UDEV line in 3 s)"
		fi
		db_after=$(stat -c %y "$db" 2>/dev/null)
		check "udev: ... and udev's database entry of $A is not rewritten while held" test "$db_before" = "$db_after"
	else
		fail "udev: the kernel sends the change event while $A is held (no KERNEL line)"
	fi
	release h1
	if wait_since "$m" "$ev_udev" 60; then
		pass "udev: the postponed change event is processed after the release"
	else
		fail "udev: the postponed change event is processed after the release (no UDEV line in 60 s)"
	fi
else
	fail "udev: /dev/$A locked exclusively ($HOLD_LINE)"
	release h1
fi
udevadm settle -t 30

# Re-probe on the release of an exclusive lock.
m=$(mark)
try_lock excl 0 "/dev/$A"
first=$TRY_LINE
try_lock $NR excl 0 "/dev/$A" # at once: udev's worker may be probing
second=$TRY_LINE
if [ "${first%% *}" = LOCKED ]; then
	if wait_since "$m" "$ev_kernel" 30 && wait_since "$m" "$ev_udev" 60; then
		pass "udev: the release of an exclusive lock re-probes $A (KERNEL and UDEV change events)"
	else
		fail "udev: the release of an exclusive lock re-probes $A (no change event)"
	fi
	case $second in
	LOCKED*) pass "udev: an immediate lock after a re-probing release is taken, or refused by udev only (taken)" ;;
	BUSY*)
		h=$(field "$second" holder)
		case $h:$(field "$second" step) in
		*udev*:* | cdrom_id:* | -:flock) pass "udev: an immediate lock after a re-probing release is taken, or refused by udev only (refused by $h: $second)" ;;
		*) fail "udev: an immediate lock after a re-probing release is taken, or refused by udev only ($second)" ;;
		esac
		;;
	*) fail "udev: an immediate lock after a re-probing release is taken, or refused by udev only ($second)" ;;
	esac
	note "immediate lock after the re-probing release: $second"
	# the same with a timeout: taken
	try_lock excl 20000 "/dev/$A"
	try_lock $NR excl 20000 "/dev/$A"
	check "udev: right after a re-probing release a lock with a timeout is taken ($TRY_LINE)" test "${TRY_LINE%% *}" = LOCKED
else
	fail "udev: /dev/$A locked exclusively ($first)"
fi
udevadm settle -t 30

# DDLP_LOCK_NO_REPROBE: no change event at all.
m=$(mark)
try_lock $NR excl 0 "/dev/$A"
if [ "${TRY_LINE%% *}" = LOCKED ]; then
	sleep 3
	if since "$m" "$ev_kernel"; then
		fail "udev: with DDLP_LOCK_NO_REPROBE the release sends no change event (KERNEL line seen)"
	else
		pass "udev: with DDLP_LOCK_NO_REPROBE the release sends no change event (none in 3 s)"
	fi
else
	fail "udev: /dev/$A locked exclusively ($TRY_LINE)"
fi

# For the record: a shared lock's release.
m=$(mark)
try_lock shared 0 "/dev/$A"
sleep 2
if since "$m" "$ev_kernel"; then note "release of a shared lock: a change event followed"; else note "release of a shared lock: no change event"; fi

stop mon
suite_end
