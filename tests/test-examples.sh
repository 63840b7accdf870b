#!/bin/bash
# The attempt API's examples (examples/attempt-poll, and attempt-glib where
# GLib was found), run as a user would, on a loop device (root): a wait
# for a held drive that a line on standard input cancels leaves nothing
# held or queued; a wait that the holder's release ends takes the drive.
. "$(dirname "$0")/cli-common.sh"
cli_setup ddlp-examples losetup python3

truncate -s 1M "$tmp/img" || exit 99
dev=$(losetup -f --show "$tmp/img") || { echo "SKIP: no loop device"; exit 77; }
loops+=("$dev")
uevent=/sys/dev/block/$(stat -L -c '%Hr:%Lr' "$dev")/uevent
ino=$(stat -L -c %i "$uevent")
devino=$(stat -c %i "$dev")

# until FILE has a line matching RE (bounded)
wait_line() {
	local i
	for i in $(seq 300); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
locks_on() { grep -c ":$1 " /proc/locks; }

for ex in attempt-poll attempt-glib; do
	prog=$builddir/examples/$ex
	if [ ! -x "$prog" ]; then
		[ "$ex" = attempt-glib ] && { skip "$ex: not built (no GLib)"; continue; }
		fail "$ex: not built"
		continue
	fi
	# a holder (exclusive), and the example waits for it, exclusively
	"$tool" -x --no-reprobe "$dev" sh -c "touch $tmp/held; exec sleep 60" &
	holder=$!
	bg_pids+=("$holder")
	for i in $(seq 300); do [ -e "$tmp/held" ] && break; sleep 0.05; done
	mkfifo "$tmp/in.$ex"
	"$prog" "$dev" <"$tmp/in.$ex" >"$tmp/out.$ex" 2>"$tmp/err.$ex" &
	pid=$!
	exec {fd}>"$tmp/in.$ex"
	for i in $(seq 300); do [ "$(locks_on "$ino")" -ge 1 ] && break; sleep 0.05; done
	if [ "$(locks_on "$ino")" -ge 1 ]; then
		pass "$ex: a pending exclusive attempt is queued (a ticket on $uevent)"
	else
		fail "$ex: no ticket while waiting"
	fi
	wait_line "$tmp/err.$ex" "waiting" && pass "$ex: says what it waits for ($(head -n1 "$tmp/err.$ex"))" ||
		fail "$ex: no waiting message"
	echo >&$fd
	exec {fd}>&-
	wait "$pid"
	rc=$?
	[ "$rc" = 1 ] && pass "$ex: a line cancels the wait (status 1)" ||
		fail "$ex: cancel: status $rc, $(head -c 300 "$tmp/err.$ex")"
	[ "$(locks_on "$ino")" = 0 ] && pass "$ex: nothing queued after the cancel" ||
		fail "$ex: a ticket stayed after the cancel"
	# wait again; this time the holder lets go
	rm -f "$tmp/in.$ex"
	mkfifo "$tmp/in.$ex"
	"$prog" "$dev" <"$tmp/in.$ex" >"$tmp/out.$ex" 2>"$tmp/err.$ex" &
	pid=$!
	exec {fd}>"$tmp/in.$ex"
	sleep 0.3
	kill "$holder"
	wait "$holder" 2>/dev/null
	rm -f "$tmp/held"
	if wait_line "$tmp/out.$ex" "locked"; then
		pass "$ex: the drive is taken when the holder lets go"
		[ "$(locks_on "$devino")" -ge 1 ] && pass "$ex: it holds the drive's locks" ||
			fail "$ex: no lock on $dev while it says it holds it"
	else
		fail "$ex: never took the drive ($(head -c 300 "$tmp/err.$ex"))"
	fi
	echo >&$fd
	exec {fd}>&-
	wait "$pid"
	rc=$?
	[ "$rc" = 0 ] && pass "$ex: released (status 0)" || fail "$ex: status $rc"
	"$tool" -n -x --no-reprobe "$dev" true && pass "$ex: the drive is free afterwards" ||
		fail "$ex: the drive is still held"
	rm -f "$tmp/in.$ex"
done
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
