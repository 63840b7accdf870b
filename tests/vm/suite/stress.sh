#!/bin/bash
# The stress test on real drives, in the default and the posix backend:
# several processes of several threads lock two drives for thousands of
# rounds through random aliases (sr, sg, bsg, udev symlinks, H:C:T:L,
# B,T,L, mknod aliases) in random modes, one drive or both at once with
# ddlp_lock_many() in random order.  A checker in shared memory asserts
# that no two exclusive holders, and no exclusive with a shared holder,
# ever overlap; every round must end (a stall of 120 s without progress
# is reported as a deadlock).  No lock may be left behind.
#
#   stress.sh [ROUNDS [PROCS [THREADS]]]   (default 1000 4 2 per backend;
#                                           also VMSUITE_STRESS_ROUNDS)
. "$(dirname "$0")/lib.sh"
suite_begin stress

rounds=${1:-${VMSUITE_STRESS_ROUNDS:-1000}} procs=${2:-4} threads=${3:-2}
A=sr0 B=sr1
fa=$(forms_of $A)
fb=$(forms_of $B)
note "aliases of $A: $fa"
note "aliases of $B: $fb"

for backend in ofd posix; do
	t0=$(date +%s)
	if [ "$backend" = posix ]; then
		out=$(DDLP_LOCK_BACKEND=posix "$VMTOOL" stress --rounds "$rounds" --procs "$procs" --threads "$threads" "$fa" "$fb" 2>&1)
	else
		out=$(env -u DDLP_LOCK_BACKEND "$VMTOOL" stress --rounds "$rounds" --procs "$procs" --threads "$threads" "$fa" "$fb" 2>&1)
	fi
	rc=$?
	line=$(grep '^STRESS' <<<"$out")
	note "[$backend] $line ($(($(date +%s) - t0)) s)"
	grep '^STALL' <<<"$out"
	if [ "$rc" = 0 ]; then
		pass "stress [$backend]: $(field "$line" rounds) rounds over $A and $B by $procs processes x $threads threads, 0 overlaps, no error, no deadlock"
	elif [ "$rc" = 5 ]; then
		fail "stress [$backend]: no deadlock (no round ended for 120 s: $out)"
	else
		fail "stress [$backend]: every round ends without overlap or error (status $rc: $out)"
	fi
	why=$(locked_nodes_of $A $B)
	if [ -z "$why" ]; then pass "stress [$backend]: no lock left behind"; else fail "stress [$backend]: no lock left behind:$why"; fi
done

suite_end
