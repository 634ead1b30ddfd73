/* The plan: everything the sandbox needs to run one task, and nothing about
 * runs, caches or layers. The CLI and the store build it
 * (sandbox/cli/exec.c); the sandbox (monitor.c parent side, contain.c child
 * side) only reads it. Data flows one way through this struct. */
#ifndef WSBOX_SANDBOX_PLAN_H
#define WSBOX_SANDBOX_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include "policy/policy.h"

/* plan.hide holds at most this many paths. */
#define PLAN_MAX_HIDE 4

enum net_mode { NET_NONE, NET_HOST };

/* How /workspace is made (README "Strategies", docs/sandbox.md "Workspace
 * strategies"): the kernel's overlayfs, fuse-overlayfs over the same lowers,
 * upper and work dirs, or a plain directory the verb populated. */
enum workspace_strategy {
	WS_OVERLAY,
	WS_FUSE_OVERLAYFS,
	WS_COPY,
};

/* The per-user-namespace kernel quotas `--quota NAME=N` sets
 * (sandbox/ns_limits.c; docs/sandbox.md "Namespaces"). */
enum ns_quota {
	QUOTA_INOTIFY_INSTANCES,
	QUOTA_INOTIFY_WATCHES,
	QUOTA_FANOTIFY_GROUPS,
	QUOTA_FANOTIFY_MARKS,
	QUOTA_COUNT,
};

/* Enforced by a per-sandbox cgroup v2 leaf when a delegated cgroup has the
 * controllers (sandbox/cgroup.c), else by the nearest rlimits (contain.c). */
struct limits {
	uint64_t memory_bytes; /* 0 = unlimited */
	uint64_t pids;	       /* 0 = unlimited */
	uint32_t cpu_milli;    /* CPU rate in 1/1000 CPUs; 0 = unlimited */
	unsigned timeout_sec;  /* 0 = none */
	unsigned kill_grace_ms;
	/* Parent for the sandbox's cgroup (absolute path on a cgroup2
	 * mount); NULL = pick a delegated one near wsbox's own cgroup, or
	 * fall back to rlimits. Given explicitly, it must work. */
	const char *cgroup_parent;
	/* Set by sandbox_run only, for the child: a cgroup enforces memory
	 * and pids, so no rlimits on top. */
	bool via_cgroup;
	/* --quota NAME=N: quota_set[q] says N is in quota[q]; else the
	 * default share of the host's limit. */
	bool quota_set[QUOTA_COUNT];
	uint64_t quota[QUOTA_COUNT];
	/* Set by sandbox_run only, when pids is 0: the RLIMIT_NPROC the
	 * child sets instead, a share of the host's pids (ns_limits.c). */
	uint64_t default_nproc;
};

struct plan {
	/* Root filesystem: a host directory bound read-only. host_root means
	 * the host's "/" with /home, /root, /run, /tmp, /var/tmp hidden. */
	const char *rootfs;
	bool host_root;
	/* rootfs is an imported one, inside the store being hidden: its own
	 * entries are not aliases of the store (ns_mount.c). */
	bool rootfs_in_store;
	/* Host paths to hide (tmpfs over them) if they are visible inside the
	 * rootfs, e.g. the store itself when it lives under the host root:
	 * at their path and wherever another mount shows them. At most
	 * PLAN_MAX_HIDE; each must exist. */
	const char *const *hide;
	size_t n_hide;

	/* Workspace overlay at /workspace: lower dirs topmost first (the
	 * order overlayfs wants), an upper and work dir private to this
	 * attempt (both NULL for a read-only workspace). */
	const char *const *lowers;
	size_t n_lowers;
	const char *upper;
	const char *work;
	/* > 0 (--max-layer-size): the upper and work dirs live on a tmpfs of
	 * this many bytes that the child mounts on `work` in its own mount
	 * namespace, so writes past it fail with ENOSPC inside the task; the
	 * tmpfs outlives the sandbox as sandbox_result.upper_fs. `upper` is
	 * then not mounted at all. 0: upper and work are the host dirs. */
	uint64_t upper_max_bytes;
	/* An empty directory on the host to mount as the only lower when the
	 * task has no ancestors (overlay needs at least one lower). */
	const char *empty_lower;
	/* WS_OVERLAY unless the verb chose another strategy. WS_FUSE_OVERLAYFS
	 * runs `fuse_bin` (an absolute path) as the daemon; WS_COPY binds
	 * `copy_dir` (already populated from the lowers) at /workspace and
	 * ignores lowers, upper and work. */
	enum workspace_strategy strategy;
	const char *fuse_bin;
	const char *copy_dir;
	/* Scratch directory on the host where the new root is assembled. */
	const char *root_mnt;
	/* Root mode: the store, 0700 and root's on disk. The sandbox's
	 * processes see it covered by a view holding only the attempt dir
	 * (the parent of upper, work or copy_dir), root_mnt, the lowers and
	 * empty_lower (sandbox/ns_view.c).
	 * NULL: every path is reached as it is. */
	const char *view_base;

	char *const *argv; /* CMD [ARG...] */
	char *const *envp; /* complete environment for CMD */
	const char *cwd;   /* inside; default /workspace */
	const char *hostname;

	uid_t uid; /* identity inside */
	gid_t gid;
	uid_t host_uid; /* the one host id the task maps to */
	gid_t host_gid;
	/* > 1 (root mode): inside ids 0..id_count-1 map to host_uid.. and
	 * host_gid..; else the single id above. */
	uid_t id_count;

	enum net_mode net;
	struct limits limits;
	const struct policy *policy;

	/* fds the task gets as 0, 1, 2 (-1 keeps wsbox's own). With
	 * close_stdio the parent closes them once the sandbox holds them, so
	 * pipes reach EOF when the last task process dies. */
	int stdio[3];
	bool close_stdio;
	/* stdio[0] is the read end of a pipe whose write end is
	 * stdin_relay_fd: the supervisor copies wsbox's fd 0 into it
	 * (sandbox/stdin_relay.h) and closes it on every way out. */
	bool relay_stdin;
	int stdin_relay_fd;
	/* The task's own terminal (sandbox/pty.h): bit i set, the task's fd
	 * i is the slave of a pty opened in the sandbox instead of stdio[i];
	 * the supervisor relays wsbox's fd 0 (the caller's terminal) to it
	 * and its output to tee[1] when bit 1 is clear and bit 2 set, else
	 * to tee[0]. 0: no pty. The rest is filled by sandbox_run. */
	unsigned pty_stdio;
	struct winsize pty_winsize; /* the caller's, copied at start */
	bool pty_input;		    /* wsbox may read its fd 0 */
	bool pty_raw; /* a task output is on the pty: caller's terminal raw */
	/* Output to copy while the task runs: everything read from src is
	 * written to dst[0] (the live copy, e.g. wsbox's stdout) and, up to
	 * log_max_bytes, to dst[1] (the log in the store). The monitor drains
	 * src until EOF whatever the logs take. */
	struct plan_tee {
		int src;
		int dst[2];
	} tee[2];
	size_t n_tee;
	/* With has_combined_log, every chunk read from tee[i] is also
	 * appended to combined_log as [i + 1][u32 big-endian length][bytes]:
	 * one file that keeps the order of the streams (the format of
	 * layers/tasklog.h). A failed write drops that copy, never the task. */
	bool has_combined_log;
	int combined_log;
	/* > 0 (--max-log-size): each stream keeps at most this many bytes in
	 * its dst[1] log and in the combined log (counted from what dst[1]
	 * already holds: the steps of an attempt append), then one marker
	 * line (sandbox/util/logcap.h); the combined log as a whole has its
	 * own bound (sandbox/output.h). sandbox_result.log_truncated says
	 * which were cut. The live copy dst[0] is never cut. */
	uint64_t log_max_bytes;

	/* Denied-syscall reporting (sandbox/notify.c): the task installs the
	 * policy's reporting variant and hands its listener to the
	 * supervisor, which answers every syscall the policy fails with an
	 * errno other than ENOSYS with that errno, counts it in
	 * sandbox_result.denied_count and, for the first NOTIFY_MAX_REPORTS
	 * (1000) of the sandbox, calls on_denied (if set). */
	bool report_denied;
	void (*on_denied)(void *ctx, pid_t pid, int nr,
			  const char *syscall_name);
	void *on_denied_ctx;
};

#endif
