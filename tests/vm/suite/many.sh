#!/bin/bash
# Many drives (scsi_debug, up to 64): every drive's sr, sg and bsg node and
# its H:C:T:L resolve to that drive's own identity and node list (derived
# here from sysfs), all identities differ, a resolution touches no other
# drive's files (no enumeration, strace), and ddlp_lock_many() over every
# drive is all or nothing; ddlp-lock --list of every drive makes one scan
# of /proc, and names a process that has them all open.
#
#   many.sh        (in a VM booted with --scsi-debug K)
. "$(dirname "$0")/lib.sh"
suite_begin many

have_udev=0
[ -S /run/udev/control ] && have_udev=1
mapfile -t drives < <(for f in /sys/class/block/sr*; do
	case $(cat "$f/device/model" 2>/dev/null) in scsi_debug*) basename "$f" ;; esac
done | sort -V)
want=${VM_SCSI_DEBUG:-0}
n=${#drives[@]}
if [ "$want" -gt 0 ] && [ "$n" = "$want" ]; then
	pass "many: the VM has $n scsi_debug CD drives"
else
	fail "many: the VM has $want scsi_debug CD drives (found $n)"
fi
if [ "$n" = 0 ]; then
	suite_end
	exit
fi

# Every drive through four forms, in one run of the resolver.
specs=() owner=()
declare -A want
for sr in "${drives[@]}"; do
	specs+=("/dev/$sr") owner+=("$sr")
	_sg "$sr" && [ -n "$REPLY" ] && specs+=("/dev/$REPLY") owner+=("$sr")
	_bsg "$sr" && [ -n "$REPLY" ] && specs+=("/dev/$REPLY") owner+=("$sr")
	_hctl "$sr" && specs+=("$REPLY") owner+=("$sr")
	# what each of them must resolve to, from sysfs and the udev database
	id="scsi:$REPLY"
	_canon "$sr"
	canon=$REPLY
	case $canon in *",sg,"*",bsg,"*) ;; *) fail "many: $sr has sr, sg and bsg nodes in sysfs ($canon)" ;; esac
	name=-
	[ "$have_udev" = 1 ] && _udev_name "$sr" && name=$REPLY
	want[$sr]="id=$id name=$name canon=$canon"
done
out=$("$VMTOOL" resolve "${specs[@]}" 2>&1)
mapfile -t lines <<<"$out"
note "resolved ${#specs[@]} specs ($SECONDS s)"
bad='' n_ok=0
for k in "${!specs[@]}"; do
	line=${lines[$k]:-}
	if [[ $line == "OK spec=${specs[$k]} ${want[${owner[$k]}]} "* ]]; then
		n_ok=$((n_ok + 1))
	else
		bad="$bad [${specs[$k]}: $line]"
	fi
done
if [ -z "$bad" ]; then
	pass "many: all $n_ok specs (sr, sg, bsg, H:C:T:L of $n drives) resolve to their own drive's identity, nodes and persistent name"
else
	fail "many: every spec resolves to its own drive ($n_ok of ${#specs[@]}):${bad:0:600}"
fi
ids=$(grep -o ' id=[^ ]*' <<<"$out" | sort -u | wc -l)
check "many: $n drives have $n different identities (got $ids)" test "$ids" = "$n"
names=$(grep -o ' name=[^ ]*' <<<"$out" | sort -u | grep -vc ' name=-$')
[ "$have_udev" = 1 ] && check "many: $n drives have $n different persistent names (got $names)" test "$names" = "$n"

note "checked ($SECONDS s)"

# No enumeration: resolving one drive touches no file of another drive.
if command -v strace >/dev/null; then
	mid=${drives[$((n / 2))]}
	own_sr=$mid own_sg=$(sg_of "$mid") own_h=$(hctl_of "$mid")
	strace -f -qq -o "$W/st" -e trace=%file,%desc "$VMTOOL" resolve "/dev/$mid" "$own_h" >/dev/null 2>&1
	others=$(grep -oE '\b(sr|sg)[0-9]+\b|[0-9]+:[0-9]+:[0-9]+:[0-9]+' "$W/st" | sort -u |
		grep -vxE "$own_sr|$own_sg|$own_h|${own_h%:*}" | paste -sd' ')
	calls=$(wc -l <"$W/st")
	if [ -z "$others" ] && [ "$calls" -gt 0 ]; then
		pass "many: resolving /dev/$mid and $own_h touches no other drive's sysfs or /dev entries ($calls file calls)"
	else
		fail "many: resolving /dev/$mid touches no other drive (it touched: $others)"
	fi
	# for the record: the cost for the first and the last drive
	for d in "${drives[0]}" "${drives[$((n - 1))]}"; do
		strace -f -qq -c -o "$W/c" "$VMTOOL" resolve "/dev/$d" >/dev/null 2>&1
		note "strace -c of ddlp-vmtool resolve /dev/$d: $(grep total "$W/c" | tr -s ' ')"
	done
else
	skip "many: no strace"
fi

note "strace ($SECONDS s)"

# ddlp_lock_many over every drive: all or nothing.
req=("excl" 0 "/dev/${drives[0]}")
for sr in "${drives[@]:1}"; do req+=("/dev/$sr" excl); done
busy=${drives[$((n - 1))]}
if hold_lock hb --no-reprobe excl 0 "/dev/$busy"; then
	try_lock --no-reprobe "${req[@]}"
	node=$(field "$TRY_LINE" node)
	case $TRY_LINE in
	BUSY*) case $node in "/dev/$busy" | "/dev/$(sg_of "$busy")" | "/dev/$(bsg_of "$busy")") ok=1 ;; *) ok=0 ;; esac ;;
	*) ok=0 ;;
	esac
	check "many: ddlp_lock_many of all $n drives is refused while /dev/$busy is held ($TRY_LINE)" test "$ok" = 1
	nodes=()
	for sr in "${drives[@]}"; do
		[ "$sr" = "$busy" ] && continue
		nodes+=("/dev/$sr")
		_sg "$sr" && [ -n "$REPLY" ] && nodes+=("/dev/$REPLY")
		_bsg "$sr" && [ -n "$REPLY" ] && nodes+=("/dev/$REPLY")
	done
	held=$("$VMTOOL" proclocks "${nodes[@]}" | awk '{print $1}' | sort -u | paste -sd' ')
	check "many: ... and holds nothing of the other $((n - 1)) drives afterwards${held:+ (held:$held)}" test -z "$held"
	release hb
else
	fail "many: /dev/$busy locked ($HOLD_LINE)"
	release hb
fi
try_lock --no-reprobe "${req[@]}"
nids=$(field "$TRY_LINE" ids | tr ',' '\n' | grep -c .)
check "many: ddlp_lock_many takes all $n drives at once when free ($nids drives; ${TRY_LINE:0:80}...)" test "$nids" = "$n"

# ddlp-lock --list of every drive: one scan of /proc answers for all of
# them (ddlp_users_new()), so /proc is opened once and each process's fd
# directory once, not once per drive.  One process has every drive open
# (by its sg node): --list names it as an unlocked user of each.
TOOL=$VMSUITE_BUILDDIR/src/ddlp-lock
if [ -x "$VMSUITE_BUILDDIR/src/.libs/ddlp-lock" ] && [ -d "$VMSUITE_BUILDDIR/lib/.libs" ]; then
	TOOL=$VMSUITE_BUILDDIR/src/.libs/ddlp-lock # not libtool's wrapper script
	export LD_LIBRARY_PATH=$VMSUITE_BUILDDIR/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
if command -v strace >/dev/null && command -v python3 >/dev/null; then
	sgs=()
	for sr in "${drives[@]}"; do _sg "$sr" && sgs+=("/dev/$REPLY"); done
	if hold opall python3 -c 'import os, sys
fds = [os.open(p, os.O_RDONLY | os.O_NONBLOCK) for p in sys.argv[1:]]
print("OPEN", flush=True)
sys.stdin.read()' "${sgs[@]}"; then
		opid=${hold_pid[opall]}
		nproc=$(ls /proc | grep -c '^[0-9]*$')
		strace -f -qq -o "$W/list.st" -e trace=openat "$TOOL" -J --list --output ID,UNLOCKED >"$W/list.json" 2>"$W/list.err"
		rc=$?
		procs=$(grep -c 'openat(AT_FDCWD, "/proc", ' "$W/list.st")
		fddirs=$(grep -cE 'openat\([0-9]+, "[0-9]+/fd", ' "$W/list.st")
		check "many: ddlp-lock --list of $n drives opens /proc once (opened $procs times; exit $rc)" test "$rc" = 0 -a "$procs" = 1
		# (processes, kernel threads among them, come and go meanwhile:
		# fewer than twice as many as counted, where a scan per drive
		# would be $n times as many)
		check "many: ... and each process's fd directory once ($fddirs for about $nproc processes, not $n times as many)" \
			test "$fddirs" -gt 0 -a "$fddirs" -lt $((nproc * 2))
		if python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))["drives"]
sys.exit(0 if len(d) == int(sys.argv[2]) and all(x["unlocked"] == ["python3[" + sys.argv[3] + "]"] for x in d) else 1)' "$W/list.json" "$n" "$opid"; then
			pass "many: --list names the one process that has all $n drives open, for each drive"
		else
			fail "many: --list names the opener of all $n drives ($(head -c 400 "$W/list.json") $(head -c 200 "$W/list.err"))"
		fi
		strace -f -qq -c -o "$W/list.c" "$TOOL" --list >/dev/null 2>&1
		note "strace -c of ddlp-lock --list ($n drives, $nproc processes): $(grep total "$W/list.c" | tr -s ' ')"
		t0=$(date +%s%N)
		"$TOOL" --list >/dev/null 2>&1
		note "ddlp-lock --list of $n drives: $((($(date +%s%N) - t0) / 1000000)) ms"
	else
		fail "many: a process that opens all $n sg nodes ($HOLD_LINE)"
	fi
	release opall
else
	skip "many: --list makes one /proc scan: no strace or python3"
fi

suite_end
