/* fuse_overlay.h: the workspace served by fuse-overlayfs (docs/sandbox.md
 * "Workspace strategies"), parent side. Internal to the kernel side
 * (monitor.c); the verbs choose it through plan.strategy. */
#ifndef WSBOX_SANDBOX_FUSE_OVERLAY_H
#define WSBOX_SANDBOX_FUSE_OVERLAY_H

#include <sys/types.h>

#include "sandbox/plan.h"
#include "sandbox/util/error.h"

/* Once the id maps of `child` (the sandbox's first process, still waiting
 * for its "go") are written: a helper joins the child's user namespace as
 * the task's ids, opens /dev/fuse there, creates the fuse superblock in a
 * mount namespace of its own, attaches it on plan->root_mnt in the child's
 * mount namespace (the child takes it from there to /workspace) and execs
 * plan->fuse_bin on that /dev/fuse fd over the plan's lowers, upper and work.
 * The daemon is wsbox's child in wsbox's PID namespace: no task process can
 * see, signal or ptrace it. *daemon gets its pid. */
int fuse_overlay_start(const struct plan *plan, pid_t child, pid_t *daemon,
		       struct wsbox_error *err);

/* After the sandbox's init is reaped (its mount namespace, and with it the
 * last mount of the fuse filesystem, is gone, so every write has reached
 * the upper dir): kill and reap the daemon. No-op for *daemon <= 0. */
void fuse_overlay_stop(pid_t *daemon);

#endif
