# Root mode for runners (README "Ownership", issue 5 item 4) and the size
# limits of the sandbox's writable tmpfs mounts (item 3). Tests that only
# mean something as real root skip (exit 77) otherwise, and the other way
# round.

need_root() { [ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }; }
# Root with the idmapped-layers strategy (not forced off).
need_idmap() {
	need_root
	[ -z "${WSBOX_NO_IDMAP:-}" ] || { echo "WSBOX_NO_IDMAP set"; exit 77; }
}

# The host range root-mode tasks map to without --idmap-base: root's range
# in /etc/subuid, else wsbox's default.
root_base() {
	b=$(sed -n 's/^\(root\|0\):\([0-9]*\):.*/\2/p' /etc/subuid 2>/dev/null | head -n 1)
	echo "${b:-1879048192}"
}

# The digest's tree of the layer a task published.
tree_of() { # RUN TASK
	d=$(sed -n 's/^ "layer": "sha256:\([0-9a-f]*\)".*/\1/p' "$STORE/runs/$1/tasks/$2")
	[ -n "$d" ] || fail "task $1/$2 has no layer"
	echo "$STORE/layers/$d/tree"
}

# Inside, the task is root; the kernel's map shows the unprivileged range.
test_root_maps_a_subordinate_range() {
	need_idmap
	wsx -- sh -c 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map'
	assert_rc 0
	got=$(awk 'NR<=2 {print; next} {print $1, $2, $3}' "$T/out")
	assert_eq "$got" "0
0
0 $(root_base) 65536
0 $(root_base) 65536" "ids and maps"
	# Root's supplementary groups (here host gid 0, which opens group-root
	# files) do not follow the task.
	RC=0
	setpriv --groups 0 "$WSBOX" exec --store "$STORE" --rootfs "$ROOTFS" -- \
		awk '/^Groups:/ {print NF - 1}' /proc/self/status \
		>"$T/out" 2>"$T/err" </dev/null || RC=$?
	assert_rc 0
	assert_out 0
	# Inside root is not host root: a host-root-only file stays closed.
	wsx -- cat /proc/1/environ
	[ "$RC" != 0 ] || fail "read init's environ as mapped root"
}

test_root_idmap_base_moves_the_range() {
	need_idmap
	# Far above useradd's subordinate ranges (a base inside one of them
	# is refused: t_idrange.sh).
	wsx --idmap-base 3000000000 -- sh -c 'cat /proc/self/uid_map /proc/self/gid_map'
	assert_rc 0
	assert_eq "$(awk '{print $1, $2, $3}' "$T/out")" "0 3000000000 65536
0 3000000000 65536" maps
}

test_idmap_base_needs_root() {
	[ "$(id -u)" != 0 ] || { echo "only rootless"; exit 77; }
	wsx --idmap-base 200000 -- true
	assert_rc 125
	assert_err_has "--idmap-base: only when wsbox runs as root"
	assert_store_clean
}

# A store under a directory only root can search (a 0700 mktemp dir): the
# task's ids reach the store's places by path, so exec names that directory
# instead of failing later on "mount tmpfs on ...: Permission denied".
test_root_store_under_a_root_only_parent_is_named() {
	need_root
	mkdir -m 0700 "$T/private"
	ws exec --store "$T/private/st" --rootfs "$ROOTFS" -- true
	assert_rc 125
	assert_err_has "its parent \`$T/private\` (mode 0700) cannot be searched by the task's ids"
	chmod 0711 "$T/private"
	ws exec --store "$T/private/st" --rootfs "$ROOTFS" -- true
	assert_rc 0
}

# Any inside id of the range is a real, distinct host id: files a task
# makes as --uid 1234 belong to inside 1234 (chown itself stays the no-op
# squash: tasks hold no CAP_CHOWN). What is captured belongs to the store
# owner (root) on disk all the same.
test_root_range_ids_inside_and_layers_owned_by_root() {
	need_idmap
	wsx --run r --task a --uid 1234 --gid 2345 -- sh -c 'echo x > f; mkdir d; stat -c %u:%g f d; grep -c . /proc/self/uid_map'
	assert_rc 0
	assert_out "1234:2345
1234:2345
1"
	tree=$(tree_of r a) || exit 1 # tree_of fails in the $( ) subshell
	assert_eq "$(stat -c %u:%g "$tree/f" "$tree/d")" "0:0
0:0" "owner on disk"
	# A child running as another inside id sees them as its own (SPEC.md
	# section 2: every workspace file appears owned by the task's ids),
	# and can write them.
	wsx --run r --task b --parent a --uid 7 --gid 8 -- sh -c 'stat -c %u:%g f; echo y >> f; cat f'
	assert_rc 0
	assert_out "7:8
x
y"
}

# A child reads a mode-0600 file its parent wrote: the layer is host root's
# on disk and inside root's through the idmapped lower.
test_root_child_reads_private_file_of_parent() {
	need_idmap
	wsx --run r --task a -- sh -c 'echo secret > s; chmod 600 s'
	assert_rc 0
	tree=$(tree_of r a) || exit 1 # tree_of fails in the $( ) subshell
	assert_eq "$(stat -c %u:%a "$tree/s")" "0:600" "layer file"
	wsx --run r --task b --parent a -- sh -c 'stat -c %u:%g:%a s; cat s; echo y >> s; cat s'
	assert_rc 0
	assert_out "0:0:600
secret
secret
y"
	# And a grandchild through two idmapped lowers.
	wsx --run r --task c --parent b -- cat s
	assert_rc 0
	assert_out "secret
y"
}

# Kernels without idmapped mounts keep the older scheme: a single id, the
# range's first, which owns the layers too; WSBOX_NO_IDMAP forces it.
test_root_fallback_without_idmap() {
	need_root
	WSBOX_NO_IDMAP=1 wsx --run r --task a -- sh -c 'echo secret > s; chmod 600 s; cat /proc/self/uid_map'
	assert_rc 0
	assert_eq "$(awk '{print $1, $2, $3}' "$T/out")" "0 $(root_base) 1" "fallback map"
	tree=$(tree_of r a) || exit 1 # tree_of fails in the $( ) subshell
	assert_eq "$(stat -c %u "$tree/s")" "$(root_base)" "fallback owner"
	WSBOX_NO_IDMAP=1 wsx --run r --task b --parent a --uid 5 -- sh -c 'stat -c %u s; cat s'
	assert_rc 0
	assert_out "5
secret"
}

# Another run's staging and the store's layers are out of reach: the store
# is hidden by a tmpfs even when the host's "/" is the rootfs. The store is
# put where the host root shows it (not under /tmp, which is hidden anyway).
test_root_store_and_other_staging_unreachable() {
	need_root
	STORE=$(mktemp -d /var/lib/wsbox-rootmode.XXXXXX) || fail "mktemp in /var/lib"
	trap 'stop_sleepers; chmod -R u+w "$STORE"; rm -rf "$STORE"' EXIT
	ws exec --store "$STORE" --run r --task a -- sh -c 'echo mine > secret; chmod 600 secret'
	assert_rc 0
	# A task of run A that is still running, with a file in its upper.
	start_in_upper 'echo a-private > f' --run A --task slow
	layer=$(tree_of r a) || exit 1
	ws exec --store "$STORE" --run B --task t -- sh -c "
		ls -A '$STORE' | wc -l
		cat '$UPPER/f' 2>/dev/null || echo no-staging
		cat '$layer/secret' 2>/dev/null || echo no-layer"
	stop_sleepers
	assert_rc 0
	assert_out "0
no-staging
no-layer"
}

# The writable tmpfs mounts are bounded: /tmp and /dev/shm get half of
# --memory (without it: a share of RAM, and /dev/shm at most 64M), and
# writing past that is ENOSPC, not host memory.
test_tmpfs_mounts_have_size_limits() {
	wsx --memory 64m -- sh -c 'dd if=/dev/zero of=/tmp/big bs=1M count=48 2>&1; echo rc=$?; ls -l /tmp/big'
	assert_rc 0
	assert_out_has "No space left on device"
	assert_out_has "rc=1"
	grep -q " 33554432 " "$T/out" || fail "/tmp/big is not 32M: $(cat "$T/out")"
	wsx --memory 64m -- sh -c 'dd if=/dev/zero of=/dev/shm/big bs=1M count=48 2>&1; echo rc=$?'
	assert_out_has "No space left on device"
	wsx -- cat /proc/mounts
	assert_rc 0
	for m in /tmp /dev/shm; do
		line=$(awk -v m=$m '$2 == m' "$T/out")
		case "$line" in
		*size=*nr_inodes=*) ;;
		*) fail "$m has no size and inode limit: '$line'" ;;
		esac
	done
}

# Root keeps its checkout, and so the rootfs, under /root (0700 on Debian):
# the task's subordinate ids cannot search it, so the sandbox must reach the
# rootfs through an fd opened before it drops to them (issue 13 item 3).
test_root_rootfs_under_private_dir() {
	need_root
	mkdir -m 0700 "$T/private"
	cp -a "$ROOTFS" "$T/private/rootfs"
	RC=0
	"$WSBOX" exec --store "$STORE" --rootfs "$T/private/rootfs" -- \
		sh -c 'cat /etc/passwd >/dev/null && echo reached' >"$T/out" 2>"$T/err" || RC=$?
	assert_rc 0 || return 1
	assert_out_has "reached" || return 1
	# Init holds no fd to it: nothing under /proc/1/fd reaches the host.
	"$WSBOX" exec --store "$STORE" --rootfs "$T/private/rootfs" -- \
		sh -c 'ls -l /proc/1/fd 2>&1; true' >"$T/out" 2>&1
	if grep -q "$T/private" "$T/out"; then
		fail "init holds an fd to the rootfs: $(cat "$T/out")"
		return 1
	fi
}
