/* layers/remote.c: wsbox objects as OCI objects (see remote.h and
 * docs/remote.md): opening a remote, the tags that name layers, records and
 * cache entries, and the manifest and blob helpers remote_layer.c,
 * remote_record.c and remote_cache.c share (remote_int.h). Everything goes
 * through layers/registry. */
#include "layers/remote.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layers/layer.h"
#include "layers/oci.h"
#include "layers/remote_int.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"

#define HASH_BUF (1UL << 20)

int remote_open(struct remote *rm, const char *url,
		const struct remote_options *o, struct wsbox_error *err)
{
	const struct remote_options none = {0};
	if (!o)
		o = &none;
	*rm = (struct remote){
	    .compression = o->compression,
	    .parallel = o->parallel ? o->parallel : REMOTE_PARALLEL,
	    .set_owner = o->set_owner,
	    .owner_uid = o->owner_uid,
	    .owner_gid = o->owner_gid,
	};
	struct registry_options ro = {.insecure = o->insecure,
				      .ca_file = o->ca_file};
	int r = registry_open(&rm->reg, url, &ro, err);
	if (r < 0)
		return r;
	if (o->mount_from)
		rm->mount_from = xstrdup(o->mount_from);
	return 0;
}

void remote_close(struct remote *rm)
{
	registry_close(&rm->reg);
	free(rm->mount_from);
	*rm = (struct remote){0};
}

const char *remote_url(const struct remote *rm)
{
	return rm->reg.url.url;
}

/* ---- tags ---- */

void remote_layer_tag(const char *digest, char tag[REGISTRY_TAG_MAX + 1])
{
	const char *hex = layer_digest_hex(digest);
	snprintf(tag, REGISTRY_TAG_MAX + 1, "layer-%s", hex ? hex : "invalid");
}

void remote_cache_tag(const char *key, char tag[REGISTRY_TAG_MAX + 1])
{
	const char *hex = layer_digest_hex(key);
	snprintf(tag, REGISTRY_TAG_MAX + 1, "cache-%s", hex ? hex : "invalid");
}

void remote_record_tag(const char *run, const char *task,
		       char tag[REGISTRY_TAG_MAX + 1])
{
	char direct[2 * 256];
	int n = snprintf(direct, sizeof direct, "run-%s.task-%s", run, task);
	/* "run-a.task-b.task-c" would name (a.task-b, c) and (a, b.task-c):
	 * split at the first ".task-", which a direct run never contains. */
	if (n > 0 && (size_t)n <= REGISTRY_TAG_MAX && !strstr(run, ".task-") &&
	    registry_tag_valid(direct)) {
		memcpy(tag, direct, (size_t)n + 1);
		return;
	}
	struct sha256 h;
	unsigned char md[32];
	sha256_init(&h);
	sha256_update(&h, run, strlen(run) + 1);
	sha256_update(&h, task, strlen(task));
	sha256_final(&h, md);
	char d[DIGEST_STRLEN];
	sha256_format(md, d);
	snprintf(tag, REGISTRY_TAG_MAX + 1, "record-%s", d + 7);
}

/* ---- shared by remote_layer.c, remote_record.c, remote_cache.c ---- */

/* Remove the staging of `att` and pass `r` on, or the removal's failure
 * when everything before it went well. */
int remote_staging_end(struct store *s, struct attempt *att, int r,
		       struct wsbox_error *err)
{
	struct wsbox_error e2 = {0};
	if (attempt_discard(s, att, &e2) < 0 && r == 0) {
		*err = e2;
		return -EIO;
	}
	return r;
}

/* Digest and size of the file `fd` (from its start). */
int remote_hash_fd(int fd, const char *what, char digest[DIGEST_STRLEN],
		   uint64_t *size, struct wsbox_error *err)
{
	_cleanup_free_ char *buf = xcalloc(1, HASH_BUF);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return wsbox_fail(err, errno, "hash `%s`", what);
	unsigned char md[32];
	unsigned long long n = 0;
	int r = sha256_fd(fd, buf, HASH_BUF, md, &n);
	if (r < 0)
		return wsbox_fail(err, -r, "hash `%s`", what);
	sha256_format(md, digest);
	*size = n;
	return 0;
}

char *remote_json_text(json_t *j)
{
	char *t = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	return t;
}

/* Push a JSON blob (config) and describe it in `d`. */
int remote_push_json_blob(struct remote *rm, const char *text,
			  const char *media_type, struct oci_descriptor *d,
			  struct wsbox_error *err)
{
	size_t len = strlen(text);
	*d = (struct oci_descriptor){.media_type = xstrdup(media_type),
				     .size = len};
	sha256_digest(text, len, d->digest);
	return registry_blob_push_mem(&rm->reg, d->digest, text, len, err);
}

int remote_put_manifest(struct remote *rm, const struct oci_manifest *m,
			const char *tag, char digest[DIGEST_STRLEN],
			struct wsbox_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = oci_manifest_encode(m, &text, &len, err);
	if (r < 0)
		return r;
	return registry_manifest_put(&rm->reg, tag, OCI_MT_MANIFEST, text, len,
				     digest, err);
}

/* GET and parse manifest `tag`: 1, 0 when absent, or an error. */
int remote_get_manifest(struct remote *rm, const char *tag,
			struct oci_manifest *m, char digest[DIGEST_STRLEN],
			struct wsbox_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	struct wsbox_error e = {0};
	int r = registry_manifest_get(&rm->reg, tag, &text, &len, digest, &e);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		*err = e;
		return r;
	}
	r = oci_manifest_parse(text, len, m, err);
	if (r < 0) {
		wsbox_error_prefix(err, "remote %s: %s", remote_url(rm), tag);
		return r;
	}
	return 1;
}

int remote_bad_object(struct remote *rm, const char *tag, const char *why,
		      struct wsbox_error *err)
{
	wsbox_fail(err, 0, "remote %s: %s: %s", remote_url(rm), tag, why);
	return -EPROTO;
}

/* A layer descriptor for `l`, naming its wsbox digest too. */
void remote_add_layer_descriptor(struct oci_manifest *m,
				 const struct remote_layer *l)
{
	m->layers =
	    xreallocarray(m->layers, m->n_layers + 1, sizeof *m->layers);
	struct oci_descriptor *d = &m->layers[m->n_layers++];
	*d = (struct oci_descriptor){.media_type = xstrdup(l->media_type),
				     .size = l->size};
	strcpy(d->digest, l->blob);
	oci_annotate(&d->annotations, &d->n_annotations, REMOTE_ANN_LAYER,
		     l->layer);
}

char *remote_jdup(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? xstrdup(v) : NULL;
}

bool remote_null_or_digest(json_t *o, const char *key, char **out)
{
	json_t *v = json_object_get(o, key);
	if (json_is_null(v) || !v)
		return true;
	*out = remote_jdup(o, key);
	return *out && layer_digest_hex(*out);
}

/* The artifact manifest `tag` of type `type` whose annotation `ann_key`
 * is `ann_value` (and `ann2_key`/`ann2_value` when set): 1, or 0 when the
 * tag is absent. */
int remote_get_artifact(struct remote *rm, const char *tag, const char *type,
			const char *ann_key, const char *ann_value,
			const char *ann2_key, const char *ann2_value,
			struct oci_manifest *m, struct wsbox_error *err)
{
	int r = remote_get_manifest(rm, tag, m, NULL, err);
	if (r <= 0)
		return r;
	const char *a =
	    oci_annotation_get(m->annotations, m->n_annotations, ann_key);
	const char *a2 =
	    ann2_key
		? oci_annotation_get(m->annotations, m->n_annotations, ann2_key)
		: NULL;
	if (!m->artifact_type || strcmp(m->artifact_type, type) ||
	    strcmp(m->config.media_type, type))
		r = remote_bad_object(rm, tag,
				      "not a wsbox artifact of this kind", err);
	else if (!a || strcmp(a, ann_value) ||
		 (ann2_key && (!a2 || strcmp(a2, ann2_value))))
		r = remote_bad_object(rm, tag, "holds another object", err);
	if (r < 0)
		oci_manifest_free(m);
	return r;
}
