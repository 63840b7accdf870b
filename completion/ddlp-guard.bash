# bash completion for ddlp-guard(1)                         -*- shell-script -*-
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Completes the options, the drives of -d/--device and the command with its
# own completion.  Built on ddlp-lock's completion (installed beside this
# one, in the same package), which it loads.

# (ddlp-lock.bash first: the name in the source tree, where a copy named
# ddlp-lock may be a stale build product)
declare -F _ddlp_lock_words >/dev/null ||
	. "${BASH_SOURCE[0]%/*}/ddlp-lock.bash" 2>/dev/null ||
	. "${BASH_SOURCE[0]%/*}/ddlp-lock" 2>/dev/null

_ddlp_guard()
{
	local cur prev words cword
	_ddlp_lock_words || return

	case $prev in
	-w | --timeout)
		return 0 # seconds
		;;
	-d | --device)
		_ddlp_lock_drives "$cur"
		return 0
		;;
	esac

	# the first word that is not an option (or follows --) is the command
	local i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-w | --timeout | -d | --device) ((i++)) ;;
		--)
			_ddlp_lock_command $((i + 1))
			return 0
			;;
		-*) ;;
		*)
			_ddlp_lock_command "$i"
			return 0
			;;
		esac
	done
	if [[ $cur == -* ]]; then
		_ddlp_lock_add -W '-w -n -d -v -q -h -V --timeout --nonblock --device
			--strict --no-reprobe --all-paths --verbose --quiet --help --version' -- "$cur"
	else
		_ddlp_lock_add -c -- "$cur"
	fi
	return 0
} &&
	declare -F _ddlp_lock_words >/dev/null &&
	complete -F _ddlp_guard ddlp-guard

# ex: filetype=sh
