/* layers/remote_layer.c: wsbox layers in a registry (see remote.h): a
 * layer as a one-layer OCI image tagged `layer-<hex>`, pushed through the
 * deterministic export, pulled in parallel through the hostile-input import
 * and checked against the wsbox digest before anything names it. */
#include "layers/remote.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "layers/export.h"
#include "layers/import.h"
#include "layers/layer.h"
#include "layers/oci.h"
#include "layers/remote_int.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"

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

int remote_find_layer(struct remote *rm, const char *digest,
		      struct remote_layer *out, struct wsbox_error *err)
{
	if (!layer_digest_hex(digest))
		return wsbox_fail(err, 0, "not a layer digest: %.80s", digest);
	char tag[REGISTRY_TAG_MAX + 1];
	remote_layer_tag(digest, tag);
	struct oci_manifest m = {0};
	char md[DIGEST_STRLEN];
	int r = remote_get_manifest(rm, tag, &m, md, err);
	if (r <= 0)
		return r;
	const char *ann = oci_annotation_get(m.annotations, m.n_annotations,
					     REMOTE_ANN_LAYER);
	if (m.n_layers != 1 || !layer_media_type(m.layers[0].media_type))
		r = remote_bad_object(rm, tag, "not a one-layer wsbox image",
				      err);
	else if (m.layers[0].size > IMPORT_MAX_BYTES_DEFAULT)
		r = remote_bad_object(rm, tag,
				      "layer blob larger than the import "
				      "budget",
				      err);
	else if (!ann || strcmp(ann, digest))
		r = remote_bad_object(rm, tag, "names another wsbox layer",
				      err);
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
	return remote_json_text(json_pack("{s:s, s:s, s:{s:s, s:[s]}, s:{}}",
					  "architecture", oci_arch(), "os",
					  "linux", "rootfs", "type", "layers",
					  "diff_ids", diff_id, "config"));
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
	r = remote_hash_fd(pfd, plain, diff_id, &size, err);
	unlink(plain);
	if (r < 0)
		return r;
	r = export_layer(s, digest, blob, err);
	if (r < 0)
		return r;
	*fd = open(blob, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return wsbox_fail(err, errno, "open `%s`", blob);
	return remote_hash_fd(*fd, blob, l->blob, &l->size, err);
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
		wsbox_error_prefix(err, "remote %s: push layer %s",
				   remote_url(rm), digest);
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
	r = remote_push_json_blob(rm, cfg, OCI_MT_CONFIG, &m.config, err);
	if (r < 0)
		return r;
	l->media_type = compression_media_type(rm->compression);
	remote_add_layer_descriptor(&m, l);
	oci_annotate(&m.annotations, &m.n_annotations, REMOTE_ANN_LAYER,
		     digest);
	char tag[REGISTRY_TAG_MAX + 1];
	remote_layer_tag(digest, tag);
	return remote_put_manifest(rm, &m, tag, l->manifest, err);
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
	return remote_staging_end(s, &att, r, err);
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
		wsbox_error_prefix(err, "remote %s: layer %s", remote_url(rm),
				   it->digest);
		return r;
	}
	if (strcmp(got, it->digest)) {
		wsbox_fail(err, 0,
			   "remote %s: layer %s: blob %s imports as layer %s: "
			   "refused",
			   remote_url(rm), it->digest, it->l.blob, got);
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
					  remote_url(rm), digests[i]);
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
	return remote_staging_end(s, &att, r, err);
}

int remote_pull_layer(struct remote *rm, struct store *s, const char *digest,
		      struct wsbox_error *err)
{
	char *v[1] = {(char *)digest};
	return remote_pull_layers(rm, s, v, 1, err);
}
