/* layers/layer.c: publishing and reading layers (see layer.h). */
#include "layers/layer.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

#define MANIFEST_FILE_MAX (1024UL * 1024 * 1024)

const char *layer_digest_hex(const char *digest)
{
	if (!digest || strncmp(digest, "sha256:", 7))
		return NULL;
	const char *hex = digest + 7;
	if (strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
		return NULL;
	return hex;
}

int layer_stamp_at(int dirfd, const char *name)
{
	static const struct timespec t[2] = {{.tv_sec = LAYER_MTIME},
					     {.tv_sec = LAYER_MTIME}};
	int r = name ? utimensat(dirfd, name, t, AT_SYMLINK_NOFOLLOW)
		     : futimens(dirfd, t);
	return r < 0 ? -errno : 0;
}

bool layer_name_valid(const char *name)
{
	return strlen(name) == 64 && strspn(name, "0123456789abcdef") == 64;
}

/* A logical failure (README "Exit status": no errno text): the message,
 * with -errnum returned and kept in err->errnum for the caller to test. */
static int resolve_fail(struct wsbox_error *err, int errnum, const char *arg,
			const char *why)
{
	wsbox_fail(err, 0, "layer `%s`: %s", arg, why);
	err->errnum = errnum;
	return -errnum;
}

int layer_resolve_digest(const struct store *s, const char *arg,
			 char out[DIGEST_STRLEN], struct wsbox_error *err)
{
	const char *hex = strncmp(arg, "sha256:", 7) ? arg : arg + 7;
	size_t len = strlen(hex);
	if (len > 64 || strspn(hex, "0123456789abcdefABCDEF") != len)
		return resolve_fail(err, EINVAL, arg, "not a layer digest");
	if (len < LAYER_PREFIX_MIN) {
		char why[64];
		snprintf(why, sizeof why,
			 "digest prefix too short (at least %d hex digits)",
			 LAYER_PREFIX_MIN);
		return resolve_fail(err, EINVAL, arg, why);
	}
	char want[65];
	for (size_t i = 0; i <= len; i++)
		want[i] = (char)tolower((unsigned char)hex[i]);
	if (len == 64) {
		snprintf(out, DIGEST_STRLEN, "sha256:%s", want);
		return 0;
	}
	char **names;
	size_t n;
	struct wsbox_error lerr = {0};
	int r = list_dir_at(s->fd, store_rel(STORE_LAYERS), layer_name_valid,
			    &names, &n, &lerr);
	if (r < 0 && r != -ENOENT) { /* no layers/ yet: no layer matches */
		*err = lerr;
		return r;
	}
	size_t hits = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(names[i], want, len))
			continue;
		if (hits++ == 0)
			snprintf(out, DIGEST_STRLEN, "sha256:%s", names[i]);
	}
	free_strings(names, n);
	if (hits == 0)
		return resolve_fail(err, ENOENT, arg, "no such layer");
	if (hits > 1) {
		char why[64];
		snprintf(why, sizeof why, "ambiguous prefix (%zu layers match)",
			 hits);
		return resolve_fail(err, ENOTUNIQ, arg, why);
	}
	return 0;
}

char *layer_tree_path(const struct store *s, const char *digest)
{
	return store_path_join(s, STORE_LAYERS, layer_digest_hex(digest),
			       "tree");
}

bool layer_exists(const struct store *s, const char *digest)
{
	const char *hex = layer_digest_hex(digest);
	if (!hex)
		return false;
	_cleanup_free_ char *m = store_rel_join(STORE_LAYERS, hex, "manifest");
	_cleanup_free_ char *t = store_rel_join(STORE_LAYERS, hex, "tree");
	return faccessat(s->fd, m, F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
	       faccessat(s->fd, t, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int layer_fail_nospace(const struct store *s, struct wsbox_error *err)
{
	wsbox_fail(err, 0, "store %s: no space left on device", s->path);
	err->errnum = ENOSPC;
	return -ENOSPC;
}

/* Steps 3 to 5 of docs/capture.md "Publication": every write goes to the
 * attempt's publish/ dir, and the one rename into layers/ comes last, so a
 * failure at any step (a full disk) leaves nothing under layers/; the
 * caller discards the staging dir. */
struct before_sync {
	int (*fn)(void *ctx, const char *digest, struct wsbox_error *err);
	void *ctx;
	bool *synced;
};

static int publish_staged(struct store *s, struct attempt *a,
			  const char *tree_name, const char *text, size_t len,
			  const char *digest, const struct before_sync *hook,
			  struct wsbox_error *err)
{
	const char *hex = layer_digest_hex(digest);
	if (mkdirat(a->dirfd, "publish", 0755) < 0 && errno != EEXIST)
		return wsbox_fail(err, errno, "mkdir `%s/publish`", a->dir);
	if (renameat(a->dirfd, tree_name, a->dirfd, "publish/tree") < 0)
		return wsbox_fail(err, errno, "move captured tree");
	/* Not flushed on its own: publish/ is private until the rename below,
	 * and the syncfs before it covers the manifest too (two flushes less
	 * per published layer, README "Performance"). */
	if (unlinkat(a->dirfd, "publish/manifest", 0) < 0 && errno != ENOENT)
		return wsbox_fail(err, errno, "remove `%s/publish/manifest`",
				  a->dir);
	int r = write_new_file_at(a->dirfd, "publish/manifest", text, len, 0444,
				  err);
	if (r < 0)
		return r;
	if (hook->fn && (r = hook->fn(hook->ctx, digest, err)) < 0)
		return r;
	/* One syncfs makes every file of the tree durable before the rename
	 * makes the layer visible: a power cut leaves the whole layer or
	 * none, at the cost of one flush instead of one fsync per file. */
	if (syncfs(a->dirfd) < 0)
		return wsbox_fail(err, errno, "syncfs `%s`", s->path);
	if (hook->synced)
		*hook->synced = true;
	_cleanup_free_ char *src =
	    store_rel_join(STORE_STAGING, a->id, "publish");
	_cleanup_free_ char *dst = store_rel_join(STORE_LAYERS, hex, NULL);
	if (renameat(s->fd, src, s->fd, dst) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			return 0; /* a concurrent identical publish won */
		return wsbox_fail(err, errno, "publish layer %s", digest);
	}
	return fsync_dir_at(s->fd, store_rel(STORE_LAYERS), err);
}

int layer_publish(struct store *s, struct attempt *a, const char *tree_name,
		  const struct manifest *m, char digest[DIGEST_STRLEN],
		  struct wsbox_error *err)
{
	return layer_publish_sync(s, a, tree_name, m, digest, NULL, NULL, NULL,
				  err);
}

int layer_publish_sync(struct store *s, struct attempt *a,
		       const char *tree_name, const struct manifest *m,
		       char digest[DIGEST_STRLEN],
		       int (*before_sync)(void *ctx, const char *digest,
					  struct wsbox_error *err),
		       void *ctx, bool *synced, struct wsbox_error *err)
{
	struct before_sync hook = {before_sync, ctx, synced};
	if (synced)
		*synced = false;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = manifest_serialize(m, &text, &len, err);
	if (r < 0)
		return r;
	manifest_digest(text, len, digest);

	/* Already in the store (same content from another task or run):
	 * nothing to publish, the staging copy is dropped by the caller. */
	if (layer_exists(s, digest))
		return 0;
	r = publish_staged(s, a, tree_name, text, len, digest, &hook, err);
	if (r == -ENOSPC || (r < 0 && err->errnum == ENOSPC))
		return layer_fail_nospace(s, err);
	return r;
}

/* The tree's root is not an entry of the manifest, but a lower whose root
 * the task's ids cannot enter is useless: it gets what a task's upper dir
 * gets. */
static int build_own_root(int tree, const struct capture_options *opts,
			  const char *path, struct wsbox_error *err)
{
	if (opts->owner_uid == (uid_t)-1)
		return 0;
	struct stat st;
	if (fstat(tree, &st) < 0)
		return wsbox_fail(err, errno, "stat `%s`", path);
	if ((st.st_uid != opts->owner_uid || st.st_gid != opts->owner_gid) &&
	    fchown(tree, opts->owner_uid, opts->owner_gid) < 0)
		return wsbox_fail(err, errno, "chown `%s`", path);
	return 0;
}

static int build_in(struct store *s, struct attempt *a, layer_fill_fn *fill,
		    void *ctx, const struct capture_options *opts,
		    char digest[DIGEST_STRLEN], struct wsbox_error *err)
{
	_cleanup_close_ int tree = openat(
	    a->dirfd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tree < 0)
		return wsbox_fail(err, errno, "open `%s`", a->upper);
	int r = fill(tree, ctx, err);
	if (r < 0)
		return r;
	r = build_own_root(tree, opts, a->upper, err);
	if (r < 0)
		return r;
	struct manifest m = {0};
	struct capture_stats st;
	r = capture_tree(tree, opts, &m, &st, err);
	if (r == 0)
		r = layer_publish(s, a, "upper", &m, digest, err);
	manifest_free(&m);
	return r;
}

int layer_build(struct store *s, layer_fill_fn *fill, void *ctx,
		const struct capture_options *opts, char digest[DIGEST_STRLEN],
		struct wsbox_error *err)
{
	struct attempt a;
	int r = attempt_create(s, &a, err);
	if (r < 0)
		return r;
	r = build_in(s, &a, fill, ctx, opts, digest, err);
	/* The first failure is the one to report. */
	struct wsbox_error derr = {0};
	int d = attempt_discard(s, &a, r < 0 ? &derr : err);
	return r < 0 ? r : d;
}

void layer_empty_digest(char out[DIGEST_STRLEN])
{
	struct manifest m = {0};
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	struct wsbox_error err = {0};
	/* Serializing nothing cannot fail (no entry to refuse). */
	if (manifest_serialize(&m, &text, &len, &err) < 0)
		abort();
	manifest_digest(text, len, out);
}

int layer_require(const struct store *s, const char *digest,
		  struct wsbox_error *err)
{
	if (!layer_exists(s, digest)) {
		wsbox_fail(err, 0, "layer %s: missing", digest);
		err->errnum = ENOENT;
		return -ENOENT;
	}
	return 0;
}

int layer_open_tree(const struct store *s, const char *digest)
{
	const char *hex = layer_digest_hex(digest);
	if (!hex)
		return -EINVAL;
	_cleanup_free_ char *rel = store_rel_join(STORE_LAYERS, hex, "tree");
	return open_beneath(s->fd, rel, O_PATH | O_DIRECTORY);
}

int layer_read_manifest(const struct store *s, const char *digest, char **text,
			size_t *len, struct wsbox_error *err)
{
	*text = NULL;
	const char *hex = layer_digest_hex(digest);
	if (!hex)
		return wsbox_fail(err, 0, "layer `%s`: not a digest", digest);
	_cleanup_free_ char *path =
	    store_rel_join(STORE_LAYERS, hex, "manifest");
	_cleanup_free_ char *buf = NULL;
	int r = read_file_at(s->fd, path, MANIFEST_FILE_MAX, &buf, len, err);
	if (r < 0) {
		if (r == -ENOENT) {
			wsbox_fail(err, 0, "layer %s: missing", digest);
			err->errnum = ENOENT;
		}
		return r;
	}
	char got[DIGEST_STRLEN];
	manifest_digest(buf, *len, got);
	if (strcmp(got, digest))
		return wsbox_fail(err, EIO,
				  "layer %s: manifest hashes to %s (corrupt)",
				  digest, got);
	*text = buf;
	buf = NULL;
	return 0;
}

int layer_load_manifest(const struct store *s, const char *digest,
			struct manifest *m, struct wsbox_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = layer_read_manifest(s, digest, &text, &len, err);
	if (r < 0)
		return r;
	return manifest_parse(text, len, m, err);
}
