# Workspace strategies (README "Strategies", docs/sandbox.md "Workspace
# strategies"): each forced strategy is the one used, all three give the
# same views and the same layer digests for the same work, auto falls back
# with one line, copy shares extents where the filesystem clones them.

# mount_type STRATEGY: the type of /workspace in /proc/mounts inside.
mount_type_of() {
	wsx --run "m$1" --task a --no-cache --strategy "$1" -- \
		awk '$2 == "/workspace" { print $3 }' /proc/mounts
}

# The file system type copy's bind of the store shows: whatever holds $STORE.
store_fs_type() {
	mkdir -p "$STORE" && stat -f -c %T "$STORE"
}

event_strategy() { # EVENTS-FILE -> the strategy of its task_started line
	sed -n 's/.*"event": *"task_started".*"strategy": *"\([a-z-]*\)".*/\1/p' "$1"
}

fuse_usable() {
	command -v fuse-overlayfs >/dev/null && [ -c /dev/fuse ] &&
		[ "$(stat -c %a /dev/fuse)" = 666 ]
}

test_strategy_overlay_mounts_kernel_overlay() {
	mount_type_of overlay
	assert_rc 0
	assert_out overlay
}

test_strategy_fuse_mounts_fuse_overlayfs() {
	fuse_usable || { echo "fuse-overlayfs or a 0666 /dev/fuse missing"; exit 77; }
	mount_type_of fuse-overlayfs
	assert_rc 0
	assert_out fuse.fuse-overlayfs
}

test_strategy_copy_binds_a_plain_directory() {
	mount_type_of copy
	assert_rc 0
	out=$(cat "$T/out")
	[ "$out" != overlay ] || fail "copy workspace is an overlay"
	[ "${out#fuse}" = "$out" ] || fail "copy workspace is fuse: $out"
}

test_strategy_task_started_names_it() {
	for s in overlay copy; do
		wsx --run "e$s" --task a --no-cache --strategy "$s" --events "$T/ev.$s" -- true
		assert_rc 0
		assert_eq "$(event_strategy "$T/ev.$s")" "$s" "task_started strategy"
	done
}

# The same three tasks under each strategy: deletions (whiteouts), a
# replaced directory (opaque), a file replaced by a directory, symlinks
# retargeted, modes changed, appends to a lower file.
same_work() { # STRATEGY
	s=$1
	task_s() { wsx --run "w$s" --no-cache --strategy "$s" "$@"; }
	task_s --task a -- sh -c 'echo hi > f; mkdir -p d/e k/j; echo x > d/e/g;
		ln -s f l; echo k > keep; echo z > k/j/z; chmod 750 k' || return 1
	assert_rc 0
	task_s --task b --parent a -- sh -c 'rm f; rm -rf d; mkdir d; echo y > d/n;
		chmod 700 d; echo more >> k/j/z; mkdir k/new; chmod 600 keep;
		rm l; ln -s keep l; touch k/j'
	assert_rc 0
	task_s --task c --parent b -- sh -c 'rm -rf k; mkdir f; touch f/q'
	assert_rc 0
	task_s --task view --parent c -- sh -c 'find . | sort | while read p; do
		stat -c "%n %a %F %s" "$p"; [ -L "$p" ] && readlink "$p"; done; true'
	assert_rc 0
	cp "$T/out" "$T/view.$s"
	for t in a b c; do
		sed -n 's/^ "layer": "\(sha256:[0-9a-f]*\)".*/\1/p' \
			"$STORE/runs/w$s/tasks/$t"
	done >"$T/digests.$s"
}

test_strategy_same_digests_and_views_everywhere() {
	set -- overlay copy
	fuse_usable && set -- "$@" fuse-overlayfs
	for s in "$@"; do
		same_work "$s"
	done
	[ "$(wc -l <"$T/digests.overlay")" = 3 ] || fail "not three layers"
	grep -q '^./d/n 644' "$T/view.overlay" || fail "view lacks d/n: $(cat "$T/view.overlay")"
	if grep -q '^./d/e' "$T/view.overlay"; then
		fail "replaced dir d still shows d/e"
	fi
	for s in "$@"; do
		assert_eq "$(cat "$T/digests.$s")" "$(cat "$T/digests.overlay")" "digests under $s"
		assert_eq "$(cat "$T/view.$s")" "$(cat "$T/view.overlay")" "view under $s"
	done
}

test_strategy_auto_falls_back_with_one_line() {
	expect=copy
	fuse_usable && expect=fuse-overlayfs
	export WSBOX_TEST_NO_KERNEL_OVERLAY=1
	wsx --run r --task a --events "$T/ev1" -- true
	assert_rc 0
	assert_err_has "wsbox: strategy auto: using $expect: kernel overlay unusable: disabled by WSBOX_TEST_NO_KERNEL_OVERLAY=1"
	assert_eq "$(grep -c 'strategy auto' "$T/err")" 1 "fallback lines"
	assert_eq "$(event_strategy "$T/ev1")" "$expect" "task_started strategy"
	# Once per store: the choice is remembered, silently.
	wsx --run r --task b --events "$T/ev2" -- true
	assert_rc 0
	assert_eq "$(cat "$T/err")" "" "stderr of the second exec"
	assert_eq "$(event_strategy "$T/ev2")" "$expect" "second choice"
}

test_strategy_auto_without_fuse_falls_back_to_copy() {
	export WSBOX_TEST_NO_KERNEL_OVERLAY=1 WSBOX_FUSE_OVERLAYFS=/nonexistent/fuse-overlayfs
	wsx --run r --task a --events "$T/ev" -- sh -c 'echo x > f'
	assert_rc 0
	assert_err_has "wsbox: strategy auto: using copy: kernel overlay unusable"
	assert_err_has "fuse-overlayfs: \$WSBOX_FUSE_OVERLAYFS"
	assert_eq "$(event_strategy "$T/ev")" copy "task_started strategy"
}

test_strategy_auto_uses_overlay_where_it_works() {
	wsx --run r --task a --events "$T/ev" -- true
	assert_rc 0
	assert_eq "$(cat "$T/err")" "" "stderr"
	assert_eq "$(event_strategy "$T/ev")" overlay "task_started strategy"
}

test_strategy_env_selects_and_bad_names_are_refused() {
	WSBOX_STRATEGY=copy wsx --run r --task a --events "$T/ev" -- true
	assert_rc 0
	assert_eq "$(event_strategy "$T/ev")" copy "from \$WSBOX_STRATEGY"
	wsx --run r --task b --strategy nope -- true
	assert_rc 125
	assert_err_has "--strategy \`nope\`: not auto, overlay, fuse-overlayfs or copy"
	WSBOX_STRATEGY=nope wsx --run r --task c -- true
	assert_rc 125
	assert_err_has "\$WSBOX_STRATEGY \`nope\`"
	assert_no_file "$STORE/runs/r/tasks/c"
}

test_strategy_forced_fuse_without_binary_fails() {
	WSBOX_FUSE_OVERLAYFS=/nonexistent/fuse-overlayfs \
		wsx --run r --task a --strategy fuse-overlayfs -- true
	assert_rc 125
	assert_err_has "--strategy fuse-overlayfs: \$WSBOX_FUSE_OVERLAYFS"
	assert_no_file "$STORE/runs/r/tasks/a"
}

# The daemon is not in the task's PID namespace, and it is gone (killed and
# reaped) when exec returns.
test_strategy_fuse_daemon_is_out_of_reach() {
	fuse_usable || { echo "fuse-overlayfs or a 0666 /dev/fuse missing"; exit 77; }
	wsx --run r --task a --strategy fuse-overlayfs -- sh -c \
		'cat /proc/[0-9]*/comm | sort -u; echo > /workspace/f'
	assert_rc 0
	if grep -q fuse "$T/out"; then
		fail "task sees the daemon: $(cat "$T/out")"
	fi
	if pgrep -f "fuse-overlayfs.*$STORE"; then
		fail "daemon outlived exec"
	fi
}

# copy on a filesystem with reflinks (XFS, reflink=1): populating the
# workspace shares the layer's extents instead of copying its bytes.
test_strategy_copy_shares_extents_on_xfs() {
	[ "$(id -u)" = 0 ] || { echo "root only (loop device)"; exit 77; }
	command -v mkfs.xfs >/dev/null || { echo "xfsprogs missing"; exit 77; }
	truncate -s 512M "$T/xfs.img"
	mkfs.xfs -q -m reflink=1 "$T/xfs.img" || fail "mkfs.xfs"
	mkdir "$T/mnt"
	mount -o loop "$T/xfs.img" "$T/mnt" || { echo "no loop device"; exit 77; }
	STORE="$T/mnt/store"
	wsx --run r --task a -- sh -c 'dd if=/dev/urandom of=big bs=1M count=64 2>/dev/null'
	rc_a=$RC
	used0=$(df -k "$T/mnt" | awk 'NR == 2 { print $3 }')
	wsx --run r --task b --parent a --strategy copy -- sh -c \
		'df -k /workspace | awk "NR == 2 { print \$3 }"; cmp big big && echo same'
	rc_b=$RC
	used1=$(head -n 1 "$T/out")
	umount "$T/mnt"
	RC=$rc_a; assert_rc 0
	RC=$rc_b; assert_rc 0
	grep -qx same "$T/out" || fail "copy workspace lacks big"
	# 64 MiB copied would show as 65536 KiB more; shared extents add only
	# metadata.
	[ $((used1 - used0)) -lt 8192 ] || fail "copy used $((used1 - used0)) KiB for a 64 MiB file"
}

# doctor: one line per strategy with available/unavailable and why; the
# summary names what auto picks.
test_strategy_doctor_lists_each() {
	ws doctor
	assert_rc 0
	for s in overlay fuse-overlayfs copy; do
		n=$(grep -c "^[a-zFOKLIW ]\{5\}strategy $s: " "$T/out")
		assert_eq "$n" 1 "doctor lines for strategy $s"
	done
	assert_out_has "ok   strategy overlay: available"
	assert_out_has "strategy copy: available"
	WSBOX_TEST_NO_KERNEL_OVERLAY=1 ws doctor
	assert_rc 0
	assert_out_has "warn strategy overlay: unavailable: disabled by WSBOX_TEST_NO_KERNEL_OVERLAY=1"
	expect=copy
	fuse_usable && expect=fuse-overlayfs
	assert_out_has "workspace strategy: $expect"
}

# The remembered choice belongs to the conditions it was made in: the
# tests' switch (like a new kernel) is not answered from the old note.
test_strategy_auto_choice_is_keyed_by_its_conditions() {
	wsx --run r --task a --events "$T/ev1" -- true
	assert_rc 0
	assert_eq "$(event_strategy "$T/ev1")" overlay "first choice"
	WSBOX_TEST_NO_KERNEL_OVERLAY=1 wsx --run r --task b --events "$T/ev2" -- true
	assert_rc 0
	assert_err_has "wsbox: strategy auto: using "
	[ "$(event_strategy "$T/ev2")" != overlay ] || fail "overlay despite the switch"
	assert_file "$STORE/cache/strategy"
}
