#!/bin/bash
# tests/bench/phases.sh: by-hand profiling aid beside bench.sh. Runs
# `wsbox exec -- true` ROUNDS times with WSBOX_TRACE_PHASES=1 (each with a
# nonce, so none is a cache hit) and prints, per phase, the median, p90 and
# maximum of the time spent since the previous phase: where an exec's time
# goes, and which phases swing with the disk.
# Usage: bash phases.sh WSBOX STORE [ROUNDS]   (run it as the bench user)
set -euo pipefail
W=$1 ST=$2 R=${3:-30}
for ((i = 0; i < R; i++)); do
	WSBOX_TRACE_PHASES=1 "$W" exec --store "$ST" -- true "n${EPOCHREALTIME/./}" 2>&1 >/dev/null </dev/null |
		sed -n 's/^wsbox\[[0-9]*\]: phase \(.*\) ms$/\1/p' |
		awk '{ t = $NF; sub(/ +[^ ]+$/, ""); print $0 "|" t }'
	echo "|end"
done | awk -F '|' '
	# per phase: first-seen position, name, ms since the previous phase
	$2 == "end" { prev = 0; next }
	{
		if (!($1 in pos)) pos[$1] = ++n
		printf "%d|%s|%.3f\n", pos[$1], $1, $2 - prev; prev = $2
	}' | sort -t '|' -k1,1n -k3,3g | awk -F '|' -v r="$R" '
	function flush() {
		if (!m) return
		p = int(m * 0.9 + 0.5); if (p < 1) p = 1
		printf "%-18s %8.2f %8.2f %8.2f\n", name, v[int((m + 1) / 2)], v[p], v[m]
	}
	BEGIN { printf "%-18s %8s %8s %8s  (ms since the previous phase, %d rounds)\n", "phase", "median", "p90", "max", r }
	$1 != k { flush(); k = $1; name = $2; m = 0 }
	{ v[++m] = $3 }
	END { flush() }'
