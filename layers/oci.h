/* layers/oci: OCI image manifests and descriptors as JSON (jansson), the one
 * format wsbox exchanges with a registry (docs/remote.md). Parsing treats
 * the text as hostile: bounded sizes and counts, digests checked for form,
 * every string validated before anyone uses it in a URL or a path. */
#ifndef WSBOX_LAYERS_OCI_H
#define WSBOX_LAYERS_OCI_H

#include <stddef.h>
#include <stdint.h>

#include "layers/manifest.h"
#include "sandbox/util/error.h"

/* Largest manifest wsbox reads or writes (distribution's own limit). */
#define OCI_MANIFEST_MAX (4UL << 20)
#define OCI_MAX_LAYERS 4096
#define OCI_MAX_ANNOTATIONS 256
#define OCI_MEDIA_TYPE_MAX 255
#define OCI_ANNOTATION_MAX 4096 /* bytes of one key or value */

#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_DOCKER_MANIFEST                                                 \
	"application/vnd.docker.distribution.manifest.v2+json"
#define OCI_MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MT_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define OCI_MT_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"

struct oci_annotation {
	char *key, *value;
};

struct oci_descriptor {
	char *media_type;
	char digest[DIGEST_STRLEN]; /* "sha256:<hex>" */
	uint64_t size;
	struct oci_annotation *annotations;
	size_t n_annotations;
};

struct oci_manifest {
	char *media_type;    /* NULL when the manifest names none */
	char *artifact_type; /* OCI 1.1 artifacts; NULL for images */
	struct oci_descriptor config;
	struct oci_descriptor *layers;
	size_t n_layers;
	struct oci_annotation *annotations;
	size_t n_annotations;
};

/* Parse an image manifest (schemaVersion 2; OCI or Docker v2 media type).
 * Refuses anything else, and any descriptor whose digest is not
 * "sha256:<64 lowercase hex>", whose size is negative, or whose strings
 * exceed the bounds above or hold control characters. */
int oci_manifest_parse(const char *text, size_t len, struct oci_manifest *m,
		       struct wsbox_error *err);

/* Canonical text (compact, keys sorted) of `m`, with mediaType
 * OCI_MT_MANIFEST; heap, NUL-terminated. Two executors that build the same
 * manifest get the same bytes, hence the same manifest digest. */
int oci_manifest_encode(const struct oci_manifest *m, char **text, size_t *len,
			struct wsbox_error *err);

void oci_manifest_free(struct oci_manifest *m);
static inline void oci_manifest_freep(struct oci_manifest *m)
{
	oci_manifest_free(m);
}
void oci_descriptor_free(struct oci_descriptor *d);

/* Add key=value to a descriptor's or a manifest's annotations (copies). */
void oci_annotate(struct oci_annotation **v, size_t *n, const char *key,
		  const char *value);
/* The value of `key`, or NULL. */
const char *oci_annotation_get(const struct oci_annotation *v, size_t n,
			       const char *key);

#endif
