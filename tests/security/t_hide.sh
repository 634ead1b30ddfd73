# Adversarial suite, paths that look hidden but are not (issue 19 item 12):
# the store reached through another spelling, kernel filesystems or the
# store's own ancestors as the rootfs, an explicit `--rootfs /`. README.md.
. "$(dirname "$HERE")/security/lib_attack.sh"

# The store given through a symlinked path (here under /tmp, hidden
# anyway) lives where the host root shows it: the task must find it empty
# at its resolved place. Root only: a visible place outside /tmp, /home,
# /run, /var/tmp is needed (/var/lib).
test_store_through_a_symlinked_path_is_hidden() {
	[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
	real=$(mktemp -d /var/lib/wsbox-sec-hide.XXXXXX) || fail "mktemp in /var/lib"
	trap 'chmod -R u+w "$real"; rm -rf "$real"' EXIT
	chmod 755 "$real"
	ln -s "$real" "$T/link"
	ws exec --store "$T/link/store" -- sh -c 'echo mine > secret'
	assert_rc 0
	assert_file "$real/store/VERSION"
	ws exec --store "$T/link/store" -- sh -c "test -e '$real/store/VERSION' && echo visible; ls -A '$real/store' | wc -l"
	assert_rc 0
	assert_out 0
}

# A kernel filesystem as the rootfs shows the host's processes, command
# lines and devices: refused before anything runs.
test_rootfs_on_procfs_sysfs_devtmpfs_refused() {
	wsx_rootfs() { ws exec --store "$STORE" --rootfs "$1" -- /bin/true; }
	wsx_rootfs /proc
	assert_rc 125
	assert_err_has "wsbox: rootfs \`/proc\`: a kernel filesystem"
	wsx_rootfs /proc/self/net
	assert_rc 125
	assert_err_has "a kernel filesystem"
	wsx_rootfs /sys
	assert_rc 125
	assert_err_has "wsbox: rootfs \`/sys\`: a kernel filesystem"
	wsx_rootfs /dev
	assert_rc 125
	assert_err_has "wsbox: rootfs \`/dev\`: on devtmpfs"
}

# A rootfs that contains the store would show it at another path than the
# one covered: refused, by inode, also when the store is spelled through a
# symlink.
test_rootfs_containing_the_store_refused() {
	mkdir "$T/tree"
	cp -a "$ROOTFS/." "$T/tree/"
	ln -s "$T/tree" "$T/alias"
	ws exec --store "$T/alias/store" --rootfs "$T/tree" -- /bin/true
	assert_rc 125
	assert_err_has "wsbox: rootfs \`$T/tree\`: contains the store \`$T/alias/store\`"
	ws exec --store "$T/tree/sub/store" --rootfs "$T/alias" -- /bin/true
	assert_rc 125
	assert_err_has "contains the store"
}

# `--rootfs /` asks for the host root explicitly: hidden like the default.
test_explicit_rootfs_slash_hides_home_run_var_tmp() {
	ws exec --store "$STORE" --rootfs / -- sh -c 'ls -A /home /run /var/tmp /root 2>/dev/null | grep -v -e "^/" -e "^$" | wc -l'
	assert_rc 0
	assert_out 0
}

# The host root's /sys was the host's, bound read-only, with every mount
# under it: a task listed every cgroup of the host, another task's limit
# leaf (wsbox-PID-RAND) among them with its processes' host pids and its
# memory use, whatever its cgroup namespace (a bind shows the host's view),
# and the host's network devices with their traffic counters. Now a sysfs of
# the sandbox's own network namespace (only `lo`, nothing mounted under it);
# with --net host, where no new sysfs is allowed, the host's with
# /sys/fs/cgroup covered.
test_host_root_sys_shows_no_cgroup_of_the_host() {
	hold_start held --memory 64M -- sh -c 'echo held; read x || true'
	look='echo "$(ls -A /sys/fs/cgroup | wc -l) $(find /sys/fs/cgroup -maxdepth 6 -name "wsbox-*" 2>/dev/null | wc -l) $(ls /sys/devices >/dev/null && echo devices)"'
	ws exec --store "$STORE" --no-cache -- sh -c "$look; ls /sys/class/net"
	cp "$T/out" "$T/none"
	ws exec --store "$STORE" --no-cache --net host -- sh -c "$look"
	hold_end
	assert_eq "$? $(cat "$T/hog")" "0 held" "the task holding a leaf: $(head -c 300 "$T/hog-err")"
	assert_rc 0
	assert_out "0 0 devices"
	assert_eq "$(cat "$T/none")" "0 0 devices
lo" "with --net none"
}

# shared_base NAME UNMOUNTS: root only (else skip), a wsbox-test user; a
# dir $base under /var/lib that wsbox-test can reach, with its own copy of
# the binary (the checkout may sit under /root); at exit UNMOUNTS (paths
# below $base, recursively) are unmounted and $base removed.
shared_base() {
	[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
	id -u wsbox-test >/dev/null 2>&1 || { echo "no wsbox-test user"; exit 77; }
	base=$(mktemp -d "/var/lib/wsbox-sec-$1.XXXXXX") || fail "mktemp in /var/lib"
	shared_unmounts=$2
	trap 'for m in $shared_unmounts; do umount -R "$base/$m" 2>/dev/null; done; rm -rf "$base"' EXIT
	chmod 755 "$base"
	cp "$WSBOX" "$base/wsbox" && chmod 755 "$base/wsbox" || fail "copy the binary"
}

# With --net host /sys is the host's, bound, and the bind carries every
# mount under it (bpf, pstore, securityfs, fuse connections, debugfs): each
# is covered by the walk that covers a rootfs's kernel mounts, for root mode
# and a rootless user. Root only: bpf is mounted on /sys/fs/bpf in a mount
# namespace of the test's own, so the host is untouched.
test_net_host_sys_covers_the_hosts_kernel_mounts() {
	shared_base bpf ""
	mkdir "$base/u" && chown wsbox-test "$base/u" || fail "the user's dir"
	unshare -m sh -c 'mount -t bpf bpf /sys/fs/bpf || exit 77
		stat -f -c %T /sys/fs/bpf
		"$1/wsbox" exec --store "$1/root-store" --no-cache --net host -- stat -f -c %T /sys/fs/bpf
		su wsbox-test -s /bin/sh -c "\"$1/wsbox\" exec --store \"$1/u/store\" --no-cache --net host -- stat -f -c %T /sys/fs/bpf"' \
		sh "$base" >"$T/out" 2>"$T/err"
	RC=$?
	[ "$RC" != 77 ] || { echo "cannot mount bpf here"; exit 77; }
	assert_rc 0
	assert_out "bpf_fs
tmpfs
tmpfs"
}

# A bind mount of the store's parent shows the store again at another path,
# through the rootfs's recursive binds: found in the mount table and
# covered, in root mode and for a rootless user (whose task could read
# every layer and cache entry there before); so is a piece of the store (its
# layers dir) bound elsewhere. Root only: the binds are made on the host.
test_store_through_a_bind_mount_alias_is_hidden() {
	shared_base alias "alias piece"
	mkdir "$base/real" "$base/alias" "$base/piece"
	chown wsbox-test: "$base/real"
	ws exec --store "$base/real/rstore" -- sh -c 'echo mine > secret'
	assert_rc 0
	mount --bind "$base/real" "$base/alias" || fail "bind the store's parent"
	mount --bind "$base/real/rstore/layers" "$base/piece" || fail "bind the layers"
	look="for d in '$base/alias/rstore' '$base/piece'; do
		echo \$(stat -c %a \"\$d\") \$(ls -A \"\$d\" 2>&1 | wc -l); done"
	ws exec --store "$base/real/rstore" -- sh -c "$look"
	assert_rc 0
	assert_out "755 0
755 0"
	as wsbox-test "$base/wsbox" exec --store "$base/real/store" -- sh -c 'echo mine > secret'
	assert_eq "$AS_RC" 0 "rootless exec ($(head -c 300 "$T/as.out"))"
	as wsbox-test "$base/wsbox" exec --store "$base/real/store" -- sh -c "stat -c %a '$base/alias/store'; ls -A '$base/alias/store' | wc -l"
	assert_eq "$AS_RC" 0 "rootless exec ($(head -c 300 "$T/as.out"))"
	assert_eq "$(cat "$T/as.out")" "755
0" "the rootless store through the alias"
}

# The store shown as the rootfs itself: a path below the store other than
# an imported rootfs is refused by inode, however spelled; a bind of a
# layer's tree elsewhere (a layer that holds a whole root tree, so the
# task could run in it) gets every entry covered, not shown (before, the
# exemption for an imported rootfs's entries let the layer through).
test_store_piece_as_rootfs_is_not_shown() {
	[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
	ws exec --store "$STORE" --rootfs "$ROOTFS" --run r --task tree -- \
		sh -c 'for d in bin etc lib lib64 usr sbin probe; do [ -e /$d ] && cp -a /$d /workspace/; done; echo planted > /workspace/secret'
	assert_rc 0
	layer=$(ls "$STORE/layers" | head -n 1)
	ws exec --store "$STORE" --rootfs "$STORE/layers/$layer/tree" -- cat /secret
	assert_rc 125
	assert_err_has "inside the store"
	ln -s "$STORE/layers" "$T/lnk"
	ws exec --store "$STORE" --rootfs "$T/lnk/$layer/tree" -- cat /secret
	assert_rc 125
	assert_err_has "inside the store"
	mkdir "$T/alias"
	mount --bind "$STORE/layers/$layer/tree" "$T/alias" || fail "bind the layer's tree"
	ws exec --store "$STORE" --rootfs "$T/alias" -- cat /secret
	umount "$T/alias"
	[ "$RC" != 0 ] || fail "the layer ran as the rootfs: $(cat "$T/out")"
	! grep -q planted "$T/out" || fail "the layer's file was shown"
}

# A rootfs with the host's kernel filesystems mounted inside (a chroot
# whose /proc was left mounted, a bind of /sys/fs/cgroup with its
# controllers): the recursive rootfs binds cloned them, so a task listed
# the host's processes and cgroups. Every procfs, sysfs, cgroup, devpts,
# mqueue... mount the rootfs brings is covered, as root and rootless.
test_rootfs_with_host_kernel_mounts_inside_is_covered() {
	shared_base kfs "rf/var/cg rf/hostproc"
	cp -a "$ROOTFS" "$base/rf" || fail "copy the rootfs"
	mkdir -p "$base/rf/hostproc" "$base/rf/var/cg" "$base/s"
	chown wsbox-test: "$base/s"
	mount -t proc proc "$base/rf/hostproc" || fail "mount proc in the rootfs"
	mount --rbind /sys/fs/cgroup "$base/rf/var/cg" || fail "bind the cgroups"
	look='echo $(ls -A /hostproc | wc -l) $(find /var/cg -mindepth 2 2>/dev/null | wc -l) $(ls /proc | grep -c "^[0-9]")'
	ws exec --no-cache --store "$STORE" --rootfs "$base/rf" -- sh -c "$look"
	assert_rc 0
	set -- $(cat "$T/out")
	assert_eq "$1 $2" "0 0" "host proc entries, cgroup files seen as root"
	[ "$3" -ge 1 ] || fail "the sandbox's own /proc is empty"
	as wsbox-test "$base/wsbox" exec --no-cache --store "$base/s/store" --rootfs "$base/rf" -- sh -c "$look"
	assert_eq "$AS_RC" 0 "rootless exec ($(head -c 300 "$T/as.out"))"
	set -- $(cat "$T/as.out")
	assert_eq "$1 $2" "0 0" "host proc entries, cgroup files seen rootless"
}
