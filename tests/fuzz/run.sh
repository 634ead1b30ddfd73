#!/bin/sh
# tests/fuzz/run.sh FUZZ_BUILD HARNESS...: run each libFuzzer harness
# $FUZZ_SECONDS seconds over FUZZ_BUILD/corpus/<harness> (seeded from the
# checked-in seeds and regression inputs, kept between local runs so
# coverage accumulates), print its final stats, and fail when one finds a
# crash, a leak, undefined behaviour or a broken invariant (the input is left
# in FUZZ_BUILD/artifacts/<harness>/). Called by `make fuzz` / `make fuzz-ci`.
set -u
build=$1
shift
secs=${FUZZ_SECONDS:-60}
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build"
build=$(cd "$build" && pwd) # absolute: the archive harness changes its cwd
# The harnesses' scratch dirs go below one private dir on tmpfs, removed
# whatever happens: a crashing harness exits without its own cleanup.
tmpbase=/tmp
[ -w /dev/shm ] && tmpbase=/dev/shm
scratch=$(mktemp -d "$tmpbase/wsbox-fuzz-run.XXXXXX") || exit 1
trap 'chmod -R u+rwX "$scratch" 2>/dev/null; rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
export WSBOX_FUZZ_TMPDIR="$scratch"
failed=0
for h in "$@"; do
	corpus=$build/corpus/$h
	art=$build/artifacts/$h
	log=$build/fuzz-$h.log
	mkdir -p "$corpus" "$art"
	for d in "$src/seeds/$h" "$src/regress/$h"; do
		[ -d "$d" ] && cp -f "$d"/* "$corpus"/ 2>/dev/null
	done
	dict=
	[ -f "$src/$h.dict" ] && dict=-dict=$src/$h.dict
	echo "fuzz $h: ${secs}s over $corpus"
	# -timeout: one input may take at most 10 s (a hang is a finding);
	# -rss_limit_mb: a memory blow-up is a finding too.
	"$build/fuzz_$h" $dict -max_total_time="$secs" -timeout=10 \
	    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	    -artifact_prefix="$art/" "$corpus" >"$log" 2>&1
	rc=$?
	grep -E 'cov: [0-9]+' "$log" | tail -1
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log"
	if [ $rc -ne 0 ]; then
		failed=$((failed + 1))
		echo "FAIL fuzz $h (exit $rc): see $log"
		grep -E 'ERROR|invariant broken|SUMMARY|Test unit written' "$log" | head -10
	fi
done
echo "fuzz: $(($# - failed)) harnesses clean, $failed failed"
[ $failed -eq 0 ]
