# `wsbox doctor` (docs/exec.md "Other verbs"): one ok/warn/FAIL line per
# probe, then the workspace strategy and limits lines. Runs as root and as an
# unprivileged user; both must find a working setup on the CI hosts.

test_doctor_runs() {
	ws doctor
	assert_rc 0
	assert_out_has "workspace strategy: "
	assert_out_has "ok   user namespaces: "
	assert_out_has "limits: "
}

# Every line is a probe line or one of the two summary lines.
test_doctor_line_format() {
	ws doctor
	assert_rc 0
	bad=$(grep -Ev '^(ok   |warn |FAIL )[A-Za-z0-9+()][A-Za-z0-9+() -]*: |^workspace strategy: |^limits: (cgroup v2 at /|rlimits \()' "$T/out")
	[ -z "$bad" ] || fail "unexpected lines: $bad"
}

# Each probe reports exactly once, and nothing FAILs on a host where doctor
# exits 0.
test_doctor_probes_once() {
	ws doctor
	assert_rc 0
	for p in "user namespaces" "namespaces" "overlay in userns" \
		"lowerdir+ mount API" "mount(2) overlay" "fuse-overlayfs" \
		"idmapped mounts" "seccomp" "cgroup v2" "network namespace" \
		"kernel"; do
		n=$(awk -v p="$p" '/^(ok   |warn |FAIL )/ &&
			substr($0, 6, length(p) + 2) == p ": "' "$T/out" | wc -l)
		n=$((n + 0))
		assert_eq "$n" 1 "lines for probe '$p'"
	done
	n=$(grep -c '^workspace strategy: ' "$T/out")
	assert_eq "$n" 1 "workspace strategy lines"
	n=$(grep -c '^limits: ' "$T/out")
	assert_eq "$n" 1 "limits lines"
	if grep -q '^FAIL ' "$T/out"; then
		fail "FAIL line with exit 0: $(grep '^FAIL ' "$T/out")"
	fi
}

# The scratch overlay trees live under $TMPDIR and are removed.
test_doctor_cleans_tmpdir() {
	mkdir -p "$T/tmp"
	RC=0
	TMPDIR="$T/tmp" "$WSBOX" doctor >"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_rc 0
	left=$(ls -A "$T/tmp")
	[ -z "$left" ] || fail "left in TMPDIR: $left"
}

test_doctor_unknown_option() {
	ws doctor --bogus
	assert_rc 125
	assert_err_has "wsbox: "
	assert_err_has "--bogus"
	[ ! -s "$T/out" ] || fail "stdout not empty: $(head -c 200 "$T/out")"
}

test_doctor_unexpected_argument() {
	ws doctor extra
	assert_rc 125
	assert_err_has "wsbox: "
}
