# wsbox exec: exit statuses, signals, reaping, timeouts, bad input, and the
# isolation the in-sandbox probe (tests/probe) asserts from the inside.

test_true_exits_0() {
	wsx -- true
	assert_rc 0
}

test_exit_code_is_the_tasks() {
	wsx -- sh -c 'exit 7'
	assert_rc 7
}

test_signal_death_is_128_plus_n() {
	wsx -- sh -c 'kill -KILL $$'
	assert_rc 137
}

test_command_not_found_is_127() {
	wsx -- /no/such/cmd
	assert_rc 127
	assert_err_has "wsbox: exec \`/no/such/cmd\`"
}

test_not_executable_is_126() {
	wsx -- /etc/passwd
	assert_rc 126
}

test_stdout_and_stderr_pass_through() {
	wsx -- sh -c 'echo out; echo err >&2'
	assert_rc 0
	assert_out "out"
	assert_err_has "err"
}

test_probe_isolation_all() {
	wsx -- /probe all
	cat "$T/out" # the probe's report, shown if an assertion below fails
	assert_rc 0
}

test_probe_sees_workspace_as_cwd() {
	wsx -- /probe cwd
	assert_rc 0
}

test_cwd_option() {
	wsx --cwd /tmp -- pwd
	assert_rc 0
	assert_out /tmp
}

test_hostname_default_and_option() {
	wsx -- hostname
	assert_rc 0
	assert_out wsbox
	wsx --hostname builder-7 -- hostname
	assert_rc 0
	assert_out builder-7
}

test_uid_gid_inside() {
	wsx --uid 1000 --gid 1001 -- sh -c 'echo $(id -u):$(id -g); touch /workspace/f; stat -c %u:%g /workspace/f'
	assert_rc 0
	assert_out "1000:1001
1000:1001"
}

test_env_is_clean_plus_requested() {
	FOO=passed BAR=leaked
	export FOO BAR
	wsx --env A=1 --env B=x=y --env-pass FOO --env-pass MISSING -- env
	assert_rc 0
	got=$(sort "$T/out" | grep -v '^TERM=' | tr '\n' ' ')
	assert_eq "$got" "A=1 B=x=y FOO=passed HOME=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin " env
}

test_no_fd_leaks_from_caller() {
	# fds 5 and 7 are open in the caller; the task must see only 0-2.
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- /probe fds >"$T/out" 2>"$T/err" 5<"$ROOTFS/etc/passwd" 7>"$T/junk" || RC=$?
	assert_rc 0
}

test_net_none_has_only_lo() {
	wsx -- /probe netnone
	assert_rc 0
}

test_net_host_shares_host_network() {
	n=$(grep -c ':' /proc/net/dev)
	[ "$n" -gt 1 ] || { echo "host has only lo"; exit 77; }
	wsx --net host -- /probe nethost
	assert_rc 0
}

test_rootfs_is_read_only() {
	wsx -- sh -c 'touch /etc/x'
	assert_rc 1
	assert_err_has "Read-only file system"
}

test_host_root_default_hides_home_and_store() {
	mkdir -p "$STORE"
	ws exec --store "$STORE" -- sh -c "ls -A /home /root /run; test -e '$STORE/VERSION' && echo STORE-VISIBLE; echo done"
	assert_rc 0
	assert_out_has done
	! grep -q STORE-VISIBLE "$T/out" || fail "store visible inside"
	[ "$(grep -vc ':\|^$\|done' "$T/out")" = 0 ] || fail "hidden dirs not empty: $(cat "$T/out")"
}

test_host_pids_invisible() {
	wsx -- sh -c 'ls /proc | grep -c "^[0-9]"'
	assert_rc 0
	[ "$(cat "$T/out")" -lt 6 ] || fail "too many pids: $(cat "$T/out")"
}

test_orphans_are_reaped_and_do_not_block() {
	# The task leaves a sleeper behind; wsbox must return when the task
	# exits (timeout(1) only catches a hang) and kill the sleeper.
	s=$(uniq_secs 1001)
	RC=0
	timeout 20 "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- sh -c "sleep $s & echo started" >"$T/out" 2>"$T/err" || RC=$?
	assert_rc 0
	assert_out started
	sleep 0.2
	! pgrep -f "sleep $s" >/dev/null || fail "orphan survived"
}

test_timeout_is_124_and_kills_grandchildren() {
	s=$(uniq_secs 1002)
	wsx --timeout 1 -- sh -c "sh -c 'sleep $s' & sleep $s"
	assert_rc 124
	assert_err_has "timed out"
	sleep 0.2
	! pgrep -f "sleep $s" >/dev/null || fail "grandchild survived the timeout"
}

test_sigterm_is_forwarded_to_the_task() {
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- sh -c 'trap "echo got-TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done' >"$T/out" 2>"$T/err" &
	pid=$!
	i=0
	while ! grep -q ready "$T/out" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || { kill -9 $pid; fail "task never started"; }
		sleep 0.05
	done
	kill -TERM $pid
	RC=0; wait $pid || RC=$?
	assert_rc 3
	assert_out_has got-TERM
}

test_wsbox_killed_takes_sandbox_down() {
	s=$(uniq_secs 1004)
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- sh -c "echo ready; sleep $s" >"$T/out" 2>"$T/err" &
	pid=$!
	i=0
	while ! grep -q ready "$T/out" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 200 ] || { kill -9 $pid; fail "task never started"; }
		sleep 0.05
	done
	kill -KILL $pid; wait $pid 2>/dev/null
	sleep 0.3
	! pgrep -f "sleep $s" >/dev/null || fail "sandbox outlived wsbox"
}

test_bad_option_is_125_and_creates_nothing() {
	wsx --frobnicate -- true
	assert_rc 125
	assert_err_has 'wsbox: exec: unknown option `--frobnicate` (see `wsbox exec --help`)'
	assert_no_file "$STORE"
}

test_bad_names_are_refused() {
	for bad in ../x 'a/b' '' .hidden "$(printf 'x%.0s' $(seq 1 130))"; do
		wsx --run r --task "$bad" -- true
		assert_rc 125
		assert_err_has "invalid name"
	done
	wsx --run '../../etc' --task t -- true
	assert_rc 125
	wsx --run r --task t --parent '..' -- true
	assert_rc 125
	assert_no_file "$STORE"
}

test_missing_rootfs_is_125() {
	ws exec --store "$STORE" --rootfs /no/such/rootfs -- true
	assert_rc 125
	assert_err_has "--rootfs \`/no/such/rootfs\`"
	assert_no_file "$STORE"
}

test_bad_values_are_refused() {
	for args in "--net bridge" "--uid -1" "--uid 70000" "--timeout 0" "--timeout abc" "--memory 12Q" "--cwd rel" "--env NOEQUALS" "--save ../x" "--save /abs"; do
		# shellcheck disable=SC2086
		echo "args: $args"
		wsx $args -- true
		assert_rc 125
		[ "$(wc -l <"$T/err")" = 1 ] || fail "not one line for $args: $(cat "$T/err")"
	done
}

test_no_command_is_125() {
	wsx
	assert_rc 125
	assert_err_has "no command"
}

test_unknown_verb_is_125() {
	ws frob
	assert_rc 125
	assert_err_has "unknown verb"
}

# Staging goes during publication (sandbox/cli/exec_discard.c) whatever the
# task did: nothing, failed after writing, or published a layer; the
# attempt record lands in the dir that thread made.
test_staging_is_cleaned_after_run() {
	wsx -- true
	assert_rc 0
	wsx -- sh -c 'echo x > f; exit 3'
	assert_rc 3
	wsx --run r --task w -- sh -c 'echo x > f'
	assert_rc 0
	[ -z "$(ls -A "$STORE/staging")" ] || fail "staging left: $(ls "$STORE/staging")"
	assert_eq "$(ls "$STORE/runs/r/attempts/w" | wc -l)" 1 "attempt records"
}

# WSBOX_TRACE_PHASES: the parent's, the sandbox child's and the task's
# phases reach wsbox's stderr, and none of them the task's output or logs
# (a cache hit would replay them).
test_trace_phases_stay_out_of_task_output() {
	WSBOX_TRACE_PHASES=1 wsx --run r --task t -- sh -c 'echo out; echo err >&2'
	assert_rc 0
	assert_out "out"
	for p in "phase store" "phase child mounts" "phase task forked" \
		"phase init task reaped" "phase published"; do
		assert_err_has "$p"
	done
	for f in "$STORE"/runs/r/logs/*; do
		! grep -q phase "$f" || fail "trace line in $f"
	done
	[ "$(grep -c . "$STORE"/runs/r/logs/*.err)" = 1 ] || fail "stderr log: $(cat "$STORE"/runs/r/logs/*.err)"
}
