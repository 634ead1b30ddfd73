# Adversarial suite, root mode as multi-tenant (issue 19 items 2 and 3): a
# host user who is not root, or who has become the ids of the task range
# (another user's subordinate range over it, entered with newuidmap, is what
# the red team used), reaches nothing of a tenant's staging or layers by
# path. README.md; tests/security/README.md for how each fails without its
# fix. Root only (the other host users are made with setpriv).

. "$(dirname "$HERE")/security/lib_attack.sh"

need_root() { [ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }; }

# The host ids root-mode tasks map to (t_rootmode.sh's rule).
range_base() {
	b=$(sed -n 's/^\(root\|0\):\([0-9]*\):.*/\2/p' /etc/subuid 2>/dev/null | head -n 1)
	echo "${b:-1879048192}"
}

# A store where any host user could walk up to it (/var/lib: /tmp is
# hidden in the sandbox anyway and would not show the store's own modes).
visible_store() {
	base=$(mktemp -d /var/lib/wsbox-sec-tenant.XXXXXX) || fail "mktemp in /var/lib"
	chmod 755 "$base"
	STORE=$base/store
	echo "$base"
}

# A task of run A still running, with a secret and a setuid copy of the
# probe in its upper; $UPPER is that upper dir.
start_slow_task() {
	start_in_upper 'echo a-private > secret; cp /probe suid; chmod 4755 suid' \
		--rootfs "$ROOTFS" --run A --task slow
}

# The published layer's tree of RUN/TASK.
layer_tree() { # RUN TASK
	d=$(sed -n 's/^ "layer": "sha256:\([0-9a-f]*\)".*/\1/p' "$STORE/runs/$1/tasks/$2")
	[ -n "$d" ] || fail "task $1/$2 has no layer"
	echo "$STORE/layers/$d/tree"
}

# Item 2: another host user (wsbox-test, or nobody) cannot list or read a
# running task's upper, run the setuid file the task left there, or read a
# published layer, although the paths are printed in the sandbox's
# /proc/PID/mountinfo.
test_other_host_user_cannot_reach_live_upper_or_layers() {
	need_root
	other=$(id -u wsbox-test 2>/dev/null || id -u nobody)
	base=$(visible_store) || exit 1
	STORE=$base/store
	trap 'stop_sleepers; chmod -R u+w "$base"; rm -rf "$base"' EXIT
	wsx --run r --task a -- sh -c 'echo layer-secret > s'
	assert_rc 0
	tree=$(layer_tree r a) || exit 1
	start_slow_task
	as "$other" ls "$UPPER"
	assert_as_denied "list the live upper"
	as "$other" cat "$UPPER/secret"
	assert_as_denied "read the live upper"
	as "$other" "$UPPER/suid" pid1
	assert_as_denied "exec the setuid file in the live upper"
	as "$other" cat "$tree/s"
	assert_as_denied "read a published layer"
	as "$other" ls "$STORE/staging"
	assert_as_denied "list staging"
	# The task's own view of the same: /workspace is nosuid, so the bit
	# means nothing there either.
	wsx -- awk '$5 == "/workspace" {print $6}' /proc/self/mountinfo
	assert_rc 0
	case "$(cat "$T/out")" in
	*nosuid*) ;;
	*) fail "/workspace is not nosuid: $(cat "$T/out")" ;;
	esac
}

# Item 3: the ids of the task range itself, as a host user who has
# entered them (newuidmap over another user's subordinate range) would
# hold them, reach nothing either: not the live upper (theirs on disk), not
# the layers, not an imported rootfs (root's on disk, shown as the task's
# only through idmapped mounts).
test_task_range_ids_on_the_host_cannot_reach_staging_layers_rootfs() {
	need_root
	range=$(range_base)
	base=$(visible_store) || exit 1
	STORE=$base/store
	trap 'stop_sleepers; chmod -R u+w "$base"; rm -rf "$base"' EXIT
	tar -C "$ROOTFS" -cf "$T/rootfs.tar" .
	ws rootfs import "$T/rootfs.tar" --name bb --store "$STORE"
	assert_rc 0
	wsx --run r --task a -- sh -c 'echo layer-secret > s; chmod 666 s'
	assert_rc 0
	tree=$(layer_tree r a) || exit 1
	# On disk everything published is root's.
	assert_eq "$(find "$tree" "$STORE/rootfs" ! -user 0 | head -n 3)" "" "non-root files"
	start_slow_task
	as "$range" cat "$UPPER/secret"
	assert_as_denied "range uid reads the live upper"
	as "$range" ls "$STORE/layers"
	assert_as_denied "range uid lists the layers"
	as "$range" sh -c "echo planted > '$tree/s'"
	assert_as_denied "range uid writes a world-writable layer file"
	as "$range" sh -c "echo planted > '$STORE/rootfs/bb/planted'"
	assert_as_denied "range uid writes into the imported rootfs"
	assert_eq "$(cat "$tree/s")" "layer-secret" "layer file"
}

# Rootless, the store is the invoking user's and private to them: another
# host user reaches neither staging nor layers.
test_rootless_store_private_to_its_user() {
	need_root
	id -u wsbox-test >/dev/null 2>&1 || { echo "no wsbox-test user"; exit 77; }
	base=$(mktemp -d /var/lib/wsbox-sec-tenant.XXXXXX) || fail "mktemp in /var/lib"
	trap 'rm -rf "$base"' EXIT
	chmod 755 "$base"
	chown wsbox-test: "$base"
	cp -a "$ROOTFS" "$base/rootfs"
	# wsbox-test runs its own copy: the checkout may sit under /root,
	# 0700, as on a fresh Debian (found by make check-fresh).
	cp "$WSBOX" "$base/wsbox" && chmod 755 "$base/wsbox" || fail "copy the binary"
	as wsbox-test "$base/wsbox" exec --store "$base/store" --rootfs "$base/rootfs" --run r --task a -- sh -c 'echo mine > s'
	assert_eq "$AS_RC" 0 "rootless exec ($(head -c 300 "$T/as.out"))"
	as "$(id -u nobody)" ls "$base/store/layers"
	assert_as_denied "nobody lists the layers"
	as "$(id -u nobody)" ls "$base/store/staging"
	assert_as_denied "nobody lists staging"
	assert_eq "$(stat -c %a "$base/store" "$base/store/layers" "$base/store/staging")" "700
700
700" modes
}

# Item 3, per tenant: with a range allocation file, two tenants' tasks are
# different host ids. A host process holding tenant B's ids (B's task
# escaping its namespaces, or a user entering B's range) cannot signal or
# read tenant A's running task; A's own ids can (the control: with one
# shared range, as before, every tenant's task was that id).
test_tenants_in_own_ranges_cannot_signal_each_other() {
	need_root
	printf 'pool 3000000000 131072\n' >"$T/ranges"
	export WSBOX_RANGES="$T/ranges"
	trap stop_sleepers EXIT
	start_sleeper --tenant a
	wsx --no-cache --tenant b -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(awk '{print $2}' "$T/out")" "3000065536" "tenant b's base"
	assert_eq "$(stat -c %u "/proc/$SLEEPER_PID")" "3000000000" "tenant a's task uid"
	assert_cannot_signal 3000065536 "$SLEEPER_PID" "tenant b's ids"
	as 3000000000 kill -0 "$SLEEPER_PID"
	assert_eq "$AS_RC" 0 "tenant a's own ids signal it ($(cat "$T/as.out"))"
}

# Item 3, per run (the default once a range allocation file exists): two
# runs of no tenant, and a one-off exec, are different host ids too, so a
# task of one run cannot signal or read another run's; a run's later tasks
# keep its ids (the control).
test_runs_in_own_blocks_cannot_signal_each_other() {
	need_root
	printf 'pool 3000000000 196608\n' >"$T/ranges"
	export WSBOX_RANGES="$T/ranges"
	trap stop_sleepers EXIT
	start_sleeper --run a --task slow
	wsx --no-cache --run b -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(awk '{print $2}' "$T/out")" "3000065536" "run b's base"
	assert_eq "$(stat -c %u "/proc/$SLEEPER_PID")" "3000000000" "run a's task uid"
	assert_cannot_signal 3000065536 "$SLEEPER_PID" "run b's ids"
	wsx --no-cache -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(awk '{print $2}' "$T/out")" "3000131072" "a one-off exec's base"
	assert_cannot_signal 3000131072 "$SLEEPER_PID" "a one-off exec's ids"
	wsx --no-cache --run a --task fast -- cat /proc/self/uid_map
	assert_rc 0
	assert_eq "$(awk '{print $2}' "$T/out")" "3000000000" "run a's later task"
}
