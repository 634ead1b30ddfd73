#!/bin/bash
# tests/bench/strategies.sh: the workspace strategies side by side (README
# "Strategies"). A workspace of LAYERS layers (default 20) of 100 files of
# 10 KiB each (20 layers: 2,000 files, ~20 MiB), then ROUNDS rounds of, per
# strategy in turn, a task that writes 100 files of 10 KiB (1 MiB): time to
# the running task (the "task forked" phase of WSBOX_TRACE_PHASES), capture
# (the "capture" phase less "sandbox") and the whole exec; medians. `cp -a`
# of the merged tree is the reference for copy's start-up.
# Usage: bash strategies.sh WSBOX ROOTFS [ROUNDS] [LAYERS]
# Run as the user wsbox runs as; the store lives in a temp dir, removed.
set -euo pipefail
W=$1 ROOTFS=$2 R=${3:-7} L=${4:-20}
D=$(mktemp -d "${TMPDIR:-/tmp}/wsbox-strat-bench.XXXXXX")
chmod 755 "$D" # root mode: the task's mapped ids reach the store
trap 'chmod -R u+rwx "$D" 2>/dev/null; rm -rf "$D"' EXIT
ST=$D/store
ex() { "$W" exec --store "$ST" --rootfs "$ROOTFS" --run b "$@" </dev/null; }
parent=
for ((i = 0; i < L; i++)); do
	ex --task "l$i" ${parent:+--parent "$parent"} -- sh -c \
		"mkdir l$i; for f in \$(seq 100); do head -c 10240 /dev/urandom > l$i/\$f; done" >/dev/null
	parent=l$i
done
strategies="overlay copy"
command -v fuse-overlayfs >/dev/null && [ "$(stat -c %a /dev/fuse)" = 666 ] &&
	strategies="overlay fuse-overlayfs copy"
"$W" restore --store "$ST" --run b --task "$parent" --with-self --to "$D/merged" >/dev/null
for ((r = 0; r < R; r++)); do
	for s in $strategies; do
		t0=$EPOCHREALTIME
		WSBOX_TRACE_PHASES=1 ex --task "t$s$r" --parent "$parent" --no-cache \
			--strategy "$s" -- sh -c \
			'mkdir out; for f in $(seq 100); do head -c 10240 /dev/urandom > out/$f; done' \
			2>"$D/trace" >/dev/null
		t1=$EPOCHREALTIME
		awk -v s="$s" -v wall="$(echo "$t1 - $t0" | bc)" '
			/phase task forked/ { fork = $(NF - 1) }
			/phase sandbox / { sb = $(NF - 1) }
			/phase capture / { cap = $(NF - 1) }
			END { printf "%s %.1f %.1f %.1f\n", s, fork, cap - sb, wall * 1000 }' \
			"$D/trace" >>"$D/samples"
	done
	if [ -d "$D/merged" ]; then
		t0=$EPOCHREALTIME; cp -a "$D/merged" "$D/cp.$r"; t1=$EPOCHREALTIME
		echo "cp-a - - $(echo "($t1 - $t0) * 1000" | bc)" >>"$D/samples"
		rm -rf "$D/cp.$r"
	fi
done
printf '%-15s %12s %12s %12s   (ms, median of %d; %d layers, %d files)\n' \
	strategy to-task capture exec "$R" "$L" $((L * 100))
for s in $strategies cp-a; do
	for col in 2 3 4; do
		awk -v s="$s" -v c="$col" '$1 == s { print $c }' "$D/samples" | sort -g |
			awk '{ v[NR] = $1 } END { m = NR ? v[int((NR + 1) / 2)] : "-"; printf (m ~ /^[0-9.]+$/ ? "%.1f " : "%s "), m }'
	done | awk -v s="$s" '{ printf "%-15s %12s %12s %12s\n", s, $1, $2, $3 }'
done
