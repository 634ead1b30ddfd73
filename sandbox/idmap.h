/* idmap.h: root mode, parent side. Read-only idmapped views of the layers
 * (README "Ownership"), and the probes for them that exec, `layers import`
 * and `wsbox doctor` share. */
#ifndef WSBOX_SANDBOX_IDMAP_H
#define WSBOX_SANDBOX_IDMAP_H

#include <stddef.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"
#include "sandbox/util/error.h"

/* Can `dir` be given the read-only idmapped view idmap_mount_dirs()
 * attaches, mapped through `userns_fd`? Tried on a detached clone, so
 * nothing changes. 0 if so, else a negative errno and `why`. */
int idmap_try_view(const char *dir, int userns_fd, struct wsbox_error *why);
/* Can layers be given to tasks through idmapped mounts here: not disabled
 * by WSBOX_NO_IDMAP, kernel >= 5.19 for overlayfs over idmapped layers, and
 * idmap_try_view() works on `dir`? 0 if so, else a negative errno and `why`
 * says what is missing. */
int idmap_probe(const char *dir, int userns_fd, struct wsbox_error *why);
/* Will exec show a root-owned store's layers to tasks mapped by `ids`
 * through idmapped mounts (so layers are captured as root's), rather than
 * fall back to layers owned by the subordinate base id? `store_dir` is the
 * store's directory, owned by owner_uid:owner_gid; it is probed itself, as
 * the one directory on the filesystem of every lower exec idmaps (layers and
 * the empty lower), so the caller names it and this file spells no store
 * layout. The probe behind exec, `layers import` and `doctor`: 0 if so, else
 * a negative errno and `why`. */
int idmap_layers_usable(const char *store_dir, uid_t owner_uid, gid_t owner_gid,
			const struct ns_user_ids *ids, struct wsbox_error *why);
/* Move this process into a private mount namespace (nothing propagates back)
 * and cover each of `dirs` with a read-only idmapped view of itself, mapped
 * through `userns_fd`. Sandboxes cloned afterwards inherit the views; the
 * host never sees them, and they vanish with this process. */
int idmap_mount_dirs(const char *const *dirs, size_t n, int userns_fd,
		     struct wsbox_error *err);

#endif
