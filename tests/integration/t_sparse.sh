# Sparse files a task writes (docs/capture.md "Holes"): an 8 GiB file with
# one byte of data costs its hashing at capture, and nothing more at verify,
# restore and export: no hole is read, written or put in a tar. Before
# sandbox/util/sparse.c, verify read 8 GiB of zeros, restore wrote a dense
# 8 GiB file and export an 8 GiB tar.

BIG=8589934592 # 8 GiB
AT=4294967296  # the one byte of data in it: 'x' at 4 GiB

# `big`: 8 GiB, 'x' at 4 GiB, the rest holes; `mid`: 64 MiB with 'a', 'b'
# and 'c' at its start, middle and end, small enough to compare whole. The
# same commands build the reference ($T/ref) on the host.
SPARSE_SH='truncate -s 8G big &&
printf x | dd of=big bs=1 seek=4294967296 conv=notrunc 2>/dev/null &&
truncate -s 64M mid &&
printf a | dd of=mid conv=notrunc 2>/dev/null &&
printf b | dd of=mid bs=1 seek=33554432 conv=notrunc 2>/dev/null &&
printf c | dd of=mid bs=1 seek=67108863 conv=notrunc 2>/dev/null'

# Run the task (within a guard: capture hashes the 8 GiB, about 5 s with
# SHA extensions) and the host reference; $D gets the layer's digest.
sparse_task() {
	t0=$(date +%s)
	wsx --run r --task t -- sh -c "$SPARSE_SH"
	assert_rc 0
	took=$(($(date +%s) - t0))
	[ "$took" -le 90 ] || fail "exec with an 8 GiB sparse file took ${took}s"
	mkdir -p "$T/ref" && (cd "$T/ref" && sh -c "$SPARSE_SH") ||
		fail "reference files"
	D=sha256:$(ls "$STORE/layers" | head -n 1)
}

byte_at() { # FILE OFFSET -> the byte there, as od prints it
	dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | od -An -c | tr -d ' '
}

# The big file as it must be: 8 GiB, a few blocks, 'x' at 4 GiB and a zero
# on either side of it.
assert_big_file() { # FILE WHAT
	assert_eq "$(stat -c %s "$1")" "$BIG" "$2: size"
	blocks=$(stat -c %b "$1")
	[ "$blocks" -lt 8192 ] || fail "$2: $blocks blocks of 512 bytes (holes written out)"
	assert_eq "$(byte_at "$1" "$AT")" x "$2: byte at 4 GiB"
	assert_eq "$(byte_at "$1" $((AT - 1)))" '\0' "$2: byte before it"
	assert_eq "$(byte_at "$1" $((AT + 1)))" '\0' "$2: byte after it"
}

test_sparse_restore_keeps_the_holes() {
	sparse_task
	ws restore --store "$STORE" --run r --task t --with-self --to "$T/rt"
	assert_rc 0
	assert_big_file "$T/rt/big" restored
	cmp "$T/rt/mid" "$T/ref/mid" || fail "restored mid differs"
}

# What verify reads, from the kernel's count of the bytes a process got
# from read/pread (/proc/PID/io rchar, which a shell gets from its waited
# children): the file's one data block and the manifest, not 8 GiB.
test_sparse_verify_reads_no_hole() {
	sparse_task
	rchar=$(sh -c '"$0" layers verify "$1" --store "$2" >/dev/null || exit 1
		sed -n "s/^rchar: //p" /proc/$$/io' "$WSBOX" "$D" "$STORE") ||
		fail "verify failed"
	[ "$rchar" -lt 67108864 ] || fail "verify read $rchar bytes"
}

# A 1 MiB block of zeros is a hole in the tar (GNU sparse 1.0 in pax), so
# the export is small, GNU tar lists and extracts it without a word and
# keeps the holes, and wsbox imports it back as the same layer.
test_sparse_export_is_small_and_round_trips() {
	sparse_task
	ws layers export "$D" -o "$T/l.tar" --store "$STORE"
	assert_rc 0
	size=$(stat -c %s "$T/l.tar")
	[ "$size" -lt 16777216 ] || fail "export of a sparse layer is $size bytes"
	tar -tvf "$T/l.tar" >"$T/list" 2>"$T/tarerr"
	assert_eq "$?" 0 "tar -t exit"
	assert_eq "$(cat "$T/tarerr")" "" "tar -t stderr"
	assert_eq "$(awk '$NF == "big" { print $3 }' "$T/list")" "$BIG" "size tar lists"
	mkdir "$T/x" && (cd "$T/x" && tar -xf "$T/l.tar" 2>"$T/tarerr")
	assert_eq "$?" 0 "tar -x exit"
	assert_eq "$(cat "$T/tarerr")" "" "tar -x stderr"
	assert_big_file "$T/x/big" "extracted by GNU tar"
	cmp "$T/x/mid" "$T/ref/mid" || fail "extracted mid differs"
	ws layers import "$T/l.tar" --store "$STORE"
	assert_rc 0
	assert_out "$D"
}

# The tar depends on the bytes, not on how they lie on disk: the same
# 64 MiB written sparse in one store and dense in another (same layer
# digest) export to the same tar, and a small one; so does a file of
# nothing but zeros (`z`, a sparse entry without data).
test_sparse_export_bytes_do_not_depend_on_the_layout() {
	wsx --run r --task t -- sh -c 'truncate -s 64M f z && printf a | dd of=f conv=notrunc 2>/dev/null'
	assert_rc 0
	ws exec --store "$T/dense" --rootfs "$ROOTFS" --run r --task t -- sh -c \
		'dd if=/dev/zero of=f bs=1M count=64 2>/dev/null && cp f z && printf a | dd of=f conv=notrunc 2>/dev/null'
	assert_rc 0
	d1=$(ls "$STORE/layers" | head -n 1)
	d2=$(ls "$T/dense/layers" | head -n 1)
	assert_eq "$d2" "$d1" "layer digest"
	ws layers export "sha256:$d1" -o "$T/sparse.tar" --store "$STORE"
	assert_rc 0
	ws layers export "sha256:$d2" -o "$T/dense.tar" --store "$T/dense"
	assert_rc 0
	cmp "$T/sparse.tar" "$T/dense.tar" || fail "the two exports differ"
	size=$(stat -c %s "$T/sparse.tar")
	[ "$size" -lt 4194304 ] || fail "export of 128 MiB of mostly zeros is $size bytes"
	mkdir "$T/x" && (cd "$T/x" && tar -xf "$T/sparse.tar" 2>"$T/tarerr")
	assert_eq "$?" 0 "tar -x exit"
	assert_eq "$(cat "$T/tarerr")" "" "tar -x stderr"
	assert_eq "$(stat -c %s "$T/x/z")" 67108864 "extracted z: size"
	cmp "$T/x/z" "$T/dense/layers/$d2/tree/z" || fail "extracted z differs"
	ws layers import "$T/sparse.tar" --store "$T/dense"
	assert_rc 0
	assert_out "sha256:$d1"
}
