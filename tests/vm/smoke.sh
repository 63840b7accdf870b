#!/bin/bash
# Smoke test of the VM test bed (tests/vm/vm-run).  Run from the host:
#
#   tests/vm/smoke.sh        exit 0 = all PASS, 1 = some FAIL, 77 = SKIP,
#                            99 = the test bed itself broke
#
# Four VM boots: the full setup (2 qemu drives + 4 scsi_debug drives, udev,
# sg), a bare one (--no-udev --no-sg, also checks exit status 3), a hang
# that the timeout must end and a guest kernel panic that must end the VM.
# The checks inside the VM are this script run with --guest.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P) || exit 99
self=$here/smoke.sh
vmrun=$here/vm-run

fails=0
pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
check() { # check "description" command...
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
count() { # count existing paths among the arguments
	local n=0 f
	for f in "$@"; do [ -e "$f" ] || [ -L "$f" ] && n=$((n + 1)); done
	echo "$n"
}
# shellcheck disable=SC2317 # called through check
is_blk() { [ -b "$1" ]; }
# shellcheck disable=SC2317
is_chr() { [ -c "$1" ]; }

# --- inside the VM ---------------------------------------------------------------
guest_full() {
	local d n model f mnt=/tmp/smoke-mnt
	for d in /dev/sr0 /dev/sr1; do check "$d is a block device" is_blk "$d"; done
	for d in /dev/sg0 /dev/sg1; do check "$d is a char device" is_chr "$d"; done
	check "sg module loaded" test -d /sys/module/sg
	n=$(count /dev/bsg/*)
	if [ "$n" -ge 6 ]; then pass "/dev/bsg has $n entries"; else fail "/dev/bsg has $n entries (want >= 6)"; fi
	check "/dev/bsg/0:0:0:0 is a char device" is_chr /dev/bsg/0:0:0:0
	check "/dev/cdrom exists (udev)" test -e /dev/cdrom
	check "/dev/cdrom points to sr0" test "$(readlink -f /dev/cdrom)" = /dev/sr0
	for n in 0 1; do
		f=$(find /dev/disk/by-id -name "*DDLPCD$n*" 2>/dev/null | head -n1)
		if [ -n "$f" ] && [ "$(readlink -f "$f")" = "/dev/sr$n" ]; then
			pass "by-id link $f -> /dev/sr$n"
		else
			fail "no /dev/disk/by-id/*DDLPCD$n* pointing to /dev/sr$n"
		fi
	done
	check "udevadm info /dev/sr0 has ID_CDROM=1" \
		grep -qx 'E: ID_CDROM=1' <(udevadm info /dev/sr0)
	check "udev database exists under /run/udev/data" test -n "$(ls -A /run/udev/data 2>/dev/null)"

	mkdir -p "$mnt"
	for n in 0 1; do
		if mount -o ro "/dev/sr$n" "$mnt" 2>/dev/null; then
			if [ "$(cat "$mnt/ddlp/serial.txt" 2>/dev/null)" = "DDLPCD$n" ] &&
				[ -e "$mnt/README.TXT" ]; then
				pass "ISO in sr$n mounts read-only and is disc DDLPCD$n"
			else
				fail "ISO in sr$n mounted but its content is wrong: $(echo "$mnt"/*)"
			fi
			umount "$mnt" || fail "umount sr$n"
		else
			fail "mount -o ro /dev/sr$n"
		fi
	done

	# scsi_debug: 4 more drives, after the qemu ones.
	n=0
	for f in /sys/class/block/sr*; do
		model=$(cat "$f/device/model" 2>/dev/null)
		case $model in scsi_debug*) n=$((n + 1)) ;; esac
	done
	if [ "$n" -eq 4 ]; then pass "scsi_debug gave 4 sr drives"; else fail "scsi_debug gave $n sr drives (want 4)"; fi
	n=$(count /dev/sr*)
	if [ "$n" -eq 6 ]; then pass "6 sr nodes (/dev/sr0..5)"; else fail "$n sr nodes (want 6)"; fi
	n=$(count /dev/sg*)
	if [ "$n" -eq 6 ]; then pass "6 sg nodes"; else fail "$n sg nodes (want 6)"; fi
	check "sr2 is a scsi_debug drive" grep -q scsi_debug /sys/class/block/sr2/device/model

	# Environment of the command.
	check "cwd is the host's cwd" test "$(pwd -P)" = "${DDLP_SMOKE_CWD:-}"
	check "DDLP_* variables are passed in" test "${DDLP_SMOKE_TOKEN:-}" = "t0k3n with spaces"
	check "VM_OUT is a writable directory" test -d "${VM_OUT:-/nonexistent}" -a -w "${VM_OUT:-/nonexistent}"
	check "host root is read-only" bash -c '! touch /usr/.ddlp-smoke'
	check "/tmp is writable" touch /tmp/x
	check "/var/lock is writable" touch /var/lock/x
	check "/run is writable" touch /run/x
	check "running as root" test "$(id -u)" = 0
	check "systemd-udevd is running" pidof systemd-udevd

	# Modules can be loaded and removed from inside.
	modprobe -r scsi_debug 2>/dev/null
	udevadm settle 2>/dev/null
	n=$(count /dev/sr*)
	if [ "$n" -eq 2 ]; then pass "modprobe -r scsi_debug leaves 2 sr nodes"; else fail "after modprobe -r scsi_debug: $n sr nodes"; fi
	check "modprobe loop works in the VM" modprobe loop

	echo "written by the guest" >"$VM_OUT/smoke-out.txt"
	[ "$fails" -eq 0 ]
}

guest_bare() {
	local n
	check "/dev/sr0 exists without udev" is_blk /dev/sr0
	check "/dev/sr1 exists without udev" is_blk /dev/sr1
	n=$(count /dev/sg*)
	if [ "$n" -eq 0 ]; then pass "no /dev/sg* with --no-sg"; else fail "$n /dev/sg* nodes with --no-sg"; fi
	check "sg module not loaded" test ! -e /sys/module/sg
	n=$(count /dev/bsg/*)
	if [ "$n" -eq 2 ]; then pass "/dev/bsg has 2 entries without sg"; else fail "/dev/bsg has $n entries (want 2)"; fi
	check "no /dev/cdrom without udev" test ! -e /dev/cdrom
	check "no /dev/disk/by-id without udev" test ! -e /dev/disk/by-id
	check "udev database empty" test -z "$(ls -A /run/udev 2>/dev/null)"
	check "systemd-udevd not running" bash -c '! pidof systemd-udevd'
	echo "to stderr" >&2
	[ "$fails" -eq 0 ]
}

if [ "${1:-}" = --guest ]; then
	case ${2:-} in
	full) guest_full ;;
	bare) guest_bare ;;
	*) echo "usage: smoke.sh --guest full|bare" >&2; exit 2 ;;
	esac
	exit
fi

# --- on the host -----------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ddlp-smoke.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
t_all=$SECONDS

# 1. The full setup.
t0=$SECONDS
DDLP_SMOKE_TOKEN="t0k3n with spaces" DDLP_SMOKE_CWD=$(pwd -P) \
	"$vmrun" --cd 2 --scsi-debug 4 --out "$tmp" -- "$self" --guest full \
	>"$tmp/full.out" 2>"$tmp/full.err"
rc=$?
cat "$tmp/full.out"
if [ "$rc" -eq 77 ]; then
	cat "$tmp/full.err" >&2
	grep '^SKIP' "$tmp/full.out" >/dev/null || echo "SKIP: vm-run cannot run the VM"
	exit 77
fi
fails=$((fails + $(grep -c '^FAIL' "$tmp/full.out")))
if [ "$rc" -eq 0 ]; then
	pass "full boot (--cd 2 --scsi-debug 4): guest checks passed in $((SECONDS - t0)) s"
else
	fail "full boot: vm-run exited $rc"
	sed 's/^/  stderr: /' "$tmp/full.err"
fi
if [ "$(cat "$tmp/smoke-out.txt" 2>/dev/null)" = "written by the guest" ]; then
	pass "file written to \$VM_OUT is on the host"
else
	fail "file written to \$VM_OUT is not on the host"
fi

# 2. Bare: no udev, no sg; the command's exit status 3 must come back, and
#    stdout and stderr must stay apart.
t0=$SECONDS
# shellcheck disable=SC2016 # $0 is for the inner shell
"$vmrun" --no-udev --no-sg -- sh -c '"$0" --guest bare && exit 3' "$self" \
	>"$tmp/bare.out" 2>"$tmp/bare.err"
rc=$?
cat "$tmp/bare.out"
fails=$((fails + $(grep -c '^FAIL' "$tmp/bare.out")))
if [ "$rc" -eq 3 ]; then
	pass "bare boot (--no-udev --no-sg): checks passed, exit status 3 came back ($((SECONDS - t0)) s)"
else
	fail "bare boot: vm-run exited $rc (want 3)"
	sed 's/^/  stderr: /' "$tmp/bare.err"
fi
if grep -qx 'to stderr' "$tmp/bare.err" && ! grep -q 'to stderr' "$tmp/bare.out"; then
	pass "the command's stderr comes out on stderr only"
else
	fail "the command's stderr is not on vm-run's stderr alone"
fi
if grep -q '\[ *[0-9]*\.[0-9]*\]' "$tmp/bare.out" "$tmp/bare.err"; then
	fail "kernel messages leaked into the output"
else
	pass "no kernel messages in the output"
fi

# 3. A hang ends at the timeout, and 4. a guest panic ends the VM; both run
#    at once (which also runs two VMs in parallel).
t0=$SECONDS
"$vmrun" --cd 0 --no-udev --timeout 20 -- sleep 600 >"$tmp/hang.out" 2>&1 &
hang_pid=$!
"$vmrun" --cd 0 --no-udev --timeout 120 -- sh -c 'echo c >/proc/sysrq-trigger; sleep 600' \
	>"$tmp/panic.out" 2>&1
rc=$?
t_panic=$((SECONDS - t0))
if [ "$rc" -eq 99 ] && [ "$t_panic" -lt 100 ]; then
	pass "a guest kernel panic ends the VM (exit 99 after $t_panic s)"
else
	fail "guest panic: vm-run exited $rc after $t_panic s (want 99, well before the 120 s timeout)"
	sed 's/^/  /' "$tmp/panic.out"
fi
wait "$hang_pid"
rc=$?
t_hang=$((SECONDS - t0))
if [ "$rc" -eq 124 ] && [ "$t_hang" -le 35 ]; then
	pass "a hanging command is ended by --timeout 20 (exit 124 after $t_hang s)"
else
	fail "hang: vm-run exited $rc after $t_hang s (want 124 after ~20 s)"
	sed 's/^/  /' "$tmp/hang.out"
fi

echo "smoke: $fails failure(s), $((SECONDS - t_all)) s"
[ "$fails" -eq 0 ] || exit 1
exit 0
