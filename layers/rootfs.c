/* layers/rootfs.c: importing and naming root filesystems (see rootfs.h).
 * Extraction is import.c's hostile-input-safe importer; this file hashes
 * the tar, publishes the tree by rename and resolves `--rootfs`. */
#include "layers/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <sys/file.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/import.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/mountinfo.h"
#include "sandbox/util/sha256.h"

#define HASH_CHUNK (1u << 20)
#define DIGEST_SUFFIX ".digest"

/* sha256 of everything readable from fd, as "sha256:<hex>". */
static int hash_file(int fd, const char *file, char out[72],
		     struct wsbox_error *err)
{
	_cleanup_free_ char *buf = malloc(HASH_CHUNK);
	if (!buf)
		return wsbox_fail(err, ENOMEM, "hash `%s`", file);
	unsigned char h[32];
	unsigned long long size;
	int r = sha256_fd(fd, buf, HASH_CHUNK, h, &size);
	if (r < 0)
		return wsbox_fail(err, -r, "read `%s`", file);
	sha256_format(h, out);
	return 0;
}

/* Put the finished tree staging/<id>/rootfs at rootfs/<name>. A new name
 * is a plain no-replace rename; an existing one is exchanged in one step
 * (so `--rootfs NAME` always sees a whole tree), and the old tree lands in
 * staging where attempt_discard removes it. Retries when a concurrent
 * import or removal changes the picture between the two calls. */
static int publish(int stage_fd, int rootfs_fd, const char *name,
		   struct wsbox_error *err)
{
	for (int tries = 0; tries < 8; tries++) {
		if (renameat2(stage_fd, "rootfs", rootfs_fd, name,
			      RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return wsbox_fail(err, errno, "publish rootfs `%s`",
					  name);
		if (renameat2(stage_fd, "rootfs", rootfs_fd, name,
			      RENAME_EXCHANGE) == 0)
			return 0;
		if (errno != ENOENT)
			return wsbox_fail(err, errno, "replace rootfs `%s`",
					  name);
	}
	return wsbox_fail(err, EAGAIN, "publish rootfs `%s`", name);
}

static int check_name(const char *name, struct wsbox_error *err)
{
	size_t n = name ? strlen(name) : 0, m = strlen(DIGEST_SUFFIX);
	if (!valid_name(name))
		return wsbox_fail(err, EINVAL,
				  "rootfs name `%s`: must match "
				  "[A-Za-z0-9][A-Za-z0-9._-]{0,127}",
				  name ? name : "");
	/* <name>.digest is the identity file of <name>. */
	if (n >= m && !strcmp(name + n - m, DIGEST_SUFFIX))
		return wsbox_fail(err, EINVAL,
				  "rootfs name `%s`: may not end in `%s`", name,
				  DIGEST_SUFFIX);
	return 0;
}

static int open_rootfs_dir(const struct store *s, struct wsbox_error *err)
{
	int fd = openat(s->fd, store_rel(STORE_ROOTFS),
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "open `%s/%s`", s->path,
				  store_rel(STORE_ROOTFS));
	return fd;
}

int rootfs_import(struct store *s, const char *file, const char *name,
		  struct wsbox_error *err)
{
	int r = check_name(name, err);
	if (r < 0)
		return r;
	/* One open for both the hash and the extraction: the digest is of
	 * the bytes extracted, even if the file is replaced meanwhile. */
	_cleanup_close_ int in = open(file, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return wsbox_fail(err, errno, "import %s", file);
	struct stat st;
	if (fstat(in, &st) < 0)
		return wsbox_fail(err, errno, "import %s", file);
	if (!S_ISREG(st.st_mode))
		return wsbox_fail(err, EINVAL,
				  "import %s: not a regular file (the digest "
				  "needs a second read)",
				  file);
	char digest[72];
	r = hash_file(in, file, digest, err);
	if (r < 0)
		return r;
	if (lseek(in, 0, SEEK_SET) < 0)
		return wsbox_fail(err, errno, "import %s", file);

	_cleanup_close_ int rdir = open_rootfs_dir(s, err);
	if (rdir < 0)
		return rdir;
	/* Private to root like the rest of the store: the sandbox opens its
	 * rootfs before it takes the task's ids (sandbox/contain.c), so they
	 * need no search right here (an older wsbox set 0711). */
	if (fchmod(rdir, 0700) < 0)
		return wsbox_fail(err, errno, "chmod `%s/%s`", s->path,
				  store_rel(STORE_ROOTFS));
	struct attempt att = {.dirfd = -1};
	r = attempt_create(s, &att, err);
	if (r < 0)
		return r;
	_cleanup_close_ int root = -1;
	/* 0755: the sandbox's root directory, readable by the task's ids. */
	if (mkdirat(att.dirfd, "rootfs", 0755) < 0 ||
	    fchmodat(att.dirfd, "rootfs", 0755, 0) < 0)
		r = wsbox_fail(err, errno, "mkdir `%s/rootfs`", att.dir);
	if (r == 0) {
		root = openat(att.dirfd, "rootfs",
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (root < 0)
			r = wsbox_fail(err, errno, "open `%s/rootfs`", att.dir);
	}
	struct import_stats xs = {0};
	if (r == 0)
		r = import_extract(root, file, in, IMPORT_ROOTFS, &xs, err);
	/* The rename publishes names, not data: flush the tree first so a
	 * crash cannot leave a published rootfs with empty files. */
	if (r == 0 && syncfs(root) < 0)
		r = wsbox_fail(err, errno, "sync `%s`", att.dir);

	_cleanup_close_ int lock = -1;
	_cleanup_free_ char *dfile = xasprintf("%s" DIGEST_SUFFIX, name);
	if (r == 0) {
		/* Serialize publishers of one name so the tree and its digest
		 * file come from the same import. */
		_cleanup_free_ char *lk = xasprintf("rootfs.%s", name);
		_cleanup_free_ char *rel =
		    store_rel_join(STORE_LOCKS, lk, NULL);
		lock = openat(s->fd, rel,
			      O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (lock < 0 || flock(lock, LOCK_EX) < 0)
			r = wsbox_fail(err, errno, "lock `%s/%s`", s->path,
				       rel);
	}
	/* Drop the old identity first: a crash after the swap then leaves
	 * a tree without a digest (unknown), never with a wrong one. */
	if (r == 0 && unlinkat(rdir, dfile, 0) < 0 && errno != ENOENT)
		r = wsbox_fail(err, errno, "remove `%s/%s/%s`", s->path,
			       store_rel(STORE_ROOTFS), dfile);
	if (r == 0)
		r = publish(att.dirfd, rdir, name, err);
	if (r == 0)
		r = fsync_dir_at(rdir, ".", err);
	if (r == 0) {
		char line[80];
		int n = snprintf(line, sizeof line, "%s\n", digest);
		r = atomic_write_at(rdir, dfile, line, (size_t)n, 0644, err);
	}
	if (r < 0)
		wsbox_error_prefix(err, "rootfs %s", name);
	else if (xs.skipped || xs.stripped)
		fprintf(stderr,
			"wsbox: rootfs %s: skipped %llu device nodes, FIFOs "
			"and sockets (the sandbox has its own /dev); stripped "
			"setuid/setgid from %llu entries (mounted nosuid)\n",
			name, (unsigned long long)xs.skipped,
			(unsigned long long)xs.stripped);
	/* Removes a partial extraction or, after a replace, the old tree. */
	struct wsbox_error e2 = {0};
	if (attempt_discard(s, &att, &e2) < 0 && r == 0) {
		*err = e2;
		r = -EIO;
	}
	return r;
}

int rootfs_digest(const struct store *s, const char *name, char **out,
		  struct wsbox_error *err)
{
	*out = NULL;
	int r = check_name(name, err);
	if (r < 0)
		return r;
	_cleanup_close_ int rdir = open_rootfs_dir(s, err);
	if (rdir < 0)
		return rdir;
	_cleanup_free_ char *dfile = xasprintf("%s" DIGEST_SUFFIX, name);
	char *buf = NULL;
	size_t len = 0;
	r = read_file_at(rdir, dfile, 128, &buf, &len, err);
	if (r < 0)
		return r;
	if (len != 72 || strncmp(buf, "sha256:", 7) || buf[71] != '\n') {
		free(buf);
		return wsbox_fail(err, EINVAL, "`%s/%s/%s`: malformed", s->path,
				  store_rel(STORE_ROOTFS), dfile);
	}
	buf[71] = '\0';
	*out = buf;
	return 0;
}

/* Kernel filesystems that describe the host rather than hold a tree: as a
 * rootfs they would show its processes, command lines and devices
 * (`--rootfs /proc`, issue 19 item 12). devtmpfs reports tmpfs's magic, so
 * it is recognised by its device number in mountinfo. */
static const unsigned long host_describing_fs[] = {
    PROC_SUPER_MAGIC, SYSFS_MAGIC,	  DEBUGFS_MAGIC,       SECURITYFS_MAGIC,
    TRACEFS_MAGIC,    CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, BPF_FS_MAGIC,
};

static bool is_devtmpfs_of(const struct mount_entry *e, const void *ctx)
{
	return !strcmp(e->fstype, "devtmpfs") &&
	       makedev(e->major, e->minor) == *(const dev_t *)ctx;
}

static bool on_devtmpfs(dev_t dev)
{
	struct wsbox_error err;
	_cleanup_free_ char *buf = NULL;
	struct mount_entry e;
	return mountinfo_find(&buf, is_devtmpfs_of, &dev, &e, &err) == 1;
}

static int check_rootfs_fs(const char *dir, struct wsbox_error *err)
{
	struct statfs sf;
	struct stat st;
	if (statfs(dir, &sf) < 0 || stat(dir, &st) < 0)
		return wsbox_fail(err, errno, "rootfs `%s`", dir);
	for (size_t i = 0; i < ARRAY_SIZE(host_describing_fs); i++)
		if ((unsigned long)sf.f_type == host_describing_fs[i])
			return wsbox_fail(err, 0,
					  "rootfs `%s`: a kernel filesystem "
					  "(type 0x%lx), not a root tree",
					  dir, (unsigned long)sf.f_type);
	if (on_devtmpfs(st.st_dev))
		return wsbox_fail(
		    err, 0, "rootfs `%s`: on devtmpfs, not a root tree", dir);
	return 0;
}

/* Is `target` the directory `start` (an fd of ours) or one of its
 * ancestors, walking up by ".." and comparing inodes, so that no spelling
 * of either path (symlinks, binds of a parent) hides the relation? 1 with
 * *depth (0: the same directory), 0 when the walk reaches "/" first. */
static int ancestor_depth(int start, const struct stat *target, int *depth,
			  const char *from, struct wsbox_error *err)
{
	_cleanup_close_ int fd =
	    openat(start, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "open `%s`", from);
	for (int d = 0; d < PATH_MAX / 2; d++) {
		struct stat st;
		if (fstat(fd, &st) < 0)
			return wsbox_fail(err, errno, "stat `%s`", from);
		if (st.st_dev == target->st_dev &&
		    st.st_ino == target->st_ino) {
			*depth = d;
			return 1;
		}
		int up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0)
			return wsbox_fail(err, errno, "walk up from `%s`",
					  from);
		struct stat ust;
		bool top = fstat(up, &ust) == 0 && ust.st_dev == st.st_dev &&
			   ust.st_ino == st.st_ino;
		close(fd);
		fd = up;
		if (top)
			return 0; /* "/" is its own parent */
	}
	return 0;
}

int rootfs_check_store(const struct store *s, const char *dir,
		       struct wsbox_error *err)
{
	/* The host's root contains the store by definition; there the
	 * sandbox covers it (docs/sandbox.md "Root filesystem"). */
	if (!strcmp(dir, "/"))
		return 0;
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct stat root, store;
	if (dfd < 0 || fstat(dfd, &root) < 0)
		return wsbox_fail(err, errno, "rootfs `%s`", dir);
	if (fstat(s->fd, &store) < 0)
		return wsbox_fail(err, errno, "stat store `%s`", s->path);
	int depth;
	int r = ancestor_depth(s->fd, &root, &depth, s->path, err);
	if (r < 0)
		return r;
	if (r)
		return wsbox_fail(err, 0,
				  "rootfs `%s`: contains the store `%s`, "
				  "which a task must never see",
				  dir, s->path);
	/* Below the store only an imported rootfs, rootfs/<name>, is a root
	 * tree: anything else there (layers, staging, another tenant's
	 * runs) is the store shown to the task. */
	r = ancestor_depth(dfd, &store, &depth, dir, err);
	if (r <= 0)
		return r;
	struct stat rdir, parent;
	if (depth == 2 &&
	    fstatat(s->fd, store_rel(STORE_ROOTFS), &rdir,
		    AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(dfd, "..", &parent, 0) == 0 &&
	    parent.st_dev == rdir.st_dev && parent.st_ino == rdir.st_ino)
		return 1;
	return wsbox_fail(err, 0,
			  "rootfs `%s`: inside the store `%s`, which a task "
			  "must never see (an imported rootfs is given by its "
			  "name)",
			  dir, s->path);
}

int rootfs_resolve(const struct store *s, const char *arg, char **out_dir,
		   struct wsbox_error *err)
{
	*out_dir = NULL;
	_cleanup_free_ char *path = NULL;
	if (!arg || !*arg)
		return wsbox_fail(err, 0, "--rootfs: empty");
	if (strchr(arg, '/') || arg[0] == '.') {
		path = xstrdup(arg);
	} else if (s && valid_name(arg)) {
		path = store_path_join(s, STORE_ROOTFS, arg, NULL);
		struct stat st;
		/* Only a real directory the import created: not the digest
		 * file, not a symlink planted in the store. */
		_cleanup_free_ char *rel =
		    store_rel_join(STORE_ROOTFS, arg, NULL);
		if (fstatat(s->fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			return wsbox_fail(err, 0,
					  "--rootfs `%s`: no such directory "
					  "or imported rootfs",
					  arg);
	} else {
		return wsbox_fail(err, 0,
				  "--rootfs `%s`: no such directory or "
				  "imported rootfs",
				  arg);
	}
	char *real = realpath(path, NULL);
	if (!real)
		return wsbox_fail(err, errno, "--rootfs `%s`", arg);
	struct stat st;
	int e = stat(real, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	if (e) {
		free(real);
		return wsbox_fail(err, e, "--rootfs `%s`", arg);
	}
	int r = check_rootfs_fs(real, err);
	if (r < 0) {
		free(real);
		return r;
	}
	*out_dir = real;
	return 0;
}
