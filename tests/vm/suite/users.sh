#!/bin/bash
# The users of a drive on real sr, sg and bsg nodes, through ddlp-lock(1)
# (ddlp_users_new(), ddlp_users_wait_unused(), the inheritable lock):
#
#   - a plain opener through each node and each mknod alias (sr, sg, bsg)
#     is found whichever name of the drive is asked about;
#   - a plain opener, a flock holder, an OFD holder and a DDLP holder at
#     once, told apart;
#   - -x warns about a process that has the drive open without a lock (-q
#     does not), --wait-unused waits until it has closed it;
#   - kill -9 of ddlp-lock: the command keeps the drive exclusive until it
#     ends, then it is free; with -o it is free at once;
#   - under an exclusive lock the command cannot open the sg node (EBUSY
#     with O_NONBLOCK), with or without -o.
#
#   users.sh [DRIVE]      (default sr0)
. "$(dirname "$0")/lib.sh"
suite_begin users

A=${1:-sr0}
TOOL=$VMSUITE_BUILDDIR/src/ddlp-lock
# the program itself, not libtool's wrapper script (a shell that costs a
# second per run under TCG)
if [ -x "$VMSUITE_BUILDDIR/src/.libs/ddlp-lock" ] && [ -d "$VMSUITE_BUILDDIR/lib/.libs" ]; then
	TOOL=$VMSUITE_BUILDDIR/src/.libs/ddlp-lock
	export LD_LIBRARY_PATH=$VMSUITE_BUILDDIR/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
if ! [ -b "/dev/$A" ] || ! [ -x "$TOOL" ] || ! command -v python3 >/dev/null; then
	fail "users: /dev/$A, $TOOL and python3 exist"
	suite_end
	exit
fi
sgA=$(sg_of "$A") bsgA=$(bsg_of "$A") hA=$(hctl_of "$A")
aliasA=$(make_alias "/dev/$A")
aliasSg=$(make_alias "/dev/$sgA")
aliasBsg=$(make_alias "/dev/$bsgA")
specs=("/dev/$A" "/dev/$sgA" "/dev/$bsgA" "$hA" "$aliasA" "$aliasBsg")
[ -L /dev/cdrom ] && [ "$(readlink -f /dev/cdrom)" = "/dev/$A" ] && specs+=(/dev/cdrom)
NR=--no-reprobe

# A holder in python (the plain openers are ddlp-vmtool open): open PATH
# (O_RDONLY|O_NONBLOCK), take LOCK (flock-sh, flock-ex, ofd-rd), print
# OPEN, keep it until stdin ends.
pyhold='import fcntl, os, struct, sys
path, how = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
if how == "flock-sh":
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
elif how == "flock-ex":
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
elif how == "ofd-rd":
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhxxxxqqixxxx", fcntl.F_RDLCK, 0, 0, 0, 0))
print("OPEN", flush=True)
sys.stdin.read()'

# users_check WHAT PYTHON-EXPR ARGS...: ddlp-lock -J --status --output
# DEVICE,USERS,STATE ARGS now; the check later, by users_verify (one
# python for all of them: each start of python costs a second under TCG).
# In PYTHON-EXPR, rows: the list of rows; u(row): the row's users without
# nulls; us(row): them as a set of (NAME[PID], LOCK, set of nodes), and
# us(list): the same of a list of such strings.
n_checks=0
users_check() {
	local what=$1 expr=$2
	shift 2
	n_checks=$((n_checks + 1))
	"$TOOL" -J --status --output DEVICE,USERS,STATE "$@" >"$W/uc.$n_checks" 2>&1
	printf '%s\t%s\t%s\n' "$what" "$expr" "$W/uc.$n_checks" >>"$W/uc.list"
}
users_verify() {
	local verdict what
	[ -s "$W/uc.list" ] || return 0
	while IFS=$'\t' read -r verdict what; do
		case $verdict in PASS) pass "$what" ;; *) fail "$what" ;; esac
	done < <(python3 -c 'import json, sys
def u(r): return [x for x in r["users"] if x is not None]
def one(x):
    a = x.split(" ", 2)
    return (a[0], a[1], frozenset(a[2].split(",")))
def us(r): return set(map(one, u(r) if isinstance(r, dict) else r))
for line in open(sys.argv[1]):
    what, expr, path = line.rstrip("\n").split("\t")
    text = open(path).read()
    try:
        rows = json.loads(text)["drives"]
        ok = eval(expr)
    except Exception as e:
        ok = False
    print("PASS\t" + what if ok else "FAIL\t%s (got: %s)" % (what, " ".join(text.split())[:700]))' "$W/uc.list")
	rm -f "$W/uc.list"
}

# --------------------------------------------- a plain opener, every path
for p in "/dev/$A" "/dev/$sgA" "/dev/$bsgA" "$aliasA" "$aliasSg" "$aliasBsg"; do
	if hold op "$VMTOOL" open "$p" ro,nonblock --hold; then
		pid=${hold_pid[op]}
		users_check "users: a plain opener of $p is found through ${#specs[@]} names of the drive" \
			"len(rows) == ${#specs[@]} and all(u(r) == ['ddlp-vmtool[$pid] none $p'] for r in rows)" \
			"${specs[@]}"
	else
		fail "users: a plain opener of $p ($HOLD_LINE)"
	fi
	release op
done

note "($SECONDS s)"

# ------------------------------- four kinds at once, told apart
ok=1
hold pl "$VMTOOL" open "$aliasBsg" ro,nonblock --hold || ok=0
hold fl python3 -c "$pyhold" "/dev/$A" flock-sh || ok=0
hold of python3 -c "$pyhold" "$aliasSg" ofd-rd || ok=0
hold_lock dd $NR shared 0 "/dev/$A" || ok=0
if [ "$ok" = 1 ]; then
	users_check "users: a plain opener, a flock holder, an OFD holder and a DDLP holder, told apart" \
		"rows[0]['state'] == 'shared' and us(rows[0]) == us(['ddlp-vmtool[${hold_pid[pl]}] none $aliasBsg', 'python3[${hold_pid[fl]}] flock-shared /dev/$A', 'python3[${hold_pid[of]}] shared $aliasSg', 'ddlp-vmtool[${hold_pid[dd]}] shared /dev/$A,/dev/$sgA,/dev/$bsgA'])" \
		"/dev/$bsgA"
else
	fail "users: the four holders started ($HOLD_LINE)"
fi
release pl
release fl
release of
release dd

note "($SECONDS s)"

# ---------------------------------------------- the warning, --wait-unused
if hold op "$VMTOOL" open "$aliasBsg" ro,nonblock --hold; then
	pid=${hold_pid[op]}
	err=$("$TOOL" -x $NR "/dev/$A" true 2>&1)
	rc=$?
	check "users: -x warns about the opener of the bsg alias ($err)" \
		test "$rc" = 0 -a "$err" = "ddlp-lock: warning: /dev/$A is open by ddlp-vmtool (pid $pid), which holds no lock"
	err=$("$TOOL" -q -x $NR "/dev/$A" true 2>&1)
	check "users: -q: no warning (rc $?, '$err')" test -z "$err"
	err=$("$TOOL" -x $NR --wait-unused=0.3 "/dev/$A" touch "$W/ran" 2>&1)
	rc=$?
	check "users: --wait-unused=0.3 while it stays open: 1, named ($err)" \
		test "$rc" = 1 -a ! -e "$W/ran" -a -n "$(grep -F "still open by ddlp-vmtool (pid $pid)" <<<"$err")"
	# without a limit: the command runs once the opener has closed (the
	# waiter must not keep the opener's stdin FIFO open: closed first)
	(
		f=${hold_fd[op]}
		exec {f}>&-
		exec "$TOOL" -x $NR --wait-unused "/dev/$A" sh -c "ls -l /proc/$pid/fd 2>/dev/null | grep -qF '$aliasBsg' && exit 3; exit 0"
	) &
	wpid=$!
	sleep 0.3
	release op
	wait "$wpid"
	rc=$?
	check "users: --wait-unused: the command ran after the opener closed the bsg alias (rc $rc)" test "$rc" = 0
else
	fail "users: the opener of $aliasBsg ($HOLD_LINE)"
	release op
fi

note "($SECONDS s)"

# ------------------------------------------------------------------ kill -9
# kill9_case LABEL OPTION: ddlp-lock [OPTION] -x runs sh until $W/k.rel
kill9_case() {
	local label=$1 opt=$2 kpid cpid i rc
	rm -f "$W/k.pid" "$W/k.rel"
	"$TOOL" $opt $NR "/dev/$A" sh -c "echo \$\$ >'$W/k.pid'; while ! [ -e '$W/k.rel' ]; do sleep 0.1; done" &
	kpid=$!
	for ((i = 0; i < 600; i++)); do [ -s "$W/k.pid" ] && break; sleep 0.1; done
	cpid=$(cat "$W/k.pid" 2>/dev/null)
	if [ -z "$cpid" ]; then
		fail "users: $label: the command started"
		kill -9 "$kpid"
		return
	fi
	kill -9 "$kpid"
	wait "$kpid" 2>/dev/null
	if [ -z "$opt" ]; then
		"$TOOL" -n $NR "/dev/$A" true 2>/dev/null
		rc=$?
		check "users: $label: the drive stays exclusive while the command runs (ddlp-lock -n: $rc)" test "$rc" = 1
		"$TOOL" -n -s "/dev/$A" true 2>/dev/null
		rc=$?
		check "users: $label: ... shared too (ddlp-lock -n -s: $rc)" test "$rc" = 1
		flock -n "/dev/$A" true 2>/dev/null
		rc=$?
		check "users: $label: ... flock(1) -n too ($rc)" test "$rc" != 0
		users_check "users: $label: the command is the holder now" \
			"rows[0]['state'] == 'exclusive' and one('sh[$cpid] exclusive /dev/$A,/dev/$sgA,/dev/$bsgA') in us(rows[0])" \
			"/dev/$A"
	else
		"$TOOL" -n $NR "/dev/$A" true 2>/dev/null
		rc=$?
		check "users: $label: the drive is free at once ($rc)" test "$rc" = 0
	fi
	touch "$W/k.rel"
	for ((i = 0; i < 600; i++)); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
	"$TOOL" -n $NR "/dev/$A" true 2>/dev/null
	rc=$?
	check "users: $label: free once the command has ended ($rc)" test "$rc" = 0
}
kill9_case "kill -9 of ddlp-lock" ""
kill9_case "kill -9 of ddlp-lock -o" "-o"

note "($SECONDS s)"

# ----------------------------------------- the sg node under an exclusive lock
# (with O_NONBLOCK: without it the sg driver would make the open wait for
# the exclusive holder, which is the command itself or its parent)
for opt in "" -o; do
	out=$(timeout 60 "$TOOL" $opt $NR "/dev/$A" python3 -c "import os; os.open('/dev/$sgA', os.O_RDWR | os.O_NONBLOCK)" 2>&1)
	rc=$?
	check "users: ddlp-lock $opt -x: the command cannot open /dev/$sgA (rc $rc: $(tail -n 1 <<<"$out"))" \
		test "$rc" = 1 -a -n "$(grep -F 'Device or resource busy' <<<"$out")"
done

users_verify
note "($SECONDS s)"
suite_end
