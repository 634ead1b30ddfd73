/* layers/import: the hostile-input half of archive handling. A tarball
 * from anywhere (an OCI layer, or a whole root filesystem) is read into
 * private staging with fd-relative, no-follow creation only; a layer is
 * then captured and published with layer_build (layer.h). Reviewable
 * alone: every check on archive input is in import.c. */
#ifndef WSBOX_LAYERS_IMPORT_H
#define WSBOX_LAYERS_IMPORT_H

#include <stdint.h>
#include <sys/types.h>

#include "layers/manifest.h"
#include "layers/store.h"
#include "sandbox/util/error.h"

/* Default budget of file bytes one import may write (decompression bombs);
 * $WSBOX_IMPORT_MAX_BYTES overrides it. */
#define IMPORT_MAX_BYTES_DEFAULT (64ULL << 30)

/* The budget in force: $WSBOX_IMPORT_MAX_BYTES when it is a positive
 * number, else IMPORT_MAX_BYTES_DEFAULT. */
uint64_t import_budget(void);

/* Import an OCI layer tar (gzip, zstd, xz, bzip2 or plain) as a layer owned
 * by owner_uid:owner_gid (who owns layers is the caller's rule: the sandbox
 * side's identity_resolve) and publish it; fills `digest`. Refuses, leaving
 * nothing in the store: absolute names, `..` or empty components,
 * hardlinks (not supported: a layer has no links between paths), devices,
 * FIFOs, sockets, setuid/setgid bits, malformed whiteouts,
 * overlay/security/trusted xattrs, an entry that goes through or replaces
 * an earlier non-directory, duplicates, and more than the byte budget. */
int import_layer(struct store *s, const char *file, uid_t owner_uid,
		 gid_t owner_gid, char digest[DIGEST_STRLEN],
		 struct wsbox_error *err);

/* What import_extract() accepts. A layer follows import_layer's rules. A
 * rootfs (a whole distribution, e.g. `docker export`) differs: hardlinks to
 * an earlier regular file of the same archive are made, device nodes,
 * FIFOs and sockets are skipped, setuid/setgid bits are stripped, xattrs
 * are neither checked nor kept, and `.wh.*` names are plain names. In both,
 * a directory keeps its owner's read and search bits (u+rx are added). */
enum import_kind {
	IMPORT_LAYER,
	IMPORT_ROOTFS,
};

struct import_stats {
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
int import_extract(int root, const char *file, int in_fd, enum import_kind kind,
		   struct import_stats *st, struct wsbox_error *err);

#endif
