/* ns_limits.c: child side, the per-user-namespace kernel quotas of the
 * sandbox (/proc/sys/user/max_*), written once by the child while /proc/sys
 * is still writable (contain.c calls this just before ns_mount_mask_proc). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sandbox/ns.h"
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
} ns_limits[] = {
    /* Nested user namespaces: closed (seccomp denies them too). */
    {"max_user_namespaces", "0", NULL},
    /* A build or test watcher needs a few instances; host default 128. */
    {"max_inotify_instances", "16", "fs/inotify/max_user_instances"},
    /* Watches: one per watched directory; the host's default scales with
     * RAM (about 8k per GiB, at most 1M). */
    {"max_inotify_watches", "65536", "fs/inotify/max_user_watches"},
    /* fanotify (Linux >= 5.13 for unprivileged use); host default 128
     * groups and marks scaled like the watches. */
    {"max_fanotify_groups", "16", "fs/fanotify/max_user_groups"},
    {"max_fanotify_marks", "65536", "fs/fanotify/max_user_marks"},
    /* No task may make namespaces (seccomp and no capabilities already
     * stop it); the sandbox's own were made before these are written.
     * Mount namespaces get a few: the child's later binds clone trees
     * with open_tree(OPEN_TREE_CLONE), and each clone is an anonymous
     * mount namespace charged here until its fd is closed. */
    {"max_mnt_namespaces", "16", NULL},
    {"max_ipc_namespaces", "0", NULL},
    {"max_net_namespaces", "0", NULL},
    {"max_pid_namespaces", "0", NULL},
    {"max_uts_namespaces", "0", NULL},
    {"max_cgroup_namespaces", "0", NULL},
    {"max_time_namespaces", "0", NULL},
};

/* A sandbox takes at most this share of a host quota. */
#define NS_LIMIT_SHARE 8

/* l's value, lowered to 1/NS_LIMIT_SHARE of the host's limit (at least 1)
 * when the host's is known; the fixed value when it is not. */
static char *ns_limit_value(const struct plan *plan, const struct ns_limit *l)
{
	unsigned long v = strtoul(l->value, NULL, 10);
	_cleanup_free_ char *host = NULL;
	if (l->host) {
		_cleanup_free_ char *path =
		    xasprintf("%s/proc/sys/%s", plan->root_mnt, l->host);
		struct wsbox_error ignored = {0};
		size_t len;
		if (read_file_at(AT_FDCWD, path, 64, &host, &len, &ignored) < 0)
			host = NULL;
	}
	if (host) {
		char *end;
		errno = 0;
		unsigned long h = strtoul(host, &end, 10);
		if (!errno && end != host && (*end == '\n' || !*end) &&
		    h / NS_LIMIT_SHARE < v)
			v = h / NS_LIMIT_SHARE ? h / NS_LIMIT_SHARE : 1;
	}
	return xasprintf("%lu", v);
}

/* rlimits the kernel counts the same way (per user of each namespace,
 * charged up to the owner's, then checked at the host's level against the
 * host user's own): message-queue bytes and queued signals. A task holding
 * all of its inherited RLIMIT_MSGQUEUE (root: 800 KiB) in queues left host
 * root's mq_open EMFILE, and every other tenant's too. Each is lowered to
 * 1/NS_LIMIT_SHARE of wsbox's own (an unlimited one stays). */
static int ns_limits_rlimits(struct wsbox_error *err)
{
	static const int res[] = {RLIMIT_MSGQUEUE, RLIMIT_SIGPENDING};
	for (size_t i = 0; i < ARRAY_SIZE(res); i++) {
		struct rlimit rl;
		if (getrlimit(res[i], &rl) < 0)
			return wsbox_fail(err, errno, "getrlimit %d", res[i]);
		if (rl.rlim_cur == RLIM_INFINITY)
			continue;
		rl.rlim_cur = rl.rlim_cur / NS_LIMIT_SHARE
				  ? rl.rlim_cur / NS_LIMIT_SHARE
				  : 1;
		rl.rlim_max = rl.rlim_cur;
		if (setrlimit(res[i], &rl) < 0)
			return wsbox_fail(err, errno, "setrlimit %d", res[i]);
	}
	return 0;
}

int ns_limits_apply(const struct plan *plan, struct wsbox_error *err)
{
	int rl = ns_limits_rlimits(err);
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
