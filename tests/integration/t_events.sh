# Events for pipeline engines (`--events`, docs/cache.md "Events", README
# "Events"): JSON lines with the documented fields.

check_events() { # FILE: every line parses, prints "kind task status" lines
	python3 - "$1" <<'PY'
import json, sys
need = {
    "task_started": ["run", "task", "attempt", "parents", "cache_key", "time"],
    "cache_miss": ["cache_key"],
    "cache_hit": ["cache_key", "layer"],
    "task_finished": ["status", "exit_code", "signal", "wall_sec", "cpu_sec",
                      "max_rss_kb", "layer", "bytes", "files", "error",
                      "exit_status", "cache_hit"],
}
for n, line in enumerate(open(sys.argv[1]), 1):
    e = json.loads(line)
    missing = [k for k in need.get(e["event"], []) + ["run", "task", "attempt"] if k not in e]
    if missing:
        sys.exit(f"line {n} ({e['event']}): missing {missing}")
    print(e["event"], e["task"], e.get("status", "-"))
PY
}

test_events_json_lines_with_fields() {
	wsx --run r --task a --events "$T/ev" -- sh -c 'echo hi > f'
	assert_rc 0
	wsx --run r --task b --parent a --events "$T/ev" -- sh -c 'exit 4'
	assert_rc 4
	wsx --run r --task x --events "$T/ev" -- sh -c 'echo one > f'
	assert_rc 0
	wsx --run r --task conflict --parent a --parent x --events "$T/ev" -- true
	assert_rc 125
	wsx --run r2 --task a --events "$T/ev" -- sh -c 'echo hi > f'
	assert_rc 0
	check_events "$T/ev" > "$T/kinds" || fail "events: $(cat "$T/kinds")"
	assert_eq "$(tr '\n' ';' < "$T/kinds")" \
"task_started a -;cache_miss a -;task_finished a succeeded;\
task_started b -;cache_miss b -;task_finished b failed;\
task_started x -;cache_miss x -;task_finished x succeeded;\
task_finished conflict refused;\
task_started a -;cache_hit a -;task_finished a succeeded;" kinds
	python3 - "$T/ev" <<'PY' || fail "events fields"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
fin = [e for e in ev if e["event"] == "task_finished"]
a, b, x, c, hit = fin
assert a["layer"].startswith("sha256:") and a["files"] == 1 and a["bytes"] == 3, a
assert b["exit_code"] == 4 and b["exit_status"] == 4 and b["layer"] is None, b
assert "conflict" in c["error"], c
assert hit["cache_hit"] is True and hit["layer"] == a["layer"], hit
started = [e for e in ev if e["event"] == "task_started"]
assert started[1]["parents"] == ["a"], started[1]
assert started[0]["cache_key"] == started[3]["cache_key"], "same work, same key"
PY
}

test_events_to_stderr_and_fd() {
	wsx --run r --task a --events - -- true
	assert_rc 0
	grep -q '"event":"task_finished"' "$T/err" || fail "no events on stderr"
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --run r --task b --events fd:7 -- true \
		7>"$T/ev7" >/dev/null 2>"$T/err" </dev/null || RC=$?
	assert_rc 0
	grep -q '"event":"task_finished"' "$T/ev7" || fail "no events on fd 7"
}

test_events_bad_destination_refused() {
	wsx --run r --task a --events "$T/no/such/dir/ev" -- true
	assert_rc 125
	assert_err_has "--events"
	wsx --run r --task a --events fd:99 -- true
	assert_rc 125
	assert_store_clean
}
