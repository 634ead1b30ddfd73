# tests/bench/sc_more.sh: scenarios 11-13 of `make bench` (issue 18 item 5;
# tests/bench/README.md "Registry, strategies, make"). Sourced by bench.sh
# (helpers: sample, row, median, verdict, say, wsx, layer_of). The issue
# sets no targets for these: their rows are informational.

# ------------------------------------------------- 11. registry vs skopeo
# Debian's docker-registry on 127.0.0.1 (as tests/integration/t_remote.sh
# starts it), one task's layer of REG_MIB MiB of random data in 1 MiB files.
#  wsbox_push  `wsbox push` of the task into a new repository (layer blob,
#              record, cache entry)
#  skopeo_push `skopeo copy oci:LAYOUT docker://...` of the same layer blob
#              (the layout is what wsbox pushed, copied out once, untimed)
#  wsbox_pull  `wsbox pull` into an empty store (verified, extracted,
#              published) ; skopeo_pull: `skopeo copy docker://... oci:DIR`
REG_PID=
reg_stop() {
	[ -n "$REG_PID" ] || return 0
	kill "$REG_PID" 2>/dev/null || true
	wait "$REG_PID" 2>/dev/null || true
	REG_PID=
}

reg_na() { # WHY
	SUMMARY+=("registry_push_vs_skopeo"$'\t'"n/a"$'\t'"$1"$'\t'"n/a"$'\t'"-"$'\t'"n/a")
	echo "registry,ratio_vs_skopeo,nan,x,,,n/a ($1)" >>"$OUT/results.csv.tmp"
}

sc_registry() {
	say "11/13 registry push/pull vs skopeo ($REG_MIB MiB, $R_REG rounds)"
	command -v docker-registry >/dev/null 2>&1 || { reg_na "docker-registry not installed"; return 0; }
	command -v skopeo >/dev/null 2>&1 || { reg_na "skopeo not installed"; return 0; }
	local port rd=$WORK/registry st=$WORK/st-reg url hex r i
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$rd/data"
	printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp:\n  addr: 127.0.0.1:%s\n' \
		"$rd/data" "$port" >"$rd/config.yml"
	docker-registry serve "$rd/config.yml" >"$rd/log" 2>&1 &
	REG_PID=$!
	trap 'reg_stop; [ -z "${SHM_ST:-}" ] || { chmod -R u+w "$SHM_ST"; rm -rf "$SHM_ST"; }' EXIT
	url=http://127.0.0.1:$port/bench
	for ((i = 0; i < 100; i++)); do
		python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
			"http://127.0.0.1:$port/v2/" 2>/dev/null && break
		sleep 0.1
	done
	[ "$i" -lt 100 ] || { reg_stop; reg_na "registry did not start: $(tail -n 1 "$rd/log")"; return 0; }
	wsx "$st" --run reg --task t -- sh -c "mkdir d && head -c $((REG_MIB * 1048576)) /dev/urandom | split -b 1048576 -a 3 - d/f"
	hex=$(layer_of "$st" reg t)
	"$W" push --store "$st" --run reg --task t --remote "$url/seed" >/dev/null 2>>"$ERRLOG" ||
		{ reg_stop; reg_na "wsbox push failed: $(tail -n 1 "$ERRLOG")"; return 0; }
	skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$port/bench/seed:layer-$hex" "oci:$WORK/oci:l" \
		>/dev/null 2>>"$ERRLOG" || { reg_stop; reg_na "skopeo copy failed: $(tail -n 1 "$ERRLOG")"; return 0; }
	reg_cmds() {
		case $1 in
		wsbox_push) "$W" push --store "$st" --run reg --task t --remote "$url/w$r" ;;
		skopeo_push) skopeo copy -q --dest-tls-verify=false "oci:$WORK/oci:l" "docker://127.0.0.1:$port/bench/s$r:l" ;;
		wsbox_pull) "$W" pull --store "$WORK/st-pull-$r" --run reg --task t --remote "$url/w$r" ;;
		skopeo_pull) skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$port/bench/s$r:l" "oci:$WORK/oci-pull-$r:l" ;;
		esac
	}
	for ((r = 0; r < R_REG; r++)); do
		# Every round against an empty registry: nothing to skip or mount.
		rm -rf "${rd:?}/data/docker"
		for c in wsbox_push skopeo_push wsbox_pull skopeo_pull; do sample "reg.$c" reg_cmds $c; done
		rm -rf "$WORK/st-pull-$r" "$WORK/oci-pull-$r"
	done
	reg_stop
	rm -rf "$rd" "$st" "$WORK/oci"
	for c in wsbox_push skopeo_push wsbox_pull skopeo_pull; do row "registry ${REG_MIB}MiB" "$c" "reg.$c" ms; done
	verdict "registry_push_${REG_MIB}MiB" "$(median reg.wsbox_push)" skopeo "$(median reg.skopeo_push)" - \
		"skopeo copy oci: -> docker:// $(median reg.skopeo_push) (same blob, no export or compression)"
	verdict "registry_pull_${REG_MIB}MiB" "$(median reg.wsbox_pull)" skopeo "$(median reg.skopeo_pull)" - \
		"skopeo copy docker:// -> oci: $(median reg.skopeo_pull) (wsbox also verifies, extracts, publishes)"
}

# --------------------------------------------------- 12. strategies
# tests/bench/strategies.sh as a scenario: overlay vs copy (vs
# fuse-overlayfs when /dev/fuse is usable) on a 20-layer, 2,000-file
# workspace; its medians become rows, copy's exec against overlay's.
sc_strategies() {
	say "12/13 workspace strategies (strategies.sh, $R_STRAT rounds)"
	if ! TMPDIR=$WORK bash "$TOOLS/strategies.sh" "$W" "$ROOTFS" "$R_STRAT" 20 >"$WORK/strat.out" 2>>"$ERRLOG"; then
		say "strategies.sh failed"
		tail -n 3 "$ERRLOG" >&2
		exit 1
	fi
	local s
	while read -r s a b c; do
		case $s in overlay | copy | fuse-overlayfs | cp-a) ;; *) continue ;; esac
		echo "strategies 20 layers,${s}_to_task,$a,ms,$R_STRAT,," >>"$OUT/results.csv.tmp"
		echo "strategies 20 layers,${s}_capture,$b,ms,$R_STRAT,," >>"$OUT/results.csv.tmp"
		echo "strategies 20 layers,${s}_exec,$c,ms,$R_STRAT,," >>"$OUT/results.csv.tmp"
		eval "STRAT_${s//-/_}='$a $b $c'"
	done <"$WORK/strat.out"
	read -r _ _ ov <<<"${STRAT_overlay:-- - nan}"
	read -r cpt _ cp <<<"${STRAT_copy:-- - nan}"
	read -r _ _ cpa <<<"${STRAT_cp_a:-- - nan}"
	verdict strategy_copy_vs_overlay "$cp" overlay "$ov" - \
		"exec: overlay $ov, copy $cp (to task $cpt), cp -a of the tree $cpa${STRAT_fuse_overlayfs:+, fuse-overlayfs ${STRAT_fuse_overlayfs##* }}"
}

# --------------------------------------------- 13. wsbox run vs make -j2
# A 200-task DAG, 10 levels of 20: task (k, j) needs (k-1, j) and
# (k-1, j+1 mod 20) and writes one file. wsbox: `wsbox run -j 2` of the
# pipeline file (every task sandboxed, its workspace assembled, captured,
# recorded); make: `make -j2` of the same DAG in one directory, no
# sandbox; make_bwrap: the same with every recipe under bwrap --unshare-all.
sc_make() {
	say "13/13 wsbox run vs make -j2, 200 tasks ($R_MAKE rounds)"
	local d=$DATA/mk k j p q r
	rm -rf "$d"
	mkdir -p "$d"
	{
		echo "tasks:"
		for ((k = 0; k < 10; k++)); do for ((j = 0; j < 20; j++)); do
			if [ $k -eq 0 ]; then
				echo "  t$k-$j: {run: echo $k-$j > o$k-$j}"
			else
				p=$((k - 1))-$j q=$((k - 1))-$(((j + 1) % 20))
				echo "  t$k-$j: {run: cat o$p o$q > o$k-$j, needs: [t$p, t$q]}"
			fi
		done; done
	} >"$d/wsbox.yml"
	mk_file() { # PREFIX: the Makefile, each recipe run through PREFIX
		echo "all: $(for ((j = 0; j < 20; j++)); do printf 'o9-%s ' $j; done)"
		for ((k = 0; k < 10; k++)); do for ((j = 0; j < 20; j++)); do
			if [ $k -eq 0 ]; then
				printf 'o%s-%s:\n\t%s sh -c "echo %s-%s > $@"\n' $k $j "$1" $k $j
			else
				p=$((k - 1))-$j q=$((k - 1))-$(((j + 1) % 20))
				printf 'o%s-%s: o%s o%s\n\t%s sh -c "cat o%s o%s > $@"\n' $k $j $p $q "$1" $p $q
			fi
		done; done
	}
	mk_file "" >"$d/Makefile.plain"
	mk_file "${BWRAP[*]} --bind \$(CURDIR) /tmp/ws --chdir /tmp/ws" >"$d/Makefile.bwrap"
	make_cmds() {
		case $1 in
		wsbox) "$W" run --store "$WORK/st-mk-$r" "$d/wsbox.yml" -j 2 ;;
		make) rm -rf "$d/m" && mkdir "$d/m" && make -s -C "$d/m" -f "$d/Makefile.plain" -j2 ;;
		make_bwrap) rm -rf "$d/m" && mkdir "$d/m" && make -s -C "$d/m" -f "$d/Makefile.bwrap" -j2 ;;
		esac
	}
	for ((r = 0; r < R_MAKE; r++)); do
		for c in wsbox make make_bwrap; do sample "mk.$c" make_cmds $c; done
		rm -rf "$WORK/st-mk-$r"
	done
	rm -rf "$d"
	for c in wsbox make make_bwrap; do row "200-task DAG -j2" "$c" "mk.$c" ms; done
	verdict run_vs_make_200 "$(median mk.wsbox)" make "$(median mk.make)" - \
		"make -j2 $(median mk.make), make -j2 with bwrap per recipe $(median mk.make_bwrap)"
	verdict run_vs_make_bwrap_200 "$(median mk.wsbox)" make_bwrap "$(median mk.make_bwrap)" - \
		"make -j2 with bwrap --unshare-all per recipe $(median mk.make_bwrap)"
}
