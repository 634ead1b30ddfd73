# Workspaces (docs/model.md "Workspace rules", docs/capture.md): ancestors'
# layers as an overlay, deterministic order, conflicts, capture of what a
# task wrote.

# task RUN NAME [exec options...] -- CMD: run a task on the test rootfs.
task() {
	run=$1 name=$2; shift 2
	wsx --run "$run" --task "$name" "$@"
}
# layer_of RUN TASK: the layer digest recorded for a task.
layer_of() {
	# top-level keys are indented by one space (ancestors by more)
	sed -n 's/^ "layer": "\(sha256:[0-9a-f]*\)".*/\1/p' "$STORE/runs/$1/tasks/$2"
}
status_of() {
	sed -n 's/^ "status": "\([a-z]*\)".*/\1/p' "$STORE/runs/$1/tasks/$2"
}

# Agola docs, "isolated tasks": two builds write the same path; each test
# task sees only its own build's file.
test_agola_isolated_tasks() {
	task r build-x86 -- sh -c 'mkdir -p out; echo x86 > out/binary'
	assert_rc 0
	task r build-arm -- sh -c 'mkdir -p out; echo arm > out/binary'
	assert_rc 0
	task r test-x86 --parent build-x86 -- cat out/binary
	assert_rc 0
	assert_out x86
	task r test-arm --parent build-arm -- cat out/binary
	assert_rc 0
	assert_out arm
	# Both as parents of one task: the same path written twice: conflict.
	task r both --parent build-x86 --parent build-arm -- true
	assert_rc 125
	assert_err_has "conflict: out/binary: written by task build-arm and task build-x86"
	# The refusal is the task's recorded outcome (docs/cache.md "Records").
	assert_eq "$(status_of r both)" refused status
	grep -qF '"error": "conflict: out/binary: written by task build-arm and task build-x86"' "$STORE/runs/r/tasks/both" || fail "record lacks the conflict"
}

# Agola docs, "dependent tasks": distinct paths, both visible to both tests.
test_agola_dependent_tasks() {
	task r build-x86 -- sh -c 'mkdir -p x86_64; echo x > x86_64/binary'
	assert_rc 0
	task r build-arm -- sh -c 'mkdir -p arm64; echo a > arm64/binary'
	assert_rc 0
	for t in test-1 test-2; do
		task r $t --parent build-x86 --parent build-arm -- cat x86_64/binary arm64/binary
		assert_rc 0
		assert_out "x
a"
	done
}

test_chain_descendant_overrides_and_deletes() {
	task r a -- sh -c 'mkdir -p out d; echo a > out/bin; echo keep > k; echo gone > g; echo old > d/old'
	assert_rc 0
	task r b --parent a -- sh -c 'echo b > out/bin; rm g; rm -rf d; mkdir d; echo new > d/new'
	assert_rc 0
	task r c --parent b -- sh -c 'cat out/bin k; ls d; test -e g && echo g-visible; true'
	assert_rc 0
	assert_out "b
keep
new"
}

test_transitive_ancestors_contribute() {
	task r a -- sh -c 'echo 1 > from-a'
	assert_rc 0
	task r b --parent a -- sh -c 'echo 2 > from-b'
	assert_rc 0
	task r c --parent b -- sh -c 'echo 3 > from-c'
	assert_rc 0
	task r d --parent c -- sh -c 'cat from-a from-b from-c'
	assert_rc 0
	assert_out "1
2
3"
}

test_non_ancestor_layers_never_appear() {
	task r a -- sh -c 'echo a > a'
	assert_rc 0
	task r sibling -- sh -c 'echo s > s'
	assert_rc 0
	task r child --parent a -- sh -c 'ls /workspace'
	assert_rc 0
	assert_out a
}

test_identical_entries_are_not_a_conflict() {
	task r a -- sh -c 'mkdir -p gen; echo same > gen/f'
	assert_rc 0
	task r b -- sh -c 'mkdir -p gen; echo same > gen/f'
	assert_rc 0
	task r c --parent a --parent b -- cat gen/f
	assert_rc 0
	assert_out same
}

test_file_versus_directory_is_a_conflict() {
	task r a -- sh -c 'echo file > p'
	assert_rc 0
	task r b -- sh -c 'mkdir -p p; echo x > p/x'
	assert_rc 0
	task r c --parent a --parent b -- true
	assert_rc 125
	assert_err_has "conflict: p: file and directory by task a and task b"
}

test_delete_versus_modify_is_a_conflict() {
	task r base -- sh -c 'echo v1 > f'
	assert_rc 0
	task r del --parent base -- rm f
	assert_rc 0
	task r mod --parent base -- sh -c 'echo v2 > f'
	assert_rc 0
	task r join --parent del --parent mod -- true
	assert_rc 125
	assert_err_has "conflict: f: deleted and modified by task del and task mod"
}

test_diamond_sees_shared_ancestor_once() {
	task r base -- sh -c 'echo base > b'
	assert_rc 0
	task r left --parent base -- sh -c 'echo l > l'
	assert_rc 0
	task r right --parent base -- sh -c 'echo r > r'
	assert_rc 0
	task r join --parent left --parent right -- sh -c 'cat b l r'
	assert_rc 0
	assert_out "base
l
r"
}

test_digests_are_deterministic_across_runs() {
	for run in one two; do
		task $run a -- sh -c 'mkdir -p o; echo hi > o/f; ln -s f o/l; chmod 750 o'
		assert_rc 0
		task $run b --parent a -- sh -c 'echo more >> o/f; rm o/l'
		assert_rc 0
	done
	assert_eq "$(layer_of one a)" "$(layer_of two a)" "layer a"
	assert_eq "$(layer_of one b)" "$(layer_of two b)" "layer b"
	[ -n "$(layer_of one a)" ] || fail "no digest recorded"
}

test_ro_workspace_rejects_writes_and_publishes_nothing() {
	task r a -- sh -c 'echo a > a'
	assert_rc 0
	task r view --parent a --ro -- sh -c 'cat a; echo x > b'
	assert_rc 1
	assert_out a
	assert_err_has "Read-only file system"
	task r view2 --parent a --ro -- cat a
	assert_rc 0
	assert_eq "$(layer_of r view2)" "" "ro task layer"
}

test_save_keeps_only_named_paths() {
	task r a --save out --save keep.txt -- sh -c 'mkdir -p out tmp; echo 1 > out/f; echo 2 > tmp/junk; echo 3 > keep.txt; echo 4 > other'
	assert_rc 0
	task r b --parent a -- sh -c 'ls /workspace'
	assert_rc 0
	assert_out "keep.txt
out"
}

test_failed_task_publishes_nothing_and_blocks_children() {
	task r bad -- sh -c 'echo partial > p; exit 3'
	assert_rc 3
	assert_eq "$(status_of r bad)" failed status
	assert_eq "$(layer_of r bad)" "" layer
	[ -z "$(ls -A "$STORE/staging")" ] || fail "staging left behind"
	task r child --parent bad -- true
	assert_rc 125
	assert_err_has "parent bad did not succeed"
}

test_unknown_parent_is_125() {
	task r child --parent ghost -- true
	assert_rc 125
	# A logical error: no errno text after it.
	assert_eq "$(cat "$T/err")" "wsbox: parent ghost: no such task in run r" stderr
	assert_eq "$(status_of r child)" refused status
	grep -qF '"error": "parent ghost: no such task in run r"' "$STORE/runs/r/tasks/child" || fail "record lacks the why"
}

test_keep_failed_keeps_upper() {
	task r bad --keep-failed -- sh -c 'echo dbg > note; exit 1'
	assert_rc 1
	assert_err_has "kept failed attempt"
	[ -n "$(find "$STORE/staging" -name note)" ] || fail "upper dir not kept"
}

test_workspace_files_owned_by_task_identity() {
	task r a -- sh -c 'echo a > a'
	assert_rc 0
	task r b --parent a --uid 1234 --gid 1234 -- stat -c %u:%g a /workspace
	assert_rc 0
	assert_out "1234:1234
1234:1234"
}

test_chown_inside_succeeds_without_effect() {
	task r a -- sh -c 'echo a > f; chown 123:456 f && echo chown-ok; stat -c %u f'
	assert_rc 0
	assert_out "chown-ok
0"
}

test_logs_are_kept_in_the_store() {
	task r a -- sh -c 'echo to-out; echo to-err >&2'
	assert_rc 0
	out=$(sed -n 's/^ *"stdout": "\(.*\)".*/\1/p' "$STORE/runs/r/tasks/a")
	assert_eq "$(cat "$STORE/$out")" to-out
}

# Hostile upper dirs: capture walks without following anything.
test_hostile_upper_is_captured_safely() {
	echo secret > "$T/host-secret"; chmod 644 "$T/host-secret"
	task r evil -- sh -c "
		ln -s '$T/host-secret' link-to-host
		ln -s loop1 loop2; ln -s loop2 loop1
		mkfifo fifo
		echo x > hard1; ln hard1 hard2
		echo s > suid; chmod 4755 suid
		d=deep; i=0; while [ \$i -lt 300 ]; do d=\$d/d; i=\$((i+1)); done; mkdir -p \$d
		printf 'n' > \"\$(printf 'new\nline')\"
		printf 'b' > \"\$(printf 'bad\377name')\"
	"
	assert_rc 0
	task r look --parent evil -- sh -c 'readlink link-to-host; test -e fifo || echo no-fifo; stat -c %a suid; cat hard2'
	assert_rc 0
	assert_out "$T/host-secret
no-fifo
755
x"
}

# --ro without parents: an empty, read-only workspace (regression: overlay
# refused the empty lower twice).
test_ro_without_parents() {
	wsx --run r --task v --ro -- sh -c 'ls -A /workspace | wc -l; touch /workspace/x 2>/dev/null && echo wrote || echo refused'
	assert_rc 0
	assert_out "0
refused"
	assert_eq "$(sed -n 's/^ "layer": \(null\).*/\1/p' "$STORE/runs/r/tasks/v")" null layer
}

# A chain reads no manifest (no two of its layers can conflict): an empty
# layer in the middle is still left out, every writer still shows, a diamond
# above the chain is still checked, and a chain layer that went missing is
# still a clear error rather than an overlay mount failure.
test_chain_restore_without_manifests() {
	task r a -- sh -c 'echo a > f; echo a > shared'
	assert_rc 0
	task r b --parent a -- true
	assert_rc 0
	task r c --parent b -- sh -c 'echo c > g; rm shared'
	assert_rc 0
	task r d --parent c --ro -- sh -c 'cat f g; ls'
	assert_rc 0
	assert_out "a
c
f
g"
	# Two branches on the chain writing one path: a conflict.
	task r x --parent c -- sh -c 'echo x > h'
	assert_rc 0
	task r y --parent c -- sh -c 'echo y > h'
	assert_rc 0
	task r xy --parent x --parent y -- true
	assert_rc 125
	assert_err_has "conflict: h: written by task x and task y"
	hex=$(layer_of r a | sed 's/sha256://')
	chmod -R u+w "$STORE/layers/$hex" || fail "chmod layer $hex"
	rm -rf "$STORE/layers/$hex" || fail "rm layer $hex"
	task r e --parent c --ro -- true
	assert_rc 125
	assert_err_has "ancestor a: layer sha256:$hex: missing"
}

# tests/run.sh runs this suite once per strategy ($WSBOX_STRATEGY): the one
# asked for is the one /workspace is made with (README "Strategies").
test_workspace_is_made_by_the_strategy_asked() {
	task r a --events "$T/ev" -- awk '$2 == "/workspace" { print $3 }' /proc/mounts
	assert_rc 0
	used=$(sed -n 's/.*"event": *"task_started".*"strategy": *"\([a-z-]*\)".*/\1/p' "$T/ev")
	[ -z "${WSBOX_STRATEGY:-}" ] || assert_eq "$used" "$WSBOX_STRATEGY" "strategy used"
	case $used in
	overlay) assert_out overlay ;;
	fuse-overlayfs) assert_out fuse.fuse-overlayfs ;;
	copy)
		if grep -qE '^(overlay|fuse)' "$T/out"; then
			fail "copy workspace is $(cat "$T/out")"
		fi
		;;
	*) fail "task_started strategy: '$used'" ;;
	esac
}
