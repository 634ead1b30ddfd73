#!/bin/bash
# tests/bench/alternate.sh: by-hand profiling aid beside bench.sh. Runs
# shell commands in alternation (A B C A B C ...) for ROUNDS rounds and
# prints each one's median and minimum wall time, the way bench.sh times.
# Usage: bash alternate.sh ROUNDS 'name=command' ...
#   e.g. bash alternate.sh 40 'ws=wsbox exec -- true n${EPOCHREALTIME}' \
#        'bw=bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev true'
# Commands are eval'ed (single-quote them); ${EPOCHREALTIME} makes a nonce.
set -euo pipefail
R=$1
shift
declare -A T=()
for ((r = 0; r < R; r++)); do
	for spec in "$@"; do
		n=${spec%%=*} c=${spec#*=}
		s=${EPOCHREALTIME/./}
		eval "$c" >/dev/null 2>&1 </dev/null || { echo "alternate: failed: $c" >&2; exit 1; }
		e=${EPOCHREALTIME/./}
		T[$n]+="$((e - s)) "
	done
done
for spec in "$@"; do
	n=${spec%%=*}
	printf '%-16s ' "$n"
	tr ' ' '\n' <<<"${T[$n]}" | grep . | sort -n | awk '{ a[NR] = $1 }
		END { printf "median %.2f ms  min %.2f ms  (n=%d)\n", a[int((NR + 1) / 2)] / 1000, a[1] / 1000, NR }'
done
