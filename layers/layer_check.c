/* layers/layer_check.c: a published layer's tree against its publication
 * time, by metadata only (see layer_check.h): one lstat per entry, no
 * manifest, no content. */
#include "layers/layer_check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
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

static int changed(const char *digest, const char *path,
		   struct wsbox_error *err)
{
	_cleanup_free_ char *esc = manifest_escape(path[0] ? path : ".");
	return wsbox_fail_logic(err, EIO,
				"layer %s: `%s` changed since it was "
				"published",
				digest, esc);
}

/* Overlay makes every whiteout of a mount a hard link of one inode in its
 * work dir, whose removal with the attempt, after publication, sets that
 * inode's ctime. A whiteout holds nothing to change; replacing it changes
 * its directory. */
static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

struct walk {
	int tree;
	const char *digest;
	const struct timespec *published;
	char **dirs; /* still to list, relative to the tree ("" = root) */
	size_t n, cap;
	unsigned char *buf;
	struct wsbox_error *err;
};

#define CHECK_DIRENT_BUF (32u * 1024)

static void push_dir(struct walk *w, char *path)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->dirs = xreallocarray(w->dirs, w->cap, sizeof *w->dirs);
	}
	w->dirs[w->n++] = path;
}

/* One directory: every entry's ctime (its own lstat, relative to the
 * directory's fd), subdirectories queued. A directory swapped for a link
 * is a new inode, caught here before anything is looked up below it. */
static int check_dir(struct walk *w, const char *path)
{
	int fd = path[0]
		     ? open_beneath(w->tree, path, O_RDONLY | O_DIRECTORY)
		     : openat(w->tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return changed(w->digest, path, w->err);
	_cleanup_close_ int dfd = fd;
	for (;;) {
		ssize_t got = getdents64(dfd, w->buf, CHECK_DIRENT_BUF);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return wsbox_fail(w->err, errno, "layer %s: list",
					  w->digest);
		if (got == 0)
			return 0;
		for (ssize_t off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(w->buf + off);
			off += d->d_reclen;
			const char *name = d->d_name;
			if (!strcmp(name, ".") || !strcmp(name, ".."))
				continue;
			struct stat st;
			if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    (!is_whiteout(&st) &&
			     after(&st.st_ctim, w->published))) {
				_cleanup_free_ char *p =
				    path[0] ? xasprintf("%s/%s", path, name)
					    : xstrdup(name);
				return changed(w->digest, p, w->err);
			}
			if (S_ISDIR(st.st_mode))
				push_dir(w, path[0]
						? xasprintf("%s/%s", path, name)
						: xstrdup(name));
		}
	}
}

static int check_tree(int tree, const char *digest,
		      const struct timespec *published, struct wsbox_error *err)
{
	struct stat st;
	if (fstatat(tree, "", &st, AT_EMPTY_PATH) < 0)
		return wsbox_fail(err, errno, "layer %s: tree", digest);
	if (after(&st.st_ctim, published))
		return changed(digest, "", err);
	struct walk w = {
	    .tree = tree,
	    .digest = digest,
	    .published = published,
	    .buf = xcalloc(1, CHECK_DIRENT_BUF),
	    .err = err,
	};
	push_dir(&w, xstrdup(""));
	int r = 0;
	while (r == 0 && w.n > 0) {
		char *path = w.dirs[--w.n];
		r = check_dir(&w, path);
		free(path);
	}
	free_strings(w.dirs, w.n);
	free(w.buf);
	return r;
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
	_cleanup_close_ int tree = layer_open_tree(s, digest);
	if (tree < 0)
		return tree == -ENOENT
			   ? changed(digest, "", err)
			   : wsbox_fail(err, -tree, "layer %s: tree", digest);
	return check_tree(tree, digest, &dst.st_ctim, err);
}
