# Attempts, concurrency and mutexes (docs/cache.md "Attempts", issue 4):
# parallel tasks of one run all land; racing attempts of one task give
# exactly one result; a stale attempt never overwrites a newer one; --mutex
# serializes.

rec() {
	python3 - "$STORE/runs/$1/tasks/$2" "$3" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)
PY
}

# att_rec RUN TASK ATTEMPT FIELD: a field of an attempt's own record.
att_rec() {
	python3 - "$STORE/runs/$1/attempts/$2/$3" "$4" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)
PY
}

test_twenty_parallel_tasks_of_one_run_all_recorded() {
	i=1; pids=
	while [ $i -le 20 ]; do
		"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --run r --task "t$i" \
			-- sh -c "echo $i > f$i" >"$T/o$i" 2>"$T/e$i" </dev/null &
		pids="$pids $!"; i=$((i + 1))
	done
	bad=0
	for p in $pids; do wait "$p" || bad=$((bad + 1)); done
	[ $bad -eq 0 ] || fail "$bad of 20 parallel execs failed: $(cat "$T"/e* | head -c 400)"
	parents=
	i=1
	while [ $i -le 20 ]; do
		assert_eq "$(rec r "t$i" status)" succeeded "t$i status"
		parents="$parents --parent t$i"; i=$((i + 1))
	done
	# shellcheck disable=SC2086
	wsx --run r --task all $parents -- sh -c 'cat f* | sort -n | tr "\n" " "'
	assert_rc 0
	assert_out "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 "
}

# The older attempt (started first) finishes last: it is superseded, exits
# 125, and leaves only its attempt record; the newer one's result stands.
test_racing_attempts_stale_one_is_superseded() {
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --run r --task t --no-cache \
		--events "$T/eva" -- sh -c 'sleep 2; echo A > f; echo A' \
		>"$T/oa" 2>"$T/ea" </dev/null &
	pa=$!
	# Wait until A has drawn its number (its staging exists).
	i=0
	while [ -z "$(ls "$STORE/staging" 2>/dev/null)" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	wsx --run r --task t --no-cache --events "$T/evb" -- sh -c 'echo B > f; echo B'
	assert_rc 0
	rca=0; wait $pa || rca=$?
	assert_eq "$rca" 125 "exit of the stale attempt"
	grep -q "wsbox: task t: superseded by attempt " "$T/ea" || fail "no superseded message: $(cat "$T/ea")"
	att_b=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["attempt"])' "$T/evb")
	att_a=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["attempt"])' "$T/eva")
	assert_eq "$(rec r t attempt)" "$att_b" "recorded attempt"
	grep -q "superseded by attempt $att_b" "$T/ea" || fail "message names another attempt"
	# Consistent with its layer: a child sees B's file.
	wsx --run r --task c --parent t -- cat f
	assert_out B
	# The loser left no log and no staging.
	assert_no_file "$STORE/runs/r/logs/$att_a.out"
	assert_eq "$(ls -A "$STORE/staging")" "" "staging left"
	# And the task's finished event says why.
	grep -q '"status":"superseded"' "$T/eva" || fail "no superseded status in events"
	# Its own attempt record stays: superseded, with the message.
	assert_eq "$(att_rec r t "$att_a" status)" superseded "attempt record status"
	assert_eq "$(att_rec r t "$att_a" exit_status)" 125 "attempt record exit_status"
	att_rec r t "$att_a" error | grep -q "superseded by attempt $att_b" || fail "attempt record lacks the why"
}

test_two_simultaneous_attempts_exactly_one_result() {
	for k in 1 2 3; do
		"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --run "r$k" --task t --no-cache \
			-- sh -c 'echo X > f' >/dev/null 2>"$T/e1" </dev/null &
		p1=$!
		"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --run "r$k" --task t --no-cache \
			-- sh -c 'echo Y > f' >/dev/null 2>"$T/e2" </dev/null &
		p2=$!
		r1=0; wait $p1 || r1=$?; r2=0; wait $p2 || r2=$?
		# Either both published in start order (the later replaced the
		# earlier) or the older one lost with 125; never both failing.
		case "$r1 $r2" in "0 0"|"0 125"|"125 0") ;; *) fail "exits $r1 $r2: $(cat "$T/e1" "$T/e2")" ;; esac
		layer=$(rec "r$k" t layer)
		[ -d "$STORE/layers/${layer#sha256:}/tree" ] || fail "record names a missing layer"
		v=$(cat "$STORE/layers/${layer#sha256:}/tree/f")
		case "$v" in X|Y) ;; *) fail "layer content '$v'" ;; esac
	done
}

test_rerun_replaces_result_children_keep_digests() {
	wsx --run r --task p -- sh -c 'echo v1 > f'
	assert_rc 0
	l1=$(rec r p layer)
	wsx --run r --task c --parent p -- cat f
	assert_out v1
	wsx --run r --task p -- sh -c 'echo v2 > f'
	assert_rc 0
	l2=$(rec r p layer)
	[ "$l1" != "$l2" ] || fail "re-run kept the old layer"
	seen=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1] + "/tasks/c"))
anc = json.load(open(sys.argv[1] + "/ancestry/" + r["ancestry"].split(":")[1]))
print([a["layer"] for a in anc if a["task"] == "p"][0])' "$STORE/runs/r")
	assert_eq "$seen" "$l1" "layer the child recorded"
	# gc keeps what the finished child was built on.
	ws gc --store "$STORE"
	assert_rc 0
	assert_file "$STORE/layers/${l1#sha256:}/tree/f"
}

# Tasks sharing a mutex never overlap: B (instant), started while A (slow)
# runs, can only finish once A's sandbox is gone; without the mutex it
# finishes while A's sleep still runs.
test_mutex_serializes_tasks() {
	s=$(uniq_secs 2)
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --run r --task a --mutex m \
		-- sleep "$s" >/dev/null 2>&1 </dev/null &
	pa=$!
	# Wait until A holds the mutex.
	i=0
	while { [ ! -e "$STORE/locks/mutex/m" ] || flock -n "$STORE/locks/mutex/m" true; } && [ $i -lt 200 ]; do
		sleep 0.05; i=$((i + 1))
	done
	[ $i -lt 200 ] || fail "task a never took the mutex"
	wsx --run r --task b --mutex m -- true
	assert_rc 0
	# ^: the sandbox's sleep, not wsbox A whose command line names it.
	if pgrep -f "^sleep $s" >/dev/null; then
		fail "task b finished while task a was still running"
	fi
	wait $pa || fail "task a failed"
}

test_mutex_bad_name_refused() {
	wsx --run r --task a --mutex ../x -- true
	assert_rc 125
	assert_err_has "--mutex"
}
