# The listings and the users of a drive through ddlp-lock(1): a part of
# tests/test-cli.sh, sourced by it (its fixtures: tool, tmp, dev1, dev2,
# maj, min, the alias nodes; run, expect, jcheck, pass, fail, hold,
# release, wait_file).
#
#   --resolve, --status, --list as tables: the default columns, --output
#   (and +LIST), --output-all, --noheadings, --raw, --json/-J (parsed by
#   python3), names with control characters and invalid UTF-8, the usage
#   errors; the warning of -x about processes that have the drive open
#   without a lock, -q, --wait-unused.

# ---------------------------------------------------------------- --resolve
run --resolve "$dev1"
if [ "$rc" -eq 0 ] && [[ $out == PATH*KIND*MAJ:MIN*EXCL*NAMED*ALIAS*ID* ]] &&
	[[ $out == *"$dev1"*block*"$maj:$min"*claim*named*"block:${dev1#/dev/}"* ]]; then
	pass "--resolve text: a header and one row per node"
else
	fail "--resolve text (rc $rc): $out"
fi
run --json --resolve "$dev1"
jcheck "--resolve --json: keys and values" \
	"set(d) == {'nodes'} and len(d['nodes']) == 1 and d['nodes'][0] == {'path': '$dev1', 'kind': 'block', 'maj:min': '$maj:$min', 'excl': 'claim', 'named': True, 'alias': False, 'id': 'block:${dev1#/dev/}'}"
run -J --resolve "$tmp/alias600"
jcheck "--resolve -J of a mknod alias: canonical node first, then the alias" \
	"[n['path'] for n in d['nodes']] == ['$dev1', '$tmp/alias600'] and d['nodes'][1]['alias'] is True and d['nodes'][1]['named'] is True and d['nodes'][0]['named'] is False"
run -J --output-all --resolve "$dev1"
jcheck "--resolve --output-all: drive and node columns" \
	"set(d['nodes'][0]) == {'device','id','persistent','syspath','nodes','state','holders','holder','holder-pid','users','unlocked','unseen','path','kind','maj:min','excl','named','alias'} and d['nodes'][0]['state'] == 'free' and d['nodes'][0]['syspath'].startswith('/sys/')"
# a name that needs escaping in JSON
ln -s "$dev1" "$tmp/we\"ird\\name"
run --json --output DEVICE,ID --resolve "$tmp/we\"ird\\name"
jcheck "--resolve --json escapes the spec" "d['nodes'][0]['device'] == r'''$tmp/we\"ird\\name'''"

# ------------------------------------------------------------------ --status
run --status "$dev1" "$dev2"
if [ "$rc" -eq 0 ] && [[ $out == DEVICE*STATE*HOLDERS*HOLDER*HOLDER-PID*UNLOCKED* ]] &&
	[ "$(grep -c " free " <<<"$out")" -eq 2 ]; then
	pass "--status of two free drives: the default columns"
else
	fail "--status free (rc $rc): $out"
fi
run --noheadings --output DEVICE,STATE --status "$dev1" "$dev2"
if [ "$out" = "$dev1 free"$'\n'"$dev2 free" ]; then
	pass "--noheadings --output DEVICE,STATE"
else
	fail "--noheadings --output DEVICE,STATE: $(printf '%q' "$out")"
fi
run --noheadings --output state,device --status "$dev1"
if [[ $out =~ ^free\ +$dev1$ ]]; then pass "--output: column names in any case and order"; else fail "--output state,device: $out"; fi
run --raw --output DEVICE,STATE,HOLDERS --status "$dev1"
if [ "$out" = "DEVICE STATE HOLDERS"$'\n'"$dev1 free 0" ]; then pass "--raw"; else fail "--raw: $(printf '%q' "$out")"; fi
run --raw --noheadings --output +ID --status "$dev1"
if [[ $out == "$dev1 free 0  "*" block:${dev1#/dev/}" ]]; then
	pass "--output +ID: the defaults, then ID"
else
	fail "--output +ID: $(printf '%q' "$out")"
fi
run --json --status "$dev1" "$tmp/nonexistent"
if [ "$rc" -eq 66 ] && [[ $err == *"$tmp/nonexistent"* ]]; then
	pass "--status with one missing device: 66, named on stderr"
else
	fail "--status with a missing device: rc $rc, $err"
fi
jcheck "--status --json: the default columns, the missing device left out" \
	"len(d['drives']) == 1 and list(d['drives'][0]) == ['device','state','holders','holder','holder-pid','unlocked'] and d['drives'][0]['state'] == 'free' and d['drives'][0]['holder-pid'] is None and nn(d['drives'][0]['unlocked']) == []"
run -J --output-all --status "$dev1"
jcheck "--status -J --output-all: every drive column, typed" \
	"list(d['drives'][0]) == ['device','id','persistent','syspath','nodes','state','holders','holder','holder-pid','users','unlocked','unseen'] and d['drives'][0]['nodes'] == ['$dev1'] and d['drives'][0]['holders'] == 0 and d['drives'][0]['unseen'] == 0 and nn(d['drives'][0]['users']) == []"

# usage errors of the output options
run --status --output BOGUS "$dev1"
expect "--output with an unknown column: 64" 64 "unknown column 'BOGUS'"
run --status --output PATH "$dev1"
expect "a node column with --status: 64" 64 "PATH" "--resolve"
run --list --output ""
expect "--output with an empty list: 64" 64 "--output"
run --status -o "$dev1"
expect "-o (--close) with --status: 64" 64 "-o is --close" "--output"
run --json --raw --status "$dev1"
expect "--json with --raw: 64" 64 "--json" "--raw"
run --raw "$dev1" true
expect "--raw when locking: 64" 64 "--raw"
run --wait-unused --status "$dev1"
expect "--wait-unused with --status: 64" 64 "--wait-unused"
run --wait-unused=abc "$dev1" true
expect "--wait-unused with a malformed time: 64" 64 "--wait-unused" "abc"

# names with control characters and bytes that are not UTF-8: escaped in
# the text output, exact (invalid bytes as U+FFFD) in JSON
odd=$tmp/$'odd\e[31m\n\tname'
ln -s "$dev1" "$odd"
run --noheadings --output DEVICE --status "$odd"
if [ "$rc" -eq 0 ] && [ "$out" = "$tmp/odd\\x1b[31m\\x0a\\x09name" ]; then
	pass "--status text: control characters in a name shown as \\xHH"
else
	fail "--status text of an odd name: $(printf '%q' "$out")"
fi
run --raw --noheadings --output DEVICE --status "$odd"
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 1 ] && ! grep -qaP '[\x00-\x09\x0b-\x1f\x7f]' "$tmp/out"; then
	pass "--raw: one line, no raw control character"
else
	fail "--raw of an odd name: $(printf '%q' "$out")"
fi
run --json --output DEVICE --status "$odd"
jcheck "--json: a name with control characters, exact" "d['drives'][0]['device'] == '''$tmp/odd\\x1b[31m\\n\\tname'''"
bad=$tmp/$'bad\xff\xfename'
ln -s "$dev1" "$bad"
run --json --output DEVICE --status "$bad"
jcheck "--json: bytes that are not UTF-8 as U+FFFD" "d['drives'][0]['device'] == '''$tmp/bad\\ufffd\\ufffdname'''"

# -------------------------------------------------------------------- --list
optical=0
for t in /sys/bus/scsi/devices/*/type; do
	[ -e "$t" ] || continue
	[ "$(cat "$t" 2>/dev/null)" = 5 ] && optical=$((optical + 1))
done
run --list
if [ "$optical" -eq 0 ]; then
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then pass "--list with no optical drive: nothing, exit 0"; else fail "--list (rc $rc): $out"; fi
else
	if [ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq $((optical + 1)) ]; then pass "--list with $optical optical drive(s)"; else fail "--list (rc $rc): $out"; fi
fi
run --json --list
if [ "$rc" -eq 0 ]; then pass "--list --json: exit 0"; else fail "--list --json: rc $rc"; fi
if [ "$optical" -eq 0 ]; then
	jcheck "--list --json with no optical drive: an empty list" "d == {'drives': []}"
else
	jcheck "--list --json: one entry per drive, with the default columns" \
		"len(d['drives']) == $optical and all(list(x) == ['id','persistent','nodes','state','holder','holder-pid','unlocked'] for x in d['drives'])"
fi
run --list --output-all --raw --noheadings
if [ "$rc" -eq 0 ]; then pass "--list --output-all --raw --noheadings: exit 0"; else fail "--list --output-all --raw: rc $rc $err"; fi

# ------------------------------------------ a drive open without a lock
# sleep keeps the loop device open (a plain open, no lock), as blkid or a
# player would
start_opener() {
	sleep 600 <"$1" &
	opener=$!
	bg_pids+=("$opener")
	# (it has the node open once the shell has redirected its stdin)
	for ((i = 0; i < 600; i++)); do
		[ "$(readlink "/proc/$opener/fd/0")" = "$1" ] && [ "$(cat "/proc/$opener/comm")" = sleep ] && return 0
		sleep 0.05
	done
	fail "the opener did not start"
}
stop_opener() {
	kill "$opener"
	wait "$opener"
}
start_opener "$tmp/alias600"
run -J --output DEVICE,USERS,UNLOCKED --status "$dev1"
jcheck "--status: the opener through an alias, without a lock" \
	"d['drives'][0]['users'] == ['sleep[$opener] none $tmp/alias600'] and d['drives'][0]['unlocked'] == ['sleep[$opener]']"
run -x "$dev1" true
expect "-x warns about the process that has the drive open without a lock" 0 \
	"ddlp-lock: warning: $dev1 is open by sleep (pid $opener), which holds no lock"
run -q -x "$dev1" true
if [ "$rc" -eq 0 ] && [ -z "$err" ]; then pass "-q: no warning"; else fail "-q -x with an opener: rc $rc, $err"; fi
run -s "$dev1" true
if [ "$rc" -eq 0 ] && [ -z "$err" ]; then pass "-s: no warning (shared)"; else fail "-s with an opener: rc $rc, $err"; fi
run --wait-unused=0.2 "$dev1" touch "$tmp/wu.ran"
expect "--wait-unused=0.2 while it stays open: the conflict code" 1 \
	"$dev1: still open by sleep (pid $opener) after"
if [ ! -e "$tmp/wu.ran" ]; then pass "... and the command did not run"; else fail "--wait-unused ran the command"; fi
run -n "$dev1" true
expect "... and the lock was released" 0
run -q -E 7 --wait-unused=0 "$dev1" true
if [ "$rc" -eq 7 ] && [ -z "$err" ]; then pass "--wait-unused=0 -q -E 7: 7, silent"; else fail "--wait-unused=0 -q -E 7: rc $rc, $err"; fi
# without a limit: the command runs once the opener has closed
rm -f "$tmp/wu.ready"
"$tool" --wait-unused "$dev1" sh -c "[ \"\$(readlink /proc/$opener/fd/0)\" = '$tmp/alias600' ] && exit 3; exit 0" &
wpid=$!
bg_pids+=("$wpid")
# (it is waiting, or about to: the opener closes now)
sleep 0.2
stop_opener
wait "$wpid"
wrc=$?
if [ "$wrc" -eq 0 ]; then
	pass "--wait-unused: the command ran after the opener had closed the drive"
else
	fail "--wait-unused without a limit: exit $wrc (3: the opener was still there)"
fi
run -x "$dev1" true
expect "no warning once nobody else has it open" 0

# ------------------------------------------------------- the bash completion
# knows the columns that --help lists, and completes a list of them
comp=${abs_top_srcdir:-$(dirname "$0")/..}/completion/ddlp-lock.bash
helpcols=$("$tool" --help | awk '/^Columns/ { on = 1; next } on && NF == 0 { on = 0 } on { print $1 }' | sort | paste -sd' ')
compcols=$(bash -c ". '$comp'; echo \$_ddlp_lock_drive_columns \$_ddlp_lock_node_columns" | tr ' ' '\n' | sort | paste -sd' ')
if [ -n "$helpcols" ] && [ "$helpcols" = "$compcols" ]; then
	pass "bash completion: the columns of --help ($helpcols)"
else
	fail "bash completion: columns '$compcols', --help lists '$helpcols'"
fi
got=$(bash -c ". '$comp'; COMP_WORDS=(ddlp-lock --status --output DEVICE,ho); COMP_CWORD=3; _ddlp_lock; printf '%s ' \"\${COMPREPLY[@]}\"")
if [ "$got" = "DEVICE,HOLDERS DEVICE,HOLDER DEVICE,HOLDER-PID " ]; then
	pass "bash completion: --output DEVICE,ho"
else
	fail "bash completion of --output DEVICE,ho: '$got'"
fi
