/* layers/capture: turn a dead sandbox's overlay upper dir into a layer tree.
 * Runs only after every process of the sandbox is gone. The tree's content is
 * attacker-controlled: it is walked with openat(O_NOFOLLOW) relative to a
 * directory fd, never by following a link, and sanitized in place:
 *   - regular files, dirs, symlinks (kept as links), overlay whiteouts
 *     (char 0:0) and opaque dirs (xattr user.overlay.opaque=y) are kept
 *     (fuse-overlayfs's `.wh.` forms converted to these, fuse_upper);
 *   - sockets and FIFOs are dropped (they cannot carry data into a layer);
 *   - any other device node fails the capture (-EPERM);
 *   - setuid/setgid bits are cleared, sticky bits on files cleared;
 *   - every xattr other than user.overlay.opaque is removed (security.*,
 *     file capabilities, trusted.*, other user.overlay.*);
 *   - hardlinked files are kept as independent files (a layer has no links
 *     between paths; overlay copy-up breaks them anyway);
 *   - a path an OCI layer tar cannot carry (oci_tar_refusal: longer than
 *     PATH_MAX, or a `.wh.` name) fails the capture, so every published
 *     layer can be read back, restored and exported;
 *   - ownership is squashed to (owner_uid, owner_gid);
 *   - with make_readonly, write bits are removed from every file and dir
 *     (after hashing) so a published layer cannot be modified by mistake;
 *   - every kept entry (symlinks themselves, directories after their
 *     children) and the root get atime = mtime = LAYER_MTIME (layer.h), so
 *     make and ninja in a descendant see what ancestors built as up to date
 *     whichever run built it (README "Time stamps"); times are not content:
 *     they enter neither the manifest nor the digest.
 * and hashed into a manifest. The tree is modified in place; publishing is a
 * rename by the caller, so capture costs O(bytes the task wrote) (and a copy
 * of them, with capture_tree_copy). */
#ifndef WSBOX_LAYERS_CAPTURE_H
#define WSBOX_LAYERS_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "layers/manifest.h"
#include "sandbox/util/error.h"

struct capture_options {
	/* 0 = unlimited; the files' apparent sizes (st_size, holes included)
	 * past it fail with -EFBIG before they are read. */
	uint64_t max_bytes;
	/* CLOCK_MONOTONIC seconds (0 = none): past it, checked between
	 * entries and between chunks of a file, the capture fails with
	 * -ETIMEDOUT (exec's --timeout covers the capture too). */
	double deadline;
	const char *const *save; /* NULL or NULL-terminated relative paths:
				    keep only these (and their parents) */
	uid_t owner_uid;	 /* squash target; (uid_t)-1 leaves as is */
	gid_t owner_gid;
	bool make_readonly;
	/* The upper dir of fuse-overlayfs (README "Strategies"): its other
	 * whiteout forms become overlay's. A regular file `.wh.NAME` is a
	 * whiteout of NAME (made a 0:0 character device), a file
	 * `.wh..wh..opq` or an xattr user.fuseoverlayfs.opaque=y or
	 * trusted.overlay.opaque=y makes its directory opaque
	 * (user.overlay.opaque=y). Only for that daemon: fuse-overlayfs
	 * refuses `.wh.` names from the task, the kernel overlay does not.
	 * fuse-overlayfs marks every directory it creates opaque; the kernel
	 * only one made where the lowers showed an entry, so a marker counts
	 * only where `lowers` (the workspace's manifests, topmost first)
	 * show the path, and its `.wh.` whiteouts of `.wh.` names are
	 * dropped. */
	bool fuse_upper;
	const struct manifest *const *lowers;
	size_t n_lowers;
};

struct capture_stats {
	uint64_t files, dirs, symlinks, whiteouts, bytes;
	uint64_t dropped; /* sockets, FIFOs, paths outside --save */
};

/* Sanitize, squash and hash the tree at root_fd (a directory fd). */
int capture_tree(int root_fd, const struct capture_options *opts,
		 struct manifest *out, struct capture_stats *stats,
		 struct wsbox_error *err);

/* The same walk, rules and manifest for a tree that stays where it is (the
 * size-limited tmpfs of --max-layer-size, docs/capture.md "Size limit"):
 * what capture_tree would keep is copied, already sanitized, into dst_fd (an
 * empty directory, e.g. on the store's disk) with the same modes and time
 * stamps, whiteouts and opaque markers; src_fd's tree only loses permission
 * bits the walk needs. The bytes are read once, for the hash and the copy.
 * Nothing is copied beyond the listed sizes. On failure dst_fd's new
 * entries are removed again (a full disk keeps room for the record). */
int capture_tree_copy(int src_fd, int dst_fd,
		      const struct capture_options *opts, struct manifest *out,
		      struct capture_stats *stats, struct wsbox_error *err);

#endif
