/* layers/layer_check: the cheap check that a published layer's tree is
 * still the one that was published, before a cache hit serves it and
 * before a workspace stands on it (docs/capture.md "Integrity"). The
 * thorough one, which hashes every byte, is `wsbox layers verify`. */
#ifndef WSBOX_LAYERS_LAYER_CHECK_H
#define WSBOX_LAYERS_LAYER_CHECK_H

#include "layers/store.h"
#include "sandbox/util/error.h"

/* Every entry of layer `digest`'s manifest is in its tree with its type
 * and (files) size, and neither the tree's root nor any entry changed
 * (ctime) after the layer was published: nothing a write, chmod, utimes,
 * rename, link or unlink does to an inode leaves its ctime alone, and the
 * publication's last step, the layer dir, is the latest change of the
 * publication. No file content is read. -EIO with "layer D: `PATH`
 * changed since it was published (run `wsbox layers verify`)". */
int layer_check(const struct store *s, const char *digest,
		struct wsbox_error *err);

#endif
