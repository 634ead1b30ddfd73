/* tests/fuzz: the manifest parser target (layers/manifest.c). A layer's
 * manifest is read back from the store and from imported layers, so its
 * parser sees hostile bytes. Checks beyond "no crash": the canonical-form
 * promise of manifest.h (whatever parses re-serializes to the very same
 * bytes, hence the same digest, and parses again to the same entries), the
 * binary search agrees with the order the parser accepted, and the total
 * size is the sum of the file sizes. */
#ifndef WSBOX_TESTS_FUZZ_TARGET_MANIFEST_H
#define WSBOX_TESTS_FUZZ_TARGET_MANIFEST_H

#include "layers/manifest.h"
#include "tests/fuzz/fuzz_common.h"

static inline bool fuzz_mf_entry_equal(const struct mf_entry *a,
				       const struct mf_entry *b)
{
	return a->type == b->type && a->mode == b->mode && a->size == b->size &&
	       !memcmp(a->sha256, b->sha256, 32) && !strcmp(a->path, b->path) &&
	       !a->target == !b->target &&
	       (!a->target || !strcmp(a->target, b->target));
}

static inline int fuzz_manifest_check(const struct manifest *m,
				      const uint8_t *data, size_t size)
{
	struct wsbox_error err = {0};
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (manifest_serialize(m, &text, &len, &err) < 0)
		return fuzz_bug("parsed manifest does not serialize: %s",
				err.msg);
	if (len != size || memcmp(text, data, size) != 0)
		return fuzz_bug("re-serialized manifest differs from the "
				"parsed text (%zu vs %zu bytes)",
				len, size);
	char d1[DIGEST_STRLEN], d2[DIGEST_STRLEN];
	manifest_digest((const char *)data, size, d1);
	manifest_digest(text, len, d2);
	if (strcmp(d1, d2) != 0)
		return fuzz_bug("digest changed across a round trip");

	struct manifest again = {0};
	if (manifest_parse(text, len, &again, &err) < 0)
		return fuzz_bug("serialized manifest does not re-parse: %s",
				err.msg);
	int r = 0;
	if (again.n != m->n || again.total_bytes != m->total_bytes)
		r = fuzz_bug("re-parse gives %zu entries / %llu bytes, "
			     "not %zu / %llu",
			     again.n, (unsigned long long)again.total_bytes,
			     m->n, (unsigned long long)m->total_bytes);
	for (size_t i = 0; r == 0 && i < m->n; i++)
		if (!fuzz_mf_entry_equal(&m->e[i], &again.e[i]))
			r = fuzz_bug("entry %zu differs after re-parse", i);
	manifest_free(&again);
	if (r < 0)
		return r;

	uint64_t sum = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct mf_entry *e = &m->e[i];
		if (e->type == MF_FILE)
			sum += e->size; /* parse refuses overflowing totals */
		if (manifest_find(m, e->path) != e)
			return fuzz_bug("manifest_find misses entry %zu", i);
		if (i > 0 && manifest_path_cmp(m->e[i - 1].path, e->path) >= 0)
			return fuzz_bug("entries %zu and %zu out of order",
					i - 1, i);
		/* The escaped path is the serialized spelling: one line. */
		_cleanup_free_ char *esc = manifest_escape(e->path);
		if (strpbrk(esc, " \n"))
			return fuzz_bug("escaped path has a separator");
	}
	if (sum != m->total_bytes)
		return fuzz_bug("total_bytes %llu, files sum to %llu",
				(unsigned long long)m->total_bytes,
				(unsigned long long)sum);
	return 0;
}

static inline int fuzz_manifest_one(const uint8_t *data, size_t size)
{
	struct wsbox_error err = {0};
	struct manifest m = {0};
	if (manifest_parse((const char *)data, size, &m, &err) < 0) {
		if (m.n || m.e)
			return fuzz_bug("failed parse left entries behind");
		return fuzz_refused("manifest", err.msg);
	}
	int r = fuzz_manifest_check(&m, data, size);
	manifest_free(&m);
	return r < 0 ? r : FUZZ_ACCEPTED;
}

#endif
