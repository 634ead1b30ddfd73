# tests/bench/sc_scaling.sh: scenario 10 of `make bench` (issue 18 item 4;
# tests/bench/README.md "Scaling curves"). Sourced by bench.sh (helpers:
# sample, median, verdict, say, wsx, layer_of). Each curve is a list of
# (x, median time) in out/scaling_<curve>.dat, its growth fitted by least
# squares on log-log (the exponent k of t ~ x^k, and the nearest class), and
# charted by plot_scaling.gp into out/scaling.svg.

# fit CURVE: "k=<exponent> O(...)" from out/scaling_CURVE.dat. A fixed cost
# (process start) pulls k towards 0, so k is the growth of what a user
# waits for, not of the inner loop alone.
fit() {
	awk '$2 > 0 { x = log($1); y = log($2); n++; sx += x; sy += y; sxx += x * x; sxy += x * y }
	END {
		if (n < 2) { print "k=nan"; exit }
		k = (n * sxy - sx * sy) / (n * sxx - sx * sx)
		if (k < 0.1) c = "O(1)"
		else if (k < 0.75) c = sprintf("O(n^%.1f)", k)
		else if (k < 1.15) c = "O(n)"
		else if (k < 1.5) c = "O(n log n)"
		else c = "O(n^2)"
		printf "k=%.2f %s\n", k, c
	}' "$OUT/scaling_$1.dat"
}

# curve_point CURVE X KEY: append X and KEY's median to the curve's data.
curve_point() { echo "$2 $(median "$3")" >>"$OUT/scaling_$1.dat"; }

curve_verdict() { # CURVE TEXT: an informational row with the fit
	local f pts
	f=$(fit "$1")
	FITS+=("$1: $f")
	pts=$(awk '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $1, $2 }' "$OUT/scaling_$1.dat")
	SUMMARY+=("scaling_$1"$'\t'"$(tail -n 1 "$OUT/scaling_$1.dat" | cut -d' ' -f2)"$'\t'"x:ms $pts"$'\t'"$f"$'\t'"-"$'\t'"info")
	echo "scaling_$1,fit,${f#k=},x,,,info ($2)" >>"$OUT/results.csv.tmp"
}

sc_scaling() {
	say "10/13 scaling curves"
	FITS=()
	local st=$WORK/st-scale n i key last
	rm -f "$OUT"/scaling_*.dat
	# -- exec time vs ancestor layers: one chain grown task by task, timed
	# at each checkpoint (`exec --parent tN -- true`, captured and recorded).
	# Past 500 layers the first exec flattens (overlayfs takes 500 lowers).
	say "  exec vs layers: $SCALE_LAYERS"
	rm -rf "$st"
	i=0
	for n in $SCALE_LAYERS; do
		for (( ; i < n; i++)); do
			par=()
			[ "$i" -eq 0 ] || par=(--parent "t$i")
			wsx "$st" --run c --task "t$((i + 1))" "${par[@]}" -- sh -c "echo $i > f$i"
		done
		key=scale.layers.$n
		sample "$key.first" "$W" exec --store "$st" --run c --task "p$n" --parent "t$n" -- true "n${EPOCHREALTIME/./}"
		for ((r = 0; r < R_SCALE; r++)); do
			sample "$key" "$W" exec --store "$st" --run c --task "p$n" --parent "t$n" -- true "n${EPOCHREALTIME/./}"
		done
		curve_point layers "$n" "$key"
		row "exec on $n layers" wsbox "$key" ms
		row "exec on $n layers" wsbox_first "$key.first" ms
		echo "$n $(median "$key.first")" >>"$OUT/scaling_layers_first.dat"
	done
	FITS+=("layers: $(fit layers)")
	local l1 l500
	local lo hi
	lo=$(head -n 1 "$OUT/scaling_layers.dat" | cut -d' ' -f1)
	hi=$(awk '$1 <= 500 { n = $1 } END { print n }' "$OUT/scaling_layers.dat")
	l1=$(median "scale.layers.$lo")
	l500=$(median "scale.layers.$hi")
	verdict "exec_${hi}_vs_${lo}_layers" "$l500" "${lo}_layer" "$l1" "$T_LAYERS" \
		"exec on $lo: $l1; fit $(fit layers); largest N $(tail -n 1 "$OUT/scaling_layers.dat" | cut -d' ' -f1): $(tail -n 1 "$OUT/scaling_layers.dat" | cut -d' ' -f2), its first exec $(tail -n 1 "$OUT/scaling_layers_first.dat" | cut -d' ' -f2)"
	rm -rf "$st"
	# -- restore and capture vs bytes (16 files) and vs files (64 bytes
	# each): one task writes them (untimed); restore = `exec --parent t --ro
	# -- true` (to a running task, nothing captured); capture = capture_bench
	# (walk, SHA-256, manifest) over the published layer's tree.
	say "  restore/capture vs bytes: $SCALE_BYTES MiB; vs files: $SCALE_FILES"
	local free_mib
	for n in $SCALE_BYTES; do
		# The layer and the task's upper dir hold it at once: want 3x free.
		free_mib=$(df -Pm "$WORK" | awk 'NR == 2 { print $4 }')
		if [ "$free_mib" -lt $((n * 3)) ]; then
			say "  skipping $n MiB: $free_mib MiB free in $WORK"
			continue
		fi
		scale_layer "$st" "b$n" "head -c $((n * 1048576)) /dev/urandom | split -b $((n * 65536)) -a 2 - d/f"
		scale_time bytes "$st" "b$n" "$n"
	done
	for n in $SCALE_FILES; do
		scale_layer "$st" "f$n" "head -c $((n * 64)) /dev/urandom | split -b 64 -a 5 - d/f"
		scale_time files "$st" "f$n" "$n"
	done
	rm -rf "$st"
	for c in restore_bytes capture_bytes restore_files capture_files; do
		curve_verdict "$c" "x = $(head -n 1 "$OUT/scaling_$c.dat" | cut -d' ' -f1)..$(tail -n 1 "$OUT/scaling_$c.dat" | cut -d' ' -f1)"
	done
	# -- DAG assembly vs tasks, fan-in 100 (dag_bench as in scenario 5). Its
	# store is on tmpfs when there is one: setting up 10,000 records costs
	# two fsyncs each (minutes on a shared disk); the timed path only reads.
	say "  DAG assembly vs tasks: $SCALE_DAG"
	local dst
	dst=$(mktemp -d /dev/shm/wsbox-bench-dag.XXXXXX 2>/dev/null) || dst=$(mktemp -d "$WORK/dag.XXXXXX")
	for n in $SCALE_DAG; do
		"$TOOLS/dag_bench" "$dst/s$n" "$n" 100 "$R_DAG" 10 2>>"$ERRLOG" >"$WORK/dag.out" ||
			{ rm -rf "$dst"; say "dag_bench $n failed"; tail -n 3 "$ERRLOG" >&2; exit 1; }
		awk '$1 == "dag_bench" { print $2 * 1000 }' "$WORK/dag.out" >"$RAW/scale.dag.$n"
		curve_point dag "$n" "scale.dag.$n"
		rm -rf "$dst/s$n"
	done
	rm -rf "$dst"
	last=$(tail -n 1 "$OUT/scaling_dag.dat" | cut -d' ' -f1)
	verdict "dag_${last}_fanin100" "$(median "scale.dag.$last")" budget_ms "$T_DAG10K_MS" 1.0 \
		"fit $(fit dag); budget $T_DAG10K_MS ms (store on tmpfs)"
	FITS+=("dag: $(fit dag)")
	if command -v gnuplot >/dev/null 2>&1; then
		gnuplot -c "$TOOLS/plot_scaling.gp" "$OUT" "$OUT/scaling.svg" "${FITS[@]}" 2>>"$ERRLOG" ||
			say "gnuplot (scaling) failed (see $ERRLOG)"
	fi
}

# scale_layer STORE TASK CMD: one task writing d/ with CMD (untimed).
scale_layer() {
	wsx "$1" --run s --task "$2" -- sh -c "mkdir d && $3"
}

# scale_time CURVE STORE TASK X: restore and capture times of TASK's layer.
scale_time() {
	local tree key=scale.$1.$4 r
	# capture_bench captures in place (it normalises modes as capture
	# does), so it works on a copy: a published layer whose inodes change
	# is refused by the next exec that stands on it (docs/capture.md
	# "Integrity after publication").
	tree=$WORK/capture-copy
	rm -rf "$tree"
	cp -a --reflink=auto "$2/layers/$(layer_of "$2" s "$3")/tree" "$tree"
	for ((r = 0; r < R_SCALE; r++)); do
		sample "$key.restore" "$W" exec --store "$2" --run s --task "probe$3" --parent "$3" --ro -- true "n${EPOCHREALTIME/./}"
		sample "$key.capture" "$TOOLS/capture_bench" "$tree"
	done
	rm -rf "$tree"
	curve_point "restore_$1" "$4" "$key.restore"
	curve_point "capture_$1" "$4" "$key.capture"
}
