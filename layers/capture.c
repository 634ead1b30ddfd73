/* layers/capture: sanitize, squash and hash a dead sandbox's upper dir into a
 * manifest, in place or (capture_tree_copy, for the size-limited tmpfs of
 * --max-layer-size) as a sanitized copy on the store's disk. Owns the
 * bounded-fd tree walk (explicit stack, no recursion, at most
 * CAPTURE_FD_WINDOW directory fds per tree) and the hashing loop. */
#include "layers/capture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layers/layer.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"

/* Directory fds kept open below the root (in copy mode half as many
 * directories, each with its copy). Deeper trees evict the shallowest
 * and get it back through ".." of its child when the walk climbs up again,
 * so a 10,000-deep tree costs O(depth) opens and never more fds than this,
 * whatever RLIMIT_NOFILE is. */
#define CAPTURE_FD_WINDOW 64
#define HASH_CHUNK (1u << 20)
#define DIRENT_BUF (64u * 1024)
#define OPAQUE_XATTR "user.overlay.opaque"
/* fuse-overlayfs's markers (capture_options.fuse_upper). */
#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
static const char *const fuse_opaque_xattrs[] = {
    "user.fuseoverlayfs.opaque",
    "trusted.overlay.opaque",
};

/* What to do with a directory's children. */
enum frame_kind {
	KEEP_ALL,      /* inside the captured set: sanitize and record */
	SAVE_ANCESTOR, /* only leads to --save paths: filter children */
	REMOVE,	       /* outside --save: delete everything */
};

struct frame {
	char *path;   /* relative to the root; "" for the root itself */
	char **names; /* children, sorted by bytes */
	size_t n_names, next;
	int fd; /* -1 when evicted */
	dev_t dev;
	ino_t ino;
	/* Copy mode: the directory's copy (evicted with fd). */
	int dst_fd;
	dev_t dst_dev;
	ino_t dst_ino;
	mode_t cur_mode;   /* permission bits on disk now */
	mode_t final_mode; /* applied when leaving, after the children */
	enum frame_kind kind;
};

struct walker {
	int root_fd;
	int dst_root;  /* copy mode: the copy's root; -1 captures in place */
	size_t window; /* open frames: each holds two fds in copy mode */
	const struct capture_options *opts;
	struct manifest *out;
	struct capture_stats *st;
	struct wsbox_error *err;
	struct frame *stack;
	size_t depth, cap;
	size_t open_lo; /* frames [open_lo, depth) have fds (root excluded) */
	char **save;
	size_t n_save;
	unsigned char *buf; /* hash chunks and getdents64 records */
	uint64_t bytes;
};

static int escaped_fail(struct wsbox_error *err, int errnum, const char *what,
			const char *path)
{
	_cleanup_free_ char *p = manifest_escape(path[0] ? path : ".");
	return wsbox_fail(err, errnum, "%s `%s`", what, p);
}

/* One component below dirfd, never through a symlink, a magic link or a
 * mount point. The name has no '/', so this is belt and braces over
 * O_NOFOLLOW; fall back to it on kernels without openat2. */
/* Read a whole directory (so the walk never depends on a directory stream
 * position across evictions) and sort it by bytes. */
static int read_names(struct walker *w, int fd, const char *path, char ***out,
		      size_t *n_out)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		ssize_t got = getdents64(fd, w->buf, DIRENT_BUF);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free_strings(names, n);
			return escaped_fail(w->err, e, "read directory", path);
		}
		if (got == 0)
			break;
		for (ssize_t off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(w->buf + off);
			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			if (w->out->n + n >= MANIFEST_MAX_ENTRIES) {
				free_strings(names, n);
				return wsbox_fail(w->err, EFBIG,
						  "layer has more than %d "
						  "entries",
						  MANIFEST_MAX_ENTRIES);
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				names =
				    xreallocarray(names, cap, sizeof *names);
			}
			names[n++] = xstrdup(d->d_name);
		}
	}
	if (n > 1)
		qsort(names, n, sizeof *names, strcmp_ptr);
	*out = names;
	*n_out = n;
	return 0;
}

/* Remove every xattr except a "y" opaque marker when keep_opaque. Works on
 * an fd, or for symlinks and whiteouts (which cannot be opened for this) on
 * /proc/self/fd/<parent>/<name> with the l* calls, which never follow the
 * last component. */
static int strip_xattrs(struct walker *w, int fd, const char *lpath,
			const char *path, bool keep_opaque, bool *opaque,
			mode_t *cur)
{
	char list[XATTR_LIST_MAX];
	ssize_t len = fd >= 0 ? flistxattr(fd, list, sizeof list)
			      : llistxattr(lpath, list, sizeof list);
	if (len < 0) {
		if (errno == ENOTSUP)
			return 0;
		return escaped_fail(w->err, errno, "list xattrs of", path);
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

static bool needs_chown(const struct walker *w, const struct stat *st)
{
	return (w->opts->owner_uid != (uid_t)-1 &&
		st->st_uid != w->opts->owner_uid) ||
	       (w->opts->owner_gid != (gid_t)-1 &&
		st->st_gid != w->opts->owner_gid);
}

static void record(struct walker *w, const char *path, char type, mode_t mode,
		   uint64_t size, const unsigned char *sha, const char *target)
{
	struct mf_entry e = {
	    .path = (char *)path,
	    .type = type,
	    .mode = mode,
	    .size = size,
	    .target = (char *)target,
	};
	if (sha)
		memcpy(e.sha256, sha, 32);
	manifest_add(w->out, &e);
}

static void proc_path(char *buf, size_t cap, int dirfd, const char *name)
{
	snprintf(buf, cap, "/proc/self/fd/%d/%s", dirfd, name);
}

/* Open a child for reading, adding owner read (and search for dirs) when the
 * task left it without: we own the upper dir's files, so chmod is allowed. */
static int open_child(struct walker *w, int dirfd, const char *name,
		      const char *path, const struct stat *st, int flags,
		      mode_t *cur)
{
	int fd = open_beneath(dirfd, name, flags);
	if (fd == -EACCES) {
		mode_t add = S_ISDIR(st->st_mode) ? 0700 : 0400;
		if (fchmodat(dirfd, name, (st->st_mode & 07777) | add,
			     AT_SYMLINK_NOFOLLOW) == 0) {
			*cur = (st->st_mode & 07777) | add;
			fd = open_beneath(dirfd, name, flags);
		}
	}
	if (fd < 0)
		return escaped_fail(w->err, -fd, "open", path);
	struct stat fst;
	if (fstat(fd, &fst) < 0) {
		int e = errno;
		close(fd);
		return escaped_fail(w->err, e, "stat", path);
	}
	/* No process is left, so a different inode means someone outside
	 * the sandbox is racing us: refuse rather than capture a mix. */
	if (fst.st_dev != st->st_dev || fst.st_ino != st->st_ino ||
	    (fst.st_mode & S_IFMT) != (st->st_mode & S_IFMT)) {
		close(fd);
		return escaped_fail(w->err, EAGAIN,
				    "changed during capture:", path);
	}
	return fd;
}

static int hash_file(struct walker *w, int fd, const char *path,
		     unsigned char sha[32], uint64_t *size)
{
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	unsigned long long total = 0;
	int r = sha256_fd(fd, w->buf, HASH_CHUNK, sha, &total);
	if (r < 0)
		return escaped_fail(w->err, -r, "read", path);
	*size = total;
	return 0;
}

/* Copy mode: a copy is created by wsbox, so it gets the layer owner when
 * that is someone else, the sanitized mode and LAYER_MTIME like every
 * entry of a layer (README "Time stamps"). fd is the copy, or -1 for a
 * symlink or whiteout named by dirfd/name. */
static int settle_copy(struct walker *w, int fd, int dirfd, const char *name,
		       const char *path, mode_t mode)
{
	struct stat cst;
	int r = fd >= 0 ? fstat(fd, &cst)
			: fstatat(dirfd, name, &cst, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return escaped_fail(w->err, errno, "stat copy of", path);
	if (needs_chown(w, &cst) &&
	    (fd >= 0 ? fchown(fd, w->opts->owner_uid, w->opts->owner_gid)
		     : fchownat(dirfd, name, w->opts->owner_uid,
				w->opts->owner_gid, AT_SYMLINK_NOFOLLOW)) < 0)
		return escaped_fail(w->err, errno, "chown copy of", path);
	if (fd >= 0 && fchmod(fd, mode) < 0)
		return escaped_fail(w->err, errno, "chmod copy of", path);
	r = fd >= 0 ? layer_stamp_at(fd, NULL) : layer_stamp_at(dirfd, name);
	if (r < 0)
		return escaped_fail(w->err, -r, "set times of copy of", path);
	return 0;
}

static bool all_zero(const unsigned char *buf, size_t n)
{
	return n == 0 || (buf[0] == 0 && !memcmp(buf, buf + 1, n - 1));
}

/* Copy mode: hash the file while writing it into dstdir/name, never more
 * than its listed size (a file still growing is "changed during capture",
 * not an unbounded copy). */
static int copy_file(struct walker *w, int src, int dstdir, const char *name,
		     const char *path, const struct stat *st, mode_t disk,
		     unsigned char sha[32], uint64_t *got)
{
	_cleanup_close_ int dst =
	    openat(dstdir, name,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dst < 0)
		return escaped_fail(w->err, errno, "create copy of", path);
	(void)posix_fadvise(src, 0, 0, POSIX_FADV_SEQUENTIAL);
	struct sha256 h;
	sha256_init(&h);
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(src, w->buf, HASH_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return escaped_fail(w->err, errno, "read", path);
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > (uint64_t)st->st_size)
			return escaped_fail(w->err, EAGAIN,
					    "changed during capture:", path);
		sha256_update(&h, w->buf, (size_t)n);
		/* A chunk of zeros becomes a hole (the final ftruncate gives
		 * the length): a sparse file stays sparse on the disk. */
		int r = 0;
		if (all_zero(w->buf, (size_t)n))
			r = lseek(dst, n, SEEK_CUR) < 0 ? -errno : 0;
		else
			r = write_all(dst, w->buf, (size_t)n);
		if (r < 0)
			return escaped_fail(w->err, -r, "write copy of", path);
	}
	if (ftruncate(dst, (off_t)total) < 0)
		return escaped_fail(w->err, errno, "write copy of", path);
	sha256_final(&h, sha);
	*got = total;
	return settle_copy(w, dst, -1, NULL, path, disk);
}

/* In place: strip the file's xattrs, give it the layer owner, its sanitized
 * mode `disk` (cur: its mode on disk now). */
static int sanitize_file(struct walker *w, int fd, const char *path,
			 const struct stat *st, mode_t cur, mode_t disk)
{
	bool opaque = false;
	int r = strip_xattrs(w, fd, NULL, path, false, &opaque, &cur);
	if (r < 0)
		return r;
	bool chowned = needs_chown(w, st);
	if (chowned && fchown(fd, w->opts->owner_uid, w->opts->owner_gid) < 0)
		return escaped_fail(w->err, errno, "chown", path);
	if ((chowned || cur != disk) && fchmod(fd, disk) < 0)
		return escaped_fail(w->err, errno, "chmod", path);
	r = layer_stamp_at(fd, NULL);
	if (r < 0)
		return escaped_fail(w->err, -r, "set time of", path);
	return 0;
}

static int do_file(struct walker *w, int dirfd, int dstdir, const char *name,
		   const char *path, const struct stat *st)
{
	/* The apparent size counts, before a byte is read: a sparse 1 TiB
	 * file is refused at once, not hashed for minutes. */
	uint64_t sz = (uint64_t)st->st_size, sum;
	if (w->opts->max_bytes && (__builtin_add_overflow(w->bytes, sz, &sum) ||
				   sum > w->opts->max_bytes))
		return wsbox_fail(w->err, EFBIG,
				  "layer exceeds --max-layer-size (%llu bytes)",
				  (unsigned long long)w->opts->max_bytes);
	mode_t cur = st->st_mode & 07777;
	_cleanup_close_ int fd = open_child(
	    w, dirfd, name, path, st, O_RDONLY | O_NONBLOCK | O_NOCTTY, &cur);
	if (fd < 0)
		return fd;
	/* Drops setuid/setgid/sticky; chown may have changed bits already. */
	mode_t mode = st->st_mode & 0777;
	mode_t disk = w->opts->make_readonly ? (mode & ~0222u) : mode;
	unsigned char sha[32];
	uint64_t got = 0;
	int r = dstdir >= 0
		    ? copy_file(w, fd, dstdir, name, path, st, disk, sha, &got)
		    : hash_file(w, fd, path, sha, &got);
	if (r < 0)
		return r;
	if (got != sz)
		return escaped_fail(w->err, EAGAIN,
				    "changed during capture:", path);
	if (dstdir < 0 && (r = sanitize_file(w, fd, path, st, cur, disk)) < 0)
		return r;
	w->bytes += got;
	w->st->files++;
	w->st->bytes += got;
	record(w, path, MF_FILE, mode, got, sha, NULL);
	return 0;
}

/* In place: a symlink's or whiteout's xattrs stripped and owner squashed,
 * through its parent (neither can be opened for this). */
static int sanitize_special(struct walker *w, int dirfd, const char *name,
			    const char *path, const struct stat *st)
{
	char lpath[64 + NAME_MAX];
	proc_path(lpath, sizeof lpath, dirfd, name);
	bool opaque = false;
	int r = strip_xattrs(w, -1, lpath, path, false, &opaque, NULL);
	if (r < 0)
		return r;
	if (needs_chown(w, st) &&
	    fchownat(dirfd, name, w->opts->owner_uid, w->opts->owner_gid,
		     AT_SYMLINK_NOFOLLOW) < 0)
		return escaped_fail(w->err, errno, "chown", path);
	r = layer_stamp_at(dirfd, name);
	if (r < 0)
		return escaped_fail(w->err, -r, "set time of", path);
	return 0;
}

/* Copy mode: the same link, or a whiteout (a 0:0 character device, which
 * the kernel lets an unprivileged user create since Linux 5.8). */
static int copy_special(struct walker *w, int dstdir, const char *name,
			const char *path, const char *target)
{
	int r = target ? symlinkat(target, dstdir, name)
		       : mknodat(dstdir, name, S_IFCHR, makedev(0, 0));
	if (r < 0)
		return escaped_fail(w->err, errno, "create copy of", path);
	return settle_copy(w, -1, dstdir, name, path, 0);
}

/* Symlinks and whiteouts: nothing to open, handled through the parent. */
static int do_special(struct walker *w, int dirfd, int dstdir, const char *name,
		      const char *path, const struct stat *st, char type)
{
	char target[PATH_MAX];
	if (type == MF_SYMLINK) {
		ssize_t n = readlinkat(dirfd, name, target, sizeof target);
		if (n < 0)
			return escaped_fail(w->err, errno, "readlink", path);
		if (n == 0 || (size_t)n > MANIFEST_TARGET_MAX)
			return escaped_fail(w->err, ENAMETOOLONG,
					    "symlink target of", path);
		target[n] = '\0';
	}
	int r;
	if (dstdir >= 0)
		r = copy_special(w, dstdir, name, path,
				 type == MF_SYMLINK ? target : NULL);
	else
		r = sanitize_special(w, dirfd, name, path, st);
	if (r < 0)
		return r;
	if (type == MF_SYMLINK) {
		w->st->symlinks++;
		record(w, path, MF_SYMLINK, 0777, 0, NULL, target);
	} else {
		w->st->whiteouts++;
		record(w, path, MF_WHITEOUT, 0, 0, NULL, NULL);
	}
	return 0;
}

static void close_frame_fd(struct walker *w, struct frame *f)
{
	if (f->fd >= 0 && f->fd != w->root_fd)
		close(f->fd);
	f->fd = -1;
	if (f->dst_fd >= 0 && f->dst_fd != w->dst_root)
		close(f->dst_fd);
	f->dst_fd = -1;
}

/* Copy mode: a directory's copy (mode 0700 until leave()); its fd, with
 * the device and inode it is checked against when re-entered. */
static int copy_dir(struct walker *w, int dstdir, const char *name,
		    const char *path, bool opaque, struct stat *cst)
{
	if (mkdirat(dstdir, name, 0700) < 0)
		return escaped_fail(w->err, errno, "create copy of", path);
	int fd = open_beneath(dstdir, name, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return escaped_fail(w->err, -fd, "open copy of", path);
	if (fstat(fd, cst) < 0 ||
	    (opaque && fsetxattr(fd, OPAQUE_XATTR, "y", 1, 0) < 0)) {
		int e = errno;
		close(fd);
		return escaped_fail(w->err, e, "copy", path);
	}
	return fd;
}

/* Copy mode: is the source directory opaque? (Nothing is removed from it.) */
static bool src_opaque(int fd)
{
	char v[2];
	return fgetxattr(fd, OPAQUE_XATTR, v, sizeof v) == 1 && v[0] == 'y';
}

/* In place: strip a directory's xattrs (keeping a "y" opaque marker inside
 * the captured set) and give it the layer owner; *cur becomes -1 when the
 * chown may have changed its mode. */
static int sanitize_dir(struct walker *w, int fd, const char *path,
			const struct stat *st, enum frame_kind kind,
			bool *opaque, mode_t *cur)
{
	/* fuse-overlayfs may copy a lower's marker up with its dir: only
	 * its own markers count there (do_dir). */
	int r =
	    strip_xattrs(w, fd, NULL, path,
			 kind == KEEP_ALL && !w->opts->fuse_upper, opaque, cur);
	if (r < 0)
		return r;
	if (!needs_chown(w, st))
		return 0;
	if (fchown(fd, w->opts->owner_uid, w->opts->owner_gid) < 0)
		return escaped_fail(w->err, errno, "chown", path);
	*cur = (mode_t)-1; /* may have changed: re-apply */
	return 0;
}

/* fuse_upper: is the directory fd opaque by one of fuse-overlayfs's
 * markers (before its xattrs are stripped)? */
static bool fuse_dir_opaque(int fd)
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
static bool lower_visible(const struct walker *w, const char *path)
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
static int fuse_whiteouts(struct walker *w, int fd, const char *path,
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
			r = escaped_fail(w->err, errno, "remove", path);
		else if (!drop &&
			 mknodat(fd, target, S_IFCHR, makedev(0, 0)) < 0)
			r = escaped_fail(w->err, errno, "whiteout in", path);
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

/* Enter a directory: open it, sanitize (or copy) it, record it, read its
 * children and push it. Its final mode waits for leave(), after its
 * children. */
static int do_dir(struct walker *w, int dirfd, int dstdir, const char *name,
		  const char *path, const struct stat *st, enum frame_kind kind)
{
	mode_t cur = st->st_mode & 07777;
	_cleanup_close_ int fd =
	    open_child(w, dirfd, name, path, st, O_RDONLY | O_DIRECTORY, &cur);
	if (fd < 0)
		return fd;
	mode_t mode = st->st_mode & 01777, disk = mode;
	if (w->opts->make_readonly)
		disk &= ~0222u;
	bool opaque = false;
	_cleanup_close_ int dst = -1;
	struct stat cst = {0};
	int r = 0;
	bool fuse_opaque = dstdir < 0 && kind == KEEP_ALL &&
			   w->opts->fuse_upper && fuse_dir_opaque(fd) &&
			   lower_visible(w, path);
	if (dstdir >= 0) {
		opaque = kind == KEEP_ALL && src_opaque(fd);
		dst = copy_dir(w, dstdir, name, path, opaque, &cst);
		r = dst < 0 ? dst : 0;
	} else if (kind != REMOVE) {
		r = sanitize_dir(w, fd, path, st, kind, &opaque, &cur);
	}
	if (r < 0)
		return r;
	opaque = opaque || fuse_opaque;
	if (kind != REMOVE) {
		w->st->dirs++;
		record(w, path, opaque ? MF_OPAQUE_DIR : MF_DIR, mode, 0, NULL,
		       NULL);
	}
	/* We must list, search and unlink in it until leave(). */
	if (cur == (mode_t)-1 || (cur & 0700) != 0700) {
		mode_t tmp = (mode & 07777) | 0700;
		if (fchmod(fd, tmp) < 0)
			return escaped_fail(w->err, errno, "chmod", path);
		cur = tmp;
	}
	/* fuse-overlayfs's opaque marker, as overlay's (the dir is ours to
	 * write now). */
	if (fuse_opaque && fsetxattr(fd, OPAQUE_XATTR, "y", 1, 0) < 0)
		return escaped_fail(w->err, errno, "mark opaque", path);
	char **names = NULL;
	size_t n = 0;
	r = read_names(w, fd, path, &names, &n);
	if (r == 0 && dstdir < 0 && kind != REMOVE && w->opts->fuse_upper)
		r = fuse_whiteouts(w, fd, path, names, &n);
	if (r < 0) {
		free_strings(names, n);
		return r;
	}

	if (w->depth == w->cap) {
		w->cap *= 2;
		w->stack = xreallocarray(w->stack, w->cap, sizeof *w->stack);
	}
	/* Bound the open fds: evict the shallowest (open ones are a
	 * contiguous suffix of the stack). */
	if (w->depth - w->open_lo >= w->window)
		close_frame_fd(w, &w->stack[w->open_lo++]);
	w->stack[w->depth++] = (struct frame){
	    .path = xstrdup(path),
	    .names = names,
	    .n_names = n,
	    .fd = steal_fd(&fd),
	    .dev = st->st_dev,
	    .ino = st->st_ino,
	    .dst_fd = steal_fd(&dst),
	    .dst_dev = cst.st_dev,
	    .dst_ino = cst.st_ino,
	    .cur_mode = cur,
	    .final_mode = disk,
	    .kind = kind,
	};
	return 0;
}

static int unlink_child(struct walker *w, int dirfd, const char *name,
			const char *path)
{
	if (unlinkat(dirfd, name, 0) < 0)
		return escaped_fail(w->err, errno, "remove", path);
	return 0;
}

/* Where `path` stands relative to the --save set. */
static enum frame_kind classify(const struct walker *w, const char *path)
{
	size_t pl = strlen(path);
	bool ancestor = false;
	for (size_t i = 0; i < w->n_save; i++) {
		const char *s = w->save[i];
		size_t sl = strlen(s);
		if (pl >= sl && !memcmp(path, s, sl) &&
		    (pl == sl || path[sl] == '/'))
			return KEEP_ALL;
		if (sl > pl && !memcmp(path, s, pl) && s[pl] == '/')
			ancestor = true;
	}
	return ancestor ? SAVE_ANCESTOR : REMOVE;
}

static int visit(struct walker *w, struct frame *parent, const char *name)
{
	_cleanup_free_ char *path = parent->path[0]
					? xasprintf("%s/%s", parent->path, name)
					: xstrdup(name);
	if (strlen(path) > MANIFEST_PATH_MAX)
		return escaped_fail(w->err, ENAMETOOLONG, "path", path);
	if (w->out->n >= MANIFEST_MAX_ENTRIES)
		return wsbox_fail(w->err, EFBIG,
				  "layer has more than %d entries",
				  MANIFEST_MAX_ENTRIES);
	int dirfd = parent->fd;
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return escaped_fail(w->err, errno, "stat", path);

	enum frame_kind kind = KEEP_ALL;
	if (parent->kind == REMOVE) {
		kind = REMOVE;
	} else if (parent->kind == SAVE_ANCESTOR) {
		kind = classify(w, path);
		/* Only directories can lead to a saved path. */
		if (kind == SAVE_ANCESTOR && !S_ISDIR(st.st_mode))
			kind = REMOVE;
		if (kind == REMOVE)
			w->st->dropped++;
	}
	/* A copy leaves out what is not kept; in place it is removed. */
	int dstdir = parent->dst_fd;
	if (kind == REMOVE && dstdir >= 0)
		return 0;
	if (kind == REMOVE)
		return S_ISDIR(st.st_mode)
			   ? do_dir(w, dirfd, -1, name, path, &st, REMOVE)
			   : unlink_child(w, dirfd, name, path);

	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		return do_file(w, dirfd, dstdir, name, path, &st);
	case S_IFDIR:
		return do_dir(w, dirfd, dstdir, name, path, &st, kind);
	case S_IFLNK:
		return do_special(w, dirfd, dstdir, name, path, &st,
				  MF_SYMLINK);
	case S_IFSOCK:
	case S_IFIFO:
		w->st->dropped++;
		return dstdir >= 0 ? 0 : unlink_child(w, dirfd, name, path);
	case S_IFCHR:
		/* Overlay's whiteout: a 0:0 char device. */
		if (major(st.st_rdev) == 0 && minor(st.st_rdev) == 0)
			return do_special(w, dirfd, dstdir, name, path, &st,
					  MF_WHITEOUT);
		/* fallthrough */
	default:
		return escaped_fail(
		    w->err, EPERM, "device node not allowed in a layer:", path);
	}
}

/* An evicted directory again, through ".." of its child `fd`, checked
 * against the device and inode it had. */
static int reopen_parent(struct walker *w, int fd, const char *path, dev_t dev,
			 ino_t ino)
{
	int pfd =
	    openat(fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return escaped_fail(w->err, errno, "reopen", path);
	struct stat pst;
	if (fstat(pfd, &pst) < 0 || pst.st_dev != dev || pst.st_ino != ino) {
		close(pfd);
		return escaped_fail(w->err, EAGAIN,
				    "changed during capture:", path);
	}
	return pfd;
}

/* Leave the top directory: apply its final mode (to its copy in copy mode),
 * make sure its parent's fds are open again, remove it if it was outside
 * --save, pop it. */
static int leave(struct walker *w)
{
	struct frame *f = &w->stack[w->depth - 1];
	struct frame *parent = &w->stack[w->depth - 2];
	int r;
	if (f->dst_fd >= 0) {
		r = settle_copy(w, f->dst_fd, -1, NULL, f->path, f->final_mode);
		if (r < 0)
			return r;
	} else if (f->kind != REMOVE && f->cur_mode != f->final_mode &&
		   fchmod(f->fd, f->final_mode) < 0) {
		return escaped_fail(w->err, errno, "chmod", f->path);
	}
	/* After the children: creating or removing one moves the mtime. */
	if (f->dst_fd < 0 && f->kind != REMOVE) {
		r = layer_stamp_at(f->fd, NULL);
		if (r < 0)
			return escaped_fail(w->err, -r, "set time of", f->path);
	}
	if (parent->fd < 0) {
		r = reopen_parent(w, f->fd, parent->path, parent->dev,
				  parent->ino);
		if (r < 0)
			return r;
		parent->fd = r;
		if (f->dst_fd >= 0) {
			r = reopen_parent(w, f->dst_fd, parent->path,
					  parent->dst_dev, parent->dst_ino);
			if (r < 0)
				return r;
			parent->dst_fd = r;
		}
		w->open_lo = w->depth - 2;
	}
	close_frame_fd(w, f);
	if (f->kind == REMOVE) {
		const char *slash = strrchr(f->path, '/');
		const char *name = slash ? slash + 1 : f->path;
		if (unlinkat(parent->fd, name, AT_REMOVEDIR) < 0)
			return escaped_fail(w->err, errno, "remove", f->path);
	}
	free_strings(f->names, f->n_names);
	free(f->path);
	w->depth--;
	if (w->open_lo > w->depth)
		w->open_lo = w->depth;
	return 0;
}

/* Normalize the --save list: collapse "//" and a trailing '/', refuse
 * absolute paths and "."/".." components (the caller validates too). */
static int load_save(struct walker *w)
{
	if (!w->opts->save)
		return 0;
	size_t n = 0;
	while (w->opts->save[n])
		n++;
	w->save = xcalloc(n, sizeof *w->save);
	for (size_t i = 0; i < n; i++) {
		const char *s = w->opts->save[i];
		char *o = xcalloc(1, strlen(s) + 1);
		w->save[w->n_save++] = o;
		size_t ol = 0;
		if (s[0] == '/')
			goto bad;
		for (const char *c = s; *c;) {
			size_t cl = strcspn(c, "/");
			if ((cl == 1 && c[0] == '.') ||
			    (cl == 2 && c[0] == '.' && c[1] == '.'))
				goto bad;
			if (cl) {
				if (ol)
					o[ol++] = '/';
				memcpy(o + ol, c, cl);
				ol += cl;
			}
			c += cl;
			c += *c == '/';
		}
		o[ol] = '\0';
		if (ol == 0 || ol > MANIFEST_PATH_MAX)
			goto bad;
		continue;
	bad:;
		_cleanup_free_ char *p = manifest_escape(s);
		return wsbox_fail(w->err, EINVAL, "invalid --save path `%s`",
				  p);
	}
	return 0;
}

static void walker_free(struct walker *w)
{
	while (w->depth > 0) {
		struct frame *f = &w->stack[--w->depth];
		close_frame_fd(w, f);
		free_strings(f->names, f->n_names);
		free(f->path);
	}
	free(w->stack);
	for (size_t i = 0; i < w->n_save; i++)
		free(w->save[i]);
	free(w->save);
	free(w->buf);
}

/* Copy mode failed: take back what was copied, so the store's disk is not
 * left holding it (a full disk must have room for the record). */
static void discard_copy(struct walker *w)
{
	if (w->dst_root < 0 || w->depth == 0)
		return;
	const struct frame *root = &w->stack[0];
	struct wsbox_error ignored = {0};
	for (size_t i = 0; i < root->n_names; i++)
		(void)rm_rf_at(w->dst_root, root->names[i], &ignored);
}

static int capture_walk(int root_fd, int dst_root,
			const struct capture_options *opts,
			struct manifest *out, struct capture_stats *stats,
			struct wsbox_error *err)
{
	static const struct capture_options defaults = {
	    .owner_uid = (uid_t)-1,
	    .owner_gid = (gid_t)-1,
	};
	struct walker w = {
	    .root_fd = root_fd,
	    .dst_root = dst_root,
	    .window = dst_root >= 0 ? CAPTURE_FD_WINDOW / 2 : CAPTURE_FD_WINDOW,
	    .opts = opts ? opts : &defaults,
	    .out = out,
	    .st = stats,
	    .err = err,
	    .cap = 64,
	    .open_lo = 1,
	    .buf =
		xcalloc(1, HASH_CHUNK > DIRENT_BUF ? HASH_CHUNK : DIRENT_BUF),
	};
	*out = (struct manifest){0};
	*stats = (struct capture_stats){0};
	w.stack = xcalloc(w.cap, sizeof *w.stack);
	int r = 0;
	struct stat st;
	if (fstat(root_fd, &st) < 0) {
		r = wsbox_fail(err, errno, "capture root");
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = wsbox_fail(err, ENOTDIR, "capture root");
		goto out;
	}
	r = load_save(&w);
	if (r < 0)
		goto out;
	/* The root is not an entry: strip its xattrs (an opaque or other
	 * overlay marker on a layer root means nothing we record) and leave
	 * its owner and mode to the caller, which renames it into the store
	 * (renaming a directory needs write permission on it). */
	bool opaque = false;
	if (dst_root < 0)
		r = strip_xattrs(&w, root_fd, NULL, "", false, &opaque, NULL);
	if (r < 0)
		goto out;
	char **names = NULL;
	size_t n = 0;
	r = read_names(&w, root_fd, "", &names, &n);
	if (r == 0 && dst_root < 0 && w.opts->fuse_upper)
		r = fuse_whiteouts(&w, root_fd, "", names, &n);
	if (r < 0) {
		free_strings(names, n);
		goto out;
	}
	w.stack[0] = (struct frame){
	    .path = xstrdup(""),
	    .names = names,
	    .n_names = n,
	    .fd = root_fd,
	    .dev = st.st_dev,
	    .ino = st.st_ino,
	    .dst_fd = dst_root,
	    .kind = w.n_save ? SAVE_ANCESTOR : KEEP_ALL,
	};
	w.depth = 1;
	while (w.depth > 0) {
		struct frame *f = &w.stack[w.depth - 1];
		if (f->next < f->n_names) {
			const char *name = f->names[f->next++];
			r = visit(&w, f, name);
		} else if (w.depth > 1) {
			r = leave(&w);
		} else {
			free_strings(f->names, f->n_names);
			free(f->path);
			w.depth = 0;
		}
		if (r < 0)
			goto out;
	}
	/* The root last, after its children (README "Time stamps"). */
	r = layer_stamp_at(dst_root >= 0 ? dst_root : root_fd, NULL);
	if (r < 0)
		r = wsbox_fail(err, -r, "set time of capture root");
out:
	if (r < 0)
		discard_copy(&w);
	walker_free(&w);
	if (r < 0)
		manifest_free(out);
	return r;
}

int capture_tree(int root_fd, const struct capture_options *opts,
		 struct manifest *out, struct capture_stats *stats,
		 struct wsbox_error *err)
{
	return capture_walk(root_fd, -1, opts, out, stats, err);
}

int capture_tree_copy(int src_fd, int dst_fd,
		      const struct capture_options *opts, struct manifest *out,
		      struct capture_stats *stats, struct wsbox_error *err)
{
	return capture_walk(src_fd, dst_fd, opts, out, stats, err);
}
