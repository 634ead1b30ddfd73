#!/usr/bin/env python3
# tests/bench/toolchain_rootfs.py: the rootfs of the build scenario of `make
# bench` (tests/bench/README.md "Build pipeline"). Copies the host's files of
# the installed Debian packages a C build needs (gcc, make, binutils, libc
# headers, coreutils, dash, tar, ...) and the packages they depend on into
# DIR, so wsbox, bwrap and podman all run the build on one and the same tree
# (podman imports it as an image). Usage: toolchain_rootfs.py DIR
import os
import shutil
import subprocess
import sys

ROOTS = ["gcc", "make", "binutils", "libc6-dev", "tar", "coreutils", "dash",
         "sed", "grep", "findutils", "diffutils", "mawk"]


def closure():
    out = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--installed", "--no-recommends",
         "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
         "--no-enhances"] + ROOTS,
        check=True, capture_output=True, text=True).stdout
    return sorted({line.strip() for line in out.splitlines()
                   if line and not line.startswith((" ", "<"))})


def files(pkgs):
    paths = set()
    for p in pkgs:
        r = subprocess.run(["dpkg", "-L", p], capture_output=True, text=True)
        if r.returncode == 0:
            paths.update(line for line in r.stdout.splitlines() if line.startswith("/"))
    return sorted(paths)


def main():
    dest = sys.argv[1]
    os.makedirs(dest)
    # Debian's merged /usr: /bin, /lib, /lib64, /sbin are symlinks into usr/.
    for d in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink("/" + d):
            os.symlink(os.readlink("/" + d), os.path.join(dest, d))
    for src in files(closure()):
        # Where the path really lives on the host (through those symlinks).
        real = os.path.join(os.path.realpath(os.path.dirname(src)), os.path.basename(src))
        if not os.path.lexists(real):
            continue
        to = dest + real
        if os.path.isdir(real) and not os.path.islink(real):
            os.makedirs(to, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(to), exist_ok=True)
        if os.path.lexists(to):
            continue
        if os.path.islink(real):
            os.symlink(os.readlink(real), to)
        else:
            shutil.copy2(real, to)
    for d in ("tmp", "proc", "dev", "sys", "etc", "workspace", "root"):
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    # The host's /bin/sh (dash) if the package list missed the link.
    sh = os.path.join(dest, "usr/bin/sh")
    if not os.path.lexists(sh):
        os.symlink("dash", sh)
    with open(os.path.join(dest, "etc/passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    with open(os.path.join(dest, "etc/group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")


if __name__ == "__main__":
    main()
