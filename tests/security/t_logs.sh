# Adversarial suite, a task flooding its logs (issue 19 item 9: one task
# left 301 MiB of stdout in runs/): --max-log-size cuts each stored stream
# with a marker line while the task keeps running, its output drained, and
# the record and the task_finished event say so (docs/exec.md "Output and
# logs"). README.md.
. "$(dirname "$HERE")/security/lib_attack.sh"

# json FILE KEY.SUB...: a field of a JSON file (of its last line for an
# events file), "missing" when absent.
json() {
	python3 - "$@" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
try:
    v = json.loads(text)
except ValueError:
    v = json.loads(text.splitlines()[-1])
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
    if v is None:
        print("missing"); sys.exit(0)
print(str(v).lower() if isinstance(v, bool) else v)
PY
}

MARKER='[wsbox: stdout log truncated at 1 MiB (--max-log-size); the rest was not stored]'

# 200 MiB on stdout under --max-log-size 1M: the task's writes all succeed
# (no EPIPE, no stall: it goes on and says so on stderr), the caller still
# gets every byte live, the stored log is 1 MiB and the marker.
test_log_flood_is_cut_at_max_log_size() {
	need_python3
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --run r --task flood \
		--events "$T/ev" --max-log-size 1M -- \
		sh -c 'head -c 209715200 /dev/zero; echo "head: $?" >&2; echo after > after' \
		</dev/null 2>"$T/err" | wc -c >"$T/live" || RC=$?
	assert_rc 0
	assert_eq "$(tr -d ' ' <"$T/live")" 209715200 "bytes relayed live"
	assert_eq "$(cat "$T/err")" "head: 0" "task's stderr"
	out=$(ls "$STORE"/runs/r/logs/*.out)
	size=$(wc -c <"$out")
	[ "$size" -gt 1048576 ] && [ "$size" -le $((1048576 + 160)) ] ||
		fail "stored stdout: $size bytes, want 1 MiB and a marker"
	assert_eq "$(tail -n 1 "$out")" "$MARKER" "last line of the stored stdout"
	assert_eq "$(head -c 1048576 "$out" | tr -d '\0' | wc -c)" 0 "stored bytes are the task's"
	assert_eq "$(json "$STORE/runs/r/tasks/flood" log_truncated.stdout)" true "record log_truncated.stdout"
	assert_eq "$(json "$STORE/runs/r/tasks/flood" log_truncated.stderr)" false "record log_truncated.stderr"
	assert_eq "$(json "$T/ev" event)" task_finished "last event"
	assert_eq "$(json "$T/ev" log_truncated.stdout)" true "event log_truncated.stdout"
	assert_eq "$(json "$STORE/runs/r/tasks/flood" status)" succeeded "status"
	# The task went on after the flood: its file is in the layer.
	wsx --run r --task next --parent flood -- cat after
	assert_rc 0
	assert_out after
	# `wsbox logs` prints what is stored: the combined log (both streams
	# in order) and each stream alone end in the marker.
	"$WSBOX" logs --store "$STORE" --run r --task flood | tail -n 2 >"$T/tail" ||
		fail "wsbox logs failed"
	assert_eq "$(head -n 1 "$T/tail")" "$MARKER" "wsbox logs: the marker"
	assert_eq "$(tail -n 1 "$T/tail")" "head: 0" "wsbox logs: stderr after it"
	"$WSBOX" logs --store "$STORE" --run r --task flood --stdout | wc -c >"$T/n"
	assert_eq "$(tr -d ' ' <"$T/n")" "$size" "wsbox logs --stdout size"
}

# A line cut in the middle: the marker still starts a line of its own, and
# the stderr stream has its own limit and marker.
test_log_flood_on_stderr_marker_on_its_own_line() {
	need_python3
	wsx --run r --task t --max-log-size 1k -- sh -c 'head -c 5000 /dev/zero | tr "\0" x >&2'
	assert_rc 0
	errlog=$(ls "$STORE"/runs/r/logs/*.err)
	assert_eq "$(head -n 1 "$errlog" | wc -c)" 1025 "first line: 1 KiB of the task's and a line break"
	assert_eq "$(tail -n 1 "$errlog")" "[wsbox: stderr log truncated at 1 KiB (--max-log-size); the rest was not stored]" "marker"
	assert_eq "$(json "$STORE/runs/r/tasks/t" log_truncated.stderr)" true "record log_truncated.stderr"
	assert_eq "$(json "$STORE/runs/r/tasks/t" log_truncated.stdout)" false "record log_truncated.stdout"
}

# Below the limit nothing changes: no marker, no log_truncated in the
# record, false in the event.
test_log_below_max_log_size_is_whole() {
	need_python3
	wsx --run r --task t --events "$T/ev" --max-log-size 1k -- sh -c 'head -c 1024 /dev/zero'
	assert_rc 0
	assert_eq "$(wc -c <"$(ls "$STORE"/runs/r/logs/*.out)")" 1024 "stored stdout"
	assert_eq "$(json "$STORE/runs/r/tasks/t" log_truncated)" missing "record log_truncated"
	assert_eq "$(json "$T/ev" log_truncated.stdout)" false "event log_truncated.stdout"
}

# begin's --max-log-size holds for the attempt's logs as a whole: the steps
# append, and the second step's output is cut where the total reaches it.
test_log_flood_across_attempt_steps() {
	need_python3
	ws attempt begin --store "$STORE" --rootfs "$ROOTFS" --run r --task t --max-log-size 1M
	assert_rc 0
	id=$(cat "$T/out")
	ws attempt step "$id" --store "$STORE" -- sh -c 'head -c 700000 /dev/zero'
	assert_rc 0
	ws attempt step "$id" --store "$STORE" -- sh -c 'head -c 700000 /dev/zero; echo "head: $?" >&2'
	assert_rc 0
	assert_eq "$(cat "$T/err")" "head: 0" "second step's stderr"
	ws attempt step "$id" --store "$STORE" -- sh -c 'head -c 700000 /dev/zero'
	assert_rc 0
	ws attempt commit "$id" --store "$STORE"
	assert_rc 0
	out=$(ls "$STORE"/runs/r/logs/*.out)
	assert_eq "$(tail -n 1 "$out")" "$MARKER" "last line"
	assert_eq "$(grep -c 'wsbox: stdout log truncated' "$out")" 1 "markers"
	size=$(wc -c <"$out")
	[ "$size" -le $((1048576 + 160)) ] || fail "stored stdout: $size bytes"
	assert_eq "$(json "$STORE/runs/r/tasks/t" log_truncated.stdout)" true "record log_truncated.stdout"
}

# A pipeline's `max-log-size` key is exec's option.
test_log_flood_pipeline_max_log_size_key() {
	need_python3
	cat >"$T/p.yml" <<YML
tasks:
  flood:
    run: head -c 100000 /dev/zero
    rootfs: $ROOTFS
    max-log-size: 10k
YML
	ws run --store "$STORE" --run r "$T/p.yml"
	assert_rc 0
	assert_eq "$(json "$STORE/runs/r/tasks/flood" log_truncated.stdout)" true "record log_truncated.stdout"
	cat >"$T/bad.yml" <<YML
tasks:
  flood:
    run: "true"
    max-log-size: lots
YML
	ws run --store "$STORE" --run r2 "$T/bad.yml"
	assert_rc 125
	assert_err_has "--max-log-size \`lots\`: want a size"
}

# A task writing its output a byte at a time: consecutive reads of one
# stream are one frame of the combined log, so a header per read does not
# make it several times the stream's own log (the old binary's was 2 to 6
# times: 5 header bytes for every 1-byte read).
test_log_byte_at_a_time_flood_keeps_combined_log_small() {
	need_python3
	wsx --run r --task t --max-log-size 64k -- sh -c 'head -c 200000 /dev/zero | dd bs=1 2>/dev/null'
	assert_rc 0
	out=$(wc -c <"$(ls "$STORE"/runs/r/logs/*.out)")
	comb=$(wc -c <"$(ls "$STORE"/runs/r/logs/*.log)")
	# The stored stdout and one header per 64 KiB frame (and the marker's).
	[ "$comb" -le $((out + 5 * 4)) ] ||
		fail "combined log: $comb bytes for $out of stdout"
	assert_eq "$(json "$STORE/runs/r/tasks/t" log_truncated.stdout)" true "record log_truncated.stdout"
	assert_eq "$(json "$STORE/runs/r/tasks/t" log_truncated.combined)" false "record log_truncated.combined"
}

# A task alternating stdout and stderr a byte at a time makes every byte a
# frame of its own: the combined log is bounded all the same, at both
# streams' limits and an eighth of one for headers, then its own marker;
# each stream's log still keeps its full share.
test_log_alternating_streams_flood_is_bounded() {
	need_python3
	wsx --run r --task t --events "$T/ev" --max-log-size 16k -- \
		sh -c 'i=0; while [ $i -lt 40000 ]; do printf a; printf b >&2; i=$((i+1)); done'
	assert_rc 0
	max=16384
	bound=$((2 * (max + 5 + 160) + max / 8))
	comb=$(wc -c <"$(ls "$STORE"/runs/r/logs/*.log)")
	[ "$comb" -le "$bound" ] || fail "combined log: $comb bytes, bound $bound"
	assert_eq "$(head -n 1 "$(ls "$STORE"/runs/r/logs/*.out)" | wc -c)" $((max + 1)) "stored stdout: its 16 KiB"
	assert_eq "$(json "$STORE/runs/r/tasks/t" log_truncated.combined)" true "record log_truncated.combined"
	assert_eq "$(json "$T/ev" log_truncated.combined)" true "event log_truncated.combined"
	"$WSBOX" logs --store "$STORE" --run r --task t 2>&1 | tail -n 1 >"$T/tail"
	case $(cat "$T/tail") in
	"[wsbox: combined log full at "*" bytes (--max-log-size); the rest is only in the stdout and stderr logs]") ;;
	*) fail "wsbox logs: last line '$(cat "$T/tail")', want the combined log's marker" ;;
	esac
}
