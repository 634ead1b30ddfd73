/* ns_mount.c: the sandbox's filesystem, built by the child in its own mount
 * namespace. The new root is a small tmpfs on which every top-level entry of
 * the rootfs is bound read-only (so /workspace, /proc, /dev, /tmp can be
 * created even on a read-only or host root), then the workspace overlay,
 * /proc, /dev and /tmp are mounted, and pivot_root switches to it.
 * Binds use the new mount API (open_tree + mount_setattr + move_mount) so
 * read-only/nosuid/nodev apply recursively and atomically to submounts.
 * The last part runs in the parent, as real root only: idmapped read-only
 * views of the layers (README "Ownership"), and the probe for them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* Top-level rootfs entries replaced by something fresh instead of bound. */
static const char *const fresh_mounts[] = {"proc", "dev", "tmp", "workspace",
					   "sys"};
/* Host directories hidden behind an empty tmpfs when the rootfs is the host's
 * own "/" (SPEC.md section 2). */
static const char *const host_hidden[] = {"home", "root", "run", "tmp",
					  "var/tmp"};

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, list[i]))
			return true;
	return false;
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

/* Mount a fresh tmpfs at dfd/path. */
static int mount_tmpfs_at(int dfd, const char *path, const char *opts,
			  unsigned attrs, struct wsbox_error *err)
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
	_cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		return wsbox_fail(err, errno, "fsmount tmpfs for `%s`", path);
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
		if (plan->host_root && S_ISDIR(st.st_mode) &&
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

/* Hide host paths (the store, /var/tmp) that are visible through the
 * read-only binds behind an empty read-only tmpfs. `path` is absolute on the
 * host; it is visible inside at the same place when the rootfs is "/". */
static int hide_path(int root, const char *path, struct wsbox_error *err)
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

static int mount_workspace(const struct plan *plan, int root,
			   struct wsbox_error *err)
{
	/* Read-only and nothing below: an empty read-only tmpfs (overlay
	 * would need two distinct lowers and refuses the empty dir twice). */
	if (!plan->upper && plan->n_lowers == 0)
		return mount_tmpfs_at(root, "workspace", "mode=0755,size=4k",
				      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
					  MOUNT_ATTR_NODEV,
				      err);
	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return wsbox_fail(err, errno, "fsopen overlay");
	/* Layers stay portable and leak no file handles: no redirects, no
	 * metacopy, no index, no xino (redirect_dir=off would still follow
	 * lower redirects, which userxattr forbids). userxattr because we are
	 * in a user namespace (whiteouts are 0:0 char devices, opaque is
	 * user.*). */
	static const char *const flags[] = {"userxattr"};
	static const char *const kv[][2] = {{"redirect_dir", "nofollow"},
					    {"metacopy", "off"},
					    {"index", "off"},
					    {"xino", "off"}};
	for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
		if (fsconfig(fs, FSCONFIG_SET_FLAG, flags[i], NULL, 0) < 0)
			return wsbox_fail(err, errno, "overlay option %s",
					  flags[i]);
	for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
		if (fsconfig(fs, FSCONFIG_SET_STRING, kv[i][0], kv[i][1], 0) <
		    0)
			return wsbox_fail(err, errno, "overlay option %s=%s",
					  kv[i][0], kv[i][1]);
	/* lowerdir+ appends one layer per call (topmost first) and is not
	 * bounded by the one-page option string of mount(2). */
	for (size_t i = 0; i < plan->n_lowers; i++)
		if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+",
			     plan->lowers[i], 0) < 0)
			return wsbox_fail(err, errno, "overlay lower `%s`",
					  plan->lowers[i]);
	/* Overlay needs one lower, and two when there is no upper. */
	size_t need = plan->upper ? 1 : 2;
	for (size_t i = plan->n_lowers; i < need; i++)
		if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+",
			     plan->empty_lower, 0) < 0)
			return wsbox_fail(err, errno, "overlay lower `%s`",
					  plan->empty_lower);
	if (plan->upper) {
		/* No sync of the whole upper filesystem at unmount: on a busy
		 * disk that cost up to a second per task. Safe because every
		 * attempt has a fresh workdir, and layer_publish() flushes
		 * before a layer becomes visible. */
		if (fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0)
			return wsbox_fail(err, errno,
					  "overlay option volatile");
		if (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", plan->upper,
			     0) < 0)
			return wsbox_fail(err, errno, "overlay upper `%s`",
					  plan->upper);
		if (fsconfig(fs, FSCONFIG_SET_STRING, "workdir", plan->work,
			     0) < 0)
			return wsbox_fail(err, errno, "overlay work `%s`",
					  plan->work);
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return wsbox_fail(err, errno, "create workspace overlay");
	unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	if (!plan->upper)
		attrs |= MOUNT_ATTR_RDONLY;
	_cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		return wsbox_fail(err, errno, "fsmount workspace overlay");
	if (move_mount(mnt, "", root, "workspace", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return wsbox_fail(err, errno, "mount /workspace");
	return 0;
}

static int mount_proc(int root, struct wsbox_error *err)
{
	_cleanup_close_ int fs = fsopen("proc", FSOPEN_CLOEXEC);
	if (fs < 0)
		return wsbox_fail(err, errno, "fsopen proc");
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return wsbox_fail(err, errno, "create /proc");
	_cleanup_close_ int mnt =
	    fsmount(fs, FSMOUNT_CLOEXEC,
		    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		return wsbox_fail(err, errno, "fsmount /proc");
	if (move_mount(mnt, "", root, "proc", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return wsbox_fail(err, errno, "mount /proc");
	return 0;
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
			struct wsbox_error *err)
{
	int r;

	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return wsbox_fail(err, errno, "make / a slave mount");
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
	if (plan->host_root) {
		r = hide_path(root, "var/tmp", err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < plan->n_hide; i++) {
		r = hide_path(root, plan->hide[i], err);
		if (r < 0)
			return r;
	}
	static const char *const dirs[] = {"proc", "dev", "tmp", "workspace",
					   "sys"};
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		r = make_mountpoint(root, dirs[i], true, err);
		if (r < 0)
			return r;
	}
	r = mount_workspace(plan, root, err);
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
	/* /sys: the host's, read-only, when the host root is used; otherwise
	 * left as an empty directory (a fresh sysfs would still describe the
	 * host's hardware). */
	if (plan->host_root) {
		r = bind_ro(AT_FDCWD, "/sys", root, "sys", true, err);
		if (r < 0)
			return r;
	}
	return 0;
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

/* Idmapped mounts of a filesystem need CAP_SYS_ADMIN over the user
 * namespace that mounted it, i.e. host root, so they are made here in the
 * parent and not by the sandbox child. The child's mount namespace is a copy
 * of this process's, taken by clone3(), which is how the views reach it
 * without passing fds or touching the host's mount table. */

/* Overlayfs accepts idmapped layers from Linux 5.19. */
static bool kernel_at_least(int want_major, int want_minor)
{
	struct utsname u;
	int major = 0, minor = 0;
	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > want_major ||
	       (major == want_major && minor >= want_minor);
}

int ns_mount_idmap_probe(const char *dir, int userns_fd,
			 struct wsbox_error *why)
{
	/* An operator's switch, and how the fallback is tested. */
	const char *off = getenv("WSBOX_NO_IDMAP");
	if (off && *off)
		return wsbox_fail(why, EOPNOTSUPP,
				  "idmapped layers disabled by WSBOX_NO_IDMAP");
	if (!kernel_at_least(5, 19))
		return wsbox_fail(why, EOPNOTSUPP,
				  "kernel older than 5.19: overlayfs cannot "
				  "use idmapped layers");
	_cleanup_close_ int tree = open_tree(
	    AT_FDCWD, dir,
	    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	if (tree < 0)
		return wsbox_fail(why, errno, "open_tree `%s`", dir);
	struct mount_attr attr = {
	    .attr_set = MOUNT_ATTR_IDMAP,
	    .userns_fd = (uint64_t)userns_fd,
	};
	/* The detached clone goes away when `tree` is closed. */
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		return wsbox_fail(why, errno,
				  "the filesystem of `%s` cannot be idmapped",
				  dir);
	return 0;
}

int ns_mount_idmap_dirs(const char *const *dirs, size_t n, int userns_fd,
			struct wsbox_error *err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return wsbox_fail(err, errno, "private mount namespace");
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return wsbox_fail(err, errno, "make / a slave mount");
	for (size_t i = 0; i < n; i++) {
		_cleanup_close_ int tree = open_tree(
		    AT_FDCWD, dirs[i],
		    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
		if (tree < 0)
			return wsbox_fail(err, errno, "bind `%s`", dirs[i]);
		struct mount_attr attr = {
		    .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY |
				MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
		    .userns_fd = (uint64_t)userns_fd,
		};
		if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) <
		    0)
			return wsbox_fail(err, errno, "idmap `%s`", dirs[i]);
		if (move_mount(tree, "", AT_FDCWD, dirs[i],
			       MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return wsbox_fail(err, errno, "attach idmapped `%s`",
					  dirs[i]);
	}
	return 0;
}

int ns_mount_idmap_layers_usable(const char *store_path, uid_t owner_uid,
				 gid_t owner_gid, const struct ns_user_ids *ids,
				 struct wsbox_error *why)
{
	/* Host root's files must show as the task's root: only a store owned
	 * by root:root maps that way through the task's own map. */
	if (owner_uid != 0 || owner_gid != 0)
		return wsbox_fail(why, EOPNOTSUPP,
				  "the store is not owned by root:root");
	struct wsbox_error e = {0};
	int userns = ns_user_open_userns(ids, &e);
	if (userns < 0) {
		*why = e;
		return userns;
	}
	_cleanup_free_ char *layers = xasprintf("%s/layers", store_path);
	int r = ns_mount_idmap_probe(layers, userns, why);
	close(userns);
	return r;
}
