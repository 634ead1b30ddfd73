/* layers/tree_copy.c: a host directory copied into a layer's tree (see
 * tree_copy.h). Every name is opened relative to its parent's fd with
 * O_NOFOLLOW, and what was opened is checked against what was listed, so a
 * source that changes under us cannot redirect the copy. */
#include "layers/tree_copy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/oci_tar.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

#define COPY_CHUNK (1u << 20)

struct copier {
	uint64_t budget;
	struct tree_copy_stats st;
	char *buf;
	struct wsbox_error *err;
};

static const char *kind_of(mode_t m)
{
	if (S_ISCHR(m) || S_ISBLK(m))
		return "device node";
	if (S_ISFIFO(m))
		return "FIFO";
	if (S_ISSOCK(m))
		return "socket";
	return "file of unknown type";
}

/* Content until EOF (the source may grow while we read: the budget, not
 * st_size, bounds it). */
static int copy_content(struct copier *cp, int in, int out, const char *path)
{
	bool in_kernel = true;
	for (;;) {
		uint64_t left = cp->budget - cp->st.bytes;
		if (left == 0) {
			char probe;
			ssize_t more = read(in, &probe, 1);
			if (more == 0)
				return 0;
			return wsbox_fail(cp->err, EFBIG,
					  "`%s`: over the import budget of "
					  "%llu bytes",
					  path, (unsigned long long)cp->budget);
		}
		size_t want = left < COPY_CHUNK ? (size_t)left : COPY_CHUNK;
		ssize_t n = copy_some(in, out, want, cp->buf, &in_kernel);
		if (n < 0)
			return wsbox_fail(cp->err, (int)-n, "copy `%s`", path);
		if (n == 0)
			return 0;
		cp->st.bytes += (uint64_t)n;
	}
}

static int copy_file(struct copier *cp, int src, int dst, const char *name,
		     const struct stat *listed, const char *path)
{
	/* O_NONBLOCK: a FIFO swapped in after the listing must not hang us;
	 * it is then refused by the type check below. */
	_cleanup_close_ int in =
	    openat(src, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (in < 0)
		return wsbox_fail(cp->err, errno, "open `%s`", path);
	struct stat st;
	if (fstat(in, &st) < 0)
		return wsbox_fail(cp->err, errno, "stat `%s`", path);
	if (!S_ISREG(st.st_mode) || st.st_ino != listed->st_ino ||
	    st.st_dev != listed->st_dev)
		return wsbox_fail(cp->err, 0, "`%s`: changed while importing",
				  path);
	_cleanup_close_ int out = openat(
	    dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    st.st_mode & 0777);
	if (out < 0)
		return wsbox_fail(cp->err, errno, "create `%s`", path);
	/* The source's mode, not the caller's umask: the layer (and its
	 * digest) must not depend on the shell that ran the import. */
	if (fchmod(out, st.st_mode & 0777) < 0)
		return wsbox_fail(cp->err, errno, "chmod `%s`", path);
	return copy_content(cp, in, out, path);
}

static int copy_symlink(struct copier *cp, int src, int dst, const char *name,
			const char *path)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(src, name, target, sizeof target);
	if (n < 0)
		return wsbox_fail(cp->err, errno, "readlink `%s`", path);
	if ((size_t)n >= sizeof target)
		return wsbox_fail(cp->err, ENAMETOOLONG, "readlink `%s`", path);
	target[n] = '\0';
	if (symlinkat(target, dst, name) < 0)
		return wsbox_fail(cp->err, errno, "symlink `%s`", path);
	return 0;
}

static int copy_dir(struct copier *cp, int src, int dst, const char *path,
		    int depth);

static int copy_subdir(struct copier *cp, int src, int dst, const char *name,
		       const struct stat *listed, const char *path, int depth)
{
	_cleanup_close_ int in =
	    openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return wsbox_fail(cp->err, errno, "open `%s`", path);
	struct stat st;
	if (fstat(in, &st) < 0)
		return wsbox_fail(cp->err, errno, "stat `%s`", path);
	if (st.st_ino != listed->st_ino || st.st_dev != listed->st_dev)
		return wsbox_fail(cp->err, 0, "`%s`: changed while importing",
				  path);
	if (mkdirat(dst, name, 0700) < 0)
		return wsbox_fail(cp->err, errno, "mkdir `%s`", path);
	_cleanup_close_ int out =
	    openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (out < 0)
		return wsbox_fail(cp->err, errno, "open `%s`", path);
	int r = copy_dir(cp, in, out, path, depth + 1);
	if (r < 0)
		return r;
	/* The mode goes on last, so a read-only source dir is still filled;
	 * its owner keeps the right to list, search and remove it. */
	if (fchmod(out, (st.st_mode & 01777) | 0700) < 0)
		return wsbox_fail(cp->err, errno, "chmod `%s`", path);
	return 0;
}

static int copy_entry(struct copier *cp, int src, int dst, const char *name,
		      const char *path, int depth)
{
	/* A plain file named like an OCI whiteout could not be exported and
	 * read back as itself (docs/capture.md "Archives"). */
	if (oci_tar_reserved_name(name))
		return wsbox_fail(cp->err, 0,
				  "`%s`: a name starting with `.wh.` cannot be "
				  "part of a layer",
				  path);
	struct stat st;
	if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return wsbox_fail(cp->err, errno, "stat `%s`", path);
	cp->st.entries++;
	if (S_ISDIR(st.st_mode))
		return copy_subdir(cp, src, dst, name, &st, path, depth);
	if (S_ISREG(st.st_mode))
		return copy_file(cp, src, dst, name, &st, path);
	if (S_ISLNK(st.st_mode))
		return copy_symlink(cp, src, dst, name, path);
	return wsbox_fail(cp->err, 0, "`%s`: a %s cannot be part of a layer",
			  path, kind_of(st.st_mode));
}

static int copy_dir(struct copier *cp, int src, int dst, const char *path,
		    int depth)
{
	if (depth > TREE_COPY_MAX_DEPTH)
		return wsbox_fail(cp->err, 0,
				  "`%s`: deeper than %d directories", path,
				  TREE_COPY_MAX_DEPTH);
	/* A fresh open file description: fdopendir takes it over. */
	int fd = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(cp->err, errno, "open `%s`", path);
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return wsbox_fail(cp->err, errno, "list `%s`", path);
	}
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de && errno)
			return wsbox_fail(cp->err, errno, "list `%s`", path);
		if (!de)
			return 0;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *sub = xasprintf("%s/%s", path, de->d_name);
		int r = copy_entry(cp, src, dst, de->d_name, sub, depth);
		if (r < 0)
			return r;
	}
}

int tree_copy(int src, int dst, const char *name, uint64_t budget,
	      struct tree_copy_stats *st, struct wsbox_error *err)
{
	struct copier cp = {.budget = budget, .err = err};
	cp.buf = malloc(COPY_CHUNK);
	if (!cp.buf)
		return wsbox_fail(err, ENOMEM, "copy buffer");
	int r = copy_dir(&cp, src, dst, name, 0);
	free(cp.buf);
	if (st)
		*st = cp.st;
	return r;
}
