/* layers/remote_int.h: what the files of the remote share (remote.c: open,
 * close, tags and these OCI object helpers; remote_layer.c, remote_record.c,
 * remote_cache.c: one kind of object each). Not for use outside them: other
 * code includes layers/remote.h. */
#ifndef WSBOX_LAYERS_REMOTE_INT_H
#define WSBOX_LAYERS_REMOTE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "layers/oci.h"
#include "layers/remote.h"
#include "layers/store.h"
#include "sandbox/util/error.h"

/* How messages name the remote. */
const char *remote_url(const struct remote *rm);

/* Remove the staging of `att` and pass `r` on, or the removal's failure
 * when everything before it went well. */
int remote_staging_end(struct store *s, struct attempt *att, int r,
		       struct wsbox_error *err);
/* Digest and size of the file `fd` (from its start). */
int remote_hash_fd(int fd, const char *what, char digest[DIGEST_STRLEN],
		   uint64_t *size, struct wsbox_error *err);
/* `j` as compact JSON with sorted keys (heap; NULL for NULL), consuming
 * the reference. */
char *remote_json_text(json_t *j);

/* Push a JSON blob (config) and describe it in `d`. */
int remote_push_json_blob(struct remote *rm, const char *text,
			  const char *media_type, struct oci_descriptor *d,
			  struct wsbox_error *err);
/* Encode `m` and PUT it under `tag`; `digest` may be NULL. */
int remote_put_manifest(struct remote *rm, const struct oci_manifest *m,
			const char *tag, char digest[DIGEST_STRLEN],
			struct wsbox_error *err);
/* GET and parse manifest `tag`: 1, 0 when absent, or an error. */
int remote_get_manifest(struct remote *rm, const char *tag,
			struct oci_manifest *m, char digest[DIGEST_STRLEN],
			struct wsbox_error *err);
/* The artifact manifest `tag` of type `type` whose annotation `ann_key`
 * is `ann_value` (and `ann2_key`/`ann2_value` when set): 1, or 0 when the
 * tag is absent. */
int remote_get_artifact(struct remote *rm, const char *tag, const char *type,
			const char *ann_key, const char *ann_value,
			const char *ann2_key, const char *ann2_value,
			struct oci_manifest *m, struct wsbox_error *err);
/* "remote URL: TAG: why" in `err`; -EPROTO. */
int remote_bad_object(struct remote *rm, const char *tag, const char *why,
		      struct wsbox_error *err);
/* A layer descriptor for `l`, naming its wsbox digest too. */
void remote_add_layer_descriptor(struct oci_manifest *m,
				 const struct remote_layer *l);

/* The string member `key` of `o` (heap), or NULL. */
char *remote_jdup(json_t *o, const char *key);
/* Member `key` of `o` absent or null (true, *out untouched), or a layer
 * digest (true, *out heap); false when it is anything else. */
bool remote_null_or_digest(json_t *o, const char *key, char **out);

#endif
