# `wsbox rootfs import|ls`: a busybox tarball with what real distributions
# carry (device nodes, setuid files, internal hardlinks) imports cleanly;
# hostile tarballs are refused and leave nothing behind.

# rootfs_tar OUT: tar of $ROOTFS plus a char device, a setuid file and a
# hardlink to an earlier file of the archive (python3 tarfile appends them).
rootfs_tar() {
	tar -C "$ROOTFS" -cf "$1" . || fail "tar $1"
	python3 - "$1" <<'EOF2' || fail "python3 failed for $1"
import io, sys, tarfile
tf = tarfile.open(sys.argv[1], "a")
ti = tarfile.TarInfo("./dev/null2"); ti.type = tarfile.CHRTYPE
ti.devmajor, ti.devminor = 1, 3; tf.addfile(ti)
ti = tarfile.TarInfo("./fifo"); ti.type = tarfile.FIFOTYPE; tf.addfile(ti)
data = b"#!/bin/sh\necho suid\n"
ti = tarfile.TarInfo("./bin/suid"); ti.size = len(data); ti.mode = 0o4755
tf.addfile(ti, io.BytesIO(data))
ti = tarfile.TarInfo("./bin/suid-link"); ti.type = tarfile.LNKTYPE
ti.linkname = "./bin/suid"; tf.addfile(ti)
ti = tarfile.TarInfo(".wh.plain"); ti.size = 0; tf.addfile(ti, io.BytesIO(b""))
tf.close()
EOF2
}

test_rootfs_import_and_ls() {
	command -v python3 >/dev/null || { echo "no python3"; return 77; }
	rootfs_tar "$T/x.tar"
	ws rootfs --store "$STORE" import "$T/x.tar" --name bb
	assert_rc 0
	sum=$(sha256sum "$T/x.tar" | cut -d' ' -f1)
	assert_out "bb sha256:$sum"
	assert_err_has "skipped 2 device nodes, FIFOs and sockets"
	assert_err_has "setuid/setgid from 1 entries"
	r="$STORE/rootfs/bb"
	assert_file "$r/probe"
	assert_file "$r/bin/busybox"
	assert_no_file "$r/dev/null2"
	assert_no_file "$r/fifo"
	assert_file "$r/.wh.plain"
	assert_eq "$(stat -c %a "$r/bin/suid")" 755 "suid mode"
	assert_eq "$(stat -c %h "$r/bin/suid")" 2 "link count"
	assert_eq "$(stat -c %i "$r/bin/suid-link")" "$(stat -c %i "$r/bin/suid")" \
		"hardlink inode"
	assert_eq "$(stat -c %u "$r/bin/busybox")" "$(id -u)" owner
	# Symlinks stay verbatim (the busybox applets).
	l=$(find "$ROOTFS/bin" -type l | head -n 1)
	[ -z "$l" ] || assert_eq "$(readlink "$r/bin/${l##*/}")" "$(readlink "$l")" \
		symlink
	assert_eq "$(cat "$STORE/rootfs/bb.digest")" "sha256:$sum" digest
	assert_eq "$(ls -A "$STORE/staging")" "" staging
	ws rootfs --store "$STORE" ls
	assert_rc 0
	assert_out "bb sha256:$sum"
}

test_rootfs_reimport_replaces() {
	tar -C "$ROOTFS" -cf "$T/a.tar" . || fail "tar a.tar"
	ws rootfs --store "$STORE" import "$T/a.tar" --name bb
	assert_rc 0
	mkdir -p "$T/small/bin" || fail "mkdir small/bin"
	echo new >"$T/small/bin/only" || fail "write small/bin/only"
	tar -C "$T/small" -czf "$T/b.tar.gz" . || fail "tar b.tar.gz"
	ws rootfs --store "$STORE" import "$T/b.tar.gz" --name bb
	assert_rc 0
	assert_file "$STORE/rootfs/bb/bin/only"
	assert_no_file "$STORE/rootfs/bb/probe"
	sum=$(sha256sum "$T/b.tar.gz" | cut -d' ' -f1)
	assert_eq "$(cat "$STORE/rootfs/bb.digest")" "sha256:$sum" digest
	assert_eq "$(ls -A "$STORE/staging")" "" staging
	ws rootfs --store "$STORE" ls
	assert_rc 0
	assert_out "bb sha256:$sum"
}

test_rootfs_bad_usage() {
	tar -C "$ROOTFS" -cf "$T/a.tar" . || fail "tar a.tar"
	for n in ../x .hidden x.digest "a/b" ""; do
		echo "name '$n'"
		ws rootfs --store "$STORE" import "$T/a.tar" --name "$n"
		assert_rc 125
	done
	ws rootfs --store "$STORE" import "$T/a.tar"
	assert_rc 125
	ws rootfs --store "$STORE" import "$T/missing.tar" --name m
	assert_rc 125
	assert_no_file "$STORE/rootfs/m"
}

# hostile KIND: write $T/KIND.tar.
hostile() {
	python3 - "$T" "$1" <<'EOF2' || fail "python3 failed for $1"
import io, sys, tarfile
t, kind = sys.argv[1], sys.argv[2]
tf = tarfile.open(f"{t}/{kind}.tar", "w", format=tarfile.PAX_FORMAT)
def reg(name, data=b"pwned\n"):
    ti = tarfile.TarInfo(name); ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data))
def other(name, type, **kw):
    ti = tarfile.TarInfo(name); ti.type = type
    for k, v in kw.items(): setattr(ti, k, v)
    tf.addfile(ti)
reg("ok")
if kind == "dotdot": reg("../evil")
elif kind == "dotdot2": reg("a/../../evil")
elif kind == "abs": reg(f"{t}/outside/evil")
elif kind == "symlink_file":
    other("esc", tarfile.SYMTYPE, linkname=f"{t}/outside")
    reg("esc/evil")
elif kind == "hardlink_out":
    other("hl", tarfile.LNKTYPE, linkname=f"{t}/outside/target")
elif kind == "hardlink_dotdot":
    other("hl", tarfile.LNKTYPE, linkname="../outside/target")
elif kind == "hardlink_symlink":
    other("esc", tarfile.SYMTYPE, linkname=f"{t}/outside")
    other("hl", tarfile.LNKTYPE, linkname="esc/target")
elif kind == "hardlink_dir":
    other("d", tarfile.DIRTYPE)
    other("hl", tarfile.LNKTYPE, linkname="d")
elif kind == "hardlink_missing":
    other("hl", tarfile.LNKTYPE, linkname="nope")
tf.close()
EOF2
}

test_rootfs_import_refuses_hostile_tars() {
	command -v python3 >/dev/null || { echo "no python3"; return 77; }
	mkdir -p "$T/outside" || fail "mkdir outside"
	chmod 777 "$T/outside" || fail "chmod outside"
	echo keep >"$T/outside/target" || fail "write outside/target"
	for kind in dotdot dotdot2 abs symlink_file hardlink_out hardlink_dotdot \
		hardlink_symlink hardlink_dir hardlink_missing; do
		echo "kind $kind"
		hostile $kind
		ws rootfs --store "$STORE" import "$T/$kind.tar" --name evil
		assert_rc 125
		assert_err_has "wsbox: rootfs evil: import $T/$kind.tar: "
		[ "$(wc -l <"$T/err")" = 1 ] || fail "$kind: not one line: $(cat "$T/err")"
		assert_no_file "$STORE/rootfs/evil"
		assert_no_file "$STORE/rootfs/evil.digest"
		assert_eq "$(ls -A "$STORE/staging")" "" "$kind: staging"
		assert_eq "$(ls -A "$T/outside")" "target" "$kind: outside"
		assert_eq "$(stat -c %h "$T/outside/target")" 1 "$kind: links"
	done
	ws rootfs --store "$STORE" ls
	assert_rc 0
	assert_out ""
}

test_exec_with_imported_rootfs_by_name() {
	tar -C "$ROOTFS" -cf "$T/bb.tar" . || fail "tar bb.tar"
	ws rootfs import "$T/bb.tar" --name bb --store "$STORE"
	assert_rc 0
	ws exec --store "$STORE" --rootfs bb -- sh -c 'cat /etc/passwd | head -n 1; /probe rorootfs'
	assert_rc 0
	assert_out_has "root:"
	ws exec --store "$STORE" --rootfs nosuchname -- true
	assert_rc 125
	assert_err_has "no such directory or imported rootfs"
}
