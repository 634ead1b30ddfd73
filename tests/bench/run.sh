#!/bin/sh
# make bench: wsbox side by side with its peers, in one run (SPEC.md §5).
# Usage: sh tests/bench/run.sh BUILD   (BENCH_QUICK=1 for a ~1 minute smoke run)
#
# As root: installs missing peers, then runs every comparison as the
# unprivileged user `wsbox-bench` (rootless is the main use) from a
# world-readable copy of the binary and rootfs. As a plain user: runs as
# that user and says what is missing. Results: tests/bench/out/.
set -eu

BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out
BENCH_USER=${BENCH_USER:-wsbox-bench}

die() { echo "bench: $*" >&2; exit 1; }

[ -x "$REPO/wsbox" ] || die "no $REPO/wsbox (run make first)"
[ -d "$BUILD/rootfs" ] || die "no rootfs in $BUILD/rootfs (make rootfs)"

# Peers and the packages they come from.
need_pkgs() {
	missing=""
	command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
	command -v hyperfine >/dev/null 2>&1 || missing="$missing hyperfine"
	command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
	[ -x /usr/bin/time ] || missing="$missing time"
	command -v bash >/dev/null 2>&1 || missing="$missing bash"
	command -v unshare >/dev/null 2>&1 || missing="$missing util-linux"
	echo "$missing"
}

missing=$(need_pkgs)
if [ "$(id -u)" = 0 ]; then
	if [ -n "$missing" ]; then
		echo "bench: installing:$missing"
		DEBIAN_FRONTEND=noninteractive apt-get install -y $missing >/dev/null ||
			die "apt-get install$missing failed"
	fi
	id "$BENCH_USER" >/dev/null 2>&1 ||
		useradd --system --create-home --shell /bin/sh "$BENCH_USER" ||
		die "useradd $BENCH_USER failed"
	# World-readable private copy: the bench user cannot read build/ or
	# the repo necessarily, and the store must be its own.
	WORK=$(mktemp -d /tmp/wsbox-bench.XXXXXX)
	trap 'rm -rf "$WORK"' EXIT INT TERM
	chmod 755 "$WORK"
	cp "$REPO/wsbox" "$WORK/wsbox"
	cp -a "$BUILD/rootfs" "$WORK/rootfs"
	cp "$HERE/bench.sh" "$HERE/plot.gp" "$WORK/"
	chmod -R a+rX "$WORK"
	mkdir "$WORK/run" && chown "$BENCH_USER" "$WORK/run"
	runuser -u "$BENCH_USER" -- env BENCH_QUICK="${BENCH_QUICK:-}" \
		bash "$WORK/bench.sh" "$WORK/wsbox" "$WORK/rootfs" "$WORK/run"
	mkdir -p "$OUT"
	cp "$WORK/run/out/"* "$OUT/"
else
	if [ -n "$missing" ]; then
		echo "bench: missing peers:$missing" >&2
		die "install them (apt-get install -y$missing) or run make bench as root"
	fi
	WORK=$(mktemp -d /tmp/wsbox-bench.XXXXXX)
	trap 'rm -rf "$WORK"' EXIT INT TERM
	BENCH_QUICK="${BENCH_QUICK:-}" bash "$HERE/bench.sh" "$REPO/wsbox" \
		"$BUILD/rootfs" "$WORK"
	mkdir -p "$OUT"
	cp "$WORK/out/"* "$OUT/"
fi
echo "bench: results in $OUT/results.csv, chart in $OUT/bench.svg"
