/* layers/remote_cache.c: cache entries in a registry (see remote.h): an
 * entry as an OCI artifact manifest tagged by its key, with its layer and
 * its logs as blobs; a remote hit is stored in the local cache. */
#include "layers/remote.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layers/import.h"
#include "layers/layer.h"
#include "layers/oci.h"
#include "layers/remote_int.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/json.h"
#include "sandbox/util/sha256.h"

static void cache_entry_freep(struct cache_entry *e)
{
	cache_entry_free(e);
}

static int push_log(struct remote *rm, const struct store *s, const char *key,
		    const char *name, struct oci_manifest *m,
		    struct wsbox_error *err)
{
	_cleanup_free_ char *rel = cache_file(key, name);
	_cleanup_close_ int fd =
	    openat(s->fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "open `%s/%s`", s->path, rel);
	m->layers =
	    xreallocarray(m->layers, m->n_layers + 1, sizeof *m->layers);
	struct oci_descriptor *d = &m->layers[m->n_layers++];
	*d = (struct oci_descriptor){.media_type = xstrdup(REMOTE_MT_LOG)};
	oci_annotate(&d->annotations, &d->n_annotations, REMOTE_ANN_TITLE,
		     name);
	int r = remote_hash_fd(fd, rel, d->digest, &d->size, err);
	if (r < 0)
		return r;
	return registry_blob_push(&rm->reg, d->digest, fd, d->size, NULL, NULL,
				  err);
}

int remote_push_cache_entry(struct remote *rm, struct store *s, const char *key,
			    struct wsbox_error *err)
{
	_cleanup_(cache_entry_freep) struct cache_entry e = {0};
	if (cache_lookup(s, key, &e) != 1)
		return wsbox_fail(err, ENOENT,
				  "cache entry %s: not in the store", key);
	struct remote_layer l = {0};
	int r;
	if (e.layer &&
	    (r = remote_push_layer(rm, s, e.layer, &l, NULL, err)) < 0)
		return r;
	_cleanup_free_ char *text = remote_json_text(json_pack(
	    "{s:i, s:s, s:o, s:o, s:I, s:I, s:f}", "version", CACHE_KEY_VERSION,
	    "key", key, "layer", json_str_or_null(e.layer), "layer_blob",
	    json_str_or_null(e.layer ? l.blob : NULL), "bytes",
	    (json_int_t)e.bytes, "files", (json_int_t)e.files, "wall_sec",
	    e.wall_sec));
	if (!text)
		return wsbox_fail(err, ENOMEM, "encode cache entry");
	_cleanup_(oci_manifest_freep) struct oci_manifest m = {
	    .artifact_type = xstrdup(REMOTE_MT_CACHE)};
	if ((r = push_log(rm, s, key, "stdout", &m, err)) < 0 ||
	    (r = push_log(rm, s, key, "stderr", &m, err)) < 0 ||
	    (r = remote_push_json_blob(rm, text, REMOTE_MT_CACHE, &m.config,
				       err)) < 0)
		return r;
	if (e.layer)
		remote_add_layer_descriptor(&m, &l);
	oci_annotate(&m.annotations, &m.n_annotations, REMOTE_ANN_KEY, key);
	char tag[REGISTRY_TAG_MAX + 1];
	remote_cache_tag(key, tag);
	return remote_put_manifest(rm, &m, tag, NULL, err);
}

static const struct oci_descriptor *log_descriptor(const struct oci_manifest *m,
						   const char *name)
{
	for (size_t i = 0; i < m->n_layers; i++) {
		const struct oci_descriptor *d = &m->layers[i];
		const char *t = oci_annotation_get(
		    d->annotations, d->n_annotations, REMOTE_ANN_TITLE);
		if (!strcmp(d->media_type, REMOTE_MT_LOG) && t &&
		    !strcmp(t, name))
			return d;
	}
	return NULL;
}

static int fetch_log(struct remote *rm, const struct attempt *att,
		     const struct oci_descriptor *d, const char *name,
		     struct wsbox_error *err)
{
	if (d->size > IMPORT_MAX_BYTES_DEFAULT)
		return wsbox_fail(err, EFBIG, "remote %s: cache %s log",
				  remote_url(rm), name);
	_cleanup_close_ int fd =
	    openat(att->dirfd, name,
		   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return wsbox_fail(err, errno, "create `%s/%s`", att->dir, name);
	return registry_blob_get_fd(&rm->reg, d->digest, d->size, fd, err);
}

/* The entry's config: the layer it names (validated), counts, timings. */
static int read_entry(struct remote *rm, const char *tag,
		      const struct oci_manifest *m, const char *key,
		      struct cache_entry *e, struct wsbox_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = registry_blob_get_mem(&rm->reg, m->config.digest,
				      REMOTE_ENTRY_MAX, &text, &len, err);
	if (r < 0)
		return r;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	const char *k = json_string_value(json_object_get(j, "key"));
	bool ok = j && k && !strcmp(k, key) &&
		  json_integer_value(json_object_get(j, "version")) ==
		      CACHE_KEY_VERSION &&
		  remote_null_or_digest(j, "layer", &e->layer);
	json_int_t v = json_integer_value(json_object_get(j, "bytes"));
	e->bytes = v > 0 ? (uint64_t)v : 0;
	v = json_integer_value(json_object_get(j, "files"));
	e->files = v > 0 ? (uint64_t)v : 0;
	e->wall_sec = json_number_value(json_object_get(j, "wall_sec"));
	json_decref(j);
	if (!ok)
		return remote_bad_object(rm, tag, "malformed cache entry", err);
	return 0;
}

static int store_entry(struct remote *rm, struct store *s,
		       const struct oci_manifest *m, const char *key,
		       const struct cache_entry *e, struct wsbox_error *err)
{
	const struct oci_descriptor *out = log_descriptor(m, "stdout");
	const struct oci_descriptor *errd = log_descriptor(m, "stderr");
	if (!out || !errd)
		return wsbox_fail(err, 0, "remote %s: cache entry %s: no logs",
				  remote_url(rm), key);
	struct attempt att = {.dirfd = -1};
	int r = attempt_create(s, &att, err);
	if (r < 0)
		return r;
	if ((r = fetch_log(rm, &att, out, "stdout", err)) == 0 &&
	    (r = fetch_log(rm, &att, errd, "stderr", err)) == 0)
		r = cache_store(s, &att, key, e, err);
	return remote_staging_end(s, &att, r, err);
}

int remote_lookup_cache(struct remote *rm, struct store *s, const char *key,
			struct cache_entry *e, struct wsbox_error *err)
{
	memset(e, 0, sizeof *e);
	if (!layer_digest_hex(key))
		return wsbox_fail(err, 0, "not a cache key: %.80s", key);
	char tag[REGISTRY_TAG_MAX + 1];
	remote_cache_tag(key, tag);
	_cleanup_(oci_manifest_freep) struct oci_manifest m = {0};
	int r = remote_get_artifact(rm, tag, REMOTE_MT_CACHE, REMOTE_ANN_KEY,
				    key, NULL, NULL, &m, err);
	if (r <= 0)
		return r;
	/* The layer first: an entry must never name a layer not there. */
	if ((r = read_entry(rm, tag, &m, key, e, err)) < 0 ||
	    (e->layer && (r = remote_pull_layer(rm, s, e->layer, err)) < 0) ||
	    (r = store_entry(rm, s, &m, key, e, err)) < 0) {
		cache_entry_free(e);
		return r;
	}
	return 1;
}
