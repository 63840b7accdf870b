#!/bin/sh
# The file lists of the built Debian packages (dpkg-deb -c), as CI checks
# them after the package build:
#
#   scripts/check-debs.sh DIR
#
# DIR holds the .deb files.  The runtime package (libddlp0, named after
# the soname) carries the shared library and nothing else but its
# documentation; libddlp-dev the header, the pkg-config file, the .so
# link, the static library and the section 3 man pages; ddlp-lock the tool,
# its man page and its bash completion.  Every file of a package must match
# one of its patterns, and every required file must be there.  Prints one
# line per check and "N passed, M failed"; exit 1 on a failure.
set -u
dir=${1:?usage: check-debs.sh DIR}
pass=0 fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }

ma='usr/lib/[a-z0-9_]*-linux-gnu[a-z0-9_]*'

# check PACKAGE ALLOWED REQUIRED...: ALLOWED is an extended regex every
# file (not directory) must match; each REQUIRED one some file must match
check() {
	pkg=$1 allowed=$2
	shift 2
	deb=$(ls "$dir/${pkg}"_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		ko "$pkg: no ${pkg}_*.deb in $dir"
		return
	fi
	files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./||')
	bad=$(echo "$files" | grep -Ev "^($allowed)\$")
	if [ -z "$bad" ]; then
		ok "$pkg: $(echo "$files" | wc -l) files, all where they belong"
	else
		ko "$pkg: files that do not belong: $(echo "$bad" | tr '\n' ' ')"
	fi
	for want in "$@"; do
		if f=$(echo "$files" | grep -Em1 "^$want\$"); then
			ok "$pkg has $f"
		else
			ko "$pkg lacks $want"
		fi
	done
}

soname=$(ls "$dir"/libddlp[0-9]*_*.deb 2>/dev/null | grep -v dbgsym | sed -n 's|.*/libddlp\([0-9][0-9]*\)_.*|\1|p' | head -n 1)
[ -n "$soname" ] || { ko "no runtime package libddlpN in $dir"; soname=0; }
doc="usr/share/doc/PKG/(examples/)?[A-Za-z0-9_.-]+|usr/share/lintian/overrides/PKG"

check "libddlp$soname" \
	"$ma/libddlp\.so\.$soname(\.[0-9]+)*|$(echo "$doc" | sed "s/PKG/libddlp$soname/g")" \
	"$ma/libddlp\.so\.$soname" "$ma/libddlp\.so\.$soname\.[0-9]+\.[0-9]+" \
	"usr/share/doc/libddlp$soname/copyright"
# the runtime package's only library is the one of its name
n=$(dpkg-deb -c "$dir/libddlp${soname}"_*.deb 2>/dev/null | grep -c '\.so')
[ "$n" -eq 2 ] && ok "libddlp$soname: one library (file and soname link)" ||
	ko "libddlp$soname: $n .so entries, expected 2 (libddlp.so.$soname and its file)"

check libddlp-dev \
	"usr/include/ddlp\.h|$ma/libddlp\.(so|a)|$ma/pkgconfig/libddlp\.pc|usr/share/man/man3/[a-z_]+\.3\.gz|$(echo "$doc" | sed 's/PKG/libddlp-dev/g')" \
	"usr/include/ddlp\.h" "$ma/pkgconfig/libddlp\.pc" "$ma/libddlp\.so" "$ma/libddlp\.a" \
	"usr/share/man/man3/libddlp\.3\.gz" "usr/share/man/man3/ddlp_lock\.3\.gz"

# the tools: ddlp-lock, and ddlp-guard with its preload library (private,
# in the package's own directory below the library directory)
check ddlp-lock \
	"usr/bin/ddlp-(lock|guard)|usr/share/man/man1/ddlp-(lock|guard)\.1\.gz|usr/share/bash-completion/completions/ddlp-(lock|guard)|$ma/libddlp/libddlp-guard\.so|$(echo "$doc" | sed 's/PKG/ddlp-lock/g')" \
	"usr/bin/ddlp-lock" "usr/share/man/man1/ddlp-lock\.1\.gz" \
	"usr/share/bash-completion/completions/ddlp-lock" "usr/share/bash-completion/completions/ddlp-guard" \
	"usr/bin/ddlp-guard" "usr/share/man/man1/ddlp-guard\.1\.gz" "$ma/libddlp/libddlp-guard\.so"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
