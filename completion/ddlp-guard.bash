# bash completion for ddlp-guard(1)                         -*- shell-script -*-
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Completes the options, the drives of -d/--device (as ddlp-lock's
# completion does: it is loaded for them) and the command with its own
# completion.

# ddlp-lock's completion, installed beside this one, knows the drives
declare -F _ddlp_lock_drives >/dev/null ||
	. "${BASH_SOURCE[0]%/*}/ddlp-lock" 2>/dev/null ||
	. "${BASH_SOURCE[0]%/*}/ddlp-lock.bash" 2>/dev/null

_ddlp_guard()
{
	local cur prev words cword
	COMPREPLY=()
	if declare -F _init_completion >/dev/null; then
		_init_completion -n : || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local opts='-w -n -d -v -q -h -V --timeout --nonblock --device --strict
		--no-reprobe --all-paths --verbose --quiet --help --version'

	case $prev in
	-w | --timeout)
		return 0 # seconds
		;;
	-d | --device)
		if declare -F _ddlp_lock_drives >/dev/null; then
			_ddlp_lock_drives "$cur"
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return 0
		;;
	esac

	# the first word that is not an option (or follows --) is the command
	local i cmd_at=-1
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-w | --timeout | -d | --device) ((i++)) ;;
		--) cmd_at=$((i + 1)); break ;;
		-*) ;;
		*) cmd_at=$i; break ;;
		esac
	done
	if ((cmd_at >= 0)); then
		if declare -F _command_offset >/dev/null; then
			_command_offset "$cmd_at"
		elif ((cmd_at == cword)); then
			COMPREPLY=($(compgen -c -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return 0
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	else
		COMPREPLY=($(compgen -c -- "$cur"))
	fi
	return 0
} &&
	complete -F _ddlp_guard ddlp-guard

# ex: filetype=sh
