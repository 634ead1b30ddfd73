# Helpers for tests/security/t_*.sh, sourced by each file (run.sh sources
# tests/integration/lib.sh first). An attack runs `/probe attack NAME` in the
# sandbox; the probe prints one "WHAT: RESULT" line per step (see
# tests/probe/probe.c) and the test asserts each line exactly.

# attack NAME [ARGS]... [-- exec options]: runs the probe attack on the test
# rootfs with the default policy; output in $T/out, exit status in $RC.
# Extra exec options come from $ATTACK_OPTS (word-split on purpose).
attack() {
	# shellcheck disable=SC2086
	wsx ${ATTACK_OPTS:-} -- /probe attack "$@"
	[ "$RC" = 0 ] || fail "probe attack $*: exit $RC: $(head -c 400 "$T/err")"
}

# expect LINE...: each LINE is a whole line of $T/out.
expect() {
	for l in "$@"; do
		grep -qxF -- "$l" "$T/out" ||
			fail "missing '$l'; the attack printed:
$(sed 's/^/      /' "$T/out")"
	done
}

# refute PATTERN: no line of $T/out matches the extended regex.
refute() {
	if grep -qE -- "$1" "$T/out"; then
		fail "unexpected line(s) matching '$1':
$(grep -E -- "$1" "$T/out" | sed 's/^/      /')"
	fi
}

need_python3() {
	command -v python3 >/dev/null || { echo "no python3"; exit 77; }
}

# hold_start LINE [EXEC-OPTIONS] CMD...: `wsbox exec --no-cache` of CMD on
# the test rootfs in the background, its stdin a FIFO this shell keeps open
# (so the task holds what it took until hold_end), output in $T/hog and
# $T/hog-err; returns once a line starting with LINE shows (at most 60 s).
# hold_end closes the FIFO and waits; its status is the exec's.
hold_start() {
	line=$1
	shift
	mkfifo "$T/hold"
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --no-cache "$@" \
		<"$T/hold" >"$T/hog" 2>"$T/hog-err" &
	HOLD_PID=$!
	exec 9>"$T/hold"
	i=0
	while ! grep -q "^$line" "$T/hog" && [ $i -lt 1200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}

hold_end() {
	exec 9>&-
	wait "$HOLD_PID"
}
