/* ns_mount.c: the sandbox's filesystem, built by the child in its own mount
 * namespace. The new root is a small tmpfs on which every top-level entry of
 * the rootfs is bound read-only (so /workspace, /proc, /dev, /tmp can be
 * created even on a read-only or host root), then the workspace overlay,
 * /proc, /dev and /tmp are mounted, and pivot_root switches to it.
 * Binds use the new mount API (open_tree + mount_setattr + move_mount) so
 * read-only/nosuid/nodev apply recursively and atomically to submounts.
 * Child side only: the workspace overlay's options live in overlay.c, the
 * parent's idmapped views of the layers (root mode) in idmap.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sandbox/ns.h"
#include "sandbox/overlay.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/mountinfo.h"

/* Top-level rootfs entries replaced by something fresh instead of bound. */
static const char *const fresh_mounts[] = {"proc", "dev", "tmp", "workspace",
					   "sys"};
/* Host directories hidden behind an empty tmpfs when the rootfs is the host's
 * own "/" (docs/sandbox.md "Root filesystem"). */
static const char *const host_hidden[] = {"home", "root", "run", "tmp",
					  "var/tmp"};

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, list[i]))
			return true;
	return false;
}

/* An explicit `--rootfs /` is the host's root as much as the default is: it
 * gets the same hidden directories and /sys (docs/sandbox.md "Root
 * filesystem"). plan->rootfs is a realpath. */
static bool is_host_root(const struct plan *plan)
{
	return plan->host_root || !strcmp(plan->rootfs, "/");
}

/* Clone the tree at src_dfd/src (with submounts), lock it read-only,
 * nosuid, nodev, and attach it at dst_dfd/dst. */
static int bind_ro(int src_dfd, const char *src, int dst_dfd, const char *dst,
		   bool nodev, struct wsbox_error *err)
{
	_cleanup_close_ int tree =
	    open_tree(src_dfd, src,
		      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
			  AT_SYMLINK_NOFOLLOW);
	if (tree < 0)
		return wsbox_fail(err, errno, "bind `%s`", src);
	struct mount_attr attr = {
	    .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
			(nodev ? MOUNT_ATTR_NODEV : 0),
	};
	if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
			  sizeof attr) < 0)
		return wsbox_fail(err, errno, "make `%s` read-only", src);
	if (move_mount(tree, "", dst_dfd, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return wsbox_fail(err, errno, "attach `%s`", dst);
	return 0;
}

/* A fresh tmpfs with `opts` as a detached mount (an O_PATH fd on its root);
 * `path` names it in errors. */
static int tmpfs_create(const char *path, const char *opts, unsigned attrs,
			struct wsbox_error *err)
{
	_cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return wsbox_fail(err, errno, "fsopen tmpfs");
	/* opts: comma-separated key=value pairs */
	_cleanup_free_ char *copy = xstrdup(opts);
	char *save = NULL;
	for (char *kv = strtok_r(copy, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			continue;
		*eq = '\0';
		if (fsconfig(fs, FSCONFIG_SET_STRING, kv, eq + 1, 0) < 0)
			return wsbox_fail(err, errno, "tmpfs option %s", kv);
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return wsbox_fail(err, errno, "create tmpfs for `%s`", path);
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		return wsbox_fail(err, errno, "fsmount tmpfs for `%s`", path);
	return mnt;
}

/* Mount a fresh tmpfs at dfd/path. */
static int mount_tmpfs_at(int dfd, const char *path, const char *opts,
			  unsigned attrs, struct wsbox_error *err)
{
	_cleanup_close_ int mnt = tmpfs_create(path, opts, attrs, err);
	if (mnt < 0)
		return mnt;
	if (move_mount(mnt, "", dfd, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return wsbox_fail(err, errno, "mount tmpfs on `%s`", path);
	return 0;
}

/* The writable tmpfs mounts (/tmp, /dev/shm) are bounded, or a task could
 * fill the host's memory through them where no cgroup limits it (tmpfs
 * pages are charged to a memory cgroup but not to RLIMIT_AS). Each gets
 * half of --memory when given (the other half is left for the processes
 * that write there, so the limit is reported as ENOSPC rather than as an
 * OOM kill), else a share of RAM; `max` (bytes, 0 = none) caps that. Inodes
 * are bounded too: they cost kernel memory and no pages. */
#define TMPFS_DEFAULT_SHARE "25%" /* of RAM, without --memory */
#define TMPFS_SHM_MAX (64ULL << 20)
#define TMPFS_TMP_INODES 262144
#define TMPFS_SHM_INODES 16384

static char *tmpfs_scratch_opts(uint64_t max, uint64_t memory_bytes,
				unsigned inodes)
{
	uint64_t size = memory_bytes / 2;
	if (max && (!size || size > max))
		size = max;
	/* tmpfs rounds size up to pages; at least one page of room. */
	if (memory_bytes && size < 4096)
		size = 4096;
	if (!size)
		return xasprintf("mode=01777,size=%s,nr_inodes=%u",
				 TMPFS_DEFAULT_SHARE, inodes);
	return xasprintf("mode=01777,size=%" PRIu64 ",nr_inodes=%u", size,
			 inodes);
}

static int make_mountpoint(int dfd, const char *name, bool dir,
			   struct wsbox_error *err)
{
	if (dir) {
		if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
			return wsbox_fail(err, errno, "mkdir `%s`", name);
		return 0;
	}
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			0644);
	if (fd < 0)
		return wsbox_fail(err, errno, "create `%s`", name);
	close(fd);
	return 0;
}

/* Mirror each top-level entry of the rootfs into the new root. */
static int populate_root(const struct plan *plan, int root, int src,
			 struct wsbox_error *err)
{
	int dup_fd = fcntl(src, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return wsbox_fail(err, errno, "dup rootfs fd");
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return wsbox_fail(err, errno, "read rootfs `%s`", plan->rootfs);
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		const char *name = de->d_name;
		int r;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (in_list(name, fresh_mounts,
			    sizeof fresh_mounts / sizeof *fresh_mounts))
			continue;
		struct stat st;
		if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* vanished under us: not our business */
		if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n =
			    readlinkat(src, name, target, sizeof target - 1);
			if (n < 0)
				return wsbox_fail(err, errno, "readlink `%s`",
						  name);
			target[n] = '\0';
			if (symlinkat(target, root, name) < 0)
				return wsbox_fail(err, errno, "symlink `%s`",
						  name);
			continue;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			continue;
		r = make_mountpoint(root, name, S_ISDIR(st.st_mode), err);
		if (r < 0)
			return r;
		if (is_host_root(plan) && S_ISDIR(st.st_mode) &&
		    in_list(name, host_hidden,
			    sizeof host_hidden / sizeof *host_hidden)) {
			r = mount_tmpfs_at(root, name, "mode=0755,size=1m",
					   MOUNT_ATTR_RDONLY |
					       MOUNT_ATTR_NOSUID |
					       MOUNT_ATTR_NODEV,
					   err);
		} else {
			r = bind_ro(src, name, root, name, true, err);
		}
		if (r < 0)
			return r;
	}
	if (errno)
		return wsbox_fail(err, errno, "read rootfs `%s`", plan->rootfs);
	return 0;
}

/* Cover `path` (absolute on the host) with an empty read-only tmpfs if it is
 * a directory visible at the same place inside, i.e. when the rootfs is
 * "/". */
static int hide_at(int root, const char *path, struct wsbox_error *err)
{
	while (*path == '/')
		path++;
	if (!*path)
		return 0;
	struct stat st;
	if (fstatat(root, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode))
		return 0; /* not visible inside: nothing to hide */
	return mount_tmpfs_at(root, path, "mode=0755,size=4k",
			      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
				  MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			      err);
}

/* Hide host paths (the store, /var/tmp) that are visible through the
 * read-only binds: what the path names, not how it is spelled. A store
 * reached through a symlink is visible inside at its resolved place
 * (issue 19 item 12), so both are covered. The child still sees the host's
 * tree here (its mount namespace is a copy). When the task's ids cannot
 * resolve the path (a 0700 parent in root mode), the task cannot reach it
 * by that way either. */
static int hide_path(int root, const char *path, struct wsbox_error *err)
{
	int r = hide_at(root, path, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *real = realpath(path, NULL);
	if (!real || !strcmp(real, path))
		return 0;
	return hide_at(root, real, err);
}

/* A hidden host directory that is a symlink (/home -> var/home on
 * image-based systems) is recreated as the link, which would lead to its
 * target through the binds: hide the target. */
static int hide_host_links(int root, struct wsbox_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(host_hidden); i++) {
		_cleanup_free_ char *abs = xasprintf("/%s", host_hidden[i]);
		struct stat st;
		if (lstat(abs, &st) < 0 || !S_ISLNK(st.st_mode))
			continue;
		_cleanup_free_ char *real = realpath(abs, NULL);
		if (!real)
			continue; /* dangling, or not ours to resolve */
		int r = hide_at(root, real, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* An empty read-only tmpfs onto the directory fd (O_PATH) at rel. */
static int cover_dir(int fd, const char *rel, struct wsbox_error *err)
{
	_cleanup_close_ int mnt =
	    tmpfs_create(rel, "mode=0755,size=4k",
			 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
			     MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			 err);
	if (mnt < 0)
		return mnt;
	if (move_mount(mnt, "", fd, "",
		       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return wsbox_fail(err, errno, "hide `/%s`", rel);
	return 0;
}

struct alias_cover {
	int root, rootfs_fd; /* rootfs_fd: -1 unless plan.rootfs_in_store */
	const struct hide_target *t;
};

static bool is_rootfs_entry(const struct alias_cover *c, const char *rel,
			    const struct stat *st)
{
	struct stat rs;
	return c->rootfs_fd >= 0 && !strchr(rel, '/') &&
	       fstatat(c->rootfs_fd, rel, &rs, AT_SYMLINK_NOFOLLOW) == 0 &&
	       rs.st_dev == st->st_dev && rs.st_ino == st->st_ino;
}

/* A candidate from ns_alias_each is covered only once confirmed: resolved
 * below the new root without symlinks (a mount point and a path inside a
 * filesystem have none), it must be the hidden directory itself or, for a
 * piece, on its filesystem still (not overmounted). What the ids cannot
 * resolve the task cannot reach that way either. With an imported rootfs
 * (plan.rootfs_in_store), a piece that is the rootfs's own entry, bound
 * there by populate_root, is the rootfs and stays; any other rootfs whose
 * entries are pieces of the store (a bind of its layers elsewhere) is the
 * store itself and gets covered. A piece that is not a directory (a bound
 * file) cannot take a tmpfs: refused. */
static int cover_alias(const char *rel, bool piece, void *ctx,
		       struct wsbox_error *err)
{
	const struct alias_cover *c = ctx;
	_cleanup_close_ int fd = open_beneath(c->root, rel, O_PATH);
	if (fd < 0)
		return 0;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return wsbox_fail(err, errno, "stat `/%s`", rel);
	if (piece ? st.st_dev != c->t->dev || is_rootfs_entry(c, rel, &st)
		  : st.st_dev != c->t->dev || st.st_ino != c->t->ino)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return wsbox_fail(err, 0,
				  "`/%s` in the sandbox is a file of the store "
				  "mounted there: unmount it on the host",
				  rel);
	return cover_dir(fd, rel, err);
}

/* A mount of a filesystem that describes the host, inside the rootfs
 * (ns_kernel_mounts_each): covered while it is still the one mountinfo
 * named (a mount below one already covered is out of reach). */
static int cover_kernel_mount(const char *rel, uint64_t mnt_id,
			      const char *fstype, void *ctx,
			      struct wsbox_error *err)
{
	int root = *(const int *)ctx;
	_cleanup_close_ int fd = open_beneath(root, rel, O_PATH);
	if (fd < 0)
		return 0;
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID | STATX_TYPE, &sx) < 0)
		return wsbox_fail(err, errno, "statx `/%s`", rel);
	if (!(sx.stx_mask & STATX_MNT_ID) || sx.stx_mnt_id != mnt_id)
		return 0;
	if (!S_ISDIR(sx.stx_mode))
		return wsbox_fail(err, 0,
				  "`/%s` in the sandbox is a file of the "
				  "host's %s mounted inside the rootfs: "
				  "unmount it on the host",
				  rel, fstype);
	return cover_dir(fd, rel, err);
}

/* The id of the mount fd is on (`what` names it in the error). */
static int mount_id_of(int fd, const char *what, uint64_t *id,
		       struct wsbox_error *err)
{
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) < 0)
		return wsbox_fail(err, errno, "mount id of %s", what);
	if (!(sx.stx_mask & STATX_MNT_ID))
		return wsbox_fail(err, ENOSYS, "mount id of %s", what);
	*id = sx.stx_mnt_id;
	return 0;
}

/* Hide each of plan->hide wherever else it shows under the new root, and
 * every host-describing kernel filesystem the rootfs has mounted inside
 * (sandbox/ns_alias.c): run after the binds and after hide_path, so the
 * places already covered no longer match. */
static int hide_aliases(const struct plan *plan, int root, int rootfs_fd,
			const struct hide_target *hidden,
			struct wsbox_error *err)
{
	uint64_t root_id;
	int r = mount_id_of(root, "the new root", &root_id, err);
	if (r < 0)
		return r;
	/* One read of the table for every walk (each splits a copy): what
	 * an earlier walk covered is told apart when each place is
	 * confirmed, not by reading the table again. */
	_cleanup_free_ char *table = NULL;
	r = mountinfo_read(&table, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < plan->n_hide; i++) {
		_cleanup_free_ char *copy = xstrdup(table);
		struct alias_cover c = {
		    root, plan->rootfs_in_store ? rootfs_fd : -1, &hidden[i]};
		r = ns_alias_each(copy, &hidden[i], root_id, cover_alias, &c,
				  err);
		if (r < 0)
			return r;
	}
	/* The host's kernel filesystems a rootfs brings along; wsbox's own
	 * /proc, /sys and /dev are mounted after this. */
	return ns_kernel_mounts_each(table, root_id, cover_kernel_mount, &root,
				     err);
}

/* With --net host the host's /sys is bound, and the bind is recursive (the
 * kernel refuses to reveal what locked submounts cover), so it carries every
 * mount under it. The cgroup tree lists every cgroup of the host, other
 * tenants' task leaves among them with their processes' host pids and their
 * memory and CPU use (a cgroup namespace does not narrow a bind): covered
 * whole, since on a v1 host it is a tmpfs of controller mounts. Then every
 * other host-describing mount below /sys (securityfs, bpf, pstore, fuse
 * connections, debugfs...) by the walk that covers a rootfs's. */
static int bind_host_sys(int root, struct wsbox_error *err)
{
	int r = bind_ro(AT_FDCWD, "/sys", root, "sys", true, err);
	if (r < 0)
		return r;
	_cleanup_close_ int sys =
	    open_beneath(root, "sys", O_PATH | O_DIRECTORY);
	if (sys < 0)
		return wsbox_fail(err, errno, "open /sys");
	_cleanup_close_ int cg =
	    open_beneath(sys, "fs/cgroup", O_PATH | O_DIRECTORY);
	if (cg >= 0 && (r = cover_dir(cg, "sys/fs/cgroup", err)) < 0)
		return r;
	uint64_t sys_id;
	r = mount_id_of(sys, "/sys", &sys_id, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *table = NULL;
	r = mountinfo_read(&table, err);
	if (r < 0)
		return r;
	return ns_kernel_mounts_each(table, sys_id, cover_kernel_mount, &sys,
				     err);
}

/* --max-layer-size (docs/capture.md "Size limit"): the upper and work dirs
 * on a tmpfs of that size, so the kernel stops the task's writes at the
 * limit (ENOSPC) instead of capture finding the damage on the store's disk
 * afterwards. A tmpfs may be mounted in a user namespace, so this works
 * rootless. Inodes are bounded too (they cost kernel memory, not pages):
 * one per page of the size and a floor for trees of small files, never
 * more than a layer may have entries. */
#define UPPER_TMPFS_MIN_INODES 16384ULL
#define UPPER_TMPFS_MAX_INODES 10000000ULL /* MANIFEST_MAX_ENTRIES */

/* Can this tmpfs hold overlay's user.overlay.* xattrs (opaque dirs)? Only
 * since Linux 6.6; before, the upper stays on the host. */
static int tmpfs_user_xattrs(int mnt, struct wsbox_error *err)
{
	_cleanup_close_ int root =
	    openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return wsbox_fail(err, errno, "open workspace tmpfs");
	static const char probe[] = "user.wsbox.probe";
	if (fsetxattr(root, probe, "y", 1, 0) < 0) {
		if (errno == EOPNOTSUPP || errno == EPERM)
			return 0;
		return wsbox_fail(err, errno, "xattr on workspace tmpfs");
	}
	if (fremovexattr(root, probe) < 0)
		return wsbox_fail(err, errno, "xattr on workspace tmpfs");
	return 1;
}

/* Mount the size-limited tmpfs on plan->work (in this mount namespace only:
 * the host's view of that dir does not change) with "upper" and "work"
 * inside; *fs gets an fd on that upper dir, or stays -1 when this kernel's
 * tmpfs cannot carry an overlay upper (the host dirs are used then). */
static int mount_upper_tmpfs(const struct plan *plan, int *fs,
			     struct wsbox_error *err)
{
	uint64_t inodes = plan->upper_max_bytes / 4096 + UPPER_TMPFS_MIN_INODES;
	if (inodes > UPPER_TMPFS_MAX_INODES)
		inodes = UPPER_TMPFS_MAX_INODES;
	_cleanup_free_ char *opts =
	    xasprintf("mode=0700,size=%" PRIu64 ",nr_inodes=%" PRIu64,
		      plan->upper_max_bytes, inodes);
	_cleanup_close_ int mnt = tmpfs_create(
	    plan->work, opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
	if (mnt < 0)
		return mnt;
	int r = tmpfs_user_xattrs(mnt, err);
	if (r <= 0)
		return r;
	if (mkdirat(mnt, "upper", 0755) < 0 || mkdirat(mnt, "work", 0700) < 0)
		return wsbox_fail(err, errno, "mkdir in workspace tmpfs");
	if (move_mount(mnt, "", AT_FDCWD, plan->work, MOVE_MOUNT_F_EMPTY_PATH) <
	    0)
		return wsbox_fail(err, errno, "mount workspace tmpfs on `%s`",
				  plan->work);
	*fs = openat(mnt, "upper",
		     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fs < 0)
		return wsbox_fail(err, errno, "open workspace tmpfs");
	return 0;
}

/* A workspace tree made elsewhere, locked nosuid,nodev (and read-only
 * with --ro) and attached at /workspace. */
static int attach_workspace(const struct plan *plan, int tree, int root,
			    struct wsbox_error *err)
{
	struct mount_attr attr = {.attr_set =
				      MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	if (!plan->upper)
		attr.attr_set |= MOUNT_ATTR_RDONLY;
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		return wsbox_fail(err, errno, "lock /workspace");
	if (move_mount(tree, "", root, "workspace", MOVE_MOUNT_F_EMPTY_PATH) <
	    0)
		return wsbox_fail(err, errno, "mount /workspace");
	return 0;
}

/* WS_COPY: the populated directory itself, bound (read-only with --ro). */
static int bind_copy_workspace(const struct plan *plan, int root,
			       struct wsbox_error *err)
{
	_cleanup_close_ int tree = open_tree(
	    AT_FDCWD, plan->copy_dir,
	    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	if (tree < 0)
		return wsbox_fail(err, errno, "bind `%s`", plan->copy_dir);
	return attach_workspace(plan, tree, root, err);
}

/* WS_FUSE_OVERLAYFS: the daemon's helper attached the fuse mount on
 * root_mnt in this namespace before we were let go (sandbox/fuse_overlay.c);
 * take it away from there before the root tmpfs goes on that dir. */
static int take_fuse_workspace(const struct plan *plan, int *tree,
			       struct wsbox_error *err)
{
	*tree = open_tree(AT_FDCWD, plan->root_mnt,
			  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (*tree < 0)
		return wsbox_fail(err, errno, "take the fuse workspace");
	if (umount2(plan->root_mnt, MNT_DETACH) < 0)
		return wsbox_fail(err, errno, "detach the fuse workspace");
	return 0;
}

static int mount_workspace(const struct plan *plan, int root, int *upper_fs,
			   int fuse_tree, struct wsbox_error *err)
{
	if (plan->strategy == WS_COPY)
		return bind_copy_workspace(plan, root, err);
	if (plan->strategy == WS_FUSE_OVERLAYFS)
		return attach_workspace(plan, fuse_tree, root, err);
	/* Read-only and nothing below: an empty read-only tmpfs (overlay
	 * would need two distinct lowers and refuses the empty dir twice). */
	if (!plan->upper && plan->n_lowers == 0)
		return mount_tmpfs_at(root, "workspace", "mode=0755,size=4k",
				      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
					  MOUNT_ATTR_NODEV,
				      err);
	struct overlay_spec spec = {
	    .lowers = plan->lowers,
	    .n_lowers = plan->n_lowers,
	    .pad_lower = plan->empty_lower,
	    .upper = plan->upper,
	    .work = plan->work,
	};
	_cleanup_free_ char *upper = NULL, *work = NULL;
	if (plan->upper && plan->upper_max_bytes) {
		int r = mount_upper_tmpfs(plan, upper_fs, err);
		if (r < 0)
			return r;
		if (*upper_fs >= 0) {
			spec.upper = upper = xasprintf("%s/upper", plan->work);
			spec.work = work = xasprintf("%s/work", plan->work);
		}
	}
	unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	if (!plan->upper)
		attrs |= MOUNT_ATTR_RDONLY;
	_cleanup_close_ int mnt = overlay_mount(&spec, attrs, err);
	if (mnt < 0)
		return mnt;
	if (move_mount(mnt, "", root, "workspace", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return wsbox_fail(err, errno, "mount /workspace");
	return 0;
}

/* A new instance of filesystem `type` at root/dir, with attrs. */
static int mount_fresh(int root, const char *type, const char *dir,
		       unsigned attrs, struct wsbox_error *err)
{
	_cleanup_close_ int fs = fsopen(type, FSOPEN_CLOEXEC);
	if (fs < 0)
		return wsbox_fail(err, errno, "fsopen %s", type);
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return wsbox_fail(err, errno, "create /%s", dir);
	_cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		return wsbox_fail(err, errno, "fsmount /%s", dir);
	if (move_mount(mnt, "", root, dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return wsbox_fail(err, errno, "mount /%s", dir);
	return 0;
}

static int mount_proc(int root, struct wsbox_error *err)
{
	return mount_fresh(
	    root, "proc", "proc",
	    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
}

/* A fresh sysfs, read-only: the kernel shows the network devices of the
 * mounter's network namespace, so only `lo` (it takes CAP_SYS_ADMIN over
 * that namespace, which the sandbox's user namespace owns). */
static int mount_sysfs(int root, struct wsbox_error *err)
{
	return mount_fresh(root, "sysfs", "sys",
			   MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
			       MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
			   err);
}

/* Minimal /dev: a tmpfs with the harmless host device nodes bound in (a
 * user namespace cannot mknod), a private devpts and /dev/shm. */
static int mount_dev(int root, uint64_t memory_bytes, struct wsbox_error *err)
{
	static const char *const nodes[] = {"null",   "zero",	 "full",
					    "random", "urandom", "tty"};
	static const char *const links[][2] = {
	    {"ptmx", "pts/ptmx"},	   {"fd", "/proc/self/fd"},
	    {"stdin", "/proc/self/fd/0"},  {"stdout", "/proc/self/fd/1"},
	    {"stderr", "/proc/self/fd/2"},
	};
	int r = mount_tmpfs_at(root, "dev", "mode=0755,size=64k",
			       MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dev =
	    openat(root, "dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dev < 0)
		return wsbox_fail(err, errno, "open /dev");
	_cleanup_close_ int hostdev =
	    open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (hostdev < 0)
		return wsbox_fail(err, errno, "open host /dev");
	for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
		r = make_mountpoint(dev, nodes[i], false, err);
		if (r < 0)
			return r;
		/* nodev must stay off or the nodes would not open; the
		 * nodes keep their host superblock so they work. */
		_cleanup_close_ int tree = open_tree(
		    hostdev, nodes[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (tree < 0)
			return wsbox_fail(err, errno, "bind /dev/%s", nodes[i]);
		struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOSUID |
						      MOUNT_ATTR_NOEXEC};
		if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) <
		    0)
			return wsbox_fail(err, errno, "lock /dev/%s", nodes[i]);
		if (move_mount(tree, "", dev, nodes[i],
			       MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return wsbox_fail(err, errno, "attach /dev/%s",
					  nodes[i]);
	}
	for (size_t i = 0; i < sizeof links / sizeof *links; i++)
		if (symlinkat(links[i][1], dev, links[i][0]) < 0)
			return wsbox_fail(err, errno, "symlink /dev/%s",
					  links[i][0]);
	if (mkdirat(dev, "pts", 0755) < 0 || mkdirat(dev, "shm", 01777) < 0)
		return wsbox_fail(err, errno, "mkdir in /dev");
	_cleanup_close_ int fs = fsopen("devpts", FSOPEN_CLOEXEC);
	if (fs < 0)
		return wsbox_fail(err, errno, "fsopen devpts");
	if (fsconfig(fs, FSCONFIG_SET_FLAG, "newinstance", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "ptmxmode", "0666", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0620", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return wsbox_fail(err, errno, "create /dev/pts");
	_cleanup_close_ int pts =
	    fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
	if (pts < 0 ||
	    move_mount(pts, "", dev, "pts", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return wsbox_fail(err, errno, "mount /dev/pts");
	_cleanup_free_ char *shm_opts =
	    tmpfs_scratch_opts(TMPFS_SHM_MAX, memory_bytes, TMPFS_SHM_INODES);
	r = mount_tmpfs_at(dev, "shm", shm_opts,
			   MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
	if (r < 0)
		return r;
	/* Nothing may add device nodes or files to /dev itself. */
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	if (mount_setattr(dev, "", AT_EMPTY_PATH, &ro, sizeof ro) < 0)
		return wsbox_fail(err, errno, "make /dev read-only");
	return 0;
}

int ns_mount_build_root(const struct plan *plan, int rootfs_fd,
			const struct hide_target *hidden, int *upper_fs,
			struct wsbox_error *err)
{
	int r;

	*upper_fs = -1;
	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return wsbox_fail(err, errno, "make / a slave mount");
	_cleanup_close_ int fuse_tree = -1;
	if (plan->strategy == WS_FUSE_OVERLAYFS) {
		r = take_fuse_workspace(plan, &fuse_tree, err);
		if (r < 0)
			return r;
	}
	r = mount_tmpfs_at(AT_FDCWD, plan->root_mnt, "mode=0755,size=1m",
			   MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
	if (r < 0)
		return r;
	_cleanup_close_ int root =
	    open(plan->root_mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return wsbox_fail(err, errno, "open `%s`", plan->root_mnt);
	r = populate_root(plan, root, rootfs_fd, err);
	if (r < 0)
		return r;
	if (is_host_root(plan)) {
		r = hide_path(root, "/var/tmp", err);
		if (r < 0)
			return r;
		r = hide_host_links(root, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < plan->n_hide; i++) {
		r = hide_path(root, plan->hide[i], err);
		if (r < 0)
			return r;
	}
	r = hide_aliases(plan, root, rootfs_fd, hidden, err);
	if (r < 0)
		return r;
	static const char *const dirs[] = {"proc", "dev", "tmp", "workspace",
					   "sys"};
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		r = make_mountpoint(root, dirs[i], true, err);
		if (r < 0)
			return r;
	}
	r = mount_workspace(plan, root, upper_fs, fuse_tree, err);
	if (r < 0)
		return r;
	r = mount_proc(root, err);
	if (r < 0)
		return r;
	r = mount_dev(root, plan->limits.memory_bytes, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *tmp_opts =
	    tmpfs_scratch_opts(0, plan->limits.memory_bytes, TMPFS_TMP_INODES);
	r = mount_tmpfs_at(root, "tmp", tmp_opts,
			   MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
	if (r < 0)
		return r;
	/* /sys, when the host root is used: a sysfs of the sandbox's own
	 * network namespace, read-only, without the host's mounts under it
	 * (cgroups, securityfs, bpf, fuse connections...); with --net host the
	 * kernel allows no new sysfs (the namespace is the host's), so the
	 * host's, bound read-only, its kernel mounts covered. With another
	 * rootfs /sys stays an empty directory: a sysfs still describes the
	 * host's hardware. */
	if (!is_host_root(plan))
		return 0;
	if (plan->net == NET_NONE)
		return mount_sysfs(root, err);
	return bind_host_sys(root, err);
}

/* Files masked with /dev/null and directories made read-only or hidden, as
 * container runtimes do: they expose host state or kernel knobs. */
static const char *const proc_masked_files[] = {
    "kcore",	     "keys",	      "timer_list", "sched_debug",
    "latency_stats", "kallsyms",      "kpagecount", "kpageflags",
    "kpagecgroup",   "sysrq-trigger", "config.gz",  "vmallocinfo",
};
static const char *const proc_masked_dirs[] = {"acpi", "scsi", "asound",
					       "firmware", "driver"};
static const char *const proc_readonly[] = {"sys", "bus", "fs", "irq"};

int ns_mount_mask_proc(const struct plan *plan, struct wsbox_error *err)
{
	_cleanup_free_ char *procpath = xasprintf("%s/proc", plan->root_mnt);
	_cleanup_close_ int proc =
	    open(procpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc < 0)
		return wsbox_fail(err, errno, "open /proc");
	int r;
	for (size_t i = 0; i < sizeof proc_readonly / sizeof *proc_readonly;
	     i++) {
		if (faccessat(proc, proc_readonly[i], F_OK,
			      AT_SYMLINK_NOFOLLOW))
			continue;
		r = bind_ro(proc, proc_readonly[i], proc, proc_readonly[i],
			    true, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0;
	     i < sizeof proc_masked_files / sizeof *proc_masked_files; i++) {
		struct stat st;
		if (fstatat(proc, proc_masked_files[i], &st,
			    AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		r = bind_ro(AT_FDCWD, "/dev/null", proc, proc_masked_files[i],
			    false, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0;
	     i < sizeof proc_masked_dirs / sizeof *proc_masked_dirs; i++) {
		struct stat st;
		if (fstatat(proc, proc_masked_dirs[i], &st,
			    AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		r = mount_tmpfs_at(proc, proc_masked_dirs[i],
				   "mode=0555,size=4k",
				   MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
				       MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
				   err);
		if (r < 0)
			return r;
	}
	return 0;
}

int ns_mount_enter_root(const struct plan *plan, struct wsbox_error *err)
{
	if (chdir(plan->root_mnt) < 0)
		return wsbox_fail(err, errno, "chdir `%s`", plan->root_mnt);
	/* pivot_root(".", ".") stacks the old root under the new one; the
	 * detach then drops it without needing a directory for it. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return wsbox_fail(err, errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return wsbox_fail(err, errno, "detach old root");
	if (chdir("/") < 0)
		return wsbox_fail(err, errno, "chdir /");
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	if (mount_setattr(AT_FDCWD, "/", 0, &ro, sizeof ro) < 0)
		return wsbox_fail(err, errno, "make / read-only");
	return 0;
}
