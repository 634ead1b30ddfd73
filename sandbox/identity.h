/* sandbox/identity: who a task runs as on the host and who owns the layers
 * it leaves (README "Ownership"). The one home of that rule: exec, and
 * every verb that publishes layers (`wsbox layers import`), ask here. The
 * store is passed in as plain values, so the sandbox side never includes
 * layers/. */
#ifndef WSBOX_SANDBOX_IDENTITY_H
#define WSBOX_SANDBOX_IDENTITY_H

#include <stdbool.h>
#include <sys/types.h>

#include "sandbox/util/error.h"

struct identity {
	bool root;	/* wsbox runs as root (root mode) */
	uid_t host_uid; /* host id of the task's uid 0 */
	gid_t host_gid;
	uid_t id_count;	 /* ids mapped into the task: 1, or the range */
	bool idmap;	 /* layers reach tasks through idmapped mounts */
	uid_t layer_uid; /* who owns captured layers on disk */
	gid_t layer_gid;
};

/* Resolve the identity for a store at `store_path` owned by
 * store_uid:store_gid. Rootless: the invoking user, one id, layers the
 * store owner's; `idmap_base` must then be 0. Root: the range from
 * `idmap_base` (0 = root's subordinate range); with idmapped lowers usable
 * (root-owned store, kernel support) the whole range is mapped and layers
 * stay the store owner's, else one id, the range's first, which also owns
 * the layers so every later task can read them. */
int identity_resolve(unsigned long idmap_base, const char *store_path,
		     uid_t store_uid, gid_t store_gid, struct identity *out,
		     struct wsbox_error *err);

/* Which block of host ids a task takes (docs/sandbox.md "Id blocks"). */
struct identity_block {
	const char *tenant;	/* --tenant NAME, or NULL */
	const char *run;	/* --run R, or NULL for a one-off exec */
	const char *store_path; /* the store, owned by store_uid:store_gid */
	uid_t store_uid;
	gid_t store_gid;
	unsigned long idmap_base; /* --idmap-base, or 0 */
};

/* The base identity_resolve should use, in *base: --tenant NAME's block
 * (root mode only, never with --idmap-base); else, in root mode with a
 * range allocation file configured and no --idmap-base, the run's own
 * block (*own set), or a one-off exec's (held until it exits); else
 * idmap_base. Blocks come from sandbox/idrange_alloc.h, allocated on first
 * use and held by this process until it exits. A run's block is only
 * taken for a root:root store (idmapped lowers possible): with layers
 * owned by a run's own id no other run could use them from the cache. */
int identity_block_base(const struct identity_block *b, unsigned long *base,
			bool *own, struct wsbox_error *err);

/* Who owns a layer published outside a task (an import): the owner
 * identity_resolve names with the default range. When the range cannot be
 * resolved (no task could run either), the store owner. */
void identity_layer_owner(const char *store_path, uid_t store_uid,
			  gid_t store_gid, uid_t *uid, gid_t *gid);

#endif
