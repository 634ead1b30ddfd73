# Inputs and outcomes (issue 12 items 2, 5, 6; issue 19 item 10): stdin is an
# input of the cache key and the task gets a private copy of a file on it;
# every attempt that counts leaves a record saying how it ended and why;
# stdout and stderr keep their interleaving, also when a hit replays them.

# wsin FILE ARGS...: exec on the test rootfs with FILE as its stdin.
wsin() {
	src=$1; shift
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" "$@" <"$src" >"$T/out" 2>"$T/err" || RC=$?
}
# wspipe TEXT ARGS...: the same with TEXT coming through a pipe.
wspipe() {
	text=$1; shift
	echo "$text" | "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" "$@" >"$T/out" 2>"$T/err"
	RC=$?
}

# field FILE KEY: a top-level field of a JSON record ("null", "true"...).
field() {
	python3 - "$1" "$2" <<'PY'
import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2], "<absent>")
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)
PY
}
rec() { field "$STORE/runs/$1/tasks/$2" "$3"; }

# event FILE KIND KEY: KEY of the last KIND event in FILE.
event() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)["event"] == sys.argv[2]]
v = ev[-1].get(sys.argv[3], "<absent>") if ev else "<no event>"
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)
PY
}

# tarball NAME FILE: a .tar.gz holding NAME/README.
tarball() {
	mkdir -p "$T/src/$1"
	echo "this is $1" > "$T/src/$1/README"
	tar -C "$T/src" -czf "$2" "$1"
}

# The issue's lz4/zlib bug: the same argv with other bytes on stdin is
# other work, never a hit of the first.
test_stdin_file_content_keys_the_cache() {
	tarball zlib "$T/zlib.tgz"
	tarball lz4 "$T/lz4.tgz"
	wsin "$T/zlib.tgz" --run r1 --task fetch --events "$T/ev1" -- tar -xzf -
	assert_rc 0
	wsin "$T/lz4.tgz" --run r2 --task fetch --events "$T/ev2" -- tar -xzf -
	assert_rc 0
	assert_eq "$(event "$T/ev2" cache_miss event)" cache_miss "second tarball looked up"
	assert_eq "$(event "$T/ev2" cache_hit event)" "<no event>" "hit on another tarball"
	wsx --run r2 --task ls --parent fetch -- ls
	assert_out lz4
	wsin "$T/zlib.tgz" --run r3 --task fetch --events "$T/ev3" -- tar -xzf -
	assert_rc 0
	assert_eq "$(event "$T/ev3" cache_hit event)" cache_hit "same file twice"
	assert_eq "$(rec r3 fetch layer)" "$(rec r1 fetch layer)" "layer of the hit"
}

# The task reads the file from where the caller's offset stands to its end.
test_stdin_file_reaches_the_task_whole() {
	printf 'one\ntwo\n' > "$T/in"
	wsin "$T/in" --run r --task t -- cat
	assert_rc 0
	assert_out "one
two"
}

# Issue 19 item 10: the task holds a sealed copy, so reopening its stdin
# for writing cannot reach the caller's file.
test_stdin_file_cannot_be_written_through_proc() {
	echo original > "$T/in"
	# Writable by anyone: only the copy stands between the task and it.
	chmod 666 "$T/in"
	wsin "$T/in" --run r --task t -- sh -c '
		(echo evil > /proc/self/fd/0) 2>/dev/null && echo wrote-trunc
		(echo evil 1<>/proc/self/fd/0) 2>/dev/null && echo wrote-rdwr
		cat'
	assert_rc 0
	assert_out original
	assert_eq "$(cat "$T/in")" original "host file"
}

test_stdin_pipe_is_uncacheable() {
	wspipe piped --run r --task t --events "$T/ev" -- cat
	assert_rc 0
	assert_out piped
	wspipe piped --run r2 --task t --events "$T/ev2" -- cat
	assert_rc 0
	assert_out piped
	assert_eq "$(event "$T/ev2" cache_hit event)" "<no event>" "hit with a pipe"
	assert_eq "$(event "$T/ev2" cache_miss reason)" "stdin is a pipe" reason
	assert_eq "$(event "$T/ev2" cache_miss uncacheable)" true uncacheable
	assert_eq "$(event "$T/ev2" cache_miss cache_key)" null "cache_key"
	assert_eq "$(rec r2 t uncacheable)" "stdin is a pipe" "record's uncacheable"
	assert_eq "$(ls -A "$STORE/cache/tasks")" "" "cache entries"
}

# A pipe on stdin is relayed (sandbox/stdin_relay.c): every byte arrives,
# in order, and the task sees its end of file when the caller's ends.
test_stdin_pipe_reaches_the_task_whole() {
	head -c 20000000 /dev/urandom >"$T/big" || fail "random bytes"
	want=$(sha256sum <"$T/big" | cut -d' ' -f1)
	RC=0
	cat "$T/big" | timeout 120 "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- \
		sh -c 'sha256sum | cut -d" " -f1; ls -l /proc/self/fd/0' >"$T/out" 2>"$T/err" || RC=$?
	assert_rc 0
	assert_eq "$(sed -n 1p "$T/out")" "$want" "sha256 of what the task read"
	case $(sed -n 2p "$T/out") in
	*"pipe:["*) ;;
	*) fail "task's stdin: $(sed -n 2p "$T/out")" ;;
	esac
}

# An endless stream the task never reads does not keep wsbox waiting, nor
# does one the task closes after a few bytes.
test_stdin_endless_pipe_unread_or_closed_early() {
	RC=0
	yes | timeout 60 "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- true \
		>"$T/out" 2>"$T/err" || RC=$?
	assert_rc 0
	RC=0
	yes | timeout 60 "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- \
		sh -c 'head -c 4; exec 0<&-; echo; echo after' >"$T/out" 2>"$T/err" || RC=$?
	assert_rc 0
	assert_eq "$(tr '\n' ' ' <"$T/out")" "y y  after " "output"
}

# A stream named by the caller is keyed by that name, not by its bytes.
test_stdin_pipe_with_cache_key_extra_is_cached() {
	wspipe rev1 --run r1 --task t --cache-key-extra rev=1 --events "$T/ev1" -- cat
	assert_rc 0
	assert_out rev1
	assert_eq "$(event "$T/ev1" cache_miss uncacheable)" false uncacheable
	wspipe other --run r2 --task t --cache-key-extra rev=1 --events "$T/ev2" -- cat
	assert_rc 0
	assert_eq "$(event "$T/ev2" cache_hit event)" cache_hit "named stream"
	assert_out rev1
	wspipe rev2 --run r3 --task t --cache-key-extra rev=2 --events "$T/ev3" -- cat
	assert_rc 0
	assert_eq "$(event "$T/ev3" cache_hit event)" "<no event>" "hit on another rev"
	assert_out rev2
	assert_eq "$(rec r1 t cache_key_extra)" "['rev=1']" "record's extras"
}

test_cache_key_extra_is_part_of_the_key_without_stdin() {
	wsx --run r1 --task t --cache-key-extra a=1 --cache-key-extra b=2 --events "$T/ev1" -- true
	assert_rc 0
	# The same names in another order are the same key.
	wsx --run r2 --task t --cache-key-extra b=2 --cache-key-extra a=1 --events "$T/ev2" -- true
	assert_rc 0
	assert_eq "$(event "$T/ev2" cache_hit event)" cache_hit "extras reordered"
	wsx --run r3 --task t --events "$T/ev3" -- true
	assert_rc 0
	assert_eq "$(event "$T/ev3" cache_hit event)" "<no event>" "hit without extras"
}

test_bad_cache_key_extra_is_refused() {
	for v in noequals =x ""; do
		wsx --cache-key-extra "$v" -- true
		assert_rc 125
		assert_err_has "--cache-key-extra"
	done
	wsx --cache-key-extra k=1 --cache-key-extra k=2 -- true
	assert_rc 125
	assert_err_has "given twice"
	assert_no_file "$STORE"
}

# /dev/null and a closed stdin read alike: empty, and cacheable.
test_empty_stdin_is_cacheable() {
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --run r1 --task t --events "$T/ev1" \
		-- sh -c 'cat; echo done' >"$T/out" 2>"$T/err" <&- || RC=$?
	assert_rc 0
	assert_out done
	wsin /dev/null --run r2 --task t --events "$T/ev2" -- sh -c 'cat; echo done'
	assert_rc 0
	assert_eq "$(event "$T/ev2" cache_hit event)" cache_hit "/dev/null after a closed stdin"
}

# --- records keep the why -------------------------------------------------

test_failed_task_records_exit_status() {
	wsx --run r --task t -- sh -c 'exit 3'
	assert_rc 3
	assert_eq "$(rec r t status)" failed status
	assert_eq "$(rec r t exit_status)" 3 exit_status
	assert_eq "$(rec r t error)" null error
	wsx --run r --task k -- sh -c 'kill -9 $$'
	assert_rc 137
	assert_eq "$(rec r k exit_status)" 137 "exit_status of a kill"
}

test_timeout_records_exit_status_and_error() {
	wsx --run r --task t --timeout 1 -- sleep 30
	assert_rc 124
	assert_eq "$(rec r t status)" timeout status
	assert_eq "$(rec r t exit_status)" 124 exit_status
	assert_eq "$(rec r t error)" "task t timed out after 1 s" error
}

# However --max-layer-size is enforced (after capture or while the task
# writes), the record says how exec ended.
test_max_layer_size_records_why() {
	wsx --run r --task t --max-layer-size 4k -- sh -c 'head -c 100000 /dev/zero > big'
	[ "$RC" != 0 ] || fail "a layer past --max-layer-size succeeded"
	assert_eq "$(rec r t status)" failed status
	assert_eq "$(rec r t exit_status)" "$RC" exit_status
}

test_hit_records_exit_status() {
	wsx --run r1 --task t -- echo hi
	assert_rc 0
	wsx --run r2 --task t -- echo hi
	assert_rc 0
	assert_eq "$(rec r2 t cache_hit)" true cache_hit
	assert_eq "$(rec r2 t exit_status)" 0 exit_status
	assert_eq "$(rec r2 t error)" null error
	att="$STORE/runs/r2/attempts/t/$(rec r2 t attempt)"
	assert_eq "$(field "$att" cache_hit)" true "attempt record of the hit"
}

# wsbox failing after the attempt began (here: the sandbox's cgroup) is
# status error, with the message.
test_setup_failure_records_error() {
	wsx --run r --task t --cgroup-parent /sys/fs/cgroup/no-such-wsbox-dir -- true
	assert_rc 125
	assert_eq "$(rec r t status)" error status
	assert_eq "$(rec r t exit_status)" 125 exit_status
	rec r t error | grep -qF -- "--cgroup-parent" || fail "error: $(rec r t error)"
	assert_eq "$(rec r t stdout)" null "logs of an attempt that never ran"
}

# A refused re-run is the task's latest outcome: it replaces the older
# success, and children see it; each attempt keeps its own record.
test_refused_rerun_replaces_success_and_keeps_attempts() {
	wsx --run r --task p -- sh -c 'echo p > p'
	assert_rc 0
	wsx --run r --task c --parent p -- sh -c 'echo c > c'
	assert_rc 0
	wsx --run r --task c --parent ghost -- true
	assert_rc 125
	assert_eq "$(rec r c status)" refused status
	assert_eq "$(rec r c exit_status)" 125 exit_status
	assert_eq "$(rec r c error)" "parent ghost: no such task in run r" error
	assert_eq "$(rec r c layer)" null layer
	assert_eq "$(rec r c cache_hit)" false cache_hit
	[ "$(rec r c wall_sec)" != "<absent>" ] || fail "no wall_sec"
	assert_eq "$(ls "$STORE/runs/r/attempts/c" | wc -l)" 2 "attempt records of c"
	wsx --run r --task d --parent c -- true
	assert_rc 125
	assert_err_has "parent c did not succeed (refused)"
}

test_conflict_refusal_leaves_a_record() {
	wsx --run r --task x -- sh -c 'echo x > f'
	assert_rc 0
	wsx --run r --task y -- sh -c 'echo y > f'
	assert_rc 0
	wsx --run r --task both --parent x --parent y --events "$T/ev" -- true
	assert_rc 125
	assert_eq "$(rec r both status)" refused status
	assert_eq "$(rec r both error)" "conflict: f: written by task x and task y" error
	assert_eq "$(event "$T/ev" task_finished status)" refused "event status"
}

# Issue 12 item 3: the refusal names what to re-run, without errno text.
test_ancestors_disagree_names_the_task_to_rerun() {
	wsx --run r --task a -- sh -c 'echo 1 > a'
	assert_rc 0
	wsx --run r --task b --parent a -- sh -c 'echo b > b'
	assert_rc 0
	wsx --run r --task a -- sh -c 'echo 2 > a'
	assert_rc 0
	wsx --run r --task c --parent a --parent b -- true
	assert_rc 125
	assert_err_has "ancestors disagree on the layer of task a"
	assert_err_has "re-run b (and every task between a and b) first"
	grep -q "Invalid argument" "$T/err" && fail "errno text in: $(cat "$T/err")"
	assert_eq "$(rec r c status)" refused status
}

test_option_errors_before_the_store_leave_nothing() {
	wsx --run r --task t --timeout 0 -- true
	assert_rc 125
	assert_no_file "$STORE"
}

# Attempt records are history: gc does not read them, so an old layer only
# they name goes, and gc neither fails on them nor removes them.
test_gc_ignores_attempt_records() {
	# The same key twice (--no-cache replaces the entry), two layers.
	wsx --run r --task t --no-cache -- sh -c 'cat /proc/sys/kernel/random/uuid > f'
	assert_rc 0
	l1=$(rec r t layer)
	wsx --run r --task t --no-cache -- sh -c 'cat /proc/sys/kernel/random/uuid > f'
	assert_rc 0
	[ "$(rec r t layer)" != "$l1" ] || fail "the same layer twice"
	ws gc --store "$STORE"
	assert_rc 0
	assert_no_file "$STORE/layers/${l1#sha256:}"
	assert_eq "$(ls "$STORE/runs/r/attempts/t" | wc -l)" 2 "attempt records after gc"
	l2=$(rec r t layer)
	assert_file "$STORE/layers/${l2#sha256:}/tree/f"
}

# --- interleaved logs -----------------------------------------------------

# streams LOG: the combined log decoded, one "<stream> <line>" per line.
streams() {
	python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
i = 0
while i < len(d):
    s, n = d[i], struct.unpack(">I", d[i + 1:i + 5])[0]
    for line in d[i + 5:i + 5 + n].decode().splitlines():
        print(s, line)
    i += 5 + n
PY
}

interleave='echo o1; sleep 0.3; echo e1 >&2; sleep 0.3; echo o2; sleep 0.3; echo e2 >&2'

test_combined_log_keeps_the_order() {
	wsx --run r --task t -- sh -c "$interleave"
	assert_rc 0
	log=$(rec r t combined)
	assert_eq "$log" "runs/r/logs/$(rec r t attempt).log" combined
	assert_eq "$(streams "$STORE/$log" | tr '\n' ';')" "1 o1;2 e1;1 o2;2 e2;" "combined log"
}

test_hit_replays_the_interleaving() {
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --run r1 --task t \
		-- sh -c "$interleave" >"$T/miss" 2>&1 </dev/null || RC=$?
	assert_rc 0
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --run r2 --task t --events "$T/ev" \
		-- sh -c "$interleave" >"$T/hit" 2>&1 </dev/null || RC=$?
	assert_rc 0
	assert_eq "$(event "$T/ev" cache_hit event)" cache_hit "second run"
	assert_eq "$(tr '\n' ';' < "$T/miss")" "o1;e1;o2;e2;" "miss output"
	assert_eq "$(tr '\n' ';' < "$T/hit")" "o1;e1;o2;e2;" "hit replay"
	log=$(rec r2 t combined)
	assert_eq "$(streams "$STORE/$log" | tr '\n' ';')" "1 o1;2 e1;1 o2;2 e2;" "hit's combined log"
}

# The replay still gives each stream its own bytes.
test_hit_replays_streams_apart() {
	wsx --run r1 --task t -- sh -c "$interleave"
	assert_rc 0
	wsx --run r2 --task t -- sh -c "$interleave"
	assert_rc 0
	assert_out "o1
o2"
	assert_eq "$(cat "$T/err")" "e1
e2" stderr
}
