/* layers/copy_ws: the copy strategy's workspace (README "Strategies"): a
 * plain directory populated from the lowers, and, after the task, the
 * overlay-style upper tree of what the task changed in it, so that capture
 * (layers/capture.c) publishes the layer the kernel overlay would have
 * left for the same work. */
#ifndef WSBOX_LAYERS_COPY_WS_H
#define WSBOX_LAYERS_COPY_WS_H

#include <stddef.h>
#include <sys/types.h>

#include "layers/store.h"
#include "sandbox/util/error.h"

/* The populated tree as it was before the task: per entry its inode, type,
 * mode, size and ctime. A change the task makes to an entry changes its
 * ctime (or replaces its inode), which is all the diff needs: nothing is
 * read or hashed, so the diff is O(entries) whatever the bytes. */
struct copy_ws_node;
struct copy_ws {
	struct copy_ws_node *root;
	size_t entries;
};

/* Create `dir` (absent) and write the layers `digests` (topmost first, the
 * lowers of the workspace) into it with overlay's rules (layers_apply: files
 * by copy_file_range, so reflinks where the filesystem clones extents);
 * give every entry to uid:gid ((uid_t)-1 leaves them) and snapshot it. */
int copy_ws_populate(const struct store *s, char *const *digests, size_t n,
		     const char *dir, uid_t uid, gid_t gid, struct copy_ws *ws,
		     struct wsbox_error *err);

/* After the task: move every entry added or changed in the workspace
 * (ws_fd) since the
 * snapshot into upper_fd (an empty directory on the same filesystem), with
 * the directories leading to them, a whiteout (0:0 character device) for
 * every entry deleted, and user.overlay.opaque=y on a directory that
 * replaced an entry of the lowers. What stays in the workspace is
 * unchanged. Both fds must come from the same mount (rename): open them
 * the same way, e.g. relative to the attempt's dirfd. */
int copy_ws_diff(const struct copy_ws *ws, int ws_fd, int upper_fd,
		 struct wsbox_error *err);

void copy_ws_free(struct copy_ws *ws);

#endif
