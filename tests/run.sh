#!/bin/sh
# `make test`: unit tests, then the integration + security suites against the
# real binary as the invoking user and, when that is root, all of it once more
# as an unprivileged user (rootless is the main use). Ends with one summary
# line and fails if the run left a scratch dir in /tmp.
# Usage: tests/run.sh [--no-unit] BUILD UNIT_BIN...
# Env: T=NAME and TEST_FILTER=REGEX select tests (tests/README.md).
set -u
UNIT=1
[ "${1:-}" != --no-unit ] || { UNIT=; shift; }
BUILD=$1; shift
TOP=$(pwd)
case $BUILD in /*) BUILD_ABS=$BUILD ;; *) BUILD_ABS="$TOP/$BUILD" ;; esac
total_pass=0; total_fail=0
mine= # the dirs this run made in /tmp
TMP=${TMPDIR:-/tmp}
LOGDIR=$(mktemp -d "$TMP/wsbox-test.XXXXXX")

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

[ -z "$UNIT" ] || tally unit env UNIT_LABEL="unit as $(id -un)" sh tests/unit/run.sh "$@"

BIN=${WSBOX_BIN:-$TOP/wsbox}
export WSBOX="$BIN" ROOTFS="$BUILD_ABS/rootfs" BUILD="$BUILD_ABS"
# fuse-overlayfs needs a /dev/fuse the sandbox's ids can open; stock hosts
# have it 0666, this CI's is root-only (README "Strategies").
if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ]; then chmod 666 /dev/fuse; fi
# The workspace suite once more under each strategy other than the one auto
# picks here (README "Strategies"): same tests, same expectations.
STRATEGY_SUITE=tests/integration/t_workspace.sh
STRATEGIES="fuse-overlayfs copy"
tally "integration-$(id -un)" sh tests/integration/run.sh "integration as $(id -un)"
for s in $STRATEGIES; do
	tally "workspace-$s-$(id -un)" env WSBOX_STRATEGY="$s" \
		sh tests/integration/run.sh "workspace with $s as $(id -un)" "$TOP/$STRATEGY_SUITE"
done

if [ "$(id -u)" = 0 ]; then
	# Rootless pass: a plain user with its own copy of the binaries, rootfs
	# and tests in a world-readable place (the checkout may sit under /root).
	U=${WSBOX_TEST_USER:-wsbox-test}
	id "$U" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$U"
	STAGE=$(mktemp -d "$TMP/wsbox-rootless.XXXXXX")
	cp "$BIN" "$STAGE/wsbox"
	cp -a "$TOP/tests" "$STAGE/tests"
	# The registry suite's driver (make test builds it).
	[ ! -e "$BUILD_ABS/tests/remote_drive" ] || cp "$BUILD_ABS/tests/remote_drive" "$STAGE/tests/"
	cp -a "$TOP/policy" "$STAGE/policy"
	# The engine examples t_engines.sh drives.
	cp -a "$TOP/contrib" "$STAGE/contrib"
	cp -a "$BUILD_ABS/rootfs" "$STAGE/rootfs"
	mkdir "$STAGE/unit"
	for b in "$@"; do cp "$b" "$STAGE/unit/"; done
	chmod -R a+rX "$STAGE"
	chown -R "$U" "$STAGE"
	as_user() {
		setpriv --reuid="$U" --regid="$U" --init-groups --reset-env \
			env WSBOX="$STAGE/wsbox" ROOTFS="$STAGE/rootfs" BUILD="$STAGE" \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin TMPDIR=/tmp ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
			T="${T:-}" TEST_FILTER="${TEST_FILTER:-}" "$@"
	}
	if [ -n "$UNIT" ]; then
		set --
		for b in "$STAGE"/unit/*; do [ -e "$b" ] && set -- "$@" "$b"; done
		# From the copy of the checkout: some tests read tests/fuzz/regress.
		cd "$STAGE" || exit 1
		tally "unit-$U" as_user env UNIT_LABEL="unit as unprivileged $U" \
			sh "$STAGE/tests/unit/run.sh" "$@"
		cd "$TOP" || exit 1
	fi
	tally "integration-$U" as_user sh "$STAGE/tests/integration/run.sh" "integration as unprivileged $U"
	for s in $STRATEGIES; do
		tally "workspace-$s-$U" as_user env WSBOX_STRATEGY="$s" \
			sh "$STAGE/tests/integration/run.sh" \
			"workspace with $s as unprivileged $U" "$STAGE/$STRATEGY_SUITE"
	done
	rm -rf "$STAGE"
	mine="$mine $STAGE"
fi
# Nothing of this run may stay in /tmp (README "Tests"): the scratch dirs
# the integration runs named, the rootless stage, the logs.
mine="$mine $(sed -n 's/^scratch dir: //p' "$LOGDIR"/*.log)"
rm -rf "$LOGDIR"
for d in $mine "$LOGDIR"; do
	if [ -e "$d" ]; then
		total_fail=$((total_fail + 1)); echo "FAIL cleanup: $d left behind"
	fi
done
echo
echo "wsbox tests: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
