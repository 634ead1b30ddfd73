# tests/bench/sc_build.sh: scenarios 8 and 9 of `make bench` (issue 18 items
# 2 and 3; tests/bench/README.md "Build pipeline"). Sourced by bench.sh, whose
# helpers (sample, row, verdict, median, say) it uses.
#
# The project is the generated C project of tests/integration/t_pipeline.sh
# (GEN_PROJECT, taken from that file so both build the same thing): two
# libraries, a configure step, tests and a package. Its pipeline, in every
# engine: src, docs (sources) -> configure -> build-a || build-b -> test ->
# package (needs docs too). The README is its own source `docs`, so a docs
# change re-runs only what reads the docs (the package).
#
# Engines, all on one toolchain rootfs (toolchain_rootfs.py) except native:
#  wsbox        `wsbox run wsbox.yml -j 2` (import tasks for src and docs)
#  native       the same commands in one directory on the host
#  bwrap_tar    per task a fresh dir, every ancestor's tar archive extracted
#               in order, the command under bwrap --unshare-all, the files
#               it wrote archived (the Agola way)
#  podman       the same with `podman run --rm` (rootless, runc, native
#               overlay storage, --network none, the task dir as its volume)
#               on the rootfs imported with `podman import`

build_setup() {
	BDIR=$DATA/build
	TC=$WORK/toolchain
	rm -rf "$BDIR"
	mkdir -p "$BDIR/proj"
	[ -d "$TC" ] || python3 "$TOOLS/toolchain_rootfs.py" "$TC" 2>>"$ERRLOG" ||
		{ say "cannot build the toolchain rootfs"; exit 1; }
	# GEN_PROJECT from t_pipeline.sh (a here-doc assignment; eval'ed).
	eval "$(sed -n '/^GEN_PROJECT=\$(cat <<.EOF.$/,/^)$/p' "$TOOLS/t_pipeline.sh")"
	[ -n "${GEN_PROJECT:-}" ] || { say "no GEN_PROJECT in t_pipeline.sh"; exit 1; }
	(cd "$BDIR/proj" && sh -c "$GEN_PROJECT" gen "version 1") 2>>"$ERRLOG" ||
		{ say "project generator failed"; exit 1; }
	mkdir -p "$BDIR/src" "$BDIR/docs"
	mv "$BDIR/proj/README" "$BDIR/docs/README"
	cp -a "$BDIR/proj/." "$BDIR/src/"
	B_CONF='make config.h'
	B_A='make liba/liba.a liba/test_a'
	B_B='make libb/libb.a libb/test_b'
	B_TEST='make check'
	B_PKG='make dist'
	cat >"$BDIR/wsbox.yml" <<EOF
tasks:
  src: {import: src}
  docs: {import: docs}
  configure: {run: "$B_CONF", needs: [src], rootfs: $TC}
  build-a: {run: "$B_A", needs: [configure], rootfs: $TC}
  build-b: {run: "$B_B", needs: [configure], rootfs: $TC}
  test: {run: "$B_TEST", needs: [build-a, build-b], rootfs: $TC}
  package: {run: "$B_PKG", needs: [test, docs], rootfs: $TC}
EOF
	podman_setup
}

# Rootless podman for the bench user: its own storage and runtime dir in the
# work dir, native overlayfs (kernel >= 5.13), runc with cgroupfs (crun
# refuses a hybrid cgroup hierarchy: "cgroups in hybrid mode not
# supported"). PODMAN_ERR says why podman cannot run, when it cannot.
podman_setup() {
	PODMAN_ERR=
	PODMAN=()
	command -v podman >/dev/null 2>&1 || { PODMAN_ERR="podman not installed"; return 0; }
	export XDG_RUNTIME_DIR=$WORK/xdg
	mkdir -p "$XDG_RUNTIME_DIR" "$WORK/podman"
	chmod 700 "$XDG_RUNTIME_DIR"
	cat >"$WORK/podman/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/podman/storage"
runroot = "$XDG_RUNTIME_DIR/storage"
EOF
	export CONTAINERS_STORAGE_CONF=$WORK/podman/storage.conf
	local rt=()
	command -v runc >/dev/null 2>&1 && rt=(--runtime runc --cgroup-manager cgroupfs)
	PODMAN=(podman "${rt[@]}")
	local t0=${EPOCHREALTIME/./}
	if ! tar -C "$TC" --owner=0 --group=0 -cf "$WORK/podman/tc.tar" . 2>>"$ERRLOG" ||
		! "${PODMAN[@]}" import "$WORK/podman/tc.tar" wsbox-bench-tc >/dev/null 2>"$WORK/podman/err"; then
		PODMAN_ERR="podman import: $(tail -n 1 "$WORK/podman/err")"
		return 0
	fi
	rm -f "$WORK/podman/tc.tar"
	if ! "${PODMAN[@]}" run --rm --network none wsbox-bench-tc true >/dev/null 2>"$WORK/podman/err"; then
		PODMAN_ERR="podman run: $(tail -n 1 "$WORK/podman/err")"
		return 0
	fi
	say "  podman: image imported and checked in $(((${EPOCHREALTIME/./} - t0) / 1000)) ms"
}

podman_teardown() {
	[ ${#PODMAN[@]} -gt 0 ] || return 0
	"${PODMAN[@]}" rmi -f wsbox-bench-tc >/dev/null 2>&1 || true
	# Rootless overlay storage holds files of mapped ids: podman removes it.
	podman unshare rm -rf "$WORK/podman/storage" >/dev/null 2>&1 || true
	# Rootless podman leaves a pause process holding its user namespace;
	# it would outlive the bench (and its runtime dir, removed by run.sh).
	local pp=$XDG_RUNTIME_DIR/libpod/tmp/pause.pid
	[ ! -s "$pp" ] || kill "$(cat "$pp")" 2>/dev/null || true
}

# The tasks of the pipeline for the per-task engines: ancestors in
# workspace order (the archives extracted), command.
b_anc() {
	case $1 in
	configure) echo src ;;
	build-a | build-b) echo src configure ;;
	test) echo src configure build-a build-b ;;
	package) echo src configure build-a build-b test docs ;;
	esac
}
b_cmd() {
	case $1 in
	configure) echo "$B_CONF" ;; build-a) echo "$B_A" ;; build-b) echo "$B_B" ;;
	test) echo "$B_TEST" ;; package) echo "$B_PKG" ;;
	esac
}

# b_task ENGINE DIR TASK: one task the Agola way: extract, run, archive what
# it wrote (files newer than a stamp taken before it ran).
b_task() {
	local eng=$1 d=$2/$3 a
	mkdir "$d"
	for a in $(b_anc "$3"); do tar -C "$d" -xf "$2/$a.tar" || return 1; done
	touch "$2/$3.stamp"
	case $eng in
	bwrap_tar) bwrap --unshare-all --ro-bind "$TC" / --proc /proc --dev /dev --tmpfs /tmp \
		--bind "$d" /workspace --chdir /workspace sh -c "$(b_cmd "$3")" || return 1 ;;
	podman) "${PODMAN[@]}" run --rm --network none -v "$d:/workspace" -w /workspace \
		wsbox-bench-tc sh -c "$(b_cmd "$3")" || return 1 ;;
	esac
	(cd "$d" && find . -newer "$2/$3.stamp" ! -type d -print0 | tar --null -T - -cf "$2/$3.tar") || return 1
}

# b_pipeline ENGINE DIR: the whole pipeline with per-task dirs under DIR.
b_pipeline() {
	local eng=$1 w=$2 pa pb
	mkdir "$w"
	tar -C "$BDIR/src" -cf "$w/src.tar" . && tar -C "$BDIR/docs" -cf "$w/docs.tar" . || return 1
	b_task "$eng" "$w" configure || return 1
	b_task "$eng" "$w" build-a & pa=$!
	b_task "$eng" "$w" build-b & pb=$!
	wait $pa || return 1
	wait $pb || return 1
	b_task "$eng" "$w" test && b_task "$eng" "$w" package
}

# b_native DIR: the same commands in one directory, build-a || build-b.
b_native() (
	mkdir "$1" && cp -a "$BDIR/src/." "$BDIR/docs/." "$1/" && cd "$1" || exit 1
	sh -c "$B_CONF" || exit 1
	sh -c "$B_A" & pa=$!
	sh -c "$B_B" & pb=$!
	wait $pa && wait $pb && sh -c "$B_TEST" && sh -c "$B_PKG"
)

build_cmds() { # ENGINE ROUND
	case $1 in
	wsbox) "$W" run --store "$WORK/st-build-$2" --run first "$BDIR/wsbox.yml" -j 2 ;;
	wsbox_docs) "$W" run --store "$WORK/st-build-$2" --run second "$BDIR/wsbox.yml" -j 2 ;;
	native) b_native "$DATA/bn-$2" ;;
	native_docs) (cd "$DATA/bn-$2" && cp "$BDIR/docs/README" . && sh -c "$B_PKG") ;;
	bwrap_tar) b_pipeline bwrap_tar "$DATA/bb-$2" ;;
	podman) b_pipeline podman "$DATA/bp-$2" ;;
	short_wsbox) "$W" exec --store "$WORK/st-short" --rootfs "$TC" -- true "n${EPOCHREALTIME/./}" ;;
	short_bwrap) bwrap --unshare-all --ro-bind "$TC" / --proc /proc --dev /dev --tmpfs /tmp true ;;
	short_podman) "${PODMAN[@]}" run --rm --network none wsbox-bench-tc true ;;
	esac
}

sc_build() {
	say "8/13 build pipeline: wsbox run vs native vs bwrap+tar vs podman ($R_BUILD rounds)"
	build_setup
	local engines="wsbox native bwrap_tar" shorts="short_wsbox short_bwrap" r c
	if [ -z "$PODMAN_ERR" ]; then
		engines+=" podman"
		shorts+=" short_podman"
	else
		say "  podman cannot run: $PODMAN_ERR"
	fi
	for ((r = 0; r < R_BUILD; r++)); do
		echo "version 1" >"$BDIR/docs/README"
		for c in $engines; do sample "build.$c" build_cmds $c $r; done
		# Scenario 9: the one-line docs change, then the second run.
		echo "version 2" >"$BDIR/docs/README"
		for c in wsbox_docs native_docs; do sample "build.$c" build_cmds $c $r; done
		grep -q '"cache_hit": true' "$WORK/st-build-$r/runs/second/tasks/build-a" ||
			{ say "second run: build-a was not a cache hit"; exit 1; }
		podman_clean_dirs "$DATA/bp-$r"
		rm -rf "$DATA/bn-$r" "$DATA/bb-$r" "$DATA/bp-$r" "$WORK/st-build-$r"
	done
	for ((r = 0; r < R_SHORT; r++)); do
		for c in $shorts; do sample "build.$c" build_cmds $c; done
	done
	for c in $engines wsbox_docs native_docs $shorts; do row "build pipeline (7 tasks)" "$c" "build.$c" ms; done
	local peers="native $(median build.native), bwrap+tar $(median build.bwrap_tar), podman "
	if [ -z "$PODMAN_ERR" ]; then peers+="$(median build.podman)"; else peers+="n/a"; fi
	verdict build_vs_native "$(median build.wsbox)" native "$(median build.native)" "$T_BUILD_NATIVE" "$peers"
	verdict build_vs_bwrap_tar "$(median build.wsbox)" bwrap_tar "$(median build.bwrap_tar)" "$T_BUILD_BWRAP" "$peers"
	if [ -z "$PODMAN_ERR" ]; then
		verdict build_vs_podman "$(median build.wsbox)" podman "$(median build.podman)" - "$peers"
		verdict short_task_vs_podman "$(median build.short_wsbox)" podman "$(median build.short_podman)" "$T_SHORT_PODMAN" \
			"podman run --rm true $(median build.short_podman), bwrap $(median build.short_bwrap)"
	else
		SUMMARY+=("short_task_vs_podman"$'\t'"$(median build.short_wsbox)"$'\t'"podman cannot run here: $PODMAN_ERR"$'\t'"n/a"$'\t'"<= $T_SHORT_PODMAN"$'\t'"n/a")
		echo "short_task_vs_podman,ratio_vs_podman,nan,x,,$T_SHORT_PODMAN,n/a ($PODMAN_ERR)" >>"$OUT/results.csv.tmp"
	fi
	if want 9; then
		verdict rebuild_after_docs_change "$(median build.wsbox_docs)" first_run "$(median build.wsbox)" "$T_REBUILD" \
			"native: first $(median build.native), after the change $(median build.native_docs)"
	fi
	podman_teardown
}

# Files a rootless container wrote may belong to mapped ids: remove them
# from inside the user namespace when a plain rm cannot.
podman_clean_dirs() {
	[ -d "$1" ] || return 0
	rm -rf "$1" 2>/dev/null || podman unshare rm -rf "$1" 2>/dev/null || true
}
