#!/bin/bash
# Hostile specs through ddlp-lock(1), table-driven: the list of
# tests/test-hostile.c (which gives the errno libddlp returns for each)
# as far as a command line can carry it, plus a few a command line adds
# (control characters, a leading '-').  For every row
#
#   ddlp-lock -n -- SPEC sh -c '...' MARKER
#
# must exit with exactly the code ddlp-lock(1) documents for the error
# (64 usage, 66 no such device, 69 not a drive, 71 system error, 77
# permission denied, 1 or -E busy; 0 for the rows that name a real drive),
# not die of a signal, print exactly one line on stderr that begins with
# "ddlp-lock: ", gives the reason and names the spec (control characters
# and bytes that are not UTF-8 shown as \xHH, names over 256 bytes
# shortened: never a raw control character), and not run the command (no
# MARKER).  The rows that name a drive must run it, with -o with the same
# descriptors as without ddlp-lock, and without -o with the lock's
# descriptors on the drive's nodes besides.  Most rows go through --resolve and
# --status (text and JSON) too: the failing rows with the same message
# and code (and no entry in the JSON), the working rows with the name
# shown as a message shows it (--raw: blanks as \x20, \x09).  After every row nothing is locked: no
# /proc/locks entry on the drive's nodes, flock(1) -n on the loop device
# works; at the end ddlp-lock -n on it works.
#
# Not in the table: the NULL spec of test-hostile.c (a command line cannot
# carry a null pointer; the empty string can, and is a row), and a spec
# with a NUL byte inside (execve() ends the argument at the NUL, so
# "/dev/null\0junk" arrives as "/dev/null": that row shows it).
#
# Needs root (losetup, mknod, a partitioned loop device).  Run by
# "make check"; alone:
#   abs_top_builddir=$PWD tests/test-cli-hostile.sh
set -u
# bytes, not characters: lengths and patterns below are byte-wise
export LC_ALL=C

. "$(dirname "$0")/cli-common.sh"
cli_setup test-cli-hostile losetup mknod truncate flock dd iconv


# printable STRING: how ddlp-lock shows a name in a message (into REPLY):
# printable ASCII and valid UTF-8 as they are, other bytes as \xHH (the
# rows only need ASCII, \xc3\xa9 and single bytes to be escaped)
printable() {
	local s=$1 i c out=
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		if [[ $c == [[:print:]] ]]; then
			out+=$c
		elif [ "${s:i:2}" = $'\xc3\xa9' ]; then
			out+=${s:i:2}
			i=$((i + 1))
		else
			printf -v c '\\x%02x' "'$c"
			out+=$c
		fi
	done
	REPLY=$out
}

# shown SPEC: the form a message names SPEC in (into REPLY): a spec over
# 256 bytes is shortened to its first and last 100 bytes and its length
shown() {
	local s=$1
	if [ "${#s}" -gt 256 ]; then
		s="${s:0:100}...${s:${#s}-100} (${#s} bytes)"
	fi
	printable "$s"
}

# ------------------------------------------------------------ the fixtures
mkdir "$tmp/cwd" "$tmp/subdir" "$tmp/private" "$tmp/m"
chmod 1777 "$tmp/m" # the markers: writable for the unprivileged rows too
chmod 0700 "$tmp/private"
: >"$tmp/file"
ln -s "$tmp/subdir" "$tmp/dirlink"
mkfifo "$tmp/fifo"
ln -s /nonexistent/ddlp "$tmp/dangling"
ln -s "$tmp/loop-b" "$tmp/loop-a"
ln -s "$tmp/loop-a" "$tmp/loop-b"
ln -s self "$tmp/self"
ln -s /dev/null "$tmp/tonull"
ln -s /dev/null "$tmp/chain0"
for ((i = 1; i <= 40; i++)); do
	ln -s "chain$((i - 1))" "$tmp/chain$i"
done
ln -s /dev/null "$tmp/"$'esc\e[31mlink'
have_python=false
if command -v python3 >/dev/null 2>&1 &&
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/sock" 2>/dev/null; then
	have_python=true
fi

# a loop device with an MBR partition table: one partition at 1 MiB
img=$tmp/disk.img
truncate -s 4M "$img" || exit 99
printf '\x83' | dd of="$img" bs=1 seek=450 conv=notrunc status=none
printf '\x00\x08\x00\x00\x00\x10\x00\x00' | dd of="$img" bs=1 seek=454 conv=notrunc status=none
printf '\x55\xaa' | dd of="$img" bs=1 seek=510 conv=notrunc status=none
if ! dev=$(losetup -f --show -P "$img"); then
	echo "SKIP: cannot set up a loop device"
	exit 77
fi
loops+=("$dev")
part=${dev}p1
# the kernel's partition scan may come late (or not at all in some
# containers): then add the partition as partx(8) would
for ((i = 0; i < 40; i++)); do
	[ -b "$part" ] && break
	[ "$i" = 20 ] && command -v partx >/dev/null 2>&1 && partx -a "$dev" 2>/dev/null
	sleep 0.05
done
read -r maj min < <(stat -L -c '%t %T' "$dev")
maj=$((16#$maj))
min=$((16#$min))
mknod -m 0600 "$tmp/alias" b "$maj" "$min"
# a name that would drive the terminal, on a path that leads to the drive:
# the text output of --resolve and --status must show it escaped too
ln -s "$dev" "$tmp/"$'drive\e[31m\tlink'
mknod -m 0600 "$tmp/alias600" b "$maj" "$min"
mknod -m 0600 "$tmp/private/node" b "$maj" "$min"
mknod -m 0600 "$tmp/null-copy" c 1 3
mknod -m 0600 "$tmp/chr-loop" c "$maj" "$min"
# a loop minor far beyond any attached device, with no sysfs entry
nodev=
for ((m = 1048000; m < 1048500; m++)); do
	if [ ! -e "/sys/dev/block/7:$m" ]; then
		mknod -m 0600 "$tmp/nodev" b 7 "$m" && nodev=7:$m
		break
	fi
done

# /proc/locks names a node as MAJ:MIN:INODE of the file system it is on
lock_keys=()
for n in "$dev" "$tmp/alias" "$tmp/alias600" "$part"; do
	[ -b "$n" ] || continue
	lock_keys+=("$(stat -c '%Hd %Ld %i' "$n" | { read -r a b c; printf '%02x:%02x:%s' "$a" "$b" "$c"; })")
done

# the descriptors a command has without ddlp-lock (the test harness may
# pass some of its own: the same ones must reach it through ddlp-lock)
# shellcheck disable=SC2016 # expanded by the command's sh
fdlist='cd /proc/self/fd && echo * >"$0"'
sh -c "$fdlist" "$tmp/fds.base"
sh -c "$fdlist" "$tmp/fds.base9" 9</dev/null
# what the descriptors are open on, one line each, sorted (a pipe as
# "pipe"): for the rows that run the command without -o, which then holds
# the lock too
# shellcheck disable=SC2016 # expanded by the command's sh
fdtargets='for f in /proc/self/fd/*; do t=$(readlink "$f") && echo "${t%%:*}"; done | sort >"$0"'

# --------------------------------------------------------------- the table
# add NAME RC REASON SPEC [OPTION...]
#   RC      the exit code (0: the spec names the drive and must work)
#   REASON  a fixed string the message must contain
#   options:
#     noinfo    not through --resolve and --status (their answer differs)
#     nodash    no "--" before the spec
#     fd=SRC    run with descriptor 9 open on SRC (a path, "pipe" or
#               "socket"); the spec is then /proc/self/fd/9
#     nobody    run as uid/gid 65534 without groups
#     opt=OPT   an extra option before the spec
#     holder    a flock(1) holder of the loop device is running
#     show=S    the message names the spec as S (default: shown SPEC)
names=() rcs=() reasons=() specs=() opts=()
add() {
	names+=("$1")
	rcs+=("$2")
	reasons+=("$3")
	specs+=("$4")
	shift 4
	opts+=("$*")
}

NOSUCH="no such device"
MALFORMED="malformed SCSI address (expected H:C:T:L or B,T,L)"
TOOLONG="File name too long"
LOOP="Too many levels of symbolic links"
CHRNULL="not a drive (character device 1:3 is neither an sg nor a bsg node)"
DIR="not a drive (a directory, not a device node)"
REG="not a drive (a regular file, not a device node)"
NODE="not a drive (not a device node)"

# names and paths
add "empty" 64 "empty device name" "" show=
big=$(printf '%4096s' '' | tr ' ' a)
add "4 KiB name" 64 "$TOOLONG" "$big"
add "4 KiB path" 64 "$TOOLONG" "/${big:1}"
long=/
while [ "${#long}" -lt 4094 ]; do long+=./; done
add "4095-byte path (the root directory)" 69 "$DIR" "$long"
add "256-byte name" 64 "$TOOLONG" "$tmp/${big:0:256}"
long=
for ((i = 0; i < 300; i++)); do long+=/.; done
add "300 components to /dev/null" 69 "$CHRNULL" "$long/dev/null"
long=
for ((i = 0; i < 300; i++)); do long+=x/; done
add "300 missing components" 66 "$NOSUCH" "$long"
add "embedded newline" 66 "$NOSUCH" $'/dev/null\n'
add "NUL-truncated (arrives as /dev/null)" 69 "$CHRNULL" $'/dev/null\0junk' show=/dev/null
add "leading space" 66 "$NOSUCH" " /dev/null"
add "trailing space" 66 "$NOSUCH" "/dev/null "
add "format string" 66 "$NOSUCH" "%s%n%x%p"
add "../../" 69 "$DIR" "../../"
add "/" 69 "$DIR" "/"
add "//" 69 "$DIR" "//"
add "." 69 "$DIR" "."
add "..." 66 "$NOSUCH" "..."
add "-" 66 "$NOSUCH" "-"
add ":" 66 "$NOSUCH" ":"
add "," 66 "$NOSUCH" ","
add "/dev/../dev/null" 69 "$CHRNULL" "/dev/../dev/null"
add "/dev/null/" 66 "$NOSUCH" "/dev/null/"
add "/dev/null/x" 66 "$NOSUCH" "/dev/null/x"
add "non-ASCII path" 66 "$NOSUCH" $'/dev/\xc3\xa9\xff\xfe'
add "non-ASCII address" 66 "$NOSUCH" $'\xff,1,2'
add "/dev/null" 69 "$CHRNULL" /dev/null
add "/dev/zero" 69 "character device 1:5 is neither" /dev/zero
add "/dev/full" 69 "character device 1:7 is neither" /dev/full
add "/dev/random" 69 "character device 1:8 is neither" /dev/random
add "/dev/urandom" 69 "character device 1:9 is neither" /dev/urandom
[ -e /dev/tty ] && add "/dev/tty" 69 "character device 5:0 is neither" /dev/tty
[ -e /dev/loop-control ] && add "/dev/loop-control (misc)" 69 "character device 10:237 is neither" /dev/loop-control
[ -e /dev/sda ] || add "/dev/sda (missing)" 66 "$NOSUCH" /dev/sda
add "/sys/block (directory)" 69 "$DIR" /sys/block
add "/proc/locks (proc file)" 69 "$REG" /proc/locks
add "/proc/self/fd/99999" 66 "$NOSUCH" /proc/self/fd/99999
# control characters a command line adds
add "tab" 66 "$NOSUCH" $'/dev/nu\tll'
add "carriage return" 66 "$NOSUCH" $'/dev/null\r'
add "terminal escape sequence" 66 "$NOSUCH" $'\e[2J\e[31mred'
add "DEL" 66 "$NOSUCH" $'/dev/null\x7f'
add "C1 control (CSI, UTF-8)" 66 "$NOSUCH" $'/dev/\xc2\x9b2J'
add "C1 control (CSI, a lone byte)" 66 "$NOSUCH" $'/dev/\x9b2J'
add "escape in a symlink's name, to /dev/null" 69 "$CHRNULL" "$tmp/"$'esc\e[31mlink'
add "a leading '-' without '--': an unknown option" 64 "unknown option '-1'" "-1,-1,-1" nodash show=

# SCSI addresses
add "-1,-1,-1" 64 "$MALFORMED" "-1,-1,-1"
add "+1,2,3" 64 "$MALFORMED" "+1,2,3"
add "0,0" 64 "$MALFORMED" "0,0"
add "0:0:0" 64 "$MALFORMED" "0:0:0"
add "0:0:0:0:0" 64 "$MALFORMED" "0:0:0:0:0"
add "1,2,3junk" 64 "$MALFORMED" "1,2,3junk"
add "1:2:3:4 newline" 64 "$MALFORMED" $'1:2:3:4\n'
add "4294967296:0:0:0" 64 "$MALFORMED" "4294967296:0:0:0"
add "huge LUN" 64 "$MALFORMED" "0:0:0:18446744073709551616"
add "1,,3" 64 "$MALFORMED" "1,,3"
NOSCSI="no such device: no SCSI device at this address"
add "99999999:0:0:0 (no device)" 66 "$NOSCSI" "99999999:0:0:0"
if [ -e /sys/bus/scsi/devices/0:0:0:0 ]; then
	skip "0,0,0 and 0:0:0:0: this machine has a SCSI device there"
else
	add "0,0,0 (no device)" 66 "$NOSCSI" "0,0,0"
	add "0:0:0:0 (no device)" 66 "$NOSCSI" "0:0:0:0"
fi
add "4294967295:4294967295:4294967295:4294967295" 66 "$NOSCSI" "4294967295:4294967295:4294967295:4294967295"

# file system objects
add "regular file" 69 "$REG" "$tmp/file"
add "directory" 69 "$DIR" "$tmp/subdir"
add "directory symlink" 69 "$DIR" "$tmp/dirlink"
add "FIFO" 69 "$NODE" "$tmp/fifo"
if $have_python; then
	add "socket" 69 "$NODE" "$tmp/sock"
else
	skip "socket: no python3 to make one"
fi
add "missing" 66 "$NOSUCH" "$tmp/missing"
add "dangling symlink" 66 "$NOSUCH" "$tmp/dangling"
add "symlink loop" 66 "$LOOP" "$tmp/loop-a"
add "symlink to itself" 66 "$LOOP" "$tmp/self"
add "41 symlinks" 66 "$LOOP" "$tmp/chain40"
add "40 symlinks to /dev/null" 69 "$CHRNULL" "$tmp/chain39"
add "symlink to /dev/null" 69 "$CHRNULL" "$tmp/tonull"
add "trailing slash on a file" 66 "$NOSUCH" "$tmp/file/"

# /proc/self/fd/N: descriptor 9 of ddlp-lock itself
P9=/proc/self/fd/9
add "/proc/self/fd of a regular file" 69 "$REG" $P9 "fd=$tmp/file"
add "/proc/self/fd of /dev/null" 69 "$CHRNULL" $P9 fd=/dev/null
add "/proc/self/fd of a pipe" 69 "$NODE" $P9 fd=pipe
add "/proc/self/fd of a directory" 69 "$DIR" $P9 "fd=$tmp/subdir"
if $have_python; then
	add "/proc/self/fd of a socket" 69 "$NODE" $P9 fd=socket
else
	skip "/proc/self/fd of a socket: no python3"
fi

# around the drive (a loop device): the forms that must work, then the
# hostile ones
add "loop device" 0 "" "$dev"
add "mknod alias" 0 "" "$tmp/alias"
add "escape sequence in a symlink's name, to the loop device" 0 "" "$tmp/"$'drive\e[31m\tlink'
add "/proc/self/fd of the loop device" 0 "" $P9 "fd=$dev"
add "/dev/../dev/loopN" 0 "" "/dev/../dev/${dev#/dev/}"
if [ -b "$part" ]; then
	add "partition" 0 "" "$part"
else
	skip "partition: $part did not appear"
fi
add "trailing slash on the device" 66 "$NOSUCH" "$dev/"
add "a file below the device" 66 "$NOSUCH" "$dev/x"
if [ -n "$nodev" ]; then
	add "block node of no device" 69 "not a drive (block device $nodev: no such device in sysfs)" "$tmp/nodev"
else
	skip "block node of no device: no unused loop minor found"
fi
add "char node of /dev/null's number" 69 "$CHRNULL" "$tmp/null-copy"
add "char node of a loop's number" 69 "not a drive (character device $maj:$min is neither an sg nor a bsg node)" "$tmp/chr-loop"

# an unprivileged caller
if ! command -v setpriv >/dev/null 2>&1; then
	skip "unprivileged rows: no setpriv"
elif ! setpriv --reuid=65534 --regid=65534 --clear-groups "$tool" --version >/dev/null 2>&1; then
	skip "unprivileged rows: the build tree is not accessible to uid 65534"
else
	add "unprivileged: a node in a 0700 directory" 77 \
		"permission denied: cannot look it up (Permission denied)" "$tmp/private/node" nobody
	add "unprivileged: a 0600 node" 77 "permission denied: " \
		"$tmp/alias600" nobody noinfo
fi

# the drive is busy (flock(1) holds the loop device)
add "busy, through a mknod alias" 1 "busy: $dev held by flock (pid" "$tmp/alias" holder noinfo
add "busy, -E 75" 75 "busy: $dev held by flock (pid" "$tmp/alias" holder noinfo opt=-E75
add "busy, -w 0.2" 1 "timed out after" "$tmp/alias" holder noinfo opt=-w0.2

# ------------------------------------------------------------------ checks
# invoke OPTIONS ARGS...: run ddlp-lock ARGS with the row's OPTIONS;
# sets rc, out and err (files $tmp/out, $tmp/err)
invoke() {
	local o=$1 fdsrc="" pre=()
	shift
	case " $o " in *" nobody "*) pre=(setpriv --reuid=65534 --regid=65534 --clear-groups) ;; esac
	case " $o " in *" fd="*) fdsrc=${o#*fd=} fdsrc=${fdsrc%% *} ;; esac
	case $fdsrc in
	"") "${pre[@]}" "$tool" "$@" ;;
	pipe) "${pre[@]}" "$tool" "$@" 9< <(:) ;;
	socket)
		python3 -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
os.dup2(s.fileno(), 9)
os.execvp(sys.argv[1], sys.argv[1:])' "${pre[@]}" "$tool" "$@"
		;;
	*) "${pre[@]}" "$tool" "$@" 9<"$fdsrc" ;;
	esac >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

# has_control TEXT: whether TEXT has a control character other than a
# newline (C0, DEL, C1 as UTF-8)
has_control() {
	printf '%s' "$1" | grep -qaP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]'
}

# message NAME REASON SHOW: the last stderr is one line, "ddlp-lock: ...",
# with REASON and SHOW (if not empty), no control character, valid UTF-8;
# returns 1 (after a FAIL line) when not
message() {
	local name=$1 reason=$2 show=$3 nl
	nl=$(tr -cd '\n' <"$tmp/err" | wc -c)
	if [ "$nl" -ne 1 ] || [ "$(tail -c 1 "$tmp/err" | od -An -tx1 | tr -d ' ')" != 0a ]; then
		fail "$name: stderr is not exactly one line ($nl newlines): $(printf '%q' "$err")"
		return 1
	fi
	if grep -qaP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$tmp/err"; then
		fail "$name: a raw control character in the message: $(printf '%q' "$err")"
		return 1
	fi
	if ! iconv -f UTF-8 -t UTF-8 <"$tmp/err" >/dev/null 2>&1; then
		fail "$name: the message is not valid UTF-8: $(printf '%q' "$err")"
		return 1
	fi
	if [[ $err != "ddlp-lock: "* ]]; then
		fail "$name: the message does not begin with 'ddlp-lock: ': $err"
		return 1
	fi
	if [[ $err != *"$reason"* ]]; then
		fail "$name: the message lacks '$reason': $err"
		return 1
	fi
	if [ -n "$show" ] && [[ $err != "ddlp-lock: $show: "* ]]; then
		fail "$name: the message does not name the spec as '$show': $err"
		return 1
	fi
	return 0
}

# nothing_locked NAME: no /proc/locks entry on the loop device's nodes,
# and flock(1) -n takes it
nothing_locked() {
	local k l
	for k in "${lock_keys[@]}"; do
		while read -r l; do
			if [[ " $l " == *" $k "* ]]; then
				fail "$1: a lock left behind: $l"
				return 1
			fi
		done </proc/locks
	done
	if ! flock -n -x "$dev" true; then
		fail "$1: flock -n on $dev refused afterwards"
		return 1
	fi
	return 0
}

# jstatus NAME: the JSON of --json --status is an empty list of drives
# (the one that could not be resolved is left out; the message and the
# exit code say why)
jstatus() {
	if ! $have_python; then
		return 0
	fi
	if ! python3 -c 'import json, sys
d = json.load(sys.stdin)
sys.exit(0 if d == {"drives": []} else 1)' <"$tmp/out" 2>/dev/null; then
		fail "$1: --json --status: not an empty list of drives: $out"
		return 1
	fi
	return 0
}

holder_pid=
start_holder() {
	hold_with fl flock -x "$dev" || return 1
	holder_pid=$holder
}
stop_holder() {
	[ -n "$holder_pid" ] || return 0
	release fl "$holder_pid"
	holder_pid=
}

echo "# tool: $tool; drive: $dev (partition: $([ -b "$part" ] && echo "$part" || echo none))"
echo "# ${#names[@]} rows"
cd "$tmp/cwd" || exit 99

for ((r = 0; r < ${#names[@]}; r++)); do
	name=${names[r]} want=${rcs[r]} reason=${reasons[r]} spec=${specs[r]} o=" ${opts[r]} "
	marker=$tmp/m/ran
	rm -f "$marker"
	if [[ $o == *" show="* ]]; then
		show=${o#* show=}
		show=${show%% *}
	else
		shown "$spec"
		show=$REPLY
	fi
	args=(-n)
	# the rows that work: -o (the command gets exactly the descriptors it
	# would get without ddlp-lock); the lock's descriptors are checked
	# below without -o
	[ "$want" -eq 0 ] && args+=(-o)
	if [[ $o == *" opt="* ]]; then
		a=${o#* opt=}
		args+=("${a%% *}")
	fi
	[[ $o == *" nodash "* ]] || args+=(--)
	if [[ $o == *" holder "* ]] && [ -z "$holder_pid" ] && ! start_holder; then
		fail "$name: the flock(1) holder did not start"
		continue
	fi
	if [[ $o != *" holder "* ]]; then
		stop_holder
	fi

	invoke "$o" "${args[@]}" "$spec" sh -c "$fdlist" "$marker"
	if [ "$rc" -ge 128 ]; then
		fail "$name: died of signal $((rc - 128))"
		continue
	fi
	if [ "$rc" -ne "$want" ]; then
		fail "$name: exit $rc, expected $want (stderr: $(printf '%q' "$err"))"
		continue
	fi
	if [ "$want" -eq 0 ]; then
		# --raw shows a name as messages do, with blanks as \x20 and \x09
		rawshow=${show// /\\x20}
		rawshow=${rawshow//$'\t'/\\x09}
		base=$tmp/fds.base
		[[ $o == *" fd="* ]] && base=$tmp/fds.base9
		if [ -s "$tmp/err" ]; then
			fail "$name: exit 0 with a message: $err"
		elif [ ! -e "$marker" ]; then
			fail "$name: exit 0 but the command did not run"
		elif ! cmp -s "$marker" "$base"; then
			fail "$name: the command's descriptors: $(cat "$marker"), without ddlp-lock: $(cat "$base")"
		else
			nothing_locked "$name" && pass "$name: 0, the command ran"
		fi
		# without -o the command also has the lock's descriptors: on
		# nodes of the drive, and nothing else more than with -o
		rm -f "$tmp/m/fdt" "$tmp/m/fdto"
		invoke "$o" -n -o -- "$spec" sh -c "$fdtargets" "$tmp/m/fdto"
		invoke "$o" -n -- "$spec" sh -c "$fdtargets" "$tmp/m/fdt"
		extra=$(comm -13 "$tmp/m/fdto" "$tmp/m/fdt" 2>/dev/null | paste -sd' ')
		if [ "$rc" -ne 0 ] || [ -z "$extra" ] || [ -n "$(comm -23 "$tmp/m/fdto" "$tmp/m/fdt")" ]; then
			fail "$name: without -o: exit $rc, lock descriptors: '$extra' $err"
		elif [ -n "$(tr ' ' '\n' <<<"$extra" | grep -vxF -e "$dev" -e "$tmp/alias" -e "$part")" ]; then
			fail "$name: without -o the command has descriptors on other files: $extra"
		else
			nothing_locked "$name (without -o)" && pass "$name: without -o the command held the lock ($extra)"
		fi
		# (the text output shows names as messages do: escaped)
		invoke "$o" --resolve --raw --noheadings --output DEVICE,ID,PATH -- "$spec"
		if [ "$rc" -eq 0 ] && [[ $out == "$rawshow block:${dev#/dev/} $dev"* ]] && ! has_control "$out"; then
			pass "$name: --resolve"
		else
			fail "$name: --resolve: exit $rc: $(printf '%q' "$out") $err"
		fi
		invoke "$o" --status --raw --noheadings --output DEVICE,STATE -- "$spec"
		if [ "$rc" -eq 0 ] && [ "$out" = "$rawshow free" ]; then
			pass "$name: --status"
		else
			fail "$name: --status: exit $rc: $(printf '%q' "$out") $err"
		fi
		continue
	fi
	if [ -e "$marker" ]; then
		fail "$name: exit $rc, but the command ran"
		continue
	fi
	message "$name" "$reason" "$show" || continue
	if [[ $o != *" holder "* ]] && ! nothing_locked "$name"; then
		continue
	fi
	pass "$name: $rc, $err"
	[[ $o == *" noinfo "* ]] && continue

	for action in --resolve --status; do
		a=("$action")
		[[ $o == *" nodash "* ]] || a+=(--)
		invoke "$o" "${a[@]}" "$spec"
		if [ "$rc" -ne "$want" ]; then
			fail "$name: $action: exit $rc, expected $want (stderr: $(printf '%q' "$err"))"
		elif [ -n "$out" ]; then
			fail "$name: $action: output on stdout: $out"
		elif message "$name: $action" "$reason" "$show"; then
			pass "$name: $action: $rc"
		fi
	done
	[[ $o == *" nodash "* ]] && continue
	invoke "$o" --json --status -- "$spec"
	if [ "$rc" -ne "$want" ]; then
		fail "$name: --json --status: exit $rc, expected $want"
	elif jstatus "$name" && message "$name: --json --status" "$reason" "$show"; then
		pass "$name: --json --status: $rc, no entry"
	fi
done
stop_holder
nothing_locked "after the busy rows" && pass "the holder's lock is gone with it"

# ------------------------------------------------- a system error: EMFILE
# The smallest descriptor limit under which the program starts at all
# (127: the dynamic loader could not open the library) cannot be enough
# for a lock: the tool must fail with 71, one line, and not run the
# command.  libtool --mode=execute runs the real program, not the libtool
# wrapper script (a shell, which breaks under such a limit).
name="descriptor limit (EMFILE): system error 71"
if ! command -v prlimit >/dev/null 2>&1 || [ ! -x "$builddir/libtool" ]; then
	skip "$name: no prlimit or no $builddir/libtool"
else
	rc=127
	for ((n = 3; n <= 8 && rc == 127; n++)); do
		rm -f "$tmp/m/ran"
		"$builddir/libtool" --mode=execute prlimit --nofile="$n" "$tool" -n -- "$dev" \
			sh -c "$fdlist" "$tmp/m/ran" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		err=$(cat "$tmp/err")
	done
	if [ "$rc" -ne 71 ]; then
		fail "$name: exit $rc with at most $((n - 1)) descriptors (stderr: $err)"
	elif [ -e "$tmp/m/ran" ]; then
		fail "$name: the command ran"
	elif message "$name" "Too many open files" "$dev" && nothing_locked "$name"; then
		pass "$name (at most $((n - 1)) descriptors): $err"
	fi
fi

# ---------------------------------------------------------------- the end
rm -f "$tmp/m/ran"
"$tool" -n -- "$dev" touch "$tmp/m/ran" 2>"$tmp/err"
rc=$?
if [ "$rc" -eq 0 ] && [ -e "$tmp/m/ran" ] && [ ! -s "$tmp/err" ]; then
	pass "ddlp-lock -n on $dev works after all rows"
else
	fail "ddlp-lock -n on $dev after all rows: exit $rc: $(cat "$tmp/err")"
fi
nothing_locked "at the end" && pass "nothing locked at the end"

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
