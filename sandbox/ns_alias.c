/* ns_alias.c: every other place a hidden directory (the store) shows under
 * the new root. Covering the store's own path is not enough when another
 * mount of its filesystem reaches it: a bind of one of its ancestors
 * (`mount --bind /var/lib /srv/lib` shows the store again at
 * /srv/lib/wsbox/store), a second mount of the whole device, or a bind of
 * a piece of the store (a layer) somewhere the task can see. The rootfs
 * binds are recursive, so each of those is cloned under the new root. This
 * file finds them in the child's mount table; ns_mount.c covers them. */
#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sandbox/ns.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/mountinfo.h"

/* `path` is `dir` or below it (both absolute, canonical); the rest of path
 * after dir ("" or "/a/b") in *rest. */
static bool path_under(const char *path, const char *dir, const char **rest)
{
	if (!strcmp(dir, "/")) {
		*rest = strcmp(path, "/") ? path : "";
		return true;
	}
	size_t n = strlen(dir);
	if (strncmp(path, dir, n) || (path[n] != '/' && path[n] != '\0'))
		return false;
	*rest = path + n;
	return true;
}

static bool has_id(const struct mount_entry *e, const void *ctx)
{
	return e->id == *(const uint64_t *)ctx;
}

int ns_alias_take(const char *path, struct hide_target *t,
		  struct wsbox_error *err)
{
	*t = (struct hide_target){0};
	_cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "hide `%s`", path);
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &sx) < 0)
		return wsbox_fail(err, errno, "hide `%s`: statx", path);
	if (!(sx.stx_mask & STATX_MNT_ID))
		return wsbox_fail(err, ENOSYS, "hide `%s`: no mount id", path);
	_cleanup_free_ char *real = realpath(path, NULL);
	if (!real)
		return wsbox_fail(err, errno, "hide `%s`: resolve", path);
	_cleanup_free_ char *buf = NULL;
	struct mount_entry e;
	const char *rest;
	uint64_t id = sx.stx_mnt_id;
	int r = mountinfo_find(&buf, has_id, &id, &e, err);
	if (r < 0)
		return r;
	/* Not where its mount is (or not there at all): do not guess. */
	if (!r || !path_under(real, e.point, &rest))
		return wsbox_fail(err, ENOENT,
				  "hide `%s`: its mount is not in "
				  "/proc/self/mountinfo",
				  path);
	t->major = e.major;
	t->minor = e.minor;
	t->fs_path = strcmp(e.root, "/") ? xasprintf("%s%s", e.root, rest)
					 : xstrdup(*rest ? rest : "/");
	t->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	t->ino = sx.stx_ino;
	return 0;
}

void ns_alias_free(struct hide_target *t)
{
	free(t->fs_path);
	t->fs_path = NULL;
}

static int cmp_id(const void *a, const void *b)
{
	const struct mount_entry *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static const struct mount_entry *by_id(const struct mount_entry *v, size_t n,
				       uint64_t id)
{
	struct mount_entry key = {.id = id};
	return bsearch(&key, v, n, sizeof *v, cmp_id);
}

/* Is e mounted (at any depth) below the mount `root_id`? The walk up is
 * bounded by the table's size: a parent chain cannot be longer. */
static bool below(const struct mount_entry *v, size_t n,
		  const struct mount_entry *e, uint64_t root_id)
{
	for (size_t steps = 0; steps < n; steps++) {
		if (e->parent == root_id)
			return true;
		if (e->parent == e->id || !(e = by_id(v, n, e->parent)))
			return false;
	}
	return false;
}

/* visit(m, at) for every mount m below the mount root_id in the table,
 * `at` its point after the new root's ("" or "/a/b"). */
typedef int (*below_fn)(const struct mount_entry *m, const char *at, void *ctx,
			struct wsbox_error *err);

static int each_below(char *mountinfo, uint64_t root_id, below_fn visit,
		      void *ctx, struct wsbox_error *err)
{
	size_t n = 0, cap = 0;
	_cleanup_free_ struct mount_entry *v = NULL;
	struct mount_entry e;
	for (char *cur = mountinfo; mountinfo_next(&cur, &e);) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof *v);
		}
		v[n++] = e;
	}
	if (n)
		qsort(v, n, sizeof *v, cmp_id);
	const struct mount_entry *root = by_id(v, n, root_id);
	if (!root)
		return wsbox_fail(err, ENOENT,
				  "the new root's mount is not in "
				  "/proc/self/mountinfo");
	for (size_t i = 0; i < n; i++) {
		const char *at;
		if (!below(v, n, &v[i], root_id) ||
		    !path_under(v[i].point, root->point, &at))
			continue;
		int r = visit(&v[i], at, ctx, err);
		if (r < 0)
			return r;
	}
	return 0;
}

struct alias_walk {
	const struct hide_target *t;
	ns_alias_fn fn;
	void *ctx;
};

static int visit_alias(const struct mount_entry *m, const char *at, void *ctx,
		       struct wsbox_error *err)
{
	const struct alias_walk *w = ctx;
	const struct hide_target *t = w->t;
	const char *rest;
	if (m->major != t->major || m->minor != t->minor)
		return 0;
	if (path_under(t->fs_path, m->root, &rest)) {
		/* The mount shows the target's ancestor: the target is at
		 * the mount point plus the rest. */
		_cleanup_free_ char *rel = xasprintf("%s%s", at, rest);
		return w->fn(rel[0] ? rel + 1 : ".", false, w->ctx, err);
	}
	if (path_under(m->root, t->fs_path, &rest)) /* a piece of it */
		return w->fn(at[0] ? at + 1 : ".", true, w->ctx, err);
	return 0;
}

int ns_alias_each(char *mountinfo, const struct hide_target *t,
		  uint64_t root_id, ns_alias_fn fn, void *ctx,
		  struct wsbox_error *err)
{
	struct alias_walk w = {t, fn, ctx};
	return each_below(mountinfo, root_id, visit_alias, &w, err);
}

/* Filesystems that describe the host, not hold a tree: a rootfs that has
 * one mounted inside (a chroot with its /proc, `--rootfs /sys/fs/cgroup`
 * on a v1 host) would show the host's processes, cgroups, devices or
 * message queues through the recursive rootfs binds. */
static const char *const host_describing_fs[] = {
    "proc",	  "sysfs",   "cgroup",	    "cgroup2", "debugfs",   "tracefs",
    "securityfs", "bpf",     "devtmpfs",    "devpts",  "configfs",  "pstore",
    "efivarfs",	  "fusectl", "binfmt_misc", "mqueue",  "selinuxfs",
};

struct kernel_walk {
	ns_kernel_fn fn;
	void *ctx;
};

static int visit_kernel(const struct mount_entry *m, const char *at, void *ctx,
			struct wsbox_error *err)
{
	const struct kernel_walk *w = ctx;
	if (!at[0])
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(host_describing_fs); i++)
		if (!strcmp(m->fstype, host_describing_fs[i]))
			return w->fn(at + 1, m->id, m->fstype, w->ctx, err);
	return 0;
}

int ns_kernel_mounts_each(char *mountinfo, uint64_t root_id, ns_kernel_fn fn,
			  void *ctx, struct wsbox_error *err)
{
	struct kernel_walk w = {fn, ctx};
	return each_below(mountinfo, root_id, visit_kernel, &w, err);
}
