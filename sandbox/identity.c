/* sandbox/identity.c: the host ids of a task and the owner of its layers
 * (see identity.h). Parent side; uses ns_user.c's range and idmap.c's
 * probe for idmapped lowers. */
#include "sandbox/identity.h"

#include <string.h>
#include <unistd.h>

#include "sandbox/idmap.h"
#include "sandbox/idrange_alloc.h"
#include "sandbox/sandbox.h"

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

int identity_tenant_base(const char *tenant, unsigned long *base,
			 struct wsbox_error *err)
{
	if (!tenant)
		return 0;
	if (geteuid() != 0)
		return wsbox_fail(err, 0,
				  "--tenant: only when wsbox runs as root "
				  "(rootless tasks map to the invoking user)");
	if (*base)
		return wsbox_fail(err, 0,
				  "--tenant and --idmap-base: give one of "
				  "them");
	return idrange_alloc_take(idrange_alloc_file(), tenant, base, err);
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
