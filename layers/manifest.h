/* layers/manifest: the canonical description of a layer tree and its digest.
 * A layer's identity is sha256 over the serialized manifest: paths, types,
 * permission bits, sizes, content hashes, link targets, whiteouts and opaque
 * markers, never mtimes or owners, so identical content gives the identical
 * digest on any machine.
 *
 * Serialized form (text, one entry per line, '\n' terminated):
 *   wsbox-manifest 1
 *   <type> <mode:4 octal> <size> <sha256 hex | -> <path> [<target>]
 * type: f file, d dir, D opaque dir, l symlink, w whiteout.
 * path/target: bytes 0x21..0x7e except '%' verbatim, every other byte as %XX
 * (so names with spaces, newlines or non-UTF-8 survive and lines stay lines).
 * Order: depth-first pre-order, siblings sorted by bytes (strcmp). The root
 * directory itself is not an entry. */
#ifndef WSBOX_LAYERS_MANIFEST_H
#define WSBOX_LAYERS_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/util/error.h"

#define MANIFEST_VERSION 1
#define DIGEST_STRLEN 72 /* "sha256:" + 64 hex + NUL, rounded */

/* Bounds enforced by manifest_parse/serialize and capture (hostile input). */
#define MANIFEST_PATH_MAX 65536	 /* bytes of one decoded path */
#define MANIFEST_TARGET_MAX 4095 /* symlink target (PATH_MAX - 1) */
#define MANIFEST_MAX_ENTRIES 10000000

/* Canonical-form rules beyond the line syntax (parse rejects, serialize
 * refuses to write, anything else, so one tree has exactly one text):
 *   - mode is exactly 4 octal digits, <= 07777, never 06000 bits; files
 *     never carry the sticky bit; symlinks are 0777, whiteouts 0000;
 *   - size is decimal without leading zeros, "0" for every non-file;
 *     hash is 64 lowercase hex for files, "-" for every other type;
 *   - escapes are '%' + two UPPERCASE hex digits and only for bytes that
 *     must be escaped (never %00, never a printable byte);
 *   - a target is present exactly for symlinks and is non-empty;
 *   - every entry's parent directory is itself an entry of type d or D;
 *   - for files/dirs, mode is the sanitized mode *before* make_readonly
 *     (capture.h), so the digest does not depend on that option. */

enum mf_type {
	MF_FILE = 'f',
	MF_DIR = 'd',
	MF_OPAQUE_DIR = 'D',
	MF_SYMLINK = 'l',
	MF_WHITEOUT = 'w',
};

struct mf_entry {
	char *path;  /* relative to the layer root, no leading '/' */
	char type;   /* enum mf_type */
	mode_t mode; /* permission bits only (07777 & ~06000 after sanitize) */
	uint64_t size;		  /* files: bytes; others 0 */
	unsigned char sha256[32]; /* files: content hash; others zero */
	char *target;		  /* symlinks: link target; else NULL */
};

struct manifest {
	struct mf_entry *e;
	size_t n, cap;
	uint64_t total_bytes; /* sum of file sizes */
};

/* Append a copy of `entry` (path/target duplicated). */
void manifest_add(struct manifest *m, const struct mf_entry *entry);
void manifest_free(struct manifest *m);
/* Every path and symlink target is well-formed UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
bool manifest_all_utf8(const struct manifest *m);

/* Serialize to the canonical text; *out is heap-allocated. */
int manifest_serialize(const struct manifest *m, char **out, size_t *len,
		       struct wsbox_error *err);
/* Parse serialized text; rejects anything not canonical (bad escapes,
 * unsorted or duplicate paths, '..' or empty components, unknown types). */
int manifest_parse(const char *buf, size_t len, struct manifest *m,
		   struct wsbox_error *err);
/* "sha256:<hex>" of a serialized manifest. */
void manifest_digest(const char *buf, size_t len, char out[DIGEST_STRLEN]);

/* Binary search by path in a parsed manifest; NULL if absent. Relies on the
 * canonical order, so use manifest_path_cmp for comparisons. */
const struct mf_entry *manifest_find(const struct manifest *m,
				     const char *path);
/* The canonical order of two paths (pre-order, siblings by bytes). */
int manifest_path_cmp(const char *a, const char *b);

/* Path escaping used by the serialized form (exposed for tests and the
 * conflict messages, which must stay one line). */
char *manifest_escape(const char *raw);

#endif
