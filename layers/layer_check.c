/* layers/layer_check.c: a published layer's tree against its manifest and
 * its publication time, by metadata only (see layer_check.h). */
#include "layers/layer_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "layers/layer.h"
#include "layers/manifest.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

static bool after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

static bool same_kind(const struct mf_entry *e, const struct stat *st)
{
	switch (e->type) {
	case MF_FILE:
		return S_ISREG(st->st_mode) && (uint64_t)st->st_size == e->size;
	case MF_DIR:
	case MF_OPAQUE_DIR:
		return S_ISDIR(st->st_mode);
	case MF_SYMLINK:
		return S_ISLNK(st->st_mode);
	case MF_WHITEOUT:
		return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
	default:
		return false;
	}
}

static int changed(const char *digest, const char *path,
		   struct wsbox_error *err)
{
	_cleanup_free_ char *esc = manifest_escape(path[0] ? path : ".");
	return wsbox_fail_logic(err, EIO,
				"layer %s: `%s` changed since it was "
				"published (run `wsbox layers verify`)",
				digest, esc);
}

static int check_tree(int tree, const char *digest, const struct manifest *m,
		      const struct timespec *published, struct wsbox_error *err)
{
	struct stat st;
	if (fstatat(tree, "", &st, AT_EMPTY_PATH) < 0)
		return wsbox_fail(err, errno, "layer %s: tree", digest);
	if (after(&st.st_ctim, published))
		return changed(digest, "", err);
	for (size_t i = 0; i < m->n; i++) {
		const struct mf_entry *e = &m->e[i];
		/* Parents come first (pre-order): a directory swapped for a
		 * link is caught before anything below it is looked up. */
		if (fstatat(tree, e->path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT && errno != ENOTDIR)
				return wsbox_fail(err, errno, "layer %s",
						  digest);
			return changed(digest, e->path, err);
		}
		if (!same_kind(e, &st) || after(&st.st_ctim, published))
			return changed(digest, e->path, err);
	}
	return 0;
}

int layer_check(const struct store *s, const char *digest,
		struct wsbox_error *err)
{
	const char *hex = layer_digest_hex(digest);
	if (!hex)
		return wsbox_fail(err, 0, "layer `%s`: not a digest", digest);
	/* The layer dir got its last entry, the manifest, after the tree
	 * was complete (docs/capture.md "Publication"). */
	_cleanup_free_ char *dir = store_rel_join(STORE_LAYERS, hex, NULL);
	struct stat dst;
	if (fstatat(s->fd, dir, &dst, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return layer_require(s, digest, err);
		return wsbox_fail(err, errno, "layer %s", digest);
	}
	struct manifest m = {0};
	int r = layer_load_manifest(s, digest, &m, err);
	if (r < 0)
		return r;
	_cleanup_close_ int tree = layer_open_tree(s, digest);
	if (tree < 0)
		r = tree == -ENOENT
			? changed(digest, "", err)
			: wsbox_fail(err, -tree, "layer %s: tree", digest);
	else
		r = check_tree(tree, digest, &m, &dst.st_ctim, err);
	manifest_free(&m);
	return r;
}
