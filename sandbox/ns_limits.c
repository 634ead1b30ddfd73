/* ns_limits.c: child side, the per-user-namespace kernel quotas of the
 * sandbox (/proc/sys/user/max_*) and the rlimits counted the same way,
 * written once by the child while /proc/sys is still writable (contain.c
 * calls this just before ns_mount_mask_proc). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sandbox/ns.h"
#include "sandbox/sandbox.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* The kernel charges a task's inotify instances, fanotify groups, new
 * namespaces ... to its uid in its own user namespace *and* to the owner of
 * every ancestor namespace: in the host's namespace, to wsbox's user (root
 * in root mode). A fresh user namespace allows INT_MAX of each, so without
 * these a task could take all of that host user's quota (128 inotify
 * instances by default) and starve it and every other tenant's task
 * (issue 19 item 4). Each value below is at most 1/8 of the host's own
 * limit (ns_limit_value), so one sandbox never takes more than that share;
 * eight sandboxes of one host user running at once still can take all of
 * it (the charge at the host's level is to the namespace's owner). */
static const struct ns_limit {
	const char *name;
	const char *value;
	/* The host's own limit for this quota (init user namespace's; the
	 * sysctl shows it in every namespace), or NULL: the value written is
	 * at most 1/NS_LIMIT_SHARE of it. A fixed 65536 watches was all of
	 * host root's quota on a host with 8 GiB or less (the kernel gives
	 * about 8k watches per GiB), so one task could take it. */
	const char *host;
	/* --quota NAME for it, or NULL when it is not the caller's to set
	 * (namespaces stay closed). */
	const char *opt;
	enum ns_quota quota;
} ns_limits[] = {
    /* Nested user namespaces: closed (seccomp denies them too). */
    {"max_user_namespaces", "0", NULL, NULL, 0},
    /* A build or test watcher needs a few instances; host default 128. */
    {"max_inotify_instances", "16", "fs/inotify/max_user_instances",
     "inotify-instances", QUOTA_INOTIFY_INSTANCES},
    /* Watches: one per watched directory; the host's default scales with
     * RAM (about 8k per GiB, at most 1M). */
    {"max_inotify_watches", "65536", "fs/inotify/max_user_watches",
     "inotify-watches", QUOTA_INOTIFY_WATCHES},
    /* fanotify (Linux >= 5.13 for unprivileged use); host default 128
     * groups and marks scaled like the watches. */
    {"max_fanotify_groups", "16", "fs/fanotify/max_user_groups",
     "fanotify-groups", QUOTA_FANOTIFY_GROUPS},
    {"max_fanotify_marks", "65536", "fs/fanotify/max_user_marks",
     "fanotify-marks", QUOTA_FANOTIFY_MARKS},
    /* No task may make namespaces (seccomp and no capabilities already
     * stop it); the sandbox's own were made before these are written.
     * Mount namespaces get a few: the child's later binds clone trees
     * with open_tree(OPEN_TREE_CLONE), and each clone is an anonymous
     * mount namespace charged here until its fd is closed. */
    {"max_mnt_namespaces", "16", NULL, NULL, 0},
    {"max_ipc_namespaces", "0", NULL, NULL, 0},
    {"max_net_namespaces", "0", NULL, NULL, 0},
    {"max_pid_namespaces", "0", NULL, NULL, 0},
    {"max_uts_namespaces", "0", NULL, NULL, 0},
    {"max_cgroup_namespaces", "0", NULL, NULL, 0},
    {"max_time_namespaces", "0", NULL, NULL, 0},
};

/* A sandbox takes at most this share of a host quota. */
#define NS_LIMIT_SHARE 8

/* An unsigned count from the sysctl NAME under PROC (a procfs mount), or 0
 * when it cannot be read. */
static unsigned long sysctl_count(const char *proc, const char *name)
{
	_cleanup_free_ char *path = xasprintf("%s/sys/%s", proc, name);
	_cleanup_free_ char *text = NULL;
	struct wsbox_error ignored = {0};
	size_t len;
	if (read_file_at(AT_FDCWD, path, 64, &text, &len, &ignored) < 0)
		return 0;
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || end == text || (*end != '\n' && *end))
		return 0;
	return v;
}

/* x lowered to 1/NS_LIMIT_SHARE of itself, at least 1. */
static rlim_t share_of(rlim_t x)
{
	return x / NS_LIMIT_SHARE ? x / NS_LIMIT_SHARE : 1;
}

/* l's value: the caller's --quota, else the table's lowered to
 * 1/NS_LIMIT_SHARE of the host's limit (at least 1) when the host's is
 * known, else the table's. */
static char *ns_limit_value(const struct plan *plan, const struct ns_limit *l)
{
	if (l->opt && plan->limits.quota_set[l->quota])
		return xasprintf("%" PRIu64, plan->limits.quota[l->quota]);
	unsigned long v = strtoul(l->value, NULL, 10);
	/* The fs.* quotas are the same in every namespace, so the
	 * sandbox's new /proc shows the host's. */
	_cleanup_free_ char *proc = xasprintf("%s/proc", plan->root_mnt);
	unsigned long h = l->host ? sysctl_count(proc, l->host) : 0;
	if (h && share_of(h) < v)
		v = share_of(h);
	return xasprintf("%lu", v);
}

int ns_limits_quota(const char *name, uint64_t *host_max)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_limits); i++) {
		const struct ns_limit *l = &ns_limits[i];
		if (l->opt && !strcmp(l->opt, name)) {
			*host_max = sysctl_count("/proc", l->host);
			return (int)l->quota;
		}
	}
	return -1;
}

/* The sandbox's process bound when the caller gave no --pids: pids and
 * threads are a host-wide pool (kernel.pid_max, 32768 on many hosts, and
 * kernel.threads-max), and a fork bomb under the inherited RLIMIT_NPROC
 * (about 96k for a Debian user and for root) took every pid of the host,
 * which then could not fork at all. Parent side: read from wsbox's own
 * /proc, because a new PID namespace shows its own pid_max (Linux >= 6.14,
 * 4194304) while its pids still come from ours. */
uint64_t ns_limits_default_nproc(void)
{
	unsigned long pool = sysctl_count("/proc", "kernel/pid_max");
	unsigned long threads = sysctl_count("/proc", "kernel/threads-max");
	if (!pool || (threads && threads < pool))
		pool = threads;
	return pool ? share_of(pool) : 0;
}

/* Child side: RLIMIT_NPROC is counted per user of the sandbox's own user
 * namespace (Linux >= 5.14), so the default is this sandbox's own process
 * count, never above wsbox's own. An explicit --pids is the caller's
 * (cgroup, or contain.c's rlimit) and sandbox_run leaves this at 0. */
static int default_nproc(const struct plan *plan, struct wsbox_error *err)
{
	rlim_t v = plan->limits.default_nproc;
	struct rlimit rl;
	if (!v)
		return 0;
	if (getrlimit(RLIMIT_NPROC, &rl) < 0)
		return wsbox_fail(err, errno, "getrlimit RLIMIT_NPROC");
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < v)
		v = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max = v;
	if (setrlimit(RLIMIT_NPROC, &rl) < 0)
		return wsbox_fail(err, errno, "setrlimit RLIMIT_NPROC %lu",
				  (unsigned long)v);
	return 0;
}

/* rlimits the kernel counts the same way (per user of each namespace,
 * charged up to the owner's, then checked at the host's level against the
 * host user's own): message-queue bytes and queued signals. A task holding
 * all of its inherited RLIMIT_MSGQUEUE (root: 800 KiB) in queues left host
 * root's mq_open EMFILE, and every other tenant's too. Each is lowered to
 * 1/NS_LIMIT_SHARE of wsbox's own (an unlimited one stays). */
static int ns_limits_rlimits(const struct plan *plan, struct wsbox_error *err)
{
	static const int res[] = {RLIMIT_MSGQUEUE, RLIMIT_SIGPENDING};
	for (size_t i = 0; i < ARRAY_SIZE(res); i++) {
		struct rlimit rl;
		if (getrlimit(res[i], &rl) < 0)
			return wsbox_fail(err, errno, "getrlimit %d", res[i]);
		if (rl.rlim_cur == RLIM_INFINITY)
			continue;
		rl.rlim_cur = rl.rlim_max = share_of(rl.rlim_cur);
		if (setrlimit(res[i], &rl) < 0)
			return wsbox_fail(err, errno, "setrlimit %d", res[i]);
	}
	return default_nproc(plan, err);
}

int ns_limits_apply(const struct plan *plan, struct wsbox_error *err)
{
	int rl = ns_limits_rlimits(plan, err);
	if (rl < 0)
		return rl;
	for (size_t i = 0; i < ARRAY_SIZE(ns_limits); i++) {
		_cleanup_free_ char *path = xasprintf(
		    "%s/proc/sys/user/%s", plan->root_mnt, ns_limits[i].name);
		/* Older kernels lack some (fanotify: 5.13, time: 5.6). */
		if (access(path, F_OK) < 0 && errno == ENOENT)
			continue;
		_cleanup_free_ char *value =
		    ns_limit_value(plan, &ns_limits[i]);
		int r = write_file_at(AT_FDCWD, path, value, err);
		if (r < 0)
			return r;
	}
	return 0;
}
