#!/bin/bash
# The VM suite, run by `make check`: libddlp against real sr, sg and bsg
# drivers, real udevd and real burning programs in qemu VMs booted by
# tests/vm/vm-run, one boot after the other:
#
#   drives   2 qemu CD drives, udevd, sg: identity, locking (default and
#            posix backend), udev, interop (writes the observed table),
#            guard (ddlp-guard with the real programs, both backends;
#            writes its table), stress (both backends), privilege, users
#            of a drive
#   many     64 scsi_debug drives: identity of many drives, lock_many over
#            all of them, ddlp-lock --list in one /proc scan, hot unplug
#   bare     2 qemu CD drives, udevd stopped, sg module absent: identity and
#            locking
#
# Prints every line of the guest scripts ("PASS: ...", "FAIL: ...",
# "SKIP: ...", "# ..."), then "N passed, M failed[, K skipped]".  Exit 0,
# 1 when a check failed, 77 (with "SKIP: reason") when qemu is missing or
# DDLP_SKIP_VM=1 (with DDLP_VM_REQUIRE=1 a missing qemu or an unusable VM
# is an error, 99).  The observed interoperability table is copied to
# tests/vm/interop-observed.md in the build tree, and ddlp-guard's to
# tests/vm/guard-interop-observed.md (doc/interop.md carries a committed
# copy of both).
#
# Environment: DDLP_SKIP_VM=1 skips; VMSUITE_BOOTS="drives many bare"
# chooses boots; VMSUITE_STRESS_ROUNDS (default 1000 per backend); DDLP_VM_* as for
# vm-run (cache, kernel, DDLP_VM_REQUIRE=1 makes a SKIP an error).
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P) || exit 99
srcdir=${abs_top_srcdir:-$(cd "$here/../.." && pwd -P)}
builddir=${abs_top_builddir:-$(pwd -P)}
vmrun=$srcdir/tests/vm/vm-run
suite=$srcdir/tests/vm/suite
vmtool=$builddir/tests/vm/suite/ddlp-vmtool

skip() {
	echo "SKIP: $*"
	exit 77
}
# An explicit DDLP_SKIP_VM=1 wins over DDLP_VM_REQUIRE=1 (CI's distcheck
# sets both: the VM suite already ran in the main build).
[ "${DDLP_SKIP_VM:-0}" = 1 ] && skip "DDLP_SKIP_VM=1"
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
	[ "${DDLP_VM_REQUIRE:-0}" = 1 ] && { echo "ERROR: no qemu-system-x86_64 and DDLP_VM_REQUIRE=1"; exit 99; }
	skip "no qemu-system-x86_64 (package qemu-system-x86)"
fi
[ -x "$vmrun" ] || { echo "ERROR: $vmrun missing"; exit 99; }
[ -x "$vmtool" ] || { echo "ERROR: $vmtool not built (make check builds it)"; exit 99; }
# The guest sees the host's root file system read-only; of /tmp and
# /var/tmp, which are its own, only what vm-run shows again (the source
# tree, --host-dir).  /run and /var/lock are the guest's alone.
case $builddir/ in
/run/* | /var/lock/*)
	[ "${DDLP_VM_REQUIRE:-0}" = 1 ] && { echo "ERROR: the build tree $builddir is not visible in the VM and DDLP_VM_REQUIRE=1"; exit 99; }
	skip "the build tree $builddir is not visible in the VM (its /run is its own)" ;;
esac

out=$builddir/tests/vm/out
rm -rf "$out"
mkdir -p "$out" || exit 99

boots=${VMSUITE_BOOTS:-drives many bare}
total_pass=0 total_fail=0 total_skip=0
t_all=$SECONDS
for boot in $boots; do
	case $boot in
	drives) opts=(--cd 2 --timeout 2100) ;;
	many) opts=(--cd 0 --scsi-debug 64 --timeout 600) ;;
	bare) opts=(--cd 2 --no-udev --no-sg --timeout 500) ;;
	*)
		echo "FAIL: unknown boot '$boot' in VMSUITE_BOOTS"
		total_fail=$((total_fail + 1))
		continue
		;;
	esac
	mkdir -p "$out/$boot"
	echo "# === boot '$boot': vm-run ${opts[*]}"
	t0=$SECONDS
	# from /, which the guest always sees; the scripts find the build tree
	# through VMSUITE_BUILDDIR
	(cd / && "$vmrun" "${opts[@]}" --out "$out/$boot" \
		--env "VMSUITE_BUILDDIR=$builddir" --host-dir "$builddir" \
		${VMSUITE_STRESS_ROUNDS:+--env "VMSUITE_STRESS_ROUNDS=$VMSUITE_STRESS_ROUNDS"} \
		-- "$suite/run.sh" "$boot" 2>&1)
	rc=$?
	echo "# boot '$boot': $((SECONDS - t0)) s, status $rc"
	if [ "$rc" = 77 ]; then
		# vm-run cannot use a VM here (its SKIP line is above)
		[ "$total_pass$total_fail" = 00 ] && skip "the test VM cannot run here (see above)"
		echo "FAIL: boot '$boot' was skipped by vm-run after other boots ran"
		total_fail=$((total_fail + 1))
		continue
	fi
	p=0 f=0 s=0
	if [ -s "$out/$boot/counts" ]; then
		while read -r _ cp cf cs; do
			p=$((p + cp)) f=$((f + cf)) s=$((s + cs))
		done <"$out/$boot/counts"
	fi
	if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
		echo "FAIL: boot '$boot' ended with vm-run status $rc (99: the test bed failed, 124: VM timeout)"
		f=$((f + 1))
	elif [ "$rc" = 1 ] && [ "$f" = 0 ]; then
		echo "FAIL: boot '$boot' reported failure without a failed check"
		f=$((f + 1))
	elif [ "$p" = 0 ]; then
		echo "FAIL: boot '$boot' reported no passed check"
		f=$((f + 1))
	fi
	echo "# boot '$boot': $p passed, $f failed, $s skipped"
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f)) total_skip=$((total_skip + s))
	if [ -s "$out/$boot/interop.md" ]; then
		cp "$out/$boot/interop.md" "$builddir/tests/vm/interop-observed.md" &&
			echo "# the observed interoperability table: tests/vm/interop-observed.md"
	fi
	if [ -s "$out/$boot/guard-interop.md" ]; then
		cp "$out/$boot/guard-interop.md" "$builddir/tests/vm/guard-interop-observed.md" &&
			echo "# ddlp-guard's observed table: tests/vm/guard-interop-observed.md"
	fi
done
echo "# VM suite: $((SECONDS - t_all)) s"

summary="$total_pass passed, $total_fail failed"
[ "$total_skip" -gt 0 ] && summary="$summary, $total_skip skipped"
echo "$summary"
[ "$total_fail" = 0 ]
