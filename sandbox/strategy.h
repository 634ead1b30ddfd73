/* strategy.h: the workspace strategies by name, and the probes that say
 * whether each can work on this host for a given directory's filesystem
 * (README "Strategies"). Kernel side: it knows directories, never a store;
 * exec's `auto` choice (sandbox/cli/exec_strategy.c) and `wsbox doctor`
 * both ask these. */
#ifndef WSBOX_SANDBOX_STRATEGY_H
#define WSBOX_SANDBOX_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/plan.h"
#include "sandbox/util/error.h"

/* `--strategy auto`: not a strategy, the request to choose one. */
#define STRATEGY_AUTO (-1)

/* "overlay", "fuse-overlayfs", "copy". */
const char *strategy_name(enum workspace_strategy s);
/* A WS_* value or STRATEGY_AUTO for "auto"; -EINVAL for anything else. */
int strategy_parse(const char *name);

/* Can the kernel's overlayfs be mounted in a new user namespace with an
 * upper dir on `dir`'s filesystem (a scratch tree made and removed below
 * `dir`)? 0, or a negative errno with the reason in `why`.
 * WSBOX_TEST_NO_KERNEL_OVERLAY=1 makes it fail (tests only). */
int strategy_probe_overlay(const char *dir, struct wsbox_error *why);

/* fuse-overlayfs: $WSBOX_FUSE_OVERLAYFS or the first `fuse-overlayfs` in
 * $PATH (its absolute path in bin), and a /dev/fuse the sandbox's ids can
 * open (read-write for everyone, as stock hosts have it). */
int strategy_probe_fuse(char *bin, size_t cap, struct wsbox_error *why);

/* Does `dir`'s filesystem clone file extents (FICLONE: btrfs, XFS with
 * reflink=1)? 1 yes, 0 no (plain copies), negative on a probe failure. */
int strategy_probe_reflink(const char *dir, struct wsbox_error *why);

#endif
