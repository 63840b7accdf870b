#!/bin/sh
# make install into a temporary DESTDIR, then check what was installed: the
# library exports only ddlp_ names, and a downstream program builds and
# runs with nothing but pkg-config --cflags --libs libddlp (shared and
# static).
set -u
: "${abs_top_builddir:?}" "${abs_top_srcdir:?}" "${libdir:?}" "${includedir:?}" "${bindir:?}" "${mandir:?}" "${bashcompletiondir:?}"
MAKE=${MAKE:-make}
CC=${CC:-cc}
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }

if ! $MAKE -C "$abs_top_builddir" install DESTDIR="$tmp/root" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	ko "make install DESTDIR"
	echo "$pass passed, $fail failed"
	exit 1
fi
ok "make install DESTDIR"
root=$tmp/root
for f in "$libdir/libddlp.so" "$libdir/libddlp.a" "$libdir/pkgconfig/libddlp.pc" \
	"$includedir/ddlp.h" "$bindir/ddlp-lock"; do
	if [ -e "$root$f" ]; then ok "installed $f"; else ko "missing $f"; fi
done
if ls "$root$mandir/man1/ddlp-lock.1"* >/dev/null 2>&1 && ls "$root$mandir/man3/libddlp.3"* >/dev/null 2>&1; then
	ok "man pages installed"
else
	ko "man pages ddlp-lock(1) and libddlp(3) not installed"
fi

# the completions as installed: ddlp-guard's loads ddlp-lock's beside it
comp=$root$bashcompletiondir
if [ -f "$comp/ddlp-lock" ] && [ -f "$comp/ddlp-guard" ] &&
	bash -c ". '$comp/ddlp-guard' && complete -p ddlp-guard && complete -p ddlp-lock" >/dev/null 2>&1; then
	ok "bash completions installed; ddlp-guard's loads ddlp-lock's"
else
	ko "bash completions in $bashcompletiondir: ddlp-lock and ddlp-guard, the second loading the first"
fi

so=$root$libdir/libddlp.so
foreign=$(nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' | grep -v '^ddlp_' || true)
count=$(nm -D --defined-only "$so" | awk '$2 != "A"' | grep -c ' ddlp_')
if [ -z "$foreign" ] && [ "$count" -gt 0 ]; then
	ok "libddlp.so exports only ddlp_ names ($count)"
else
	ko "libddlp.so exports other names: $foreign"
fi

# ddlp-guard and its preload, a library of the package's own directory
# (not one to link with): no .la beside it, only the interposed functions
# exported, and the installed ddlp-guard loads it into a command.
guardlib=$root$libdir/libddlp/libddlp-guard.so
for f in "$bindir/ddlp-guard" "$libdir/libddlp/libddlp-guard.so"; do
	if [ -e "$root$f" ]; then ok "installed $f"; else ko "missing $f"; fi
done
if [ -e "$root$libdir/libddlp/libddlp-guard.la" ]; then ko "libddlp-guard.la installed"; else ok "no libddlp-guard.la"; fi
if ls "$root$mandir/man1/ddlp-guard.1"* >/dev/null 2>&1; then ok "ddlp-guard(1) installed"; else ko "ddlp-guard(1) not installed"; fi
if [ -e "$guardlib" ]; then
	exported=$(nm -D --defined-only "$guardlib" | awk '$2 != "A" { print $3 }' | sort | tr '\n' ' ')
	want=$(sed -n '/global:/,/local:/p' "$abs_top_srcdir/lib/guard/libddlp-guard.sym" | tr -s ' \t;' '\n\n\n' |
		grep -v -E '^(global:|local:|)$' | sort | tr '\n' ' ')
	if [ "$exported" = "$want" ]; then
		ok "libddlp-guard.so exports only the interposed functions"
	else
		ko "libddlp-guard.so exports '$exported', expected '$want'"
	fi
	maps=$(LD_LIBRARY_PATH="$root$libdir" DDLP_GUARD_PRELOAD="$guardlib" "$root$bindir/ddlp-guard" \
		sh -c 'grep -c libddlp-guard "/proc/$$/maps"' 2>&1)
	if [ "${maps:-0}" -gt 0 ] 2>/dev/null; then
		ok "the installed ddlp-guard loads the preload into its command"
	else
		ko "the installed ddlp-guard loads the preload into its command ($maps)"
	fi
fi

export PKG_CONFIG_PATH="$root$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs libddlp) || flags=""
# shellcheck disable=SC2086
if [ -n "$flags" ] && $CC -Wall -Wextra -Werror -o "$tmp/consumer" "$abs_top_srcdir/examples/consumer.c" $flags; then
	ok "consumer builds with pkg-config --cflags --libs libddlp"
else
	ko "consumer does not build ($flags)"
fi
out=$(LD_LIBRARY_PATH="$root$libdir" "$tmp/consumer" /nonexistent/drive 2>&1)
rc=$?
if [ "$rc" -eq 1 ] && echo "$out" | grep -q "/nonexistent/drive: No such file or directory"; then
	ok "consumer runs against the installed library"
else
	ko "consumer run: rc=$rc out=$out"
fi
if LD_LIBRARY_PATH="$root$libdir" ldd "$tmp/consumer" | grep -q "$root$libdir/libddlp.so"; then
	ok "consumer is linked to the installed libddlp.so"
else
	ko "consumer not linked to the installed library"
fi
# the README's C example compiles and links as it stands
sed -n '/^```c$/,/^```$/p' "$abs_top_srcdir/README.md" | sed '1d;$d' >"$tmp/readme.c"
# shellcheck disable=SC2086
if [ -s "$tmp/readme.c" ] && $CC -Wall -Wextra -Werror -o "$tmp/readme" "$tmp/readme.c" $flags; then
	ok "README's C example builds ($(wc -l <"$tmp/readme.c") lines)"
else
	ko "README's C example does not build"
fi
sflags=$(pkg-config --static --cflags --libs libddlp)
# shellcheck disable=SC2086
if $CC -o "$tmp/consumer-static" "$abs_top_srcdir/examples/consumer.c" -I"$root$includedir" \
	"$root$libdir/libddlp.a" $(pkg-config --static --libs-only-l libddlp | sed 's/-lddlp//') &&
	! ldd "$tmp/consumer-static" | grep -q libddlp; then
	ok "consumer links statically against libddlp.a ($sflags)"
else
	ko "static link"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
