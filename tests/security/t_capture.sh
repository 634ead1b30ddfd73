# Adversarial suite, the capture of what a hostile task leaves behind
# (CVE-2018-15664 class: a runtime that follows a link the container swaps
# in while the runtime works on its files) and overlay xattrs set through
# the workspace. See README.md.
. "$(dirname "$HERE")/security/lib_attack.sh"

layer_of() {
	sed -n 's/^ "layer": *"\(sha256:[0-9a-f]*\)".*/\1/p' "$STORE/runs/$1/tasks/$2"
}

# The task plants symlinks (to host paths, loops, ..), hardlinks, a FIFO,
# device nodes, setuid/setgid files, and leaves background processes that
# keep swapping directories for symlinks after the main process exits.
# Capture must wait for all of them to be dead and follow nothing: the
# layer holds no device, no FIFO, no setuid bit, links as links, nothing
# of the host, and no process of the task survives.
test_cve_2018_15664_capture_races_planted_links() {
	mark="sec-race-$$-$(date +%s)"
	out="$T/outside"
	mkdir -p "$out" && echo host-secret >"$out/secret" && chmod 644 "$out/secret"
	wsx --run r --task evil -- sh -c "
		# $mark
		mkdir -p swap/sub; echo in > swap/sub/f
		echo x > hard1; ln hard1 hard2
		mkfifo fifo
		echo s > suid; chmod 6755 suid; mkdir sgid; chmod 2775 sgid
		ln -s '$out' out-link; ln -s '$out/secret' secret-link
		ln -s '$STORE/layers' store-link; ln -s ../../../../../etc up-link
		ln -s loop1 loop2; ln -s loop2 loop1
		/probe attack mknod
		(while :; do mv swap swap.d; ln -sfn '$out' swap; rm -f swap; mv swap.d swap; done) >/dev/null 2>&1 &
		(while :; do ln -sfn '$out/secret' flip; rm -f flip; mkdir flip; rmdir flip; done) >/dev/null 2>&1 &
		(while :; do echo s > late; chmod 4755 late; rm -f late; ln -sfn '$out' late; rm -f late; done) >/dev/null 2>&1 &
		(sleep 1; echo too-late > too-late) &
		sleep 0.3; exit 0"
	assert_rc 0
	expect "mknod char 1:3: errno=EPERM" "mknod block 7:0: errno=EPERM"
	# No process of the task outlives wsbox.
	! pgrep -f "$mark" >/dev/null || fail "task processes survived: $(pgrep -af "$mark")"
	l=$(layer_of r evil)
	[ -n "$l" ] || fail "no layer recorded"
	ws layers --store "$STORE" show "$l"
	assert_rc 0
	cp "$T/out" "$T/show"
	# Only dirs (opaque or not), files, symlinks, whiteouts in the layer.
	bad=$(sed 1d "$T/show" | awk '$1 != "dir" && $1 != "file" && $1 != "symlink" && $1 != "whiteout" && $1 != "opaque"')
	[ -z "$bad" ] || fail "unexpected entries: $bad"
	! grep -q " fifo\$" "$T/show" || fail "fifo captured"
	# The layer as a child task sees it.
	wsx --run r --task child --parent evil -- true
	assert_rc 0
	ws restore --store "$STORE" --run r --task child --to "$T/rest"
	assert_rc 0
	assert_eq "$(find "$T/rest" \( -type b -o -type c -o -type p -o -type s \) | wc -l)" 0 "devices/fifos/sockets"
	assert_eq "$(find "$T/rest" -perm /6000 | wc -l)" 0 "setuid/setgid entries"
	for lnk in out-link:"$out" secret-link:"$out/secret" store-link:"$STORE/layers" up-link:../../../../../etc; do
		n=${lnk%%:*}; want=${lnk#*:}
		[ -L "$T/rest/$n" ] || fail "$n is not a symlink"
		assert_eq "$(readlink "$T/rest/$n")" "$want" "$n target"
	done
	[ -f "$T/rest/hard1" ] && [ "$(cat "$T/rest/hard2")" = x ] || fail "hardlinks lost"
	# swap: whichever state it was caught in, a real dir or a symlink.
	if [ -L "$T/rest/swap" ]; then
		assert_eq "$(readlink "$T/rest/swap")" "$out" "swap target"
	fi
	# Nothing of the host was read into the layer, nothing written outside.
	! grep -rq host-secret "$T/rest" "$STORE/layers" || fail "host file content captured"
	assert_eq "$(ls -A "$out")" secret "outside dir"
	assert_eq "$(cat "$out/secret")" host-secret "outside file"
	# A survivor would write too-late into the published layer.
	sleep 1.2
	assert_eq "$(find "$STORE" "$T/rest" -name too-late | wc -l)" 0 "late write"
	ws layers --store "$STORE" verify
	assert_rc 0
}

# Overlay's own xattrs set through the workspace (user.overlay.* with the
# userxattr mount, trusted.overlay.*): they must not end up in the layer
# and must not change what a child task sees (an opaque or redirect
# marker would hide or remap a parent's files).
test_overlay_xattrs_through_workspace() {
	need_python3
	wsx --run r --task a -- sh -c 'mkdir d e; echo k > d/keep; echo k > e/keep'
	assert_rc 0
	wsx --run r --task b --parent a -- sh -c '/probe attack xattr d &&
		/probe attack xattr e/keep && mkdir n && /probe attack xattr n &&
		echo z > d/new'
	assert_rc 0
	# trusted.* needs CAP_SYS_ADMIN in the initial namespace.
	expect "setxattr trusted.overlay.opaque: errno=EPERM" \
		"setxattr trusted.overlay.redirect: errno=EPERM"
	wsx --run r --task c --parent b -- sh -c 'cat d/keep e/keep; ls d; ls n'
	assert_rc 0
	assert_out "k
k
keep
new"
	# No xattr at all in any published layer.
	python3 - "$STORE/layers" >"$T/xattrs" <<'EOF' || fail "xattr listing"
import os, sys
for root, dirs, files in os.walk(sys.argv[1]):
    for n in dirs + files:
        p = os.path.join(root, n)
        names = os.listxattr(p, follow_symlinks=False)
        if names:
            print(p, names)
EOF
	assert_eq "$(cat "$T/xattrs")" "" "xattrs in layers"
	ws layers --store "$STORE" verify
	assert_rc 0
}

# Nothing of task $1 (run r) reached the store: no layer, no cache entry,
# no staging left, a record without a layer whose status is $2, and the
# store still verifies.
assert_nothing_published() {
	ws layers --store "$STORE" ls
	assert_rc 0
	assert_out ""
	assert_eq "$(ls -A "$STORE/layers")" "" "layers dir"
	assert_eq "$(ls -A "$STORE/staging")" "" "staging dir"
	assert_eq "$(ls -A "$STORE/cache/tasks")" "" "cache entries"
	grep -q '^ "layer": null,$' "$STORE/runs/r/tasks/$1" || fail "record names a layer: $(cat "$STORE/runs/r/tasks/$1")"
	grep -q "^ \"status\": \"$2\",\$" "$STORE/runs/r/tasks/$1" || fail "record status: $(grep status "$STORE/runs/r/tasks/$1")"
	ws layers --store "$STORE" verify
	assert_rc 0
}

# Issue 19 item 7: a 10,000-deep tree (a path of 20 KB, past PATH_MAX),
# made fd by fd. Published, no reader could open it again (verify,
# restore, export, a descendant's flattening all failed); capture refuses
# it instead, with the path's beginning and why, and the attempt's tree is
# removed however deep it is.
test_path_deeper_than_path_max_refused_at_capture() {
	wsx --run r --task deep -- /probe attack deep_tree 10000
	assert_rc 125
	expect "mkdir 10000 nested dirs: succeeded"
	d32=d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d
	assert_eq "$(grep -c . "$T/err")" 1 "stderr lines"
	assert_err_has "wsbox: capture: \`$d32/…\`: path longer than 4095 bytes (PATH_MAX): no reader of the layer could open it"
	assert_nothing_published deep failed
	# As deep as a layer may go still works and reads back.
	wsx --run r --task ok -- /probe attack deep_tree 2000
	assert_rc 0
	ws layers --store "$STORE" verify
	assert_rc 0
	ws layers --store "$STORE" export "$(layer_of r ok)" -o "$T/ok.tar"
	assert_rc 0
}

# Issue 19 item 7: names an OCI layer tar reserves (`.wh..wh..opq`, any
# `.wh.` name) written by the task through the kernel overlay, as a file,
# a directory and a symlink. `layers export` cannot carry them, so capture
# refuses them (the same rule, layers/oci_tar.h): every published layer
# can be exported.
test_whiteout_looking_names_refused_at_capture() {
	for c in 'echo x > .wh..wh..opq:.wh..wh..opq' \
		'mkdir d && echo x > d/.wh.f:d/.wh.f' \
		'mkdir .wh.dir:.wh.dir' 'ln -s x .wh.link:.wh.link'; do
		cmd=${c%%:*} name=${c#*:}
		wsx --run r --task wh -- sh -c "echo keep > keep; $cmd"
		assert_rc 125
		assert_eq "$(grep -c . "$T/err")" 1 "stderr lines"
		assert_err_has "wsbox: capture: \`$name\`: a name starting with \`.wh.\` cannot be represented in an OCI layer"
		assert_nothing_published wh failed
	done
}

# Issue 19 item 8: a 1 TiB sparse file (no blocks) hashed as 1 TiB of
# zeros took minutes past --timeout. The deadline covers the capture: it
# ends as the task's own timeout does (exit 124, status timeout), nothing
# published. `timeout 60` turns a hang into a failure (137), not a pass.
test_sparse_terabyte_file_capture_cut_by_timeout() {
	RC=0
	timeout --preserve-status -s KILL 60 "$WSBOX" exec --store "$STORE" \
		--rootfs "$ROOTFS" --run r --task sparse --timeout 5 -- \
		truncate -s 1099511627776 huge >"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_rc 124
	assert_eq "$(grep -c . "$T/err")" 1 "stderr lines"
	assert_err_has "wsbox: task sparse timed out after 5 s (during capture)"
	assert_nothing_published sparse timeout
}

# Issue 19 item 8: its apparent size counts against --max-layer-size
# before a byte is read (the tmpfs holds it in no room at all).
test_sparse_terabyte_file_counts_against_max_layer_size() {
	RC=0
	timeout --preserve-status -s KILL 60 "$WSBOX" exec --store "$STORE" \
		--rootfs "$ROOTFS" --run r --task sparse --max-layer-size 10M -- \
		truncate -s 1099511627776 huge >"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_rc 125
	assert_err_has "layer exceeds --max-layer-size (10485760 bytes)"
	assert_nothing_published sparse failed
}

# Issue 19 item 8: holes are hashed without being read, as the zeros they
# read as: the same bytes written sparse or dense are the same layer, in
# place and under --max-layer-size (copy mode).
test_sparse_and_dense_files_are_the_same_layer() {
	sparse='truncate -s 3145728 f && printf end >> f && truncate -s 5242880 f'
	dense='dd if=/dev/zero of=f bs=1048576 count=3 2>/dev/null && printf end >> f && dd if=/dev/zero bs=1 count=2097149 2>/dev/null >> f'
	wsx --run r --task sparse -- sh -c "$sparse"
	assert_rc 0
	wsx --run r --task dense -- sh -c "$dense"
	assert_rc 0
	wsx --run r --task copied --max-layer-size 16M -- sh -c "$sparse"
	assert_rc 0
	s=$(layer_of r sparse)
	[ -n "$s" ] || fail "no layer for the sparse file"
	assert_eq "$(layer_of r dense)" "$s" "dense file's layer"
	assert_eq "$(layer_of r copied)" "$s" "layer under --max-layer-size"
	ws layers --store "$STORE" verify
	assert_rc 0
}

# Issue 19 item 6: a reference into the workspace kept past the task (the
# red team passed an fd to /workspace over an abstract socket to a task of
# another run; Landlock now scopes those sockets, t_escape) would write into
# the layer once it is published. Here the host side of the test stands in
# for that process: it holds a directory of the task's workspace through
# /proc and writes into it after publication. The workspace was sealed
# (sandbox/seal.h) before capture, so the write fails with EROFS, in root
# mode and rootless alike; the layer,
# its descendants and its cache hits keep what the task wrote. With
# --strategy copy the workspace's mount is sealed instead of the overlay.
test_fd_kept_into_workspace_cannot_plant_into_descendants_or_hits() {
	kept_reference_cannot_plant --strategy overlay
}
test_fd_kept_into_copy_workspace_cannot_plant() {
	kept_reference_cannot_plant --strategy copy
}
kept_reference_cannot_plant() {
	mark=$(uniq_secs 3)
	(
		pid=$(wait_sleep_pid "$mark") || exit 1
		cd "/proc/$pid/cwd/d" || exit 1
		: >"$T/held"
		while [ ! -e "$T/go" ]; do sleep 0.05; done
		{ echo planted >k; } 2>"$T/plant.err" || : >"$T/refused"
	) &
	holder=$!
	wsx "$@" --run r --task a -- sh -c "mkdir d; echo orig > f; echo keep > d/k; sleep $mark"
	assert_rc 0
	touch "$T/go"
	wait $holder || fail "the stand-in could not hold the workspace"
	assert_file "$T/refused"
	grep -q "Read-only file system" "$T/plant.err" || fail "the write after publication: $(cat "$T/plant.err")"
	l=$(layer_of r a)
	[ -n "$l" ] || fail "no layer recorded"
	assert_eq "$(cat "$STORE/layers/${l#sha256:}/tree/d/k")" keep "published file after the write"
	wsx "$@" --run r --task child --parent a -- cat d/k
	assert_rc 0
	assert_out keep
	wsx "$@" --run r --task a -- sh -c "mkdir d; echo orig > f; echo keep > d/k; sleep $mark"
	assert_rc 0
	ws layers --store "$STORE" verify
	assert_rc 0
}

# The same stand-in, holding a file of the workspace open for writing when
# the task ends: the seal is refused (EBUSY) and nothing is published, since
# what it writes next would land in the layer. Without such a writer the
# same task publishes.
test_file_kept_open_for_writing_refuses_the_seal_unpublished() {
	kept_writer_refuses_the_seal --strategy overlay
}
test_file_kept_open_for_writing_refuses_the_copy_seal_unpublished() {
	kept_writer_refuses_the_seal --strategy copy
}
# start_kept_writer MARK: a host process standing in for another run's
# task opens the workspace's `f` for writing (through /proc/PID/cwd of the
# task's `sleep MARK`) and writes `planted` once released.
start_kept_writer() {
	rm -f "$T/go"
	(
		pid=$(wait_sleep_pid "$1") || exit 1
		exec 3>>"/proc/$pid/cwd/f" || exit 1
		while [ ! -e "$T/go" ]; do sleep 0.05; done
		echo planted >&3
	) &
	holder=$!
}
# release_kept_writer: let it write and end; $RC (the last ws/wsx) is kept.
release_kept_writer() {
	rc=$RC
	touch "$T/go"
	wait $holder || fail "the stand-in could not open the workspace's file"
	RC=$rc
}
kept_writer_refuses_the_seal() {
	mark=$(uniq_secs 3)
	start_kept_writer "$mark"
	wsx "$@" --run r --task a -- sh -c "echo orig > f; sleep $mark"
	release_kept_writer
	assert_rc 125
	assert_err_has "wsbox: seal the workspace: a file in it is still open for writing (Device or resource busy); nothing published"
	assert_eq "$(layer_of r a 2>/dev/null)" "" "layer recorded"
	assert_eq "$(ls "$STORE/layers" | wc -l)" 0 "layers in the store"
	wsx "$@" --run r --task a -- sh -c "echo orig > f"
	assert_rc 0
	l=$(layer_of r a)
	[ -n "$l" ] || fail "no layer recorded"
	assert_eq "$(cat "$STORE/layers/${l#sha256:}/tree/f")" orig "published file"
}

# The same stand-in against a multi-step attempt: the step's seal is
# refused, and the upper dir the steps share can still change, so commit
# must publish nothing however the engine judged the steps.
test_attempt_step_with_a_kept_writer_cannot_be_committed() {
	mark=$(uniq_secs 3)
	start_kept_writer "$mark"
	ws attempt begin --store "$STORE" --rootfs "$ROOTFS" --run r --task a
	assert_rc 0
	id=$(cat "$T/out")
	ws attempt step "$id" --store "$STORE" -- sh -c "echo orig > f; sleep $mark"
	assert_rc 125
	assert_err_has "seal the workspace: a file in it is still open for writing"
	ws attempt step "$id" --store "$STORE" -- sh -c "exit 3"
	assert_rc 3
	ws attempt commit "$id" --store "$STORE"
	release_kept_writer
	assert_rc 125
	assert_err_has "attempt $id: a step left a file of the workspace open for writing; nothing published"
	assert_eq "$(layer_of r a 2>/dev/null)" "" "layer recorded"
	assert_eq "$(ls "$STORE/layers" | wc -l)" 0 "layers in the store"
}

# A task that fails or times out with a writer left keeps its own status:
# it publishes nothing either way.
test_failed_task_with_a_kept_writer_keeps_its_status() {
	for how in "exit 3:3" "timeout:124"; do
		mark=$(uniq_secs 3)
		start_kept_writer "$mark"
		if [ "${how%%:*}" = timeout ]; then
			wsx --timeout 2 --run r --task a -- sh -c "echo x > f; sleep $mark; sleep 30"
		else
			wsx --run r --task a -- sh -c "echo x > f; sleep $mark; exit 3"
		fi
		release_kept_writer
		assert_rc "${how#*:}"
		assert_eq "$(ls "$STORE/layers" | wc -l)" 0 "layers in the store"
	done
}
