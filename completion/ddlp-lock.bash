# bash completion for ddlp-lock(1)                          -*- shell-script -*-
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Completes the options, drive names (/dev/sr*, /dev/sg*, /dev/cdrom*,
# /dev/dvd*, /dev/bsg/*, the H:C:T:L addresses of optical drives, and any
# file: an alias node, a symlink such as /dev/disk/by-id/...), the column
# names of --output (a comma-separated list), and the command after the
# drives.

# The columns of --resolve, --status and --list (ddlp-lock --help); the
# node columns are for --resolve only.
_ddlp_lock_drive_columns='DEVICE ID PERSISTENT SYSPATH NODES STATE HOLDERS HOLDER HOLDER-PID USERS UNLOCKED UNSEEN'
_ddlp_lock_node_columns='PATH KIND MAJ:MIN EXCL NAMED ALIAS'

# _ddlp_lock_columns CUR ACTION: complete the last name of a list of
# columns (CUR may begin with + and hold names already chosen)
_ddlp_lock_columns()
{
	local cur=$1 action=$2 last prefix col cols=$_ddlp_lock_drive_columns
	[[ $action == resolve || $action == lock ]] && cols="$cols $_ddlp_lock_node_columns"
	last=${cur##*[,+]}
	prefix=${cur%"$last"}
	for col in $cols; do
		[[ ,${prefix#+}, == *,"$col",* ]] && continue
		[[ $col == "${last^^}"* ]] && COMPREPLY+=("$prefix$col")
	done
	compopt -o nospace 2>/dev/null
	return 0
}

# _ddlp_lock_add ARGS...: append what "compgen ARGS" prints to COMPREPLY
_ddlp_lock_add()
{
	local line
	while IFS= read -r line; do
		COMPREPLY+=("$line")
	done < <(compgen "$@")
}

_ddlp_lock_drives()
{
	local cur=$1 d t

	for d in /dev/sr* /dev/sg* /dev/cdrom* /dev/cdrw* /dev/dvd* /dev/dvdrw* /dev/bsg/*; do
		[[ -e $d && $d == "$cur"* ]] && COMPREPLY+=("$d")
	done
	for t in /sys/bus/scsi/devices/*:*/type; do
		[[ -r $t && $(<"$t") == 5 ]] || continue
		d=${t%/type}
		d=${d##*/}
		[[ $d == "$cur"* ]] && COMPREPLY+=("$d")
	done
	_ddlp_lock_add -f -- "$cur"
	# a directory is completed with its slash, and further
	compopt -o filenames 2>/dev/null
	return 0
}

# _ddlp_lock_words: the caller's cur, prev, words and cword (its locals),
# through bash-completion where it is loaded; COMPREPLY emptied
_ddlp_lock_words()
{
	COMPREPLY=()
	if declare -F _init_completion >/dev/null; then
		_init_completion -n : || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi
}

# _ddlp_lock_command AT: the command that starts at word AT, and its
# arguments, with the command's own completion where there is one
_ddlp_lock_command()
{
	if declare -F _command_offset >/dev/null; then
		_command_offset "$1"
	elif (($1 == cword)); then
		_ddlp_lock_add -c -- "$cur"
	else
		_ddlp_lock_add -f -- "$cur"
	fi
}

_ddlp_lock()
{
	local cur prev words cword
	_ddlp_lock_words || return

	local opts='-x -e -s -n -w -E -c -o -v -q -h -V -J
		--exclusive --shared --nonblock --nb --timeout --wait
		--conflict-exit-code --command --close --verbose --quiet --silent
		--help --version --json --resolve --status --list --partial
		--no-reprobe --wait-unused --output --output-all --noheadings --raw'
	local outopts='-J --json --output --output-all --noheadings --raw -v --verbose'

	case $prev in
	-w | --timeout | --wait | -E | --conflict-exit-code)
		return 0 # a number
		;;
	-c | --command)
		_ddlp_lock_add -c -- "$cur"
		return 0
		;;
	--output)
		local w a=lock
		for w in "${words[@]:1:cword}"; do
			case $w in --resolve) a=resolve ;; --status) a=status ;; --list) a=list ;; esac
		done
		_ddlp_lock_columns "$cur" "$a"
		return 0
		;;
	esac

	# Walk the words before the cursor: options, the first DEVICE, then
	# "-s DEVICE" / "-x DEVICE" pairs, an optional "--", then the command.
	local i w action=lock device_seen=0 cmd_at=-1
	for ((i = 1; i < cword && cmd_at < 0; i++)); do
		w=${words[i]}
		if ((device_seen == 0)); then
			case $w in
			--resolve) action=resolve ;;
			--status) action=status ;;
			--list) action=list ;;
			-w | --timeout | --wait | -E | --conflict-exit-code | -c | --command | --output) ((i++)) ;;
			-*) ;;
			*) device_seen=1 ;;
			esac
			continue
		fi
		[[ $action == lock ]] || continue
		case $w in
		-s | -x | -e | --shared | --exclusive) ((i++)) ;; # and its DEVICE
		--) cmd_at=$((i + 1)) ;;
		-c | --command) return 0 ;; # the one command line follows
		*) cmd_at=$i ;;
		esac
	done

	case $action in
	list)
		[[ $cur == -* ]] && _ddlp_lock_add -W "$outopts" -- "$cur"
		return 0
		;;
	resolve)
		((device_seen)) && return 0
		;;
	esac

	if ((cmd_at >= 0)); then
		_ddlp_lock_command "$cmd_at"
		return 0
	fi

	if ((device_seen == 0)); then
		if [[ $cur == -* ]]; then
			_ddlp_lock_add -W "$opts" -- "$cur"
		else
			_ddlp_lock_drives "$cur"
		fi
		return 0
	fi

	# after the first DEVICE
	if [[ $action == status ]]; then
		if [[ $cur == -* ]]; then
			_ddlp_lock_add -W "$outopts" -- "$cur"
		else
			_ddlp_lock_drives "$cur"
		fi
		return 0
	fi
	case $prev in
	-s | -x | -e | --shared | --exclusive)
		_ddlp_lock_drives "$cur"
		return 0
		;;
	esac
	if [[ $cur == -* ]]; then
		_ddlp_lock_add -W '-s -x -c --' -- "$cur"
	else
		_ddlp_lock_add -c -- "$cur"
	fi
	return 0
} &&
	complete -F _ddlp_lock ddlp-lock

# ex: filetype=sh
