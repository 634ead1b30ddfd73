# Real pipelines (README "Time stamps"): make and ninja in a descendant task
# behave as in one directory, also when a task's result is an identical
# layer published by an earlier run, and in a restored tree.
#
# The compiler pipelines run on the host root (read-only), which has make,
# gcc and ninja; the busybox test rootfs has none of them.

LAYER_MTIME=315619200

# hostx RUN TASK [exec options...] -- CMD: a task on the host root.
hostx() {
	run=$1 name=$2; shift 2
	ws exec --store "$STORE" --run "$run" --task "$name" "$@"
}

need_tools() {
	for tool in make gcc ninja ar; do
		command -v $tool >/dev/null 2>&1 || { echo "no $tool on the host"; exit 77; }
	done
}

# The issue's three-command repro, across two runs: `a` writes a new `dep`
# in each run (its argv names the run, so it is no cache hit); in the second
# run `b` writes the same `target` as in the first, so its layer is the one
# the first run published; `c` must still not see `dep` newer than it (make
# rebuilds a target only when a prerequisite is newer).
test_reused_layer_is_not_older_than_new_ancestors() {
	for run in r1 r2; do
		wsx --run $run --task a -- sh -c 'echo "$1" > dep' a $run
		assert_rc 0
		wsx --run $run --task b --parent a -- sh -c 'echo built > target'
		assert_rc 0
		wsx --run $run --task c --parent b -- sh -c '[ dep -nt target ] && echo dep-newer || echo up-to-date'
		assert_rc 0
		assert_out up-to-date
		sleep 1
	done
	b1=$(sed -n 's/^ "layer": "\(sha256:[0-9a-f]*\)".*/\1/p' "$STORE/runs/r1/tasks/b")
	b2=$(sed -n 's/^ "layer": "\(sha256:[0-9a-f]*\)".*/\1/p' "$STORE/runs/r2/tasks/b")
	assert_eq "$b2" "$b1" "b's layer in run 2 (the reused one)"
}

test_published_layer_entries_carry_layer_mtime() {
	wsx --run r --task a -- sh -c 'mkdir -p d/e; echo x > d/e/f; ln -s e/f d/l'
	assert_rc 0
	hex=$(sed -n 's/^ "layer": "sha256:\([0-9a-f]*\)".*/\1/p' "$STORE/runs/r/tasks/a")
	tree="$STORE/layers/$hex/tree"
	for p in "" d d/e d/e/f d/l; do
		assert_eq "$(stat -c %Y "$tree/$p")" $LAYER_MTIME "mtime of '$p'"
		assert_eq "$(stat -c %X "$tree/$p")" $LAYER_MTIME "atime of '$p'"
	done
}

# The generated project: sources and README (the src task), a configure step
# that writes the time it ran into config.h, two libraries built in parallel
# tasks, a test task and a package task. The compiler is `sh ./cc-log`,
# which prints CC-INVOKED per call. Both a Makefile and per-library
# build.ninja files. $1: the README text.
GEN_PROJECT=$(cat <<'EOF'
set -e
echo "$1" > README
mkdir -p include liba libb
cat > cc-log <<'X'
echo "CC-INVOKED $*"
exec gcc "$@"
X
cat > configure <<'X'
echo "#define CONFIGURED_AT \"$(date +%s.%N)\"" > config.h
X
for l in a b; do
	v=$([ $l = a ] && echo 1 || echo 2)
	echo "int ${l}_value(void);" > include/$l.h
	cat > lib$l/$l.c <<X
#include "config.h"
#include "$l.h"
int ${l}_value(void) { return $v; }
X
	cat > lib$l/test_$l.c <<X
#include <stdio.h>
#include "$l.h"
int main(void) { if (${l}_value() != $v) return 1; puts("test_$l ok"); return 0; }
X
	cat > lib$l/build.ninja <<X
cflags = -O2 -I../include -I..
rule cc
  command = sh ../cc-log \$cflags -c -o \$out \$in
rule link
  command = sh ../cc-log \$cflags -o \$out \$in
rule ar
  command = rm -f \$out && ar rcsD \$out \$in
build $l.o: cc $l.c | ../include/$l.h ../config.h
build lib$l.a: ar $l.o
build test_$l: link test_$l.c lib$l.a | ../include/$l.h
X
done
cat > Makefile <<'X'
.RECIPEPREFIX := >
CC = sh ./cc-log
CFLAGS = -O2 -Iinclude -I.
all: liba/liba.a libb/libb.a liba/test_a libb/test_b
config.h: configure
>sh ./configure
check: liba/test_a libb/test_b
>./liba/test_a
>./libb/test_b
dist: pkg.tar
pkg.tar: liba/liba.a libb/libb.a include/a.h include/b.h README
>tar cf $@ liba/liba.a libb/libb.a include README
.PHONY: all check dist
X
for l in a b; do
	cat >> Makefile <<X
lib$l/$l.o: lib$l/$l.c include/$l.h config.h
>\$(CC) \$(CFLAGS) -c -o \$@ lib$l/$l.c
lib$l/lib$l.a: lib$l/$l.o
>ar rcsD \$@ lib$l/$l.o
lib$l/test_$l: lib$l/test_$l.c lib$l/lib$l.a include/$l.h
>\$(CC) \$(CFLAGS) -o \$@ lib$l/test_$l.c lib$l/lib$l.a
X
done
EOF
)

# Compiler calls in the last task's stdout.
cc_calls() { grep -c '^CC-INVOKED' "$T/out"; }

# pipeline RUN README TOOL: src → configure → build-a ‖ build-b → test →
# package, driven by TOOL (make or ninja) inside each task; the two builds
# run at the same time. Leaves in $T/<task>.cc the compiler calls per task.
pipeline() {
	run=$1 readme=$2 tool=$3
	hostx "$run" src -- sh -c "$GEN_PROJECT" gen "$readme"
	assert_rc 0
	if [ "$tool" = make ]; then
		conf='make config.h'
		build_a='make liba/liba.a liba/test_a'
		build_b='make libb/libb.a libb/test_b'
		test_cmd='make check'
		pkg_cmd='make dist'
	else
		conf='sh ./configure'
		build_a='ninja -C liba'
		build_b='ninja -C libb'
		test_cmd='ninja -C liba && ninja -C libb && ./liba/test_a && ./libb/test_b'
		pkg_cmd='ninja -C liba && ninja -C libb && tar cf pkg.tar liba/liba.a libb/libb.a include README'
	fi
	hostx "$run" configure --parent src -- sh -c "$conf"
	assert_rc 0
	for l in a b; do
		eval "cmd=\$build_$l"
		"$WSBOX" exec --store "$STORE" --run "$run" --task build-$l --parent configure \
			-- sh -c "$cmd" >"$T/build-$l.out" 2>&1 </dev/null &
		eval "pid_$l=$!"
	done
	rc_a=0; wait "$pid_a" || rc_a=$?
	rc_b=0; wait "$pid_b" || rc_b=$?
	assert_eq "$rc_a/$rc_b" 0/0 "exit of build-a/build-b ($(cat "$T/build-a.out" "$T/build-b.out"))"
	grep -c '^CC-INVOKED' "$T/build-a.out" > "$T/build-a.cc"
	hostx "$run" test --parent build-a --parent build-b -- sh -c "$test_cmd"
	assert_rc 0
	assert_out_has "test_a ok"
	assert_out_has "test_b ok"
	cc_calls > "$T/test.cc"
	hostx "$run" package --parent test -- sh -c "$pkg_cmd"
	assert_rc 0
	cc_calls > "$T/package.cc"
}

# A one-line README change: configure runs again (and writes a new date),
# both builds run again and give the layers the first run published; test
# and package must find everything built and call no compiler.
rebuild_after_readme_change() {
	pipeline r1 "version 1" "$1"
	assert_eq "$(cat "$T/build-a.cc")" 2 "compiler calls of build-a in run 1"
	sleep 1
	pipeline r2 "version 2" "$1"
	assert_eq "$(cat "$T/build-a.cc")" 2 "compiler calls of build-a in run 2"
	assert_eq "$(cat "$T/test.cc")" 0 "compiler calls of test in run 2"
	assert_eq "$(cat "$T/package.cc")" 0 "compiler calls of package in run 2"
}

test_make_pipeline_second_run_does_not_recompile() {
	need_tools
	rebuild_after_readme_change make
}

test_ninja_pipeline_second_run_does_not_recompile() {
	need_tools
	rebuild_after_readme_change ninja
}

# What `restore` materializes follows the same rule: make in the restored
# tree finds everything up to date.
test_restored_tree_is_up_to_date_for_make() {
	need_tools
	pipeline r1 "version 1" make
	ws restore --store "$STORE" --run r1 --task package --with-self --to "$T/rs"
	assert_rc 0
	assert_eq "$(stat -c %Y "$T/rs/liba/liba.a")" $LAYER_MTIME "mtime of liba/liba.a"
	assert_eq "$(stat -c %Y "$T/rs/liba")" $LAYER_MTIME "mtime of liba/"
	assert_eq "$(stat -c %Y "$T/rs/pkg.tar")" $LAYER_MTIME "mtime of pkg.tar"
	RC=0
	make -q -C "$T/rs" all dist >"$T/out" 2>"$T/err" || RC=$?
	assert_rc 0
}

# Imported layers go through the same capture: the archive's times go.
test_imported_layer_carries_layer_mtime() {
	python3 - "$T/old.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as tf:
    d = tarfile.TarInfo("src"); d.type = tarfile.DIRTYPE; d.mode = 0o755; d.mtime = 946684800
    tf.addfile(d)
    f = tarfile.TarInfo("src/main.c"); f.size = 3; f.mode = 0o644; f.mtime = 946684800
    tf.addfile(f, io.BytesIO(b"x;\n"))
PY
	ws layers --store "$STORE" import "$T/old.tar"
	assert_rc 0
	hex=$(sed 's/^sha256://' "$T/out")
	for p in "" src src/main.c; do
		assert_eq "$(stat -c %Y "$STORE/layers/$hex/tree/$p")" $LAYER_MTIME "mtime of '$p'"
	done
}

# A flattened (merged) lower layer too: what the task sees keeps the times.
test_flattened_layer_carries_layer_mtime() {
	wsx --run r --task t1 -- sh -c 'mkdir d; echo 1 > d/one'
	assert_rc 0
	wsx --run r --task t2 --parent t1 -- sh -c 'echo 2 > d/two; ln -s one d/ln'
	assert_rc 0
	wsx --run r --task t3 --parent t2 -- sh -c 'echo 3 > three'
	assert_rc 0
	WSBOX_MAX_LOWERS=2 wsx --run r --task view --parent t3 --ro -- \
		sh -c 'find d three | sort | while read -r p; do echo "$p $(stat -c %Y "$p")"; done'
	assert_rc 0
	assert_out "d $LAYER_MTIME
d/ln $LAYER_MTIME
d/one $LAYER_MTIME
d/two $LAYER_MTIME
three $LAYER_MTIME"
	merged=$(cat "$STORE/cache/flatten/"*)
	tree="$STORE/layers/${merged#sha256:}/tree"
	assert_eq "$(find "$tree" -exec stat -c %Y {} + | sort -u)" $LAYER_MTIME "times in the merged layer"
}
