# Limits for hostile tenants (docs/sandbox.md "Limits", issue 5 item 3):
# --pids, --memory, --cpus via a cgroup v2 leaf when a delegated cgroup has
# the controllers, else rlimits; SysV IPC cleanup (shm_rmid_forced);
# --max-layer-size. Every test passes whichever mechanism this host offers;
# the cgroup-only ones skip (77) when no usable parent exists. As root a test
# parent is made on the cgroup2 mount; WSBOX_TEST_CGROUP_PARENT names a
# delegated one for unprivileged runs.

# A fork bomb that ends by itself when fork fails (busybox sh exits on
# "can't fork"), so the outcome is the pid limit, never the --timeout. It
# prints its count; `sleep 37` marks its processes on the host's ps.
BOMB='i=0; while [ $i -lt 300 ]; do sleep 37 & i=$((i+1)); echo $i; done; echo all-started'
# A memory hog: busybox tail keeps the one 300 MiB line in memory. Bounded,
# so that without the defence it costs the host 300 MiB, not all of it.
HOG='head -c 314572800 /dev/zero | tail -n 1 >/dev/null; echo "tail=$?"'

# The cgroup2 mount point of this host (empty if none).
cg_mount() {
	grep ' - cgroup2 ' /proc/self/mountinfo | head -n 1 | awk '{print $5}'
}

# cg_parent CTRL...: make (as root) or take a cgroup parent whose children
# get the listed controllers; sets CGP (and CGP_MADE when made here) or
# skips the test.
cg_parent() {
	CGP=${WSBOX_TEST_CGROUP_PARENT:-}
	CGP_MADE=
	if [ -z "$CGP" ]; then
		[ "$(id -u)" = 0 ] || { echo "not root and no WSBOX_TEST_CGROUP_PARENT"; exit 77; }
		mnt=$(cg_mount)
		[ -n "$mnt" ] && [ -w "$mnt" ] || { echo "no writable cgroup2 mount"; exit 77; }
		for c in "$@"; do
			grep -qw "$c" "$mnt/cgroup.controllers" ||
				{ echo "cgroup2 at $mnt lacks $c (hybrid host?)"; exit 77; }
			grep -qw "$c" "$mnt/cgroup.subtree_control" ||
				echo "+$c" >"$mnt/cgroup.subtree_control" ||
				{ echo "cannot enable $c"; exit 77; }
		done
		CGP="$mnt/wsbox-test-$$"
		mkdir "$CGP" || { echo "cannot mkdir $CGP"; exit 77; }
		CGP_MADE=1
		for c in "$@"; do echo "+$c" >"$CGP/cgroup.subtree_control"; done
	fi
	for c in "$@"; do
		grep -qw "$c" "$CGP/cgroup.subtree_control" ||
			{ cg_parent_done; echo "$CGP: no $c for children"; exit 77; }
	done
}
cg_parent_done() {
	[ -z "$CGP_MADE" ] || rmdir "$CGP"
}

# Nothing of the sandbox outlives exec (the bomb's sleeps would show here).
assert_no_bomb_left() {
	n=$(ps -eo args | grep -c '^sleep 37$')
	assert_eq "$n" 0 "sleep 37 processes left on the host"
}

test_fork_bomb_is_contained() {
	wsx --no-cache --pids 50 --timeout 60 -- sh -c "$BOMB"
	[ "$RC" != 124 ] || fail "ended by --timeout, not by the pid limit"
	[ "$RC" != 0 ] || fail "bomb ran to the end: $(tail -n 1 "$T/out")"
	assert_err_has "can't fork"
	last=$(tail -n 1 "$T/out")
	[ "$last" -lt 50 ] || fail "started $last processes under --pids 50"
	assert_no_bomb_left
	# The host can still fork (the limit was the sandbox's, not ours).
	[ "$(sh -c 'echo forked')" = forked ] || fail "host cannot fork"
}

test_memory_hog_is_contained() {
	wsx --no-cache --memory 64M --timeout 60 -- sh -c "$HOG"
	[ "$RC" != 124 ] || fail "ended by --timeout"
	out=$(cat "$T/out")
	if grep -qF "memory limit 64M reached (oom)" "$T/err"; then
		# cgroup: the OOM killer took tail (SIGKILL).
		assert_eq "$out" "tail=137" "hog status under the cgroup"
	else
		# rlimit: RLIMIT_AS refuses the allocation.
		assert_err_has "out of memory"
		assert_eq "$out" "tail=1" "hog status under RLIMIT_AS"
	fi
}

# doctor says which mechanism applies, and exec does what it says: under
# rlimits the task sees RLIMIT_AS/RLIMIT_NPROC, under a cgroup it does not.
test_doctor_and_exec_agree_on_mechanism() {
	ws doctor
	line=$(grep '^limits: ' "$T/out")
	case $line in
	"limits: cgroup v2 at /"*) want_as=unlimited; want_np=unlimited ;;
	"limits: rlimits ("*) want_as=67108864; want_np=40 ;;
	*) fail "doctor limits line: '$line'" ;;
	esac
	wsx --no-cache --memory 64M --pids 40 -- cat /proc/self/limits
	assert_rc 0
	as=$(awk '/^Max address space/ {print $4}' "$T/out")
	np=$(awk '/^Max processes/ {print $3}' "$T/out")
	assert_eq "$as" "$want_as" "RLIMIT_AS inside ($line)"
	assert_eq "$np" "$want_np" "RLIMIT_NPROC inside ($line)"
}

test_doctor_cgroup_line_names_mechanism() {
	ws doctor
	assert_rc 0
	grep -Eq '^(ok   cgroup v2: each task gets a leaf cgroup under /|warn cgroup v2: .*limits fall back to rlimits: --memory as RLIMIT_AS)' "$T/out" ||
		fail "cgroup line: $(grep 'cgroup v2' "$T/out")"
}

# SysV IPC never outlives its users: segments nobody attaches are removed.
test_shm_rmid_forced_inside() {
	wsx --no-cache -- cat /proc/sys/kernel/shm_rmid_forced
	assert_rc 0
	assert_out 1
}

test_cpus_without_cgroup_cpu_is_said() {
	wsx --no-cache --cpus 0.5 -- true
	assert_rc 0
	# Either a cpu controller enforces it (silent) or wsbox says it cannot.
	mnt=$(cg_mount)
	if ! grep -qw cpu "$mnt/cgroup.controllers" 2>/dev/null; then
		assert_err_has "wsbox: --cpus not enforced: "
	fi
}

one_line_125() { # option
	assert_rc 125
	assert_err_has "$1"
	assert_eq "$(wc -l <"$T/err")" 1 "stderr lines"
	assert_err_has "wsbox: "
}

test_bad_cpus_refused() {
	for v in 0 0.001 abc -1 1.2345 1e3 5000 "" 1. .5; do
		echo "value '$v'"
		wsx --cpus "$v" -- true
		one_line_125 "--cpus"
	done
	assert_store_clean
}

test_bad_cgroup_parent_refused() {
	for v in relative/dir "" /a/../b; do
		echo "value '$v'"
		wsx --cgroup-parent "$v" -- true
		one_line_125 "--cgroup-parent"
	done
	assert_store_clean
	# Well-formed but not usable: refused at setup, never a silent
	# fallback to rlimits.
	wsx --no-cache --cgroup-parent /no/such/cgroup -- true
	one_line_125 "--cgroup-parent \`/no/such/cgroup\`"
	wsx --no-cache --cgroup-parent "$T" --pids 10 -- true
	one_line_125 "not a cgroup v2 directory"
}

# The sandbox is born inside its own leaf (clone3 CLONE_INTO_CGROUP), which
# is gone after exec; works without any controller.
test_cgroup_leaf_holds_the_sandbox() {
	cg_parent
	"$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" --no-cache \
		--cgroup-parent "$CGP" -- sleep 30 >"$T/out" 2>"$T/err" </dev/null &
	wpid=$!
	procs=
	for _ in $(seq 1 200); do
		for d in "$CGP"/wsbox-*; do
			[ -f "$d/cgroup.procs" ] && procs=$(cat "$d/cgroup.procs")
		done
		[ -n "$procs" ] && break
		sleep 0.05
	done
	kill -TERM "$wpid"
	wait "$wpid"
	left=$(ls -d "$CGP"/wsbox-* 2>/dev/null)
	cg_parent_done
	[ -n "$procs" ] || fail "no process in a wsbox-* leaf under $CGP"
	[ -z "$left" ] || fail "leaf left behind: $left"
}

test_cgroup_fork_bomb_reported() {
	cg_parent pids
	wsx --no-cache --cgroup-parent "$CGP" --pids 50 --timeout 60 -- sh -c "$BOMB"
	cg_parent_done
	[ "$RC" != 124 ] && [ "$RC" != 0 ] || fail "exit $RC"
	assert_err_has "pids limit 50 reached"
	assert_no_bomb_left
}

test_cgroup_memory_hog_reported() {
	cg_parent memory
	wsx --no-cache --cgroup-parent "$CGP" --memory 64M --timeout 60 -- sh -c "$HOG"
	cg_parent_done
	assert_rc 0 # sh's echo is the task's last word
	assert_out "tail=137"
	assert_err_has "wsbox: memory limit 64M reached (oom)"
}

test_cgroup_cpus_written() {
	cg_parent cpu
	wsx --no-cache --cgroup-parent "$CGP" --cpus 0.5 -- true
	cg_parent_done
	assert_rc 0
	! grep -q "not enforced" "$T/err" || fail "$(cat "$T/err")"
}

# What a task leaves behind is bounded: over --max-layer-size its writes
# fail (ENOSPC, t_layersize.sh), nothing is published and exec fails; under
# it the layer is published.
test_max_layer_size_bounds_capture() {
	wsx --no-cache --task big --max-layer-size 1M -- sh -c 'head -c 2097152 /dev/zero >big'
	assert_rc 1
	assert_err_has "workspace size limit 1M reached"
	ws layers --store "$STORE" ls
	[ ! -s "$T/out" ] || fail "layer published: $(cat "$T/out")"
	wsx --no-cache --task small --max-layer-size 1M -- sh -c 'head -c 1000 /dev/zero >small'
	assert_rc 0
	ws layers --store "$STORE" ls
	[ -s "$T/out" ] || fail "no layer published under the limit"
}
