#!/bin/bash
# ddlp-guard(1) with real programs (Debian's, run for real) on a real drive,
# in the backend DDLP_LOCK_BACKEND selects:
#   1. on the free drive each program runs under the guard as without it:
#      same exit status, same output;
#   2. while libddlp holds the drive exclusively each of them under the
#      guard is refused, and no SCSI command reaches the drive meanwhile
#      (tracefs scsi:scsi_dispatch_cmd_start, media polling off);
#   3. while a guarded program holds the drive an exclusive ddlp_lock through
#      every alias form is refused and names the program; a guarded burner
#      holds every sibling (O_EXCL on sr and sg, write locks on sr, sg and
#      bsg, LOCK_EX on sr); a guarded reader lets another shared holder in
#      (the POSIX pass repeats three of the holders; the default pass also
#      records, for the table, what the readers hold without the guard);
#   4. the rules per driver with tests/guard-probe on sr, sg, bsg and a mknod
#      alias: the sg node's duplicate, EPERM for O_RDONLY|O_EXCL on sg, the
#      release with the last descriptor, dup, fork and exec.
# The observations go to $VM_OUT/guard-interop.md (tests/vm/test-vm.sh
# copies it to tests/vm/guard-interop-observed.md; doc/interop.md section 5).
#
#   guard.sh [srN]      (default sr0; its disc must be the suite's ISO)
. "$(dirname "$0")/lib.sh"
backend=${DDLP_LOCK_BACKEND:-ofd}
suite_begin guard "[$backend] "

A=${1:-sr0}
sgA=$(sg_of "$A") bsgA=$(bsg_of "$A") hA=$(hctl_of "$A")
GUARD=$VMSUITE_BUILDDIR/src/ddlp-guard
PROBE=$VMSUITE_BUILDDIR/tests/guard-probe
export DDLP_GUARD_PRELOAD=$VMSUITE_BUILDDIR/lib/guard/.libs/libddlp-guard.so
for f in "$GUARD" "$PROBE" "$DDLP_GUARD_PRELOAD"; do
	if ! [ -e "$f" ]; then
		fail "guard: $f is built"
		suite_end
		exit 1
	fi
done
have() { command -v "$1" >/dev/null 2>&1; }
for p in xorriso cdrskin wodim cdrdao dvd+rw-mediainfo sg_inq blkid cd-info strace; do
	have "$p" || skip "guard: $p not installed"
done
G=("$GUARD" --no-reprobe)
table=$W/table
: >"$table.free" && : >"$table.busy" && : >"$table.hold"
base=$VM_OUT/guard-baseline
mkdir -p "$base"

# Alias forms of the drive (as interop.sh)
drive_forms "$A"
sgalias=
[ -n "$sgA" ] && sgalias=$(make_alias "/dev/$sgA")

# ---- SCSI commands that reach the drive (tracefs: scsicount.sh) ---------
. "$(dirname "$0")/scsicount.sh"
trap 'scsi_count_teardown; cleanup_suite' EXIT
scsi_count_setup "$hA" || fail "guard: tracefs event scsi:scsi_dispatch_cmd_start is available (the drive's commands are not counted)"
trace_on() { scsi_count_begin; }
trace_off() { # -> REPLY: commands that reached drive A
	scsi_count_end
	REPLY=$COUNT
}

# A one-line message from a program's output (as interop.sh)
msg_of() {
	local m
	m=$(tr '\r' '\n' <"$1" 2>/dev/null | grep -E -m1 -i 'busy|cannot|can.t|error|fail|sorry|unable|exclusive')
	[ -n "$m" ] || m=$(tr '\r' '\n' <"$1" 2>/dev/null | grep -v -E '^\s*$' | head -n1)
	m=$(printf '%s' "$m" | tr '\t|`' '   ' | tr -s ' ' | sed 's/^ //' | cut -c1-100)
	printf '%s' "${m:-(no output)}"
}
cell() { printf '%s' "$1" | tr '|' '/'; }

# name|marker of "got the drive"|comm|command
progs=(
	"blkid|TYPE=|blkid|blkid /dev/$A"
	"cd-info|CD location|cd-info|cd-info --no-header /dev/$A"
	"mediainfo|INQUIRY:|dvd+rw-mediainf|dvd+rw-mediainfo /dev/$A"
	"sg_inq-sr|Vendor identification|sg_inq|sg_inq /dev/$A"
)
[ -n "$sgA" ] && progs+=("sg_inq-sg|Vendor identification|sg_inq|sg_inq /dev/$sgA")
[ -n "$bsgA" ] && progs+=("sg_inq-bsg|Vendor identification|sg_inq|sg_inq /dev/$bsgA")
progs+=(
	"cdrdao|Sessions|cdrdao|cdrdao disk-info --device /dev/$A"
	"xorriso|^Media current:|xorriso|xorriso -outdev /dev/$A -toc"
	"cdrskin|^Vendor_info|cdrskin|cdrskin dev=/dev/$A -checkdrive"
	"wodim-sr|^Identification|wodim|wodim dev=/dev/$A -checkdrive"
)
[ -n "$sgA" ] && progs+=("wodim-sg|^Identification|wodim|wodim dev=/dev/$sgA -checkdrive")

# =========================================================================
# 1. The free drive: the same with and without the guard
# =========================================================================
for e in "${progs[@]}"; do
	IFS='|' read -r name marker comm cmd <<<"$e"
	if ! [ -s "$base/$name.rc" ]; then # once per boot, shared by both backends
		timeout -k 5 90 $cmd >"$base/$name.out" 2>&1 </dev/null
		echo $? >"$base/$name.rc"
	fi
	rc0=$(cat "$base/$name.rc")
	timeout -k 5 90 "${G[@]}" $cmd >"$W/free-$name.out" 2>&1 </dev/null
	rc=$?
	if ! grep -Eq -- "$marker" "$base/$name.out"; then
		fail "guard: control: '$cmd' reports the drive ('$marker') without the guard (exit $rc0: $(msg_of "$base/$name.out"))"
	elif [ "$rc" != "$rc0" ]; then
		fail "guard: '$cmd' under the guard exits as without it ($rc, not $rc0: $(msg_of "$W/free-$name.out"))"
	elif ! d=$(diff "$base/$name.out" "$W/free-$name.out"); then
		fail "guard: '$cmd' under the guard prints what it prints without it: $(printf '%s' "$d" | head -n3 | tr '\n' ' ' | cut -c1-200)"
	else
		pass "guard: '$cmd' on the free drive: exit $rc and the same output as without the guard"
	fi
	printf '| `%s` | exit %s: %s | exit %s, the same output |\n' "$(cell "$cmd")" "$rc0" \
		"$(cell "$(grep -E -m1 -- "$marker" "$base/$name.out" | tr -s ' \t' '  ' | cut -c1-60)")" "$rc" >>"$table.free"
done
note "part 1 done ($SECONDS s)"

# =========================================================================
# 2. libddlp holds the drive: every guarded program is refused, and the
#    drive receives nothing meanwhile
# =========================================================================
if hold_lock h --no-reprobe excl 0 "/dev/$A"; then
	# let the holder's own open settle, and make sure the window is quiet
	sleep 1
	trace_on
	sleep 1
	trace_off
	idle=$REPLY
	[ "$idle" = 0 ] || note "guard: $idle commands reached the drive in an idle second before the attempts"
	trace_on
	pids=()
	for e in "${progs[@]}"; do
		IFS='|' read -r name marker comm cmd <<<"$e"
		(
			timeout -k 5 90 "${G[@]}" $cmd >"$W/busy-$name.out" 2>&1 </dev/null
			echo $? >"$W/busy-$name.rc"
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
	trace_off
	cmds=$REPLY
	st=$(locked_nodes_of "$A")
	release h
	check "guard: libddlp's lock was held throughout (locked:$st; $RELEASE_LINE)" test "$RELEASE_LINE" = "UNLOCKED 0"
	for e in "${progs[@]}"; do
		IFS='|' read -r name marker comm cmd <<<"$e"
		rc=$(cat "$W/busy-$name.rc")
		m=$(grep -m1 "ddlp-guard: " "$W/busy-$name.out" | cut -c1-120)
		if grep -Eq -- "$marker" "$W/busy-$name.out"; then
			fail "guard: '$cmd' under the guard is refused while libddlp holds $A (it proceeded, exit $rc)"
			res="proceeded (exit $rc)"
		elif [ -z "$m" ] || [[ $m != *": busy: "* ]]; then
			fail "guard: '$cmd' under the guard is refused by the guard (exit $rc: $(msg_of "$W/busy-$name.out"))"
			res="failed otherwise (exit $rc)"
		else
			pass "guard: '$cmd' under the guard is refused while libddlp holds $A (exit $rc; $m)"
			res="**refused** (exit $rc)"
		fi
		printf '| `%s` | %s | %s |\n' "$(cell "$cmd")" "$res" "$(cell "$(msg_of "$W/busy-$name.out")")" >>"$table.busy"
	done
	if [ "$cmds" = 0 ]; then
		pass "guard: no SCSI command reached $A while the ${#progs[@]} guarded programs were refused"
	else
		fail "guard: no SCSI command reached $A while the guarded programs were refused ($cmds did)"
	fi
	busy_cmds=$cmds
else
	fail "guard: /dev/$A locked exclusively ($HOLD_LINE)"
	release h
	busy_cmds=?
fi
note "part 2 done ($SECONDS s)"

# =========================================================================
# 3. A guarded program holds the drive
# =========================================================================
children_of() { # PID: its child processes, from /proc (no procps needed)
	local f st
	for f in /proc/[0-9]*/stat; do
		{ read -r st <"$f"; } 2>/dev/null || continue
		st=${st##*) } # after "PID (COMM) "
		st=${st#* }   # after the state: the parent's pid
		if [ "${st%% *}" = "$1" ]; then
			f=${f#/proc/}
			echo "${f%/stat}"
		fi
	done
}
stop_prog() { # NAME: SIGKILL the holder and what it started (a paused
	# program, its strace); the kernel closes their descriptors
	local name=$1 pid=${hold_pid[$1]}
	disown "$pid" 2>/dev/null # (no "Killed" notice)
	kill -9 $(children_of "$pid") "$pid" 2>/dev/null
	release "$name" 2>/dev/null || true
}
# try_all WHAT COMM: an exclusive ddlp_lock through every alias form must
# fail with EBUSY naming a node of the drive and the process COMM
try_all() {
	local what=$1 comm=$2
	try_forms "$comm"
	if [ -z "$TRY_BAD" ]; then
		pass "guard: while $what holds the drive under the guard, an exclusive ddlp_lock through each of ${#forms[@]} alias forms fails with EBUSY naming $TRY_NAMED"
		TRY_RESULT="**refused**: EBUSY through all ${#forms[@]} aliases, $TRY_NAMED"
	else
		fail "guard: while $what holds the drive under the guard, an exclusive ddlp_lock through each alias fails with EBUSY naming $comm:$TRY_BAD"
		TRY_RESULT="taken or wrong through some aliases:$(cell "$TRY_BAD")"
	fi
}
# siblings MODE: what the guarded holder has of each node (as a cell);
# SIB_BAD lists what an exclusive (or shared) hold lacks
siblings() {
	local mode=$1 n k out='' want
	SIB_BAD=
	for n in "/dev/$A" ${sgA:+"/dev/$sgA"} ${bsgA:+"/dev/$bsgA"}; do
		k=$("$VMTOOL" proclocks "$n" | awk '{print $1 "-" $2}' | sort -u | paste -sd+)
		out="$out ${n#/dev/}:${k:--}"
		if [ "$mode" = excl ]; then want=OFDLCK-WRITE; else want=OFDLCK-READ; fi
		[ "$backend" = posix ] && want=${want/OFDLCK/POSIX}
		[[ $k == *"$want"* ]] || SIB_BAD="$SIB_BAD ${n#/dev/}:no-$want"
	done
	k=$("$VMTOOL" proclocks "/dev/$A" | awk '$1 == "FLOCK" {print $2}' | sort -u)
	if [ "$mode" = excl ]; then
		[ "$k" = WRITE ] || SIB_BAD="$SIB_BAD sr:no-LOCK_EX"
		[ "$("$VMTOOL" open "/dev/$A" ro,excl,nonblock </dev/null)" = "ERROR err=EBUSY" ] || SIB_BAD="$SIB_BAD sr:no-claim"
		out="$out sr-claim:$("$VMTOOL" open "/dev/$A" ro,excl,nonblock </dev/null | tr ' ' '_')"
		if [ -n "$sgA" ]; then
			[ "$("$VMTOOL" open "/dev/$sgA" ro,nonblock </dev/null)" = "ERROR err=EBUSY" ] || SIB_BAD="$SIB_BAD sg:no-exclusive-open"
			out="$out sg-open:$("$VMTOOL" open "/dev/$sgA" ro,nonblock </dev/null | tr ' ' '_')"
		fi
	else
		[ "$k" = READ ] || SIB_BAD="$SIB_BAD sr:no-LOCK_SH"
	fi
	SIB_CELL=${out# }
}
strace_hold() { # NODE CMD...: CMD with its first ioctl on NODE delayed 60 s
	local node=$1
	shift
	echo strace -f -qq -o /dev/null -P "$node" -e trace=ioctl -e inject=ioctl:delay_enter=60000000 "$@"
}

# what|ready|comm|mode|posix|command: posix=1 for the few that the POSIX
# pass repeats (a burner with its own wait, a paused burner on sg, a reader)
holders=(
	"xorriso -outdev /dev/$A -sleep 60|Will sleep for|xorriso|excl|1|xorriso -outdev /dev/$A -sleep 60"
	"cdrskin dev=/dev/$A grab_drive_and_wait=60|holding drive grabbed|cdrskin|excl|0|cdrskin dev=/dev/$A grab_drive_and_wait=60"
	"wodim dev=/dev/$A -checkdrive (paused)|openers:/dev/$A:wodim|wodim|excl|0|$(strace_hold "/dev/$A" wodim dev=/dev/$A -checkdrive)"
)
[ -n "$sgA" ] && holders+=("wodim dev=/dev/$sgA -checkdrive (paused)|openers:/dev/$sgA:wodim|wodim|excl|1|$(strace_hold "/dev/$sgA" wodim dev=/dev/$sgA -checkdrive)")
holders+=(
	"cdrdao disk-info --device /dev/$A (paused)|openers:/dev/$A:cdrdao|cdrdao|excl|0|$(strace_hold "/dev/$A" cdrdao disk-info --device /dev/$A)"
	"dvd+rw-mediainfo /dev/$A (paused)|openers:/dev/$A:dvd+rw-mediainf|dvd+rw-mediainf|excl|0|$(strace_hold "/dev/$A" dvd+rw-mediainfo /dev/$A)"
	"blkid /dev/$A (paused)|openers:/dev/$A:blkid|blkid|shared|1|$(strace_hold "/dev/$A" blkid /dev/$A)"
	"cd-info /dev/$A (paused)|openers:/dev/$A:cd-info|cd-info|shared|0|$(strace_hold "/dev/$A" cd-info --no-header /dev/$A)"
	"sg_inq /dev/$A (paused)|openers:/dev/$A:sg_inq|sg_inq|shared|0|$(strace_hold "/dev/$A" sg_inq /dev/$A)"
)
[ -n "$bsgA" ] && holders+=("sg_inq /dev/$bsgA (paused)|openers:/dev/$bsgA:sg_inq|sg_inq|shared|0|$(strace_hold "/dev/$bsgA" sg_inq /dev/$bsgA)")
for e in "${holders[@]}"; do
	IFS='|' read -r what ready comm mode inposix cmd <<<"$e"
	[ "$backend" = posix ] && [ "$inposix" != 1 ] && continue
	# without the guard (recorded, once): the programs that interop.sh does
	# not hold the drive with
	without="interop.sh, section 2"
	[ "$backend" = posix ] && without="(the ofd table)"
	if [ "$backend" = ofd ] && [[ $what == *"(paused)"* ]] && [[ $comm != wodim && $comm != cdrdao ]]; then
		if hold_prog hp0 "$ready" $cmd; then
			try_lock --no-reprobe excl 0 "/dev/$A"
			case $TRY_LINE in
			LOCKED*) without="taken: the program holds no lock" ;;
			*) without="refused: $(field "$TRY_LINE" node) $(field "$TRY_LINE" step)" ;;
			esac
			note "without the guard, while $what holds the drive, an exclusive ddlp_lock: $TRY_LINE"
		else
			without="(could not hold it)"
		fi
		stop_prog hp0
	fi
	if hold_prog hp "$ready" "${G[@]}" $cmd; then
		try_all "$what" "$comm"
		siblings "$mode"
		if [ -z "$SIB_BAD" ]; then
			pass "guard: $what under the guard holds every sibling $( [ "$mode" = excl ] && echo exclusively || echo shared) ($SIB_CELL)"
		else
			fail "guard: $what under the guard holds every sibling ($mode):$SIB_BAD ($SIB_CELL)"
		fi
		other=-
		if [ "$mode" = shared ]; then
			try_lock --no-reprobe shared 0 "/dev/$A"
			other=$TRY_LINE
			case $TRY_LINE in
			LOCKED*) pass "guard: while $what holds the drive shared under the guard, another shared ddlp_lock gets in" ;;
			*) fail "guard: while $what holds the drive shared under the guard, another shared ddlp_lock gets in ($TRY_LINE)" ;;
			esac
			other=${other%% *}
		fi
		printf '| %s | %s | %s | %s | %s |\n' "$(cell "$what")" "$without" "$TRY_RESULT" "$(cell "$SIB_CELL")" "$other" >>"$table.hold"
	else
		fail "guard: $what holds the drive under the guard ($(cat "$W/hp.out" "$W/hp.err" | tr '\r' '\n' | grep -v '^$' | tail -n1))"
	fi
	stop_prog hp
	left=$(locked_nodes_of "$A")
	[ -z "$left" ] || fail "guard: nothing is left locked after $what ended:$left"
done
note "part 3 done ($SECONDS s)"

# =========================================================================
# 4. The rules per driver, with a program that knows nothing of DDLP
# =========================================================================
declare -A pin pout ppid
probe_start() { # NAME [GUARD-OPTIONS...]
	local name=$1 fd
	shift
	rm -f "$W/$name.pin" "$W/$name.pout"
	mkfifo "$W/$name.pin" "$W/$name.pout"
	("$GUARD" --no-reprobe "$@" "$PROBE" <"$W/$name.pin" >"$W/$name.pout" 2>"$W/$name.perr") &
	ppid[$name]=$!
	exec {fd}>"$W/$name.pin"
	pin[$name]=$fd
	exec {fd}<"$W/$name.pout"
	pout[$name]=$fd
	pread "$name"
}
pread() {
	R=
	IFS= read -t 60 -r R <&"${pout[$1]}" || R="(no answer: $(tail -c 200 "$W/$1.perr"))"
}
p() {
	local name=$1
	shift
	echo "$*" >&"${pin[$name]}"
	pread "$name"
}
probe_end() {
	local fd=${pin[$1]}
	exec {fd}>&-
	wait "${ppid[$1]}" 2>/dev/null
	fd=${pout[$1]}
	exec {fd}<&-
}
state_is() { # WHAT WANT: the drive's state (ddlp-lock --status: no open)
	local s
	s=$("$VMSUITE_BUILDDIR/src/ddlp-lock" --status --noheadings --output STATE "/dev/$A" 2>&1)
	s=${s%%[[:space:]]*}
	if [ "$s" = "$2" ]; then pass "guard: probe: $1 ($2)"; else fail "guard: probe: $1 ($s, expected $2)"; fi
}
answer_is() { # WHAT WANT
	if [ "$R" = "$2" ]; then pass "guard: probe: $1"; else fail "guard: probe: $1 ('$R', expected '$2')"; fi
}

probe_start pr
if [ -n "$sgA" ]; then
	p pr open "/dev/$sgA" ro,excl
	answer_is "O_RDONLY|O_EXCL on sg is refused with EPERM, as the sg driver does" "ERR EPERM"
	p pr open "/dev/$sgA" rw,excl,nonblock
	sgfd=${R#OK }
	state_is "an O_EXCL open of sg holds the drive" exclusive
	p pr fstat "$sgfd"
	[[ $R == "OK c 21:"* ]] && pass "guard: probe: the program's sg descriptor is the sg node" || fail "guard: probe: the program's sg descriptor is the sg node ($R)"
	p pr getfl "$sgfd"
	(((16#${R#OK }) & 04000)) && pass "guard: probe: it has the O_NONBLOCK it asked for" || fail "guard: probe: it has the O_NONBLOCK it asked for ($R)"
	p pr open "/dev/$sgA" ro
	sg2=${R#OK }
	[[ $R == OK* ]] && pass "guard: probe: a second open of sg in the exclusive hold works (a duplicate)" || fail "guard: probe: a second open of sg in the exclusive hold ($R)"
	p pr getfl "$sg2"
	(((16#${R#OK }) & 04000)) && fail "guard: probe: the second has no O_NONBLOCK ($R)" || pass "guard: probe: the second has no O_NONBLOCK (its own request)"
	p pr open "$sgalias" rw
	sg3=${R#OK }
	[[ $R == OK* ]] && pass "guard: probe: an sg mknod alias in the exclusive hold opens (a duplicate)" || fail "guard: probe: an sg mknod alias in the exclusive hold ($R)"
	p pr close "$sgfd"
	p pr close "$sg2"
	state_is "the sg alias descriptor keeps the drive" exclusive
	p pr close "$sg3"
	state_is "closing the last sg descriptor releases it, the program running" free
fi
p pr open "/dev/$A" ro,nonblock
srfd=${R#OK }
state_is "a read-only open of sr holds the drive shared" shared
if [ -n "$sgA" ]; then
	p pr open "/dev/$sgA" ro,nonblock
	sgfd=${R#OK }
	[[ $R == OK* ]] && pass "guard: probe: sg opens beside it in the shared hold" || fail "guard: probe: sg opens beside it in the shared hold ($R)"
	p pr open "/dev/$A" rw,excl,nonblock
	if [ "$backend" = ofd ]; then
		answer_is "an exclusive open is refused while the program's own sg descriptor blocks the conversion" "ERR EBUSY"
		state_is "the refused conversion keeps the shared hold" shared
	else
		answer_is "an exclusive open after a shared one is refused (no conversion with POSIX locks)" "ERR EBUSY"
	fi
	p pr close "$sgfd"
fi
if [ "$backend" = ofd ]; then
	p pr open "/dev/$A" rw,excl,nonblock
	state_is "without it the hold becomes exclusive" exclusive
	p pr close "${R#OK }"
fi
p pr close "$srfd"
state_is "and is released with the last descriptor" free
if [ -n "$bsgA" ]; then
	p pr open "/dev/$bsgA" rw
	state_is "an open of bsg for writing holds the drive exclusively" exclusive
	p pr close "${R#OK }"
	state_is "released" free
fi
p pr open "$alias" rw,nonblock
state_is "a mknod alias of sr outside /dev is guarded" exclusive
p pr close "${R#OK }"
p pr open /dev/cdrom ro,nonblock
cdfd=${R#OK }
state_is "the udev symlink /dev/cdrom is guarded" shared
p pr dup "$cdfd"
dupfd=${R#OK }
p pr close "$cdfd"
state_is "dup keeps the drive" shared
p pr fork "until $W/f1; close $dupfd; touch $W/f2; until $W/f3"
child=${R#OK }
p pr close "$dupfd"
state_is "the fork child's copy keeps the drive" shared
touch "$W/f1"
for _ in $(seq 300); do [ -e "$W/f2" ] && break; sleep 0.1; done
state_is "the child's close releases it while the child runs" free
touch "$W/f3"
p pr wait "$child"
p pr open "/dev/$A" rw,nonblock
srfd=${R#OK }
p pr exec
answer_is "exec" READY
state_is "a descriptor without close-on-exec keeps the drive across exec" exclusive
p pr close "$srfd"
state_is "the new image releases it with the last descriptor" free
probe_end pr
note "part 4 done ($SECONDS s)"

# ---- the table ----------------------------------------------------------------
{
	echo "### Lock backend: $backend"
	echo
	echo "#### On the free drive: without and with the guard"
	echo
	echo "| Command | Without the guard | Under \`ddlp-guard\` |"
	echo "|---|---|---|"
	cat "$table.free"
	echo
	echo "#### libddlp holds the drive exclusively; the program runs under the guard"
	echo
	echo "SCSI commands that reached the drive while all of them were refused: **$busy_cmds**."
	echo
	echo "| Command under \`ddlp-guard\` | Result | Message |"
	echo "|---|---|---|"
	cat "$table.busy"
	echo
	echo "#### The program runs under the guard and holds the drive; libddlp tries"
	echo
	echo "| Program holding the drive | Without the guard: exclusive \`ddlp_lock()\` | Under \`ddlp-guard\`: exclusive \`ddlp_lock()\` | What it holds under the guard (\`/proc/locks\`, claims) | Shared \`ddlp_lock()\` beside it |"
	echo "|---|---|---|---|---|"
	cat "$table.hold"
	echo
} >>"$VM_OUT/guard-interop.md"

suite_end
