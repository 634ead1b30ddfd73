/* ns.h: the kernel side's internal steps, shared by contain.c (child),
 * monitor.c (parent) and the ns_*.c files that implement them. The CLI uses
 * sandbox.h, never this. */
#ifndef WSBOX_SANDBOX_NS_H
#define WSBOX_SANDBOX_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/plan.h"
#include "sandbox/sandbox.h"
#include "sandbox/util/error.h"

/* ns_user.c: id maps. Rootless: one id, "INSIDE OUTSIDE 1". As real root:
 * inside 0..count-1 onto an unprivileged host range (plan->id_count > 1). */
int idmap_format(char *buf, size_t size, unsigned long inside,
		 unsigned long outside);
int idmap_format_range(char *buf, size_t size, unsigned long inside,
		       unsigned long outside, unsigned long count);
/* Parent side: write setgroups=deny, uid_map and gid_map of `pid`. */
int ns_user_write_maps(pid_t pid, const struct plan *plan,
		       struct wsbox_error *err);
/* Root's first usable range ("root:" or "0:") in an /etc/subuid-format
 * file: 0 and start/count, or -ENOENT (or -errno when unreadable). */
int ns_user_subid_range(const char *subid_file, unsigned long *start,
			unsigned long *count);
/* ns_user_root_ids() reading the given id databases instead of /etc's. */
struct idrange_files;
int ns_user_root_ids_from(const struct idrange_files *files,
			  unsigned long base_opt, uid_t owner_uid,
			  gid_t owner_gid, struct ns_user_ids *ids,
			  struct wsbox_error *err);
/* ns_net.c: child side, bring up `lo` in the fresh network namespace. */
int ns_net_loopback_up(struct wsbox_error *err);

/* ns_limits.c: child side, bound this user namespace's quotas
 * (/proc/sys/user/max_*: inotify, fanotify, namespaces) before /proc/sys
 * turns read-only, and the rlimits charged like them (message queues,
 * queued signals, processes when there is no --pids). */
int ns_limits_apply(const struct plan *plan, struct wsbox_error *err);

/* ns_alias.c: child side. A directory to hide (plan->hide[i]) as its
 * filesystem knows it, taken before the ids drop (the task's ids may not
 * resolve its path). */
struct hide_target {
	unsigned major, minor; /* its filesystem, as mountinfo names it */
	char *fs_path;	       /* its path inside that filesystem */
	dev_t dev;	       /* and as stat shows it */
	ino_t ino;
};
int ns_alias_take(const char *path, struct hide_target *t,
		  struct wsbox_error *err);
void ns_alias_free(struct hide_target *t);
/* For each mount of the target's filesystem below the mount `root_id` in
 * `mountinfo` (split in place): fn(rel, piece) with the path relative to
 * the new root at which the target shows (piece false: the mount holds
 * an ancestor of it), or that mount's own point (piece true: it is a part
 * of the target). Candidates only: the caller confirms what is there. */
typedef int (*ns_alias_fn)(const char *rel, bool piece, void *ctx,
			   struct wsbox_error *err);
int ns_alias_each(char *mountinfo, const struct hide_target *t,
		  uint64_t root_id, ns_alias_fn fn, void *ctx,
		  struct wsbox_error *err);
/* For each mount of a filesystem that describes the host (procfs, sysfs,
 * cgroup, devpts, mqueue, ...) below the mount `root_id`: fn(rel, its
 * mount id, fstype). Walked below the new root before wsbox mounts its own
 * /proc, /sys and /dev (such mounts then come only from inside the rootfs,
 * cloned by the recursive binds), and below the host's /sys bound for
 * --net host. */
typedef int (*ns_kernel_fn)(const char *rel, uint64_t mnt_id,
			    const char *fstype, void *ctx,
			    struct wsbox_error *err);
int ns_kernel_mounts_each(char *mountinfo, uint64_t root_id, ns_kernel_fn fn,
			  void *ctx, struct wsbox_error *err);

/* ns_mount.c: child side. Build the new root under plan->root_mnt, mount the
 * workspace, /proc, /dev, /tmp (proc not yet masked). The rootfs comes as
 * rootfs_fd (plan->rootfs, opened before the ids were dropped), the hidden
 * dirs as hidden[plan->n_hide] (ns_alias_take). With
 * plan->upper_max_bytes, *upper_fs gets an fd on the upper dir on its tmpfs
 * (for the parent), else -1. */
int ns_mount_build_root(const struct plan *plan, int rootfs_fd,
			const struct hide_target *hidden, int *upper_fs,
			struct wsbox_error *err);
/* Make /proc/sys and friends read-only and mask the sensitive files; run
 * after anything that must write /proc/sys. */
int ns_mount_mask_proc(const struct plan *plan, struct wsbox_error *err);
/* pivot_root into plan->root_mnt, detach the old root, lock "/" read-only. */
int ns_mount_enter_root(const struct plan *plan, struct wsbox_error *err);

/* ns_view.c: root mode (plan->view_base set), in a mount namespace of our
 * own. ns_view_take, still host root, clones this run's dirs below the store
 * (the attempt dir and the root mount point with their submounts, the
 * lowers, the empty lower) and opens the store; ns_view_show, after the ids
 * are the task's, covers the store with a tmpfs showing only those clones at
 * their own paths, so every
 * path of the plan resolves while the 0700 store stays closed on disk.
 * Nothing to do without view_base. */
struct ns_view {
	int base;	   /* O_PATH of plan->view_base, or -1 */
	int *trees;	   /* detached clones */
	const char **rels; /* their paths below view_base */
	size_t n;
	char *attempt; /* storage for the attempt dir's path */
};
int ns_view_take(const struct plan *plan, struct ns_view *v,
		 struct wsbox_error *err);
int ns_view_show(struct ns_view *v, struct wsbox_error *err);
void ns_view_close(struct ns_view *v);

#endif
