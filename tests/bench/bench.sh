#!/bin/bash
# The comparisons behind `make bench` (see README.md here). Called by run.sh,
# as the unprivileged user that runs them:
#   bash bench.sh WSBOX ROOTFS WORKDIR
# Writes WORKDIR/out/{results.csv,ratios.dat,bench.svg,table.txt}.
#
# Timing: our own loop, not hyperfine. hyperfine runs each command's runs
# back to back, so a change in machine load between commands shows up as a
# difference between them. Here every round runs each command once, in turn
# (A B C A B C ...), timed with bash's $EPOCHREALTIME (a builtin: no fork in
# the measurement), and we report the median over rounds. The plain `true`
# row of the start-up scenario shows the floor of this harness (fork+exec).
set -euo pipefail

W=$1
ROOTFS=$2
WORK=$3
OUT=$WORK/out
RAW=$WORK/raw
DATA=$WORK/data
ST=$WORK/store
ERRLOG=$WORK/errors.log
mkdir -p "$OUT" "$RAW" "$DATA"
: >"$ERRLOG"
: >"$OUT/results.csv.tmp"

QUICK=${BENCH_QUICK:-}
if [ -n "$QUICK" ]; then
	R_START=10 R_RESTORE=3 R_CAPTURE=3 R_MEM=3
	CHAINS="1 20"
	SIZES="10"
else
	R_START=30 R_RESTORE=5 R_CAPTURE=3 R_MEM=5
	CHAINS="1 20 100"
	SIZES="10 200"
fi

# Targets: wsbox / reference peer must be at most this (issue 6; override
# with the environment to try other budgets).
T_START=${BENCH_TARGET_START:-3.0}     # start+exit vs bwrap --unshare-all
T_RESTORE=${BENCH_TARGET_RESTORE:-1.0} # restore vs tar extraction
T_CAPTURE=${BENCH_TARGET_CAPTURE:-2.0} # capture cost vs tar -c | sha256sum
T_MEM=${BENCH_TARGET_MEM:-2.0}         # peak RSS vs bwrap

TRUE_BIN=$(type -P true)
BWRAP=(bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev --tmpfs /tmp)

say() { printf '%s\n' "bench: $*" >&2; }

# t_run CMD...: run CMD quietly, set T to its wall time in µs; abort on
# failure (a failing command would time its error path).
t_run() {
	local s e
	s=${EPOCHREALTIME/./}
	if ! "$@" >/dev/null 2>>"$ERRLOG" </dev/null; then
		say "failed: $*"
		tail -n 5 "$ERRLOG" >&2
		exit 1
	fi
	e=${EPOCHREALTIME/./}
	T=$((e - s))
}

# sample KEY CMD...: time once, append to RAW/KEY.
sample() {
	local key=$1
	shift
	t_run "$@"
	echo "$T" >>"$RAW/$key"
}

# median of RAW/KEY, in ms (or the raw unit with a divisor).
median() {
	local div=${2:-1000}
	sort -n "$RAW/$1" | awk -v d="$div" '{a[NR]=$1}
		END { if (NR == 0) { print "nan"; exit }
		      m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
		      printf "%.2f", m / d }'
}

count() { wc -l <"$RAW/$1" | tr -d ' '; }

# row SCENARIO VARIANT KEY UNIT [DIV]: one results.csv line.
row() {
	echo "$1,$2,$(median "$3" "${5:-1000}"),$4,$(count "$3")" >>"$OUT/results.csv.tmp"
}

# verdict SCENARIO WSBOX REF_NAME REF TARGET PEERS_TEXT
SUMMARY=()
verdict() {
	local sc=$1 w=$2 refn=$3 ref=$4 tgt=$5 peers=$6 ratio res
	ratio=$(awk -v a="$w" -v b="$ref" 'BEGIN { if (b <= 0) print "nan"; else printf "%.2f", a / b }')
	res=$(awk -v r="$ratio" -v t="$tgt" 'BEGIN { print (r != "nan" && r <= t) ? "pass" : "MISS" }')
	SUMMARY+=("$sc"$'\t'"$w"$'\t'"$peers"$'\t'"$ratio (vs $refn)"$'\t'"<= $tgt"$'\t'"$res")
	echo "$sc $ratio $tgt" >>"$OUT/ratios.dat"
	echo "$sc,ratio_vs_$refn,$ratio,x,,$tgt,$res" >>"$OUT/results.csv.tmp"
}
: >"$OUT/ratios.dat"

# Check the sandbox works for this user before spending minutes.
"$W" exec --store "$ST" -- true 2>>"$ERRLOG" || {
	say "wsbox exec failed as $(id -un):"
	tail -n 5 "$ERRLOG" >&2
	exit 1
}
"${BWRAP[@]}" true 2>>"$ERRLOG" || {
	say "bwrap --unshare-all failed as $(id -un)"
	exit 1
}

# ---------------------------------------------------------------- 1. start
say "1/4 start+exit of true ($R_START rounds)"
start_cmds() {
	case $1 in
	wsbox) "$W" exec --store "$ST" -- true ;;
	bwrap) "${BWRAP[@]}" true ;;
	unshare) unshare -Urmpf true ;;
	true) "$TRUE_BIN" ;;
	esac
}
for i in 1 2; do for c in wsbox bwrap unshare true; do t_run start_cmds $c; done; done
for ((i = 0; i < R_START; i++)); do
	for c in wsbox bwrap unshare true; do sample "start.$c" start_cmds $c; done
done
for c in wsbox bwrap unshare true; do row start "$c" "start.$c" ms; done
verdict start "$(median start.wsbox)" bwrap "$(median start.bwrap)" "$T_START" \
	"bwrap $(median start.bwrap), unshare $(median start.unshare), true $(median start.true)"

# -------------------------------------------------------------- 2. restore
# A chain of N tasks, each writing SIZE/N bytes as many files; then the time
# to a running task on top of the chain versus rebuilding the same tree from
# N tar archives (Agola) or copying the merged tree.
layer_of() { # RUN TASK -> hex digest of the task's own layer (the record
	# also lists its ancestors' layers; keys are sorted, so "ancestors"
	# come first and the task's own "layer" is the last match)
	sed -n 's/.*"layer": "sha256:\([0-9a-f]*\)".*/\1/p' "$ST/runs/$1/tasks/$2" | tail -n 1
}
tar_restore() { # DIR N
	mkdir "$DATA/x"
	for ((k = 1; k <= $2; k++)); do tar -C "$DATA/x" -xf "$1/$k.tar"; done
}
say "2/4 workspace restore (chains: $CHAINS; sizes MiB: $SIZES; $R_RESTORE rounds)"
for S in $SIZES; do
	if [ "$S" -le 10 ]; then fsz=4096; else fsz=16384; fi
	for N in $CHAINS; do
		run="restore-$N-$S"
		dir=$DATA/$run
		share=$((S * 1048576 / N))
		mkdir -p "$dir"
		for ((i = 1; i <= N; i++)); do
			par=()
			[ "$i" -gt 1 ] && par=(--parent "t$((i - 1))")
			"$W" exec --store "$ST" --run "$run" --task "t$i" "${par[@]}" -- \
				sh -c "mkdir d$i && head -c $share /dev/urandom | split -b $fsz -a 5 - d$i/f" \
				>/dev/null 2>>"$ERRLOG" || { say "chain $run t$i failed"; tail -n 5 "$ERRLOG" >&2; exit 1; }
			tar -C "$ST/layers/$(layer_of "$run" "t$i")/tree" -cf "$dir/$i.tar" .
		done
		mkdir "$dir/merged"
		for ((i = 1; i <= N; i++)); do tar -C "$dir/merged" -xf "$dir/$i.tar"; done
		key="restore.n$N.${S}m"
		restore_cmds() {
			case $1 in
			wsbox) "$W" exec --store "$ST" --run "$run" --task probe --parent "t$N" --ro -- true ;;
			tar) tar_restore "$dir" "$N" ;;
			cp) cp -a "$dir/merged" "$DATA/x" ;;
			esac
		}
		t_run restore_cmds wsbox
		for ((r = 0; r < R_RESTORE; r++)); do
			for c in wsbox tar cp; do
				sample "$key.$c" restore_cmds $c
				rm -rf "$DATA/x"
			done
		done
		for c in wsbox tar cp; do row "restore N=$N ${S}MiB" "$c" "$key.$c" ms; done
		verdict "restore_N${N}_${S}MiB" "$(median "$key.wsbox")" tar "$(median "$key.tar")" \
			"$T_RESTORE" "tar x$N $(median "$key.tar"), cp -a $(median "$key.cp")"
		rm -rf "$dir"
	done
done

# -------------------------------------------------------------- 3. capture
# A task writes SIZE MiB: many 4 KiB files and a few big ones. Capture cost =
# wsbox exec writing them into /workspace (overlay upper on the store's disk,
# then captured and published) minus the same shell command writing the same
# files straight onto the same disk without a sandbox (write_host). That
# difference includes one sandbox start (see scenario 1). wsbox_nocapture
# (same exec writing to the sandbox's tmpfs /tmp) is shown for reference.
# Peers hash the same bytes: sha256sum of every file, tar -c | sha256sum.
say "3/4 capture (sizes MiB: $SIZES; $R_CAPTURE rounds)"
for S in $SIZES; do
	if [ "$S" -le 10 ]; then small=$((4 * 1048576)) nbig=2; else small=$((10 * 1048576)) nbig=4; fi
	big=$(((S * 1048576 - small) / nbig))
	gen() { # DIR
		echo "mkdir -p $1 && head -c $small /dev/urandom | split -b 4096 -a 5 - $1/s &&
		      for b in \$(seq $nbig); do head -c $big /dev/urandom > $1/b\$b; done"
	}
	key="capture.${S}m"
	cap_cmds() {
		case $1 in
		wsbox) "$W" exec --store "$ST" --run capture --task "c$S" -- sh -c "$(gen data)" ;;
		wsbox_nocapture) "$W" exec --store "$ST" --run capture --task "n$S" -- sh -c "$(gen /tmp/data)" ;;
		write_host) sh -c "$(gen "$DATA/w")" ;;
		sha256sum) find "$tree" -type f -print0 | xargs -0 sha256sum ;;
		tar_sha256) tar -C "$tree" -cf - . | sha256sum ;;
		esac
	}
	t_run cap_cmds wsbox
	tree=$ST/layers/$(layer_of capture "c$S")/tree
	for ((r = 0; r < R_CAPTURE; r++)); do
		for c in wsbox write_host wsbox_nocapture sha256sum tar_sha256; do
			sample "$key.$c" cap_cmds $c
			rm -rf "$DATA/w"
		done
	done
	for c in wsbox write_host wsbox_nocapture sha256sum tar_sha256; do row "capture ${S}MiB" "$c" "$key.$c" ms; done
	cost=$(awk -v a="$(median "$key.wsbox")" -v b="$(median "$key.write_host")" 'BEGIN { printf "%.2f", a - b }')
	echo "capture ${S}MiB,wsbox_capture_cost,$cost,ms,," >>"$OUT/results.csv.tmp"
	verdict "capture_${S}MiB" "$cost" tar_sha256 "$(median "$key.tar_sha256")" "$T_CAPTURE" \
		"exec $(median "$key.wsbox") - write_host $(median "$key.write_host"); sha256sum $(median "$key.sha256sum"), tar|sha256sum $(median "$key.tar_sha256")"
done

# --------------------------------------------------------------- 4. memory
say "4/4 peak memory ($R_MEM rounds)"
maxrss() { # CMD... -> KiB, from /usr/bin/time -v
	/usr/bin/time -v "$@" 2>&1 >/dev/null </dev/null |
		sed -n 's/.*Maximum resident set size (kbytes): *//p'
}
for ((r = 0; r < R_MEM; r++)); do
	maxrss "$W" exec --store "$ST" -- true >>"$RAW/mem.wsbox"
	maxrss "${BWRAP[@]}" true >>"$RAW/mem.bwrap"
done
row memory wsbox mem.wsbox KiB 1
row memory bwrap mem.bwrap KiB 1
verdict memory "$(median mem.wsbox 1)" bwrap "$(median mem.bwrap 1)" "$T_MEM" \
	"bwrap $(median mem.bwrap 1) KiB"

# ---------------------------------------------------------------- report
{
	echo "scenario,variant,median,unit,n,target,result"
	cat "$OUT/results.csv.tmp"
} >"$OUT/results.csv"
rm -f "$OUT/results.csv.tmp"

{
	echo "wsbox bench ($(date -u +%FT%TZ), $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), user $(id -un)${QUICK:+, BENCH_QUICK})"
	echo "times are medians in ms (memory: KiB); ratio = wsbox / reference peer"
	printf '%-22s %10s  %-70s %-22s %-7s %s\n' scenario wsbox "peers" ratio target result
	for l in "${SUMMARY[@]}"; do
		IFS=$'\t' read -r a b c d e f <<<"$l"
		printf '%-22s %10s  %-70s %-22s %-7s %s\n' "$a" "$b" "$c" "$d" "$e" "$f"
	done
} | tee "$OUT/table.txt"

if command -v gnuplot >/dev/null 2>&1; then
	gnuplot -c "$(dirname "$0")/plot.gp" "$OUT/ratios.dat" "$OUT/bench.svg" 2>>"$ERRLOG" ||
		say "gnuplot failed (see $ERRLOG)"
fi
