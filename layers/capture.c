/* layers/capture: sanitize, squash and hash a dead sandbox's upper dir in
 * place into a manifest. Owns the bounded-fd tree walk (explicit stack, no
 * recursion, at most CAPTURE_FD_WINDOW directory fds) and the hashing loop. */
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

/* Directory fds kept open below the root. Deeper trees evict the shallowest
 * and get it back through ".." of its child when the walk climbs up again,
 * so a 10,000-deep tree costs O(depth) opens and never more fds than this,
 * whatever RLIMIT_NOFILE is. */
#define CAPTURE_FD_WINDOW 64
#define HASH_CHUNK (1u << 20)
#define DIRENT_BUF (64u * 1024)
#define OPAQUE_XATTR "user.overlay.opaque"

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
	mode_t cur_mode;   /* permission bits on disk now */
	mode_t final_mode; /* applied when leaving, after the children */
	enum frame_kind kind;
};

struct walker {
	int root_fd;
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

static int do_file(struct walker *w, int dirfd, const char *name,
		   const char *path, const struct stat *st)
{
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
	unsigned char sha[32];
	uint64_t got = 0;
	int r = hash_file(w, fd, path, sha, &got);
	if (r < 0)
		return r;
	if (got != sz)
		return escaped_fail(w->err, EAGAIN,
				    "changed during capture:", path);
	bool opaque = false;
	r = strip_xattrs(w, fd, NULL, path, false, &opaque, &cur);
	if (r < 0)
		return r;
	bool chowned = needs_chown(w, st);
	if (chowned && fchown(fd, w->opts->owner_uid, w->opts->owner_gid) < 0)
		return escaped_fail(w->err, errno, "chown", path);
	/* Drops setuid/setgid/sticky; chown may have changed bits already. */
	mode_t mode = st->st_mode & 0777;
	mode_t disk = w->opts->make_readonly ? (mode & ~0222u) : mode;
	if ((chowned || cur != disk) && fchmod(fd, disk) < 0)
		return escaped_fail(w->err, errno, "chmod", path);
	r = layer_stamp_at(fd, NULL);
	if (r < 0)
		return escaped_fail(w->err, -r, "set time of", path);
	w->bytes += got;
	w->st->files++;
	w->st->bytes += got;
	record(w, path, MF_FILE, mode, got, sha, NULL);
	return 0;
}

/* Symlinks and whiteouts: nothing to open, handled through the parent. */
static int do_special(struct walker *w, int dirfd, const char *name,
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
}

/* Enter a directory: open it, sanitize it, record it, read its children and
 * push it. Its final mode waits for leave(), after its children. */
static int do_dir(struct walker *w, int dirfd, const char *name,
		  const char *path, const struct stat *st, enum frame_kind kind)
{
	mode_t cur = st->st_mode & 07777;
	_cleanup_close_ int fd =
	    open_child(w, dirfd, name, path, st, O_RDONLY | O_DIRECTORY, &cur);
	if (fd < 0)
		return fd;
	mode_t mode = st->st_mode & 01777, disk = mode;
	if (kind != REMOVE) {
		bool opaque = false;
		int r = strip_xattrs(w, fd, NULL, path, kind == KEEP_ALL,
				     &opaque, &cur);
		if (r < 0)
			return r;
		if (needs_chown(w, st)) {
			if (fchown(fd, w->opts->owner_uid, w->opts->owner_gid) <
			    0)
				return escaped_fail(w->err, errno, "chown",
						    path);
			cur = (mode_t)-1; /* may have changed: re-apply */
		}
		if (w->opts->make_readonly)
			disk &= ~0222u;
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
	char **names;
	size_t n;
	int r = read_names(w, fd, path, &names, &n);
	if (r < 0)
		return r;

	if (w->depth == w->cap) {
		w->cap *= 2;
		w->stack = xreallocarray(w->stack, w->cap, sizeof *w->stack);
	}
	/* Bound the open fds: evict the shallowest (open ones are a
	 * contiguous suffix of the stack). */
	if (w->depth - w->open_lo >= CAPTURE_FD_WINDOW)
		close_frame_fd(w, &w->stack[w->open_lo++]);
	w->stack[w->depth++] = (struct frame){
	    .path = xstrdup(path),
	    .names = names,
	    .n_names = n,
	    .fd = steal_fd(&fd),
	    .dev = st->st_dev,
	    .ino = st->st_ino,
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
	if (kind == REMOVE)
		return S_ISDIR(st.st_mode)
			   ? do_dir(w, dirfd, name, path, &st, REMOVE)
			   : unlink_child(w, dirfd, name, path);

	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		return do_file(w, dirfd, name, path, &st);
	case S_IFDIR:
		return do_dir(w, dirfd, name, path, &st, kind);
	case S_IFLNK:
		return do_special(w, dirfd, name, path, &st, MF_SYMLINK);
	case S_IFSOCK:
	case S_IFIFO:
		w->st->dropped++;
		return unlink_child(w, dirfd, name, path);
	case S_IFCHR:
		/* Overlay's whiteout: a 0:0 char device. */
		if (major(st.st_rdev) == 0 && minor(st.st_rdev) == 0)
			return do_special(w, dirfd, name, path, &st,
					  MF_WHITEOUT);
		/* fallthrough */
	default:
		return escaped_fail(
		    w->err, EPERM, "device node not allowed in a layer:", path);
	}
}

/* Leave the top directory: apply its final mode, make sure its parent's fd is
 * open again (through "..", checked against the recorded inode), remove it if
 * it was outside --save, pop it. */
static int leave(struct walker *w)
{
	struct frame *f = &w->stack[w->depth - 1];
	struct frame *parent = &w->stack[w->depth - 2];
	if (f->kind != REMOVE && f->cur_mode != f->final_mode &&
	    fchmod(f->fd, f->final_mode) < 0)
		return escaped_fail(w->err, errno, "chmod", f->path);
	/* After the children: creating or removing one moves the mtime. */
	int r = f->kind == REMOVE ? 0 : layer_stamp_at(f->fd, NULL);
	if (r < 0)
		return escaped_fail(w->err, -r, "set time of", f->path);
	if (parent->fd < 0) {
		int pfd =
		    openat(f->fd, "..",
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (pfd < 0)
			return escaped_fail(w->err, errno, "reopen",
					    parent->path);
		struct stat pst;
		if (fstat(pfd, &pst) < 0 || pst.st_dev != parent->dev ||
		    pst.st_ino != parent->ino) {
			close(pfd);
			return escaped_fail(
			    w->err, EAGAIN,
			    "changed during capture:", parent->path);
		}
		parent->fd = pfd;
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

int capture_tree(int root_fd, const struct capture_options *opts,
		 struct manifest *out, struct capture_stats *stats,
		 struct wsbox_error *err)
{
	static const struct capture_options defaults = {
	    .owner_uid = (uid_t)-1,
	    .owner_gid = (gid_t)-1,
	};
	struct walker w = {
	    .root_fd = root_fd,
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
	r = strip_xattrs(&w, root_fd, NULL, "", false, &opaque, NULL);
	if (r < 0)
		goto out;
	char **names;
	size_t n;
	r = read_names(&w, root_fd, "", &names, &n);
	if (r < 0)
		goto out;
	w.stack[0] = (struct frame){
	    .path = xstrdup(""),
	    .names = names,
	    .n_names = n,
	    .fd = root_fd,
	    .dev = st.st_dev,
	    .ino = st.st_ino,
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
	r = layer_stamp_at(root_fd, NULL);
	if (r < 0)
		r = wsbox_fail(err, -r, "set time of capture root");
out:
	walker_free(&w);
	if (r < 0)
		manifest_free(out);
	return r;
}
