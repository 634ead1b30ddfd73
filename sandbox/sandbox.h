/* sandbox/: the kernel side of one task. sandbox_run() takes a plan, creates
 * the namespaces with one clone3(), supervises the sandbox from the parent
 * (monitor.c) while the child builds the container and becomes its init
 * (contain.c, init/), and returns how the task ended. It knows nothing about
 * runs, layers or caches. */
#ifndef WSBOX_SANDBOX_H
#define WSBOX_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "sandbox/plan.h"
#include "sandbox/util/error.h"

struct sandbox_result {
	bool signaled;	 /* task killed by signal `code` */
	bool timed_out;	 /* --timeout expired; the sandbox was killed */
	int code;	 /* exit code, or signal number when signaled */
	double wall_sec; /* clone to last process gone */
	double cpu_sec;	 /* user+sys of every process of the sandbox */
	uint64_t max_rss_kb;
	unsigned denied_count; /* syscalls denied and reported (plan.h) */
	/* How --memory/--pids/--cpus were enforced: "cgroup", "rlimit", or
	 * NULL when none was asked (and no --cgroup-parent given). */
	const char *limits_via;
	/* cgroup only (rlimit failures are invisible from outside: the task
	 * just sees ENOMEM or EAGAIN): */
	bool oom_killed;	 /* the OOM killer killed a sandbox process */
	bool pids_max_hit;	 /* a fork failed at the pids limit */
	uint64_t mem_peak_bytes; /* memory.peak of the sandbox, 0 unknown */
};

/* Run the plan to completion. Returns 0 when the task ran (whatever its exit
 * status) and a negative errno when the sandbox could not be set up. When it
 * returns, every process of the sandbox is gone. On 0, err->msg may hold the
 * sandbox_limits_note() of a limit the task hit, with status 0: a line to
 * print, not a failure of wsbox. */
int sandbox_run(const struct plan *plan, struct sandbox_result *res,
		struct wsbox_error *err);

/* The exit status of `wsbox exec` for a finished task (SPEC.md). */
int sandbox_exit_status(const struct sandbox_result *res);

/* One line on the limits a finished task hit, for stderr after "wsbox: task
 * T: ": "killed: memory limit 64M reached (oom)", "pids limit 50 reached
 * (fork failed)". Empty (returns false) when none was hit. */
bool sandbox_limits_note(const struct sandbox_result *res,
			 const struct limits *l, char *buf, size_t cap);

/* ns_user.c: id maps. Rootless: one id, "INSIDE OUTSIDE 1". As real root:
 * inside 0..count-1 onto an unprivileged host range (plan->id_count > 1). */
int idmap_format(char *buf, size_t size, unsigned long inside,
		 unsigned long outside);
int idmap_format_range(char *buf, size_t size, unsigned long inside,
		       unsigned long outside, unsigned long count);
/* Parent side: write setgroups=deny, uid_map and gid_map of `pid`. */
int ns_user_write_maps(pid_t pid, const struct plan *plan,
		       struct wsbox_error *err);
/* Without a range for root in /etc/subuid, /etc/subgid: this many ids from
 * this base. A smaller range is refused: inside ids 0..65535 are what
 * package managers and build tools chown to. */
#define NS_USER_DEFAULT_BASE 100000UL
#define NS_USER_MIN_RANGE 65536UL
/* Root's first usable range ("root:" or "0:") in an /etc/subuid-format
 * file: 0 and start/count, or -ENOENT (or -errno when unreadable). */
int ns_user_subid_range(const char *subid_file, unsigned long *start,
			unsigned long *count);
/* The first id of that range, else NS_USER_DEFAULT_BASE (never 0). */
unsigned long ns_user_root_host_id(const char *subid_file);
/* The host range root-mode tasks map to. */
struct ns_user_ids {
	uid_t host_uid; /* inside uid 0 */
	gid_t host_gid; /* inside gid 0 */
	uid_t count;	/* ids in both ranges, >= NS_USER_MIN_RANGE */
};
/* Resolve it from --idmap-base (base_opt, 0 = none) or root's subordinate
 * ranges; refuse ranges that are too small or contain host root or the store
 * owner. */
int ns_user_root_ids(unsigned long base_opt, uid_t owner_uid, gid_t owner_gid,
		     struct ns_user_ids *ids, struct wsbox_error *err);
/* A user namespace carrying exactly that map (for MOUNT_ATTR_IDMAP): an
 * O_CLOEXEC fd, or a negative errno with err set. */
int ns_user_open_userns(const struct ns_user_ids *ids, struct wsbox_error *err);

/* ns_net.c: child side, bring up `lo` in the fresh network namespace. */
int ns_net_loopback_up(struct wsbox_error *err);

/* ns_mount.c: child side. Build the new root under plan->root_mnt from
 * rootfs_fd (plan->rootfs, opened before the ids were dropped), mount the
 * workspace, /proc, /dev, /tmp (proc not yet masked). */
int ns_mount_build_root(const struct plan *plan, int rootfs_fd,
			struct wsbox_error *err);
/* Make /proc/sys and friends read-only and mask the sensitive files; run
 * after anything that must write /proc/sys. */
int ns_mount_mask_proc(const struct plan *plan, struct wsbox_error *err);
/* pivot_root into plan->root_mnt, detach the old root, lock "/" read-only. */
int ns_mount_enter_root(const struct plan *plan, struct wsbox_error *err);
/* Root mode, parent side. Can layers be given to tasks through idmapped
 * mounts here (kernel >= 5.19 for overlayfs over idmapped layers, and the
 * filesystem holding `dir` supports MOUNT_ATTR_IDMAP)? 0 if so, else a
 * negative errno and `why` says what is missing. */
int ns_mount_idmap_probe(const char *dir, int userns_fd,
			 struct wsbox_error *why);
/* Root mode: will exec show a root-owned store's layers to tasks mapped by
 * `ids` through idmapped mounts (so layers are captured as root's), rather
 * than fall back to layers owned by the subordinate base id? The probe
 * behind exec, `layers import` and `doctor`: 0 if so, else a negative errno
 * and `why`. */
int ns_mount_idmap_layers_usable(const char *store_path, uid_t owner_uid,
				 gid_t owner_gid, const struct ns_user_ids *ids,
				 struct wsbox_error *why);
/* Move this process into a private mount namespace (nothing propagates back)
 * and cover each of `dirs` with a read-only idmapped view of itself, mapped
 * through `userns_fd`. Sandboxes cloned afterwards inherit the views; the
 * host never sees them, and they vanish with this process. */
int ns_mount_idmap_dirs(const char *const *dirs, size_t n, int userns_fd,
			struct wsbox_error *err);

#endif
