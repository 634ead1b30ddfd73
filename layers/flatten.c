/* layers/flatten.c: merge the oldest lower layers into one cached layer (see
 * flatten.h). The merge reuses the overlay rules of layers_apply, then
 * captures and publishes the result like a task's upper dir. */
#include "layers/flatten.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/apply.h"
#include "layers/capture.h"
#include "layers/layer.h"
#include "layers/manifest.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"

/* Bumped if the merge ever changes meaning, so old entries are ignored. */
#define KEY_VERSION "wsbox-flatten 1\n"

void flatten_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* key = sha256("wsbox-flatten 1\n" + each merged digest + "\n", topmost
 * first), as 64 lowercase hex: a file name that says nothing about order
 * conventions elsewhere and cannot contain a '/'. */
static int cache_key(char *const *merged, size_t n, char hex[65],
		     struct wsbox_error *err)
{
	(void)err;
	struct sha256 md;
	unsigned char d[32];
	sha256_init(&md);
	sha256_update(&md, KEY_VERSION, strlen(KEY_VERSION));
	for (size_t i = 0; i < n; i++) {
		sha256_update(&md, merged[i], strlen(merged[i]));
		sha256_update(&md, "\n", 1);
	}
	sha256_final(&md, d);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

/* The cached merged digest for `key`, if the entry is well formed and its
 * layer is still in the store (gc may have removed it); else 0 = miss. */
static bool cache_lookup(const struct store *s, const char *key,
			 char digest[DIGEST_STRLEN])
{
	_cleanup_free_ char *rel =
	    store_rel_join(STORE_FLATTEN_CACHE, key, NULL);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	struct wsbox_error ignored;
	/* Any failure (absent, unreadable, too big) is just a miss: the
	 * entry is rebuilt and replaced. */
	if (read_file_at(s->fd, rel, DIGEST_STRLEN, &text, &len, &ignored) < 0)
		return false;
	if (len > 0 && text[len - 1] == '\n')
		text[--len] = '\0';
	if (len >= DIGEST_STRLEN || !layer_digest_hex(text) ||
	    !layer_exists(s, text))
		return false;
	memcpy(digest, text, len + 1);
	return true;
}

struct merge {
	struct store *s;
	char *const *merged;
	size_t n;
};

static int fill_merged(int tree, void *ctx, struct wsbox_error *err)
{
	const struct merge *mg = ctx;
	return layers_apply(mg->s, mg->merged, mg->n, tree, err);
}

/* Apply `merged` (topmost first) into a fresh layer and publish it as a
 * lower layer; fills `digest`. */
static int build_merged(struct store *s, char *const *merged, size_t n,
			uid_t owner_uid, gid_t owner_gid,
			char digest[DIGEST_STRLEN], struct wsbox_error *err)
{
	struct merge mg = {.s = s, .merged = merged, .n = n};
	/* Write bits stay, as for task layers: the merged layer must show the
	 * same modes as the layers it replaces. The tree was built from
	 * sanitized layers, so capture only squashes owners and hashes. */
	struct capture_options copts = {
	    .owner_uid = owner_uid,
	    .owner_gid = owner_gid,
	    .make_readonly = false,
	};
	return layer_build(s, fill_merged, &mg, &copts, digest, err);
}

size_t flatten_merge_count(size_t n, size_t max_layers)
{
	if (max_layers < 2 || n <= max_layers)
		return 0;
	/* Fewest merged layers that fit: n - (max_layers - 1). Rounded up to
	 * whole blocks counted from the bottom, so the merged set (and its
	 * cache entry) stays the same while a chain grows by up to a block
	 * on top: a 600-task chain builds 2 merged layers, not 100. */
	size_t block = max_layers / 8 ? max_layers / 8 : 1;
	size_t need = n - (max_layers - 1);
	size_t m = (need + block - 1) / block * block;
	return m < n ? m : n;
}

int flatten_lowers(struct store *s, char *const *digests, size_t n,
		   size_t max_layers, uid_t owner_uid, gid_t owner_gid,
		   char ***out, size_t *n_out, struct wsbox_error *err)
{
	*out = NULL;
	*n_out = 0;
	if (max_layers < 2)
		return wsbox_fail(err, EINVAL,
				  "flatten: at most %zu lower layers (need 2)",
				  max_layers);
	for (size_t i = 0; i < n; i++)
		if (!layer_digest_hex(digests[i]))
			return wsbox_fail(err, EINVAL,
					  "flatten: `%s`: not a digest",
					  digests[i]);
	size_t keep = n - flatten_merge_count(n, max_layers);
	char **v = xcalloc(keep + 1, sizeof *v);
	for (size_t i = 0; i < keep; i++)
		v[i] = xstrdup(digests[i]);
	if (n <= max_layers) {
		*out = v;
		*n_out = n;
		return 0;
	}

	char *const *merged = digests + keep;
	size_t n_merged = n - keep;
	char key[65];
	char digest[DIGEST_STRLEN];
	int r = cache_key(merged, n_merged, key, err);
	if (r == 0 && !cache_lookup(s, key, digest)) {
		const char *dir = store_rel(STORE_FLATTEN_CACHE);
		if (mkdirat(s->fd, dir, 0700) < 0 && errno != EEXIST)
			r = wsbox_fail(err, errno, "mkdir `%s/%s`", s->path,
				       dir);
		if (r == 0)
			r = build_merged(s, merged, n_merged, owner_uid,
					 owner_gid, digest, err);
		if (r == 0) {
			/* Written after the layer is published, so an entry
			 * never names a layer that was not complete. */
			_cleanup_free_ char *rel =
			    store_rel_join(STORE_FLATTEN_CACHE, key, NULL);
			_cleanup_free_ char *line = xasprintf("%s\n", digest);
			r = atomic_write_at(s->fd, rel, line, strlen(line),
					    0600, err);
		}
	}
	if (r < 0) {
		wsbox_error_prefix(err, "flatten %zu lower layers", n_merged);
		flatten_free(v, keep);
		return r;
	}
	bool dup = false;
	for (size_t i = 0; i < keep && !dup; i++)
		dup = !strcmp(v[i], digest);
	if (!dup)
		v[keep++] = xstrdup(digest);
	*out = v;
	*n_out = keep;
	return 0;
}
