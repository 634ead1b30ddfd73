/* sandbox/identity.c: the host ids of a task and the owner of its layers
 * (see identity.h). Parent side; uses ns_user.c's range and idmap.c's
 * probe for idmapped lowers. */
#include "sandbox/identity.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/idmap.h"
#include "sandbox/idrange_alloc.h"
#include "sandbox/sandbox.h"
#include "sandbox/util/cleanup.h"

int identity_resolve(unsigned long idmap_base, const char *store_path,
		     uid_t store_uid, gid_t store_gid, struct identity *out,
		     struct wsbox_error *err)
{
	memset(out, 0, sizeof *out);
	out->root = geteuid() == 0;
	if (!out->root) {
		if (idmap_base)
			return wsbox_fail(err, 0,
					  "--idmap-base: only when wsbox runs "
					  "as root (rootless tasks map to the "
					  "invoking user)");
		out->host_uid = getuid();
		out->host_gid = getgid();
		out->id_count = 1;
		out->layer_uid = store_uid;
		out->layer_gid = store_gid;
		return 0;
	}
	struct ns_user_ids ids;
	int r = ns_user_root_ids(idmap_base, store_uid, store_gid, &ids, err);
	if (r < 0)
		return r;
	out->host_uid = ids.host_uid;
	out->host_gid = ids.host_gid;
	/* Layers owned by host root appear owned by the task's ids through
	 * idmapped mounts; that needs a root-owned store and kernel support,
	 * probed once here. Otherwise (README "Ownership") the older scheme:
	 * one id, the range's first, which also owns the layers so every
	 * later task can read them. */
	struct wsbox_error why = {0};
	out->idmap = idmap_layers_usable(store_path, store_uid, store_gid, &ids,
					 &why) == 0;
	out->id_count = out->idmap ? ids.count : 1;
	out->layer_uid = out->idmap ? store_uid : out->host_uid;
	out->layer_gid = out->idmap ? store_gid : out->host_gid;
	return 0;
}

static int tenant_base(const struct identity_block *b, unsigned long *base,
		       struct wsbox_error *err)
{
	if (geteuid() != 0)
		return wsbox_fail(err, 0,
				  "--tenant: only when wsbox runs as root "
				  "(rootless tasks map to the invoking user)");
	if (b->idmap_base)
		return wsbox_fail(err, 0,
				  "--tenant and --idmap-base: give one of "
				  "them");
	struct idrange_owner who = {.kind = IDRANGE_TENANT, .name = b->tenant};
	int r = idrange_alloc_take(idrange_alloc_file(), &who, err);
	if (r < 0) {
		wsbox_error_prefix(err, "tenant %s", b->tenant);
		return r;
	}
	*base = who.base;
	return 0;
}

/* The run's own block, or a one-off exec's; the store by its canonical
 * path, so gc can tell whether the run still exists. */
static int run_base(const struct identity_block *b, unsigned long *base,
		    struct wsbox_error *err)
{
	_cleanup_free_ char *store = realpath(b->store_path, NULL);
	if (!store)
		return wsbox_fail(err, errno, "resolve `%s`", b->store_path);
	struct idrange_owner who = {.kind = b->run ? IDRANGE_RUN : IDRANGE_ONCE,
				    .name = b->run,
				    .store = store};
	int r = idrange_alloc_take(idrange_alloc_file(), &who, err);
	if (r < 0) {
		if (b->run)
			wsbox_error_prefix(err, "run %s's id block", b->run);
		else
			wsbox_error_prefix(err, "one-off exec's id block");
		return r;
	}
	*base = who.base;
	return 0;
}

int identity_block_base(const struct identity_block *b, unsigned long *base,
			bool *own, struct wsbox_error *err)
{
	*own = false;
	*base = b->idmap_base;
	if (b->tenant)
		return tenant_base(b, base, err);
	if (geteuid() != 0 || b->idmap_base || b->store_uid || b->store_gid ||
	    !idrange_alloc_configured())
		return 0;
	*own = true;
	return run_base(b, base, err);
}

void identity_layer_owner(const char *store_path, uid_t store_uid,
			  gid_t store_gid, uid_t *uid, gid_t *gid)
{
	struct identity id;
	struct wsbox_error ignored = {0};
	*uid = store_uid;
	*gid = store_gid;
	if (identity_resolve(0, store_path, store_uid, store_gid, &id,
			     &ignored) < 0)
		return;
	*uid = id.layer_uid;
	*gid = id.layer_gid;
}
