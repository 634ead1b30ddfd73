# Deep ancestry (docs/model.md "Flattening"): beyond $WSBOX_MAX_LOWERS
# lowers, the oldest layers are merged into one layer cached by digest; the
# workspace a task sees must not change, and a second exec must reuse the
# merged layer.

n_layers() { ls "$STORE/layers" 2>/dev/null | wc -l; }
n_cached() { ls "$STORE/cache/flatten" 2>/dev/null | wc -l; }

# Names, types, modes, owners, link targets and contents of the workspace.
VIEW='find . | sort; find . -type d | sort | sed "s/^/d /";
find . -type l | sort | while read -r l; do echo "l $l $(readlink "$l")"; done;
find . ! -name . -exec stat -c "%a %u:%g %n" {} \; | sort;
find . -type f | sort | while read -r f; do echo "== $f"; cat "$f"; done'

# t1..t6, each on the previous one: writes, overwrites, appends, deletes
# files and dirs, replaces a dir (opaque), turns a file into a dir and a
# dir into a symlink, and changes modes, so every overlay rule is crossed
# by the merge.
make_chain() {
	wsx --run r --task t1 -- sh -c 'mkdir -p a/b c d keep; echo 1 > a/b/f;
		echo 1 > top; echo 1 > c/x; echo 1 > d/y; echo 1 > gone;
		echo 1 > keep/k; mkdir m; echo 1 > m/f; chmod 0500 m;
		chmod 0750 a; chmod 0600 top'
	assert_rc 0
	wsx --run r --task t2 --parent t1 -- sh -c 'echo 2 > top; rm gone;
		rm -rf c; mkdir c; echo 2 > c/new; ln -s a/b/f ln; echo 2 >> a/b/f'
	assert_rc 0
	wsx --run r --task t3 --parent t2 -- sh -c 'rm -rf d; echo 3 > d;
		mkdir -p gone/sub; echo 3 > gone/sub/z; chmod 0711 a/b'
	assert_rc 0
	wsx --run r --task t4 --parent t3 -- sh -c 'rm ln; mkdir ln;
		echo 4 > ln/in; rm -rf a/b; mkdir a/b; echo 4 > a/b/g; chmod 0705 a'
	assert_rc 0
	wsx --run r --task t5 --parent t4 -- sh -c 'rm -rf gone; ln -s keep gone;
		echo 5 > top; chmod 0640 top; echo 5 > "sp ace"'
	assert_rc 0
	wsx --run r --task t6 --parent t5 -- sh -c 'rm c/new; echo 6 > c/six;
		rm "sp ace"; echo 6 >> keep/k'
	assert_rc 0
}

# view NAME [MAX]: the workspace listing of a read-only task on t6, with
# WSBOX_MAX_LOWERS=MAX when given; the listing is left in $T/view.NAME.
view() {
	if [ -n "${2:-}" ]; then export WSBOX_MAX_LOWERS="$2"; fi
	wsx --run r --task "$1" --parent t6 --ro -- sh -c "$VIEW"
	unset WSBOX_MAX_LOWERS
	assert_rc 0
	cp "$T/out" "$T/view.$1"
}

test_flatten_view_unchanged_and_cached() {
	make_chain
	view full
	assert_out_has "== ./keep/k"
	assert_out_has "l ./gone keep"
	assert_eq "$(n_cached)" 0 "cache entries without flattening"
	before=$(n_layers)

	view flat3 3
	assert_eq "$(cat "$T/view.flat3")" "$(cat "$T/view.full")" \
		"view with WSBOX_MAX_LOWERS=3"
	assert_eq "$(n_cached)" 1 "cache entries"
	assert_eq "$(n_layers)" $((before + 1)) "layers after merging"
	merged=$(cat "$STORE/cache/flatten/"*)
	assert_file "$STORE/layers/${merged#sha256:}/tree"
	# A lower layer: no whiteouts, no opaque dirs.
	ws layers --store "$STORE" show "$merged"
	assert_rc 0
	if grep -q "whiteout\|opaque" "$T/out"; then
		fail "merged layer has whiteouts or opaque dirs: $(cat "$T/out")"
	fi

	# Same ancestors again: the cached merged layer, nothing rebuilt.
	view again3 3
	assert_eq "$(cat "$T/view.again3")" "$(cat "$T/view.full")" \
		"second view with WSBOX_MAX_LOWERS=3"
	assert_eq "$(n_cached)" 1 "cache entries after reuse"
	assert_eq "$(n_layers)" $((before + 1)) "layers after reuse"
	assert_eq "$(cat "$STORE/cache/flatten/"*)" "$merged" "cached digest"
}

# The smallest stack (one layer kept, five merged) and a writing task on a
# flattened workspace: its layer is its own diff and its child sees it.
test_flatten_max2_and_child() {
	make_chain
	view full
	view flat2 2
	assert_eq "$(cat "$T/view.flat2")" "$(cat "$T/view.full")" \
		"view with WSBOX_MAX_LOWERS=2"
	export WSBOX_MAX_LOWERS=2
	wsx --run r --task t7 --parent t6 -- sh -c 'echo 7 > top; rm -rf a'
	unset WSBOX_MAX_LOWERS
	assert_rc 0
	wsx --run r --task t8 --parent t7 -- sh -c 'cat top keep/k; ls a'
	assert_rc 1
	assert_out "7
1
6"
	# A merged layer lost with its cache entry left behind is rebuilt.
	merged=$(cat "$STORE/cache/flatten/"*)
	chmod -R u+w "$STORE/layers/${merged#sha256:}" &&
		rm -rf "$STORE/layers/${merged#sha256:}" || fail "rm merged layer"
	view rebuilt 2
	assert_eq "$(cat "$T/view.rebuilt")" "$(cat "$T/view.full")" \
		"view after rebuilding"
	assert_file "$STORE/layers/${merged#sha256:}/tree"
}

test_flatten_bad_max_refused() {
	make_chain
	for bad in 1 0 x 3x -3 501; do
		export WSBOX_MAX_LOWERS=$bad
		wsx --run r --task v --parent t6 --ro -- true
		unset WSBOX_MAX_LOWERS
		assert_rc 125
		assert_err_has "WSBOX_MAX_LOWERS"
	done
}
