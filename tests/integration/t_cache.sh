# Cache (docs/cache.md "Cache key", "Lookup and hit", issue 4): an identical
# exec is a hit that publishes the cached layer and replays the output
# without any sandbox; anything in the key that changes is a miss; failures
# are never cached.

# A command whose output differs on every real run: a hit is proven by
# getting the old bytes back.
RANDOM_CMD='u=$(cat /proc/sys/kernel/random/uuid); echo "$u"; printf "err-%s" "$u" >&2; echo "$u" > made'

# rec RUN TASK FIELD: a top-level field of a task record ("null", "true"...).
rec() {
	python3 - "$STORE/runs/$1/tasks/$2" "$3" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)
PY
}
# kinds FILE: the "event" fields of an events file, one per line.
kinds() { python3 -c 'import json,sys; [print(json.loads(l)["event"]) for l in open(sys.argv[1])]' "$1"; }
hit_in() { kinds "$1" | grep -qx cache_hit; }

test_cache_hit_replays_bytes_without_sandbox() {
	wsx --run r1 --task build --events "$T/ev1" -- sh -c "$RANDOM_CMD"
	assert_rc 0
	cp "$T/out" "$T/out1"; cp "$T/err" "$T/err1"
	# Another run, another task name: same work, so a hit.
	wsx --run r2 --task other --events "$T/ev2" -- sh -c "$RANDOM_CMD"
	assert_rc 0
	cmp "$T/out1" "$T/out" || fail "stdout not replayed byte for byte"
	cmp "$T/err1" "$T/err" || fail "stderr not replayed byte for byte"
	! hit_in "$T/ev1" || fail "first run was a hit"
	hit_in "$T/ev2" || fail "second run was not a hit: $(kinds "$T/ev2" | tr '\n' ' ')"
	assert_eq "$(rec r2 other cache_hit)" true cache_hit
	assert_eq "$(rec r2 other layer)" "$(rec r1 build layer)" layer
	assert_eq "$(rec r2 other status)" succeeded status
	# The run keeps its own copy of the output.
	cmp "$T/out1" "$STORE/$(rec r2 other stdout)" || fail "run log differs"
	# The published layer works for children of the hit.
	wsx --run r2 --task child --parent other -- cat made
	assert_rc 0
	assert_out "$(cat "$T/out1")"
}

test_cache_key_changes_are_misses() {
	n=0
	# try EXPECT(hit|miss) [options...] -- CMD...
	try() {
		expect=$1; shift; n=$((n + 1))
		wsx --run "r$n" --task t --events "$T/ev$n" "$@"
		assert_rc 0
		if hit_in "$T/ev$n"; then got=hit; else got=miss; fi
		assert_eq "$got" "$expect" "case $n ($*)"
	}
	try miss --env X=1 -- sh -c 'echo $X; cat /proc/sys/kernel/random/uuid'
	try hit --env X=1 -- sh -c 'echo $X; cat /proc/sys/kernel/random/uuid'
	try miss --env X=2 -- sh -c 'echo $X; cat /proc/sys/kernel/random/uuid'
	try miss --env X=1 -- sh -c 'echo $X;  cat /proc/sys/kernel/random/uuid'
	try miss --env X=1 --policy permissive -- sh -c 'echo $X; cat /proc/sys/kernel/random/uuid'
	try miss --env X=1 --hostname other -- sh -c 'echo $X; cat /proc/sys/kernel/random/uuid'
	# --env-pass: unset, empty and set are three different keys.
	unset WS_PASS
	try miss --env-pass WS_PASS -- sh -c 'echo ${WS_PASS-unset}'
	WS_PASS= try miss --env-pass WS_PASS -- sh -c 'echo ${WS_PASS-unset}'
	WS_PASS=v try miss --env-pass WS_PASS -- sh -c 'echo ${WS_PASS-unset}'
	WS_PASS=v try hit --env-pass WS_PASS -- sh -c 'echo ${WS_PASS-unset}'
	# Another rootfs (a copy elsewhere) is another identity.
	cp -a "$ROOTFS" "$T/rootfs2"
	n=$((n + 1))
	ws exec --store "$STORE" --rootfs "$T/rootfs2" --run "r$n" --task t --events "$T/ev$n" \
		--env X=1 -- sh -c 'echo $X; cat /proc/sys/kernel/random/uuid'
	assert_rc 0
	! hit_in "$T/ev$n" || fail "other rootfs was a hit"
	# An ancestor with other content: miss; same content: hit.
	wsx --run pa --task p -- sh -c 'echo one > f'
	assert_rc 0
	wsx --run pb --task p -- sh -c 'echo two > f'
	assert_rc 0
	wsx --run pc --task p -- sh -c 'echo one > f'
	assert_rc 0
	wsx --run pa --task c --parent p --events "$T/eva" -- sh -c 'cat f; cat /proc/sys/kernel/random/uuid'
	assert_rc 0
	wsx --run pb --task c --parent p --events "$T/evb" -- sh -c 'cat f; cat /proc/sys/kernel/random/uuid'
	assert_rc 0
	assert_out_has two
	! hit_in "$T/evb" || fail "ancestor with other content was a hit"
	wsx --run pc --task c --parent p --events "$T/evc" -- sh -c 'cat f; cat /proc/sys/kernel/random/uuid'
	assert_rc 0
	hit_in "$T/evc" || fail "same ancestor content was a miss"
	return 0
}

test_failing_task_is_never_cached() {
	wsx --run r1 --task t -- sh -c 'cat /proc/sys/kernel/random/uuid; exit 3'
	assert_rc 3
	cp "$T/out" "$T/out1"
	wsx --run r2 --task t --events "$T/ev" -- sh -c 'cat /proc/sys/kernel/random/uuid; exit 3'
	assert_rc 3
	! cmp -s "$T/out1" "$T/out" || fail "failed run was replayed"
	! hit_in "$T/ev" || fail "hit on a failed task"
	assert_eq "$(ls "$STORE/cache/tasks" | wc -l)" 0 "cache entries"
}

test_no_cache_forces_execution_and_refreshes() {
	wsx --run r1 --task t -- cat /proc/sys/kernel/random/uuid
	assert_rc 0
	first=$(cat "$T/out")
	wsx --run r2 --task t --no-cache --events "$T/ev2" -- cat /proc/sys/kernel/random/uuid
	assert_rc 0
	second=$(cat "$T/out")
	[ "$first" != "$second" ] || fail "--no-cache replayed"
	! hit_in "$T/ev2" || fail "--no-cache reported a hit"
	wsx --run r3 --task t -- cat /proc/sys/kernel/random/uuid
	assert_rc 0
	assert_out "$second"
}

test_cache_entry_with_missing_or_corrupt_layer_is_a_miss() {
	wsx --run r1 --task t -- sh -c 'cat /proc/sys/kernel/random/uuid > f; echo ok'
	assert_rc 0
	hex=$(rec r1 t layer | sed 's/sha256://')
	# Corrupt manifest: a miss, and the task runs and succeeds.
	chmod -R u+w "$STORE/layers/$hex"
	echo junk >> "$STORE/layers/$hex/manifest"
	wsx --run r2 --task t --events "$T/ev2" -- sh -c 'cat /proc/sys/kernel/random/uuid > f; echo ok'
	assert_rc 0
	! hit_in "$T/ev2" || fail "corrupt layer was a hit"
	# Missing layer: a miss too.
	hex2=$(rec r2 t layer | sed 's/sha256://')
	chmod -R u+w "$STORE/layers/$hex2"; rm -rf "$STORE/layers/$hex2"
	wsx --run r3 --task t --events "$T/ev3" -- sh -c 'cat /proc/sys/kernel/random/uuid > f; echo ok'
	assert_rc 0
	! hit_in "$T/ev3" || fail "missing layer was a hit"
	[ -d "$STORE/layers/$(rec r3 t layer | sed 's/sha256://')/tree" ] || fail "no layer after the miss"
}
