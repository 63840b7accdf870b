#!/bin/sh
# The public header compiles alone as strict C99 (and as C++ where a C++
# compiler is installed).
set -u
srcdir=${srcdir:-.}
CC=${CC:-cc}
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
printf '#include <ddlp.h>\nint main(void) { return ddlp_version() == 0; }\n' >"$tmp/h.c"
if $CC -std=c99 -pedantic -Werror -Wall -Wextra -I"$srcdir/include" -c "$tmp/h.c" -o "$tmp/h.o"; then
	echo "PASS: ddlp.h compiles with -std=c99 -pedantic -Werror"; pass=$((pass + 1))
else
	echo "FAIL: ddlp.h does not compile with -std=c99 -pedantic -Werror"; fail=$((fail + 1))
fi
if command -v "${CXX:-g++}" >/dev/null 2>&1; then
	cp "$tmp/h.c" "$tmp/h.cc"
	if "${CXX:-g++}" -std=c++11 -pedantic -Werror -Wall -I"$srcdir/include" -c "$tmp/h.cc" -o "$tmp/hcc.o" &&
	   nm "$tmp/hcc.o" | grep -q ' U ddlp_version$'; then
		echo "PASS: ddlp.h compiles as C++ with C linkage"; pass=$((pass + 1))
	else
		echo "FAIL: ddlp.h as C++"; fail=$((fail + 1))
	fi
else
	echo "SKIP: no C++ compiler (${CXX:-g++}): C++ use of ddlp.h not checked"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
