/* doctor/idmap.c: idmapped mounts (root mode), probed with the functions
 * exec uses (sandbox/idmap.c): can a directory get exec's read-only
 * idmapped view, and will root-mode tasks see root's layers through one. */
#include "sandbox/cli/doctor/doctor.h"

#include <errno.h>
#include <linux/mount.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include "sandbox/idmap.h"
#include "sandbox/idrange_alloc.h"
#include "sandbox/sandbox.h"
#include "sandbox/util/cleanup.h"

/* Child side (root only): give a detached clone of `dir` the view exec
 * attaches, mapped to a fresh user namespace carrying the default root-mode
 * map (inside 0..65535 onto host NS_USER_DEFAULT_BASE..). */
static int child_idmap(void *arg, struct child_reply *rep)
{
	const char *dir = arg;
	const struct ns_user_ids ids = {
	    NS_USER_DEFAULT_BASE, NS_USER_DEFAULT_BASE, NS_USER_MIN_RANGE};
	_cleanup_close_ int ns = ns_user_open_userns(&ids, &rep->err);
	if (ns < 0)
		return ns;
	return idmap_try_view(dir, ns, &rep->err);
}

/* What root mode will do: the id range, and whether layers can stay root's
 * (the same functions exec uses). */
static void probe_root_mode(struct doctor *d)
{
	struct ns_user_ids ids;
	struct wsbox_error e = {0};
	if (ns_user_root_ids(0, 0, 0, &ids, &e) < 0) {
		doctor_report(d, LVL_FAIL, "root mode", "%s", e.msg);
		return;
	}
	const char *store = getenv("WSBOX_STORE");
	const char *dir =
	    store && *store && access(store, F_OK) == 0 ? store : "/var/lib";
	if (idmap_layers_usable(dir, 0, 0, &ids, &e) == 0)
		doctor_report(
		    d, LVL_OK, "root mode",
		    "tasks map inside ids 0..%u to host uid %u.., gid %u..; "
		    "layers stay root's and reach tasks through read-only "
		    "idmapped mounts (probed on `%s`)",
		    (unsigned)ids.count - 1, (unsigned)ids.host_uid,
		    (unsigned)ids.host_gid, dir);
	else
		doctor_report(
		    d, LVL_WARN, "root mode",
		    "tasks map to the single host id %u (gid %u), which also "
		    "owns the layers (fallback: %s)",
		    (unsigned)ids.host_uid, (unsigned)ids.host_gid, e.msg);
}

/* Root mode's id blocks (docs/sandbox.md "Id blocks"): the range allocation
 * file, if any, and how much of its pool is free. */
static void probe_id_blocks(struct doctor *d)
{
	const char *file = idrange_alloc_file();
	if (!idrange_alloc_configured()) {
		doctor_report(d, LVL_OK, "id blocks",
			      "no range allocation file `%s`: every run "
			      "shares the range above",
			      file);
		return;
	}
	struct idrange_pool p;
	struct wsbox_error e = {0};
	if (idrange_alloc_inspect(file, &p, &e) < 0) {
		doctor_report(d, LVL_FAIL, "id blocks", "%s", e.msg);
		return;
	}
	doctor_report(d, p.taken < p.blocks ? LVL_OK : LVL_WARN, "id blocks",
		      "`%s`: %lu of %lu blocks of 65536 ids from %lu free; "
		      "each run, one-off exec and --tenant gets its own",
		      file, p.blocks - p.taken, p.blocks, p.first);
}

void probe_idmap(struct doctor *d)
{
	/* usize 0 is rejected with EINVAL before anything happens. */
	if (mount_setattr(-1, "", 0, NULL, 0) < 0 && errno == ENOSYS) {
		doctor_report(d, LVL_WARN, "idmapped mounts",
			      "mount_setattr unavailable (Linux < 5.12; "
			      "informational, root mode only)");
		return;
	}
	if (!d->is_root) {
		doctor_report(d, LVL_OK, "idmapped mounts",
			      "mount_setattr available; MOUNT_ATTR_IDMAP needs "
			      "real root (used in root mode only, not tested "
			      "as uid %lu)",
			      (unsigned long)geteuid());
		return;
	}
	const char *base = probe_tmpdir();
	struct child_reply rep;
	if (probe_run_child(child_idmap, (void *)base, &rep) == 0)
		doctor_report(
		    d, LVL_OK, "idmapped mounts",
		    "MOUNT_ATTR_IDMAP mount of `%s` works (root mode)", base);
	else
		doctor_report(d, LVL_WARN, "idmapped mounts",
			      "%s (informational, root mode)", rep.err.msg);
	probe_root_mode(d);
	probe_id_blocks(d);
}
