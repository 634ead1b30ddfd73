/* tests/fuzz: the OCI manifest parser target (layers/oci.c), which reads
 * every manifest a registry sends. Checks beyond "no crash": a failed parse
 * leaves nothing behind; what parses has only well-formed digests, encodes
 * within the size bound, and its encoding is a fixed point (parse(encode(m))
 * encodes to the same bytes, with the same counts and annotations). */
#ifndef WSBOX_TESTS_FUZZ_TARGET_OCI_H
#define WSBOX_TESTS_FUZZ_TARGET_OCI_H

#include "layers/layer.h"
#include "layers/oci.h"
#include "tests/fuzz/fuzz_common.h"

static inline int fuzz_oci_check(const struct oci_manifest *m)
{
	if (!layer_digest_hex(m->config.digest))
		return fuzz_bug("config digest `%s` accepted",
				m->config.digest);
	for (size_t i = 0; i < m->n_layers; i++)
		if (!layer_digest_hex(m->layers[i].digest))
			return fuzz_bug("layer digest `%s` accepted",
					m->layers[i].digest);
	struct wsbox_error err = {0};
	_cleanup_free_ char *t1 = NULL, *t2 = NULL;
	size_t l1 = 0, l2 = 0;
	if (oci_manifest_encode(m, &t1, &l1, &err) < 0)
		return FUZZ_ACCEPTED; /* re-encoding may exceed the bound */
	struct oci_manifest again = {0};
	if (oci_manifest_parse(t1, l1, &again, &err) < 0)
		return fuzz_bug("encoded manifest does not parse: %s", err.msg);
	int r = 0;
	if (again.n_layers != m->n_layers ||
	    again.n_annotations != m->n_annotations ||
	    strcmp(again.config.digest, m->config.digest) ||
	    again.config.size != m->config.size ||
	    !again.artifact_type != !m->artifact_type)
		r = fuzz_bug("round trip changed the manifest");
	if (r == 0 && oci_manifest_encode(&again, &t2, &l2, &err) < 0)
		r = fuzz_bug("re-parsed manifest does not encode: %s", err.msg);
	if (r == 0 && (l1 != l2 || memcmp(t1, t2, l1)))
		r = fuzz_bug("encoding is not a fixed point");
	oci_manifest_free(&again);
	return r;
}

static inline int fuzz_oci_one(const uint8_t *data, size_t size)
{
	struct wsbox_error err = {0};
	struct oci_manifest m = {0};
	if (oci_manifest_parse((const char *)data, size, &m, &err) < 0) {
		if (m.layers || m.n_layers || m.annotations ||
		    m.config.media_type)
			return fuzz_bug("failed parse left fields behind");
		return fuzz_refused("oci", err.msg);
	}
	int r = fuzz_oci_check(&m);
	oci_manifest_free(&m);
	return r < 0 ? r : FUZZ_ACCEPTED;
}

#endif
