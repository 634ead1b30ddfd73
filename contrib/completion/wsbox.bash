# bash completion for wsbox(1); installed as
# $(PREFIX)/share/bash-completion/completions/wsbox by `make install`.
# Verbs and options follow `wsbox VERB --help` and docs/man/wsbox.1.

_wsbox()
{
	local cur prev verb
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	verb=${COMP_WORDS[1]}
	local verbs="exec attempt run import logs push pull doctor policy restore layers runs rootfs gc help version"

	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$verbs --help" -- "$cur"))
		return
	fi
	# Everything after `--` belongs to the task's command.
	local i
	for ((i = 2; i < COMP_CWORD; i++)); do
		if [ "${COMP_WORDS[i]}" = "--" ]; then
			COMPREPLY=($(compgen -c -- "$cur"))
			return
		fi
	done

	case $prev in
	--store | --rootfs | --to | --cwd | --cgroup-parent | --events | -o)
		COMPREPLY=($(compgen -d -- "$cur"))
		[ "$prev" = -o ] || [ "$prev" = --events ] &&
			COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--net)
		COMPREPLY=($(compgen -W "none host" -- "$cur"))
		return
		;;
	--policy)
		COMPREPLY=($(compgen -W "default strict permissive" -- "$cur") $(compgen -f -- "$cur"))
		return
		;;
	--strategy)
		COMPREPLY=($(compgen -W "auto overlay fuse-overlayfs copy" -- "$cur"))
		return
		;;
	--remote-compression)
		COMPREPLY=($(compgen -W "zstd gzip" -- "$cur"))
		return
		;;
	--run | --task | --parent | --save | --env | --env-pass | --uid | --gid | \
		--cache-key-extra | --remote | --owner-pid | --restart | -j | --jobs | \
		--hostname | --timeout | --memory | --pids | --cpus | --mutex | --quota | \
		--idmap-base | --tenant | --release-tenant | --max-layer-size | --max-log-size | \
		--name | --cache-max-bytes)
		return
		;;
	esac

	local words
	case $verb in
	exec)
		words="--store --run --task --parent --rootfs --ro --save --env
		       --env-pass --cwd --uid --gid --hostname --net --timeout
		       --memory --pids --cpus --quota --cgroup-parent --idmap-base --tenant
		       --no-cache --events --mutex --policy --max-layer-size --max-log-size
		       --strategy --keep-failed --cache-key-extra --remote
		       --remote-insecure --remote-compression --"
		;;
	doctor) words="--help" ;;
	policy) words="ls show check --help" ;;
	restore) words="--store --run --task --to --with-self --force --help" ;;
	layers) words="--store ls show verify export import -o --help" ;;
	runs) words="--store ls show rm --dot --json --help" ;;
	attempt) words="begin step commit abort --store --owner-pid --env --events --help" ;;
	run) words="-j --jobs --run --keep-going --restart --store --events --remote --help" ;;
	import) words="--store --run --task --help" ;;
	logs) words="--store --run --task --stdout --stderr --help" ;;
	push) words="--store --run --task --remote --help" ;;
	pull) words="--store --run --task --remote --help" ;;
	rootfs) words="--store import ls --name --help" ;;
	gc) words="--store --dry-run --cache-max-bytes --release-tenant --help" ;;
	esac
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
	case $verb in
	policy | layers | rootfs) [ "$prev" = check ] || [ "$prev" = import ] &&
		COMPREPLY+=($(compgen -f -- "$cur")) ;;
	run | import) COMPREPLY+=($(compgen -f -- "$cur")) ;;
	esac
}
complete -F _wsbox wsbox
