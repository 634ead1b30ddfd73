/* layers/apply.c: apply published layers bottom-up onto a directory with
 * overlay semantics (see apply.h). Moved out of cmd_restore.c so restore and
 * flatten share one implementation of the overlay rules. */
#include "layers/apply.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/dir_modes.h"
#include "layers/layer.h"
#include "layers/manifest.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sparse.h"

#define COPY_CHUNK (1u << 20)

struct applier {
	int dir;	       /* the destination directory */
	struct dir_modes dirs; /* applied last, the topmost layer winning */
	char *buf;
	struct wsbox_error *err;
};

/* Apply one manifest entry of layer `tree` onto rs->dir. */
static int apply_entry(struct applier *rs, int tree, const struct mf_entry *e)
{
	const char *slash = strrchr(e->path, '/');
	const char *leaf = slash ? slash + 1 : e->path;
	_cleanup_free_ char *parent =
	    slash ? xasprintf("%.*s", (int)(slash - e->path), e->path) : NULL;
	_cleanup_close_ int pfd =
	    parent ? open_beneath(rs->dir, parent, O_PATH | O_DIRECTORY)
		   : fcntl(rs->dir, F_DUPFD_CLOEXEC, 3);
	if (pfd < 0)
		return wsbox_fail(rs->err, parent ? -pfd : errno,
				  "open parent of `%s`", e->path);

	struct stat st;
	bool exists = fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (!exists && errno != ENOENT)
		return wsbox_fail(rs->err, errno, "stat `%s`", e->path);
	bool keep_dir = exists && S_ISDIR(st.st_mode) && e->type == MF_DIR;
	int r;
	/* Overlay: a whiteout hides, an opaque dir replaces, any non-dir
	 * replaces; only a plain dir over a dir merges. */
	if (exists && !keep_dir) {
		r = rm_rf_at(pfd, leaf, rs->err);
		if (r < 0)
			return r;
	}
	switch (e->type) {
	case MF_WHITEOUT:
		return 0;
	case MF_DIR:
	case MF_OPAQUE_DIR:
		if (!keep_dir && mkdirat(pfd, leaf, 0700) < 0)
			return wsbox_fail(rs->err, errno, "mkdir `%s`",
					  e->path);
		dir_modes_note(&rs->dirs, e->path, e->mode);
		return 0;
	case MF_SYMLINK:
		if (symlinkat(e->target, pfd, leaf) < 0)
			return wsbox_fail(rs->err, errno, "symlink `%s`",
					  e->path);
		r = layer_stamp_at(pfd, leaf);
		if (r < 0)
			return wsbox_fail(rs->err, -r, "set time of `%s`",
					  e->path);
		return 0;
	case MF_FILE: {
		_cleanup_close_ int in = open_beneath(tree, e->path, O_RDONLY);
		if (in < 0)
			return wsbox_fail(rs->err, -in, "layer file `%s`",
					  e->path);
		_cleanup_close_ int out = openat(
		    pfd, leaf,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			return wsbox_fail(rs->err, errno, "create `%s`",
					  e->path);
		/* Holes stay holes: a task's sparse 1 TiB file restores as
		 * one, without a byte of its zeros read or written. */
		r = sparse_copy_fd(in, out, e->size, rs->buf, COPY_CHUNK);
		if (r < 0)
			return wsbox_fail(rs->err, -r, "copy `%s`", e->path);
		if (fchmod(out, e->mode) < 0)
			return wsbox_fail(rs->err, errno, "chmod `%s`",
					  e->path);
		r = layer_stamp_at(out, NULL);
		if (r < 0)
			return wsbox_fail(rs->err, -r, "set time of `%s`",
					  e->path);
		return 0;
	}
	}
	return wsbox_fail(rs->err, EINVAL, "`%s`: unknown type", e->path);
}

static int apply_layer(struct applier *rs, const struct store *s,
		       const char *digest)
{
	struct manifest m = {0};
	int r = layer_load_manifest(s, digest, &m, rs->err);
	if (r < 0)
		return r;
	_cleanup_close_ int tree = layer_open_tree(s, digest);
	if (tree < 0)
		r = wsbox_fail(rs->err, -tree, "layer %s: tree", digest);
	for (size_t i = 0; r == 0 && i < m.n; i++) {
		r = apply_entry(rs, tree, &m.e[i]);
		if (r < 0)
			wsbox_error_prefix(rs->err, "layer %s", digest);
	}
	manifest_free(&m);
	return r;
}

int layers_apply(const struct store *s, char *const *digests, size_t n,
		 int dst_dirfd, struct wsbox_error *err)
{
	struct applier rs = {.dir = dst_dirfd, .err = err};
	int r = 0;
	rs.buf = malloc(COPY_CHUNK);
	if (!rs.buf)
		r = wsbox_fail(err, ENOMEM, "copy buffer");
	/* Topmost first: apply from the bottom up. */
	for (size_t i = n; r == 0 && i > 0; i--)
		r = apply_layer(&rs, s, digests[i - 1]);
	const char *path, *step;
	if (r == 0 &&
	    (r = dir_modes_apply(&rs.dirs, rs.dir, true, &path, &step)) < 0)
		wsbox_fail(err, -r, "%s `%s`", step, path);
	dir_modes_free(&rs.dirs);
	free(rs.buf);
	return r;
}
