#!/bin/sh
# Runs every test_* function of tests/integration/t_*.sh and
# tests/security/t_*.sh (or the files given) against the real binary, each in
# a subshell with its own scratch dir and store. Prints one line per test and a
# final "label: N passed, N failed" line; exits non-zero on any failure.
# Usage: run.sh LABEL [FILES...]   (env: WSBOX, ROOTFS, BUILD, TEST_FILTER)
set -u
LABEL=$1; shift
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- "$HERE"/t_*.sh "$HERE"/../security/t_*.sh
pass=0; failn=0; skip=0
TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/wsbox-it.XXXXXX")
chmod 755 "$TMPROOT"
for f in "$@"; do
	[ -f "$f" ] || continue
	for t in $(sed -n 's/^\(test_[A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' "$f"); do
		case "$t" in *${TEST_FILTER:-}*) ;; *) continue ;; esac
		T="$TMPROOT/$t"; mkdir -p "$T"
		STORE="$T/store"
		(
			. "$HERE/lib.sh"
			. "$f"
			cd "$T" || exit 1
			"$t"
		) >"$T/log" 2>&1
		rc=$?
		name="$(basename "$f" .sh):$t"
		if [ $rc -eq 0 ]; then
			pass=$((pass + 1)); echo "ok   $name"
		elif [ $rc -eq 77 ]; then
			skip=$((skip + 1)); echo "skip $name: $(tail -n 1 "$T/log")"
		else
			failn=$((failn + 1)); echo "FAIL $name"; sed 's/^/    /' "$T/log" | tail -n 15
		fi
	done
done
# Published layers are read-only; make them removable.
chmod -R u+w "$TMPROOT" 2>/dev/null; rm -rf "$TMPROOT" 2>/dev/null
echo "$LABEL: $pass passed, $failn failed, $skip skipped"
[ $failn -eq 0 ]
