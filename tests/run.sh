#!/bin/sh
# `make test`: unit tests, then the integration + security suites against the
# real binary as the invoking user and, when that is root, once more as an
# unprivileged user (rootless is the main use). Ends with one summary line.
# Usage: tests/run.sh BUILD UNIT_BIN...
set -u
BUILD=$1; shift
TOP=$(pwd)
case $BUILD in /*) BUILD_ABS=$BUILD ;; *) BUILD_ABS="$TOP/$BUILD" ;; esac
total_pass=0; total_fail=0
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/wsbox-test.XXXXXX")

# Run a suite, echo its output, and add its "label: N passed, N failed" line
# to the totals (a suite that dies without a summary counts as one failure).
tally() {
	log="$LOGDIR/$1.log"; shift
	"$@" 2>&1 | tee "$log"
	line=$(grep -E '^[a-z -]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		total_fail=$((total_fail + 1)); echo "(suite gave no summary: counted as 1 failure)"; return
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
}

# Unit tests: count cmocka's per-test results.
unit_suite() {
	p=0; f=0
	for b in "$@"; do
		out=$("$b" 2>&1); echo "$out"
		p=$((p + $(echo "$out" | grep -c '^\[       OK \]')))
		f=$((f + $(echo "$out" | grep -c '^\[  FAILED  \] [^0-9]')))
		if ! echo "$out" | grep -q '^\[  PASSED  \]\|^\[  FAILED  \]'; then f=$((f + 1)); fi
	done
	echo "unit: $p passed, $f failed"
}
tally unit unit_suite "$@"

BIN=${WSBOX_BIN:-$TOP/wsbox}
export WSBOX="$BIN" ROOTFS="$BUILD_ABS/rootfs" BUILD="$BUILD_ABS"
tally "integration-$(id -un)" sh tests/integration/run.sh "integration as $(id -un)"

if [ "$(id -u)" = 0 ]; then
	# Rootless pass: a plain user with its own copy of the binary, rootfs and
	# tests in a world-readable place (the checkout may sit under /root).
	U=${WSBOX_TEST_USER:-wsbox-test}
	id "$U" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$U"
	STAGE=$(mktemp -d /tmp/wsbox-rootless.XXXXXX)
	cp "$BIN" "$STAGE/wsbox"
	cp -a "$TOP/tests" "$STAGE/tests"
	cp -a "$TOP/policy" "$STAGE/policy"
	cp -a "$BUILD_ABS/rootfs" "$STAGE/rootfs"
	chmod -R a+rX "$STAGE"
	chown -R "$U" "$STAGE"
	tally "integration-$U" setpriv --reuid="$U" --regid="$U" --init-groups --reset-env \
		env WSBOX="$STAGE/wsbox" ROOTFS="$STAGE/rootfs" BUILD="$STAGE" \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin TMPDIR=/tmp ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
		sh "$STAGE/tests/integration/run.sh" "integration as unprivileged $U"
	rm -rf "$STAGE"
fi
rm -rf "$LOGDIR"
echo
echo "wsbox tests: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
