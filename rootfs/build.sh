#!/bin/sh
# Builds the minimal rootfs wsbox's tests and demo run in: Debian's static
# busybox with one symlink per applet, a tiny /etc and the static probe.
# Usage: sh rootfs/build.sh OUTDIR PROBE_BINARY   (see rootfs/README.md)
set -eu

die() {
	echo "rootfs/build.sh: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: sh rootfs/build.sh OUTDIR PROBE_BINARY"
out=${1%/}
probe=$2
busybox=${BUSYBOX:-/bin/busybox}

# Fixed locale and umask: the result must not depend on who builds it.
LC_ALL=C
export LC_ALL
umask 022

# The dynamic "busybox" package also ships /bin/busybox but could not run in
# a rootfs without libc, so insist on the static build by package name.
if command -v dpkg-query >/dev/null 2>&1 && [ -z "${BUSYBOX:-}" ]; then
	status=$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null) || status=
	case $status in
	*" installed") ;;
	*) die "package busybox-static is not installed (apt-get install busybox-static)" ;;
	esac
fi
[ -x "$busybox" ] || die "$busybox not found: install the busybox-static package (apt-get install busybox-static)"
[ -f "$probe" ] || die "probe binary '$probe' not found (build it with: make probe)"
applets=$("$busybox" --list | sort -u) || die "'$busybox --list' failed"
[ -n "$applets" ] || die "'$busybox --list' printed no applets"

case $out in
"" | / | .) die "refusing to use '$1' as OUTDIR" ;;
esac
parent=$(dirname "$out")
mkdir -p "$parent"

# Build next to OUTDIR so the final rename stays on one filesystem and a
# half-built tree is never visible under OUTDIR.
tmp=$(mktemp -d "$parent/.rootfs.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

for d in bin etc usr proc dev sys tmp workspace home root run var var/tmp; do
	mkdir "$tmp/$d"
done

cp "$busybox" "$tmp/bin/busybox"
cp "$probe" "$tmp/probe"
chmod 0755 "$tmp/bin/busybox" "$tmp/probe"

# One symlink per applet, all in /bin; the other bin dirs point there so both
# /bin/sh and /usr/bin/env style paths work.
for a in $applets; do
	case $a in
	busybox | . | .. | */*) continue ;;
	esac
	ln -s busybox "$tmp/bin/$a"
done
ln -s bin "$tmp/sbin"
ln -s ../bin "$tmp/usr/bin"
ln -s ../bin "$tmp/usr/sbin"

# "user" lives in /workspace: /home must stay empty (the probe checks it).
cat >"$tmp/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/workspace:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$tmp/etc/group" <<'EOF'
root:x:0:
user:x:1000:
nogroup:x:65534:
EOF
chmod 0644 "$tmp/etc/passwd" "$tmp/etc/group"

# Normalise modes explicitly (cp and mkdir honour umask, but the inputs may
# carry odd bits) and refuse anything setuid/setgid.
find "$tmp" -type d -exec chmod 0755 {} +
if [ -n "$(find "$tmp" -perm /6000)" ]; then
	die "setuid/setgid file in rootfs: $(find "$tmp" -perm /6000)"
fi

: >"$tmp/.stamp"

# rename(2) cannot replace a non-empty directory, so move the old tree aside
# first; OUTDIR is at worst briefly absent, never half-built.
if [ -e "$out" ] || [ -L "$out" ]; then
	old=$(mktemp -d "$parent/.rootfs.old.XXXXXX")
	mv "$out" "$old/"
	mv "$tmp" "$out"
	rm -rf "$old"
else
	mv "$tmp" "$out"
fi
trap - EXIT
touch "$out/.stamp"
