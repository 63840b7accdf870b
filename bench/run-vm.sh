#!/bin/bash
# Run bench/ddlp-bench in the test VM (tests/vm/vm-run) for several numbers
# of scsi_debug drives, with scsi_debug's default command delay and with
# delay=0, and write one Markdown file with every table and a summary
# against the targets of issue 7.
#
#   bench/run-vm.sh --full    1, 8, 32, 64 drives x (default delay, delay=0),
#                             every section at full length;
#                             -> bench/results/YYYY-MM-DD-vm-full-COMMIT.md
#   bench/run-vm.sh --short   1 and 64 drives, default delay, fewer rounds,
#                             2 s contention, shorter waits (what CI runs:
#                             `make bench-short`); the waiter table, writer
#                             preference and the listings (sections 8, 9, 10)
#                             in the first VM only;
#                             -> bench/out/YYYY-MM-DD-vm-short-COMMIT.md, and stdout
#
# Options: --drives "1 8" --delays "default 0" --out FILE --bench-args "..."
#          --timeout S (per VM, default 1500 full, 420 short)
# Environment: BENCH_BUILDDIR (the build tree, default the source tree),
# DDLP_VM_* as for vm-run (DDLP_VM_REQUIRE=1 in CI).
#
# Exit status: 0; 1 when a benchmark run broke (a lock error, an overlap, a
# tool that failed) or a VM failed; 77 when the VM cannot run here.  Nothing
# about time is asserted.
set -u

top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BENCH_BUILDDIR:-$top_srcdir}
mode=full drives= delays= out= bench_args= timeout= later_args=
while [ $# -gt 0 ]; do
	case $1 in
	--full) mode=full ;;
	--short) mode=short ;;
	--drives) drives=$2; shift ;;
	--delays) delays=$2; shift ;;
	--out) out=$2; shift ;;
	--bench-args) bench_args=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run-vm.sh: unknown option $1" >&2; exit 64 ;;
	esac
	shift
done
head_short=$(git -C "$top_srcdir" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$mode" = full ]; then
	: "${drives:=1 8 32 64}" "${delays:=default 0}" "${timeout:=1500}"
	: "${out:=$top_srcdir/bench/results/$(date +%F)-vm-full-$head_short.md}"
	later_args="--skip guard" # does not depend on the number of drives
else
	: "${drives:=1 64}" "${delays:=default}" "${timeout:=420}"
	: "${out:=$builddir/bench/out/$(date +%F)-vm-short-$head_short.md}"
	bench_args="--short $bench_args"
	later_args="--skip waiters,writer,listing,guard" # CI exercises them once
fi

vmrun=$top_srcdir/tests/vm/vm-run
[ -x "$vmrun" ] || { echo "run-vm.sh: $vmrun missing" >&2; exit 99; }
[ -x "$builddir/bench/ddlp-bench" ] || { echo "run-vm.sh: build bench/ddlp-bench first (make bench)" >&2; exit 99; }

# The binaries are copied out of the build tree first: others may rebuild
# it while a VM runs (the guest caches host files).  ddlp-lock is libtool's
# wrapper script in the build tree; run it once so that the real binary is
# in place, and take that binary with the shared library beside it.
"$builddir/src/ddlp-lock" --version >/dev/null || { echo "run-vm.sh: src/ddlp-lock does not run" >&2; exit 99; }
work=$builddir/bench/out/run-$(date +%Y%m%d-%H%M%S)-$$
snap=$work/bin
mkdir -p "$snap" "$(dirname "$out")" || exit 99
trap 'rm -rf "$work"' EXIT
bench_bin=$builddir/bench/ddlp-bench
if head -c 2 "$bench_bin" | grep -q '#!'; then # a libtool wrapper after all
	bench_bin=$builddir/bench/.libs/ddlp-bench
	[ -x "$builddir/bench/.libs/lt-ddlp-bench" ] && bench_bin=$builddir/bench/.libs/lt-ddlp-bench
fi
lock_bin=$builddir/src/.libs/ddlp-lock
[ -x "$builddir/src/.libs/lt-ddlp-lock" ] && lock_bin=$builddir/src/.libs/lt-ddlp-lock
cp "$bench_bin" "$snap/ddlp-bench" && cp "$lock_bin" "$snap/ddlp-lock" &&
	cp -P "$builddir"/lib/.libs/libddlp.so* "$snap/" || exit 99
# ddlp-guard and its library (section 10), when built
guard_args=()
"$builddir/src/ddlp-guard" --version >/dev/null 2>&1
guard_bin=$builddir/src/.libs/ddlp-guard
[ -x "$builddir/src/.libs/lt-ddlp-guard" ] && guard_bin=$builddir/src/.libs/lt-ddlp-guard
if [ -x "$guard_bin" ] && [ -e "$builddir/lib/guard/.libs/libddlp-guard.so" ]; then
	cp "$guard_bin" "$snap/ddlp-guard" && cp "$builddir/lib/guard/.libs/libddlp-guard.so" "$snap/" || exit 99
	guard_args=(--guard "$snap/ddlp-guard" --guard-preload "$snap/libddlp-guard.so")
fi

commit=$(git -C "$top_srcdir" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$top_srcdir" status --porcelain -- lib src include 2>/dev/null | wc -l)
[ "$dirty" -gt 0 ] && commit="$commit (+ $dirty uncommitted changes in lib/ src/ include/)"

t_all=$(date +%s)
status=0 ran=0 skipped=0
runs=()
for k in $drives; do
	for d in $delays; do
		name="k$k-delay$d"
		dir=$work/$name
		mkdir -p "$dir"
		vmopts=(--cd 0 --scsi-debug "$k" --timeout "$timeout" --out "$dir"
			--env "LD_LIBRARY_PATH=$snap" --host-dir "$builddir")
		[ "$d" = default ] || vmopts+=(--scsi-debug-opts "delay=$d")
		title="$k scsi_debug drive$([ "$k" = 1 ] || echo s), delay=$d"
		more=
		[ ${#runs[@]} -gt 0 ] && more=$later_args
		echo "== $title ($(date +%T), host load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
		host_load0=$(cut -d' ' -f1-3 /proc/loadavg)
		t0=$(date +%s)
		# shellcheck disable=SC2086
		"$vmrun" "${vmopts[@]}" -- /bin/sh -c \
			'exec "$0" "$@" --md "$VM_OUT/table.md" --kv "$VM_OUT/figures.kv"' \
			"$snap/ddlp-bench" --ddlp-lock "$snap/ddlp-lock" "${guard_args[@]}" --title "$title" $bench_args $more \
			>"$dir/stdout" 2>"$dir/stderr"
		rc=$?
		t1=$(date +%s)
		host_load1=$(cut -d' ' -f1-3 /proc/loadavg)
		echo "   exit $rc after $((t1 - t0)) s (host load $host_load1)" >&2
		{
			echo "vm_seconds=$((t1 - t0))"
			echo "vm_exit=$rc"
			echo "host_load_start=$host_load0"
			echo "host_load_end=$host_load1"
		} >>"$dir/figures.kv"
		case $rc in
		0) ran=$((ran + 1)) ;;
		77) skipped=$((skipped + 1)); cat "$dir/stdout" >&2 ;;
		*)
			status=1
			echo "   run-vm.sh: the run failed; its stderr:" >&2
			tail -n 30 "$dir/stderr" >&2
			;;
		esac
		[ "$mode" = short ] && cat "$dir/table.md" 2>/dev/null
		runs+=("$name")
	done
done
t_total=$(($(date +%s) - t_all))
if [ "$ran" = 0 ] && [ "$skipped" -gt 0 ] && [ "$status" = 0 ]; then
	echo "SKIP: the VM cannot run here" >&2
	exit 77
fi

# ------------------------------------------------------------------ #
# The results file
# ------------------------------------------------------------------ #
get() { sed -n "s/^$2=//p" "$work/$1/figures.kv" 2>/dev/null | tail -n 1; }
# "64 drives, delay=0" for k64-delay0
label() { local k=${1%%-*} d=${1#*-delay}; k=${k#k}; echo "$k drive$([ "$k" = 1 ] || echo s), delay=$d"; }
# ratio A/B with 2 decimals, or "-"
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a != "-" && a != "inf" && a + 0 <= b + 0) }'; }
mark() { if le "$1" "$2"; then echo met; else echo "**missed**"; fi; }

{
	echo "# ddlp-bench in the test VM, $(date '+%Y-%m-%d %H:%M %Z') ($mode)"
	echo
	kern=$(get "${runs[0]}" kernel)
	echo "- libddlp commit $commit; kernel ${kern:-?} under qemu TCG (tests/vm/vm-run, 2 vCPUs); host: $(nproc) cores shared with other jobs"
	echo "- drives: \`--cd 0 --scsi-debug K\` (scsi_debug ptype=5), target the last one; delays: $delays; bench arguments: ${bench_args:-none}"
	echo "- wall time of the whole run: $t_total s"
	echo "- absolute times in this VM are not stable (TCG, shared host): compare ratios from one run"
	echo
	echo "## Summary"
	echo
	echo "| drives, delay | lock+unlock p50 | floor p50 | ratio | syscalls lock (floor) | resolution p50 (block; H:C:T:L) | foreign opens | cmds others / target (floor) | hand-off p50 / p99: lib; cli | waiter CPU lib; cli | contention max/min, overlaps | tool / flock | VM s, load, getppid ns |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for r in "${runs[@]}"; do
		printf '| %s, %s | %s | %s | %s | %s (%s) | %s; %s | %s | %s / %s (%s) | %s / %s; %s / %s | %s%%; %s%% | %s, %s | %s | %s s, %s, %s |\n' \
			"$(get "$r" drives)" "${r#*-delay}" "$(get "$r" lock_p50_ms)" "$(get "$r" floor_p50_ms)" \
			"$(get "$r" lock_floor_ratio)" "$(get "$r" sys_lock)" "$(get "$r" sys_floor)" \
			"$(get "$r" res_block_p50_ms)" "$(get "$r" res_hctl_p50_ms)" "$(get "$r" foreign_opens)" \
			"$(get "$r" cmds_others_lib)" "$(get "$r" cmds_target_lib)" "$(get "$r" cmds_target_floor)" \
			"$(get "$r" handoff_lib_p50_ms)" "$(get "$r" handoff_lib_p99_ms)" \
			"$(get "$r" handoff_cli_p50_ms)" "$(get "$r" handoff_cli_p99_ms)" \
			"$(get "$r" waitcpu_lib_pct)" "$(get "$r" waitcpu_cli_steady_pct)" \
			"$(get "$r" cont_ratio)" "$(get "$r" cont_overlaps)" "$(get "$r" tool_ratio)" \
			"$(get "$r" vm_seconds)" "$(get "$r" load_start)" "$(get "$r" cal_syscall_ns)"
	done
	echo
	echo "## Against the targets of issue 7"
	echo
	echo "| target | figures | |"
	echo "|---|---|---|"
	for d in $delays; do
		lim=1.2
		[ "$d" = 0 ] && lim=3
		for k in $drives; do
			r="k$k-delay$d"
			case " $drives " in *" 1 "*) ;; *) continue ;; esac
			[ "$k" = 1 ] || [ "$k" = 64 ] || continue
			v=$(get "$r" lock_floor_ratio)
			echo "| lock+unlock <= ${lim}x floor, $(label "$r") | ${v:-?}x back to back ($(get "$r" lock_p50_ms) / $(get "$r" floor_p50_ms) ms); on an idle drive $(get "$r" iso_ratio)x ($(get "$r" iso_lock_p50_ms) / $(get "$r" iso_floor_p50_ms) ms) | $(mark "$v" "$lim") |"
		done
	done
	for r in "${runs[@]}"; do
		v=$(get "$r" sys_lock)
		case $r in k1-delay*|k64-delay*) ;; *) continue ;; esac
		echo "| <= 150 system calls per lock+unlock, $(label "$r") | ${v:-?} (floor $(get "$r" sys_floor)) | $(mark "$v" 150) |"
	done
	for d in $delays; do
		a="k1-delay$d" b="k64-delay$d"
		[ -f "$work/$a/figures.kv" ] && [ -f "$work/$b/figures.kv" ] || continue
		v=$(div "$(get "$b" lock_p50_ms)" "$(get "$a" lock_p50_ms)")
		vs=$(div "$(get "$b" lock_minus_floor_ms)" "$(get "$a" lock_minus_floor_ms)")
		vr=$(div "$(get "$b" res_block_p50_ms)" "$(get "$a" res_block_p50_ms)")
		cr=$(div "$(get "$b" cal_syscall_ns)" "$(get "$a" cal_syscall_ns)")
		vrn=$(div "$vr" "$cr")
		echo "| 64-drive cost <= 1.1x 1-drive cost, delay=$d | lock+unlock ${v}x (two VMs); libddlp-floor ${vs}x; resolution ${vr}x, ${vrn}x after dividing by the VMs' speed (getppid ${cr}x); syscalls $(get "$b" sys_lock) vs $(get "$a" sys_lock) | $(mark "$v" 1.1) |"
	done
	for r in "${runs[@]}"; do
		fo=$(get "$r" foreign_opens) co=$(get "$r" cmds_others_lib)
		ct=$(get "$r" cmds_target_lib) cf=$(get "$r" cmds_target_floor)
		ok=met
		{ [ "$fo" = 0 ] && le "$co" 0 && le "$ct" "$cf"; } || ok="**missed**"
		echo "| 0 foreign nodes, 0 commands to others, target <= floor: $(label "$r") | $fo nodes, $co to others, $ct to the target (floor $cf) | $ok |"
	done
	for r in "${runs[@]}"; do
		base=$(get "$r" handoff_base_ms)
		hl=$(get "$r" handoff_lib_p50_ms) hc=$(get "$r" handoff_cli_p50_ms)
		[ -n "$hl$hc" ] || continue
		ok=met
		{ le "$hl" "$base" && { [ -z "$hc" ] || le "$hc" "$base"; }; } || ok="**missed**"
		echo "| hand-off p50 <= one lock+unlock ($base ms): $(label "$r") | library $hl ms (p99 $(get "$r" handoff_lib_p99_ms), $(get "$r" handoff_lib_slow) of $(get "$r" handoff_lib_n) >= 400 ms); ddlp-lock -w ${hc:--} ms (p99 $(get "$r" handoff_cli_p99_ms), $(get "$r" handoff_cli_slow) of $(get "$r" handoff_cli_n) >= 400 ms) | $ok |"
	done
	for r in "${runs[@]}"; do
		wl=$(get "$r" waitcpu_lib_pct) wc=$(get "$r" waitcpu_cli_steady_pct)
		[ -n "$wl$wc" ] || continue
		ok=met
		{ le "$wl" 1 && { [ -z "$wc" ] || le "$wc" 1; }; } || ok="**missed**"
		echo "| waiter CPU <= 1% of its wait: $(label "$r") | ddlp_lock() whole call ${wl}% (waiting phase $(get "$r" waitcpu_lib_steady_pct)%); ddlp-lock -w waiting phase ${wc:--}% | $ok |"
	done
	for r in "${runs[@]}"; do
		cr=$(get "$r" cont_ratio) ov=$(get "$r" cont_overlaps)
		[ -n "$cr" ] || continue
		ok=met
		{ le "$cr" 2 && [ "$ov" = 0 ]; } || ok="**missed**"
		echo "| contention max/min <= 2, 0 overlaps: $(label "$r") | $(get "$r" cont_max)/$(get "$r" cont_min) = $cr, $ov overlaps, $(get "$r" cont_locks_per_s) locks/s | $ok |"
	done
	for r in "${runs[@]}"; do
		tr=$(get "$r" tool_ratio)
		[ -n "$tr" ] || continue
		echo "| ddlp-lock DEV true <= 1.3x flock DEV true: $(label "$r") | ${tr}x ($(get "$r" tool_ddlp_p50_ms) / $(get "$r" tool_flock_p50_ms) ms; --no-reprobe $(get "$r" tool_ratio_norep)x; udevadm lock $(get "$r" tool_udevadm_p50_ms) ms) | $(mark "$tr" 1.3) |"
	done
	if grep -qs '^waiters_n=\|^writer_1_rounds=' "$work"/*/figures.kv; then
		echo
		echo "## Against the targets of issues 11 and 12 (sections 8 and 9)"
		echo
		echo "| target | figures | |"
		echo "|---|---|---|"
	fi
	for r in "${runs[@]}"; do
		n=$(get "$r" waiters_n)
		[ -n "$n" ] || continue
		mc=$(get "$r" waiters_max_cmds) cpu=$(get "$r" waiters_max_cpu_pct)
		try=$(get "$r" waiters_try_max_cmds)
		echo "| a waiter sends the drive at most one open's commands (4) over its wait: $(label "$r") | most ${mc:-?} in one of $n waits of $(get "$r" waiters_ms) ms ($(get "$r" waiters_max_cmds_per_s)/s; $(get "$r" waiters_total_cmds) in all; $(get "$r" waiters_taken) took the drive); one refused try: most ${try:-- (none refused)}; control windows $(get "$r" waiters_control_cmds) | $(mark "$mc" 4) |"
		if [ -n "$cpu" ]; then
			echo "| waiter CPU <= 1% of its wait, every holder kind: $(label "$r") | most ${cpu}% (while it waits) | $(mark "$cpu" 1) |"
		else
			echo "| waiter CPU <= 1% of its wait, every holder kind: $(label "$r") | no wait timed out | |"
		fi
	done
	for r in "${runs[@]}"; do
		[ -n "$(get "$r" writer_1_rounds)" ] || continue
		line= ok=met
		ho=$(get "$r" writer_handoff_ms)
		for n in 1 2 4 8; do
			to=$(get "$r" "writer_${n}_timeouts") mx=$(get "$r" "writer_${n}_max_ms")
			hm=$(get "$r" "writer_${n}_hold_max_ms")
			p50=$(get "$r" "writer_${n}_p50_ms")
			line="$line${line:+; }$n: p50 ${p50:--}, max ${mx:--}, timed out $to/$(get "$r" "writer_${n}_rounds"), hold $hm"
			lim=$(awk -v a="$hm" -v b="$ho" 'BEGIN { print a + b }')
			{ [ "$to" = 0 ] && [ -n "$ho" ] && le "$mx" "$lim"; } || ok="**missed**"
		done
		[ -n "$ho" ] || ok=
		echo "| exclusive waiter among 1, 2, 4, 8 overlapping readers <= longest hold + one hand-off (${ho:-?} ms): $(label "$r") | $line (ms) | $ok |"
	done
	echo
	echo "## The runs"
	echo
	for r in "${runs[@]}"; do
		if [ -s "$work/$r/table.md" ]; then
			sed 's/^### /### /' "$work/$r/table.md"
		else
			echo "### $r: no table (VM exit $(get "$r" vm_exit))"
			echo
			echo '```'
			tail -n 20 "$work/$r/stderr"
			echo '```'
			echo
		fi
		echo "- VM: $(get "$r" vm_seconds) s including boot; host load $(get "$r" host_load_start) before, $(get "$r" host_load_end) after"
		grep -h '^ddlp-bench: FAILED' "$work/$r/stderr" 2>/dev/null | sed 's/^/- /'
		echo
	done
} >"$out"
echo "run-vm.sh: $out ($t_total s)" >&2
[ "$mode" = short ] && sed -n '/^## Summary/,/^## The runs/p' "$out" | sed '$d'
exit "$status"
