#!/bin/sh
# Model-check the protocol (tests/model/README.md): every run below is
# spin -a on ddlp.pml with its switches, the pan verifier compiled for an
# exhaustive search (no bitstate, no hash compaction) and run to the end.
# The real model must verify (errors: 0) and each seeded fault must be
# caught, by the property it names.  Prints one line per run; exit 1 when
# any run does not give what it must.
#
# usage: check-model.sh MODEL_SRCDIR WORKDIR [RUN...]
#   RUN: the runs to do (default: all).  From the environment: SPIN, CC,
#   MODEL_JOBS (runs at once, default 2).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
src=${1:?usage: check-model.sh MODEL_SRCDIR WORKDIR [RUN...]}
work=${2:?usage: check-model.sh MODEL_SRCDIR WORKDIR [RUN...]}
shift 2
SPIN=${SPIN:-spin}
CC=${CC:-cc}
jobs=${MODEL_JOBS:-2}
if ! command -v "$SPIN" >/dev/null 2>&1; then
	echo "check-model: spin not found (Debian: apt-get install spin)" >&2
	exit 1
fi
src=$(cd "$src" && pwd) || exit 1
mkdir -p "$work" && work=$(cd "$work" && pwd) || exit 1

# name | spin switches | search | must | seconds (roughly, to share the
# runs out among the jobs)
#   search: safety (assertions, invalid end states) or live (the LTL
#           property "finish" under weak fairness: pan -a -f)
#   must:   pass, or the violation pan must report: a property of
#           ddlp.pml (the name in a failed assertion), invalid-end-state
#           (a process blocked for ever) or finish (an acceptance cycle of
#           the LTL property: somebody never finishes)
runs='
safety-ees       |                                      | safety | pass | 8
safety-ess       | -DMIX_ESS                            | safety | pass | 6
finish-ees       |                                      | live   | pass | 30
finish-ess       | -DMIX_ESS                            | live   | pass | 20
safety-2drives   | -DTWO_DRIVES                         | safety | pass | 8
finish-2drives   | -DTWO_DRIVES                         | live   | pass | 30
events-only      | -DNO_TIMER -DRX=1                    | safety | pass | 15
fault-repeat-once     | -DNO_TIMER -DRX=1 -DFAULT_REPEAT_ONCE | safety | invalid-end-state | 2
fault-no-keep-claim   | -DFAULT_NO_KEEP_CLAIM -DONLY=4  | safety | quiet | 2
fault-no-claim-test   | -DFAULT_NO_CLAIM_TEST -DONLY=7  | safety | claim_head | 2
fault-no-turnstile    | -DFAULT_NO_TURNSTILE -DONLY=4   | safety | quiet | 2
fault-claim-only      | -DFAULT_CLAIM_ONLY -DONLY=1     | safety | mutual_exclusion | 2
fault-no-rollback     | -DFAULT_NO_ROLLBACK -DONLY=5    | safety | waiter_holds_no_lock | 2
fault-no-queue        | -DFAULT_NO_QUEUE -DMIX_ESS -DONLY=2 | safety | writer_preference | 2
fault-no-queue-order  | -DFAULT_NO_QUEUE -DONLY=3       | safety | queue_order | 2
fault-shared-no-queue | -DFAULT_SHARED_NO_QUEUE -DONLY=3 | safety | queue_order | 3
fault-all-heads       | -DFAULT_ALL_HEADS -DONLY=3      | safety | queue_order | 2
fault-file-ticket     | -DFAULT_FILE_TICKET -DONLY=6    | safety | death_releases | 2
fault-file-ticket-finish | -DFAULT_FILE_TICKET -DONLY=99 | live  | finish | 4
fault-unordered       | -DTWO_DRIVES -DFAULT_UNORDERED -DONLY=99 | live | finish | 4
fault-keep-claims     | -DTWO_DRIVES -DFAULT_KEEP_CLAIMS -DONLY=99 | live | finish | 12
fault-no-repeat       | -DNO_TIMER -DRX=1 -DFAULT_NO_REPEAT | safety | invalid-end-state | 2
fault-drain-after     | -DNO_TIMER -DRX=1 -DFAULT_DRAIN_AFTER | safety | invalid-end-state | 2
'

# One run: verify, then write its line to $work/NAME/result and, when it
# does not give what it must, a line to $work/NAME/failed.
run_one() {
	name=$1 flags=$2 search=$3 must=$4
	d=$work/$name
	rm -rf "$d" && mkdir -p "$d" && cp "$src"/*.pml "$d"/ || return 1
	(
		cd "$d" || exit 1
		# the real model's searches are long, most faults' short: -O2
		# pays for its compile time only in the first and in live ones
		opt=-O2
		[ "$must" = pass ] || [ "$search" = live ] || opt=-O0
		# shellcheck disable=SC2086
		if [ "$search" = live ]; then
			"$SPIN" $flags -DLIVE -a ddlp.pml >spin.log 2>&1 &&
			$CC $opt -w -DCOLLAPSE -DMEMLIM=2048 -o pan pan.c >cc.log 2>&1 &&
			./pan -a -f -n -m100000 >pan.log 2>&1
		else
			"$SPIN" $flags -a ddlp.pml >spin.log 2>&1 &&
			$CC $opt -w -DSAFETY -DCOLLAPSE -DMEMLIM=2048 -o pan pan.c >cc.log 2>&1 &&
			./pan -n -m100000 >pan.log 2>&1
		fi
		rm -f pan pan.b pan.c pan.h pan.m pan.p pan.t _spin_nvr.tmp
	)
	log=$d/pan.log
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$log" 2>/dev/null | head -n 1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$log" 2>/dev/null | head -n 1)
	depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$log" 2>/dev/null | head -n 1)
	secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' "$log" 2>/dev/null | head -n 1)
	what=$(grep -m 1 '^pan:1: ' "$log" 2>/dev/null)
	case $what in
	*'assertion violated (('*) got=$(echo "$what" | sed 's/.*assertion violated ((\([a-z_]*\)|.*/\1/') ;;
	*'invalid end state'*) got=invalid-end-state ;;
	*'acceptance cycle'*) got=finish ;;
	'') got=pass ;;
	*) got=other ;;
	esac
	# a search cut short proves nothing (a search that found an error
	# stops there, and says so: that one is fine)
	if [ "$got" = pass ] && grep -q 'max search depth too small\|Search not completed\|out of memory' "$log" 2>/dev/null; then
		got=incomplete
	fi
	if [ -z "$errors" ]; then
		verdict=BROKEN
	elif [ "$must" = pass ] && [ "$errors" = 0 ] && [ "$got" = pass ]; then
		verdict=ok
	elif [ "$must" != pass ] && [ "$errors" != 0 ] && [ "$got" = "$must" ]; then
		verdict=ok
	else
		verdict=FAILED
	fi
	printf '%-25s %-6s must %-20s got %-20s %-6s %9s states  depth %4s  %6ss\n' \
		"$name" "$search" "$must" "$got" "$verdict" "${states:-?}" "${depth:-?}" \
		"${secs:-?}" >"$d/result"
	if [ "$verdict" != ok ]; then
		live=
		[ "$search" = live ] && live=' -DLIVE'
		echo "    (logs in $d; a trail: cd $d && $SPIN -t $flags$live ddlp.pml | grep MSC)" >>"$d/result"
		echo "$name" >"$d/failed"
	fi
}

t0=$(date +%s)
# the runs asked for, shared out among the jobs (each to the job with the
# fewest seconds so far)
names=
i=0
while [ $i -lt "$jobs" ]; do
	: >"$work/.lane$i"
	eval "load$i=0"
	i=$((i + 1))
done
while IFS='|' read -r name flags search must secs; do
	# trim the fields (word splitting, on purpose)
	# shellcheck disable=SC2086,SC2116
	{ name=$(echo $name); flags=$(echo $flags); search=$(echo $search); must=$(echo $must); secs=$(echo $secs); }
	[ -n "$name" ] || continue
	if [ $# -gt 0 ]; then
		hit=0
		for w; do [ "$w" = "$name" ] && hit=1; done
		[ $hit = 1 ] || continue
	fi
	names="$names $name"
	best=0
	i=1
	while [ $i -lt "$jobs" ]; do
		li=0 lb=0
		eval "li=\$load$i; lb=\$load$best"
		[ "$li" -lt "$lb" ] && best=$i
		i=$((i + 1))
	done
	eval "load$best=\$((load$best + secs))"
	echo "$name|$flags|$search|$must" >>"$work/.lane$best"
done <<EOF
$runs
EOF
i=0
while [ $i -lt "$jobs" ]; do
	while IFS='|' read -r name flags search must; do
		run_one "$name" "$flags" "$search" "$must"
	done <"$work/.lane$i" &
	i=$((i + 1))
done
wait
failed=0
for name in $names; do
	if [ -f "$work/$name/result" ]; then
		cat "$work/$name/result"
	else
		echo "$name: no result" && failed=$((failed + 1))
	fi
	[ -f "$work/$name/failed" ] && failed=$((failed + 1))
done
rm -f "$work"/.lane*
echo "check-model: $failed failed, in $(( $(date +%s) - t0 )) s"
[ "$failed" = 0 ]
