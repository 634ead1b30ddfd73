# Crash safety and gc (docs/capture.md "Crash safety", docs/cache.md
# "Garbage collection", issue 4): a kill -9 at any instant leaves the store
# consistent; `wsbox gc` reclaims dead attempts, unreferenced layers and
# cache entries beyond a budget, and nothing else.

# Every record names layers that exist; prints offenders.
dangling_records() {
	python3 - "$STORE" <<'PY'
import json, os, sys
store = sys.argv[1]
bad = 0
for run in os.listdir(os.path.join(store, "runs")):
    d = os.path.join(store, "runs", run, "tasks")
    if not os.path.isdir(d):
        continue
    for t in os.listdir(d):
        if t.startswith("."):
            continue
        r = json.load(open(os.path.join(d, t)))
        anc = r.get("ancestors", [])
        if r.get("ancestry"):
            anc = json.load(open(os.path.join(store, "runs", run, "ancestry", r["ancestry"].split(":")[1])))
        names = [r["layer"]] + r["lowers"] + [a["layer"] for a in anc]
        for l in filter(None, names):
            h = l.split(":")[1]
            for part in ("tree", "manifest"):
                if not os.path.exists(os.path.join(store, "layers", h, part)):
                    print(f"{run}/{t} -> {l} ({part} missing)")
                    bad += 1
sys.exit(1 if bad else 0)
PY
}

# An owner file for a process: "pid N / start T / host H".
owner_of() { # PID
	start=$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20)
	printf 'pid %s\nstart %s\nhost %s\n' "$1" "$start" "$(hostname)"
}

test_gc_removes_dead_staging_keeps_live() {
	wsx --run r --task t -- true
	assert_rc 0
	mkdir -p "$STORE/staging/dead1/upper/d" "$STORE/staging/live1/upper"
	echo x > "$STORE/staging/dead1/upper/d/f"
	chmod 000 "$STORE/staging/dead1/upper/d"
	printf 'pid 999999999\nstart 1\nhost %s\n' "$(hostname)" > "$STORE/staging/dead1/owner"
	sleep 300 & sp=$!
	trap 'kill $sp 2>/dev/null' EXIT
	owner_of $sp > "$STORE/staging/live1/owner"
	# A reused pid: alive, but not the process that wrote the owner file.
	mkdir -p "$STORE/staging/reused"
	printf 'pid %s\nstart 1\nhost %s\n' $sp "$(hostname)" > "$STORE/staging/reused/owner"
	ws gc --store "$STORE" --dry-run
	assert_rc 0
	assert_out_has "would remove staging dead1"
	assert_file "$STORE/staging/dead1"
	ws gc --store "$STORE"
	assert_rc 0
	kill $sp
	assert_no_file "$STORE/staging/dead1"
	assert_no_file "$STORE/staging/reused"
	assert_file "$STORE/staging/live1/owner"
}

test_gc_unreferenced_layers_and_cache_budget() {
	wsx --run keep --task t -- sh -c 'echo keep > f'
	assert_rc 0
	wsx --run gone --task t -- sh -c 'head -c 100000 /dev/zero > big'
	assert_rc 0
	keep=$(sed -n 's/^ "layer": "sha256:\([0-9a-f]*\)".*/\1/p' "$STORE/runs/keep/tasks/t")
	gone=$(sed -n 's/^ "layer": "sha256:\([0-9a-f]*\)".*/\1/p' "$STORE/runs/gone/tasks/t")
	ws runs --store "$STORE" rm gone
	assert_rc 0
	# The cache entry still names the layer: it stays.
	ws gc --store "$STORE"
	assert_rc 0
	assert_file "$STORE/layers/$gone/tree/big"
	# A budget below the big entry evicts it (least recently used first
	# would take `keep` first: touch it to make it recent).
	ws exec --store "$STORE" --rootfs "$ROOTFS" --run keep2 --task t -- sh -c 'echo keep > f'
	ws gc --store "$STORE" --cache-max-bytes 50k --dry-run
	assert_rc 0
	assert_out_has "would remove layer sha256:$gone"
	assert_file "$STORE/layers/$gone/tree/big"
	ws gc --store "$STORE" --cache-max-bytes 50k
	assert_rc 0
	assert_no_file "$STORE/layers/$gone"
	assert_file "$STORE/layers/$keep/tree/f"
	dangling_records || fail "records name missing layers"
	ws layers --store "$STORE" verify
	assert_rc 0
}

test_gc_bad_budget_refused() {
	ws gc --store "$STORE" --cache-max-bytes lots
	assert_rc 125
	assert_err_has "--cache-max-bytes"
}

# Fault injection: SIGKILL wsbox at delays spread over a task that writes
# many files, so some kills land while the sandbox runs and some during
# capture and publication. After each: layers verify, no dangling record,
# gc reclaims every staging dir, and the task can be re-run.
test_kill9_anywhere_leaves_store_consistent() {
	CMD='i=0; while [ $i -lt 1500 ]; do echo $i > f$i; i=$((i + 1)); done'
	t0=$(date +%s%N)
	wsx --run base --task big --no-cache -- sh -c "$CMD"
	assert_rc 0
	t1=$(date +%s%N)
	full_ms=$(( (t1 - t0) / 1000000 ))
	k=1
	while [ $k -le 12 ]; do
		# Kill at k/10 of a full run (10%..120%).
		delay_ms=$(( full_ms * k / 10 ))
		"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --run "r$k" --task big --no-cache \
			-- sh -c "$CMD" >/dev/null 2>&1 </dev/null &
		p=$!
		sleep "$(awk "BEGIN{print $delay_ms/1000}")"
		kill -9 $p 2>/dev/null
		wait $p 2>/dev/null
		k=$((k + 1))
	done
	# Let the orphaned sandboxes (killed by their parent-death signal) go.
	sleep 0.5
	ws layers --store "$STORE" verify
	assert_rc 0
	dangling_records || fail "records name missing layers"
	ws gc --store "$STORE"
	assert_rc 0
	if [ -n "$(ls -A "$STORE/staging")" ]; then
		sleep 1; ws gc --store "$STORE"
	fi
	assert_eq "$(ls -A "$STORE/staging" | tr '\n' ' ')" "" "staging after gc"
	ws layers --store "$STORE" verify
	assert_rc 0
	dangling_records || fail "records name missing layers"
	wsx --run again --task big --no-cache -- sh -c "$CMD; ls | wc -l"
	assert_rc 0
	assert_out 1500
}
