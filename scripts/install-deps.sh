#!/bin/sh
# Install everything libddlp needs to build and to run every test, the VM
# suite included, from Debian's packages (Debian 12, as root).
#
#   scripts/install-deps.sh [--packaging]
#
# --packaging adds what building and checking the Debian packages takes
# (CI: debhelper, lintian, autopkgtest); debian/control's Build-Depends
# alone are installed by `apt-get build-dep ./`.
set -eu
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps.sh: run as root (apt-get)" >&2
	exit 77
fi
packages="
	build-essential autoconf automake libtool pkg-config
	libudev-dev libsmartcols-dev check
	python3 strace valgrind util-linux kmod
	qemu-system-x86 busybox-static cpio udev xz-utils
	xorriso cdrskin wodim sg3-utils cdrdao dvd+rw-tools libcdio-utils eject
	clang libclang-rt-14-dev
	libglib2.0-dev
	abigail-tools
	spin
"
if [ "${1:-}" = --packaging ]; then
	packages="$packages debhelper dpkg-dev lintian autopkgtest"
elif [ $# -gt 0 ]; then
	echo "usage: install-deps.sh [--packaging]" >&2
	exit 64
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! apt-get install -y -q --no-install-recommends $packages >/dev/null 2>&1; then
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $packages
fi
