/* layers/layer_check: the cheap half of `wsbox layers verify`: a published
 * layer's tree against its publication time, by metadata only
 * (docs/capture.md "Integrity after publication"). The thorough half hashes
 * every byte (sandbox/cli/layers.c). Exec no longer calls it: the workspace
 * is sealed before capture (sandbox/seal.h). */
#ifndef WSBOX_LAYERS_LAYER_CHECK_H
#define WSBOX_LAYERS_LAYER_CHECK_H

#include "layers/store.h"
#include "sandbox/util/error.h"

/* No inode of layer `digest`'s tree, its root included, changed (ctime)
 * after the layer was published. Nothing a write, chmod, chown, utimes,
 * link or unlink does to an inode leaves its ctime alone, and a planted or
 * removed entry changes its directory's; the publication's last change is
 * to the layer dir itself (the manifest going in), so its ctime is the
 * bound (whiteouts excepted, layer_check.c). One lstat per entry, listed
 * directory by directory through fds; no content and not the manifest is read
 * (a changed byte on disk that bypassed the kernel is `layers verify`'s to
 * find). A change within the file system's clock granularity (a few ms) of the
 * publication is not seen. -EIO with "layer D: `PATH` changed since it was
 * published". */
int layer_check(const struct store *s, const char *digest,
		struct wsbox_error *err);

#endif
