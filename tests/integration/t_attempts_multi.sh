# Multi-step attempts (docs/exec.md "Attempts", issue 16): `wsbox attempt
# begin` stages one workspace, each `attempt step` runs a fresh sandbox over
# it, `commit` publishes with exec's compare-and-swap, `abort` leaves
# nothing; the engine that began an attempt owns it, and gc reclaims it once
# the engine is gone.

# begin [OPTIONS...]: begin an attempt of task t in run r on the test
# rootfs; the id in $ID.
begin() {
	ws attempt begin --store "$STORE" --rootfs "$ROOTFS" --run r "$@"
	ID=$(cat "$T/out")
}

# step ID CMD...: one step of attempt ID.
step() {
	id=$1; shift
	ws attempt step "$id" --store "$STORE" -- "$@"
}

rec() {
	python3 - "$STORE/runs/$1/tasks/$2" "$3" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)
PY
}

test_begin_prints_one_id_and_stages_the_attempt() {
	begin --task t
	assert_rc 0
	assert_eq "$(wc -l <"$T/out")" 1 "lines on stdout"
	assert_file "$STORE/staging/$ID/attempt.json"
	assert_file "$STORE/staging/$ID/upper"
	assert_no_file "$STORE/runs/r/tasks/t"
}

test_steps_see_each_others_files() {
	begin --task t
	assert_rc 0
	step "$ID" sh -c 'echo one > f; mkdir d; echo x > d/y'
	assert_rc 0
	step "$ID" sh -c 'cat f; echo two >> f; rm d/y'
	assert_rc 0
	assert_out one
	step "$ID" sh -c 'cat f; ls d'
	assert_rc 0
	assert_out "one
two"
}

test_no_process_survives_a_step() {
	s=$(uniq_secs 1003)
	begin --task t
	assert_rc 0
	step "$ID" sh -c "sleep $s & echo started"
	assert_rc 0
	assert_out started
	! pgrep -f "sleep $s" >/dev/null || fail "a process of the step survived it"
	step "$ID" true
	assert_rc 0
}

test_step_exit_status_is_execs() {
	begin --task t
	assert_rc 0
	step "$ID" sh -c 'exit 7'
	assert_rc 7
	step "$ID" sh -c 'kill -9 $$'
	assert_rc 137
	step "$ID" /no/such/cmd
	assert_rc 127
	step "$ID" true
	assert_rc 0
}

test_step_timeout_of_begin_applies_to_each_step() {
	s=$(uniq_secs 1004)
	begin --task t --timeout 1
	assert_rc 0
	step "$ID" sleep "$s"
	assert_rc 124
	assert_err_has "step 1 timed out after 1 s"
	step "$ID" true
	assert_rc 0
}

test_step_env_adds_to_begins() {
	begin --task t --env A=1 --env B=2
	assert_rc 0
	ws attempt step "$ID" --store "$STORE" --env B=3 -- sh -c 'echo $A$B'
	assert_rc 0
	assert_out 13
}

test_commit_publishes_for_a_child_exec() {
	begin --task t
	assert_rc 0
	step "$ID" sh -c 'echo built > out; echo step-one-said'
	assert_rc 0
	step "$ID" sh -c 'echo tested >> out; echo oops >&2'
	assert_rc 0
	ws attempt commit "$ID" --store "$STORE"
	assert_rc 0
	assert_eq "$(rec r t status)" succeeded "record status"
	assert_eq "$(rec r t attempt)" "$ID" "recorded attempt"
	assert_eq "$(rec r t uncacheable)" "multi-step attempt" "record uncacheable"
	assert_no_file "$STORE/staging/$ID"
	wsx --run r --task c --parent t -- cat out
	assert_rc 0
	assert_out "built
tested"
	ws logs --store "$STORE" --run r --task t
	assert_rc 0
	assert_out_has step-one-said
	assert_eq "$(cat "$STORE/runs/r/logs/$ID.err")" oops "stderr log"
}

test_begin_on_a_parent_and_commit_a_child_layer() {
	wsx --run r --task p -- sh -c 'echo from-p > p'
	assert_rc 0
	begin --task t --parent p
	assert_rc 0
	step "$ID" sh -c 'cat p; echo mine > m'
	assert_rc 0
	assert_out from-p
	ws attempt commit "$ID" --store "$STORE"
	assert_rc 0
	wsx --run r --task c --parent t -- sh -c 'cat p m'
	assert_rc 0
	assert_out "from-p
mine"
}

test_begin_with_an_unknown_parent_is_refused_and_recorded() {
	begin --task t --parent ghost
	assert_rc 125
	assert_err_has "parent ghost"
	assert_eq "$(rec r t status)" refused "record status"
	assert_eq "$(ls -A "$STORE/staging")" "" "staging left"
}

test_abort_leaves_nothing() {
	begin --task t
	assert_rc 0
	step "$ID" sh -c 'echo x > f'
	assert_rc 0
	ws attempt abort "$ID" --store "$STORE"
	assert_rc 0
	assert_no_file "$STORE/staging/$ID"
	assert_no_file "$STORE/runs/r/tasks/t"
	assert_no_file "$STORE/runs/r/attempts/t"
	step "$ID" true
	assert_rc 125
	assert_err_has "attempt $ID: no such attempt"
}

test_older_attempt_commit_is_superseded() {
	begin --task t
	assert_rc 0
	old=$ID
	begin --task t
	assert_rc 0
	new=$ID
	step "$old" sh -c 'echo old > f'
	assert_rc 0
	step "$new" sh -c 'echo new > f'
	assert_rc 0
	ws attempt commit "$new" --store "$STORE"
	assert_rc 0
	ws attempt commit "$old" --store "$STORE"
	assert_rc 125
	assert_err_has "task t: superseded by attempt $new"
	assert_eq "$(rec r t attempt)" "$new" "recorded attempt"
	assert_no_file "$STORE/staging/$old"
	wsx --run r --task c --parent t -- cat f
	assert_out new
}

test_step_after_commit_is_refused() {
	begin --task t
	assert_rc 0
	ws attempt commit "$ID" --store "$STORE"
	assert_rc 0
	step "$ID" true
	assert_rc 125
	assert_err_has "attempt $ID: committed"
	ws attempt commit "$ID" --store "$STORE"
	assert_rc 125
	assert_err_has "attempt $ID: committed"
}

test_gc_reclaims_an_attempt_whose_engine_was_killed() {
	s=$(uniq_secs 1005)
	sh -c "sleep $s" &
	engine=$!
	begin --task t --owner-pid="$engine"
	assert_rc 0
	grep -qx "pid $engine" "$STORE/staging/$ID/owner" || fail "owner marker: $(cat "$STORE/staging/$ID/owner")"
	step "$ID" sh -c 'echo x > f'
	assert_rc 0
	ws gc --store "$STORE"
	assert_rc 0
	assert_file "$STORE/staging/$ID/attempt.json"
	kill -9 "$engine"
	wait "$engine" 2>/dev/null
	ws gc --store "$STORE"
	assert_rc 0
	assert_no_file "$STORE/staging/$ID"
	step "$ID" true
	assert_rc 125
	assert_err_has "no such attempt"
}

test_owner_pid_of_no_process_is_refused() {
	begin --task t --owner-pid 999999999
	assert_rc 125
	assert_err_has "--owner-pid 999999999: no such process"
	assert_store_clean
}

test_step_events_per_step() {
	begin --task t --events "$T/ev"
	assert_rc 0
	step "$ID" true
	assert_rc 0
	ws attempt step "$ID" --store "$STORE" --events "$T/ev2" -- sh -c 'exit 3'
	assert_rc 3
	ws attempt commit "$ID" --store "$STORE"
	assert_rc 0
	assert_eq "$(grep -c '"event":"step_finished"' "$T/ev")" 1 "step_finished in begin's file"
	grep -q '"event":"task_started"' "$T/ev" || fail "no task_started"
	grep '"event":"task_finished"' "$T/ev" | grep -q '"status":"succeeded"' || fail "no task_finished succeeded"
	grep '"event":"step_finished"' "$T/ev2" | grep -q '"exit_status":3' || fail "step 2 not in its own file"
	grep '"event":"step_started"' "$T/ev2" | grep -q '"step":2' || fail "step 2 not numbered"
}

test_attempt_usage_errors() {
	ws attempt
	assert_rc 125
	ws attempt frob
	assert_rc 125
	ws attempt step
	assert_rc 125
	ws attempt step someid --store "$STORE"
	assert_rc 125
	assert_err_has "no command given"
	ws attempt begin --store "$STORE" --max-layer-size 1M --run r --task t
	assert_rc 125
	assert_err_has "not for attempts"
	ws attempt --help
	assert_rc 0
	assert_out_has "wsbox attempt begin"
}

# Two steps started at once run one after the other: each reads the
# counter, waits, and writes it back incremented; interleaved, both would
# write 1.
test_steps_of_one_attempt_are_serialised() {
	begin --task t
	assert_rc 0
	step "$ID" sh -c 'echo 0 > n'
	assert_rc 0
	for k in 1 2; do
		"$WSBOX" attempt step "$ID" --store "$STORE" -- \
			sh -c 'n=$(cat n); sleep 0.3; echo $((n + 1)) > n' \
			>/dev/null 2>"$T/e$k" </dev/null &
	done
	wait
	step "$ID" cat n
	assert_rc 0
	assert_out 2
}

test_step_reads_a_script_on_stdin() {
	begin --task t
	assert_rc 0
	printf 'echo from-stdin > s\n' >"$T/script"
	RC=0
	"$WSBOX" attempt step "$ID" --store "$STORE" -- sh <"$T/script" >"$T/out" 2>"$T/err" || RC=$?
	assert_rc 0
	step "$ID" cat s
	assert_out from-stdin
}

# begin's relative --events names a file in begin's directory, also for a
# step run from elsewhere.
test_begin_relative_events_file_serves_later_steps() {
	mkdir "$T/a" "$T/b"
	cd "$T/a" || fail "cd"
	begin --task t --events ev
	assert_rc 0
	cd "$T/b" || fail "cd"
	step "$ID" true
	assert_rc 0
	grep -q '"event":"step_finished"' "$T/a/ev" || fail "no step_finished in begin's events file"
	assert_no_file "$T/b/ev"
}

# Steps remount one upper dir: only the kernel overlay does that, so
# another strategy is refused at begin, and nothing is left behind.
test_begin_refuses_a_strategy_other_than_overlay() {
	WSBOX_STRATEGY=copy ws attempt begin --store "$STORE" --rootfs "$ROOTFS" --run r --task t
	assert_rc 125
	assert_err_has "strategy copy: multi-step attempts need the kernel overlay"
	assert_eq "$(ls "$STORE/staging" 2>/dev/null | wc -l)" 0 "staging dirs"
}

# begin and commit do not push or pull: a remote is refused, with what to
# run instead.
test_begin_refuses_a_remote_and_names_push_and_pull() {
	WSBOX_REMOTE=http://127.0.0.1:9/wsbox/test ws attempt begin --store "$STORE" --rootfs "$ROOTFS" --run r --task t
	assert_rc 125
	assert_err_has "attempts do not use a remote"
	assert_err_has "wsbox push"
}
