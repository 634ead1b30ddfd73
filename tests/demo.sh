#!/bin/sh
# `make demo`: a three-task pipeline on the busybox rootfs, in a throw-away
# store: two parallel "builds" and a "test" that sees both their outputs.
set -eu
BUILD=$1
W=./wsbox
R="--rootfs $BUILD/rootfs"
STORE=$(mktemp -d "${TMPDIR:-/tmp}/wsbox-demo.XXXXXX")
trap 'chmod -R u+w "$STORE" 2>/dev/null; rm -rf "$STORE"' EXIT
S="--store $STORE --run demo"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say wsbox exec --task build-x86 -- 'mkdir -p x86_64 && echo x86-binary > x86_64/app'
$W exec $S $R --task build-x86 -- sh -c 'mkdir -p x86_64 && echo x86-binary > x86_64/app'
say wsbox exec --task build-arm -- 'mkdir -p arm64 && echo arm-binary > arm64/app'
$W exec $S $R --task build-arm -- sh -c 'mkdir -p arm64 && echo arm-binary > arm64/app'
say wsbox exec --task test --parent build-x86 --parent build-arm -- 'find . -type f | sort; hostname; id'
$W exec $S $R --task test --parent build-x86 --parent build-arm -- sh -c 'find . -type f | sort; hostname; id'
say "wsbox exec -- cat /proc/self/status  (the locked-down state)"
$W exec $S $R --task status -- sh -c 'grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status'
say "the sandbox refuses what a hostile task tries"
$W exec $S $R --task hostile -- sh -c 'unshare -U true 2>&1; mount -t tmpfs x /tmp 2>&1; touch /etc/x 2>&1; true'
printf '\ndemo store was %s (removed)\n' "$STORE"
