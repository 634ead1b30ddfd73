/* layers/layer_check: the cheap check that a published layer's tree is
 * still the one that was published, before a cache hit serves it and
 * before a workspace stands on it (docs/capture.md "Integrity"). The
 * thorough one, which hashes every byte, is `wsbox layers verify`. */
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
 * published (run `wsbox layers verify`)". */
int layer_check(const struct store *s, const char *digest,
		struct wsbox_error *err);

#endif
