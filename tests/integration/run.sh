#!/bin/sh
# Runs every test_* function of tests/integration/t_*.sh and
# tests/security/t_*.sh (or the files given) against the real binary, each in
# a subshell with its own scratch dir and store. Prints one line per test and a
# final "label: N passed, N failed" line; exits non-zero on any failure.
# Usage: run.sh LABEL [FILES...]
# Env: WSBOX, ROOTFS, BUILD; T=NAME runs one suite (t_cache), one test
# (t_cache:test_x) or every test of that function name (test_x);
# TEST_FILTER=REGEX runs the tests whose "suite:test" name matches.
set -u
LABEL=$1; shift
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- "$HERE"/t_*.sh "$HERE"/../security/t_*.sh
ONLY=${T:-}
pass=0; failn=0; skip=0
TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/wsbox-it.XXXXXX")
chmod 755 "$TMPROOT"
echo "scratch dir: $TMPROOT" # tests/run.sh checks that it is gone at the end

# selected SUITE TEST: whether T and TEST_FILTER let SUITE:TEST run.
selected() {
	case "$ONLY" in
	"" | "$1" | "$2" | "$1:$2") ;;
	*) return 1 ;;
	esac
	[ -z "${TEST_FILTER:-}" ] || printf '%s:%s\n' "$1" "$2" | grep -qE -- "$TEST_FILTER"
}

# scrub DIR: remove a test's scratch dir. Published layers are read-only and
# overlay's work/work dir has mode 0, so give the owner rwx back first.
scrub() {
	chmod -R u+rwx "$1" 2>/dev/null
	rm -rf "$1" 2>/dev/null
}

for f in "$@"; do
	[ -f "$f" ] || continue
	suite=$(basename "$f" .sh)
	for t in $(sed -n 's/^\(test_[A-Za-z0-9_]*\)[[:space:]]*(.*/\1/p' "$f"); do
		selected "$suite" "$t" || continue
		T="$TMPROOT/$t"; mkdir -p "$T"
		STORE="$T/store"
		# Each test in its own subshell: a failed assertion's `exit 1`
		# (tests/integration/lib.sh) ends that test only.
		(
			. "$HERE/lib.sh"
			. "$f"
			cd "$T" || exit 1
			"$t"
		) >"$TMPROOT/$t.log" 2>&1
		rc=$?
		name="$suite:$t"
		if [ $rc -eq 0 ]; then
			pass=$((pass + 1)); echo "ok   $name"
		elif [ $rc -eq 77 ]; then
			skip=$((skip + 1)); echo "skip $name: $(tail -n 1 "$TMPROOT/$t.log")"
		else
			failn=$((failn + 1)); echo "FAIL $name"; sed 's/^/    /' "$TMPROOT/$t.log" | tail -n 15
		fi
		scrub "$T"
		if [ -e "$T" ]; then
			failn=$((failn + 1)); echo "FAIL $name: scratch dir $T not removable"
		fi
		rm -f "$TMPROOT/$t.log"
	done
done
scrub "$TMPROOT"
# make test leaves nothing in /tmp: this run's dir must be gone.
if [ -e "$TMPROOT" ]; then
	failn=$((failn + 1)); echo "FAIL cleanup: $TMPROOT left behind"
fi
echo "$LABEL: $pass passed, $failn failed, $skip skipped"
[ $failn -eq 0 ]
