#!/bin/bash
# Interoperability with real programs (Debian's, run for real):
#   1. libddlp holds the drive exclusively: xorriso, cdrskin and wodim on
#      the sr and the sg node, mount, flock(1) and udevadm lock must be
#      refused (each is first shown to work on the free drive, so that a
#      refusal means the lock);
#   2. a program holds the drive: an exclusive ddlp_lock through every
#      alias must fail with EBUSY and name a node of the drive;
#   3. programs that take no lock (dvd+rw-mediainfo, cdrdao, sg_inq, blkid,
#      cd-info): what they do under the lock is recorded, not asserted;
#   4. doc/ddlp.txt's recipe: the burner run under libddlp's exclusive
#      lock without an exclusive open of its own works.
# The observations go to $VM_OUT/interop.md (a markdown table).
#
#   interop.sh [srN]      (default sr0; its disc must be the suite's ISO)
. "$(dirname "$0")/lib.sh"
suite_begin interop

A=${1:-sr0}
sgA=$(sg_of "$A") bsgA=$(bsg_of "$A") hA=$(hctl_of "$A")
NR=--no-reprobe
mnt=/tmp/vmsuite-mnt
mkdir -p "$mnt"
table=$W/table
: >"$table.d1" && : >"$table.d2" && : >"$table.d3" && : >"$table.d4"
have() { command -v "$1" >/dev/null 2>&1; }

# Alias forms of the drive and its nodes.
drive_forms "$A"

# A one-line message from a program's output, fit for a table cell: the
# first line that looks like a complaint (or with "first", the first line).
msg_of() {
	local m=''
	[ "${2:-}" = first ] ||
		m=$(tr '\r' '\n' <"$1" 2>/dev/null | grep -E -m1 -i 'busy|cannot|can.t|error|fail|sorry|locked|denied|warning|not |unable|exclusive|rejected')
	[ -n "$m" ] || m=$(tr '\r' '\n' <"$1" 2>/dev/null | grep -v -E '^\s*$|version|Copyright|libburnia|^cdrskin [0-9]|^xorriso [0-9]|free software|warranty|PARTICULAR' | head -n1)
	m=$(printf '%s' "$m" | tr '\t|`' '   ' | tr -s ' ' | sed 's/^ //' | cut -c1-110)
	printf '%s' "${m:-(no output)}"
}
cell() { printf '%s' "$1" | tr '|' '/'; }

# run_prog OUTFILE MARKER CMD...: run CMD (bounded), set PROCEEDED=1 when
# it got the drive: MARKER (an ERE) matches its output, or with MARKER ""
# when it exited 0.  RC gets its exit status.
run_prog() {
	local out=$1 marker=$2
	shift 2
	timeout -k 5 90 "$@" >"$out" 2>&1 </dev/null
	RC=$?
	PROCEEDED=0
	if [ -n "$marker" ]; then
		grep -Eq -- "$marker" "$out" && PROCEEDED=1
	else
		[ "$RC" = 0 ] && PROCEEDED=1
	fi
	return 0
}
cleanup_prog() { # undo what a proceeding program left
	mountpoint -q "$mnt" && umount "$mnt"
	return 0
}

# ---- 1. libddlp holds the drive; the program must be refused ------------------
# name|marker of "got the drive"|command (eval'ed; $A, $sgA, $mnt known)
progs=()
have xorriso && progs+=("xorriso-sr|^Media current:|xorriso -outdev /dev/$A -toc")
have xorriso && [ -n "$sgA" ] && progs+=("xorriso-sg|^Media current:|xorriso -outdev /dev/$sgA -toc")
have cdrskin && progs+=("cdrskin-sr|^Vendor_info|cdrskin dev=/dev/$A -checkdrive")
have cdrskin && [ -n "$sgA" ] && progs+=("cdrskin-sg|^Vendor_info|cdrskin dev=/dev/$sgA -checkdrive")
have wodim && progs+=("wodim-sr|^Identification|wodim dev=/dev/$A -checkdrive")
have wodim && [ -n "$sgA" ] && progs+=("wodim-sg|^Identification|wodim dev=/dev/$sgA -checkdrive")
progs+=("mount||mount -o ro /dev/$A $mnt")
progs+=("flock||flock -n /dev/$A true")
udevadm lock --help >/dev/null 2>&1 && [ -S /run/udev/control ] &&
	progs+=("udevadm-lock||udevadm lock --device=/dev/$A --timeout=1 true")
for p in xorriso cdrskin wodim; do have "$p" || skip "interop: $p not installed"; done

declare -A ctl_ok
for e in "${progs[@]}"; do
	IFS='|' read -r name marker cmd <<<"$e"
	run_prog "$W/ctl-$name" "$marker" $cmd
	cleanup_prog
	ctl_ok[$name]=$PROCEEDED
	if [ "$PROCEEDED" = 1 ]; then
		pass "interop: control: '$cmd' works on the free drive"
	else
		fail "interop: control: '$cmd' works on the free drive (exit $RC: $(msg_of "$W/ctl-$name"))"
	fi
done

if hold_lock h $NR excl 0 "/dev/$A"; then
	# all at once (they only retry and give up; wodim takes ~10 s)
	note "controls done ($SECONDS s)"
	pids=()
	for e in "${progs[@]}"; do
		IFS='|' read -r name marker cmd <<<"$e"
		(run_prog "$W/run-$name" "$marker" $cmd; echo "$RC $PROCEEDED" >"$W/rc-$name") &
		pids+=($!)
	done
	wait "${pids[@]}"
	cleanup_prog
	# the same lock still held afterwards
	st=$("$VMTOOL" proclocks "/dev/$A" | awk '{print $1, $2}' | sort | paste -sd,)
	release h
	check "interop: libddlp's lock was held throughout ($st; $RELEASE_LINE)" test "$RELEASE_LINE" = "UNLOCKED 0"
	for e in "${progs[@]}"; do
		IFS='|' read -r name marker cmd <<<"$e"
		read -r rc proceeded <"$W/rc-$name"
		m=$(msg_of "$W/run-$name")
		if [ "$proceeded" = 0 ]; then
			res="**refused** (exit $rc)"
			if [ "${ctl_ok[$name]}" = 1 ]; then
				pass "interop: '$cmd' is refused while libddlp holds $A exclusively (exit $rc: $m)"
			else
				fail "interop: '$cmd' is refused while libddlp holds $A exclusively (but it failed on the free drive too)"
			fi
		else
			res="proceeded (exit $rc)"
			fail "interop: '$cmd' is refused while libddlp holds $A exclusively (it proceeded, exit $rc: $m)"
		fi
		if [ "${ctl_ok[$name]}" = 1 ]; then ctl=works; else ctl="fails: $(msg_of "$W/ctl-$name")"; fi
		printf '| `%s` | %s | %s | %s |\n' "$(cell "$cmd")" "$ctl" "$res" "$(cell "$m")" >>"$table.d1"
	done
else
	fail "interop: /dev/$A locked exclusively ($HOLD_LINE)"
	release h
fi

note "part 1 done ($SECONDS s)"
# ---- 3. programs that take no lock: recorded -----------------------------------
# name|marker|command
free_progs=()
have dvd+rw-mediainfo && free_progs+=("mediainfo|INQUIRY:|dvd+rw-mediainfo /dev/$A")
have cdrdao && free_progs+=("cdrdao|QEMU|cdrdao disk-info --device /dev/$A")
have sg_inq && free_progs+=("sg_inq-sr||sg_inq /dev/$A")
have sg_inq && [ -n "$bsgA" ] && free_progs+=("sg_inq-bsg||sg_inq /dev/$bsgA")
have sg_inq && [ -n "$sgA" ] && free_progs+=("sg_inq-sg||sg_inq /dev/$sgA")
have blkid && free_progs+=("blkid||blkid /dev/$A")
have cd-info && free_progs+=("cd-info||cd-info --no-header /dev/$A")
if [ "${#free_progs[@]}" -gt 0 ] && hold_lock h $NR excl 0 "/dev/$A"; then
	for e in "${free_progs[@]}"; do
		IFS='|' read -r name marker cmd <<<"$e"
		run_prog "$W/free-$name" "$marker" $cmd
		if [ "$PROCEEDED" = 1 ]; then
			res="proceeded (exit $RC)"
			m=$(msg_of "$W/free-$name" first)
		else
			res="**refused** (exit $RC)"
			m=$(msg_of "$W/free-$name")
		fi
		note "no-lock program under the exclusive lock: '$cmd': $res: $m"
		printf '| `%s` | %s | %s |\n' "$(cell "$cmd")" "$res" "$(cell "$m")" >>"$table.d3"
	done
	release h
fi

note "part 3 done ($SECONDS s)"
# ---- 2. the program holds the drive; libddlp must be refused -------------------
# stop_prog NAME: end a holder: a program paused under strace is killed
# (SIGKILL, before its delayed ioctl can run) together with its strace;
# the others get SIGTERM (xorriso and cdrskin release the drive then), and
# SIGKILL after 20 s.
stop_prog() {
	local name=$1 pid=${hold_pid[$1]} p i=0
	for p in $("$VMTOOL" openers "/dev/$A" | awk '{print $1}') $([ -n "$sgA" ] && "$VMTOOL" openers "/dev/$sgA" | awk '{print $1}'); do
		if [ "$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null)" = "$pid" ] &&
			[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = strace ]; then
			kill -9 "$p" "$pid" 2>/dev/null
		fi
	done
	kill -TERM "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$pid" 2>/dev/null
	release "$name" || true
	cleanup_prog
}
# try_all HOW: an exclusive lock through every alias form; PASS when each
# fails with EBUSY naming a node of the drive, left nothing open.
try_all() {
	local what=$1
	try_forms
	if [ -z "$TRY_BAD" ]; then
		pass "interop: while $what holds the drive, an exclusive ddlp_lock through each of ${#forms[@]} alias forms fails with EBUSY naming $TRY_NAMED"
		printf '| %s | **refused**: EBUSY through all %d aliases | %s |\n' "$what" "${#forms[@]}" "$(cell "$TRY_NAMED")" >>"$table.d2"
	else
		fail "interop: while $what holds the drive, an exclusive ddlp_lock through each alias fails with EBUSY:$TRY_BAD"
		printf '| %s | taken or wrong through some aliases | %s |\n' "$what" "$(cell "$TRY_BAD")" >>"$table.d2"
	fi
}

strace_hold() { # NODE CMD...: CMD with its first ioctl on NODE delayed 60 s
	local node=$1
	shift
	echo strace -f -qq -o /dev/null -P "$node" -e trace=ioctl -e inject=ioctl:delay_enter=60000000 "$@"
}

holders=()
have xorriso && holders+=("xorriso -outdev /dev/$A -sleep 60|Will sleep for|xorriso -outdev /dev/$A -sleep 60")
have cdrskin && holders+=("cdrskin dev=/dev/$A grab_drive_and_wait=60|holding drive grabbed|cdrskin dev=/dev/$A grab_drive_and_wait=60")
if have strace; then
	have wodim && holders+=("wodim dev=/dev/$A -checkdrive (paused by strace at its first ioctl)|openers:/dev/$A:wodim|$(strace_hold "/dev/$A" wodim dev=/dev/$A -checkdrive)")
	have wodim && [ -n "$sgA" ] && holders+=("wodim dev=/dev/$sgA -checkdrive (paused by strace at its first ioctl)|openers:/dev/$sgA:wodim|$(strace_hold "/dev/$sgA" wodim dev=/dev/$sgA -checkdrive)")
	have cdrdao && holders+=("cdrdao disk-info --device /dev/$A (paused by strace at its first ioctl)|openers:/dev/$A:cdrdao|$(strace_hold "/dev/$A" cdrdao disk-info --device /dev/$A)")
else
	skip "interop: wodim and cdrdao as holders need strace"
fi
holders+=("flock /dev/$A (util-linux flock(1))|locks:/dev/$A|flock /dev/$A cat")
udevadm lock --help >/dev/null 2>&1 && holders+=("udevadm lock --device=/dev/$A|locks:/dev/$A|udevadm lock --device=/dev/$A cat")

for e in "${holders[@]}"; do
	IFS='|' read -r what ready cmd <<<"$e"
	if hold_prog hp "$ready" $cmd; then
		try_all "$what"
	else
		fail "interop: $what holds the drive ($(cat "$W/hp.out" "$W/hp.err" | tr '\r' '\n' | msg_of /dev/stdin))"
	fi
	stop_prog hp
done

# mount as the holder
if mount -o ro "/dev/$A" "$mnt" 2>"$W/mount.err"; then
	try_all "mount -o ro /dev/$A (mounted)"
	umount "$mnt"
else
	fail "interop: mount -o ro /dev/$A ($(cat "$W/mount.err"))"
fi

# For the record: the non-exclusive modes as holders take no lock.
if have xorriso; then
	if hold_prog hp "Will sleep for" xorriso -drive_access shared:unrestricted -outdev "/dev/$A" -sleep 60; then
		try_lock $NR excl 0 "/dev/$A"
		note "while 'xorriso -drive_access shared:unrestricted -outdev /dev/$A' holds the drive, ddlp_lock: $TRY_LINE"
		printf '| %s | %s | %s |\n' "xorriso -drive_access shared:unrestricted -outdev /dev/$A -sleep 60 (recorded)" \
			"$(case $TRY_LINE in LOCKED*) echo "taken (the program took no lock)" ;; *) echo "**refused**" ;; esac)" \
			"$(case $TRY_LINE in LOCKED*) echo - ;; *) cell "$(field "$TRY_LINE" node) $(field "$TRY_LINE" step)" ;; esac)" >>"$table.d2"
	fi
	stop_prog hp
fi

note "part 2 done ($SECONDS s)"
# ---- 4. the recipe: the burner under libddlp's lock -----------------------------
recipe() { # DESCRIPTION MARKER CMD...: run CMD under an exclusive lock held by its parent
	local what=$1 marker=$2 out child ok
	shift 2
	out=$(timeout -k 5 120 "$VMTOOL" lock $NR excl 0 "/dev/$A" -- "$@" </dev/null 2>&1)
	child=$(printf '%s\n' "$out" | sed -n 's/^CHILD //p')
	printf '%s\n' "$out" >"$W/recipe.out"
	ok=0
	case $out in LOCKED*) [ "$child" = 0 ] && grep -Eq -- "$marker" "$W/recipe.out" && ok=1 ;; esac
	if [ "$ok" = 1 ]; then
		pass "recipe: '$*' works under libddlp's exclusive lock of $A"
		printf '| `%s` | **works** (exit 0) | %s |\n' "$(cell "$*")" "$(cell "$(grep -E -m1 -- "$marker" "$W/recipe.out")")" >>"$table.d4"
	else
		fail "recipe: '$*' works under libddlp's exclusive lock of $A (lock: $(head -n1 "$W/recipe.out"); exit ${child:-?}: $(msg_of "$W/recipe.out"))"
		printf '| `%s` | fails (exit %s) | %s |\n' "$(cell "$*")" "${child:-?}" "$(cell "$(msg_of "$W/recipe.out")")" >>"$table.d4"
	fi
}
if have xorriso; then
	recipe "" "^Media current:" xorriso -drive_access shared:unrestricted -indev "/dev/$A" -toc
	recipe "" "^Media current:" xorriso -drive_access shared:unrestricted -outdev "/dev/$A" -toc
fi
have cdrskin && recipe "" "^Vendor_info" cdrskin --drive_not_exclusive "dev=/dev/$A" -checkdrive
# the same through the ddlp-lock tool, when it is built (not a core check)
ddlp_lock=$VMSUITE_BUILDDIR/src/ddlp-lock
if [ -x "$ddlp_lock" ] && have xorriso; then
	timeout -k 5 120 "$ddlp_lock" --no-reprobe -w 30 "/dev/$A" \
		xorriso -drive_access shared:unrestricted -outdev "/dev/$A" -toc >"$W/cli.out" 2>&1 </dev/null
	rc=$?
	if [ "$rc" = 0 ] && grep -q '^Media current:' "$W/cli.out"; then
		pass "recipe: ddlp-lock -w 30 /dev/$A xorriso -drive_access shared:unrestricted -outdev /dev/$A -toc works"
		printf '| `%s` | **works** (exit 0) | %s |\n' "ddlp-lock -w 30 /dev/$A xorriso -drive_access shared:unrestricted -outdev /dev/$A -toc" "(src/ddlp-lock)" >>"$table.d4"
	else
		fail "recipe: ddlp-lock -w 30 /dev/$A xorriso -drive_access shared:unrestricted -outdev /dev/$A -toc works (exit $rc: $(msg_of "$W/cli.out"))"
	fi
else
	note "ddlp-lock not built: the recipe was run under ddlp-vmtool lock only"
fi

note "part 4 done ($SECONDS s)"
# ---- the table ----------------------------------------------------------------
pkgver() { # the Debian package versions, where dpkg knows them
	command -v dpkg-query >/dev/null 2>&1 || return 0
	dpkg-query -W -f='${Package} ${Version}\n' "$@" 2>/dev/null | sed 's/^/`/; s/ /` /' | paste -sd, - | sed 's/,/, /g'
}
{
	echo "# Interoperability of libddlp with real programs"
	echo
	echo "Observed by \`tests/vm/suite/interop.sh\` (the VM suite, \`make check\`) on"
	echo "$(date -u +%Y-%m-%d), Linux $(uname -r) in qemu (TCG), a qemu scsi-cd drive"
	echo "(\`/dev/$A\`, \`${sgA:+/dev/$sgA}\`, \`${bsgA:+/dev/$bsgA}\`) holding an ISO 9660 disc,"
	echo "systemd-udevd $(udevadm --version 2>/dev/null). libddlp $("$VMTOOL" version 2>/dev/null)."
	echo
	echo "Debian packages: $(pkgver xorriso cdrskin wodim cdrdao util-linux mount udev sg3-utils dvd+rw-tools libcdio-utils strace)."
	echo
	echo "## 1. libddlp holds the drive exclusively; the program tries to take it"
	echo
	echo "libddlp's exclusive lock: \`O_EXCL\` on sr and sg, OFD write locks on sr, sg"
	echo "and bsg, \`flock(LOCK_EX)\` on sr (doc/ddlp.txt, section 5). Each program"
	echo "was first run on the free drive."
	echo
	echo "| Command | Free drive | While libddlp holds the drive | Program's message |"
	echo "|---|---|---|---|"
	cat "$table.d1"
	echo
	echo "## 2. The program holds the drive; libddlp tries an exclusive lock"
	echo
	echo "An exclusive \`ddlp_lock()\` with timeout 0 through each alias form:"
	echo "$(printf '`%s` ' "${forms[@]}" | sed 's/ $//')"
	echo "(the last one a mknod alias of \`/dev/$A\`)."
	echo "Programs without a wait option are paused by strace at their first ioctl on"
	echo "the drive, after their open."
	echo
	echo "| Program holding the drive | ddlp_lock (exclusive) | Node and step that refused (holder) |"
	echo "|---|---|---|"
	cat "$table.d2"
	echo
	echo "## 3. Programs that take no lock, run while libddlp holds the drive exclusively"
	echo
	echo "No advisory scheme can keep these out (doc/ddlp.txt, section 10); recorded, not asserted."
	echo
	echo "| Command | Result | Program's message |"
	echo "|---|---|---|"
	cat "$table.d3"
	echo
	echo "## 4. The recipe: the burner runs under libddlp's exclusive lock"
	echo
	echo "The command is the child of the process that holds the exclusive lock"
	echo "(\`ddlp-vmtool lock excl 0 /dev/$A -- COMMAND\`, as \`ddlp-lock\` does), and"
	echo "opens the drive without \`O_EXCL\` of its own (doc/ddlp.txt, section 11)."
	echo
	echo "| Command | Result | Output |"
	echo "|---|---|---|"
	cat "$table.d4"
} >"$VM_OUT/interop.md"
note "interop table written to \$VM_OUT/interop.md"

suite_end
