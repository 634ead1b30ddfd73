/* layers/export: a published layer as an OCI layer tarball (libarchive).
 * The input is the store's own layer; the hostile-input half (reading a
 * tar from anywhere) is layers/import.h. */
#ifndef WSBOX_LAYERS_EXPORT_H
#define WSBOX_LAYERS_EXPORT_H

#include "layers/store.h"
#include "sandbox/util/error.h"

/* Write layer `digest` to `file` as an OCI layer tar: pax format, gzip when
 * the name ends in .gz (or .tgz), zstd for .zst, plain otherwise. Entries in
 * manifest order, owner 0:0 without names, mtime 0; whiteouts as empty
 * files `.wh.<name>`, opaque dirs followed by `<dir>/.wh..wh..opq`; a file
 * with whole aligned 1 MiB blocks of zeros as a GNU sparse 1.0 entry whose
 * holes are those blocks (docs/capture.md "Holes"). A layer
 * path whose name itself starts with ".wh." cannot be represented and is
 * refused. */
int export_layer(const struct store *s, const char *digest, const char *file,
		 struct wsbox_error *err);

#endif
