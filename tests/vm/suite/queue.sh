#!/bin/bash
# The lock that comes, on a real drive (doc/ddlp.txt, section 7), through
# ddlp-lock: shared holders whose holds overlap by construction (each next
# reader starts while the previous one holds) do not keep a waiting
# exclusive request out; shared requests that come while it waits are
# served after it; exclusive requests are served in the order they began
# to wait; a waiter killed while queued blocks nobody.  Run in both
# backends.  Every wait here is bounded only so that a failure cannot
# hang the run; nothing asserts a duration.
. "$(dirname "$0")/lib.sh"
suite_begin queue "${DDLP_LOCK_BACKEND:+[$DDLP_LOCK_BACKEND] }"

DEV=/dev/sr0
DL=$VMSUITE_BUILDDIR/src/ddlp-lock
LOG=$W/order
declare -A qpid

# run_holder NAME MODE: ddlp-lock in MODE whose command logs NAME when it
# has the drive and holds it until $W/go.NAME exists
run_holder() {
	local name=$1 mode=$2
	"$DL" "-$mode" -w 60 --no-reprobe "$DEV" sh -c \
		"echo $name >>$LOG; while [ ! -e $W/go.$name ]; do sleep 0.05; done" \
		>"$W/$name.out" 2>&1 </dev/null &
	qpid[$name]=$!
}
let_go() { touch "$W/go.$1"; }
finish() { # NAME -> its status
	wait "${qpid[$1]}"
}
# until the log has N lines (bounded)
logged() {
	local i
	for i in $(seq 600); do
		[ -e "$LOG" ] && [ "$(wc -l <"$LOG")" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
# until a shared try is refused while only readers hold the drive: an
# exclusive request waits (bounded)
queued() {
	local i
	for i in $(seq 600); do
		"$DL" -n -s --no-reprobe "$DEV" true >/dev/null 2>&1 </dev/null || return 0
		sleep 0.05
	done
	return 1
}
nth() { sed -n "$1p" "$LOG"; }

writer_vs_readers() { # N
	local n=$1 i what="$1 overlapping readers"
	rm -f "$LOG" "$W"/go.*
	for i in $(seq "$n"); do
		run_holder "r$i" s
		logged "$i" || { fail "$what: reader $i did not get the drive"; return; }
	done
	run_holder w x
	if ! queued; then
		fail "$what: the exclusive request never queued"
		return
	fi
	pass "$what: a shared try is refused while an exclusive request waits"
	for i in $(seq "$n"); do run_holder "late$i" s; done
	sleep 0.5
	check "$what: no late reader came in before the writer" [ "$(wc -l <"$LOG")" = "$n" ]
	for i in $(seq "$n"); do let_go "r$i"; finish "r$i"; done
	logged $((n + 1)) || { fail "$what: nobody got the drive after the readers"; return; }
	check "$what: the writer is next ($(nth $((n + 1))))" [ "$(nth $((n + 1)))" = w ]
	let_go w
	finish w
	check "$what: the writer ended well" [ $? = 0 ]
	for i in $(seq "$n"); do let_go "late$i"; done
	for i in $(seq "$n"); do finish "late$i"; done
	check "$what: then every late reader ($(tr '\n' ' ' <"$LOG"))" [ "$(wc -l <"$LOG")" = $((2 * n + 1)) ]
}
writer_vs_readers 2
writer_vs_readers 4

# exclusive requests in the order they began to wait
rm -f "$LOG" "$W"/go.*
run_holder h x
logged 1
for i in 1 2 3; do
	run_holder "x$i" x
	sleep 0.3 # (only so that the order of arrival is known)
done
let_go h
finish h
for i in 1 2 3; do
	logged $((i + 1)) || break
	let_go "x$i"
	finish "x$i"
done
check "exclusive requests served in their order ($(tr '\n' ' ' <"$LOG"))" \
	[ "$(tr '\n' ' ' <"$LOG")" = "h x1 x2 x3 " ]

# a waiter killed while it holds the claim (waiting for a reader), and one
# killed while queued behind an exclusive holder
rm -f "$LOG" "$W"/go.*
run_holder r s
logged 1
run_holder w x
queued || fail "the exclusive request never queued"
kill -9 "${qpid[w]}"
wait "${qpid[w]}" 2>/dev/null
"$DL" -n -s --no-reprobe "$DEV" true >/dev/null 2>&1 </dev/null
check "a killed exclusive waiter (claim kept) blocks no reader" [ $? = 0 ]
let_go r
finish r
run_holder h x
logged 2
run_holder w2 x
sleep 0.5
kill -9 "${qpid[w2]}"
wait "${qpid[w2]}" 2>/dev/null
let_go h
finish h
"$DL" -n -x --no-reprobe "$DEV" true >/dev/null 2>&1 </dev/null
check "a killed queued exclusive waiter leaves nothing queued" [ $? = 0 ]

suite_end
