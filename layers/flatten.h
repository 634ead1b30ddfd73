/* layers/flatten: keep a workspace's lower stack within overlayfs's limit on
 * lower layers by merging its oldest layers into one layer, published in the
 * store like any other and cached by the digests it merges (docs/model.md
 * "Flattening", workspace rule 5). */
#ifndef WSBOX_LAYERS_FLATTEN_H
#define WSBOX_LAYERS_FLATTEN_H

#include <stddef.h>
#include <sys/types.h>

#include "layers/store.h"
#include "sandbox/util/error.h"

/* overlayfs refuses more lower layers than this. */
#define FLATTEN_MAX_LOWERS_DEFAULT 500

/* `digests`: the lower layers, topmost first, as they would be stacked
 * (non-empty, no duplicates). When n <= max_layers (>= 2), *out is a copy.
 * Otherwise the bottom flatten_merge_count() layers are merged into one
 * layer and *out is the digests above them with the merged digest below
 * them (left out when it equals one of them: a layer identical to one above
 * it adds nothing, and overlayfs refuses a dir twice).
 *
 * The merged layer is the overlay view of the merged layers (no whiteouts,
 * no opaque markers: nothing lies below it), owned by owner_uid:owner_gid
 * (the store owner, or the subordinate id in root mode). It is found again
 * through STORE/cache/flatten/<key>, key = sha256 over the merged digests,
 * so a second workspace on the same ancestors does not rebuild it.
 * *out is a heap array of heap strings: free with flatten_free. */
int flatten_lowers(struct store *s, char *const *digests, size_t n,
		   size_t max_layers, uid_t owner_uid, gid_t owner_gid,
		   char ***out, size_t *n_out, struct wsbox_error *err);

/* How many of n lowers (counted from the bottom) flatten_lowers merges
 * under max_layers: 0 when they fit, else at least n - max_layers + 1,
 * rounded up to a multiple of max_layers / 8 (at most n) so that a growing
 * chain keeps reusing one merged layer. */
size_t flatten_merge_count(size_t n, size_t max_layers);

void flatten_free(char **v, size_t n);

#endif
