# The setup the ddlp-lock(1) test scripts share (tests/test-cli.sh,
# tests/test-cli-hostile.sh), sourced by them:
#
#   cli_setup NAME PROG...
#
# SKIPs (exit 77) unless root and every PROG is found; sets builddir,
# tool (the built ddlp-lock), tmp (a temporary directory, mode 755 so that
# an unprivileged user reaches the nodes in it), the arrays loops (loop
# devices to detach) and bg_pids (processes to kill and reap), and a trap
# that cleans all of them up on exit.  Also pass, fail and skip, which
# count into npass and nfail, and wait_file, hold and release (a ddlp-lock
# holder that lets go when told).

cli_setup() {
	local name=$1 prog
	shift
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: needs root (loop devices, mknod)"
		exit 77
	fi
	for prog in "$@"; do
		if ! command -v "$prog" >/dev/null 2>&1; then
			echo "SKIP: $prog not found"
			exit 77
		fi
	done
	builddir=${abs_top_builddir:-${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}}
	tool=$builddir/src/ddlp-lock
	if [ ! -x "$tool" ]; then
		echo "FAIL: $tool not built"
		echo "0 passed, 1 failed"
		exit 1
	fi
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX") || exit 99
	chmod 755 "$tmp"
	loops=()
	bg_pids=()
	trap cli_cleanup EXIT
	trap 'exit 99' INT TERM HUP
	npass=0
	nfail=0
}

cli_cleanup() {
	local p l
	for p in "${bg_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${bg_pids[@]}"; do
		wait "$p" 2>/dev/null
	done
	for l in "${loops[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
	rm -rf "$tmp"
}

# wait_file FILE: wait until FILE exists (limit 30 s, against hangs only)
wait_file() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# hold NAME ARGS...: start "ddlp-lock ARGS DEVICE" (ARGS end with the
# device) holding until $tmp/NAME.release exists; sets holder
hold() {
	local name=$1
	shift
	hold_with "$name" "$tool" "$@"
}

# hold_with NAME PROG ARGS...: the same with another locker (flock -x DEV)
hold_with() {
	local name=$1
	shift
	rm -f "$tmp/$name.ready" "$tmp/$name.release"
	"$@" sh -c "touch '$tmp/$name.ready'; while [ ! -e '$tmp/$name.release' ]; do sleep 0.05; done" &
	holder=$!
	bg_pids+=("$holder")
	if ! wait_file "$tmp/$name.ready"; then
		fail "$name: the holder did not start"
		return 1
	fi
	return 0
}

# release NAME PID: let a holder go and wait for it; sets hrc
release() {
	touch "$tmp/$1.release"
	wait "$2"
	hrc=$?
}

pass() { echo "PASS: $*"; npass=$((npass + 1)); }
fail() { echo "FAIL: $*"; nfail=$((nfail + 1)); }
skip() { echo "SKIP: $*"; }
