#!/bin/sh
# Runs each cmocka unit-test binary given and prints its output and one
# "LABEL: N passed, N failed" line counting the cmocka tests (a binary that
# ends without cmocka's summary counts as one failure).
# Usage: run.sh BIN...   Env: UNIT_LABEL (default "unit"); T=NAME runs one
# binary (test_store), one of its tests (test_store:test_x) or every unit
# test of that name (test_x); TEST_FILTER=REGEX runs the tests whose
# "binary:test" name matches (tests/unit/fixture.c reads it).
set -u
ONLY=${T:-}
pass=0; failn=0
for b in "$@"; do
	bn=$(basename "$b")
	one=
	case "$ONLY" in
	"" | "$bn") ;;
	"$bn":*) one=${ONLY#*:} ;;
	t_* | *:*) continue ;; # a shell suite or another binary's test
	*) one=$ONLY ;;
	esac
	out=$(WSBOX_UNIT_ONLY=$one "$b" 2>&1); echo "$out"
	# cmocka's summary: "[  PASSED  ] N test(s)." and, when some failed,
	# "[  FAILED  ] N test(s), listed below:" (each failed test's own
	# "[  FAILED  ] name" line appears twice, so those are not counted).
	p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\.$/\1/p')
	f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:$/\1/p')
	if [ -z "$p" ]; then
		failn=$((failn + 1)); echo "FAIL unit binary $b: no cmocka summary"
		continue
	fi
	pass=$((pass + p)); failn=$((failn + ${f:-0}))
done
echo "${UNIT_LABEL:-unit}: $pass passed, $failn failed"
[ $failn -eq 0 ]
