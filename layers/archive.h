/* layers/archive: layers as OCI layer tarballs (libarchive). Export writes a
 * deterministic pax tar of a published layer; import reads a hostile tarball
 * into private staging with fd-relative, no-follow creation only, then
 * captures and publishes it like a task's upper dir. */
#ifndef WSBOX_LAYERS_ARCHIVE_H
#define WSBOX_LAYERS_ARCHIVE_H

#include <stdint.h>

#include "layers/manifest.h"
#include "layers/store.h"

/* Default budget of file bytes one import may write (decompression bombs);
 * $WSBOX_IMPORT_MAX_BYTES overrides it. */
#define IMPORT_MAX_BYTES_DEFAULT (64ULL << 30)

/* Write layer `digest` to `file` as an OCI layer tar: pax format, gzip when
 * the name ends in .gz (or .tgz), zstd for .zst, plain otherwise. Entries in
 * manifest order, owner 0:0 without names, mtime 0; whiteouts as empty
 * files `.wh.<name>`, opaque dirs followed by `<dir>/.wh..wh..opq`. A layer
 * path whose name itself starts with ".wh." cannot be represented and is
 * refused. */
int layer_export(const struct store *s, const char *digest, const char *file,
		 struct wsbox_error *err);

/* Import an OCI layer tar (any of the above compressions) as a layer and
 * publish it; fills `digest`. Refuses, leaving nothing in the store:
 * absolute names, `..` or empty components, hardlinks (not supported: a
 * layer has no links between paths), devices, FIFOs, sockets, setuid/setgid
 * bits, malformed whiteouts, overlay/security/trusted xattrs, an entry that
 * goes through or replaces an earlier non-directory, duplicates, and more
 * than the byte budget. */
int layer_import(struct store *s, const char *file, char digest[DIGEST_STRLEN],
		 struct wsbox_error *err);

/* What archive_extract() accepts. A layer follows layer_import's rules. A
 * rootfs (a whole distribution, e.g. `docker export`) differs: hardlinks to
 * an earlier regular file of the same archive are made, device nodes,
 * FIFOs and sockets are skipped, setuid/setgid bits are stripped, xattrs
 * are neither checked nor kept, and `.wh.*` names are plain names. */
enum archive_kind {
	ARCHIVE_LAYER,
	ARCHIVE_ROOTFS,
};

struct archive_extract_stats {
	uint64_t bytes;	   /* file content written */
	uint64_t entries;  /* archive entries read */
	uint64_t skipped;  /* rootfs: devices, FIFOs, sockets not created */
	uint64_t stripped; /* rootfs: entries that lost setuid/setgid */
};

/* Extract the tar `file` (read from `in_fd` instead when >= 0; `file` then
 * only names it in messages) into the empty directory fd `root` with the
 * hostile-input rules above: no absolute names or `..`, every entry created
 * fd-relative without following symlinks, nothing through an earlier
 * non-directory, the $WSBOX_IMPORT_MAX_BYTES budget. On failure `root` may
 * hold a partial tree for the caller to discard. `st` may be NULL. */
int archive_extract(int root, const char *file, int in_fd,
		    enum archive_kind kind, struct archive_extract_stats *st,
		    struct wsbox_error *err);

#endif
