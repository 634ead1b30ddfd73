/* layers/tree_copy: copy a host directory into the tree of a layer being
 * built (`wsbox import RUN TASK DIR`, docs/model.md "Sources"). The source
 * belongs to the caller but is read as hostile all the same: it may change
 * while we read it, and hold devices or links that point anywhere. */
#ifndef WSBOX_LAYERS_TREE_COPY_H
#define WSBOX_LAYERS_TREE_COPY_H

#include <stdint.h>

#include "sandbox/util/error.h"

/* Deeper trees are refused: every reader of a layer (verify, restore,
 * export, flatten) must be able to walk it back. */
#define TREE_COPY_MAX_DEPTH 256

struct tree_copy_stats {
	uint64_t bytes;	  /* file content copied */
	uint64_t entries; /* directories, files and symlinks created */
};

/* Copy the tree under the directory fd `src` into the empty directory fd
 * `dst`. Walked fd-relative without following any symlink: symlinks are
 * copied as links, regular files by content (hardlinks become separate
 * files), directories keep their mode with u+rwx added and setuid/setgid
 * dropped; devices, FIFOs and sockets are refused, as are trees deeper than
 * TREE_COPY_MAX_DEPTH and more than `budget` bytes of content (-EFBIG).
 * Extended attributes are not copied. `name` labels messages. */
int tree_copy(int src, int dst, const char *name, uint64_t budget,
	      struct tree_copy_stats *st, struct wsbox_error *err);

#endif
