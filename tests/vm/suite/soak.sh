#!/bin/bash
# The soak test (make soak; not part of make check or CI): the stress test
# on the two qemu drives for SOAK_SECONDS (default 600), in both lock
# backends at once, by processes and threads:
#
#   - two long-lived lockers (ddlp-vmtool soak), one in the default (OFD)
#     backend and one with DDLP_LOCK_BACKEND=posix, each of 2 threads,
#     lock and unlock through random aliases for the whole time; every
#     SOAK_INTERVAL seconds each stops its threads between two rounds
#     (nothing held) and samples its descriptors, its VmRSS and malloc's
#     bytes in use;
#   - meanwhile, one ddlp-vmtool stress run after the other (3 processes
#     x 2 threads, SOAK_STRESS_ROUNDS rounds each), the backend
#     alternating between OFD and posix.
#
# All of them count the holders of each drive in one shared checker
# (VMTOOL_CHECKER), so an overlap between any two of them is seen.
#
# Checks:
#   - 0 overlaps, 0 errors, no lock fd on a wrong device;
#   - no deadlock: a watchdog in every locker and stress run fails the run
#     when no round ends for SOAK_STALL seconds (default 120), and a stress
#     run that does not end SOAK_STALL + 60 s after it started is killed
#     and counted as one;
#   - flat descriptors: a locker's count (taken while it holds nothing)
#     never exceeds the first sample after warm-up (SOAK_SECONDS / 6, at
#     most 30 s): not by one;
#   - flat memory, first sample after warm-up against the last (glibc's
#     per-thread cache is off in the lockers, so that malloc's count of
#     bytes in use is exactly what is allocated):
#       heap (mallinfo2 uordblks, taken while nothing is held) grows by at
#       most 4 KiB: what stays allocated then must be the same at every
#       sample (stdout's 4 KiB buffer is made before the first sample, by
#       the locker's START line); 4 KiB leaves room for one buffer that
#       glibc first uses late, not for a leak per lock: 16 bytes a lock
#       pass it after 256 locks, and a locker takes about 20 locks a
#       second under TCG;
#       VmRSS grows by at most 256 KiB (64 pages): it counts pages, thread
#       stacks and glibc's kept free memory; a leak outside malloc (a
#       mapping, a thread) shows here;
#   - no lock left behind on any node of either drive.
#
# Prints PASS/FAIL lines, each locker's final line as a "# " line, a
# summary line ("# soak summary: ...") and "soak: PASS" or "soak: FAIL".
# The stress runs' lines and the lockers' samples go to $VM_OUT/soak.log
# (make soak: tests/vm/out/soak/soak.log).
#
#   soak.sh       (in the VM: make soak, or tests/vm/vm-run -- .../soak.sh)
. "$(dirname "$0")/lib.sh"
suite_begin soak

seconds=${SOAK_SECONDS:-600}
stall=${SOAK_STALL:-120}
interval=${SOAK_INTERVAL:-$((seconds / 12 < 5 ? 5 : seconds / 12 > 60 ? 60 : seconds / 12))}
stress_rounds=${SOAK_STRESS_ROUNDS:-300}
heap_bound=4096
rss_bound_kb=256
A=sr0 B=sr1

if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 10 ]; then
	fail "SOAK_SECONDS=$seconds: a number of seconds, at least 10"
	suite_end
	exit 1
fi
fa=$(forms_of $A)
fb=$(forms_of $B)
note "aliases of $A: $fa"
note "aliases of $B: $fb"
note "$seconds s, samples every $interval s, stall limit $stall s, stress runs of $stress_rounds rounds"
export VMTOOL_CHECKER=$W/checker
log=$VM_OUT/soak.log
: >"$log"

t0=$(date +%s)
t_end=$((t0 + seconds))
# (glibc's per-thread cache off in the lockers: their heap figure is then
# exactly what is allocated)
tunables=glibc.malloc.tcache_count=0${GLIBC_TUNABLES:+:$GLIBC_TUNABLES}
env -u DDLP_LOCK_BACKEND GLIBC_TUNABLES="$tunables" "$VMTOOL" soak --seconds "$seconds" \
	--interval "$interval" --stall "$stall" "$fa" "$fb" >"$W/locker-ofd.out" 2>&1 &
pid_ofd=$!
DDLP_LOCK_BACKEND=posix GLIBC_TUNABLES="$tunables" "$VMTOOL" soak --seconds "$seconds" \
	--interval "$interval" --stall "$stall" "$fa" "$fb" >"$W/locker-posix.out" 2>&1 &
pid_posix=$!

# stress runs until the time is up, the backend alternating
runs=0 runs_ofd=0 runs_posix=0 rounds=0 stalls=0 bad_runs=0
backend=ofd
while [ "$(date +%s)" -lt "$t_end" ]; do
	if [ "$backend" = posix ]; then
		out=$(DDLP_LOCK_BACKEND=posix timeout -k 5 $((stall + 60)) "$VMTOOL" stress \
			--rounds "$stress_rounds" --procs 3 --threads 2 "$fa" "$fb" 2>&1)
	else
		out=$(env -u DDLP_LOCK_BACKEND timeout -k 5 $((stall + 60)) "$VMTOOL" stress \
			--rounds "$stress_rounds" --procs 3 --threads 2 "$fa" "$fb" 2>&1)
	fi
	rc=$?
	runs=$((runs + 1))
	if [ "$backend" = posix ]; then runs_posix=$((runs_posix + 1)); else runs_ofd=$((runs_ofd + 1)); fi
	line=$(grep '^STRESS' <<<"$out")
	echo "[$backend] $(($(date +%s) - t0)) s: ${line:-no STRESS line} (status $rc)" >>"$log"
	rounds=$((rounds + $(field "$line" rounds || echo 0)))
	case $rc in
	0) ;;
	5 | 124 | 137)
		stalls=$((stalls + 1))
		fail "stress run $runs [$backend]: no deadlock (status $rc: $out)"
		;;
	*)
		bad_runs=$((bad_runs + 1))
		fail "stress run $runs [$backend]: every round ends without overlap or error (status $rc: $out)"
		;;
	esac
	if [ "$backend" = ofd ]; then backend=posix; else backend=ofd; fi
done
[ "$stalls$bad_runs" = 00 ] && pass "$runs stress runs (ofd $runs_ofd, posix $runs_posix), $rounds rounds: every one ended, 0 overlaps, no error"

# the lockers end by themselves at SOAK_SECONDS (after at most one round
# and one stall limit); then they are killed
for ((i = 0; i < stall + 60; i++)); do
	kill -0 "$pid_ofd" 2>/dev/null || kill -0 "$pid_posix" 2>/dev/null || break
	sleep 1
done
kill -9 "$pid_ofd" "$pid_posix" 2>/dev/null
wait "$pid_ofd"
rc_ofd=$?
wait "$pid_posix"
rc_posix=$?
duration=$(($(date +%s) - t0))

locks=0
summary_fds='' summary_rss='' summary_heap=''
for b in ofd posix; do
	f=$W/locker-$b.out
	if [ "$b" = ofd ]; then rc=$rc_ofd; else rc=$rc_posix; fi
	while IFS= read -r l; do
		case $l in SAMPLE*) echo "[$b locker] $l" >>"$log" ;; esac
	done <"$f"
	line=$(grep '^SOAK' "$f")
	note "[$b locker] ${line:-no SOAK line}"
	case $rc in
	0) pass "long-lived locker [$b]: 0 overlaps, no error, no deadlock" ;;
	5)
		stalls=$((stalls + 1))
		fail "long-lived locker [$b]: no deadlock (no round ended for $stall s: $(grep -v '^SAMPLE' "$f"))"
		;;
	*) fail "long-lived locker [$b]: ends without overlap or error (status $rc: $(grep -v '^SAMPLE' "$f"))" ;;
	esac
	[ -n "$line" ] || continue
	_field "$line" locks && locks=$((locks + REPLY))
	fds_first=$(field "$line" fds_first) fds_last=$(field "$line" fds_last) fds_max=$(field "$line" fds_max)
	rss_first=$(field "$line" rss_first) rss_last=$(field "$line" rss_last)
	heap_first=$(field "$line" heap_first) heap_last=$(field "$line" heap_last)
	samples=$(field "$line" samples)
	summary_fds="$summary_fds $b $fds_first->$fds_last"
	summary_rss="$summary_rss $b $rss_first->$rss_last KiB"
	summary_heap="$summary_heap $b $heap_first->$heap_last B"
	if [ "${samples:-0}" -lt 2 ]; then
		fail "locker [$b]: at least 2 samples after warm-up (got ${samples:-0}: SOAK_SECONDS too short?)"
		continue
	fi
	if [ "$fds_max" -le "$fds_first" ] && [ "$fds_last" -le "$fds_first" ]; then
		pass "locker [$b]: descriptors flat over $samples samples ($fds_first, at most $fds_max)"
	else
		fail "locker [$b]: descriptors flat (first $fds_first, last $fds_last, max $fds_max)"
	fi
	if [ $((rss_last - rss_first)) -le "$rss_bound_kb" ]; then
		pass "locker [$b]: VmRSS flat ($rss_first -> $rss_last KiB, bound +$rss_bound_kb KiB)"
	else
		fail "locker [$b]: VmRSS flat ($rss_first -> $rss_last KiB, more than +$rss_bound_kb KiB)"
	fi
	if [ $((heap_last - heap_first)) -le "$heap_bound" ]; then
		pass "locker [$b]: heap in use flat ($heap_first -> $heap_last bytes, bound +$heap_bound)"
	else
		fail "locker [$b]: heap in use flat ($heap_first -> $heap_last bytes, more than +$heap_bound)"
	fi
done

# what the shared checker saw (every participant), and what is left held
chk_overlaps=$(od -An -td4 -j16 -N4 "$VMTOOL_CHECKER" 2>/dev/null | tr -d ' ')
chk_held=$(od -An -td4 -N16 "$VMTOOL_CHECKER" 2>/dev/null | tr -s ' ' | sed 's/^ //; s/ $//')
if [ "${chk_overlaps:-x}" = 0 ] && [ "$chk_held" = "0 0 0 0" ]; then
	pass "shared checker: 0 overlaps between any two participants, no holder counted at the end"
else
	fail "shared checker: overlaps ${chk_overlaps:-?}, holders at the end (excl A, shared A, excl B, shared B): ${chk_held:-?}"
fi
why=$(locked_nodes_of $A $B)
if [ -z "$why" ]; then pass "no lock left behind"; else fail "no lock left behind:$why"; fi

echo "# soak summary: duration ${duration} s; stress runs $runs, rounds $rounds; locker locks $locks;" \
	"overlaps ${chk_overlaps:-?}; deadlocks $stalls; fds$summary_fds; RSS$summary_rss; heap$summary_heap"
if [ "$n_fail" = 0 ]; then echo "soak: PASS"; else echo "soak: FAIL"; fi
suite_end
