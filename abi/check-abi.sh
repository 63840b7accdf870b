#!/bin/sh
# make check-abi: the ABI of the built libddlp.so against the committed
# baseline (abi/libddlp.abi, libabigail's abidw output), so that no change
# breaks programs built against an earlier libddlp without anyone noticing.
#
#   check-abi.sh LIBRARY BASELINE HEADER
#
# Environment: ABIDIFF, ABIDW (libabigail's abidiff and abidw), CC (the C
# compiler, to read the header).
#
# Fails (exit 1) when:
#   - abidiff finds a function or variable removed or changed (a struct that
#     grew, a parameter of another type, an enumerator with another value,
#     a symbol moved to another version node, another SONAME...);
#     additions pass, and so do changes libabigail calls harmless (a new
#     enumerator at the end);
#   - a symbol that is new since the baseline is in a version node the
#     baseline already has: new symbols go in a new node of lib/libddlp.sym;
#   - the header declares a function the library does not export (programs
#     would not link) or the library exports one the header does not declare;
#   - the library has no debug information (abidiff would then see only
#     symbol names, not the types: build with -g).
# Prints "SKIP: ..." and exits 0 when the baseline was taken on another
# architecture (sizes and layouts differ; the baseline is for CI's).
#
# An intended change: follow the README's rule for -version-info, then
# `make abi-baseline` and commit abi/libddlp.abi.
set -u
lib=$1 baseline=$2 header=$3
ABIDIFF=${ABIDIFF:-abidiff}
ABIDW=${ABIDW:-abidw}
CC=${CC:-cc}
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0 header_fail=0 abi_fail=0
ko() {
	echo "check-abi: FAIL: $*"
	fail=1
}
abi_ko() {
	ko "$@"
	abi_fail=1
}

[ -f "$baseline" ] || { echo "check-abi: no baseline $baseline (make abi-baseline writes it)"; exit 1; }
[ -f "$lib" ] || { echo "check-abi: $lib not built (configure --enable-shared)"; exit 1; }
for t in "$ABIDIFF" "$ABIDW"; do
	command -v "$t" >/dev/null 2>&1 ||
		{ echo "check-abi: $t not found (Debian: apt-get install abigail-tools)"; exit 1; }
done

# The baseline's architecture against the library's.
want=$(sed -n "1s/.* architecture='\([^']*\)'.*/\1/p" "$baseline")
have=$("$ABIDW" --drop-undefined-syms "$lib" | sed -n "1s/.* architecture='\([^']*\)'.*/\1/p")
[ -n "$have" ] || { echo "check-abi: $ABIDW could not read $lib"; exit 1; }
if [ "$want" != "$have" ]; then
	echo "SKIP: check-abi: the baseline is for $want, this library for $have"
	exit 0
fi
if ! LC_ALL=C readelf -S --wide "$lib" | grep -q '\.debug_info'; then
	echo "check-abi: $lib has no debug information: build with -g (CFLAGS)"
	exit 1
fi

# The header's functions and the library's exports: the same names.
"$CC" -E -P -x c "$header" >"$tmp/header.i" || { echo "check-abi: cannot preprocess $header"; exit 1; }
grep -oE '\bddlp_[a-z0-9_]+[[:space:]]*\(' "$tmp/header.i" | sed 's/[[:space:](]//g' | sort -u >"$tmp/declared"
LC_ALL=C nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/exported"
for f in $(comm -23 "$tmp/declared" "$tmp/exported"); do
	ko "$f is declared in $(basename "$header") but not exported by the library"
	header_fail=1
done
for f in $(comm -13 "$tmp/declared" "$tmp/exported"); do
	ko "$f is exported but not declared in $(basename "$header")"
	header_fail=1
done

# abidiff: exit status bits 1 error, 2 usage, 4 ABI change, 8 incompatible.
"$ABIDIFF" --headers-dir2 "$(dirname "$header")" --drop-private-types \
	"$baseline" "$lib" >"$tmp/report"
rc=$?
sed 's/^/  /' "$tmp/report"
if [ $((rc & 3)) -ne 0 ]; then
	abi_ko "abidiff failed (exit $rc)"
elif [ $((rc & 8)) -ne 0 ]; then
	abi_ko "incompatible ABI change (abidiff exit $rc)"
fi
# "Functions changes summary: 0 Removed, 1 Changed (2 filtered out), 3 Added
# functions", the same for variables, and "Function symbols changes
# summary: 0 Removed, 0 Added ..." for symbols without debug information
removed_changed=$(awk '/summary:/ { for (i = 2; i <= NF; i++) if ($i ~ /^(Removed|Changed),?$/) n += $(i - 1) }
	END { print n + 0 }' "$tmp/report")
[ "$removed_changed" -eq 0 ] || abi_ko "$removed_changed functions or variables removed or changed"
if grep -q "SONAME changed" "$tmp/report"; then
	abi_ko "the SONAME changed"
fi

# Symbols new since the baseline belong in a node the baseline has not.
sed -n "s/.* version='\([^']*\)'.*/\1/p" "$baseline" | sort -u >"$tmp/nodes"
# ("[A] 'function int f(int)'  {f@@NODE}", or "[A] f@@NODE" without debug
# information)
sed -n -e 's/^ *\[A\] .*{\([^@}]*\)@*\([^}]*\)}.*/\1 \2/p' \
	-e 's/^ *\[A\] \([A-Za-z0-9_]*\)@*\([^ ]*\)$/\1 \2/p' "$tmp/report" >"$tmp/added"
while read -r sym node; do
	if grep -qxF "$node" "$tmp/nodes"; then
		abi_ko "$sym is new but in $node, a version node of the baseline: put it in a new node of lib/libddlp.sym"
	fi
done <"$tmp/added"

n=$(wc -l <"$tmp/exported")
if [ "$header_fail" -ne 0 ]; then
	echo "check-abi: the header and the library's exports differ: every function of"
	echo "  $(basename "$header") must be implemented and listed in lib/libddlp.sym"
fi
if [ "$abi_fail" -ne 0 ]; then
	echo "check-abi: the ABI differs from the baseline.  If the change is intended:"
	echo "  change -version-info as the README says (Versions and ABI), then make abi-baseline"
fi
if [ "$fail" -ne 0 ]; then
	echo "check-abi: FAILED ($n exported functions)"
	exit 1
fi
echo "check-abi: OK: $n exported functions, $(wc -l <"$tmp/added") added since the baseline, nothing removed or changed"
