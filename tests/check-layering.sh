#!/bin/sh
# tests/check-layering.sh: the include direction of the tree (README
# "Design"): cli -> layers -> util, sandbox -> util, never back. Reads every
# `#include "..."` line of the C sources and prints each back-edge as
# `file:line: includes X (rule)`; exits 1 when there is one.
#   layers/        only layers/ and sandbox/util/
#   sandbox/util/  only sandbox/util/
#   kernel side (sandbox/*.c|h outside cli/ and util/, init/, policy/)
#                  never layers/ nor sandbox/cli/
#   sandbox/cli/   anything
cd "$(dirname "$0")/.." || exit 2
out=$(find layers sandbox init policy -name '*.[ch]' | sort |
while read -r f; do
	case "$f" in
	sandbox/cli/*) continue ;;
	layers/*)
		allow='layers/ sandbox/util/'
		rule='layers/ may include only layers/ and sandbox/util/' ;;
	sandbox/util/*)
		allow='sandbox/util/'
		rule='sandbox/util/ may include only sandbox/util/' ;;
	*)
		allow=''
		rule='the kernel side may not include layers/ nor sandbox/cli/' ;;
	esac
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
	while IFS= read -r hit; do
		line=${hit%%:*}
		inc=$(printf '%s\n' "$hit" | sed 's/^[^"]*"\([^"]*\)".*/\1/')
		ok=
		if [ -n "$allow" ]; then
			for a in $allow; do
				case "$inc" in "$a"*) ok=1 ;; esac
			done
		else
			case "$inc" in layers/* | sandbox/cli/*) ;; *) ok=1 ;; esac
		fi
		[ -n "$ok" ] || echo "$f:$line: includes $inc ($rule)"
	done
done)
[ -z "$out" ] && exit 0
printf '%s\n' "$out"
exit 1
