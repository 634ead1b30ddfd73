/* ns_limits.c: child side, the per-user-namespace kernel quotas of the
 * sandbox (/proc/sys/user/max_*), written once by the child while /proc/sys
 * is still writable (contain.c calls this just before ns_mount_mask_proc). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
 * (issue 19 item 4). Each value below is well under the host's default, so
 * the host keeps most of its quota even with several sandboxes running. */
static const struct ns_limit {
	const char *name;
	const char *value;
} ns_limits[] = {
    /* Nested user namespaces: closed (seccomp denies them too). */
    {"max_user_namespaces", "0"},
    /* A build or test watcher needs a few instances; host default 128. */
    {"max_inotify_instances", "16"},
    /* Watches: one per watched directory; the host's default scales with
     * RAM (about 8k per GiB, at most 1M). */
    {"max_inotify_watches", "65536"},
    /* fanotify (Linux >= 5.13 for unprivileged use); host default 128
     * groups and marks scaled like the watches. */
    {"max_fanotify_groups", "16"},
    {"max_fanotify_marks", "65536"},
    /* No task may make namespaces (seccomp and no capabilities already
     * stop it); the sandbox's own were made before these are written.
     * Mount namespaces get a few: the child's later binds clone trees
     * with open_tree(OPEN_TREE_CLONE), and each clone is an anonymous
     * mount namespace charged here until its fd is closed. */
    {"max_mnt_namespaces", "16"},
    {"max_ipc_namespaces", "0"},
    {"max_net_namespaces", "0"},
    {"max_pid_namespaces", "0"},
    {"max_uts_namespaces", "0"},
    {"max_cgroup_namespaces", "0"},
    {"max_time_namespaces", "0"},
};

int ns_limits_apply(const struct plan *plan, struct wsbox_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_limits); i++) {
		_cleanup_free_ char *path = xasprintf(
		    "%s/proc/sys/user/%s", plan->root_mnt, ns_limits[i].name);
		/* Older kernels lack some (fanotify: 5.13, time: 5.6). */
		if (access(path, F_OK) < 0 && errno == ENOENT)
			continue;
		int r = write_file_at(AT_FDCWD, path, ns_limits[i].value, err);
		if (r < 0)
			return r;
	}
	return 0;
}
