/* layers/import.c: the hostile-input half of archive handling (see
 * import.h): a tar from anywhere becomes a tree. libarchive only parses the
 * stream; every file is created by this code, relative to directory fds
 * opened with O_NOFOLLOW, so no name in the archive is ever resolved by the
 * kernel as a path string. */
#include "layers/import.h"

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

#include <archive.h>
#include <archive_entry.h>

/* Last: libarchive is loaded on first use (archive_dl.h). */
#include "layers/archive_dl.h"

#include "layers/dir_modes.h"
#include "layers/layer.h"
#include "layers/oci_tar.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

#define OPAQUE_XATTR "user.overlay.opaque"

struct importer {
	const char *file;
	enum import_kind kind;
	int in_fd; /* read the archive from this fd when >= 0, else file */
	int root;  /* O_RDONLY dir fd of the extraction root */
	uint64_t budget, used, entries;
	uint64_t skipped, stripped; /* IMPORT_ROOTFS only */
	struct dir_modes dirs;	    /* applied last, later entries winning */
	char *parent_path; /* cache: the last parent opened, and its fd */
	int parent_fd;
	struct wsbox_error *err;
};

/* Refusal of one entry: `wsbox: import FILE: <entry>: <why>`. */
static int refuse(struct importer *im, const char *entry, int errnum,
		  const char *why)
{
	_cleanup_free_ char *esc = manifest_escape(entry ? entry : "");
	if (errnum)
		return wsbox_fail(im->err, errnum, "import %s: %s: %s",
				  im->file, esc, why);
	wsbox_fail(im->err, 0, "import %s: %s: %s", im->file, esc, why);
	return -EPERM;
}

/* Normalize a tar name: drop "." components (tars often say "./a"), allow
 * one trailing '/', refuse absolute names, ".." and empty components, and
 * (in a layer, where they mean something) whiteout prefixes on anything but
 * the last component. "" = the root. */
static const char *normalize(const char *raw, bool layer, char **out)
{
	*out = NULL;
	if (!raw || !*raw)
		return "empty name";
	if (raw[0] == '/')
		return "absolute name";
	size_t len = strlen(raw);
	if (len >= MANIFEST_PATH_MAX)
		return "name too long";
	char *res = xcalloc(1, len + 1);
	size_t n = 0;
	const char *p = raw;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t c = slash ? (size_t)(slash - p) : strlen(p);
		bool last = !slash || !slash[1];
		if (c == 0 || (c == 2 && !strncmp(p, "..", 2)) ||
		    c > NAME_MAX) {
			free(res);
			return c == 0	? "empty path component"
			       : c == 2 ? "`..` component"
					: "component too long";
		}
		if (!(c == 1 && p[0] == '.')) {
			if (layer && !last &&
			    !strncmp(p, OCI_WH_PREFIX, strlen(OCI_WH_PREFIX))) {
				free(res);
				return "whiteout name used as a directory";
			}
			if (n)
				res[n++] = '/';
			memcpy(res + n, p, c);
			n += c;
		}
		p += c;
		if (*p == '/')
			p++;
	}
	res[n] = '\0';
	*out = res;
	return NULL;
}

/* Open the directory that holds the last component of `path`, creating
 * missing parents (mode 0755, like other OCI tools) and never following a
 * symlink: a parent that is an earlier symlink or file is refused, which
 * stops the symlink-then-file trick. Returns a borrowed fd (cached). */
static int open_parent(struct importer *im, const char *path, int *out)
{
	const char *leaf = oci_tar_last_component(path);
	size_t plen = leaf > path ? (size_t)(leaf - path - 1) : 0;
	if (im->parent_path && strlen(im->parent_path) == plen &&
	    !strncmp(im->parent_path, path, plen)) {
		*out = im->parent_fd;
		return 0;
	}
	free(im->parent_path);
	im->parent_path = NULL;
	if (im->parent_fd >= 0)
		close(im->parent_fd);
	im->parent_fd = -1;

	int cur = fcntl(im->root, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return refuse(im, path, errno, "dup");
	_cleanup_free_ char *walk = xasprintf("%.*s", (int)plen, path);
	char *save = NULL;
	for (char *c = plen ? strtok_r(walk, "/", &save) : NULL; c;
	     c = strtok_r(NULL, "/", &save)) {
		int fd = openat(
		    cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(cur, c, 0700) < 0) {
				close(cur);
				return refuse(im, path, errno, "mkdir parent");
			}
			/* c points into walk: its prefix is the dir path. */
			dir_modes_note(&im->dirs, walk, 0755);
			fd = openat(cur, c,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					O_CLOEXEC);
		}
		int e = errno;
		close(cur);
		if (fd < 0) {
			if (e == ELOOP || e == ENOTDIR)
				return refuse(
				    im, path, 0,
				    "goes through an earlier "
				    "non-directory (symlink or file)");
			return refuse(im, path, e, "open parent");
		}
		cur = fd;
		if (save && *save)
			save[-1] =
			    '/'; /* restore the prefix for dir_modes_note */
	}
	im->parent_path = xasprintf("%.*s", (int)plen, path);
	im->parent_fd = cur;
	*out = cur;
	return 0;
}

/* The mode an imported directory gets. Its owner keeps read and search
 * (u+rx): without them capture could not walk the tree, the attempt could
 * not be removed, and no task could use the layer when wsbox does not run
 * as root (a seed archive has a 0644 directory). Archives whose directories
 * already allow that, i.e. all the well-formed ones, keep their modes and
 * so their digests. */
static mode_t dir_mode(mode_t mode)
{
	return mode | S_IRUSR | S_IXUSR;
}

static int check_xattrs(struct importer *im, struct archive_entry *e,
			const char *path)
{
	const char *name, *value;
	size_t size;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, (const void **)&value,
					&size) == ARCHIVE_OK) {
		if (!name)
			continue;
		if (!strncmp(name, "trusted.", 8) ||
		    !strncmp(name, "security.", 9) ||
		    !strncmp(name, "user.overlay.", 13))
			return refuse(im, path, 0,
				      "forbidden xattr (trusted.*, security.* "
				      "or user.overlay.*)");
		/* Other xattrs are not extracted: a layer keeps none. */
	}
	return 0;
}

/* The file's apparent end moves from *end to `to`: counted in the budget. */
static int extract_grow(struct importer *im, uint64_t *end, uint64_t to,
			const char *path)
{
	if (to - *end > im->budget - im->used)
		return refuse(im, path, EFBIG,
			      "over the import size budget "
			      "($WSBOX_IMPORT_MAX_BYTES)");
	im->used += to - *end;
	*end = to;
	return 0;
}

/* The entry's data where libarchive places it: the holes of a sparse member
 * (GNU or pax sparse tar) stay holes instead of being written as zeros, and
 * the final ftruncate gives the file its whole length. The budget counts the
 * apparent size, holes included, as --max-layer-size does. The offsets come
 * from a hostile archive's sparse map: each block must start at or past the
 * end of the one before, and the data must end within the entry's size. */
static int extract_data(struct importer *im, struct archive *a,
			struct archive_entry *e, int fd, const char *path)
{
	uint64_t end = 0;
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return refuse(im, path, 0, archive_error_string(a));
		if (off < 0 || (uint64_t)off < end ||
		    size > UINT64_MAX - (uint64_t)off)
			return refuse(im, path, 0, "data blocks out of order");
		r = extract_grow(im, &end, (uint64_t)off + size, path);
		if (r < 0)
			return r;
		if (size && lseek(fd, off, SEEK_SET) < 0)
			return refuse(im, path, errno, "seek");
		r = write_all(fd, buf, size);
		if (r < 0)
			return refuse(im, path, -r, "write");
	}
	if (archive_entry_size_is_set(e)) {
		uint64_t want = (uint64_t)archive_entry_size(e);
		if (want < end)
			return refuse(im, path, 0,
				      "data past the entry's size");
		int r = extract_grow(im, &end, want, path);
		if (r < 0)
			return r;
	}
	if (ftruncate(fd, (off_t)end) < 0)
		return refuse(im, path, errno, "truncate");
	return 0;
}

/* A hardlink of a rootfs: `path` becomes another name of `target`, which
 * must be a regular file this archive already created. Both sides are
 * reached through fds (the target's parent with openat2 beneath the root,
 * no symlinks), and linkat without AT_SYMLINK_FOLLOW never dereferences. */
static int extract_hardlink(struct importer *im, const char *path,
			    const char *raw_target)
{
	_cleanup_free_ char *target = NULL;
	const char *why = normalize(raw_target, false, &target);
	if (why)
		return refuse(im, path, 0, "hardlink target: bad name");
	if (!*path || !*target)
		return refuse(im, path, 0, "hardlink to or of the root");
	const char *tleaf = oci_tar_last_component(target);
	_cleanup_free_ char *tdir =
	    tleaf > target
		? xasprintf("%.*s", (int)(tleaf - target - 1), target)
		: xstrdup(".");
	_cleanup_close_ int tfd =
	    open_beneath(im->root, tdir, O_PATH | O_DIRECTORY);
	struct stat st;
	if (tfd < 0 || fstatat(tfd, tleaf, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return refuse(im, path, 0,
			      "hardlink to something that is not an earlier "
			      "regular file of the archive");
	int dir = -1;
	int r = open_parent(im, path, &dir);
	if (r < 0)
		return r;
	const char *name = oci_tar_last_component(path);
	if (linkat(tfd, tleaf, dir, name, 0) < 0)
		return refuse(im, path, errno == EEXIST ? 0 : errno,
			      errno == EEXIST ? "duplicate of an earlier entry"
					      : "hardlink");
	return 0;
}

/* One archive entry on its way to the tree: what its checks found. */
struct tar_entry {
	bool layer;	  /* IMPORT_LAYER: whiteouts are syntax */
	const char *path; /* normalized; "" for the root */
	const char *leaf; /* last component of path */
	const char
	    *name; /* created in the parent: leaf, or what it whites out */
	mode_t type, mode;
	bool opaque, whiteout;
};

/* The entry's type and mode bits: 0 to go on, 1 when a rootfs skips it,
 * or a refusal. */
static int check_type(struct importer *im, struct tar_entry *t)
{
	switch (t->type) {
	case AE_IFREG:
	case AE_IFDIR:
	case AE_IFLNK:
		break;
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
	case AE_IFSOCK:
		/* A rootfs gets wsbox's own /dev; FIFOs and sockets are
		 * runtime objects a program recreates. */
		if (!t->layer) {
			im->skipped++;
			return 1;
		}
		return refuse(im, t->path, 0,
			      t->type == AE_IFIFO    ? "FIFO"
			      : t->type == AE_IFSOCK ? "socket"
						     : "device node");
	default:
		return refuse(im, t->path, 0, "unsupported entry type");
	}
	if (t->type != AE_IFLNK && (t->mode & (S_ISUID | S_ISGID))) {
		if (t->layer)
			return refuse(im, t->path, 0, "setuid/setgid bit");
		/* The rootfs is mounted nosuid, so the bits could never
		 * work; dropping them keeps the tree harmless elsewhere. */
		t->mode &= ~(mode_t)(S_ISUID | S_ISGID);
		im->stripped++;
	}
	return 0;
}

/* The layer's whiteout forms: `.wh..wh..opq` (the parent is opaque) and
 * `.wh.NAME` (NAME is deleted), both regular files in the tar. */
static int check_whiteout(struct importer *im, struct tar_entry *t)
{
	t->leaf = oci_tar_last_component(t->path);
	/* Whiteouts are layer syntax; in a rootfs `.wh.*` is a plain name. */
	t->opaque = t->layer && !strcmp(t->leaf, OCI_WH_OPAQUE);
	t->whiteout = t->layer && !t->opaque &&
		      !strncmp(t->leaf, OCI_WH_PREFIX, strlen(OCI_WH_PREFIX));
	t->name = t->leaf;
	if (t->whiteout) {
		t->name = t->leaf + strlen(OCI_WH_PREFIX);
		if (!*t->name || !strcmp(t->name, ".") ||
		    !strcmp(t->name, "..") ||
		    !strncmp(t->name, OCI_WH_PREFIX, strlen(OCI_WH_PREFIX)))
			return refuse(im, t->path, 0,
				      "malformed whiteout name");
	}
	if ((t->opaque || t->whiteout) && t->type != AE_IFREG)
		return refuse(im, t->path, 0, "whiteout that is not a file");
	return 0;
}

static int mark_opaque(struct importer *im, const struct tar_entry *t, int dir)
{
	if (t->leaf == t->path) /* the root: not an entry, nothing to do */
		return 0;
	if (fsetxattr(dir, OPAQUE_XATTR, "y", 1, 0) < 0)
		return refuse(im, t->path, errno, "mark opaque");
	return 0;
}

/* An earlier entry of the same name: 1 when it is a directory this one
 * names again (its mode noted, later entries winning), 0 when there is
 * none, else a refusal. */
static int check_existing(struct importer *im, const struct tar_entry *t,
			  int dir)
{
	struct stat st;
	if (fstatat(dir, t->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return refuse(im, t->path, errno, "stat");
		return 0;
	}
	if (S_ISDIR(st.st_mode) && t->type == AE_IFDIR && !t->whiteout) {
		dir_modes_note(&im->dirs, t->path, dir_mode(t->mode));
		return 1;
	}
	return refuse(im, t->path, 0,
		      S_ISDIR(st.st_mode) ? "replaces an earlier directory"
					  : "duplicate of an earlier entry");
}

/* Create the checked entry in `dir`: a whiteout, directory, symlink or
 * regular file (its data within the budget). */
static int create_entry(struct importer *im, struct archive *a,
			struct archive_entry *e, const struct tar_entry *t,
			int dir)
{
	if (t->whiteout) {
		/* An overlay whiteout is a 0:0 char device; Linux >= 5.8
		 * lets anyone create one (it is not a real device). */
		if (mknodat(dir, t->name, S_IFCHR | 0, makedev(0, 0)) < 0)
			return refuse(im, t->path, errno,
				      errno == EPERM
					  ? "create whiteout (needs Linux >= "
					    "5.8)"
					  : "create whiteout");
		return 0;
	}
	switch (t->type) {
	case AE_IFDIR:
		if (mkdirat(dir, t->name, 0700) < 0)
			return refuse(im, t->path, errno, "mkdir");
		dir_modes_note(&im->dirs, t->path, dir_mode(t->mode));
		return 0;
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(e);
		if (!target || !*target || strlen(target) > MANIFEST_TARGET_MAX)
			return refuse(im, t->path, 0, "bad symlink target");
		if (symlinkat(target, dir, t->name) < 0)
			return refuse(im, t->path, errno, "symlink");
		return 0;
	}
	default: {
		_cleanup_close_ int fd = openat(
		    dir, t->name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return refuse(im, t->path, errno, "create");
		int r = extract_data(im, a, e, fd, t->path);
		if (r < 0)
			return r;
		if (fchmod(fd, t->mode) < 0)
			return refuse(im, t->path, errno, "chmod");
		return 0;
	}
	}
}

/* One entry, checked in this order: name, count, links, type and mode,
 * xattrs, whiteout form, size; then its parent is opened (beneath the root,
 * no symlinks) and the entry created there unless it clashes with an
 * earlier one. */
static int extract_entry(struct importer *im, struct archive *a,
			 struct archive_entry *e)
{
	const bool layer = im->kind == IMPORT_LAYER;
	const char *raw = archive_entry_pathname(e);
	_cleanup_free_ char *path = NULL;
	const char *why = normalize(raw, layer, &path);
	if (why)
		return refuse(im, raw, 0, why);
	if (++im->entries > MANIFEST_MAX_ENTRIES)
		return refuse(im, path, 0, "too many entries");
	const char *link = archive_entry_hardlink(e);
	if (link && layer)
		return refuse(im, path, 0,
			      "hardlink (not supported: a layer has no links "
			      "between paths)");
	if (link)
		return extract_hardlink(im, path, link);
	struct tar_entry t = {.layer = layer,
			      .path = path,
			      .type = archive_entry_filetype(e),
			      .mode = archive_entry_mode(e) & 07777};
	int r = check_type(im, &t);
	if (r != 0)
		return r < 0 ? r : 0; /* 1: skipped */
	/* A rootfs keeps no xattrs at all (file capabilities go the way of
	 * setuid), so none needs checking. */
	if (layer && (r = check_xattrs(im, e, path)) < 0)
		return r;
	if (!*path) /* "./": the root itself is not part of a layer */
		return t.type == AE_IFDIR
			   ? 0
			   : refuse(im, raw, 0, "root not a dir");
	r = check_whiteout(im, &t);
	if (r < 0)
		return r;
	if (t.type == AE_IFREG && archive_entry_size_is_set(e) &&
	    (uint64_t)archive_entry_size(e) > im->budget - im->used)
		return refuse(im, path, EFBIG,
			      "over the import size budget "
			      "($WSBOX_IMPORT_MAX_BYTES)");
	int dir = -1;
	r = open_parent(im, path, &dir);
	if (r < 0)
		return r;
	if (t.opaque)
		return mark_opaque(im, &t, dir);
	r = check_existing(im, &t, dir);
	if (r != 0)
		return r < 0 ? r : 0; /* 1: a directory named again */
	return create_entry(im, a, e, &t, dir);
}
uint64_t import_budget(void)
{
	const char *s = getenv("WSBOX_IMPORT_MAX_BYTES");
	if (s && *s) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(s, &end, 10);
		if (!errno && !*end && v > 0)
			return v;
	}
	return IMPORT_MAX_BYTES_DEFAULT;
}

static int extract_all(struct importer *im)
{
	struct archive *a = archive_read_new();
	if (!a)
		return wsbox_fail(im->err, ENOMEM, "archive");
	/* Only tar, and only in-process decompressors we name (never
	 * support_filter_all, which may spawn external programs). */
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_bzip2(a);
	int r = 0;
	int ar = im->in_fd >= 0
		     ? archive_read_open_fd(a, im->in_fd, 64 * 1024)
		     : archive_read_open_filename(a, im->file, 64 * 1024);
	if (ar != ARCHIVE_OK) {
		r = wsbox_fail(im->err, archive_errno(a), "import %s: %s",
			       im->file, archive_error_string(a));
		archive_read_free(a);
		return r;
	}
	for (;;) {
		struct archive_entry *e;
		ar = archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			r = wsbox_fail(im->err, 0, "import %s: %s", im->file,
				       archive_error_string(a));
			break;
		}
		r = extract_entry(im, a, e);
		if (r < 0)
			break;
	}
	archive_read_free(a);
	const char *path, *step;
	if (r == 0 &&
	    (r = dir_modes_apply(&im->dirs, im->root, false, &path, &step)) < 0)
		r = refuse(im, path, -r, step);
	return r;
}

/* Free what extraction allocated; the caller owns im->root. */
static void importer_release(struct importer *im)
{
	if (im->parent_fd >= 0)
		close(im->parent_fd);
	im->parent_fd = -1;
	free(im->parent_path);
	im->parent_path = NULL;
	dir_modes_free(&im->dirs);
}

int import_extract(int root, const char *file, int in_fd, enum import_kind kind,
		   struct import_stats *st, struct wsbox_error *err)
{
	if (archive_dl_load(err) < 0)
		return -ENOENT;
	struct importer im = {.file = file,
			      .kind = kind,
			      .in_fd = in_fd,
			      .root = root,
			      .budget = import_budget(),
			      .parent_fd = -1,
			      .err = err};
	int r = extract_all(&im);
	if (st)
		*st = (struct import_stats){.bytes = im.used,
					    .entries = im.entries,
					    .skipped = im.skipped,
					    .stripped = im.stripped};
	importer_release(&im);
	return r;
}

struct layer_fill {
	const char *file;
};

static int fill_layer(int tree, void *ctx, struct wsbox_error *err)
{
	const struct layer_fill *f = ctx;
	return import_extract(tree, f->file, -1, IMPORT_LAYER, NULL, err);
}

int import_layer(struct store *s, const char *file, uid_t owner_uid,
		 gid_t owner_gid, char digest[DIGEST_STRLEN],
		 struct wsbox_error *err)
{
	if (archive_dl_load(err) < 0)
		return -ENOENT;
	struct layer_fill f = {.file = file};
	struct capture_options copts = {
	    .max_bytes = import_budget(),
	    .owner_uid = owner_uid,
	    .owner_gid = owner_gid,
	    .make_readonly = false,
	};
	return layer_build(s, fill_layer, &f, &copts, digest, err);
}
