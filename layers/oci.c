/* layers/oci.c: OCI manifests to and from JSON (see oci.h). The registry is
 * not trusted: everything parsed here is re-validated, so a caller may put a
 * digest in a URL or compare a media type without further checks. */
#include "layers/oci.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layer.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

void oci_annotate(struct oci_annotation **v, size_t *n, const char *key,
		  const char *value)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[*n] = (struct oci_annotation){xstrdup(key), xstrdup(value)};
	(*n)++;
}

const char *oci_annotation_get(const struct oci_annotation *v, size_t n,
			       const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].key, key))
			return v[i].value;
	return NULL;
}

static void annotations_free(struct oci_annotation *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

void oci_descriptor_free(struct oci_descriptor *d)
{
	free(d->media_type);
	annotations_free(d->annotations, d->n_annotations);
	*d = (struct oci_descriptor){0};
}

void oci_manifest_free(struct oci_manifest *m)
{
	free(m->media_type);
	free(m->artifact_type);
	oci_descriptor_free(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		oci_descriptor_free(&m->layers[i]);
	free(m->layers);
	annotations_free(m->annotations, m->n_annotations);
	*m = (struct oci_manifest){0};
}

/* Printable ASCII only: these strings end up in HTTP headers and messages. */
static bool printable(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* type "/" subtype, with RFC 6838's restricted-name characters. */
static bool media_type_valid(const char *s)
{
	if (!printable(s, OCI_MEDIA_TYPE_MAX))
		return false;
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/'))
		return false;
	const char *ok = "abcdefghijklmnopqrstuvwxyz"
			 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&-^_.+/";
	return strspn(s, ok) == strlen(s);
}

static const char *jstring(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int parse_annotations(json_t *o, struct oci_annotation **v, size_t *n,
			     struct wsbox_error *err)
{
	if (!o)
		return 0;
	if (!json_is_object(o) || json_object_size(o) > OCI_MAX_ANNOTATIONS)
		return wsbox_fail(err, 0, "manifest: bad annotations");
	const char *key;
	json_t *val;
	json_object_foreach(o, key, val)
	{
		const char *s = json_string_value(val);
		if (!s || !printable(key, OCI_ANNOTATION_MAX) ||
		    strlen(s) > OCI_ANNOTATION_MAX ||
		    !printable(s[0] ? s : "-", OCI_ANNOTATION_MAX))
			return wsbox_fail(err, 0, "manifest: bad annotation");
		oci_annotate(v, n, key, s);
	}
	return 0;
}

static int parse_descriptor(json_t *o, struct oci_descriptor *d,
			    struct wsbox_error *err)
{
	if (!json_is_object(o))
		return wsbox_fail(err, 0, "manifest: descriptor not an object");
	const char *mt = jstring(o, "mediaType");
	const char *digest = jstring(o, "digest");
	json_t *size = json_object_get(o, "size");
	if (!mt || !media_type_valid(mt))
		return wsbox_fail(err, 0, "manifest: bad descriptor mediaType");
	if (!layer_digest_hex(digest))
		return wsbox_fail(err, 0, "manifest: bad descriptor digest");
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return wsbox_fail(err, 0, "manifest: bad descriptor size");
	d->media_type = xstrdup(mt);
	strcpy(d->digest, digest);
	d->size = (uint64_t)json_integer_value(size);
	return parse_annotations(json_object_get(o, "annotations"),
				 &d->annotations, &d->n_annotations, err);
}

static int parse_root(json_t *j, struct oci_manifest *m,
		      struct wsbox_error *err)
{
	json_t *sv = json_object_get(j, "schemaVersion");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return wsbox_fail(err, 0, "manifest: schemaVersion is not 2");
	json_t *mt = json_object_get(j, "mediaType");
	if (mt) {
		const char *s = json_string_value(mt);
		if (!s || (strcmp(s, OCI_MT_MANIFEST) &&
			   strcmp(s, OCI_MT_DOCKER_MANIFEST)))
			return wsbox_fail(err, 0,
					  "manifest: not an image manifest");
		m->media_type = xstrdup(s);
	}
	json_t *at = json_object_get(j, "artifactType");
	if (at) {
		const char *s = json_string_value(at);
		if (!s || !media_type_valid(s))
			return wsbox_fail(err, 0, "manifest: bad artifactType");
		m->artifact_type = xstrdup(s);
	}
	int r = parse_descriptor(json_object_get(j, "config"), &m->config, err);
	if (r < 0)
		return r;
	json_t *layers = json_object_get(j, "layers");
	if (!json_is_array(layers) || json_array_size(layers) > OCI_MAX_LAYERS)
		return wsbox_fail(err, 0, "manifest: bad layers");
	m->layers = xcalloc(json_array_size(layers) + 1, sizeof *m->layers);
	size_t i;
	json_t *l;
	json_array_foreach(layers, i, l)
	{
		r = parse_descriptor(l, &m->layers[i], err);
		m->n_layers = i + 1;
		if (r < 0)
			return r;
	}
	return parse_annotations(json_object_get(j, "annotations"),
				 &m->annotations, &m->n_annotations, err);
}

int oci_manifest_parse(const char *text, size_t len, struct oci_manifest *m,
		       struct wsbox_error *err)
{
	*m = (struct oci_manifest){0};
	if (len > OCI_MANIFEST_MAX)
		return wsbox_fail(err, EFBIG, "manifest");
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return wsbox_fail(err, 0, "manifest: %s", je.text);
	int r = json_is_object(j)
		    ? parse_root(j, m, err)
		    : wsbox_fail(err, 0, "manifest: not an object");
	json_decref(j);
	if (r < 0)
		oci_manifest_free(m);
	return r;
}

static json_t *encode_annotations(const struct oci_annotation *v, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, v[i].key, json_string(v[i].value));
	return o;
}

static json_t *encode_descriptor(const struct oci_descriptor *d)
{
	json_t *o = json_pack("{s:s, s:s, s:I}", "mediaType", d->media_type,
			      "digest", d->digest, "size", (json_int_t)d->size);
	if (o && d->n_annotations)
		json_object_set_new(
		    o, "annotations",
		    encode_annotations(d->annotations, d->n_annotations));
	return o;
}

int oci_manifest_encode(const struct oci_manifest *m, char **text, size_t *len,
			struct wsbox_error *err)
{
	json_t *layers = json_array();
	for (size_t i = 0; i < m->n_layers; i++)
		json_array_append_new(layers, encode_descriptor(&m->layers[i]));
	json_t *j = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2,
			      "mediaType", OCI_MT_MANIFEST, "config",
			      encode_descriptor(&m->config), "layers", layers);
	if (j && m->artifact_type)
		json_object_set_new(j, "artifactType",
				    json_string(m->artifact_type));
	if (j && m->n_annotations)
		json_object_set_new(
		    j, "annotations",
		    encode_annotations(m->annotations, m->n_annotations));
	*text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!*text)
		return wsbox_fail(err, ENOMEM, "encode manifest");
	*len = strlen(*text);
	if (*len > OCI_MANIFEST_MAX) {
		free(steal_pointer(text));
		return wsbox_fail(err, EFBIG, "encode manifest");
	}
	return 0;
}
