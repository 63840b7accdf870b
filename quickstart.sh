#!/bin/sh
# The quick start's first command (README.md): install what is needed
# (Debian, as root), build, then lock a drive exclusively with ddlp-lock and
# run a command under the lock.  Without an optical drive, the same happens
# in the project's test VM: a Debian kernel under qemu with an emulated SCSI
# CD drive, udevd and an ISO 9660 disc (tests/vm/README.md).
set -eu
cd "$(dirname "$0")"
top=$(pwd)

echo "== installing dependencies (scripts/install-deps.sh)"
scripts/install-deps.sh
echo "== building"
[ -x configure ] || ./autogen.sh >/dev/null
[ -f Makefile ] || ./configure -q
make -j2 >/dev/null
src/ddlp-lock --version

# The command run under the lock: the drive's locks as the system shows
# them, then the disc's table of contents read by xorriso, told not to take
# an exclusive open of its own (ddlp-lock holds the drive for it).
job='echo "== under the lock: locks on the drive (/proc/locks)";
cat /proc/locks;
echo "== xorriso -drive_access shared:unrestricted -indev /dev/sr0 -toc";
xorriso -drive_access shared:unrestricted -indev /dev/sr0 -toc 2>&1 | grep -E "^(Media current|Volume id|TOC layout|ISO session)";
echo "== a default xorriso is kept out meanwhile:";
xorriso -outdev /dev/sr0 -toc 2>&1 | grep -m1 -E "busy|FAILURE"; true'

if [ -b /dev/sr0 ]; then
	echo "== locking /dev/sr0 of this machine"
	exec src/ddlp-lock -v -w 10 /dev/sr0 sh -c "$job"
fi
echo "== no optical drive here: locking the emulated drive in the test VM"
exec tests/vm/vm-run --cd 1 -- sh -c "cd '$top' && src/ddlp-lock -v --resolve /dev/cdrom && src/ddlp-lock -v -w 10 /dev/cdrom sh -c '$job'"
