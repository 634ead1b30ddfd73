/* sandbox/seal: the workspace made read-only for good once the sandbox is
 * gone and before the verb captures it, so that nothing still holding a
 * reference into it (an fd passed out, a process's cwd) can change the tree
 * that becomes a layer (docs/capture.md "Integrity after publication").
 * Child side: seal_send; parent side (monitor.c): the rest. */
#ifndef WSBOX_SANDBOX_SEAL_H
#define WSBOX_SANDBOX_SEAL_H

#include <sys/types.h>

#include "sandbox/plan.h"
#include "sandbox/util/error.h"

/* How a writable workspace is sealed:
 * - the kernel overlay: its superblock, which the child picks (fspick) and
 *   sends; reconfigured read-only it refuses writes through every mount of
 *   it, attached or detached, and every fd into it;
 * - --strategy copy: the bind mount at /workspace, made read-only
 *   (mount_setattr) from inside the sandbox's namespaces, which the parent
 *   holds open from the clone on (the directory's file system is the
 *   store's, whose superblock is not ours to touch);
 * - fuse-overlayfs: none of ours. The daemon is killed with the sandbox
 *   (fuse_overlay.c), after which every reference into the mount fails
 *   with ENOTCONN.
 * A read-only workspace needs none. */
enum seal_kind { SEAL_NONE, SEAL_SUPERBLOCK, SEAL_MOUNT };
enum seal_kind seal_kind_of(const struct plan *plan);

/* Child side, SEAL_SUPERBLOCK, after the workspace is mounted and before
 * any task process exists: pick the superblock of plan->root_mnt/workspace
 * and send it over `sock`, so what the parent receives is the overlay this
 * child made. */
int seal_send(const struct plan *plan, int sock, struct wsbox_error *err);

/* Parent side. */
struct seal {
	enum seal_kind kind;
	int fs;	     /* SEAL_SUPERBLOCK: the fs context the child sent */
	int user_ns; /* SEAL_MOUNT: the sandbox's namespaces */
	int mnt_ns;
};
#define SEAL_INIT                                                              \
	{                                                                      \
		.kind = SEAL_NONE, .fs = -1, .user_ns = -1, .mnt_ns = -1       \
	}
/* Right after the clone, while the child waits to be let go: SEAL_MOUNT
 * opens its user and mount namespaces, which keeps the mount namespace,
 * and with it the workspace mount, alive past the sandbox's last process.
 * Nothing for the other kinds. */
int seal_hold(struct seal *s, const struct plan *plan, pid_t child,
	      struct wsbox_error *err);
/* SEAL_SUPERBLOCK, the sandbox gone: take the fs context the child sent
 * over `sock` (never blocks). None came: the setup failed before any task
 * process existed, so nothing can hold a reference, and seal_apply has
 * nothing to do. */
void seal_receive(struct seal *s, int sock);
/* Every process of the sandbox gone: make the workspace read-only. A
 * write through any reference into it is EROFS from then on. The kernel
 * refuses with EBUSY, and changes nothing, while a file of it is open for
 * writing (or, for the superblock, deleted and still open). 0, or -errno
 * with err filled by seal_fail. */
int seal_apply(struct seal *s, struct wsbox_error *err);
void seal_close(struct seal *s);

/* err = "seal the workspace: WHY (ERRNO TEXT)", status 125, where EBUSY
 * reads "a file in it is still open for writing". Returns -errnum. */
int seal_fail(struct wsbox_error *err, int errnum);

#endif
