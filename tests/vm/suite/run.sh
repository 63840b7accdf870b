#!/bin/bash
# The guest side of tests/vm/test-vm.sh: run one boot's group of scripts,
# each under a time limit (a hang becomes a FAIL, never a stuck VM).
#
#   run.sh GROUP      (in the VM, from tests/vm/vm-run)
#
# Groups (the VM each needs):
#   drives   2 qemu CD drives, udevd, sg:   identity, locking (default and
#            posix backend), quiet waiting and the queue (both
#            backends), udev, interop, guard (ddlp-guard with the
#            real programs, both backends), stress (both backends),
#            privilege (an unprivileged user of the cdrom group), users
#   many     --scsi-debug 64:               many, unplug
#   bare     --no-udev --no-sg:             identity, locking
#
# VMSUITE_ONLY="name ..." runs only the named scripts of the group
# (debugging).  Counts go to $VM_OUT/counts; exit 0 when nothing failed.
set -u
here=$(cd "$(dirname "$0")" && pwd -P)
: "${VM_OUT:=/tmp}"
counts=$VM_OUT/counts
: >>"$counts"

# the default backend unless a run asks for posix
unset DDLP_LOCK_BACKEND

failed=0
run() { # LIMIT NAME [ENV=VAL...] SCRIPT [ARGS...]
	local limit=$1 name=$2 before after rc t0
	shift 2
	if [ -n "${VMSUITE_ONLY:-}" ]; then
		case " $VMSUITE_ONLY " in *" $name "*) ;; *) return 0 ;; esac
	fi
	before=$(wc -l <"$counts")
	t0=$(date +%s)
	# its own session and process group, so that a hang is ended whole
	setsid env "$@" &
	local pid=$! i=0
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		i=$((i + 1))
		if [ "$i" -ge "$limit" ]; then
			echo "FAIL: $name did not finish within $limit s (killed)"
			kill -9 -- "-$pid" 2>/dev/null
			break
		fi
	done
	wait "$pid"
	rc=$?
	after=$(wc -l <"$counts")
	if [ "$after" = "$before" ]; then
		echo "FAIL: $name ended (status $rc) without reporting its counts"
		echo "$name-aborted 0 1 0" >>"$counts"
		failed=1
	elif [ "$rc" != 0 ]; then
		failed=1
	fi
	echo "# $name: $(($(date +%s) - t0)) s"
}

group=${1:-}
case $group in
drives)
	run 120 identity "$here/identity.sh"
	run 150 locking "$here/locking.sh"
	run 150 locking-posix DDLP_LOCK_BACKEND=posix "$here/locking.sh"
	run 360 quiet "$here/quiet.sh"
	run 240 quiet-posix DDLP_LOCK_BACKEND=posix "$here/quiet.sh"
	run 120 queue "$here/queue.sh"
	run 120 queue-posix DDLP_LOCK_BACKEND=posix "$here/queue.sh"
	run 120 udev "$here/udev.sh"
	run 300 interop "$here/interop.sh"
	run 420 guard "$here/guard.sh"
	run 300 guard-posix DDLP_LOCK_BACKEND=posix "$here/guard.sh"
	run 250 stress "$here/stress.sh"
	run 120 privilege "$here/privilege.sh"
	run 200 users "$here/users.sh"
	;;
many)
	run 240 many "$here/many.sh"
	run 150 unplug "$here/unplug.sh"
	;;
bare)
	run 120 identity "$here/identity.sh"
	run 150 locking "$here/locking.sh"
	;;
*)
	echo "usage: run.sh drives|many|bare" >&2
	exit 64
	;;
esac
exit "$failed"
