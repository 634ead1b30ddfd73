# `wsbox run PIPELINE.yml` (README "Local runs", docs/run.md): a whole
# pipeline on this machine, each task a real `wsbox exec`. Concurrency and
# mutual exclusion are proven from the task_started/task_finished times of
# the run's events, never from how long anything took.

# wsr ARGS...: wsbox run with the per-test store (plain output: not a TTY).
wsr() {
	ws run --store "$STORE" "$@"
}

# started FILE: the tasks with a task_started event, sorted, space-separated.
started() {
	python3 - "$1" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join(sorted(e["task"] for e in ev if e["event"] == "task_started")))
PY
}

# overlap FILE A B: "yes" when the exec lifetimes of tasks A and B overlap.
overlap() {
	python3 - "$@" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
def span(t):
    s = [e["time"] for e in ev if e["task"] == t and e["event"] == "task_started"]
    f = [e["time"] for e in ev if e["task"] == t and e["event"] == "task_finished"]
    return s[0], f[0]
(a0, a1), (b0, b1) = span(sys.argv[2]), span(sys.argv[3])
print("yes" if a0 < b1 and b0 < a1 else "no")
PY
}

# The diamond top -> left, right -> bottom; the middle tasks sleep long
# enough that, run together, their lifetimes must overlap.
diamond() {
	cat > "$T/p.yml" <<EOF
tasks:
  top:
    run: echo top > top
    rootfs: $ROOTFS
    save: top
  left:
    run: cat top; sleep 2; echo left > left
    needs: [top]
    rootfs: $ROOTFS
    save: left
  right:
    run: cat top; sleep 2; echo right > right
    needs: [top]
    rootfs: $ROOTFS
    save: right
  bottom:
    run: cat top left right
    needs: [left, right]
    rootfs: $ROOTFS
EOF
}

test_run_diamond_runs_its_middle_tasks_concurrently() {
	diamond
	wsr "$T/p.yml" -j 2 --run r1 --events "$T/ev"
	assert_rc 0
	assert_eq "$(overlap "$T/ev" left right)" yes "left and right overlap"
	assert_out_has "[bottom] top"
	assert_out_has "[bottom] left"
	assert_out_has "[bottom] right"
	assert_out_has "4 tasks: 4 ran, 0 cached, 0 failed, 0 skipped in "
}

test_run_with_one_job_never_overlaps() {
	diamond
	wsr "$T/p.yml" -j 1 --events "$T/ev"
	assert_rc 0
	assert_eq "$(overlap "$T/ev" left right)" no "left and right overlap"
}

test_run_second_run_is_all_cached() {
	diamond
	wsr "$T/p.yml" -j 2
	assert_rc 0
	wsr "$T/p.yml" -j 2 --events "$T/ev"
	assert_rc 0
	assert_out_has "4 tasks: 0 ran, 4 cached, 0 failed, 0 skipped in "
	assert_out_has "· left (cached)"
	# A hit replays the task's output.
	assert_out_has "[bottom] right"
	assert_eq "$(grep -c '"event":"cache_hit"' "$T/ev")" 4 "cache hits"
}

# a fails; b below it, c below b; x stands alone, after a in name order.
failing() {
	cat > "$T/p.yml" <<EOF
tasks:
  a:
    run: echo about to fail; exit 3
    rootfs: $ROOTFS
  b:
    run: true
    needs: [a]
    rootfs: $ROOTFS
  c:
    run: true
    needs: [b]
    rootfs: $ROOTFS
  x:
    run: echo x ran
    rootfs: $ROOTFS
EOF
}

test_run_failure_skips_descendants_and_exits_1() {
	failing
	wsr "$T/p.yml" -j 1 --events "$T/ev"
	assert_rc 1
	assert_out_has "✗ a (exit 3)"
	assert_out_has "- b (skipped)"
	assert_out_has "- c (skipped)"
	assert_out_has "[a] about to fail"
	assert_eq "$(started "$T/ev")" a "started tasks"
	assert_out_has "4 tasks: 0 ran, 0 cached, 1 failed, 3 skipped in "
	assert_err_has "--restart "
}

test_run_keep_going_runs_what_does_not_depend_on_the_failure() {
	failing
	wsr "$T/p.yml" -j 1 --keep-going --events "$T/ev"
	assert_rc 1
	assert_out_has "[x] x ran"
	assert_out_has "- c (skipped)"
	assert_eq "$(started "$T/ev")" "a x" "started tasks"
	assert_out_has "4 tasks: 1 ran, 0 cached, 1 failed, 2 skipped in "
}

# b fails while $WSBOX_T_FAIL is set in the host environment (env-pass):
# the same definition fails, then succeeds.
flaky() {
	cat > "$T/p.yml" <<EOF
tasks:
  a:
    run: echo a > a
    rootfs: $ROOTFS
    save: a
  b:
    run: test -z "\$WSBOX_T_FAIL"
    needs: [a]
    env-pass: [WSBOX_T_FAIL]
    rootfs: $ROOTFS
  c:
    run: cat a
    needs: [b]
    rootfs: $ROOTFS
  d:
    run: cat a
    needs: [a]
    rootfs: $ROOTFS
EOF
}

test_run_restart_reruns_only_failed_and_skipped_tasks() {
	flaky
	WSBOX_T_FAIL=1 wsr "$T/p.yml" -j 1 --keep-going --run r1
	assert_rc 1
	assert_out_has "✗ b (exit 1)"
	assert_out_has "- c (skipped)"
	wsr "$T/p.yml" --restart r1 --events "$T/ev"
	assert_rc 0
	assert_eq "$(started "$T/ev")" "b c" "re-run tasks"
	assert_out_has "· a (kept)"
	assert_out_has "· d (kept)"
	assert_out_has "[c] a"
	assert_out_has "4 tasks: 2 ran, 2 cached, 0 failed, 0 skipped in "
}

test_run_restart_reruns_a_changed_task_and_its_descendants() {
	flaky
	wsr "$T/p.yml" -j 1 --run r1
	assert_rc 0
	sed -i 's/echo a > a/echo A > a/' "$T/p.yml"
	wsr "$T/p.yml" --restart r1 --events "$T/ev"
	assert_rc 0
	assert_eq "$(started "$T/ev")" "a b c d" "re-run tasks"
	assert_out_has "[d] A"
}

test_run_restart_of_an_unknown_run_is_refused() {
	flaky
	wsr "$T/p.yml" --restart nosuch
	assert_rc 125
	assert_err_has "--restart \`nosuch\`: no such run"
}

test_run_mutex_pair_never_overlaps() {
	cat > "$T/p.yml" <<EOF
tasks:
  m1:
    run: sleep 2
    mutex: db
    rootfs: $ROOTFS
  m2:
    run: sleep 2
    mutex: db
    rootfs: $ROOTFS
  free:
    run: sleep 2
    rootfs: $ROOTFS
EOF
	wsr "$T/p.yml" -j 3 --events "$T/ev"
	assert_rc 0
	assert_eq "$(overlap "$T/ev" m1 m2)" no "m1 and m2 overlap"
	assert_eq "$(overlap "$T/ev" m1 free)" yes "m1 and free overlap"
}

test_run_events_frame_the_run() {
	diamond
	wsr "$T/p.yml" --run r1 --events "$T/ev"
	assert_rc 0
	assert_eq "$(head -n 1 "$T/ev" | grep -c '"event":"run_started"')" 1 "first event"
	assert_eq "$(tail -n 1 "$T/ev" | grep -c '"event":"run_finished"')" 1 "last event"
	assert_eq "$(tail -n 1 "$T/ev" | grep -c '"ran":4')" 1 "run_finished counts"
	assert_eq "$(grep -c '"event":"task_finished"' "$T/ev")" 4 "task_finished events"
}

test_run_help_and_command_line_refusals() {
	ws run --help
	assert_rc 0
	assert_eq "$(head -n 1 "$T/out" | cut -c1-27)" "usage: wsbox run PIPELINE.y" "run --help"
	cp "$T/out" "$T/help"
	ws help run
	assert_rc 0
	cmp -s "$T/out" "$T/help" || fail "wsbox help run differs from run --help"
	ws run --frob p.yml
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: run: unknown option \`--frob\` (see \`wsbox run --help\`)" "run --frob"
	ws run
	assert_rc 125
	assert_err_has "want one pipeline file"
	ws run p.yml -j 0
	assert_rc 125
	assert_err_has "-j \`0\`: want 1..1024"
}

# bad FILE-TEXT LINE WHAT: the file is refused with exit 125 naming the
# line, before anything runs.
bad() {
	printf '%s\n' "$1" > "$T/bad.yml"
	wsr "$T/bad.yml"
	assert_rc 125
	assert_err_has "bad.yml:$2: $3"
	assert_store_clean
}

test_run_refuses_an_unknown_key() {
	bad "tasks:
  a:
    run: true
    colour: red" 4 "task \`a\`: unknown key \`colour\`"
}

test_run_refuses_an_unknown_need() {
	bad "tasks:
  a:
    run: true
  b:
    run: true
    needs: [a, nope]" 6 "task \`b\` needs unknown task \`nope\`"
}

test_run_refuses_a_cycle() {
	bad "tasks:
  a:
    run: true
    needs: [b]
  b:
    run: true
    needs: [a]" 2 "cycle in needs: a -> b -> a"
}

test_run_refuses_a_duplicate_task() {
	bad "tasks:
  a:
    run: true
  a:
    run: false" 4 "task \`a\` defined twice"
}

test_run_refuses_a_bad_exec_option() {
	bad "tasks:
  a:
    run: true
    timeout: soon" 4 "task \`a\`: --timeout \`soon\`"
}

test_run_plain_output_is_prefixed_whole_lines() {
	cat > "$T/p.yml" <<EOF
tasks:
  one:
    run: for i in 1 2 3 4 5; do echo "one line \$i"; done; printf 'no newline'
    rootfs: $ROOTFS
  two:
    run: for i in 1 2 3 4 5; do echo "two line \$i"; done; echo oops >&2
    rootfs: $ROOTFS
EOF
	wsr "$T/p.yml" -j 2
	assert_rc 0
	assert_eq "$(grep -c '^\[one\] one line [1-5]$' "$T/out")" 5 "whole lines of one"
	assert_eq "$(grep -c '^\[two\] two line [1-5]$' "$T/out")" 5 "whole lines of two"
	assert_out_has "[one] no newline"
	assert_err_has "[two] oops"
	assert_eq "$(grep -c "$(printf '\033')" "$T/out")" 0 "escape sequences"
}

test_run_ci_set_means_plain_output() {
	diamond
	RC=0
	# script(1) gives wsbox a terminal; CI=1 still asks for plain lines.
	CI=1 script -qec "$WSBOX run --store $STORE $T/p.yml" /dev/null > "$T/out" 2>&1 </dev/null || RC=$?
	assert_rc 0
	assert_out_has "[bottom] top"
	assert_eq "$(grep -c "$(printf '\033')\[" "$T/out")" 0 "escape sequences"
}

# tmux_run CMD: run CMD in a detached 100x30 tmux session with its own
# server socket; wait (bounded) until it has written $T/done.
tmux_run() {
	command -v tmux >/dev/null || { echo "tmux not installed"; exit 77; }
	export TMUX_TMPDIR="$T"
	rm -f "$T/done"
	tmux -L wsbox-t new-session -d -x 100 -y 30 \
		"env -u CI sh -c '$1; echo rc=\$? > $T/done'; sleep 30"
	i=0
	while [ ! -s "$T/done" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	tmux -L wsbox-t capture-pane -p -J > "$T/pane"
	tmux -L wsbox-t kill-server
}

test_run_terminal_view_shows_root_line_and_cached_marker() {
	diamond
	# The first run fills the cache (plain: not on the terminal), under
	# the terminal's TERM, which the task sees and so is in the key.
	tmux_run "$WSBOX run --store $STORE $T/p.yml > /dev/null; $WSBOX run --store $STORE $T/p.yml"
	assert_eq "$(cat "$T/done")" rc=0 "exit status in the terminal"
	grep -q '^4/4 tasks ([0-9.]*s)$' "$T/pane" || fail "no root line: $(cat "$T/pane")"
	grep -qF '· left (cached)' "$T/pane" || fail "no cached marker: $(cat "$T/pane")"
	grep -qF '4 tasks: 0 ran, 4 cached, 0 failed, 0 skipped in' "$T/pane" || fail "no tally: $(cat "$T/pane")"
	# Output of succeeded tasks is not shown on a terminal.
	grep -qF '[bottom]' "$T/pane" && fail "task output shown: $(cat "$T/pane")"
	true
}

test_run_terminal_view_replays_a_failed_task() {
	failing
	tmux_run "$WSBOX run --store $STORE --run r1 $T/p.yml"
	assert_eq "$(cat "$T/done")" rc=1 "exit status in the terminal"
	grep -qF '✗ a (exit 3)' "$T/pane" || fail "no failure marker: $(cat "$T/pane")"
	grep -qx 'about to fail' "$T/pane" || fail "no replayed output: $(cat "$T/pane")"
	grep -qF "wsbox logs --store $STORE --run r1 --task a" "$T/pane" || fail "no logs hint: $(cat "$T/pane")"
	# The command named prints all of it.
	ws logs --store "$STORE" --run r1 --task a
	assert_rc 0
	assert_out "about to fail"
}

test_run_interrupt_stops_tasks_and_leaves_nothing() {
	s=$(uniq_secs 4243)
	cat > "$T/p.yml" <<EOF
tasks:
  long:
    run: echo ready; exec sleep $s
    rootfs: $ROOTFS
  after:
    run: true
    needs: [long]
    rootfs: $ROOTFS
EOF
	"$WSBOX" run --store "$STORE" "$T/p.yml" > "$T/out" 2> "$T/err" < /dev/null &
	pid=$!
	i=0
	while ! grep -q '^\[long\] ready' "$T/out" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	assert_out_has "[long] ready"
	kill -INT $pid
	RC=0
	wait $pid || RC=$?
	assert_rc 130
	assert_out_has "✗ long (interrupted)"
	assert_out_has "1 failed, 1 skipped in "
	assert_out_has "- after (skipped)"
	assert_eq "$(pgrep -f "sleep $s" | wc -l)" 0 "processes left"
	assert_eq "$(ls -A "$STORE/staging" | wc -l)" 0 "staging dirs left"
}

test_run_ctrl_c_in_a_terminal_stops_the_run() {
	command -v tmux >/dev/null || { echo "tmux not installed"; exit 77; }
	s=$(uniq_secs 4244)
	cat > "$T/p.yml" <<EOF
tasks:
  long:
    run: exec sleep $s
    rootfs: $ROOTFS
EOF
	export TMUX_TMPDIR="$T"
	# The shells around it ignore SIGINT (a non-interactive sh would die
	# of it); wsbox run takes it all the same.
	tmux -L wsbox-t new-session -d -x 100 -y 30 \
		"trap '' INT; env -u CI sh -c '$WSBOX run --store $STORE $T/p.yml; echo rc=\$? > $T/done'; sleep 30"
	i=0
	while ! pgrep -f "^sleep $s" >/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	tmux -L wsbox-t send-keys C-c
	i=0
	while [ ! -s "$T/done" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	tmux -L wsbox-t capture-pane -p -J > "$T/pane"
	tmux -L wsbox-t kill-server
	assert_eq "$(cat "$T/done")" rc=130 "exit status after Ctrl-C"
	grep -qF '✗ long (interrupted)' "$T/pane" || fail "no interrupted marker: $(cat "$T/pane")"
	grep -qF '1 tasks: 0 ran, 0 cached, 1 failed, 0 skipped in' "$T/pane" || fail "no tally: $(cat "$T/pane")"
	assert_eq "$(pgrep -f "sleep $s" | wc -l)" 0 "processes left"
	assert_eq "$(ls -A "$STORE/staging" | wc -l)" 0 "staging dirs left"
}

# An `import` task brings a host directory in (docs/run.md "Sources"); its
# path is taken relative to the pipeline file, not the caller's cwd.
test_run_import_task_feeds_its_children() {
	mkdir -p "$T/proj/sub"
	echo hello >"$T/proj/sub/greeting"
	printf 'tasks:\n  src:\n    import: proj\n  use:\n    run: cat sub/greeting > seen\n    needs: [src]\n' >"$T/p.yml"
	cd /
	wsr "$T/p.yml" --run r1
	assert_rc 0
	assert_out_has "2 tasks: 2 ran, 0 cached, 0 failed, 0 skipped"
	wsx --run r1 --task check --parent use -- cat seen
	assert_rc 0
	assert_out hello
}

test_run_import_task_takes_no_needs_or_options() {
	mkdir -p "$T/proj"
	printf 'tasks:\n  a:\n    run: true\n  src:\n    import: proj\n    needs: [a]\n' >"$T/p.yml"
	wsr "$T/p.yml"
	assert_rc 125
	assert_err_has "p.yml:4: task \`src\`: an \`import\` task takes no"
	printf 'tasks:\n  src:\n    import: proj\n    save: x\n' >"$T/q.yml"
	wsr "$T/q.yml"
	assert_rc 125
	assert_err_has "an \`import\` task takes no"
}
