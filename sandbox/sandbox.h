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
};

/* Run the plan to completion. Returns 0 when the task ran (whatever its exit
 * status) and a negative errno when the sandbox could not be set up. When it
 * returns, every process of the sandbox is gone. */
int sandbox_run(const struct plan *plan, struct sandbox_result *res,
		struct wsbox_error *err);

/* The exit status of `wsbox exec` for a finished task (SPEC.md). */
int sandbox_exit_status(const struct sandbox_result *res);

/* ns_user.c: single-id maps. Format "INSIDE OUTSIDE 1\n" into buf. */
int idmap_format(char *buf, size_t size, unsigned long inside,
		 unsigned long outside);
/* Parent side: write setgroups=deny, uid_map and gid_map of `pid`. */
int ns_user_write_maps(pid_t pid, const struct plan *plan,
		       struct wsbox_error *err);
/* The host id that tasks map to when wsbox runs as real root: the first id
 * of root's range in /etc/subuid (/etc/subgid), else 100000 (never 0). */
unsigned long ns_user_root_host_id(const char *subid_file);

/* ns_net.c: child side, bring up `lo` in the fresh network namespace. */
int ns_net_loopback_up(struct wsbox_error *err);

/* ns_mount.c: child side. Build the new root under plan->root_mnt, mount the
 * workspace, /proc, /dev, /tmp (proc not yet masked). */
int ns_mount_build_root(const struct plan *plan, struct wsbox_error *err);
/* Make /proc/sys and friends read-only and mask the sensitive files; run
 * after anything that must write /proc/sys. */
int ns_mount_mask_proc(const struct plan *plan, struct wsbox_error *err);
/* pivot_root into plan->root_mnt, detach the old root, lock "/" read-only. */
int ns_mount_enter_root(const struct plan *plan, struct wsbox_error *err);

#endif
