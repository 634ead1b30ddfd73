/* overlay.h: the workspace overlay, with the one option set both the sandbox
 * child (ns_mount.c, at /workspace) and `wsbox doctor` (its overlay probe)
 * mount, so the probe tests exactly what exec mounts. */
#ifndef WSBOX_SANDBOX_OVERLAY_H
#define WSBOX_SANDBOX_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/util/error.h"

/* The key=value options every workspace overlay gets on top of the
 * userxattr flag, in the order they are set. */
struct overlay_option {
	const char *key;
	const char *val;
};
extern const struct overlay_option overlay_options[];
extern const size_t overlay_n_options;

struct overlay_spec {
	/* Lower dirs, topmost first (the order overlayfs wants). */
	const char *const *lowers;
	size_t n_lowers;
	/* An empty directory appended as a lower while there are fewer than
	 * overlay needs: one with an upper, two without. */
	const char *pad_lower;
	/* Upper and work dir (a fresh workdir per mount: the overlay is
	 * volatile); both NULL for a read-only overlay. */
	const char *upper;
	const char *work;
	/* On failure, add the kernel's fs_context messages to err (doctor:
	 * they name the option the kernel refused). */
	bool kernel_log;
};

/* Create the overlay described by `spec` as a detached mount with mount
 * attributes `attrs` (MOUNT_ATTR_*): an O_CLOEXEC mount fd to attach with
 * move_mount(), or a negative errno with err set. */
int overlay_mount(const struct overlay_spec *spec, unsigned attrs,
		  struct wsbox_error *err);

/* Put the messages the kernel logged on the fs_context `fs` (e.g.
 * "e overlay: ...") in front of err. */
void overlay_kernel_log(int fs, struct wsbox_error *err);

#endif
