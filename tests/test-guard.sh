#!/bin/bash
# ddlp-guard(1) on the host, with loop devices as drives (ddlp-guard -d:
# a loop device is a drive of one node, with the block claim of O_EXCL):
# a program that knows nothing of DDLP (tests/guard-probe) opens, copies,
# closes, forks, spawns and executes; ddlp-lock --status (which opens no
# device) shows what the guard holds.  Both lock backends.  The real
# programs and the sg/bsg rules are tested in the VM (tests/vm/suite/guard.sh).
#
# Needs root (losetup, mknod).  Run by "make check"; alone:
#   abs_top_builddir=$PWD tests/test-guard.sh
#
# No assertion depends on how fast anything is: waits are bounded against
# hangs only.
set -u

. "$(dirname "$0")/cli-common.sh"
cli_setup test-guard losetup mknod truncate setpriv

guard=$builddir/src/ddlp-guard
probe=$builddir/tests/guard-probe
preload=$builddir/lib/guard/.libs/libddlp-guard.so
for f in "$guard" "$probe" "$preload"; do
	if [ ! -e "$f" ]; then
		echo "FAIL: $f not built"
		echo "0 passed, 1 failed"
		exit 1
	fi
done
export DDLP_GUARD_PRELOAD=$preload
# A sanitizer build: its runtime must come first in LD_PRELOAD (the
# launcher appends the guard after what is there), and leaks of the
# programs run under it are not ours to report.
asan=$(ldd "$preload" 2>/dev/null | awk '/libasan/ {print $3}')
if [ -n "$asan" ]; then
	export LD_PRELOAD=$asan
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:verify_asan_link_order=0
fi

new_loop() { # N -> REPLY
	local img=$tmp/img$1
	truncate -s 1M "$img" || return 1
	REPLY=$(losetup -f --show "$img") || return 1
	loops+=("$REPLY")
}
if ! new_loop 1 || ! L=$REPLY || ! new_loop 2 || ! L2=$REPLY; then
	echo "SKIP: cannot set up loop devices"
	exit 77
fi
LN=${L#/dev/}
echo "# guard: $guard; drives: $L $L2"

trap 'umount "$tmp/aliases" 2>/dev/null; cli_cleanup' EXIT

# ---- probes: guard-probe under ddlp-guard, driven through FIFOs ----------
declare -A pin pout ppid
# probe_start NAME [GUARD-OPTIONS...]: start it, wait for READY.  The
# variable PROBE_CWD gives its directory, PROBE_ENV (an array) extra
# environment.
PROBE_ENV=()
probe_start() {
	local name=$1 fd line
	shift
	rm -f "$tmp/$name.in" "$tmp/$name.out"
	mkfifo "$tmp/$name.in" "$tmp/$name.out"
	(cd "${PROBE_CWD:-$tmp}" && exec env "${PROBE_ENV[@]}" "$guard" "$@" "$probe" \
		<"$tmp/$name.in" >"$tmp/$name.out" 2>"$tmp/$name.err") &
	ppid[$name]=$!
	bg_pids+=($!)
	exec {fd}>"$tmp/$name.in"
	pin[$name]=$fd
	exec {fd}<"$tmp/$name.out"
	pout[$name]=$fd
	pread "$name"
	[ "$R" = READY ]
}
# pread NAME: the next line of its answers into R ("" after 60 s)
pread() {
	R=
	IFS= read -t 60 -r R <&"${pout[$1]}" || R="(no answer: $(tail -c 300 "$tmp/$1.err"))"
}
# p NAME COMMAND...: one command, its answer in R
p() {
	local name=$1
	shift
	echo "$*" >&"${pin[$name]}"
	pread "$name"
}
# probe_end NAME: end of input; wait for it
probe_end() {
	local fd
	fd=${pin[$1]}
	exec {fd}>&-
	fd=${pout[$1]}
	wait "${ppid[$1]}" 2>/dev/null
	exec {fd}<&-
}
ok() { [[ $R == OK* ]]; }
val() { R=${R#OK }; }

# state DEVICE: "free", "shared" or "exclusive" (ddlp-lock --status: no open)
state() {
	S=$("$tool" --status --noheadings --output STATE "$1" 2>&1)
	S=${S%%[[:space:]]*}
}
check_state() { # NAME DEVICE WANT
	state "$2"
	if [ "$S" = "$3" ]; then pass "$1 ($2 $3)"; else fail "$1 ($2 is '$S', expected $3)"; fi
}
check_ok() { # NAME: the last answer was OK
	if ok; then pass "$1"; else fail "$1 (answer: $R)"; fi
}
check_answer() { # NAME WANT
	if [ "$R" = "$2" ]; then pass "$1"; else fail "$1 (answer '$R', expected '$2')"; fi
}
# lock_fd NAME DEVICE: the number of a guard's own descriptor of DEVICE in
# the probe (at or above 256), into R
lock_fd() {
	local f
	R=
	for f in /proc/"${ppid[$1]}"/fd/*; do
		[ "$(readlink "$f")" = "$2" ] && [ "${f##*/}" -ge 256 ] && R=${f##*/}
	done
}

# =========================================================================
# Usage and the launcher's own errors (the exit codes of ddlp-lock)
# =========================================================================
run_guard() { "$guard" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; err=$(cat "$tmp/err"); }
expect_rc() { # NAME WANT [PATTERN]
	if [ "$rc" -ne "$2" ]; then
		fail "$1: exit $rc, expected $2 (stderr: $err)"
	elif [ -n "${3:-}" ] && [[ $err != *"$3"* ]]; then
		fail "$1: stderr lacks '$3' (stderr: $err)"
	else
		pass "$1"
	fi
}
run_guard
expect_rc "no command: usage 64" 64 "no command given"
run_guard -w abc true
expect_rc "malformed -w: usage 64" 64 "invalid timeout 'abc'"
run_guard --bogus true
expect_rc "unknown option: usage 64" 64 "unknown option '--bogus'"
run_guard -d /dev/null true
expect_rc "-d /dev/null: not a drive 69" 69 "/dev/null: not a drive"
run_guard -d "$tmp/nonexistent" true
expect_rc "-d of a missing path: no such device 66" 66 "no such device"
run_guard -d 1,2,3junk true
expect_rc "-d of a malformed address: usage 64" 64 "malformed SCSI address"
run_guard ddlp-guard-no-such-command
expect_rc "command not found: 127" 127 "cannot run ddlp-guard-no-such-command"
printf 'x' >"$tmp/notexec"
run_guard "$tmp/notexec"
expect_rc "command not executable: 126" 126 "cannot run"
DDLP_GUARD_PRELOAD=$tmp/nonexistent.so run_guard true
expect_rc "preload missing: 71" 71 "cannot find the guard's library"
run_guard sh -c 'exit 7'
expect_rc "the command's exit status" 7
run_guard --help
expect_rc "--help" 0
grep -q "^Usage:" "$tmp/out" && pass "--help prints the usage" || fail "--help prints the usage"

# Statically linked and set-id programs are not reached by a preload
static=
if command -v busybox >/dev/null && ! ldd "$(command -v busybox)" >/dev/null 2>&1; then
	static=$(command -v busybox)
else
	printf 'int main(void){return 0;}\n' >"$tmp/st.c"
	${CC:-cc} -static -o "$tmp/static" "$tmp/st.c" 2>/dev/null && static=$tmp/static
fi
if [ -n "$static" ]; then
	run_guard "$static" true
	expect_rc "a static program runs, with a warning" 0 "statically linked"
	run_guard --strict "$static" true
	expect_rc "--strict refuses a static program: 126" 126 "statically linked"
else
	skip "static program: neither busybox-static nor a static link"
fi
cp /bin/true "$tmp/suid-true" && chmod 4755 "$tmp/suid-true"
setpriv --reuid=65534 --regid=65534 --clear-groups "$guard" --strict "$tmp/suid-true" >"$tmp/out" 2>"$tmp/err"
rc=$? err=$(cat "$tmp/err")
expect_rc "--strict refuses a set-user-ID program of another user: 126" 126 "set-user-ID"
run_guard --strict true
expect_rc "--strict runs a dynamically linked program" 0

# =========================================================================
# Nothing changes for files that are not drives
# =========================================================================
echo data >"$tmp/file"
probe_start plain -d "$L"
p plain open "$tmp/file" ro
check_ok "a regular file opens as usual"
p plain close 3
p plain open /dev/null rw
check_ok "/dev/null opens as usual"
fd=${R#OK }
p plain close "$fd"
p plain fopen "$tmp/file" r
check_ok "fopen of a regular file"
p plain fclose 3
check_ok "fclose of a regular file"
check_state "opening other files locks nothing" "$L" free
probe_end plain

# =========================================================================
# The rules, in each lock backend
# =========================================================================
for backend in ofd posix; do
	PROBE_ENV=(DDLP_LOCK_BACKEND=$backend)
	b="[$backend] "

	# ---- modes and release with the last descriptor
	probe_start a -d "$L"
	p a open "$L" rw
	check_ok "${b}open for writing"
	check_state "${b}an open for writing holds the drive exclusively" "$L" exclusive
	"$tool" -n -s "$L" true 2>/dev/null
	[ $? = 1 ] && pass "${b}a shared ddlp-lock is refused beside it" || fail "${b}a shared ddlp-lock is refused beside it"
	p a dup 3
	check_answer "${b}dup" "OK 4"
	p a close 3
	check_state "${b}the drive stays held while a copy is open" "$L" exclusive
	p a dupfd 4 20
	nfd=${R#OK }
	if ok && [ "$nfd" -ge 20 ]; then pass "${b}F_DUPFD"; else fail "${b}F_DUPFD ($R)"; fi
	p a close 4
	check_state "${b}the F_DUPFD copy keeps it" "$L" exclusive
	p a close "$nfd"
	check_state "${b}closing the last descriptor releases it, the program running" "$L" free
	p a open "$L" ro
	check_state "${b}an open for reading holds it shared" "$L" shared
	"$tool" -n -s "$L" true
	[ $? = 0 ] && pass "${b}another shared holder gets in beside a guarded reader" || fail "${b}another shared holder gets in beside a guarded reader"
	"$tool" -n -x "$L" true 2>/dev/null
	[ $? = 1 ] && pass "${b}an exclusive ddlp-lock is refused while a guarded reader holds it" || fail "${b}an exclusive ddlp-lock is refused while a guarded reader holds it"
	p a open "$L" rw,excl
	if [ "$backend" = ofd ]; then
		check_ok "${b}a later open for writing makes the hold exclusive"
		check_state "${b}after the conversion" "$L" exclusive
		p a close 4
	else
		check_answer "${b}a later open for writing is refused (no conversion with POSIX locks)" "ERR EBUSY"
	fi
	p a close 3
	check_state "${b}released after both" "$L" free

	# ---- O_EXCL: the guard holds the claim for the program
	p a open "$L" rw,excl
	check_ok "${b}O_EXCL open under the guard"
	probe_start bare
	p bare open "$L" ro,excl
	check_answer "${b}the claim is held: a foreign O_EXCL open is refused" "ERR EBUSY"
	probe_end bare
	# ---- the program's own locks on its descriptor are answered by the hold
	p a lock 3 w
	check_ok "${b}the program's F_SETLK write lock is granted"
	p a lock 3 w ofd
	check_ok "${b}its F_OFD_SETLK write lock is granted"
	p a flock 3 ex
	check_ok "${b}its flock(LOCK_EX) is granted"
	p a lock 3 u
	p a flock 3 un
	check_state "${b}its unlocks leave the hold" "$L" exclusive
	# ---- the guard's own descriptors
	lock_fd a "$L"
	gfd=$R
	if [ -n "$gfd" ]; then
		p a close "$gfd"
		check_ok "${b}close of the guard's own descriptor answers 0"
		check_state "${b}and keeps it" "$L" exclusive
		p a dup2 3 "$gfd"
		check_answer "${b}dup2 onto the guard's descriptor: EBUSY" "ERR EBUSY"
	else
		fail "${b}the guard's lock descriptor is at or above 256 ($(ls -l /proc/"${ppid[a]}"/fd | tr '\n' ' '))"
	fi
	p a dup2 3 5
	p a close 3
	check_state "${b}dup2 copy keeps it" "$L" exclusive
	p a close_range 5 5
	check_state "${b}close_range releases it" "$L" free
	p a open "$L" rw
	p a dup 3
	p a closefrom 3
	check_state "${b}closefrom releases it" "$L" free
	p a open "$L" ro
	check_answer "${b}closefrom kept the guard's state file (the next open gets 3)" "OK 3"
	p a close 3

	# ---- busy: fail at once, or wait
	hold busy -x "$L"
	p a open "$L" ro
	check_answer "${b}an open of a busy drive fails with EBUSY" "ERR EBUSY"
	if grep -q "guard-probe\[${ppid[a]}\]: $L: busy: $L held by ddlp-lock (pid $holder)" "$tmp/a.err"; then
		pass "${b}the refusal names the holder on stderr"
	else
		fail "${b}the refusal names the holder on stderr ($(tail -n1 "$tmp/a.err"))"
	fi
	release busy "$holder"
	probe_end a

	probe_start w -w 30 -d "$L"
	hold busy -x "$L"
	echo "open $L rw" >&"${pin[w]}"
	sleep 0.3
	state "$L"
	[ "$S" = exclusive ] && pass "${b}-w: the open waits while the drive is held" || fail "${b}-w: the open waits ($S)"
	release busy "$holder"
	pread w
	check_ok "${b}-w: the open succeeds when the holder lets go"
	check_state "${b}-w: and holds the drive" "$L" exclusive
	probe_end w
	check_state "${b}the program's exit releases it" "$L" free

	probe_start q -q -w 0.2 -d "$L"
	hold busy -x "$L"
	p q open "$L" ro
	check_answer "${b}-w 0.2: EBUSY when it stays busy" "ERR EBUSY"
	[ ! -s "$tmp/q.err" ] && pass "${b}-q: no message" || fail "${b}-q: no message ($(cat "$tmp/q.err"))"
	release busy "$holder"
	probe_end q

	# ---- fork: the child keeps the lock until its last copy is closed
	probe_start f -d "$L"
	p f open "$L" rw
	p f fork "until $tmp/f1; close 3; touch $tmp/f2; until $tmp/f3"
	child=${R#OK }
	p f close 3
	check_state "${b}fork: the child's copy keeps the drive" "$L" exclusive
	touch "$tmp/f1"
	wait_file "$tmp/f2"
	check_state "${b}fork: the child's close releases it, the child running" "$L" free
	touch "$tmp/f3"
	p f wait "$child"
	rm -f "$tmp"/f[123]
	p f open "$L" rw
	p f fork "until $tmp/f1"
	child=${R#OK }
	p f close 3
	touch "$tmp/f1"
	p f wait "$child"
	check_state "${b}fork: released when the child exits" "$L" free
	rm -f "$tmp"/f[123]

	# ---- exec: descriptors without close-on-exec carry the lock along
	p f open "$L" rw
	p f exec
	check_answer "${b}exec" READY
	check_state "${b}exec: the lock survives with the descriptor" "$L" exclusive
	p f open "$L" rw,excl
	check_ok "${b}exec: the new image joins the hold it inherited"
	p f close 4
	p f close 3
	check_state "${b}exec: the new image releases it with the last descriptor" "$L" free
	p f open "$L" rw,cloexec
	p f exec
	check_state "${b}exec: a close-on-exec descriptor takes the lock with it" "$L" free
	p f open "$L" rw,cloexec
	p f dup 3
	p f exec
	check_state "${b}exec: a dup without close-on-exec keeps it" "$L" exclusive
	p f close 4
	check_state "${b}exec: ... until closed" "$L" free
	p f open "$L" rw
	p f cloexec 3 1
	p f exec
	check_state "${b}exec: F_SETFD close-on-exec set later is followed" "$L" free

	# ---- spawn (posix_spawn, as system() and popen() do)
	p f open "$L" rw
	p f spawn-sh "until [ -e $tmp/s1 ]; do sleep 0.05; done; exec 3>&-; touch $tmp/s2; until [ -e $tmp/s3 ]; do sleep 0.05; done"
	child=${R#OK }
	p f close 3
	check_state "${b}spawn: the spawned shell keeps the drive" "$L" exclusive
	touch "$tmp/s1"
	wait_file "$tmp/s2"
	check_state "${b}spawn: the spawned shell's close releases it" "$L" free
	touch "$tmp/s3"
	p f wait "$child"
	rm -f "$tmp"/s[123]
	probe_end f

	# ---- stdio
	probe_start s -d "$L"
	p s fopen "$L" r+
	check_ok "${b}fopen of the drive"
	check_state "${b}fopen r+ holds it exclusively" "$L" exclusive
	fd=${R#OK }
	p s fclose 3
	check_state "${b}fclose releases it" "$L" free
	p s fopen "$L" r
	check_state "${b}fopen r holds it shared" "$L" shared
	p s fclose 3
	check_state "${b}fclose releases it" "$L" free
	probe_end s
done
PROBE_ENV=()

# =========================================================================
# Other ways to name the drive
# =========================================================================
mkdir -p "$tmp/aliases"
if mount -t tmpfs -o mode=755 guard-aliases "$tmp/aliases" 2>/dev/null; then
	mknod "$tmp/aliases/alias" b "$(stat -c '%t' "$L" | xargs printf '%d')" "$(stat -c '%T' "$L" | xargs printf '%d')"
	ln -s "$L" "$tmp/aliases/link"
	probe_start n -d "$L"
	p n open "$tmp/aliases/alias" rw
	check_ok "open of a mknod alias outside /dev"
	check_state "a mknod alias outside /dev is guarded (late catch)" "$L" exclusive
	p n close 3
	check_state "... and released" "$L" free
	p n open "$tmp/aliases/link" ro,nonblock
	check_state "a symlink outside /dev opened as devices are (O_NONBLOCK) is guarded" "$L" shared
	p n close 3
	p n open "$tmp/aliases/link" ro
	check_state "a plain read-only open through a symlink outside /dev is not looked at (documented)" "$L" free
	p n close 3
	p n openat /dev "$LN" rw
	check_state "openat from a directory fd of /dev is guarded" "$L" exclusive
	p n close 3
	probe_end n
	probe_start n --all-paths -d "$L"
	p n open "$tmp/aliases/link" ro
	check_state "--all-paths: a plain read-only open through a symlink outside /dev is guarded" "$L" shared
	p n close 3
	probe_end n
	umount "$tmp/aliases"
else
	skip "mknod alias: cannot mount a tmpfs for it"
fi
PROBE_CWD=/dev probe_start c -d "$L"
p c open "$LN" rw
check_state "a relative path from /dev is guarded" "$L" exclusive
p c close 3
probe_end c

# =========================================================================
# Programs that lock on their own, and a nested guard
# =========================================================================
"$guard" -d "$L" "$tool" -x "$L" sh -c "\"$tool\" --status --noheadings --output STATE,HOLDER $L" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" = 0 ] && grep -q "^exclusive *ddlp-lock" "$tmp/out"; then
	pass "ddlp-lock (libddlp) under the guard locks as without it"
else
	fail "ddlp-lock (libddlp) under the guard locks as without it (exit $rc: $(cat "$tmp/out" "$tmp/err"))"
fi
probe_start nest -d "$L2" "$guard" -d "$L"
p nest open "$L" rw
check_state "a nested ddlp-guard guards" "$L" exclusive
p nest close 3
probe_end nest
envp=$("$guard" "$guard" sh -c 'printf %s "$LD_PRELOAD"')
[ "$envp" = "${LD_PRELOAD:+$LD_PRELOAD:}$preload" ] && pass "nested: the preload is in LD_PRELOAD once" ||
	fail "nested: the preload is in LD_PRELOAD once ($envp)"

# ---- the bash completion --------------------------------------------------
comp=${abs_top_srcdir:-$(dirname "$0")/..}/completion/ddlp-guard.bash
# complete WORDS...: COMPREPLY (space-separated) for the last word
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _ddlp_guard; printf "%s " "${COMPREPLY[@]}"' \
		sh "$comp" "$@"
}
helpopts=$("$guard" --help | grep -oE -- '--[a-z-]+' | sort -u | paste -sd' ')
compopts=$(bash -c ". '$comp'; declare -f _ddlp_guard" | grep -oE -- '--[a-z-]+' | sort -u | paste -sd' ')
[ -n "$helpopts" ] && [ "$helpopts" = "$compopts" ] && pass "bash completion: the long options of --help ($helpopts)" ||
	fail "bash completion: long options '$compopts', --help lists '$helpopts'"
got=$(complete_words ddlp-guard --no-r)
[ "$got" = "--no-reprobe " ] && pass "bash completion: --no-r" || fail "bash completion of --no-r: '$got'"
got=$(complete_words ddlp-guard -d "$L")
case " $got " in *" $L "*) pass "bash completion: -d completes a drive ($L)" ;;
*) fail "bash completion of -d $L: '$got'" ;; esac
bash -c ". '$comp'; declare -F _ddlp_lock_drives" >/dev/null &&
	pass "bash completion: ddlp-lock's, beside it, is loaded for the drive names" ||
	fail "bash completion: ddlp-lock's, beside it, is loaded for the drive names"
got=$(complete_words ddlp-guard -w 3 -d "$L" ech)
case " $got " in *" echo "*) pass "bash completion: the command after the options" ;;
*) fail "bash completion of the command: '$got'" ;; esac
got=$(complete_words ddlp-guard -v echo --no-r)
case " $got " in *" --no-reprobe "*) fail "bash completion: the command's arguments are not ddlp-guard's options ('$got')" ;;
*) pass "bash completion: the command's arguments are not ddlp-guard's options" ;; esac

echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
