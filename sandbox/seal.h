/* sandbox/seal: the workspace made read-only for good once the sandbox is
 * gone and before the verb captures it, so that nothing still holding a
 * reference into it (an fd passed out, a process's cwd) can change the tree
 * that becomes a layer (docs/capture.md "Integrity after publication").
 * Child side: seal_send, parent side (monitor.c): seal_receive, seal_apply. */
#ifndef WSBOX_SANDBOX_SEAL_H
#define WSBOX_SANDBOX_SEAL_H

#include <stdbool.h>

#include "sandbox/plan.h"
#include "sandbox/util/error.h"

/* The plan's workspace is sealed by seal_apply: a writable kernel overlay.
 * fuse-overlayfs needs no seal of ours: the daemon is killed with the
 * sandbox (fuse_overlay.c), after which every reference into the mount
 * fails with ENOTCONN. --strategy copy is not sealed (docs/capture.md). */
bool seal_wanted(const struct plan *plan);

/* Child side, after the workspace is mounted and before any task process
 * exists: pick the superblock of plan->root_mnt/workspace (fspick) and send
 * it over `sock`, so what the parent receives is the overlay this child
 * made. */
int seal_send(const struct plan *plan, int sock, struct wsbox_error *err);

/* Parent side: the fs context the child sent (close-on-exec), or -errno
 * (-ENOMSG: none came, the setup failed first). Never blocks. */
int seal_receive(int sock);

/* Parent side, every process of the sandbox gone: make the superblock behind
 * `fs` read-only (fsconfig "ro" + reconfigure). That holds for every mount
 * of it, attached or detached, and every fd into it; a write through any of
 * them is EROFS from then on. 0, or -errno with err filled by seal_fail. */
int seal_apply(int fs, struct wsbox_error *err);

/* err = "seal the workspace: WHY (ERRNO TEXT)", status 125. EBUSY, what the
 * kernel answers while some file of the workspace is open for writing (or
 * deleted and still open), reads "a file in it is still open for writing".
 * Returns -errnum. */
int seal_fail(struct wsbox_error *err, int errnum);

#endif
