/* ns_view.c: root mode's private view of the store (docs/sandbox.md "Root
 * mode"). On disk the store, staging/ and layers/ are root's and 0700, so no
 * host user but root can traverse to a live upper dir or a layer. The
 * sandbox's own processes (the child, the fuse-overlayfs daemon) resolve
 * their dirs by path after taking the task's mapped ids; before that, while
 * still host root in their own mount namespace, they clone exactly the dirs
 * of this run and show them on a tmpfs laid over the store's path, in that
 * namespace only. */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/ns.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* The dirs of this run below the store: the attempt dir holding upper,
 * work and copy (upper and work must stay on one mount for overlayfs), the
 * shared root mount point (with what is mounted on it in this namespace,
 * e.g. the fuse workspace), every lower and the empty lower. */
struct view_dir {
	const char *path;
	bool recursive;
};

/* `path` relative to `base` ("a/b"), or NULL when it is not below it. */
static const char *view_rel(const char *base, const char *path)
{
	size_t n = strlen(base);
	while (n > 1 && base[n - 1] == '/')
		n--;
	if (strncmp(path, base, n) || path[n] != '/')
		return NULL;
	path += n;
	while (*path == '/')
		path++;
	return *path ? path : NULL;
}

/* mkdir -p of `rel` below `dfd` (a fresh tmpfs: nothing there is hostile). */
static int view_mkdirs(int dfd, const char *rel, struct wsbox_error *err)
{
	_cleanup_free_ char *p = xstrdup(rel);
	for (char *s = strchr(p, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = '\0';
		if (mkdirat(dfd, p, 0711) < 0 && errno != EEXIST)
			return wsbox_fail(err, errno, "mkdir `%s` in the view",
					  p);
		if (!s)
			return 0;
		*s = '/';
	}
}

static size_t view_dirs(const struct plan *plan, char *attempt,
			struct view_dir *out)
{
	size_t n = 0;
	char *slash = attempt ? strrchr(attempt, '/') : NULL;
	if (slash && slash != attempt) {
		*slash = '\0';
		out[n++] = (struct view_dir){attempt, true};
	}
	out[n++] = (struct view_dir){plan->root_mnt, true};
	if (plan->empty_lower)
		out[n++] = (struct view_dir){plan->empty_lower, false};
	for (size_t i = 0; i < plan->n_lowers; i++)
		out[n++] = (struct view_dir){plan->lowers[i], false};
	return n;
}

int ns_view_take(const struct plan *plan, struct ns_view *v,
		 struct wsbox_error *err)
{
	*v = (struct ns_view){.base = -1};
	if (!plan->view_base || !plan->root_mnt)
		return 0;
	/* Nothing mounted here may reach the mount namespace we came from. */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return wsbox_fail(err, errno, "make / a slave mount");
	/* The attempt dir is the parent of its upper, work or copy dir
	 * (none for a read-only overlay workspace). */
	const char *in_attempt = plan->upper	  ? plan->upper
				 : plan->work	  ? plan->work
				 : plan->copy_dir ? plan->copy_dir
						  : NULL;
	v->attempt = in_attempt ? xstrdup(in_attempt) : NULL;
	_cleanup_free_ struct view_dir *dirs =
	    xcalloc(plan->n_lowers + 3, sizeof *dirs);
	size_t n = view_dirs(plan, v->attempt, dirs);
	v->trees = xcalloc(n + 1, sizeof *v->trees);
	v->rels = xcalloc(n + 1, sizeof *v->rels);
	for (size_t i = 0; i < n; i++) {
		const char *rel = view_rel(plan->view_base, dirs[i].path);
		if (!rel)
			continue; /* outside the store: reachable as it is */
		unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
				 AT_SYMLINK_NOFOLLOW |
				 (dirs[i].recursive ? AT_RECURSIVE : 0);
		int t = open_tree(AT_FDCWD, dirs[i].path, flags);
		if (t < 0)
			return wsbox_fail(err, errno, "bind `%s`",
					  dirs[i].path);
		v->trees[v->n] = t;
		v->rels[v->n++] = rel;
	}
	v->base = open(plan->view_base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (v->base < 0)
		return wsbox_fail(err, errno, "open `%s`", plan->view_base);
	return 0;
}

/* The tmpfs is made with the task's ids: a mkdir by an id the user
 * namespace does not map fails (EOVERFLOW). */
int ns_view_show(struct ns_view *v, struct wsbox_error *err)
{
	if (v->base < 0)
		return 0;
	_cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return wsbox_fail(err, errno, "fsopen tmpfs for the view");
	if (fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0711", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "size", "64k", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return wsbox_fail(err, errno, "create the view's tmpfs");
	_cleanup_close_ int mnt =
	    fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (mnt < 0)
		return wsbox_fail(err, errno, "fsmount the view's tmpfs");
	if (move_mount(mnt, "", v->base, "",
		       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return wsbox_fail(err, errno, "cover the store");
	for (size_t i = 0; i < v->n; i++) {
		int r = view_mkdirs(mnt, v->rels[i], err);
		if (r < 0)
			return r;
		if (move_mount(v->trees[i], "", mnt, v->rels[i],
			       MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return wsbox_fail(err, errno, "show `%s` in the view",
					  v->rels[i]);
	}
	return 0;
}

void ns_view_close(struct ns_view *v)
{
	for (size_t i = 0; i < v->n; i++)
		close(v->trees[i]);
	if (v->base >= 0)
		close(v->base);
	free(v->trees);
	free(v->rels);
	free(v->attempt);
	*v = (struct ns_view){.base = -1};
}
