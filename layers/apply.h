/* layers/apply: materialize a stack of published layers into a plain
 * directory with overlayfs's rules (whiteouts delete, opaque dirs replace,
 * a plain dir over a dir merges). Shared by `wsbox restore` and flatten.
 * The result holds no whiteouts and no opaque markers: it is what a reader
 * of the overlay would see, not a layer diff. */
#ifndef WSBOX_LAYERS_APPLY_H
#define WSBOX_LAYERS_APPLY_H

#include <stddef.h>

#include "layers/store.h"
#include "sandbox/util/error.h"

/* Apply `digests` (topmost first, applied from the bottom up) onto the
 * directory dst_dirfd, which should be empty. Files are copied
 * (copy_file_range, so reflinks where the filesystem has them; holes kept,
 * never read or written: sandbox/util/sparse.h), never hardlinked: dst may be
 * modified later and must not alias the store. Layer trees are read with
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS and dst is written the same way, so
 * hostile layer content cannot redirect either. Directory modes are set last
 * (every dir stays writable while layers go in); ownership is left to the
 * caller. Every entry written (not dst itself) gets atime = mtime =
 * LAYER_MTIME, as in a published layer (layer.h), so make in a restored tree
 * finds what was built up to date. Does not sync. */
int layers_apply(const struct store *s, char *const *digests, size_t n,
		 int dst_dirfd, struct wsbox_error *err);

#endif
