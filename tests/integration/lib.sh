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

# Root mode across host ids and runs (t_tenant, t_idrange, t_rootmode): a
# task kept running in the background, then probed from the host or from
# another task. Each starter adds the wsbox pid to $SLEEPERS; the test ends
# them with `trap stop_sleepers EXIT` (set before starting, with any other
# clean-up of its own after it).
#
# start_sleeper [exec options...]: exec `sleep` (60 s at most, uncached)
# on the test rootfs with the options given and wait until it runs;
# $SLEEPER_PID is the task's host pid.
start_sleeper() {
	secs=$(uniq_secs 60)
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --no-cache "$@" -- sleep "$secs" \
		</dev/null >/dev/null 2>&1 &
	SLEEPERS="${SLEEPERS:-} $!"
	SLEEPER_PID=$(wait_sleep_pid "$secs") || fail "the task ($*) never started"
}
# wait_sleep_pid SECS: print the host pid of the task process `sleep SECS`
# once it runs; status 1 after 20 s without it.
wait_sleep_pid() {
	_i=0
	while ! pgrep -f -x "sleep $1"; do
		_i=$((_i + 1)); [ $_i -lt 200 ] || return 1
		sleep 0.1
	done
}
# start_in_upper SCRIPT [exec options...]: exec `sh -c SCRIPT`, then a
# marker file and 60 s of sleep, with the options given; wait until the
# marker is in its upper dir, which is then $UPPER.
start_in_upper() {
	script=$1
	shift
	"$WSBOX" exec --store "$STORE" --timeout 60 "$@" -- \
		sh -c "$script; touch ready; sleep 60" </dev/null >/dev/null 2>&1 &
	SLEEPERS="${SLEEPERS:-} $!"
	i=0
	while [ -z "$(find "$STORE/staging" -name ready 2>/dev/null)" ]; do
		i=$((i + 1)); [ $i -lt 200 ] || fail "the task ($*) never started"
		sleep 0.1
	done
	UPPER=$(dirname "$(find "$STORE/staging" -name ready | head -n 1)")
}
# stop_sleepers: end them now and wait for their wsbox processes.
stop_sleepers() {
	# shellcheck disable=SC2086
	kill ${SLEEPERS:-} 2>/dev/null
	wait
	SLEEPERS=
}
# as UID CMD...: CMD as host uid/gid UID with no groups; its output in
# $T/as.out (stdout and stderr), its status in $AS_RC.
as() {
	u=$1
	shift
	AS_RC=0
	# Through sh: setpriv's own execve still holds root's capabilities
	# (they go at that exec), so it would open a path no such user can.
	setpriv --reuid "$u" --regid "$u" --clear-groups -- sh -c 'exec "$@"' sh "$@" \
		>"$T/as.out" 2>&1 </dev/null || AS_RC=$?
}
# The command as UID failed with "Permission denied".
assert_as_denied() { # WHAT
	[ "$AS_RC" != 0 ] || fail "$1: succeeded: $(head -c 300 "$T/as.out")"
	grep -q "Permission denied" "$T/as.out" ||
		fail "$1: not EACCES: $(head -c 300 "$T/as.out")"
}
# Host id UID may not signal host pid PID (EPERM) nor read its environ.
assert_cannot_signal() { # UID PID WHAT
	as "$1" kill -0 "$2"
	[ "$AS_RC" != 0 ] || fail "$3: signalled pid $2 as uid $1"
	grep -q "Operation not permitted" "$T/as.out" ||
		fail "$3: kill: not EPERM: $(cat "$T/as.out")"
	as "$1" cat "/proc/$2/environ"
	assert_as_denied "$3: read the environ of pid $2 as uid $1"
}
