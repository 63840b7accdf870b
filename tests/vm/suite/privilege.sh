#!/bin/bash
# Privilege: an unprivileged user in the group that owns the drive nodes
# (Debian's "cdrom"; udev makes /dev/bsg/* root-only):
#   - takes exclusive and shared locks (the root-only bsg node left out);
#   - such a lock keeps root's lockers out as well;
#   - with the sg node made 0600, an exclusive lock fails closed with
#     EACCES naming /dev/sg0 (nothing left held), ddlp-lock says how to fix
#     it, and --partial takes the rest;
#   - the re-probe after release fails quietly (uevent not writable),
#     reported through the log hook.
#
#   privilege.sh      (in a VM with qemu CD drives and udevd)
. "$(dirname "$0")/lib.sh"
suite_begin privilege

LOCKTOOL=$VMSUITE_BUILDDIR/src/ddlp-lock
gid=$(stat -c %g /dev/sr0)
note "nodes: sr0 $(stat -c '%U:%G %a' /dev/sr0), sg0 $(stat -c '%U:%G %a' /dev/sg0), bsg $(stat -c '%U:%G %a' /dev/bsg/0:0:0:0)"
as_user() { setpriv --reuid=65534 --regid=65534 --groups="$gid" -- "$@"; }

out=$(as_user "$VMTOOL" try --no-reprobe excl 0 /dev/sr0 2>&1)
case $out in
LOCKED*) pass "privilege: uid 65534 in group $gid locks /dev/sr0 exclusively ($out)" ;;
*) fail "privilege: uid 65534 in group $gid locks /dev/sr0 exclusively (got: $out)" ;;
esac
out=$(as_user "$VMTOOL" try --no-reprobe shared 0 /dev/cdrom 2>&1)
case $out in
LOCKED*) pass "privilege: uid 65534 locks /dev/cdrom shared" ;;
*) fail "privilege: uid 65534 locks /dev/cdrom shared (got: $out)" ;;
esac

# an unprivileged holder keeps root out
if hold user setpriv --reuid=65534 --regid=65534 --groups="$gid" -- "$VMTOOL" lock --no-reprobe excl 0 /dev/sr0; then
	out=$("$VMTOOL" try --no-reprobe excl 0 /dev/sg0 2>&1)
	case $out in
	BUSY*) pass "privilege: root is refused while uid 65534 holds the drive ($(field "$out" node) $(field "$out" step))" ;;
	*) fail "privilege: root is refused while uid 65534 holds the drive (got: $out)" ;;
	esac
	out=$(xorriso -outdev /dev/sr0 -toc 2>&1)
	if grep -q 'Cannot open busy device' <<<"$out"; then
		pass "privilege: root's xorriso is refused while uid 65534 holds the drive"
	else
		fail "privilege: root's xorriso is refused while uid 65534 holds the drive ($(head -c 300 <<<"$out"))"
	fi
	release user
else
	fail "privilege: uid 65534 holds /dev/sr0 ($HOLD_LINE)"
fi

# an inaccessible sg node: fail closed, unless --partial
chmod 0600 /dev/sg0
out=$(as_user "$LOCKTOOL" -n --no-reprobe /dev/sr0 true 2>&1)
rc=$?
if [ "$rc" = 77 ] && grep -q '/dev/sg0' <<<"$out"; then
	pass "privilege: sg0 mode 0600: exit 77 naming /dev/sg0"
else
	fail "privilege: sg0 mode 0600: exit 77 naming /dev/sg0 (exit $rc: $out)"
fi
note "ddlp-lock says: $(paste -sd' ' <<<"$out")"
left=$(grep -cE "^(OFDLCK|FLOCK|POSIX)" < <("$VMTOOL" proclocks /dev/sr0 /dev/sg0 2>/dev/null | awk '{print $2}'))
check "privilege: nothing left held after the refusal ($left locks on sr0/sg0)" [ "$left" = 0 ]
out=$(as_user "$VMTOOL" try --no-reprobe excl 0 /dev/sr0 2>&1)
case $out in
*EACCES*) pass "privilege: the library gives EACCES for the 0600 sg node ($out)" ;;
*) fail "privilege: the library gives EACCES for the 0600 sg node (got: $out)" ;;
esac
out=$(as_user "$LOCKTOOL" -n --partial --no-reprobe /dev/sr0 true 2>&1)
rc=$?
check "privilege: --partial locks the rest of the drive (exit $rc)" [ "$rc" = 0 ]
chmod 0660 /dev/sg0

# the re-probe is not permitted to the user: the lock still ends cleanly
out=$(DDLP_LOG=info as_user "$LOCKTOOL" -n /dev/sr0 true 2>&1)
rc=$?
if [ "$rc" = 0 ] && grep -q 're-probe' <<<"$out"; then
	pass "privilege: the refused re-probe is reported through the log and the lock ends with 0"
else
	fail "privilege: the refused re-probe is reported and the lock ends with 0 (exit $rc: $out)"
fi
suite_end
