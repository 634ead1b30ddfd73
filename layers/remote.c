/* layers/remote.c: wsbox layers, records and cache entries as OCI objects
 * (see remote.h and docs/remote.md). Layers go through the public export
 * and import of layers/archive.h (the hostile-input import is the one
 * `wsbox layers import` uses); everything else through layers/registry. */
#include "layers/remote.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "layers/export.h"
#include "layers/import.h"
#include "layers/layer.h"
#include "layers/oci.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/json.h"
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

static const char *rm_url(const struct remote *rm)
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

/* ---- small helpers ---- */

static void record_freep(struct task_record *r)
{
	record_free(r);
}

static void cache_entry_freep(struct cache_entry *e)
{
	cache_entry_free(e);
}

/* Remove the staging of `att` and pass `r` on, or the removal's failure
 * when everything before it went well. */
static int staging_end(struct store *s, struct attempt *att, int r,
		       struct wsbox_error *err)
{
	struct wsbox_error e2 = {0};
	if (attempt_discard(s, att, &e2) < 0 && r == 0) {
		*err = e2;
		return -EIO;
	}
	return r;
}

static const char *oci_arch(void)
{
	static struct utsname u;
	if (uname(&u) < 0)
		return "unknown";
	if (!strcmp(u.machine, "x86_64"))
		return "amd64";
	if (!strcmp(u.machine, "aarch64"))
		return "arm64";
	return u.machine;
}

/* Digest and size of the file `fd` (from its start). */
static int hash_fd(int fd, const char *what, char digest[DIGEST_STRLEN],
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

static char *json_text(json_t *j)
{
	char *t = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	return t;
}

/* Push a JSON blob (config) and describe it in `d`. */
static int push_json_blob(struct remote *rm, const char *text,
			  const char *media_type, struct oci_descriptor *d,
			  struct wsbox_error *err)
{
	size_t len = strlen(text);
	*d = (struct oci_descriptor){.media_type = xstrdup(media_type),
				     .size = len};
	sha256_digest(text, len, d->digest);
	return registry_blob_push_mem(&rm->reg, d->digest, text, len, err);
}

static int put_manifest(struct remote *rm, const struct oci_manifest *m,
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
static int get_manifest(struct remote *rm, const char *tag,
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
		wsbox_error_prefix(err, "remote %s: %s", rm_url(rm), tag);
		return r;
	}
	return 1;
}

static int bad_object(struct remote *rm, const char *tag, const char *why,
		      struct wsbox_error *err)
{
	wsbox_fail(err, 0, "remote %s: %s: %s", rm_url(rm), tag, why);
	return -EPROTO;
}

/* The static spelling of a layer media type wsbox reads, or NULL. */
static const char *layer_media_type(const char *mt)
{
	if (!strcmp(mt, OCI_MT_LAYER_ZSTD))
		return OCI_MT_LAYER_ZSTD;
	if (!strcmp(mt, OCI_MT_LAYER_GZIP))
		return OCI_MT_LAYER_GZIP;
	return NULL;
}

static const char *compression_media_type(enum remote_compression c)
{
	return c == REMOTE_GZIP ? OCI_MT_LAYER_GZIP : OCI_MT_LAYER_ZSTD;
}

/* A layer descriptor for `l`, naming its wsbox digest too. */
static void add_layer_descriptor(struct oci_manifest *m,
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

/* ---- layers ---- */

int remote_find_layer(struct remote *rm, const char *digest,
		      struct remote_layer *out, struct wsbox_error *err)
{
	if (!layer_digest_hex(digest))
		return wsbox_fail(err, 0, "not a layer digest: %.80s", digest);
	char tag[REGISTRY_TAG_MAX + 1];
	remote_layer_tag(digest, tag);
	struct oci_manifest m = {0};
	char md[DIGEST_STRLEN];
	int r = get_manifest(rm, tag, &m, md, err);
	if (r <= 0)
		return r;
	const char *ann = oci_annotation_get(m.annotations, m.n_annotations,
					     REMOTE_ANN_LAYER);
	if (m.n_layers != 1 || !layer_media_type(m.layers[0].media_type))
		r = bad_object(rm, tag, "not a one-layer wsbox image", err);
	else if (m.layers[0].size > IMPORT_MAX_BYTES_DEFAULT)
		r = bad_object(rm, tag,
			       "layer blob larger than the import "
			       "budget",
			       err);
	else if (!ann || strcmp(ann, digest))
		r = bad_object(rm, tag, "names another wsbox layer", err);
	if (r == 1 && out) {
		*out = (struct remote_layer){
		    .size = m.layers[0].size,
		    .media_type = layer_media_type(m.layers[0].media_type)};
		strcpy(out->layer, digest);
		strcpy(out->blob, m.layers[0].digest);
		strcpy(out->manifest, md);
	}
	oci_manifest_free(&m);
	return r;
}

/* The minimal image config skopeo, podman and umoci accept: the layer's
 * uncompressed digest as its one diff_id. */
static char *image_config(const char *diff_id)
{
	return json_text(json_pack("{s:s, s:s, s:{s:s, s:[s]}, s:{}}",
				   "architecture", oci_arch(), "os", "linux",
				   "rootfs", "type", "layers", "diff_ids",
				   diff_id, "config"));
}

/* Export the layer twice into staging: as plain tar for its diff_id, then
 * compressed as the blob; `fd` is left open on the blob. */
static int export_blob(struct remote *rm, const struct store *s,
		       const struct attempt *att, const char *digest,
		       char diff_id[DIGEST_STRLEN], struct remote_layer *l,
		       int *fd, struct wsbox_error *err)
{
	_cleanup_free_ char *plain = xasprintf("%s/layer.tar", att->dir);
	_cleanup_free_ char *blob =
	    xasprintf("%s/layer.tar.%s", att->dir,
		      rm->compression == REMOTE_GZIP ? "gz" : "zst");
	uint64_t size = 0;
	int r = export_layer(s, digest, plain, err);
	if (r < 0)
		return r;
	_cleanup_close_ int pfd = open(plain, O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return wsbox_fail(err, errno, "open `%s`", plain);
	r = hash_fd(pfd, plain, diff_id, &size, err);
	unlink(plain);
	if (r < 0)
		return r;
	r = export_layer(s, digest, blob, err);
	if (r < 0)
		return r;
	*fd = open(blob, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return wsbox_fail(err, errno, "open `%s`", blob);
	return hash_fd(*fd, blob, l->blob, &l->size, err);
}

static int push_layer_image(struct remote *rm, struct store *s,
			    const struct attempt *att, const char *digest,
			    struct remote_layer *l, uint64_t *sent,
			    struct wsbox_error *err)
{
	char diff_id[DIGEST_STRLEN];
	_cleanup_close_ int fd = -1;
	int r = export_blob(rm, s, att, digest, diff_id, l, &fd, err);
	if (r < 0) {
		wsbox_error_prefix(err, "remote %s: push layer %s", rm_url(rm),
				   digest);
		return r;
	}
	r = registry_blob_push(&rm->reg, l->blob, fd, l->size, rm->mount_from,
			       sent, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *cfg = image_config(diff_id);
	if (!cfg)
		return wsbox_fail(err, ENOMEM, "image config");
	_cleanup_(oci_manifest_freep) struct oci_manifest m = {0};
	r = push_json_blob(rm, cfg, OCI_MT_CONFIG, &m.config, err);
	if (r < 0)
		return r;
	l->media_type = compression_media_type(rm->compression);
	add_layer_descriptor(&m, l);
	oci_annotate(&m.annotations, &m.n_annotations, REMOTE_ANN_LAYER,
		     digest);
	char tag[REGISTRY_TAG_MAX + 1];
	remote_layer_tag(digest, tag);
	return put_manifest(rm, &m, tag, l->manifest, err);
}

/* Export a layer the registry lacks into staging and push it. */
static int push_new_layer(struct remote *rm, struct store *s,
			  const char *digest, struct remote_layer *l,
			  uint64_t *sent, struct wsbox_error *err)
{
	int r = layer_require(s, digest, err);
	if (r < 0)
		return r;
	*l = (struct remote_layer){0};
	strcpy(l->layer, digest);
	struct attempt att = {.dirfd = -1};
	r = attempt_create(s, &att, err);
	if (r < 0)
		return r;
	r = push_layer_image(rm, s, &att, digest, l, sent, err);
	return staging_end(s, &att, r, err);
}

int remote_push_layer(struct remote *rm, struct store *s, const char *digest,
		      struct remote_layer *out, uint64_t *sent,
		      struct wsbox_error *err)
{
	struct remote_layer l;
	if (sent)
		*sent = 0;
	int r = remote_find_layer(rm, digest, &l, err);
	/* Tagged and its blob still there: nothing to export or upload. */
	if (r == 1)
		r = registry_blob_exists(&rm->reg, l.blob, NULL, err);
	if (r == 0)
		r = push_new_layer(rm, s, digest, &l, sent, err);
	if (r < 0)
		return r;
	if (out)
		*out = l;
	return 0;
}

struct pull_item {
	const char *digest;
	struct remote_layer l;
	char *path;
};

/* Import the verified blob and check it is the layer asked for. */
static int import_checked(struct remote *rm, struct store *s,
			  const struct pull_item *it, struct wsbox_error *err)
{
	char got[DIGEST_STRLEN];
	uid_t ou = rm->set_owner ? rm->owner_uid : s->owner_uid;
	gid_t og = rm->set_owner ? rm->owner_gid : s->owner_gid;
	int r = import_layer(s, it->path, ou, og, got, err);
	if (r < 0) {
		wsbox_error_prefix(err, "remote %s: layer %s", rm_url(rm),
				   it->digest);
		return r;
	}
	if (strcmp(got, it->digest)) {
		wsbox_fail(err, 0,
			   "remote %s: layer %s: blob %s imports as layer %s: "
			   "refused",
			   rm_url(rm), it->digest, it->l.blob, got);
		return -EBADMSG;
	}
	return 0;
}

static void close_xfers(struct registry_xfer *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (x[i].fd >= 0)
			close(x[i].fd);
	free(x);
}

/* Download every item's blob into staging (verified), then import them. */
static int pull_staged(struct remote *rm, struct store *s,
		       const struct attempt *att, struct pull_item *items,
		       size_t n, struct wsbox_error *err)
{
	struct registry_xfer *x = xcalloc(n + 1, sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i].fd = -1;
	for (size_t i = 0; i < n; i++) {
		/* The import tells the compression from the bytes. */
		items[i].path = xasprintf("%s/blob-%zu", att->dir, i);
		x[i].digest = items[i].l.blob;
		x[i].max = items[i].l.size;
		x[i].fd = open(items[i].path,
			       O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (x[i].fd < 0) {
			int r = wsbox_fail(err, errno, "create `%s`",
					   items[i].path);
			close_xfers(x, n);
			return r;
		}
	}
	int r = registry_blob_get_many(&rm->reg, x, n, rm->parallel, err);
	close_xfers(x, n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = import_checked(rm, s, &items[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

struct pull_list {
	struct pull_item *items;
	size_t n;
};

static void pull_list_free(struct pull_list *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->items[i].path);
	free(p->items);
}

/* The layers of `digests` that `s` lacks, each once, found in the remote. */
static int pull_list_make(struct remote *rm, const struct store *s,
			  char *const *digests, size_t n, struct pull_list *p,
			  struct wsbox_error *err)
{
	p->items = xcalloc(n + 1, sizeof *p->items);
	for (size_t i = 0; i < n; i++) {
		bool seen = layer_exists(s, digests[i]);
		for (size_t j = 0; j < p->n && !seen; j++)
			seen = !strcmp(p->items[j].digest, digests[i]);
		if (seen)
			continue;
		struct pull_item *it = &p->items[p->n++];
		it->digest = digests[i];
		int r = remote_find_layer(rm, digests[i], &it->l, err);
		if (r < 0)
			return r;
		if (r == 0)
			return wsbox_fail(err, 0,
					  "remote %s: layer %s: not in the "
					  "registry",
					  rm_url(rm), digests[i]);
	}
	return 0;
}

int remote_pull_layers(struct remote *rm, struct store *s, char *const *digests,
		       size_t n, struct wsbox_error *err)
{
	_cleanup_(pull_list_free) struct pull_list p = {0};
	int r = pull_list_make(rm, s, digests, n, &p, err);
	if (r < 0 || p.n == 0)
		return r;
	struct attempt att = {.dirfd = -1};
	r = attempt_create(s, &att, err);
	if (r < 0)
		return r;
	r = pull_staged(rm, s, &att, p.items, p.n, err);
	return staging_end(s, &att, r, err);
}

int remote_pull_layer(struct remote *rm, struct store *s, const char *digest,
		      struct wsbox_error *err)
{
	char *v[1] = {(char *)digest};
	return remote_pull_layers(rm, s, v, 1, err);
}

/* ---- records ---- */

static json_t *record_json(const struct task_record *r)
{
	json_t *anc = json_array();
	for (size_t i = 0; i < r->n_ancestors; i++) {
		const struct record_node *n = &r->ancestors[i];
		json_array_append_new(
		    anc, json_pack("{s:s, s:o, s:o}", "task", n->task, "layer",
				   json_str_or_null(n->layer), "parents",
				   json_strv(n->parents, n->n_parents)));
	}
	return json_pack(
	    "{s:i, s:s, s:s, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:i, s:i,"
	    " s:b, s:b, s:o, s:f, s:f, s:f, s:I, s:I, s:I}",
	    "version", RECORD_VERSION, "run", r->run, "task", r->task,
	    "attempt", json_str_or_null(r->attempt), "seq", (json_int_t)r->seq,
	    "parents", json_strv(r->parents, r->n_parents), "ancestors", anc,
	    "lowers", json_strv(r->lowers, r->n_lowers), "layer",
	    json_str_or_null(r->layer), "status", json_str_or_null(r->status),
	    "exit_code", r->exit_code, "signal", r->signal, "ro", r->ro,
	    "cache_hit", r->cache_hit, "cache_key",
	    json_str_or_null(r->cache_key), "started", r->started, "wall_sec",
	    r->wall_sec, "cpu_sec", r->cpu_sec, "bytes", (json_int_t)r->bytes,
	    "files", (json_int_t)r->files, "max_rss_kb",
	    (json_int_t)r->max_rss_kb);
}

int remote_push_record(struct remote *rm, struct store *s, const char *run,
		       const char *task, struct wsbox_error *err)
{
	_cleanup_(record_freep) struct task_record rec = {0};
	int r = record_read(s, run, task, &rec, err);
	if (r < 0)
		return r;
	struct remote_layer l = {0};
	if (rec.layer &&
	    (r = remote_push_layer(rm, s, rec.layer, &l, NULL, err)) < 0)
		return r;
	_cleanup_free_ char *text = json_text(record_json(&rec));
	if (!text)
		return wsbox_fail(err, ENOMEM, "encode record of task %s",
				  task);
	_cleanup_(oci_manifest_freep) struct oci_manifest m = {
	    .artifact_type = xstrdup(REMOTE_MT_RECORD)};
	r = push_json_blob(rm, text, REMOTE_MT_RECORD, &m.config, err);
	if (r < 0)
		return r;
	if (rec.layer) {
		add_layer_descriptor(&m, &l);
		oci_annotate(&m.annotations, &m.n_annotations, REMOTE_ANN_LAYER,
			     rec.layer);
	}
	oci_annotate(&m.annotations, &m.n_annotations, REMOTE_ANN_RUN, run);
	oci_annotate(&m.annotations, &m.n_annotations, REMOTE_ANN_TASK, task);
	char tag[REGISTRY_TAG_MAX + 1];
	remote_record_tag(run, task, tag);
	return put_manifest(rm, &m, tag, NULL, err);
}

static char *jdup(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? xstrdup(v) : NULL;
}

/* A list of names (`names`) or of layer digests; false when malformed. */
static bool jlist(json_t *o, const char *key, bool names, char ***out,
		  size_t *n)
{
	json_t *a = json_object_get(o, key);
	if (!json_is_array(a))
		return false;
	*n = json_array_size(a);
	*out = xcalloc(*n + 1, sizeof **out);
	for (size_t i = 0; i < *n; i++) {
		const char *v = json_string_value(json_array_get(a, i));
		if (!v || (names ? !valid_name(v) : !layer_digest_hex(v)))
			return false;
		(*out)[i] = xstrdup(v);
	}
	return true;
}

static bool null_or_digest(json_t *o, const char *key, char **out)
{
	json_t *v = json_object_get(o, key);
	if (json_is_null(v) || !v)
		return true;
	*out = jdup(o, key);
	return *out && layer_digest_hex(*out);
}

static bool parse_node(json_t *a, struct record_node *n)
{
	n->task = jdup(a, "task");
	return n->task && valid_name(n->task) &&
	       null_or_digest(a, "layer", &n->layer) &&
	       jlist(a, "parents", true, &n->parents, &n->n_parents);
}

static bool parse_record(json_t *j, struct task_record *r)
{
	static const char *const statuses[] = {"succeeded", "failed",
					       "timeout"};
	r->run = jdup(j, "run");
	r->task = jdup(j, "task");
	r->attempt = jdup(j, "attempt");
	r->status = jdup(j, "status");
	bool ok = r->run && valid_name(r->run) && r->task &&
		  valid_name(r->task) && r->status &&
		  (!r->attempt || valid_name(r->attempt));
	bool known = false;
	for (size_t i = 0; ok && i < ARRAY_SIZE(statuses); i++)
		known = known || !strcmp(r->status, statuses[i]);
	ok = ok && known &&
	     jlist(j, "parents", true, &r->parents, &r->n_parents);
	ok = ok && jlist(j, "lowers", false, &r->lowers, &r->n_lowers);
	ok = ok && null_or_digest(j, "layer", &r->layer) &&
	     null_or_digest(j, "cache_key", &r->cache_key);
	json_t *anc = json_object_get(j, "ancestors");
	ok = ok && json_is_array(anc);
	if (ok) {
		r->n_ancestors = json_array_size(anc);
		r->ancestors =
		    xcalloc(r->n_ancestors + 1, sizeof *r->ancestors);
	}
	for (size_t i = 0; ok && i < r->n_ancestors; i++)
		ok = parse_node(json_array_get(anc, i), &r->ancestors[i]);
	json_int_t seq = json_integer_value(json_object_get(j, "seq"));
	r->seq = seq > 0 ? (uint64_t)seq : 0;
	r->exit_code = (int)json_integer_value(json_object_get(j, "exit_code"));
	r->signal = (int)json_integer_value(json_object_get(j, "signal"));
	r->ro = json_is_true(json_object_get(j, "ro"));
	r->cache_hit = json_is_true(json_object_get(j, "cache_hit"));
	r->started = json_number_value(json_object_get(j, "started"));
	r->wall_sec = json_number_value(json_object_get(j, "wall_sec"));
	r->cpu_sec = json_number_value(json_object_get(j, "cpu_sec"));
	json_int_t v = json_integer_value(json_object_get(j, "bytes"));
	r->bytes = v > 0 ? (uint64_t)v : 0;
	v = json_integer_value(json_object_get(j, "files"));
	r->files = v > 0 ? (uint64_t)v : 0;
	v = json_integer_value(json_object_get(j, "max_rss_kb"));
	r->max_rss_kb = v > 0 ? (uint64_t)v : 0;
	return ok;
}

/* The artifact manifest `tag` of type `type` whose annotation `ann_key`
 * is `ann_value` (and `ann2_key`/`ann2_value` when set): 1, or 0 when the
 * tag is absent. */
static int get_artifact(struct remote *rm, const char *tag, const char *type,
			const char *ann_key, const char *ann_value,
			const char *ann2_key, const char *ann2_value,
			struct oci_manifest *m, struct wsbox_error *err)
{
	int r = get_manifest(rm, tag, m, NULL, err);
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
		r = bad_object(rm, tag, "not a wsbox artifact of this kind",
			       err);
	else if (!a || strcmp(a, ann_value) ||
		 (ann2_key && (!a2 || strcmp(a2, ann2_value))))
		r = bad_object(rm, tag, "holds another object", err);
	if (r < 0)
		oci_manifest_free(m);
	return r;
}

int remote_get_record(struct remote *rm, const char *run, const char *task,
		      struct task_record *r, struct wsbox_error *err)
{
	memset(r, 0, sizeof *r);
	char tag[REGISTRY_TAG_MAX + 1];
	remote_record_tag(run, task, tag);
	_cleanup_(oci_manifest_freep) struct oci_manifest m = {0};
	int ret = get_artifact(rm, tag, REMOTE_MT_RECORD, REMOTE_ANN_RUN, run,
			       REMOTE_ANN_TASK, task, &m, err);
	if (ret < 0)
		return ret;
	if (ret == 0)
		return wsbox_fail(err, ENOENT,
				  "remote %s: task %s: not in run %s",
				  rm_url(rm), task, run);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	ret = registry_blob_get_mem(&rm->reg, m.config.digest,
				    REMOTE_RECORD_MAX, &text, &len, err);
	if (ret < 0)
		return ret;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	bool ok = j && parse_record(j, r) && !strcmp(r->run, run) &&
		  !strcmp(r->task, task);
	json_decref(j);
	if (!ok) {
		record_free(r);
		return bad_object(rm, tag, "malformed record", err);
	}
	return 0;
}

int remote_pull_task(struct remote *rm, struct store *s, const char *run,
		     const char *task, struct task_record *out,
		     struct wsbox_error *err)
{
	struct task_record r;
	int ret = remote_get_record(rm, run, task, &r, err);
	if (ret < 0)
		return ret;
	char **want = xcalloc(r.n_ancestors + 2, sizeof *want);
	size_t n = 0;
	if (r.layer)
		want[n++] = r.layer;
	for (size_t i = 0; i < r.n_ancestors; i++)
		if (r.ancestors[i].layer)
			want[n++] = r.ancestors[i].layer;
	ret = remote_pull_layers(rm, s, want, n, err);
	free(want);
	if (ret == 0 && out)
		*out = r;
	else
		record_free(&r);
	return ret;
}

/* ---- cache entries ---- */

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
	int r = hash_fd(fd, rel, d->digest, &d->size, err);
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
	_cleanup_free_ char *text = json_text(json_pack(
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
	    (r = push_json_blob(rm, text, REMOTE_MT_CACHE, &m.config, err)) < 0)
		return r;
	if (e.layer)
		add_layer_descriptor(&m, &l);
	oci_annotate(&m.annotations, &m.n_annotations, REMOTE_ANN_KEY, key);
	char tag[REGISTRY_TAG_MAX + 1];
	remote_cache_tag(key, tag);
	return put_manifest(rm, &m, tag, NULL, err);
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
				  rm_url(rm), name);
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
		  null_or_digest(j, "layer", &e->layer);
	json_int_t v = json_integer_value(json_object_get(j, "bytes"));
	e->bytes = v > 0 ? (uint64_t)v : 0;
	v = json_integer_value(json_object_get(j, "files"));
	e->files = v > 0 ? (uint64_t)v : 0;
	e->wall_sec = json_number_value(json_object_get(j, "wall_sec"));
	json_decref(j);
	if (!ok)
		return bad_object(rm, tag, "malformed cache entry", err);
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
				  rm_url(rm), key);
	struct attempt att = {.dirfd = -1};
	int r = attempt_create(s, &att, err);
	if (r < 0)
		return r;
	if ((r = fetch_log(rm, &att, out, "stdout", err)) == 0 &&
	    (r = fetch_log(rm, &att, errd, "stderr", err)) == 0)
		r = cache_store(s, &att, key, e, err);
	return staging_end(s, &att, r, err);
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
	int r = get_artifact(rm, tag, REMOTE_MT_CACHE, REMOTE_ANN_KEY, key,
			     NULL, NULL, &m, err);
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
