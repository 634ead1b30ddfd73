/* layers/capture_sanitize.c: what capture changes in place so that a
 * layer is the same whoever made it (docs/capture.md): xattrs stripped but
 * overlay's opaque marker, owners squashed, modes and time stamps set, and
 * fuse-overlayfs's whiteout and opaque markers turned into overlay's. */
#include "layers/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layers/capture_int.h"
#include "layers/layer.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* fuse-overlayfs's markers (capture_options.fuse_upper). */
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
static const char *const fuse_opaque_xattrs[] = {
    "user.fuseoverlayfs.opaque",
    "trusted.overlay.opaque",
};

/* Remove every xattr except a "y" opaque marker when keep_opaque. Works on
 * an fd, or for symlinks and whiteouts (which cannot be opened for this) on
 * /proc/self/fd/<parent>/<name> with the l* calls, which never follow the
 * last component. */
int capture_sanitize_xattrs(struct walker *w, int fd, const char *lpath,
			    const char *path, bool keep_opaque, bool *opaque,
			    mode_t *cur)
{
	char list[XATTR_LIST_MAX];
	ssize_t len = fd >= 0 ? flistxattr(fd, list, sizeof list)
			      : llistxattr(lpath, list, sizeof list);
	if (len < 0) {
		if (errno == ENOTSUP)
			return 0;
		return capture_escaped_fail(w->err, errno, "list xattrs of",
					    path);
	}
	for (ssize_t off = 0; off < len;
	     off += (ssize_t)strlen(list + off) + 1) {
		const char *name = list + off;
		if (keep_opaque && !strcmp(name, OPAQUE_XATTR)) {
			char v[2];
			ssize_t vl = fd >= 0
					 ? fgetxattr(fd, name, v, sizeof v)
					 : lgetxattr(lpath, name, v, sizeof v);
			if (vl == 1 && v[0] == 'y') {
				*opaque = true;
				continue;
			}
		}
		int r = fd >= 0 ? fremovexattr(fd, name)
				: lremovexattr(lpath, name);
		if (r < 0 && errno == EACCES && fd >= 0 && cur &&
		    !(*cur & 0200)) {
			/* user.* xattrs need write permission even for the
			 * owner; the caller restores the final mode. */
			if (fchmod(fd, *cur | 0200) == 0) {
				*cur |= 0200;
				r = fremovexattr(fd, name);
			} else {
				errno = EACCES;
			}
		}
		if (r < 0 && errno == EPERM && fd >= 0 &&
		    !strcmp(name, "security.capability")) {
			/* Removing a file capability needs CAP_SETFCAP in the
			 * filesystem's user namespace, which rootless wsbox
			 * lacks; a chown by the owner drops it (killpriv). */
			if (fchown(fd, (uid_t)-1, (gid_t)-1) == 0 &&
			    fgetxattr(fd, name, NULL, 0) < 0 &&
			    errno == ENODATA)
				r = 0;
			else
				errno = EPERM;
		}
		if (r < 0 && errno != ENODATA) {
			int e = errno;
			_cleanup_free_ char *p = manifest_escape(path);
			_cleanup_free_ char *x = manifest_escape(name);
			return wsbox_fail(w->err, e,
					  "remove xattr `%s` from `%s`", x, p);
		}
	}
	return 0;
}

bool capture_sanitize_needs_chown(const struct walker *w, const struct stat *st)
{
	return (w->opts->owner_uid != (uid_t)-1 &&
		st->st_uid != w->opts->owner_uid) ||
	       (w->opts->owner_gid != (gid_t)-1 &&
		st->st_gid != w->opts->owner_gid);
}

static void proc_path(char *buf, size_t cap, int dirfd, const char *name)
{
	snprintf(buf, cap, "/proc/self/fd/%d/%s", dirfd, name);
}

/* In place: strip the file's xattrs, give it the layer owner, its sanitized
 * mode `disk` (cur: its mode on disk now). */
int capture_sanitize_file(struct walker *w, int fd, const char *path,
			  const struct stat *st, mode_t cur, mode_t disk)
{
	bool opaque = false;
	int r =
	    capture_sanitize_xattrs(w, fd, NULL, path, false, &opaque, &cur);
	if (r < 0)
		return r;
	bool chowned = capture_sanitize_needs_chown(w, st);
	if (chowned && fchown(fd, w->opts->owner_uid, w->opts->owner_gid) < 0)
		return capture_escaped_fail(w->err, errno, "chown", path);
	if ((chowned || cur != disk) && fchmod(fd, disk) < 0)
		return capture_escaped_fail(w->err, errno, "chmod", path);
	r = layer_stamp_at(fd, NULL);
	if (r < 0)
		return capture_escaped_fail(w->err, -r, "set time of", path);
	return 0;
}

/* In place: a symlink's or whiteout's xattrs stripped and owner squashed,
 * through its parent (neither can be opened for this). */
int capture_sanitize_special(struct walker *w, int dirfd, const char *name,
			     const char *path, const struct stat *st)
{
	char lpath[64 + NAME_MAX];
	proc_path(lpath, sizeof lpath, dirfd, name);
	bool opaque = false;
	int r =
	    capture_sanitize_xattrs(w, -1, lpath, path, false, &opaque, NULL);
	if (r < 0)
		return r;
	if (capture_sanitize_needs_chown(w, st) &&
	    fchownat(dirfd, name, w->opts->owner_uid, w->opts->owner_gid,
		     AT_SYMLINK_NOFOLLOW) < 0)
		return capture_escaped_fail(w->err, errno, "chown", path);
	r = layer_stamp_at(dirfd, name);
	if (r < 0)
		return capture_escaped_fail(w->err, -r, "set time of", path);
	return 0;
}

/* In place: strip a directory's xattrs (keeping a "y" opaque marker inside
 * the captured set) and give it the layer owner; *cur becomes -1 when the
 * chown may have changed its mode. */
int capture_sanitize_dir(struct walker *w, int fd, const char *path,
			 const struct stat *st, enum frame_kind kind,
			 bool *opaque, mode_t *cur)
{
	/* fuse-overlayfs may copy a lower's marker up with its dir: only
	 * its own markers count there (do_dir). */
	int r = capture_sanitize_xattrs(
	    w, fd, NULL, path, kind == KEEP_ALL && !w->opts->fuse_upper, opaque,
	    cur);
	if (r < 0)
		return r;
	if (!capture_sanitize_needs_chown(w, st))
		return 0;
	if (fchown(fd, w->opts->owner_uid, w->opts->owner_gid) < 0)
		return capture_escaped_fail(w->err, errno, "chown", path);
	*cur = (mode_t)-1; /* may have changed: re-apply */
	return 0;
}

/* fuse_upper: is the directory fd opaque by one of fuse-overlayfs's
 * markers (before its xattrs are stripped)? */
bool capture_sanitize_fuse_opaque(int fd)
{
	char v[2];
	for (size_t i = 0; i < ARRAY_SIZE(fuse_opaque_xattrs); i++)
		if (fgetxattr(fd, fuse_opaque_xattrs[i], v, sizeof v) == 1 &&
		    v[0] == 'y')
			return true;
	struct stat st;
	return fstatat(fd, WH_OPAQUE, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode);
}

/* In one lower: 1 when `path` is there, -1 when that layer hides it (a
 * whiteout, or an ancestor that is a whiteout, not a directory, or
 * opaque), 0 when the lookup goes on below. */
static int lower_lookup(const struct manifest *m, const char *path)
{
	const struct mf_entry *e = manifest_find(m, path);
	if (e)
		return e->type == MF_WHITEOUT ? -1 : 1;
	_cleanup_free_ char *p = xstrdup(path);
	for (char *slash = strrchr(p, '/'); slash; slash = strrchr(p, '/')) {
		*slash = '\0';
		e = manifest_find(m, p);
		if (e)
			return e->type == MF_DIR ? 0 : -1;
	}
	return 0;
}

/* fuse_upper: is `path` visible in the workspace's lowers (topmost
 * first), as the kernel overlay's lookup would find it? */
bool capture_sanitize_lower_visible(const struct walker *w, const char *path)
{
	for (size_t i = 0; i < w->opts->n_lowers; i++) {
		int r = lower_lookup(w->opts->lowers[i], path);
		if (r)
			return r > 0;
	}
	return false;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fuse_upper, in place, on a directory we may write: drop `.wh..wh..opq`
 * (its meaning is the opaque marker now) and turn each regular file
 * `.wh.NAME` into overlay's whiteout NAME, in the name list too. */
int capture_sanitize_fuse_whiteouts(struct walker *w, int fd, const char *path,
				    char **names, size_t *n)
{
	size_t out = 0;
	for (size_t i = 0; i < *n; i++) {
		char *name = names[i];
		struct stat st;
		bool wh = !strncmp(name, WH_PREFIX, strlen(WH_PREFIX)) &&
			  fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
		/* A file is a marker; a whiteout of a `.wh.` name hides
		 * what fuse-overlayfs never shows. */
		bool whwh = wh && S_ISCHR(st.st_mode) && st.st_rdev == 0;
		if (!wh || (!S_ISREG(st.st_mode) && !whwh)) {
			names[out++] = name;
			continue;
		}
		const char *target = name + strlen(WH_PREFIX);
		bool drop = whwh || !strcmp(name, WH_OPAQUE) || !*target ||
			    !strcmp(target, ".") || !strcmp(target, "..") ||
			    fstatat(fd, target, &st, AT_SYMLINK_NOFOLLOW) == 0;
		int r = 0;
		if (unlinkat(fd, name, 0) < 0)
			r = capture_escaped_fail(w->err, errno, "remove", path);
		else if (!drop &&
			 mknodat(fd, target, S_IFCHR, makedev(0, 0)) < 0)
			r = capture_escaped_fail(w->err, errno, "whiteout in",
						 path);
		if (r < 0) {
			/* Keep every name the caller must free. */
			memmove(names + out, names + i,
				(*n - i) * sizeof *names);
			*n = out + (*n - i);
			return r;
		}
		if (drop) {
			free(name);
			continue;
		}
		memmove(name, target, strlen(target) + 1);
		names[out++] = name;
	}
	*n = out;
	if (out > 1)
		qsort(names, out, sizeof *names, name_cmp);
	return 0;
}
