# Records keep the why, machine-readable (README "Pipelines"): `runs show`
# (topological order, stale marks, --dot, --json), digest prefixes accepted
# by the layer verbs, `wsbox logs`, --help of the record verbs, and logical
# errors without errno text.

# jq_out EXPR: evaluate a Python expression over the JSON on stdout (d).
jq_out() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$T/out" "$1"
}

record_layer() { # RUN TASK: the full digest in the task's record
	sed -n 's/^ "layer": "\(sha256:[0-9a-f]*\)".*/\1/p' "$STORE/runs/$1/tasks/$2"
}

# a → b → c, then b re-run with another result.
make_stale_chain() {
	wsx --run r --task a -- sh -c 'echo a > a'
	assert_rc 0
	wsx --run r --task b --parent a -- sh -c 'echo 1 > b'
	assert_rc 0
	wsx --run r --task c --parent b -- sh -c 'cat b > c'
	assert_rc 0
	wsx --run r --task d --parent c -- sh -c 'echo d > d'
	assert_rc 0
	wsx --run r --task b --parent a -- sh -c 'echo 2 > b'
	assert_rc 0
}

test_runs_show_json_has_every_field() {
	wsx --run r --task a -- sh -c 'echo a > a'
	assert_rc 0
	wsx --run r --task f --parent a -- sh -c 'exit 3'
	assert_rc 3
	wsx --run r2 --task a -- sh -c 'echo a > a'
	assert_rc 0
	ws runs --store "$STORE" show r --json
	assert_rc 0
	assert_eq "$(jq_out 'd["run"]')" r run
	assert_eq "$(jq_out '[t["task"] for t in d["tasks"]]')" "['a', 'f']" tasks
	assert_eq "$(jq_out 'sorted(d["tasks"][0].keys())')" \
		"['attempt', 'cache_hit', 'error', 'exit_status', 'layer', 'parents', 'seq', 'stale', 'stale_because', 'status', 'task', 'wall_sec']" keys
	assert_eq "$(jq_out 'd["tasks"][0]["layer"]')" "$(record_layer r a)" "a's layer (full digest)"
	assert_eq "$(jq_out 'd["tasks"][1]["layer"]')" None "f's layer"
	assert_eq "$(jq_out 'd["tasks"][1]["status"], d["tasks"][1]["exit_status"]')" "('failed', 3)" "f's ending"
	assert_eq "$(jq_out 'd["tasks"][1]["parents"]')" "['a']" "f's parents"
	assert_eq "$(jq_out 'd["tasks"][0]["cache_hit"], d["tasks"][0]["stale"]')" "(False, False)" "a's flags"
	assert_eq "$(jq_out 'type(d["tasks"][0]["wall_sec"]).__name__')" float wall_sec
	ws runs --store "$STORE" show r2 --json
	assert_rc 0
	assert_eq "$(jq_out 'd["tasks"][0]["cache_hit"]')" True "cache hit in r2"
	assert_eq "$(jq_out 'd["tasks"][0]["attempt"] != ""')" True attempt
}

test_runs_show_timeout_records_exit_status_124() {
	wsx --run r --task slow --timeout 1 -- sleep 30
	assert_rc 124
	ws runs --store "$STORE" show r --json
	assert_rc 0
	assert_eq "$(jq_out 'd["tasks"][0]["status"], d["tasks"][0]["exit_status"]')" "('timeout', 124)" ending
	ws runs --store "$STORE" show r
	assert_out_has "exit=124"
}

test_runs_show_order_is_topological_then_name() {
	wsx --run r --task z -- sh -c 'echo > z'
	assert_rc 0
	wsx --run r --task m --parent z -- sh -c 'echo > m'
	assert_rc 0
	wsx --run r --task a --parent m -- sh -c 'echo > a'
	assert_rc 0
	wsx --run r --task b --parent z -- sh -c 'echo > b'
	assert_rc 0
	ws runs --store "$STORE" show r
	assert_rc 0
	assert_eq "$(cut -d' ' -f1 "$T/out" | tr '\n' ' ')" "z b m a " "text order"
	ws runs --store "$STORE" show r --json
	assert_eq "$(jq_out '" ".join(t["task"] for t in d["tasks"])')" "z b m a" "json order"
}

test_runs_show_marks_tasks_built_on_a_rerun_parent_stale() {
	make_stale_chain
	ws runs --store "$STORE" show r --json
	assert_rc 0
	assert_eq "$(jq_out '[(t["task"], t["stale"]) for t in d["tasks"]]')" \
		"[('a', False), ('b', False), ('c', True), ('d', True)]" stale
	assert_eq "$(jq_out 'd["tasks"][3]["stale_because"]')" "['b']" "why d is stale"
	ws runs --store "$STORE" show r
	assert_rc 0
	grep -q '^c .*parents=b stale (re-run since: b)$' "$T/out" || fail "text: $(cat "$T/out")"
	grep -q '^b .*parents=a$' "$T/out" || fail "text: $(cat "$T/out")"
	ws runs --store "$STORE" show r --dot
	assert_rc 0
	assert_out_has '"c" [label="c\nsucceeded\nstale", style=dashed, color=grey'
	grep -q '^	"b" \[label="b\\nsucceeded"\];$' "$T/out" || fail "dot: $(cat "$T/out")"
}

test_rerun_with_the_same_result_is_not_stale() {
	wsx --run r --task a -- sh -c 'echo a > a'
	assert_rc 0
	wsx --run r --task b --parent a -- cat a
	assert_rc 0
	wsx --run r --task a --no-cache -- sh -c 'echo a > a'
	assert_rc 0
	ws runs --store "$STORE" show r --json
	assert_eq "$(jq_out '[t["stale"] for t in d["tasks"]]')" "[False, False]" stale
}

test_runs_show_prefix_is_accepted_by_layer_verbs() {
	wsx --run r --task a -- sh -c 'mkdir d; echo hello > d/f'
	assert_rc 0
	full=$(record_layer r a)
	ws runs --store "$STORE" show r
	assert_rc 0
	prefix=$(sed -n 's/.* layer=\([0-9a-f]*\) .*/\1/p' "$T/out")
	assert_eq "${#prefix}" 12 "printed prefix length"
	ws layers --store "$STORE" show "$prefix"
	assert_rc 0
	assert_out_has "layer $full:"
	assert_out_has "d/f"
	ws layers --store "$STORE" show "sha256:$prefix"
	assert_rc 0
	ws layers --store "$STORE" show "${full#sha256:}"
	assert_rc 0
	ws layers --store "$STORE" verify "$(echo "$prefix" | cut -c1-8)"
	assert_rc 0
	assert_out "ok $full"
	ws layers --store "$STORE" export "$prefix" -o "$T/a.tar"
	assert_rc 0
	tar -tf "$T/a.tar" > "$T/names"
	grep -q 'd/f$' "$T/names" || fail "export: $(cat "$T/names")"
}

test_digest_prefix_errors_name_the_problem() {
	wsx --run r --task a -- sh -c 'echo x > x'
	assert_rc 0
	ws layers --store "$STORE" show 0123456
	assert_rc 125
	assert_err_has "digest prefix too short (at least 8 hex digits)"
	ws layers --store "$STORE" show nothex!!
	assert_rc 125
	assert_err_has "not a layer digest"
	# Two layer names sharing a prefix (no content can be made to).
	d0=deadbeef$(printf '0%.0s' $(seq 56))
	d1=deadbeef$(printf '1%.0s' $(seq 56))
	mkdir "$STORE/layers/$d0" "$STORE/layers/$d1"
	ws layers --store "$STORE" show deadbeef
	assert_rc 125
	assert_err_has "ambiguous prefix (2 layers match)"
	ws layers --store "$STORE" show deadbeef1
	assert_rc 125
	assert_err_has "layer sha256:$d1: missing"
	ws layers --store "$STORE" show 99999999
	assert_rc 125
	assert_err_has "layer \`99999999\`: no such layer"
	if grep -q ': No such file\|: Invalid argument' "$T/err"; then fail "errno text: $(cat "$T/err")"; fi
}

test_logical_errors_carry_no_errno_text() {
	wsx --run r --task a -- sh -c 'echo x > x'
	assert_rc 0
	ws runs --store "$STORE" show nosuch
	assert_rc 125
	assert_eq "$(cat "$T/err")" 'wsbox: no such run `nosuch`' stderr
	ws restore --store "$STORE" --run r --task nosuch --to "$T/x"
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: no such task nosuch in run r" stderr
	ws logs --store "$STORE" --run r --task nosuch
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: no such task nosuch in run r" stderr
	mkdir -p "$T/full" && echo mine > "$T/full/f"
	ws restore --store "$STORE" --run r --task a --to "$T/full"
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: restore to \`$T/full\`: not empty (use --force to replace its content)" stderr
}

test_logs_prints_the_task_streams() {
	# Apart in time, so the supervisor reads them one at a time.
	wsx --run r --task t -- sh -c 'echo out1; sleep 0.3; echo err1 >&2; sleep 0.3; echo out2'
	assert_rc 0
	ws logs --store "$STORE" --run r --task t
	assert_rc 0
	# Both streams in their original interleaving (the combined log).
	assert_out "out1
err1
out2"
	ws logs --store "$STORE" --run r --task t --stdout
	assert_rc 0
	assert_out "out1
out2"
	ws logs --store "$STORE" --run r --task t --stderr
	assert_rc 0
	assert_out "err1"
	ws logs --store "$STORE" --run r --task t --stdout --stderr
	assert_rc 125
	# A cache hit in another run has the same logs.
	wsx --run r2 --task t -- sh -c 'echo out1; sleep 0.3; echo err1 >&2; sleep 0.3; echo out2'
	assert_rc 0
	ws runs --store "$STORE" show r2 --json
	assert_eq "$(jq_out 'd["tasks"][0]["cache_hit"]')" True "cache hit"
	ws logs --store "$STORE" --run r2 --task t --stderr
	assert_rc 0
	assert_out "err1"
}

test_logs_show_the_latest_published_attempt() {
	wsx --run r --task t -- sh -c 'echo first'
	assert_rc 0
	wsx --run r --task t -- sh -c 'echo second; exit 1'
	assert_rc 1
	ws logs --store "$STORE" --run r --task t
	assert_rc 0
	assert_out second
}

# A record naming a combined log (what exec writes once it keeps one):
# replayed in its chunks' order; a selector keeps one stream.
test_logs_replays_a_combined_log_in_order() {
	wsx --run r --task t -- sh -c 'echo x'
	assert_rc 0
	python3 - "$STORE" <<'PY'
import json, os, struct, sys
store = sys.argv[1]
rel = "runs/r/logs/hand.log"
with open(os.path.join(store, rel), "wb") as f:
    for stream, data in [(1, b"make all\n"), (2, b"a.c:1: error\n"), (1, b"make: done\n")]:
        f.write(struct.pack(">BI", stream, len(data)) + data)
path = os.path.join(store, "runs/r/tasks/t")
rec = json.load(open(path))
rec["combined"] = rel
json.dump(rec, open(path, "w"))
PY
	ws logs --store "$STORE" --run r --task t
	assert_rc 0
	assert_out "make all
a.c:1: error
make: done"
	ws logs --store "$STORE" --run r --task t --stderr
	assert_rc 0
	assert_out "a.c:1: error"
	# A record pointing outside its run's logs is refused.
	python3 - "$STORE" <<'PY'
import json, os, sys
path = os.path.join(sys.argv[1], "runs/r/tasks/t")
rec = json.load(open(path))
rec["combined"] = "runs/r/tasks/t"
json.dump(rec, open(path, "w"))
PY
	ws logs --store "$STORE" --run r --task t
	assert_rc 125
	assert_err_has "record of task t: bad log path"
}

test_record_verbs_have_help() {
	for verb in runs logs layers restore; do
		ws $verb --help
		assert_rc 0
		head -n 1 "$T/out" | grep -q "^usage: wsbox $verb" || fail "$verb --help: $(head -c 300 "$T/out")"
	done
	ws restore --help
	assert_out_has "Without --with-self the task's own result"
	ws runs show --help
	assert_rc 0
	assert_out_has "--json"
	ws logs --help
	assert_out_has "--stderr"
}

test_restore_without_with_self_says_what_it_holds() {
	wsx --run r --task a -- sh -c 'echo x > x'
	assert_rc 0
	ws restore --store "$STORE" --run r --task a --to "$T/in"
	assert_rc 0
	assert_err_has "holds the inputs of task a, not its result (add --with-self for that)"
	assert_no_file "$T/in/x"
	ws restore --store "$STORE" --run r --task a --to "$T/with" --with-self
	assert_rc 0
	assert_file "$T/with/x"
	assert_eq "$(cat "$T/err")" "" "stderr with --with-self"
}

# exec's refusals that `runs show` explains: errno-free, pointing at stale.
test_exec_refusals_point_at_stale_tasks() {
	make_stale_chain
	wsx --run r --task e --parent c --parent b -- true
	assert_rc 125
	assert_err_has "ancestors disagree on the layer of task b: it was re-run after a descendant used it"
	assert_err_has "re-run c (and every task between b and c) first (\`wsbox runs show\` marks them stale)"
	if grep -q 'Invalid argument' "$T/err"; then fail "errno text: $(cat "$T/err")"; fi
	wsx --run r --task e --parent ghost -- true
	assert_rc 125
	assert_eq "$(cat "$T/err")" "wsbox: parent ghost: no such task in run r" stderr
}
