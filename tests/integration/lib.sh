# Helpers shared by the integration and security suites. Sourced by
# tests/integration/run.sh; every test_* function runs in its own subshell
# with a fresh $T (scratch dir) and $STORE. A failed assertion (the assert_*
# helpers, fail) prints why and ends the test there with `exit 1`, also from
# inside a helper function, so a later check can never mask it. Inside a
# command substitution `$( )` or a pipeline, exit only leaves that subshell:
# propagate with `x=$(helper) || exit 1`.
#
# Environment given by the runner: WSBOX (binary), ROOTFS (busybox rootfs
# with /probe), BUILD.

fail() { echo "    $*" >&2; exit 1; }

# A number unique to this test, for sleep arguments that pgrep looks for:
# other test runs on the machine must not be mistaken for ours.
uniq_secs() { # BASE -> BASE.<random digits>
	echo "$1.$(od -An -N4 -tu4 /dev/urandom | tr -d ' \n')"
}

# ws ARGS...: run wsbox with the per-test store; stdout/stderr to $T/out,
# $T/err; exit status in $RC (never aborts the test by itself).
ws() {
	RC=0
	"$WSBOX" "$@" >"$T/out" 2>"$T/err" </dev/null || RC=$?
	return 0
}

# wsx RUN TASK [exec options...] -- CMD...: exec on the test rootfs.
wsx() {
	ws exec --store "$STORE" --rootfs "$ROOTFS" "$@"
}

assert_rc() { # expected
	[ "$RC" = "$1" ] || fail "expected exit $1, got $RC; stderr: $(head -c 400 "$T/err")"
}
assert_eq() { # actual expected [what]
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
}
assert_out() { # expected stdout (exact)
	assert_eq "$(cat "$T/out")" "$1" stdout
}
assert_err_has() { # substring of stderr
	grep -qF -- "$1" "$T/err" || fail "stderr lacks '$1': $(head -c 400 "$T/err")"
}
assert_out_has() {
	grep -qF -- "$1" "$T/out" || fail "stdout lacks '$1': $(head -c 400 "$T/out")"
}
assert_file() { [ -e "$1" ] || fail "missing $1"; }
assert_no_file() { [ ! -e "$1" ] || fail "unexpected $1"; }
# The store holds no run records (used after refused execs).
assert_store_clean() {
	if [ -d "$STORE/runs" ] && [ -n "$(ls -A "$STORE/runs" 2>/dev/null)" ]; then
		fail "store has runs after a refused exec: $(ls "$STORE/runs")"
	fi
}
