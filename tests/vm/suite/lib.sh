# Shared helpers of the VM suite's guest scripts (sourced, bash).
#
# Every check prints one line: "PASS: what", "FAIL: what (why)" or
# "SKIP: what (reason)"; lines starting with "# " are observations.  At the
# end suite_end appends "NAME PASS FAIL SKIP" to $VM_OUT/counts, which
# tests/vm/test-vm.sh adds up on the host.
#
# Environment: VMSUITE_BUILDDIR (the build tree; default: two levels above
# this directory's parent), VM_OUT (vm-run's output share).

set -u

VMSUITE_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
: "${VMSUITE_BUILDDIR:=$(cd "$VMSUITE_SRCDIR/../../.." && pwd -P)}"
VMTOOL=$VMSUITE_BUILDDIR/tests/vm/suite/ddlp-vmtool
: "${VM_OUT:=/tmp}"

n_pass=0 n_fail=0 n_skip=0
suite_name=
suite_prefix=

suite_begin() { # NAME [PREFIX]
	suite_name=$1
	suite_prefix=${2:-}
	W=$(mktemp -d "/tmp/vmsuite-$1.XXXXXX") || exit 99
	echo "# --- $suite_name${suite_prefix:+ $suite_prefix}"
	if ! [ -x "$VMTOOL" ]; then
		fail "ddlp-vmtool is built ($VMTOOL missing: run make check)"
		suite_end
		exit 1
	fi
}

suite_end() {
	echo "$suite_name${suite_prefix:+$suite_prefix} $n_pass $n_fail $n_skip" >>"$VM_OUT/counts"
	[ "$n_fail" = 0 ]
}

pass() {
	echo "PASS: $suite_prefix$*"
	n_pass=$((n_pass + 1))
}
fail() {
	echo "FAIL: $suite_prefix$*"
	n_fail=$((n_fail + 1))
}
skip() {
	echo "SKIP: $suite_prefix$*"
	n_skip=$((n_skip + 1))
}
note() { echo "# $*"; }

# check WHAT COND-COMMAND... : PASS when the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# field LINE NAME: the value of "NAME=value" in a ddlp-vmtool line (values
# hold no spaces).
field() { _field "$@" && printf '%s' "$REPLY"; }
_field() { # the same into REPLY
	local line=" $1"
	REPLY=
	case $line in *" $2="*) ;; *) return 1 ;; esac
	REPLY=${line#* "$2="}
	REPLY=${REPLY%% *}
}

# wait_for FILE REGEX [SECONDS]: until a line of FILE matches (a bound
# against hangs, not a timing assertion).  Returns 1 when the bound passed.
wait_for() {
	local f=$1 re=$2 max=${3:-60} i=0
	while ! has_line "$f" "$re"; do
		i=$((i + 1))
		[ "$i" -gt $((max * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}
# has_line FILE REGEX: a line of FILE matches (bash only, no grep exec)
has_line() {
	local l
	[ -r "$1" ] || return 1
	while IFS= read -r l || [ -n "$l" ]; do
		[[ $l =~ $2 ]] && return 0
	done <"$1"
	return 1
}

# --- holders ---------------------------------------------------------------
# hold NAME CMD...: run CMD in the background with stdin from a FIFO that
# stays open until release NAME (ddlp-vmtool lock and open --hold keep
# their lock until stdin ends).  Output goes to $W/NAME.out.  Waits for
# the first line of output and puts it in HOLD_LINE; returns 0 when that
# line begins with LOCKED or OPEN.
declare -A hold_pid hold_fd
# start NAME CMD...: the same without waiting for the first line.
start() {
	local name=$1 fd
	shift
	rm -f "$W/$name.in" "$W/$name.out"
	mkfifo "$W/$name.in"
	: >"$W/$name.out"
	# (the subshell closes the other holders' FIFO ends first: a child
	# that kept one would keep that holder from ever seeing EOF)
	(
		for f in "${hold_fd[@]}"; do [ -n "$f" ] && exec {f}>&-; done
		exec "$@" <"$W/$name.in" >"$W/$name.out" 2>"$W/$name.err"
	) &
	hold_pid[$name]=$!
	exec {fd}>"$W/$name.in"
	hold_fd[$name]=$fd
}
hold() {
	local name=$1
	shift
	start "$name" "$@"
	HOLD_LINE=
	if wait_for "$W/$name.out" . 60; then
		IFS= read -r HOLD_LINE <"$W/$name.out"
	else
		HOLD_LINE="(no output: $(head -c 300 "$W/$name.err"))"
	fi
	case $HOLD_LINE in LOCKED* | OPEN*) return 0 ;; *) return 1 ;; esac
}

# hold_lock NAME ARGS...: hold NAME "$VMTOOL" lock ARGS...
hold_lock() {
	local name=$1
	shift
	hold "$name" "$VMTOOL" lock "$@"
}

# release NAME: end the holder's stdin and wait for it; RELEASE_LINE gets
# its last output line ("UNLOCKED 0").  Bounded: a holder that does not
# end in 60 s is killed (and the function returns 2).
release() {
	local name=$1 fd=${hold_fd[$1]:-} pid=${hold_pid[$1]:-} i=0 rc=0
	[ -n "$fd" ] && exec {fd}>&-
	hold_fd[$name]=
	if [ -n "$pid" ]; then
		while kill -0 "$pid" 2>/dev/null; do
			i=$((i + 1))
			if [ "$i" -gt 600 ]; then
				kill -9 "$pid" 2>/dev/null
				rc=2
				break
			fi
			sleep 0.1
		done
		wait "$pid" 2>/dev/null
	fi
	hold_pid[$name]=
	local l
	RELEASE_LINE=
	while IFS= read -r l; do RELEASE_LINE=$l; done <"$W/$name.out"
	return $rc
}

# stop NAME: SIGTERM the holder (for programs that do not end at EOF),
# then release it.
stop() {
	[ -n "${hold_pid[$1]:-}" ] && kill -TERM "${hold_pid[$1]}" 2>/dev/null
	release "$1"
}

# kill9 NAME: SIGKILL the holder and reap it (its files are closed then).
kill9() {
	local name=$1 fd=${hold_fd[$1]:-} pid=${hold_pid[$1]:-}
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$fd" ] && exec {fd}>&-
	hold_fd[$name]=
	hold_pid[$name]=
}

release_all() {
	local n
	for n in "${!hold_pid[@]}"; do
		[ -n "${hold_pid[$n]}" ] && release "$n"
	done
}

# try_lock ARGS...: one ddlp-vmtool lock that unlocks at once (stdin is
# /dev/null); TRY_LINE gets its first output line, the exit status is the
# tool's (0 locked, 1 busy, 2 timed out, 3 error).
try_lock() {
	local rc
	TRY_OUT=$(timeout -k 5 120 "$VMTOOL" lock "$@" </dev/null 2>&1)
	rc=$?
	TRY_LINE=${TRY_OUT%%$'\n'*}
	return $rc
}

# try_each ARGS... SPECS: ddlp-vmtool try (one attempt per spec, each
# released at once, all in one process); TRY_LINES gets one line per spec.
try_each() {
	mapfile -t TRY_LINES < <(timeout -k 5 120 "$VMTOOL" try "$@" </dev/null 2>&1)
}

# try_forms [COMM]: an exclusive ddlp_lock through each of the caller's
# alias forms ("${forms[@]}"), all in one process; each must fail with
# EBUSY naming a node in the caller's $nodes (" /dev/a /dev/b "), leave
# nothing open and, with COMM, name the holder COMM.  TRY_BAD gets what did
# not ("" when all did), TRY_NAMED the node, step and holder last named;
# TRY_LINES and TRY_LINE as try_each leaves them.
try_forms() {
	local comm=${1:-} spec i=0 n
	TRY_BAD='' TRY_NAMED=''
	try_each --no-reprobe excl 0 "${forms[@]}"
	for spec in "${forms[@]}"; do
		TRY_LINE=${TRY_LINES[$i]:-}
		i=$((i + 1))
		case $TRY_LINE in BUSY\ *) ;; *)
			TRY_BAD="$TRY_BAD $spec:$TRY_LINE"
			continue
			;;
		esac
		n=$(field "$TRY_LINE" node)
		case $nodes in *" $n "*) ;; *) TRY_BAD="$TRY_BAD $spec:node=$n" ;; esac
		[ "$(field "$TRY_LINE" left)" = 0 ] || TRY_BAD="$TRY_BAD $spec:left"
		[ -z "$comm" ] || [ "$(field "$TRY_LINE" holder)" = "$comm" ] ||
			TRY_BAD="$TRY_BAD $spec:holder=$(field "$TRY_LINE" holder)"
		TRY_NAMED="$n $(field "$TRY_LINE" step) (holder $(field "$TRY_LINE" holder))"
	done
}

# hold_prog NAME READY CMD...: start a holder (start) and wait until it
# holds the drive: its output matches the ERE READY, or with
# "openers:NODE:COMM" a process named COMM has NODE open, or with
# "locks:NODE" /proc/locks shows a lock on NODE (interop.sh, guard.sh).
hold_prog() {
	local name=$1 ready=$2 i=0 r
	shift 2
	start "$name" "$@"
	while :; do
		case $ready in
		locks:*) [ -n "$("$VMTOOL" proclocks "${ready#locks:}")" ] && return 0 ;;
		openers:*) # openers:NODE:COMM
			r=${ready#openers:}
			"$VMTOOL" openers "${r%:*}" | grep -q " ${r##*:}\$" && return 0 ;;
		*) cat "$W/$name.out" "$W/$name.err" 2>/dev/null | tr '\r' '\n' | grep -Eq -- "$ready" && return 0 ;;
		esac
		kill -0 "${hold_pid[$name]}" 2>/dev/null || return 1
		i=$((i + 1))
		[ "$i" -gt 300 ] && return 1
		sleep 0.1
	done
}

# Whether /proc/locks has any lock on PATH's inode.
no_locks_on() { [ -z "$("$VMTOOL" proclocks "$1")" ]; }

# locked_nodes_of X...: the nodes of drives X... (block, sg, bsg and the
# suite's mknod alias) that still have a lock in /proc/locks, on one line
locked_nodes_of() {
	local x n why=
	for x in "$@"; do
		for n in /dev/$x /dev/$(sg_of $x) /dev/$(bsg_of $x) "$(make_alias /dev/$x)"; do
			[ -e "$n" ] || continue
			no_locks_on "$n" || why="$why $n"
		done
	done
	echo "$why"
}

# Drive facts from sysfs, without the library.  Shell builtins only, and
# the _NAME forms set REPLY instead of printing (no subshell): under TCG
# every fork costs tens of milliseconds and every exec of a host program a
# 9p lookup besides.
_hctl() { # sr0 -> REPLY=0:0:0:0
	local f
	REPLY=
	for f in "/sys/class/block/$1/device/scsi_device/"*; do
		[ -e "$f" ] && REPLY=${f##*/} && return 0
	done
	return 1
}
_sg() { # sr0 -> REPLY=sg0, or "" without the sg module
	local f
	REPLY=
	for f in "/sys/class/block/$1/device/scsi_generic/"*; do
		[ -e "$f" ] && REPLY=${f##*/} && return 0
	done
	return 0
}
_uevent() { # DIR KEY -> REPLY
	local l
	REPLY=
	while IFS= read -r l; do
		case $l in "$2="*) REPLY=${l#*=} && return 0 ;; esac
	done <"$1/uevent"
	return 1
}
_bsg() { # sr0 -> REPLY=bsg/0:0:0:0 (its DEVNAME), or ""
	local f
	REPLY=
	for f in "/sys/class/block/$1/device/bsg/"*; do
		[ -e "$f" ] && _uevent "$f" DEVNAME && return 0
	done
	return 0
}
_devnum() { # sysfs device dir -> REPLY=MAJ:MIN
	local maj
	_uevent "$1" MAJOR
	maj=$REPLY
	_uevent "$1" MINOR
	REPLY=$maj:$REPLY
}
# The expected canonical node list of srN, from sysfs:
# "/dev/srN,block,M:m;/dev/sgK,sg,M:m;/dev/bsg/H:C:T:L,bsg,M:m".
_canon() {
	local sr=$1 dev=/sys/class/block/$1/device f out
	_devnum "/sys/class/block/$sr"
	out="/dev/$sr,block,$REPLY"
	_sg "$sr"
	if [ -n "$REPLY" ]; then
		f=$REPLY
		_devnum "$dev/scsi_generic/$f"
		out="$out;/dev/$f,sg,$REPLY"
	fi
	for f in "$dev/bsg/"*; do
		[ -e "$f" ] || continue
		_uevent "$f" DEVNAME
		out="$out;/dev/$REPLY"
		_devnum "$f"
		out="$out,bsg,$REPLY"
		break
	done
	REPLY=$out
}
# The persistent name in the udev database of srN (ID_SERIAL, else
# ID_WWN), or "-".
_udev_name() {
	local db l serial='' wwn=
	_devnum "/sys/class/block/$1"
	db=/run/udev/data/b$REPLY
	REPLY=-
	[ -r "$db" ] || return 0
	while IFS= read -r l; do
		case $l in
		E:ID_SERIAL=*) serial=${l#E:ID_SERIAL=} ;;
		E:ID_WWN=*) wwn=${l#E:ID_WWN=} ;;
		esac
	done <"$db"
	serial=${serial:-$wwn}
	REPLY=${serial:--}
}
hctl_of() { _hctl "$1" && printf '%s' "$REPLY"; }
sg_of() { _sg "$1" && printf '%s' "$REPLY"; }
bsg_of() { _bsg "$1" && printf '%s' "$REPLY"; }
devnum_of() { _devnum "$1" && printf '%s' "$REPLY"; }
expected_canon() { _canon "$1" && printf '%s' "$REPLY"; }
udev_name_of() { _udev_name "$1" && printf '%s' "$REPLY"; }

# A tmpfs without nodev for mknod aliases (the guest's /tmp is nodev).
alias_dir() {
	local d=/tmp/vmsuite-aliases
	if ! mountpoint -q "$d" 2>/dev/null; then
		mkdir -p "$d" && mount -t tmpfs -o mode=755 vmsuite-aliases "$d" || return 1
	fi
	printf '%s' "$d"
}
# make_alias NODE: a mknod copy of NODE in alias_dir (prints its path)
make_alias() {
	local node=$1 d t maj min p
	d=$(alias_dir) || return 1
	p=$d/alias-$(basename "$node")
	if ! [ -e "$p" ]; then
		if [ -b "$node" ]; then t=b; else t=c; fi
		maj=$(stat -Lc '%t' "$node") min=$(stat -Lc '%T' "$node")
		mknod "$p" "$t" $((16#$maj)) $((16#$min)) || return 1
	fi
	printf '%s' "$p"
}

# drive_forms srN: the alias forms of one drive that interop.sh and
# guard.sh try, in their tables' order: forms (the array: sr, sg, bsg,
# /dev/cdrom and by-id links to sr, H:C:T:L, B,T,L, a mknod alias of sr),
# alias (that mknod alias) and nodes (" /dev/srN /dev/sgN /dev/bsg/... ALIAS ",
# the nodes a refusal may name).
drive_forms() {
	local sr=$1 h sg bsg l hh tt ll
	h=$(hctl_of "$sr") sg=$(sg_of "$sr") bsg=$(bsg_of "$sr")
	forms=("/dev/$sr")
	[ -n "$sg" ] && forms+=("/dev/$sg")
	[ -n "$bsg" ] && forms+=("/dev/$bsg")
	for l in /dev/cdrom /dev/disk/by-id/*; do
		[ -L "$l" ] && [ "$(readlink -f "$l")" = "/dev/$sr" ] && forms+=("$l")
	done
	forms+=("$h")
	case $h in *:0:*:*) IFS=: read -r hh _ tt ll <<<"$h"; forms+=("$hh,$tt,$ll") ;; esac
	alias=$(make_alias "/dev/$sr") && forms+=("$alias")
	nodes=" /dev/$sr ${sg:+/dev/$sg} ${bsg:+/dev/$bsg} $alias "
}

# forms_of srN: every name of the drive, ';'-separated (the stress and
# soak tests lock through them at random): /dev/srN, H:C:T:L, /dev/sgN,
# /dev/bsg/H:C:T:L, B,T,L (host 0 only), udev's symlinks to it, mknod
# aliases of sr and sg.
forms_of() {
	local sr=$1 h sg bsg l out a
	h=$(hctl_of "$sr") sg=$(sg_of "$sr") bsg=$(bsg_of "$sr")
	out="/dev/$sr;$h"
	[ -n "$sg" ] && out="$out;/dev/$sg"
	[ -n "$bsg" ] && out="$out;/dev/$bsg"
	case $h in *:0:*:*) IFS=: read -r hh _ tt ll <<<"$h"; out="$out;$hh,$tt,$ll" ;; esac
	for l in /dev/cdrom /dev/disk/by-id/* /dev/disk/by-path/*; do
		[ -L "$l" ] && [ "$(readlink -f "$l")" = "/dev/$sr" ] && out="$out;$l"
	done
	a=$(make_alias "/dev/$sr") && out="$out;$a"
	[ -n "$sg" ] && a=$(make_alias "/dev/$sg") && out="$out;$a"
	printf '%s' "$out"
}

cleanup_suite() {
	release_all 2>/dev/null
	rm -rf "$W"
}
trap cleanup_suite EXIT
