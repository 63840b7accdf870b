#!/bin/bash
# ddlp-lock(1) on the host, with loop devices as drives (a loop device is a
# drive of one node): every exit code path, the busy message, signal
# forwarding, waiting, shared/exclusive, several drives in one call, the
# child's descriptors, and the JSON of --resolve, --status and --list.
#
# Needs root (losetup, mknod).  Run by "make check"; alone:
#   abs_top_builddir=$PWD tests/test-cli.sh
#
# No assertion depends on how fast anything is: waits are checked to end,
# with a generous limit only against hanging.
set -u

. "$(dirname "$0")/cli-common.sh"
cli_setup test-cli losetup mknod truncate

# new_loop N: a loop device on a new 1 MiB image, in REPLY (not printed:
# in a command substitution, loops+= would not reach the cleanup)
new_loop() {
	local img=$tmp/img$1
	truncate -s 1M "$img" || return 1
	REPLY=$(losetup -f --show "$img") || return 1
	loops+=("$REPLY")
}

if ! new_loop 1 || ! dev1=$REPLY || ! new_loop 2 || ! dev2=$REPLY; then
	echo "SKIP: cannot set up loop devices"
	exit 77
fi


# run ARGS...: run the tool; sets rc, out, err
run() {
	"$tool" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# as_nobody ARGS...: run the tool as an unprivileged user; sets rc, out, err
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$tool" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# expect NAME RC [PATTERN...]: the last run exited with RC, its stderr is
# one line, and it contains every PATTERN (fixed strings)
expect() {
	local name=$1 want=$2 p lines
	shift 2
	if [ "$rc" -ne "$want" ]; then
		fail "$name: exit $rc, expected $want (stderr: $err)"
		return
	fi
	for p in "$@"; do
		if [[ $err != *"$p"* ]]; then
			fail "$name: stderr lacks '$p' (stderr: $err)"
			return
		fi
	done
	if [ "$#" -gt 0 ]; then
		lines=$(wc -l <"$tmp/err")
		if [ "$lines" -ne 1 ]; then
			fail "$name: stderr has $lines lines, expected one (stderr: $err)"
			return
		fi
	fi
	pass "$name"
}

have_python=false
if command -v python3 >/dev/null 2>&1; then
	have_python=true
fi

# jcheck NAME PYTHON-EXPRESSION: $out parses as JSON (d) and the
# expression is true; nn(LIST) is LIST without nulls (libsmartcols writes
# an empty list as [null], as lsblk does)
jcheck() {
	local name=$1 expr=$2
	if ! $have_python; then
		skip "$name: no python3"
		return
	fi
	if printf '%s\n' "$out" | python3 -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null; then
		if printf '%s\n' "$out" | python3 -c "import json,sys
d = json.load(sys.stdin)
def nn(a): return [x for x in a if x is not None]
sys.exit(0 if ($expr) else 1)" 2>"$tmp/pyerr"; then
			pass "$name"
		else
			fail "$name: JSON check '$expr' failed: $(cat "$tmp/pyerr") in: $out"
		fi
	else
		fail "$name: not valid JSON: $out"
	fi
}

echo "# tool: $tool; drives: $dev1 $dev2"

# ---------------------------------------------------------------- usage, 64
run
expect "no arguments: usage 64" 64 "no DEVICE"
run --bogus-option "$dev1" true
expect "unknown option: usage 64" 64 "unknown option"
run "$dev1"
expect "no command: usage 64" 64 "no COMMAND" "$dev1"
run -w abc "$dev1" true
expect "malformed -w: usage 64" 64 "invalid timeout"
run -w -1 "$dev1" true
expect "negative -w: usage 64" 64 "invalid timeout"
run -E 300 "$dev1" true
expect "-E out of range: usage 64" 64 "conflict exit code"
run --json "$dev1" true
expect "--json without --resolve/--status/--list: usage 64" 64 "--json"
run --resolve
expect "--resolve without DEVICE: usage 64" 64 "--resolve"
run --list "$dev1"
expect "--list with a DEVICE: usage 64" 64 "--list"
run "$dev1" -c
expect "-c without a command line: usage 64" 64 "-c"
run 1:2:3 true
expect "malformed SCSI address: 64" 64 "1:2:3" "malformed SCSI address"
run "$dev1" -s "$dev1" -- true
expect "the same drive twice: 64" 64 "same drive" "$dev1"
run --help
if [ "$rc" -eq 0 ] && [[ $out == *Usage:* ]]; then pass "--help: 0"; else fail "--help: rc $rc"; fi
run --version
if [ "$rc" -eq 0 ] && [[ $out == ddlp-lock* ]]; then pass "--version: 0"; else fail "--version: rc $rc: $out"; fi

# ---------------------------------------------------------- no such device, 66
run "$tmp/nonexistent" true
expect "missing node: 66" 66 "$tmp/nonexistent" "no such device"
run 4000000000:0:0:0 true
expect "no SCSI device at the address: 66" 66 "4000000000:0:0:0" "no SCSI device"
run --status "$tmp/nonexistent"
expect "--status of a missing node: 66" 66 "$tmp/nonexistent"

# ------------------------------------------------------------ not a drive, 69
run /dev/null true
expect "/dev/null: not a drive 69" 69 "/dev/null" "not a drive"
: >"$tmp/regular"
run "$tmp/regular" true
expect "regular file: not a drive 69" 69 "$tmp/regular" "not a drive"
run "$tmp" true
expect "directory: not a drive 69" 69 "not a drive"
run --resolve /dev/null
expect "--resolve /dev/null: 69" 69 "/dev/null" "not a drive"

# ------------------------------------------------------- permission denied, 77
read -r maj min < <(stat -L -c '%t %T' "$dev1")
maj=$((16#$maj))
min=$((16#$min))
mknod -m 0600 "$tmp/alias600" b "$maj" "$min"
mknod -m 0666 "$tmp/alias666" b "$maj" "$min"
if ! command -v setpriv >/dev/null 2>&1; then
	skip "permission checks: no setpriv"
elif ! setpriv --reuid=65534 --regid=65534 --clear-groups "$tool" --version >/dev/null 2>&1; then
	skip "permission checks: the build tree is not accessible to uid 65534"
else
	as_nobody "$tmp/alias600" true
	expect "unprivileged user, node mode 0600: 77" 77 "$tmp/alias600" "permission denied" "$dev1"
	as_nobody -s "$dev1" true
	expect "unprivileged user, shared lock of an inaccessible node: 77" 77 "$dev1" "permission denied"
	if [[ $err == *"group"* || $err == *"udev rule"* || $err == *"run as root"* ]]; then
		pass "the permission message says how to get access"
	else
		fail "the permission message gives no remedy: $err"
	fi
	as_nobody "$tmp/alias666" true
	expect "unprivileged user, inaccessible sibling without --partial: 77" 77 "permission denied" "--partial"
	as_nobody --partial "$tmp/alias666" true
	expect "unprivileged user, --partial leaves the inaccessible node out: 0" 0
fi

# --------------------------------------------------------- a free drive, 0
run "$dev1" true
expect "lock a free drive: 0" 0
run -n "$dev1" true
expect "-n on a free drive: 0" 0
run -w 0 "$dev1" true
expect "-w 0 on a free drive: 0" 0
run --no-reprobe "$dev1" true
expect "--no-reprobe: 0" 0
run -v "$dev1" true
expect "-v says what it locked and how long it took" 0
if [[ $err == *"block:loop"* && $err == *"locked 1 drive in"* && $err == *released* ]]; then
	pass "-v output names the drive and the time"
else
	fail "-v output: $err"
fi

# ------------------------------------------------ the command's exit status
run "$dev1" sh -c 'exit 42'
expect "child exit status passes through (42)" 42
run "$dev1" sh -c 'kill -KILL $$'
expect "child killed by SIGKILL: 128+9" 137
run "$dev1" sh -c 'kill -TERM $$'
expect "child killed by SIGTERM: 128+15" 143
run "$dev1" -c 'exit 5'
expect "-c after DEVICE runs via /bin/sh (exit 5)" 5
run -c 'exit 6' "$dev1"
expect "-c before DEVICE (exit 6)" 6
printf '#!/bin/sh\nexit 0\n' >"$tmp/noexec"
chmod 0644 "$tmp/noexec"
run "$dev1" "$tmp/noexec"
expect "non-executable command: 126" 126 "$dev1" "$tmp/noexec" "Permission denied"
run "$dev1" "$tmp/no-such-command"
expect "missing command: 127" 127 "$dev1" "$tmp/no-such-command"
run "$dev1" no-such-command-in-path-xyz
expect "command not in PATH: 127" 127 "no-such-command-in-path-xyz"

# ------------------------------------- the command holds the lock (unless -o)
run "$dev1" -s "$dev2" -- ls -l /proc/self/fd
if [ "$rc" -eq 0 ] && [[ $out == *"-> $dev1"* && $out == *"-> $dev2"* ]]; then
	pass "the command inherits the lock's descriptors (as with flock(1))"
else
	fail "the command's descriptors (rc $rc): $out"
fi
run -o "$dev1" -s "$dev2" -- ls -l /proc/self/fd
if [ "$rc" -eq 0 ] && [[ $out != *"$dev1"* && $out != *"$dev2"* ]] && [[ $out == *"->"* ]]; then
	pass "-o: the command inherits no descriptor of the locked drives"
else
	fail "-o: the command's descriptors (rc $rc): $out"
fi
# (with the POSIX backend the record locks stay with ddlp-lock: the
# command holds the claim and the flock)
cmdlock=exclusive
[ "${DDLP_LOCK_BACKEND:-}" = posix ] && cmdlock=flock-exclusive
run "$dev1" sh -c "'$tool' --json --output USERS --status '$dev1'"
jcheck "the command is listed as holding the lock ($cmdlock) with ddlp-lock" \
	"any(u.startswith('sh[') and ' $cmdlock $dev1' in u for u in d['drives'][0]['users']) and any(u.startswith('ddlp-lock[') and ' exclusive $dev1' in u for u in d['drives'][0]['users'])"

# kill -9 of ddlp-lock: the command keeps the drive exclusive until it ends;
# with -o the drive is free at once.  (The command is sh; it ends when
# $tmp/k9.release exists.)
test_kill9() {
	local label=$1 opt=$2 kpid cpid i
	rm -f "$tmp/k9.ready" "$tmp/k9.release"
	"$tool" $opt "$dev1" sh -c "echo \$\$ >'$tmp/k9.ready'; while [ ! -e '$tmp/k9.release' ]; do sleep 0.05; done" &
	kpid=$!
	bg_pids+=("$kpid")
	if ! wait_file "$tmp/k9.ready"; then
		fail "$label: the command did not start"
		return
	fi
	cpid=$(cat "$tmp/k9.ready")
	bg_pids+=("$cpid")
	kill -9 "$kpid"
	wait "$kpid" 2>/dev/null
	if [ -z "$opt" ]; then
		run -n "$dev1" true
		expect "$label: the drive stays locked while the command runs" 1 "busy"
		run -n -s "$dev1" true
		expect "$label: ... for shared requests too" 1 "busy"
		if flock -n "$dev1" true; then
			fail "$label: flock(1) -n got the drive while the command runs"
		else
			pass "$label: flock(1) -n is refused too"
		fi
	else
		run -n "$dev1" true
		expect "$label: -o: the drive is free at once" 0
	fi
	touch "$tmp/k9.release"
	for ((i = 0; i < 600; i++)); do
		kill -0 "$cpid" 2>/dev/null || break
		sleep 0.05
	done
	run -n "$dev1" true
	expect "$label: free once the command has ended" 0
}
test_kill9 "kill -9 of ddlp-lock" ""
test_kill9 "kill -9 of ddlp-lock -o" "-o"

# ------------------------------------------------------ conflicts, -n, -E, -w
if hold x1 "$dev1"; then
	hpid=$holder
	run -n "$dev1" true
	expect "-n against an exclusive holder: conflict code 1" 1 \
		"$dev1: busy: $dev1 held by ddlp-lock (pid $hpid)"
	run -n -E 3 "$dev1" true
	expect "-E 3: conflict code 3" 3 "busy"
	run -w 0 "$dev1" true
	expect "-w 0 means -n" 1 "busy"
	run -w 0.5 "$dev1" true
	expect "-w 0.5 against a holder times out: conflict code 1" 1 "$dev1" "timed out" "held by ddlp-lock (pid $hpid)"
	if [[ $err != *"waiting for"* ]]; then
		pass "no progress line when stderr is not a terminal"
	else
		fail "progress line on a non-terminal: $err"
	fi
	run -q -n "$dev1" true
	if [ "$rc" -eq 1 ] && [ -z "$err" ]; then pass "-q: conflict code, no message"; else fail "-q: rc $rc, stderr: $err"; fi
	run -s -n "$dev1" true
	expect "shared against exclusive: conflict" 1 "busy"
	run --status "$dev1"
	if [ "$rc" -eq 0 ] && [[ $out == *"$dev1"*exclusive*ddlp-lock*"$hpid"* ]]; then
		pass "--status shows the exclusive holder"
	else
		fail "--status of a held drive (rc $rc): $out"
	fi
	run --json --status "$dev1"
	jcheck "--status --json of a held drive" \
		"d['drives'][0]['state'] == 'exclusive' and d['drives'][0]['holder-pid'] == $hpid and d['drives'][0]['holder'] == 'ddlp-lock' and d['drives'][0]['holders'] == 1 and nn(d['drives'][0]['unlocked']) == []"
	run --json --status --output DEVICE,USERS "$dev1"
	jcheck "--status --json: the holder among the users, with its lock and node" \
		"any(u.startswith('ddlp-lock[$hpid] exclusive $dev1') for u in d['drives'][0]['users'])"
	release x1 "$hpid"
	if [ "$hrc" -eq 0 ]; then pass "holder exits 0"; else fail "holder exit $hrc"; fi
fi
run -n "$dev1" true
expect "free again after the holder exited" 0

# the holder is util-linux flock(1): the busy message names it
rm -f "$tmp/fl.ready" "$tmp/fl.release"
flock -x "$dev1" sh -c "touch '$tmp/fl.ready'; while [ ! -e '$tmp/fl.release' ]; do sleep 0.05; done" &
fpid=$!
bg_pids+=("$fpid")
if wait_file "$tmp/fl.ready"; then
	run -n "$dev1" true
	expect "a flock(1) holder: conflict, named" 1 "$dev1: busy: $dev1 held by flock (pid $fpid)"
	run --json --status "$dev1"
	jcheck "--status names the flock(1) holder" \
		"d['drives'][0]['state'] == 'exclusive' and d['drives'][0]['holder'] == 'flock' and d['drives'][0]['holder-pid'] == $fpid"
else
	fail "flock(1) holder did not start"
fi
release fl "$fpid"

# -w succeeds when the holder lets go (after 0.3 s)
rm -f "$tmp/w.ready"
"$tool" "$dev1" sh -c "touch '$tmp/w.ready'; sleep 0.3" &
wpid=$!
bg_pids+=("$wpid")
if wait_file "$tmp/w.ready"; then
	run -w 30 "$dev1" true
	expect "-w 30: the lock is taken when the holder exits" 0
else
	fail "-w: holder did not start"
fi
wait "$wpid"
# and so does a wait without a limit
rm -f "$tmp/w.ready"
"$tool" "$dev1" sh -c "touch '$tmp/w.ready'; sleep 0.3" &
wpid=$!
bg_pids+=("$wpid")
if wait_file "$tmp/w.ready"; then
	run "$dev1" true
	expect "no -w: waits until the holder exits" 0
else
	fail "wait: holder did not start"
fi
wait "$wpid"

# -------------------------------------------------------- shared and shared
if hold s1 -s "$dev1"; then
	spid=$holder
	run -s -n "$dev1" true
	expect "shared and shared coexist" 0
	run -n "$dev1" true
	expect "exclusive against shared: conflict" 1 "busy" "$dev1"
	run --noheadings --output STATE,HOLDERS --status "$dev1"
	if [[ $out =~ ^shared\ +1$ ]]; then pass "--status shows one shared holder"; else fail "--status shared: $out"; fi
	run --json --status "$dev1"
	jcheck "--status --json of a shared drive" "d['drives'][0]['state'] == 'shared' and d['drives'][0]['holders'] == 1 and d['drives'][0]['holder-pid'] == $spid"
	release s1 "$spid"
fi

# --------------------------------------------------------- signal forwarding
# A signal that was ignored when ddlp-lock started stays ignored and is not
# forwarded, as a shell would have it (SIGHUP under nohup): then skipped.
sigign=$(awk '/^SigIgn:/ { print $2 }' "/proc/$$/status")
ignored() { (( (16#$sigign >> ($1 - 1)) & 1 )); }
# a command that loops for at most 60 s
# shellcheck disable=SC2016 # expanded by the command's sh
loop60='i=0; while [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done'

test_sigterm() {
	local gpid grc
	rm -f "$tmp/sig.ready" "$tmp/sig.got" "$tmp/sig.release"
	"$tool" "$dev1" sh -c "trap 'touch $tmp/sig.got; while [ ! -e $tmp/sig.release ]; do sleep 0.05; done; exit 7' TERM; touch $tmp/sig.ready; $loop60" &
	gpid=$!
	bg_pids+=("$gpid")
	if ! wait_file "$tmp/sig.ready"; then
		fail "SIGTERM: the command did not start"
		return
	fi
	kill -TERM "$gpid"
	if wait_file "$tmp/sig.got"; then
		pass "SIGTERM to ddlp-lock reaches the command"
		run -n "$dev1" true
		expect "the lock is held while the command handles the signal" 1 "busy"
	else
		fail "SIGTERM was not forwarded"
	fi
	touch "$tmp/sig.release"
	wait "$gpid"
	grc=$?
	if [ "$grc" -eq 7 ]; then pass "exit status of the signalled command (7)"; else fail "signalled command: exit $grc"; fi
	run -n "$dev1" true
	expect "released after the command exited" 0
}

test_sighup() {
	local gpid grc
	rm -f "$tmp/sig.ready"
	"$tool" "$dev1" sh -c "touch $tmp/sig.ready; $loop60" &
	gpid=$!
	bg_pids+=("$gpid")
	if ! wait_file "$tmp/sig.ready"; then
		fail "SIGHUP: the command did not start"
		return
	fi
	kill -HUP "$gpid"
	wait "$gpid"
	grc=$?
	if [ "$grc" -eq 129 ]; then pass "SIGHUP forwarded; the command died of it: 128+1"; else fail "SIGHUP: exit $grc"; fi
}

# A signal while ddlp-lock waits for a busy drive (queued: an exclusive
# waiter holds a ticket in the drive's queue file, its sysfs uevent file)
# ends it at once by that signal, with nothing held or queued and the
# command not run.  SIGINT is given back its default action first (a
# background job of a non-interactive shell starts with it ignored).
qfile=$(readlink -f "/sys/class/block/${dev1#/dev/}")/uevent
qkey=$(stat -c '%d %i' "$qfile" | { read -r d i; printf '%02x:%02x:%s' $((d >> 8)) $((d & 255)) "$i"; })
test_wait_signal() {
	local sig=$1 want=$2 hpid wpid wrc i queued=0
	hold ws "$dev1" || return
	hpid=$holder
	rm -f "$tmp/ws.ran"
	python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$tool" -w 60 "$dev1" touch "$tmp/ws.ran" 2>"$tmp/ws.err" &
	wpid=$!
	bg_pids+=("$wpid")
	for ((i = 0; i < 600; i++)); do
		if grep -qs "lock:.*OFDLCK.* $qkey " /proc/"$wpid"/fdinfo/*; then
			queued=1
			break
		fi
		sleep 0.05
	done
	if [ "$queued" = 1 ]; then
		pass "-w: the exclusive waiter is queued (a ticket in $qfile)"
	else
		fail "-w: no ticket of the waiter in $qfile"
	fi
	kill -"$sig" "$wpid"
	wait "$wpid"
	wrc=$?
	if [ "$wrc" -eq "$want" ] && [ ! -e "$tmp/ws.ran" ]; then
		pass "SIG$sig while waiting: ends it by the signal ($wrc), the command not run"
	else
		fail "SIG$sig while waiting: exit $wrc, expected $want (ran: $([ -e "$tmp/ws.ran" ] && echo yes || echo no); $(cat "$tmp/ws.err"))"
	fi
	if grep -q " $qkey " /proc/locks; then
		fail "SIG$sig while waiting: a lock left in the queue file: $(grep " $qkey " /proc/locks)"
	else
		pass "SIG$sig while waiting: nothing left in the queue"
	fi
	release ws "$hpid"
	run -n "$dev1" true
	expect "SIG$sig while waiting: the drive is free afterwards" 0
}
if $have_python; then
	test_wait_signal INT 130
	test_wait_signal TERM 143
else
	skip "a signal while waiting: no python3"
fi

if ignored 15; then skip "SIGTERM forwarding: SIGTERM is ignored here"; else test_sigterm; fi
if ignored 1; then skip "SIGHUP forwarding: SIGHUP is ignored here (nohup)"; else test_sighup; fi

# --------------------------------------------------- two drives in one call
run -s "$dev1" -x "$dev2" -- sh -c "
	'$tool' -n -s '$dev1' true || exit 11
	'$tool' -n '$dev1' true; [ \$? -eq 1 ] || exit 12
	'$tool' -n -s '$dev2' true; [ \$? -eq 1 ] || exit 13
	exit 0"
expect "two drives, shared and exclusive, in one call" 0
run -n "$dev2" true
expect "both released afterwards" 0
if hold x2 "$dev2"; then
	run -n -s "$dev1" -x "$dev2" -- true
	expect "two drives: all or nothing, the busy one named" 1 "$dev2: busy: $dev2"
	run -n "$dev1" true
	expect "two drives: the free one was not kept" 0
	release x2 "$holder"
fi

# ------------------------------------------------- progress on a terminal
if command -v script >/dev/null 2>&1 && hold p1 "$dev1"; then
	ppid_=$holder
	rm -f "$tmp/tty.out"
	script -qec "'$tool' -w 60 '$dev1' true; echo \"rc=\$?\"" /dev/null >"$tmp/tty.out" 2>&1 </dev/null &
	spid=$!
	bg_pids+=("$spid")
	for ((i = 0; i < 600; i++)); do
		grep -q "waiting for" "$tmp/tty.out" 2>/dev/null && break
		sleep 0.05
	done
	release p1 "$ppid_"
	wait "$spid"
	tty_out=$(cat "$tmp/tty.out")
	if [[ $tty_out == *"waiting for $dev1 (busy: $dev1 held by ddlp-lock (pid $ppid_))"* && $tty_out == *" s"* ]]; then
		pass "progress line on a terminal names the drive and the holder"
	else
		fail "progress line: $(printf '%q' "$tty_out")"
	fi
	if [[ $tty_out == *$'\r\e[K'* && $tty_out == *"rc=0"* ]]; then
		pass "progress line cleared; the lock was taken"
	else
		fail "progress line not cleared or lock failed: $(printf '%q' "$tty_out")"
	fi
else
	skip "progress line: no script(1)"
fi

. "$(dirname "$0")/cli-listing.sh"

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
