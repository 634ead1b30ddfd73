/* layers/capture: sanitize, squash and hash a dead sandbox's upper dir into a
 * manifest, in place or (capture_tree_copy, for the size-limited tmpfs of
 * --max-layer-size) as a sanitized copy on the store's disk. Owns the
 * bounded-fd tree walk (explicit stack, no recursion, at most
 * CAPTURE_FD_WINDOW directory fds per tree) and the hashing loop; what
 * each entry gets is in capture_sanitize.c (in place) and capture_copy.c
 * (copy mode). */
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
#include <time.h>
#include <unistd.h>

#include "layers/capture_int.h"
#include "layers/layer.h"
#include "layers/oci_tar.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"
#include "sandbox/util/sparse.h"

/* Directory fds kept open below the root (in copy mode half as many
 * directories, each with its copy). Deeper trees evict the shallowest
 * and get it back through ".." of its child when the walk climbs up again,
 * so a 10,000-deep tree costs O(depth) opens and never more fds than this,
 * whatever RLIMIT_NOFILE is. */
#define CAPTURE_FD_WINDOW 64
#define DIRENT_BUF (64u * 1024)

int capture_escaped_fail(struct wsbox_error *err, int errnum, const char *what,
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
			return capture_escaped_fail(w->err, e, "read directory",
						    path);
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
		return capture_escaped_fail(w->err, -fd, "open", path);
	struct stat fst;
	if (fstat(fd, &fst) < 0) {
		int e = errno;
		close(fd);
		return capture_escaped_fail(w->err, e, "stat", path);
	}
	/* No process is left, so a different inode means someone outside
	 * the sandbox is racing us: refuse rather than capture a mix. */
	if (fst.st_dev != st->st_dev || fst.st_ino != st->st_ino ||
	    (fst.st_mode & S_IFMT) != (st->st_mode & S_IFMT)) {
		close(fd);
		return capture_escaped_fail(w->err, EAGAIN,
					    "changed during capture:", path);
	}
	return fd;
}

int capture_deadline(struct walker *w)
{
	if (!w->opts->deadline)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 < w->opts->deadline)
		return 0;
	return wsbox_fail_logic(w->err, ETIMEDOUT, "--timeout expired");
}

int capture_read_file(struct walker *w, int fd, const char *path, uint64_t size,
		      capture_chunk_fn put, void *ctx, unsigned char sha[32])
{
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	struct sha256 h;
	sha256_init(&h);
	struct sparse_map sm;
	sparse_map_init(&sm, fd, size);
	struct sparse_extent x = {0};
	for (uint64_t pos = 0; pos < size;) {
		int r = capture_deadline(w);
		if (r < 0)
			return r;
		if (pos >= x.off + x.len && (r = sparse_next(&sm, &x)) < 0)
			return capture_escaped_fail(w->err, -r, "seek", path);
		uint64_t left = x.off + x.len - pos;
		size_t n = left < HASH_CHUNK ? (size_t)left : HASH_CHUNK;
		const unsigned char *data = NULL;
		if (x.hole) {
			sparse_sha256_zeros(&h, n);
		} else {
			ssize_t got = pread(fd, w->buf, n, (off_t)pos);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				return capture_escaped_fail(w->err, errno,
							    "read", path);
			if (got == 0) /* shorter than listed */
				return capture_escaped_fail(
				    w->err, EAGAIN,
				    "changed during capture:", path);
			n = (size_t)got;
			data = w->buf;
			sha256_update(&h, data, n);
		}
		if (put && (r = put(w, ctx, pos, data, n)) < 0)
			return r;
		pos += n;
	}
	/* Shrunk (a hole ran past the end) or grown since it was listed:
	 * someone outside is writing. */
	struct stat fst;
	if (fstat(fd, &fst) < 0)
		return capture_escaped_fail(w->err, errno, "stat", path);
	if ((uint64_t)fst.st_size != size)
		return capture_escaped_fail(w->err, EAGAIN,
					    "changed during capture:", path);
	sha256_final(&h, sha);
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
	uint64_t got = sz;
	int r = dstdir >= 0
		    ? capture_copy_file(w, fd, dstdir, name, path, st, disk,
					sha, &got)
		    : capture_read_file(w, fd, path, sz, NULL, NULL, sha);
	if (r < 0)
		return r;
	if (dstdir < 0 &&
	    (r = capture_sanitize_file(w, fd, path, st, cur, disk)) < 0)
		return r;
	w->bytes += got;
	w->st->files++;
	w->st->bytes += got;
	record(w, path, MF_FILE, mode, got, sha, NULL);
	return 0;
}

/* Symlinks and whiteouts: nothing to open, handled through the parent. */
static int do_special(struct walker *w, int dirfd, int dstdir, const char *name,
		      const char *path, const struct stat *st, char type)
{
	char target[PATH_MAX];
	if (type == MF_SYMLINK) {
		ssize_t n = readlinkat(dirfd, name, target, sizeof target);
		if (n < 0)
			return capture_escaped_fail(w->err, errno, "readlink",
						    path);
		if (n == 0 || (size_t)n > MANIFEST_TARGET_MAX)
			return capture_escaped_fail(w->err, ENAMETOOLONG,
						    "symlink target of", path);
		target[n] = '\0';
	}
	int r;
	if (dstdir >= 0)
		r = capture_copy_special(w, dstdir, name, path,
					 type == MF_SYMLINK ? target : NULL);
	else
		r = capture_sanitize_special(w, dirfd, name, path, st);
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
			   w->opts->fuse_upper &&
			   capture_sanitize_fuse_opaque(fd) &&
			   capture_sanitize_lower_visible(w, path);
	if (dstdir >= 0) {
		opaque = kind == KEEP_ALL && capture_copy_src_opaque(fd);
		dst = capture_copy_dir(w, dstdir, name, path, opaque, &cst);
		r = dst < 0 ? dst : 0;
	} else if (kind != REMOVE) {
		r = capture_sanitize_dir(w, fd, path, st, kind, &opaque, &cur);
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
			return capture_escaped_fail(w->err, errno, "chmod",
						    path);
		cur = tmp;
	}
	/* fuse-overlayfs's opaque marker, as overlay's (the dir is ours to
	 * write now). */
	if (fuse_opaque && fsetxattr(fd, OPAQUE_XATTR, "y", 1, 0) < 0)
		return capture_escaped_fail(w->err, errno, "mark opaque", path);
	char **names = NULL;
	size_t n = 0;
	r = read_names(w, fd, path, &names, &n);
	if (r == 0 && dstdir < 0 && kind != REMOVE && w->opts->fuse_upper)
		r = capture_sanitize_fuse_whiteouts(w, fd, path, names, &n);
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
		return capture_escaped_fail(w->err, errno, "remove", path);
	return 0;
}

/* "`PATH…`: WHY": the path escaped and cut to its first bytes, so that a
 * 4 KiB path still gives a one-line error that says where it is. */
#define REFUSED_PATH_SHOWN 64
static int refuse_path(struct walker *w, const char *path, const char *why)
{
	_cleanup_free_ char *p = manifest_escape(path);
	size_t n = strlen(p);
	bool cut = n > REFUSED_PATH_SHOWN;
	if (cut) {
		n = REFUSED_PATH_SHOWN;
		/* Never half an escape (%XX). */
		if (p[n - 1] == '%')
			n -= 1;
		else if (p[n - 2] == '%')
			n -= 2;
	}
	return wsbox_fail_logic(w->err, EINVAL, "`%.*s%s`: %s", (int)n, p,
				cut ? "…" : "", why);
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
	/* Bounds the walk (and its memory) even where nothing is kept. */
	if (strlen(path) > MANIFEST_PATH_MAX)
		return capture_escaped_fail(w->err, ENAMETOOLONG, "path", path);
	if (w->out->n >= MANIFEST_MAX_ENTRIES)
		return wsbox_fail(w->err, EFBIG,
				  "layer has more than %d entries",
				  MANIFEST_MAX_ENTRIES);
	int r = capture_deadline(w);
	if (r < 0)
		return r;
	int dirfd = parent->fd;
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return capture_escaped_fail(w->err, errno, "stat", path);

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
	/* What would be kept must come back out of the layer: refuse what
	 * export refuses, one rule for both (layers/oci_tar.h). Sockets
	 * and FIFOs are dropped anyway. */
	const char *why = oci_tar_refusal(path);
	if (why && !S_ISSOCK(st.st_mode) && !S_ISFIFO(st.st_mode))
		return refuse_path(w, path, why);

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
		return capture_escaped_fail(
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
		return capture_escaped_fail(w->err, errno, "reopen", path);
	struct stat pst;
	if (fstat(pfd, &pst) < 0 || pst.st_dev != dev || pst.st_ino != ino) {
		close(pfd);
		return capture_escaped_fail(w->err, EAGAIN,
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
		r = capture_copy_settle(w, f->dst_fd, -1, NULL, f->path,
					f->final_mode);
		if (r < 0)
			return r;
	} else if (f->kind != REMOVE && f->cur_mode != f->final_mode &&
		   fchmod(f->fd, f->final_mode) < 0) {
		return capture_escaped_fail(w->err, errno, "chmod", f->path);
	}
	/* After the children: creating or removing one moves the mtime. */
	if (f->dst_fd < 0 && f->kind != REMOVE) {
		r = layer_stamp_at(f->fd, NULL);
		if (r < 0)
			return capture_escaped_fail(w->err, -r, "set time of",
						    f->path);
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
			return capture_escaped_fail(w->err, errno, "remove",
						    f->path);
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
		r = capture_sanitize_xattrs(&w, root_fd, NULL, "", false,
					    &opaque, NULL);
	if (r < 0)
		goto out;
	char **names = NULL;
	size_t n = 0;
	r = read_names(&w, root_fd, "", &names, &n);
	if (r == 0 && dst_root < 0 && w.opts->fuse_upper)
		r = capture_sanitize_fuse_whiteouts(&w, root_fd, "", names, &n);
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
		capture_copy_discard(&w);
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
