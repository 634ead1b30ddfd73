#!/bin/sh
# make bench: wsbox side by side with its peers, in one run (issue 6; see
# tests/bench/README.md). Usage: sh tests/bench/run.sh [BUILD]
#   BENCH_QUICK=1  sizes capped at 100 MiB, fewer rounds (a few minutes)
#   WSBOX_BIN=...  the binary to measure (default BUILD/wsbox, else ./wsbox)
#   BENCH_ONLY="1 3", BENCH_RESTORE, BENCH_CAPTURE, BENCH_TARGET_*: see README
#
# As root: installs missing peers (apt-get), then runs every comparison as
# the unprivileged user `wsbox-bench` (created if absent; rootless is the
# main use) from a world-readable copy of the binary and helpers in /tmp,
# with its store and files there too. As a plain user: runs as that user
# and says what is missing. Results: tests/bench/out/.
set -eu

BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out
BENCH_USER=${BENCH_USER:-wsbox-bench}

die() { echo "bench: $*" >&2; exit 1; }

if [ -n "${WSBOX_BIN:-}" ]; then
	W=$WSBOX_BIN
elif [ -x "$BUILD/wsbox" ]; then
	W=$BUILD/wsbox
else
	W=$REPO/wsbox
fi
[ -x "$W" ] || die "no wsbox binary at $W (run make first)"
[ -f "$BUILD/libwsbox.a" ] || die "no $BUILD/libwsbox.a (run make BUILD=$BUILD first)"

# Peers and the Debian packages they come from. hyperfine is not used for
# the timings (see README: it does not alternate) but is installed for
# by-hand cross-checks (`hyperfine -N`).
need_pkgs() {
	missing=""
	command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
	command -v hyperfine >/dev/null 2>&1 || missing="$missing hyperfine"
	command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
	[ -x /usr/bin/time ] || missing="$missing time"
	command -v bash >/dev/null 2>&1 || missing="$missing bash"
	command -v unshare >/dev/null 2>&1 || missing="$missing util-linux"
	command -v xargs >/dev/null 2>&1 || missing="$missing findutils"
	command -v tar >/dev/null 2>&1 || missing="$missing tar"
	# Issue 18's peers (scenarios 8-13); each missing one is reported in
	# the table as such, not fatal.
	command -v podman >/dev/null 2>&1 || missing="$missing podman"
	command -v newuidmap >/dev/null 2>&1 || missing="$missing uidmap"
	command -v runc >/dev/null 2>&1 || missing="$missing runc"
	command -v skopeo >/dev/null 2>&1 || missing="$missing skopeo"
	command -v docker-registry >/dev/null 2>&1 || missing="$missing docker-registry"
	command -v make >/dev/null 2>&1 || missing="$missing make"
	command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
	command -v python3 >/dev/null 2>&1 || missing="$missing python3"
	echo "$missing"
}

# The C helpers, linked against the same libwsbox.a as the binary. `make
# bench` builds them through tests/bench/bench.mk; without make (or when
# stale) they are built here with the Makefile's flags.
PKGS="libseccomp libcap-ng libarchive libnl-3.0 libnl-route-3.0 libcrypto jansson"
TOOLS=$BUILD/bench
build_tool() {
	src=$HERE/$1.c
	bin=$TOOLS/$1
	if [ -x "$bin" ] && [ "$bin" -nt "$src" ] && [ "$bin" -nt "$BUILD/libwsbox.a" ]; then
		return 0
	fi
	mkdir -p "$TOOLS"
	# shellcheck disable=SC2046
	${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$REPO" \
		$(pkg-config --cflags $PKGS) -o "$bin" "$src" "$BUILD/libwsbox.a" \
		$(pkg-config --libs $PKGS) || die "cannot build $bin"
}

missing=$(need_pkgs)
if [ "$(id -u)" = 0 ] && [ -n "$missing" ]; then
	echo "bench: installing:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; } ||
		die "apt-get install$missing failed"
	missing=$(need_pkgs)
fi
for m in $missing; do
	case $m in
	hyperfine | gnuplot-nox | podman | uidmap | runc | skopeo | docker-registry) echo "bench: note: $m is missing (optional: no chart / no cross-check / that peer's rows say n/a)" >&2 ;;
	*) die "missing peers:$missing; install them (apt-get install -y$missing) or run make bench as root" ;;
	esac
done
build_tool dag_bench
build_tool capture_bench

WORK=$(mktemp -d /tmp/wsbox-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
chmod 755 "$WORK"
# A private copy: the bench user may not be able to read the repo or the
# build dir, and the binary must not change under a running bench.
mkdir "$WORK/bin"
cp "$W" "$WORK/bin/wsbox"
cp "$TOOLS/dag_bench" "$TOOLS/capture_bench" "$HERE/bench.sh" "$HERE/plot.gp" \
	"$HERE"/sc_*.sh "$HERE"/*.py "$HERE/plot_scaling.gp" "$HERE/strategies.sh" \
	"$REPO/tests/integration/t_pipeline.sh" "$WORK/bin/"
[ -d "$BUILD/rootfs" ] && cp -a "$BUILD/rootfs" "$WORK/rootfs" || mkdir "$WORK/rootfs"
chmod -R a+rX "$WORK"
mkdir "$WORK/run"
if [ "$(id -u)" = 0 ]; then
	id "$BENCH_USER" >/dev/null 2>&1 ||
		useradd --system --create-home --shell /bin/sh "$BENCH_USER" ||
		die "useradd $BENCH_USER failed"
	chown "$BENCH_USER" "$WORK/run"
	# runuser keeps the environment: BENCH_* settings reach bench.sh.
	runuser -u "$BENCH_USER" -- env BENCH_QUICK="${BENCH_QUICK:-}" \
		PATH=/usr/local/bin:/usr/bin:/bin HOME="$WORK/run" \
		bash "$WORK/bin/bench.sh" "$WORK/bin/wsbox" "$WORK/rootfs" "$WORK/run" "$WORK/bin"
else
	bash "$WORK/bin/bench.sh" "$WORK/bin/wsbox" "$WORK/rootfs" "$WORK/run" "$WORK/bin"
fi
mkdir -p "$OUT"
cp "$WORK/run/out/"* "$OUT/"
echo "bench: results in $OUT/results.csv and table.txt, chart in $OUT/bench.svg"
