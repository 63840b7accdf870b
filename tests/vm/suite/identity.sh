#!/bin/bash
# Identity on real sr, sg and bsg nodes: every alias form of each drive
# resolves to the drive's canonical identity and node list (both derived
# here from sysfs, without the library), different drives differ, bad specs
# fail cleanly, and no resolution opens or ioctls a device node (strace).
#
#   identity.sh [srN...]       (default: every sr drive, at most 2)
#
# Works with udevd stopped (no persistent name, no udev symlinks) and
# without the sg module (no sg node in the list).
. "$(dirname "$0")/lib.sh"
suite_begin identity

have_udev=0
[ -S /run/udev/control ] && have_udev=1
have_sg=0
[ -d /sys/module/sg ] && have_sg=1
note "udevd running: $have_udev, sg module: $have_sg"

if [ "$#" -gt 0 ]; then
	drives=("$@")
else
	drives=()
	for f in /sys/class/block/sr[0-9]*; do [ -e "$f" ] && drives+=("${f##*/}"); done
	mapfile -t drives < <(printf '%s\n' "${drives[@]}" | sort -V | head -n2)
fi
if [ "${#drives[@]}" = 0 ]; then
	fail "identity: the VM has sr drives"
	suite_end
	exit
fi

chain=$W/chain
mkdir -p "$chain"

# forms_of srN: "SPEC|NAMED" lines: the spec, and the path of the node it
# must mark as named ("" for an address).
forms_of() {
	local sr=$1 h sg bsg l a maj
	h=$(hctl_of "$sr")
	sg=$(sg_of "$sr")
	bsg=$(bsg_of "$sr")
	echo "/dev/$sr|/dev/$sr"
	[ -n "$sg" ] && echo "/dev/$sg|/dev/$sg"
	[ -n "$bsg" ] && echo "/dev/$bsg|/dev/$bsg"
	for l in /dev/cdrom /dev/cdrw /dev/dvd /dev/dvdrw /dev/disk/by-id/* /dev/disk/by-path/*; do
		[ -L "$l" ] && [ "$(readlink -f "$l")" = "/dev/$sr" ] && echo "$l|/dev/$sr"
	done
	maj=$(devnum_of "/sys/class/block/$sr")
	[ -L "/dev/block/$maj" ] && echo "/dev/block/$maj|/dev/$sr"
	if [ -n "$sg" ]; then
		maj=$(devnum_of "/sys/class/block/$sr/device/scsi_generic/$sg")
		[ -L "/dev/char/$maj" ] && echo "/dev/char/$maj|/dev/$sg"
	fi
	# a relative path (resolved from /tmp) and a chain of symlinks
	echo "../dev/$sr|/dev/$sr"
	ln -sfn "/dev/$sr" "$chain/$sr-3"
	ln -sfn "$sr-3" "$chain/$sr-2"
	ln -sfn "$chain/$sr-2" "$chain/$sr-1"
	echo "$chain/$sr-1|/dev/$sr"
	# mknod aliases: their own inode, named and flagged alias
	if a=$(make_alias "/dev/$sr"); then echo "$a|$a"; else echo "MKNOD-FAILED-$sr|"; fi
	if [ -n "$sg" ]; then
		if a=$(make_alias "/dev/$sg"); then echo "$a|$a"; else echo "MKNOD-FAILED-$sg|"; fi
	fi
	echo "$h|"
	case $h in
	*:0:*:*) IFS=: read -r hh _ tt ll <<<"$h"; echo "$hh,$tt,$ll|" ;;
	esac
}

all_specs=()
for sr in "${drives[@]}"; do
	h=$(hctl_of "$sr")
	exp_id="scsi:$h"
	exp_canon=$(expected_canon "$sr")
	exp_name=-
	[ "$have_udev" = 1 ] && _udev_name "$sr" && exp_name=$REPLY
	note "$sr: expected id=$exp_id name=$exp_name canon=$exp_canon"
	if [ "$have_sg" = 1 ]; then
		case $exp_canon in *",sg,"*) pass "identity: $sr has an sg node in sysfs" ;;
		*) fail "identity: $sr has an sg node in sysfs (sg loaded)" ;; esac
	else
		case $exp_canon in *",sg,"*) fail "identity: no sg node without the sg module" ;;
		*) pass "identity: $sr has no sg node (sg module not loaded)" ;; esac
	fi

	mapfile -t forms < <(forms_of "$sr")
	specs=()
	for f in "${forms[@]}"; do specs+=("${f%%|*}"); done
	all_specs+=("${specs[@]}")
	out=$(cd /tmp && "$VMTOOL" resolve "${specs[@]}" 2>&1)
	mapfile -t lines <<<"$out"
	for i in "${!forms[@]}"; do
		spec=${forms[$i]%%|*} named=${forms[$i]#*|}
		line=${lines[$i]:-}
		what="identity: $spec -> $exp_id"
		case $line in
		"OK spec=$spec "*) ;;
		*)
			fail "$what (got: $line)"
			continue
			;;
		esac
		_field "$line" id && id=$REPLY
		_field "$line" name && name=$REPLY
		_field "$line" canon && canon=$REPLY
		_field "$line" nodes && nodes=$REPLY
		why=''
		[ "$id" = "$exp_id" ] || why="$why id=$id"
		[ "$canon" = "$exp_canon" ] || why="$why canon=$canon"
		[ "$name" = "$exp_name" ] || why="$why name=$name (udev: $exp_name)"
		# the named node, the alias nodes (only for mknod specs, last),
		# and what O_EXCL means per driver
		IFS=';' read -r -a nl <<<"$nodes"
		got_named='' n_alias=0 last=''
		for n in "${nl[@]}"; do
			IFS=, read -r p k _ e fl <<<"$n"
			case $fl in *named*) got_named=$p ;; esac
			case $fl in *alias) n_alias=$((n_alias + 1)) ;; esac
			case $k:$e in block:claim | sg:open | bsg:none) ;; *) why="$why excl($p=$k:$e)" ;; esac
			last=$n
		done
		[ "$got_named" = "$named" ] || why="$why named=${got_named:-none} (want ${named:-none})"
		if [ "$named" = "$spec" ] && [ "${spec#/dev/}" = "$spec" ]; then
			case $last in "$spec,"*",named+alias") ;; *) why="$why alias-not-last($last)" ;; esac
			[ "$n_alias" = 1 ] || why="$why aliases=$n_alias"
		else
			[ "$n_alias" = 0 ] || why="$why aliases=$n_alias"
		fi
		if [ -z "$why" ]; then pass "$what"; else fail "$what:$why"; fi
	done
done

if [ "${#drives[@]}" -ge 2 ]; then
	a=${drives[0]} b=${drives[1]}
	mapfile -t ab < <("$VMTOOL" resolve "/dev/$a" "/dev/$b")
	ia='' ib='' ca='' cb=
	_field "${ab[0]:-}" id && ia=$REPLY
	_field "${ab[1]:-}" id && ib=$REPLY
	_field "${ab[0]:-}" canon && ca=$REPLY
	_field "${ab[1]:-}" canon && cb=$REPLY
	if [ -n "$ia" ] && [ "$ia" != "$ib" ] && [ "$ca" != "$cb" ]; then
		pass "identity: $a and $b are different drives ($ia, $ib)"
	else
		fail "identity: $a and $b are different drives ($ia, $ib)"
	fi
fi

# Bad specs: a negative errno, no crash.
touch "$W/regular"
ln -sfn "$W/loop-b" "$W/loop-a"
ln -sfn "$W/loop-a" "$W/loop-b"
while read -r spec want; do
	out=$("$VMTOOL" resolve "$spec" 2>&1)
	got=$(field "$out" err)
	if [ "$got" = "$want" ]; then pass "identity: bad spec $spec -> $want"; else fail "identity: bad spec $spec -> $want (got: $out)"; fi
done <<EOF
/dev/null ENODEV
/dev/sr99 ENOENT
$W/regular ENODEV
$W/loop-a ELOOP
0:0:99:0 ENODEV
9,9,9 ENODEV
0:0:0 EINVAL
EOF

# No device node is opened or ioctl'ed during resolution: strace every
# form (stat is fine).
if command -v strace >/dev/null; then
	st=$W/strace.out
	# one traced run over every form; --mark makes a faccessat of
	# /ddlp-vmtool-mark/I before spec I, so each call is attributed
	(cd /tmp && strace -f -qq -y -o "$st" -e trace=open,openat,openat2,ioctl,faccessat,faccessat2 \
		"$VMTOOL" resolve --mark "${all_specs[@]}" >"$W/strace.stdout" 2>&1)
	rc=$?
	note "strace of the resolution of ${#all_specs[@]} specs: status $rc"
	awk -v dir="$W" '
		/ddlp-vmtool-mark\// { s = $0; sub(/.*ddlp-vmtool-mark\//, "", s); sub(/".*/, "", s); cur = s; next }
		cur == "" { next }
		/open/ { n[cur]++ }
		/"\/dev\/|= [0-9]+<\/dev\/|ioctl\([0-9]+<\/dev\/|"\.\.\/dev\// { print > (dir "/bad." cur) }
		END { for (k in n) print n[k] > (dir "/opens." k) }
	' "$st"
	for i in "${!all_specs[@]}"; do
		spec=${all_specs[$i]}
		n_open=$(cat "$W/opens.$i" 2>/dev/null || echo 0)
		if [ "$rc" = 0 ] && ! [ -s "$W/bad.$i" ] && [ "$n_open" -gt 0 ]; then
			pass "no-open: resolving $spec opens no /dev path and makes no ioctl on one ($n_open opens of sysfs and the udev database)"
		else
			fail "no-open: resolving $spec opens no /dev path (status $rc, $n_open opens): $(head -n3 "$W/bad.$i" 2>/dev/null)"
		fi
	done
	# for the record: the system calls of one resolution, process start included
	strace -f -qq -c -o "$W/count" "$VMTOOL" resolve "/dev/${drives[0]}" >/dev/null 2>&1 &&
		note "strace -c of ddlp-vmtool resolve /dev/${drives[0]}: $(grep total "$W/count" | tr -s ' ')"
else
	skip "no-open: strace not installed"
fi

suite_end
