# Adversarial suite, hostile tarballs given to `wsbox layers import` and
# `wsbox rootfs import`: path traversal, absolute paths, writing through a
# symlink the archive planted, hardlinks out, devices, setuid, PAX headers
# that override path/linkpath/size, overlong names, a decompression bomb.
# Each must give one clear error line (or a sanitized result), create
# nothing outside the store, leave no staging, and the store must verify.
# See README.md.
. "$(dirname "$HERE")/security/lib_attack.sh"

# hostile KIND...: write $T/KIND.tar (or .tar.gz) with python3's tarfile.
hostile() {
	python3 - "$T" "$@" <<'EOF' || fail "python3 failed for $*"
import gzip, io, sys, tarfile
t = sys.argv[1]
for kind in sys.argv[2:]:
  path = f"{t}/{kind}.tar" + (".gz" if kind == "bomb" else "")
  raw = open(path, "wb")
  fobj = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) if kind == "bomb" else raw
  tf = tarfile.open(fileobj=fobj, mode="w", format=tarfile.PAX_FORMAT)
  def reg(name, data=b"pwned\n", mode=0o644, pax=None):
      ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = mode
      if pax: ti.pax_headers = pax
      tf.addfile(ti, io.BytesIO(data))
  def other(name, type, pax=None, **kw):
      ti = tarfile.TarInfo(name); ti.type = type
      for k, v in kw.items(): setattr(ti, k, v)
      if pax: ti.pax_headers = pax
      tf.addfile(ti)
  out = f"{t}/outside"
  reg("ok")  # a harmless entry first: a refusal must undo it
  if kind == "dotdot": reg("../../../evil")
  elif kind == "dotdot_inner": reg("a/../../evil")
  elif kind == "absolute": reg(f"{out}/evil")
  elif kind == "symlink_then_file":
      other("esc", tarfile.SYMTYPE, linkname=out); reg("esc/evil")
  elif kind == "symlink_dotdot_then_file":
      other("esc", tarfile.SYMTYPE, linkname="../../../../../../../../.." + out)
      reg("esc/evil")
  elif kind == "hardlink_absolute":
      other("hl", tarfile.LNKTYPE, linkname=f"{out}/target")
  elif kind == "hardlink_dotdot":
      other("hl", tarfile.LNKTYPE, linkname="../../../outside/target")
  elif kind == "chardev": other("null", tarfile.CHRTYPE, devmajor=1, devminor=3)
  elif kind == "blockdev": other("sda", tarfile.BLKTYPE, devmajor=8, devminor=0)
  elif kind == "setuid": reg("suid", mode=0o4755)
  elif kind == "setgid_dir": other("sgid", tarfile.DIRTYPE, mode=0o2775)
  elif kind == "pax_path":  # ustar name is harmless, PAX path is not
      reg("benign", pax={"path": "../../../evil"})
  elif kind == "pax_path_absolute":
      reg("benign", pax={"path": f"{out}/evil"})
  elif kind == "pax_linkpath":
      other("hl", tarfile.LNKTYPE, linkname="ok",
            pax={"linkpath": "../../../outside/target"})
  elif kind == "pax_linkpath_symlink_then_file":
      other("esc", tarfile.SYMTYPE, linkname="x", pax={"linkpath": out})
      reg("esc/evil")
  elif kind == "pax_size":  # PAX size far beyond the data that follows
      ti = tarfile.TarInfo("big"); ti.size = 6
      ti.pax_headers = {"size": str(1 << 40)}
      tf.addfile(ti, io.BytesIO(b"pwned\n"))
  elif kind == "long_component": reg("x" * 300)
  elif kind == "long_path": reg("/".join(["d" * 200] * 30) + "/evil")
  elif kind == "bomb":  # 64 MiB of zeros in ~70 KiB, over a 16 MiB budget
      ti = tarfile.TarInfo("zeros"); ti.size = 64 << 20
      class Zeros(io.RawIOBase):
          def __init__(self, n): self.n = n
          def readable(self): return True
          def readinto(self, b):
              k = min(len(b), self.n); b[:k] = bytes(k); self.n -= k; return k
      tf.addfile(ti, io.BufferedReader(Zeros(ti.size)))
  tf.close()
  if fobj is not raw: fobj.close()
  raw.close()
EOF
}

# check_clean KIND: nothing outside the store, no staging left, store
# verifies. $out/target is the only thing in the outside dir.
check_clean() {
	assert_eq "$(ls -A "$T/outside")" target "$1: outside dir"
	assert_eq "$(cat "$T/outside/target")" keep "$1: outside target"
	assert_eq "$(stat -c %h "$T/outside/target")" 1 "$1: target links"
	assert_eq "$(find "$T" -name evil | wc -l)" 0 "$1: files named evil"
	assert_eq "$(ls -A "$STORE/staging" 2>/dev/null)" "" "$1: staging"
	"$WSBOX" layers --store "$STORE" verify >/dev/null 2>"$T/verify-err" ||
		fail "$1: store does not verify: $(cat "$T/verify-err")"
}

KINDS="dotdot dotdot_inner absolute symlink_then_file symlink_dotdot_then_file
hardlink_absolute hardlink_dotdot chardev blockdev setuid setgid_dir pax_path
pax_path_absolute pax_linkpath pax_linkpath_symlink_then_file pax_size
long_component long_path bomb"

setup_outside() {
	need_python3
	mkdir -p "$T/outside" && chmod 777 "$T/outside" && echo keep >"$T/outside/target" ||
		fail "cannot set up $T/outside"
}

# Refused with one clear line, or imported with the hostile part sanitized
# (no device, no setuid/setgid bit, nothing outside).
check_result() { # KIND WHAT-PREFIX ROOT-OF-IMPORTED-TREE KINDS-MAY-BE-SANITIZED
	if [ "$RC" = 125 ]; then
		assert_err_has "$2"
		[ "$(wc -l <"$T/err")" = 1 ] || fail "$1: not one line: $(cat "$T/err")"
	elif [ "$RC" = 0 ]; then
		# Only where stripping is the documented answer (rootfs import
		# skips devices and strips setuid: it is mounted nodev,nosuid).
		case " $4 " in *" $1 "*) ;; *) fail "$1: accepted" ;; esac
		assert_eq "$(find "$3" -perm /6000 | wc -l)" 0 "$1: setuid/setgid imported"
		assert_eq "$(find "$3" \( -type b -o -type c \) | wc -l)" 0 "$1: device imported"
	else
		fail "$1: exit $RC: $(cat "$T/err")"
	fi
	check_clean "$1"
}

test_hostile_tar_layers_import() {
	setup_outside
	ws layers --store "$STORE" ls # creates the store
	# shellcheck disable=SC2086
	hostile $KINDS
	for kind in $KINDS; do
		f="$T/$kind.tar"; [ "$kind" = bomb ] && f="$f.gz"
		WSBOX_IMPORT_MAX_BYTES=16777216 ws layers --store "$STORE" import "$f"
		check_result "$kind" "wsbox: import $f: " "$STORE/layers" ""
	done
}

test_hostile_tar_rootfs_import() {
	setup_outside
	ws layers --store "$STORE" ls
	# shellcheck disable=SC2086
	hostile $KINDS
	for kind in $KINDS; do
		f="$T/$kind.tar"; [ "$kind" = bomb ] && f="$f.gz"
		WSBOX_IMPORT_MAX_BYTES=16777216 ws rootfs --store "$STORE" import "$f" --name "x-$kind"
		check_result "$kind" "wsbox: rootfs x-$kind: import $f: " "$STORE/rootfs" \
			"chardev blockdev setuid setgid_dir"
		if [ "$RC" = 125 ]; then
			assert_no_file "$STORE/rootfs/x-$kind"
		fi
		# Devices never land in an imported rootfs.
		assert_eq "$(find "$STORE/rootfs" \( -type b -o -type c \) | wc -l)" 0 "$kind: devices"
	done
}

# A directory without its owner's search bit (mode 0644) is imported with
# u+rx added, so the layer can be captured and used by an unprivileged
# owner; the rest of its mode is kept.
test_import_dir_keeps_owner_search_bit() {
	need_python3
	python3 - "$T/dir0644.tar" <<'PY' || fail "python3 failed"
import io, sys, tarfile
tf = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
d = tarfile.TarInfo("d"); d.type = tarfile.DIRTYPE; d.mode = 0o644
tf.addfile(d)
f = tarfile.TarInfo("d/f"); f.size = 3; f.mode = 0o644
tf.addfile(f, io.BytesIO(b"hi\n"))
tf.close()
PY
	ws layers --store "$STORE" import "$T/dir0644.tar"
	assert_rc 0
	dg=$(cat "$T/out")
	ws layers --store "$STORE" show "$dg"
	assert_rc 0
	assert_out_has "dir      0744"
	ws layers --store "$STORE" verify "$dg"
	assert_rc 0
}
