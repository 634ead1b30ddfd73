/* layers/capture_copy.c: capture's copy mode (capture_tree_copy, for the
 * size-limited tmpfs of --max-layer-size): the sanitized copy of each file,
 * link, whiteout and directory on the store's disk, hashed as it is
 * written, and taken back when the capture fails. */
#include "layers/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layers/capture_int.h"
#include "layers/layer.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sparse.h"

/* Copy mode: a copy is created by wsbox, so it gets the layer owner when
 * that is someone else, the sanitized mode and LAYER_MTIME like every
 * entry of a layer (README "Time stamps"). fd is the copy, or -1 for a
 * symlink or whiteout named by dirfd/name. */
int capture_copy_settle(struct walker *w, int fd, int dirfd, const char *name,
			const char *path, mode_t mode)
{
	struct stat cst;
	int r = fd >= 0 ? fstat(fd, &cst)
			: fstatat(dirfd, name, &cst, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return capture_escaped_fail(w->err, errno, "stat copy of",
					    path);
	if (capture_sanitize_needs_chown(w, &cst) &&
	    (fd >= 0 ? fchown(fd, w->opts->owner_uid, w->opts->owner_gid)
		     : fchownat(dirfd, name, w->opts->owner_uid,
				w->opts->owner_gid, AT_SYMLINK_NOFOLLOW)) < 0)
		return capture_escaped_fail(w->err, errno, "chown copy of",
					    path);
	if (fd >= 0 && fchmod(fd, mode) < 0)
		return capture_escaped_fail(w->err, errno, "chmod copy of",
					    path);
	r = fd >= 0 ? layer_stamp_at(fd, NULL) : layer_stamp_at(dirfd, name);
	if (r < 0)
		return capture_escaped_fail(w->err, -r, "set times of copy of",
					    path);
	return 0;
}

/* A chunk of the source into the copy at the same offset. Holes and
 * chunks of zeros are skipped (the final ftruncate gives the length), so
 * a sparse file stays sparse on the disk. */
struct copy_to {
	int fd;
	const char *path;
};

static int copy_chunk(struct walker *w, void *ctx, uint64_t off,
		      const unsigned char *data, size_t n)
{
	const struct copy_to *to = ctx;
	if (!data || sparse_all_zero(data, n))
		return 0;
	int r = lseek(to->fd, (off_t)off, SEEK_SET) < 0 ? -errno : 0;
	if (r == 0)
		r = write_all(to->fd, data, n);
	if (r < 0)
		return capture_escaped_fail(w->err, -r, "write copy of",
					    to->path);
	return 0;
}

/* Copy mode: hash the file while writing it into dstdir/name, never more
 * than its listed size (a file still growing is "changed during capture",
 * not an unbounded copy); holes are neither read nor written. */
int capture_copy_file(struct walker *w, int src, int dstdir, const char *name,
		      const char *path, const struct stat *st, mode_t disk,
		      unsigned char sha[32], uint64_t *got)
{
	_cleanup_close_ int dst =
	    openat(dstdir, name,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dst < 0)
		return capture_escaped_fail(w->err, errno, "create copy of",
					    path);
	uint64_t size = (uint64_t)st->st_size;
	struct copy_to to = {.fd = dst, .path = path};
	int r = capture_read_file(w, src, path, size, copy_chunk, &to, sha);
	if (r < 0)
		return r;
	if (ftruncate(dst, (off_t)size) < 0)
		return capture_escaped_fail(w->err, errno, "write copy of",
					    path);
	*got = size;
	return capture_copy_settle(w, dst, -1, NULL, path, disk);
}

/* Copy mode: the same link, or a whiteout (a 0:0 character device, which
 * the kernel lets an unprivileged user create since Linux 5.8). */
int capture_copy_special(struct walker *w, int dstdir, const char *name,
			 const char *path, const char *target)
{
	int r = target ? symlinkat(target, dstdir, name)
		       : mknodat(dstdir, name, S_IFCHR, makedev(0, 0));
	if (r < 0)
		return capture_escaped_fail(w->err, errno, "create copy of",
					    path);
	return capture_copy_settle(w, -1, dstdir, name, path, 0);
}

/* Copy mode: a directory's copy (mode 0700 until leave()); its fd, with
 * the device and inode it is checked against when re-entered. */
int capture_copy_dir(struct walker *w, int dstdir, const char *name,
		     const char *path, bool opaque, struct stat *cst)
{
	if (mkdirat(dstdir, name, 0700) < 0)
		return capture_escaped_fail(w->err, errno, "create copy of",
					    path);
	int fd = open_beneath(dstdir, name, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return capture_escaped_fail(w->err, -fd, "open copy of", path);
	if (fstat(fd, cst) < 0 ||
	    (opaque && fsetxattr(fd, OPAQUE_XATTR, "y", 1, 0) < 0)) {
		int e = errno;
		close(fd);
		return capture_escaped_fail(w->err, e, "copy", path);
	}
	return fd;
}

/* Copy mode: is the source directory opaque? (Nothing is removed from it.) */
bool capture_copy_src_opaque(int fd)
{
	char v[2];
	return fgetxattr(fd, OPAQUE_XATTR, v, sizeof v) == 1 && v[0] == 'y';
}

/* Copy mode failed: take back what was copied, so the store's disk is not
 * left holding it (a full disk must have room for the record). */
void capture_copy_discard(struct walker *w)
{
	if (w->dst_root < 0 || w->depth == 0)
		return;
	const struct frame *root = &w->stack[0];
	struct wsbox_error ignored = {0};
	for (size_t i = 0; i < root->n_names; i++)
		(void)rm_rf_at(w->dst_root, root->names[i], &ignored);
}
