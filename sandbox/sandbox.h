/* sandbox/: the kernel side of one task. sandbox_run() takes a plan, creates
 * the namespaces with one clone3(), supervises the sandbox from the parent
 * (monitor.c) while the child builds the container and becomes its init
 * (contain.c, init/), and returns how the task ended. It knows nothing about
 * runs, layers or caches. This header is its face to the CLI; the steps
 * shared inside sandbox/ are declared in ns.h, the idmapped views of root
 * mode in idmap.h, the workspace overlay in overlay.h. */
#ifndef WSBOX_SANDBOX_H
#define WSBOX_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "sandbox/plan.h"
#include "sandbox/util/error.h"

#define SANDBOX_NOTE_MAX 256

struct sandbox_result {
	bool signaled;	 /* task killed by signal `code` */
	bool timed_out;	 /* --timeout expired; the sandbox was killed */
	int code;	 /* exit code, or signal number when signaled */
	double wall_sec; /* clone to last process gone */
	double cpu_sec;	 /* user+sys of every process of the sandbox */
	uint64_t max_rss_kb;
	unsigned denied_count; /* syscalls denied and reported (plan.h) */
	/* How --memory/--pids/--cpus were enforced: "cgroup" (v2),
	 * "cgroup-v1", "rlimit" (memory then not bounded for shmem/memfd), or
	 * NULL when none was asked (and no --cgroup-parent given). */
	const char *limits_via;
	/* cgroup only (rlimit failures are invisible from outside: the task
	 * just sees ENOMEM or EAGAIN): */
	bool oom_killed;	 /* the OOM killer killed a sandbox process */
	bool pids_max_hit;	 /* a fork failed at the pids limit */
	uint64_t mem_peak_bytes; /* memory.peak of the sandbox, 0 unknown */
	/* With plan.upper_max_bytes: the upper dir on its tmpfs, an O_RDONLY
	 * directory fd the caller owns and closes once the tree is captured
	 * (the tmpfs and its memory go with the last reference).
	 * -1 when the upper dir is plan.upper on the host (no limit, or a
	 * kernel whose tmpfs cannot hold overlay's user xattrs). */
	int upper_fs;
	bool upper_full; /* that tmpfs had no room left when the task ended */
	/* The workspace could not be made read-only after the task
	 * (sandbox/seal.h): what it left must never be captured. sandbox_run
	 * then fails if the task succeeded; a failed task keeps its status. */
	bool seal_refused;
	/* plan.log_max_bytes cut the stored log of tee i (0 stdout, 1
	 * stderr) or [2] the combined log (sandbox/output.h). */
	bool log_truncated[3];
	/* The sandbox_limits_note() of a limit the task hit, "" when none:
	 * a line to print, not a failure of wsbox. */
	char note[SANDBOX_NOTE_MAX];
};

/* Run the plan to completion. Returns 0 when the task ran (whatever its exit
 * status; res->note says which limit it hit) and a negative errno with err
 * set when the sandbox could not be set up. When it returns, every process
 * of the sandbox is gone. */
int sandbox_run(const struct plan *plan, struct sandbox_result *res,
		struct wsbox_error *err);

/* The exit status of `wsbox exec` for a finished task (docs/exec.md
 * "Exit status"). */
int sandbox_exit_status(const struct sandbox_result *res);

/* One line on the limits a finished task hit, for stderr after "wsbox: task
 * T: ": "killed: memory limit 64M reached (oom)", "pids limit 50 reached
 * (fork failed)". Empty (returns false) when none was hit. */
bool sandbox_limits_note(const struct sandbox_result *res,
			 const struct limits *l, char *buf, size_t cap);

/* ns_limits.c: the process bound a sandbox gets without --pids, 1/8 of the
 * host's pid_max or threads-max (the smaller); 0 if neither is readable.
 * sandbox_run applies it; doctor prints it. */
uint64_t ns_limits_default_nproc(void);

/* ns_limits.c: `--quota NAME=N`'s NAME (`inotify-instances`,
 * `inotify-watches`, `fanotify-groups`, `fanotify-marks`) as an
 * enum ns_quota, or -1; *host_max is the host's own limit for it (the most
 * a quota may be), 0 when it cannot be read (the kernel lacks it). */
int ns_limits_quota(const char *name, uint64_t *host_max);

/* ns_user.c, root mode: the host id range tasks map to (README "Ownership").
 * The CLI resolves it; idmap.h shows layers to those ids.
 *
 * Without a range for root in /etc/subuid, /etc/subgid: this many ids from
 * this base. A smaller range is refused: inside ids 0..65535 are what
 * package managers and build tools chown to. The base, 0x70000000, lies
 * above where useradd allocates subordinate ranges (SUB_UID_MAX 600100000)
 * and in the block systemd leaves unused (1879048192..2147352575), so the
 * ranges useradd gives new users never meet it. */
#define NS_USER_DEFAULT_BASE 1879048192UL
#define NS_USER_MIN_RANGE 65536UL
/* The first id of root's first usable range ("root:" or "0:") in an
 * /etc/subuid-format file, else NS_USER_DEFAULT_BASE (never 0). */
unsigned long ns_user_root_host_id(const char *subid_file);
/* The host range root-mode tasks map to. */
struct ns_user_ids {
	uid_t host_uid; /* inside uid 0 */
	gid_t host_gid; /* inside gid 0 */
	uid_t count;	/* ids in both ranges, >= NS_USER_MIN_RANGE */
};
/* Resolve it from --idmap-base (base_opt, 0 = none), root's subordinate
 * ranges or the default; refuse ranges that are too small, contain host root
 * or the store owner, or meet another user's /etc/subuid, /etc/subgid entry
 * or any /etc/passwd, /etc/group id (idrange.h). */
int ns_user_root_ids(unsigned long base_opt, uid_t owner_uid, gid_t owner_gid,
		     struct ns_user_ids *ids, struct wsbox_error *err);
/* A user namespace carrying exactly that map (for MOUNT_ATTR_IDMAP): an
 * O_CLOEXEC fd, or a negative errno with err set. */
int ns_user_open_userns(const struct ns_user_ids *ids, struct wsbox_error *err);

#endif
