# wsbox import: sources into a run (docs/model.md "Sources"). A host
# directory or tarball becomes a task's layer that children name with
# --parent; identical content gives the same digest and hits their cache.

make_src() { # DIR: a small source tree
	mkdir -p "$1/sub"
	echo hello >"$1/a"
	echo inner >"$1/sub/b"
	ln -s a "$1/link"
}

test_import_dir_is_a_parent() {
	make_src "$T/src"
	ws import --store "$STORE" --run r1 --task src "$T/src"
	assert_rc 0
	assert_out_has "sha256:"
	wsx --run r1 --task build --parent src -- sh -c 'cat a sub/b; readlink link'
	assert_rc 0
	assert_out "hello
inner
a"
}

test_import_records_a_succeeded_task() {
	make_src "$T/src"
	ws import --store "$STORE" --run r1 --task src "$T/src"
	assert_rc 0
	digest=$(cat "$T/out")
	ws runs show r1 --store "$STORE"
	assert_rc 0
	assert_out_has "src"
	assert_out_has "succeeded"
	assert_out_has "$(echo "$digest" | cut -c8-19)"
}

test_import_dir_and_tar_give_one_digest() {
	make_src "$T/src"
	(cd "$T/src" && tar -cf "$T/src.tar" . && gzip -c "$T/src.tar" >"$T/src.tgz")
	ws import --store "$STORE" --run r1 --task src "$T/src"
	assert_rc 0
	d1=$(cat "$T/out")
	ws import --store "$STORE" --run r2 --task src "$T/src.tgz"
	assert_rc 0
	assert_out "$d1"
}

# A sparse member of a tarball (GNU tar --sparse) keeps its holes in the
# layer: 1 GiB apparent, a few blocks on disk, the same bytes. Before, every
# hole was written out as zeros (2097160 blocks here).
test_import_of_a_sparse_tar_keeps_its_holes() {
	mkdir -p "$T/src"
	printf head >"$T/src/big"
	printf tail | dd of="$T/src/big" bs=1 seek=1073741824 conv=notrunc status=none
	(cd "$T/src" && tar --sparse -cf "$T/src.tar" .)
	ws import --store "$STORE" --run r1 --task src "$T/src.tar"
	assert_rc 0
	wsx --ro --run r1 --task look --parent src -- sh -c 'stat -c "%s %b" big; head -c4 big; tail -c4 big'
	assert_rc 0
	size=$(sed -n 1p "$T/out" | cut -d" " -f1)
	blocks=$(sed -n 1p "$T/out" | cut -d" " -f2)
	assert_eq "$size" 1073741828 "apparent size"
	[ "$blocks" -lt 1024 ] || fail "the holes were written out: $blocks blocks"
	assert_eq "$(sed -n 2p "$T/out")" headtail "content"
}

test_identical_sources_hit_the_childs_cache() {
	make_src "$T/src"
	ws import --store "$STORE" --run r1 --task src "$T/src"
	wsx --run r1 --task build --parent src --events "$T/ev1" -- sh -c 'cat a >out'
	assert_rc 0
	ws import --store "$STORE" --run r2 --task src "$T/src"
	wsx --run r2 --task build --parent src --events "$T/ev2" -- sh -c 'cat a >out'
	assert_rc 0
	grep -q '"event":"cache_hit"' "$T/ev2" || fail "second run's build was not a cache hit"
}

test_changed_sources_miss_the_childs_cache() {
	make_src "$T/src"
	ws import --store "$STORE" --run r1 --task src "$T/src"
	wsx --run r1 --task build --parent src -- sh -c 'cat a >out'
	assert_rc 0
	echo changed >"$T/src/a"
	ws import --store "$STORE" --run r2 --task src "$T/src"
	wsx --run r2 --task build --parent src --events "$T/ev2" -- sh -c 'cat a'
	assert_rc 0
	assert_out changed
	grep -q '"event":"cache_miss"' "$T/ev2" || fail "changed sources were a cache hit"
}

test_import_does_not_follow_symlinks_out() {
	mkdir -p "$T/src"
	ln -s /etc/hostname "$T/src/out"
	ws import --store "$STORE" --run r1 --task src "$T/src"
	assert_rc 0
	ws layers show "$(cat "$T/out")" --store "$STORE"
	assert_rc 0
	assert_out_has "symlink"
	assert_out_has "out -> /etc/hostname"
}

test_import_drops_setuid_bits() {
	mkdir -p "$T/src"
	echo x >"$T/src/tool"
	chmod 4755 "$T/src/tool"
	ws import --store "$STORE" --run r1 --task src "$T/src"
	assert_rc 0
	wsx --run r1 --task look --parent src -- stat -c %a tool
	assert_rc 0
	assert_out 755
}

# The caller's umask is not part of the layer: a daemon's umask 077 (twistd,
# found by t_buildbot) once recorded 0644 sources as 0600, changing the
# digest and, in root mode, locking the task's uid out of its parent.
test_import_keeps_modes_whatever_the_umask() {
	make_src "$T/src"
	ws import --store "$STORE" --run r1 --task src "$T/src"
	assert_rc 0
	d1=$(cat "$T/out")
	(umask 077 && "$WSBOX" import --store "$STORE" --run r2 --task src \
		"$T/src" >"$T/out2" 2>"$T/err2") || fail "import under umask 077: $(cat "$T/err2")"
	[ "$(cat "$T/out2")" = "$d1" ] || fail "digest under umask 077: $(cat "$T/out2"), want $d1"
	wsx --run r2 --task look --parent src -- stat -c %a a
	assert_rc 0
	assert_out 644
}

test_import_refuses_a_fifo_and_publishes_nothing() {
	make_src "$T/src"
	mkfifo "$T/src/pipe"
	ws import --store "$STORE" --run r1 --task src "$T/src"
	assert_rc 125
	assert_err_has "a FIFO cannot be part of a layer"
	ws runs show r1 --store "$STORE"
	! grep -q src "$T/out" || fail "a refused import left a task record"
	ws layers ls --store "$STORE"
	assert_out ""
}

test_import_refuses_hostile_archive_paths() {
	python3 - "$T/evil.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"owned\n"
    ti = tarfile.TarInfo("../escape")
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
EOF
	ws import --store "$STORE" --run r1 --task src "$T/evil.tar"
	assert_rc 125
	assert_no_file "$STORE/../escape"
	assert_no_file "$T/escape"
	ws layers ls --store "$STORE"
	assert_out ""
}

test_import_refuses_bad_names_and_missing_paths() {
	make_src "$T/src"
	ws import --store "$STORE" --run 'r 1' --task src "$T/src"
	assert_rc 125
	assert_err_has "invalid name"
	ws import --store "$STORE" --run r1 --task src "$T/nonexistent"
	assert_rc 125
	assert_err_has "nonexistent"
	ws import --store "$STORE" --run r1 "$T/src"
	assert_rc 125
}
