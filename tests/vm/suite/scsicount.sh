# Counting the SCSI commands that reach one drive (sourced by the guest
# scripts that count them: quiet.sh, guard.sh).  The tracefs event
# scsi:scsi_dispatch_cmd_start, filtered to the drive's H:C:T:L, with the
# kernel's media polling off for every sr drive meanwhile.
#
#   scsi_count_setup H:C:T:L   once, before the first window (status 1
#                              when tracefs or the event is not there)
#   scsi_count_begin           a window opens: the buffer is emptied
#   scsi_count_end             it closes: COUNT = commands since begin
#   scsi_count_teardown        once, at the end (an EXIT trap): every
#                              file written is put back as it was
#
# The event is switched on once and off once; a window only switches the
# ring buffer (tracing_on), which patches nothing.  Switching an event
# flips static keys, and the kernel does that by writing int3 breakpoints
# into its own running text; with options/record-cmd on (the default) it
# also hooks the sched_switch tracepoint inside __schedule().  Under qemu's
# TCG with two vCPUs, doing that twice per window livelocked the guest now
# and then: both vCPUs went round between __schedule+0x1bc (a patched
# 5-byte nop) and exc_int3 for good (quiet.sh, about one run in three).
# So record-cmd and record-tgid are off while we count (the count needs no
# command names) and nothing is switched between windows.
SC_T=/sys/kernel/tracing
SC_EV=$SC_T/events/scsi/scsi_dispatch_cmd_start
_sc_saved=()
_sc_on=0

_sc_set() { # FILE VALUE: remember what FILE holds, then write VALUE to it
	local old
	old=$(cat "$1" 2>/dev/null) || return 1
	echo "$2" >"$1" || return 1
	_sc_saved+=("$1=$old")
}

scsi_count_setup() {
	local h c t l f
	mountpoint -q "$SC_T" 2>/dev/null || mount -t tracefs nodev "$SC_T" 2>/dev/null
	[ -w "$SC_EV/enable" ] || return 1
	IFS=: read -r h c t l <<<"$1"
	_sc_set "$SC_T/tracing_on" 0 || return 1
	# before the event is on: changed with an event on, they hook or
	# unhook sched_switch at once
	_sc_set "$SC_T/options/record-cmd" 0 || return 1
	_sc_set "$SC_T/options/record-tgid" 0 || return 1
	for f in /sys/block/sr*/events_poll_msecs; do
		[ -e "$f" ] && _sc_set "$f" 0
	done
	echo "host_no == $h && channel == $c && id == $t && lun == $l" >"$SC_EV/filter" || return 1
	echo 1 >"$SC_EV/enable" || return 1
	_sc_on=1
}

scsi_count_begin() {
	echo 0 >"$SC_T/tracing_on"
	: >"$SC_T/trace"
	echo 1 >"$SC_T/tracing_on"
}

scsi_count_end() { # -> COUNT
	echo 0 >"$SC_T/tracing_on"
	COUNT=$(grep -c scsi_dispatch_cmd_start "$SC_T/trace")
}

scsi_count_teardown() {
	local i e
	if [ "$_sc_on" = 1 ]; then
		echo 0 >"$SC_EV/enable"
		echo 0 >"$SC_EV/filter"
		: >"$SC_T/trace"
		_sc_on=0
	fi
	# the event is off: record-cmd goes back without hooking anything
	for ((i = ${#_sc_saved[@]} - 1; i >= 0; i--)); do
		e=${_sc_saved[i]}
		echo "${e#*=}" >"${e%%=*}" 2>/dev/null
	done
	_sc_saved=()
}
