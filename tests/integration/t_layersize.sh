# --max-layer-size holds while the task runs (docs/capture.md "Size limit"):
# the upper dir lives on a tmpfs of that size, writes past it fail with
# ENOSPC inside the task, the store's disk never sees them, and a layer
# under the limit is the same layer, on disk and by digest, as without it.
# A full store disk ends an exec with one line and leaves no half layer.

need_root() { [ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }; }

# The full digest of the layer a task published (from its record).
layer_of() { # STORE RUN TASK
	sed -n 's/^ "layer": "\(sha256:[0-9a-f]*\)".*/\1/p' "$1/runs/$2/tasks/$3"
}

# Everything of a layer's tree that a lower shows: names, types (c for
# whiteouts), modes, sizes, link targets.
tree_listing() { # STORE DIGEST
	(cd "$1/layers/${2#sha256:}/tree" &&
		find . -printf '%p %y %m %s %l\n' | LC_ALL=C sort)
}

# KiB used under the store.
store_kib() { du -sk "$STORE" 2>/dev/null | cut -f1; }

test_layersize_writes_past_the_limit_fail_inside_the_task() {
	wsx --no-cache --max-layer-size 1M -- dd if=/dev/zero of=big bs=64k count=100
	assert_rc 1
	assert_err_has "No space left on device"
	assert_err_has "workspace size limit 1M reached"
	ws layers --store "$STORE" ls
	assert_out ""
}

# Inodes are bounded too: empty files take no pages, but past one inode per
# 4 KiB of the limit plus 16384 they fail the same way.
test_layersize_inodes_are_bounded() {
	wsx --no-cache --max-layer-size 4k -- sh -c \
		'i=0; while [ $i -lt 20000 ]; do : >f$i; i=$((i + 1)); done'
	assert_rc 1
	assert_err_has "No space left on device"
	assert_err_has "workspace size limit 4K reached"
}

# The store's disk holds at most the limit while the task runs: measured
# while the task, done writing, waits to be stopped.
test_layersize_store_does_not_grow_past_the_limit() {
	ws layers --store "$STORE" ls
	before=$(store_kib)
	mkfifo "$T/fifo"
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --no-cache \
		--max-layer-size 1M -- sh -c \
		'dd if=/dev/zero of=big bs=64k count=100; echo written; sleep 60' \
		>"$T/fifo" 2>"$T/err" </dev/null &
	pid=$!
	read -r line <"$T/fifo"
	during=$(store_kib)
	kill "$pid"
	wait "$pid"
	assert_eq "$line" written
	[ $((during - before)) -le 1100 ] || fail "store grew by $((during - before)) KiB"
}

# The same tasks with and without the limit: the same digest and the same
# tree on disk, whiteouts and opaque dirs included, and a child of each sees
# the same workspace through it (the copy works as a lower). The 80-deep
# directory takes the copy past its window of open directories.
LAYERSIZE_PARENT='mkdir -p d/e x; echo hi >d/f; echo gone >g; ln -s d/f l; echo keep >x/keep'
LAYERSIZE_CHILD='rm g; rm -rf x; mkdir x; echo new >x/n; echo s >s; chmod 4755 s;
touch -d @1000000000 s; mkfifo fifo; mkdir -p deep/a/b; chmod 500 deep/a;
p=$(printf "z/%.0s" $(seq 80)); mkdir -p "$p"; echo bottom >"${p}f"; truncate -s 4096 sparse'
LAYERSIZE_VIEW='ls -a /workspace /workspace/x; stat -c "%a %s %Y" /workspace/s; cat /workspace/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/z/f'

layersize_pipeline() { # STORE [exec options of the child task]
	s=$1
	shift
	STORE=$s wsx --run r --task a -- sh -c "$LAYERSIZE_PARENT"
	assert_rc 0
	STORE=$s wsx --run r --task b --parent a "$@" -- sh -c "$LAYERSIZE_CHILD"
	assert_rc 0
	STORE=$s wsx --run r --task c --parent b -- sh -c "$LAYERSIZE_VIEW"
	assert_rc 0
	cp "$T/out" "$s.view"
}

test_layersize_under_the_limit_publishes_the_same_layer() {
	layersize_pipeline "$T/plain"
	layersize_pipeline "$T/limited" --max-layer-size 10M
	plain=$(layer_of "$T/plain" r b)
	limited=$(layer_of "$T/limited" r b)
	[ -n "$plain" ] || fail "no layer without the limit"
	assert_eq "$limited" "$plain" "digest under --max-layer-size"
	assert_eq "$(tree_listing "$T/limited" "$limited")" "$(tree_listing "$T/plain" "$plain")" "layer tree"
	tree_listing "$T/limited" "$limited" | grep -qx './g c 0 0 ' || fail "no whiteout for g"
	assert_eq "$(cat "$T/limited.view")" "$(cat "$T/plain.view")" "child's workspace"
	! grep -qx 'keep' "$T/limited.view" || fail "opaque dir x shows the parent's keep"
	grep -qx 'bottom' "$T/limited.view" || fail "deep file missing: $(cat "$T/limited.view")"
	# Layer entries carry LAYER_MTIME (README "Time stamps"), copied or not.
	grep -qx '755 2 315619200' "$T/limited.view" || fail "mode or mtime of s: $(cat "$T/limited.view")"
	STORE="$T/limited" ws layers --store "$T/limited" verify
	assert_rc 0
}

# --save under the limit: what is not saved is left out of the copy, and
# the layer is the one the in-place capture publishes.
test_layersize_save_paths_publish_the_same_layer() {
	task='mkdir -p out/keep out/drop tmp; echo k >out/keep/k; echo d >out/drop/d; echo t >tmp/t; echo top >top'
	STORE="$T/plain" wsx --run r --task a --save out/keep --save top -- sh -c "$task"
	assert_rc 0
	STORE="$T/limited" wsx --run r --task a --save out/keep --save top --max-layer-size 1M -- sh -c "$task"
	assert_rc 0
	plain=$(layer_of "$T/plain" r a)
	assert_eq "$(layer_of "$T/limited" r a)" "$plain" "digest under --max-layer-size"
	assert_eq "$(tree_listing "$T/limited" "$plain")" "$(tree_listing "$T/plain" "$plain")" "layer tree"
	assert_eq "$(cd "$T/limited/layers/${plain#sha256:}/tree" && find . | LC_ALL=C sort | tr '\n' ' ')" ". ./out ./out/keep ./out/keep/k ./top " "saved paths"
}

# The apparent size counts: a sparse 1 TiB file fits the tmpfs but is
# refused at capture by its size, before a byte of it is read.
test_layersize_sparse_file_counts_its_apparent_size() {
	wsx --no-cache --max-layer-size 10M -- truncate -s 1099511627776 f
	assert_rc 125
	assert_err_has "layer exceeds --max-layer-size (10485760 bytes)"
	ws layers --store "$STORE" ls
	assert_out ""
}

# A store on a disk that fills up: a capture that does not fit and a task
# without the limit that fills the disk itself both end with one line, exit
# 125; nothing half-published, the first layer intact, and the record of the
# capture keeps the task's own exit code.
test_layersize_full_store_disk_is_one_line() {
	need_root
	S="$T/small"
	mkdir "$S"
	mount -t tmpfs -o size=8M tmpfs "$S" || fail "mount tmpfs"
	trap 'umount -l "$S"' EXIT
	STORE=$S wsx --run r --task one --max-layer-size 7M -- dd if=/dev/urandom of=a bs=1M count=6
	assert_rc 0
	STORE=$S wsx --run r --task two --max-layer-size 7M -- dd if=/dev/urandom of=b bs=1M count=6
	assert_rc 125
	assert_err_has "wsbox: store $S: no space left on device"
	assert_eq "$(grep -c 'no space' "$T/err")" 1 "lines about the full disk"
	grep -q '"exit_code": 0' "$S/runs/r/tasks/two" || fail "record of two: $(cat "$S/runs/r/tasks/two")"
	grep -q '"status": "failed"' "$S/runs/r/tasks/two" || fail "record of two: $(cat "$S/runs/r/tasks/two")"
	STORE=$S wsx --run r --task three -- dd if=/dev/urandom of=c bs=1M count=6
	assert_rc 125
	assert_err_has "wsbox: store $S: no space left on device"
	assert_eq "$(ls "$S/layers" | wc -l)" 1 "layers"
	assert_eq "$(ls -A "$S/staging")" "" "staging left behind"
	ws layers --store "$S" verify
	assert_rc 0
}
