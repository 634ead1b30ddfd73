/* idmap.c: root mode, parent side (idmap.h). Idmapped mounts of a
 * filesystem need CAP_SYS_ADMIN over the user namespace that mounted it,
 * i.e. host root, so they are made here in the parent and not by the sandbox
 * child. The child's mount namespace is a copy of this process's, taken by
 * clone3(), which is how the views reach it without passing fds or touching
 * the host's mount table. */
#include "sandbox/idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"

/* The attributes of every view exec attaches. */
#define IDMAP_VIEW_ATTRS                                                       \
	(MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |            \
	 MOUNT_ATTR_NODEV)

/* A detached clone of `dir` carrying the view: an O_CLOEXEC fd, or -errno
 * with *cloned telling whether the clone was made (and the attributes were
 * refused). The clone goes away when the fd is closed unless attached. */
static int idmap_view(const char *dir, int userns_fd, bool *cloned)
{
	_cleanup_close_ int tree = open_tree(
	    AT_FDCWD, dir,
	    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	*cloned = tree >= 0;
	if (tree < 0)
		return -errno;
	struct mount_attr attr = {
	    .attr_set = IDMAP_VIEW_ATTRS,
	    .userns_fd = (uint64_t)userns_fd,
	};
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		return -errno;
	int fd = tree;
	tree = -1;
	return fd;
}

int idmap_try_view(const char *dir, int userns_fd, struct wsbox_error *why)
{
	bool cloned;
	int tree = idmap_view(dir, userns_fd, &cloned);
	if (tree >= 0) {
		close(tree);
		return 0;
	}
	if (!cloned)
		return wsbox_fail(why, -tree, "open_tree `%s`", dir);
	return wsbox_fail(why, -tree,
			  "the filesystem of `%s` cannot be idmapped", dir);
}

/* Overlayfs accepts idmapped layers from Linux 5.19. */
static bool idmap_kernel_at_least(int want_major, int want_minor)
{
	struct utsname u;
	int major = 0, minor = 0;
	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > want_major ||
	       (major == want_major && minor >= want_minor);
}

int idmap_probe(const char *dir, int userns_fd, struct wsbox_error *why)
{
	/* An operator's switch, and how the fallback is tested. */
	const char *off = getenv("WSBOX_NO_IDMAP");
	if (off && *off)
		return wsbox_fail(why, EOPNOTSUPP,
				  "idmapped layers disabled by WSBOX_NO_IDMAP");
	if (!idmap_kernel_at_least(5, 19))
		return wsbox_fail(why, EOPNOTSUPP,
				  "kernel older than 5.19: overlayfs cannot "
				  "use idmapped layers");
	return idmap_try_view(dir, userns_fd, why);
}

int idmap_layers_usable(const char *store_dir, uid_t owner_uid, gid_t owner_gid,
			const struct ns_user_ids *ids, struct wsbox_error *why)
{
	/* Host root's files must show as the task's root: only a store owned
	 * by root:root maps that way through the task's own map. */
	if (owner_uid != 0 || owner_gid != 0)
		return wsbox_fail(why, EOPNOTSUPP,
				  "the store is not owned by root:root");
	struct wsbox_error e = {0};
	_cleanup_close_ int userns = ns_user_open_userns(ids, &e);
	if (userns < 0) {
		*why = e;
		return userns;
	}
	return idmap_probe(store_dir, userns, why);
}

int idmap_mount_dirs(const char *const *dirs, size_t n, int userns_fd,
		     struct wsbox_error *err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return wsbox_fail(err, errno, "private mount namespace");
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return wsbox_fail(err, errno, "make / a slave mount");
	for (size_t i = 0; i < n; i++) {
		bool cloned;
		_cleanup_close_ int tree =
		    idmap_view(dirs[i], userns_fd, &cloned);
		if (tree < 0 && !cloned)
			return wsbox_fail(err, -tree, "bind `%s`", dirs[i]);
		if (tree < 0)
			return wsbox_fail(err, -tree, "idmap `%s`", dirs[i]);
		if (move_mount(tree, "", AT_FDCWD, dirs[i],
			       MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return wsbox_fail(err, errno, "attach idmapped `%s`",
					  dirs[i]);
	}
	return 0;
}
