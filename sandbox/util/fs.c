/* Implementation of fs.h: bounded I/O, atomic replacement, symlink-safe
 * recursive removal. */
#include "sandbox/util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"

static _Noreturn void oom(void)
{
	static const char msg[] = "wsbox: out of memory\n";
	(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	_exit(WSBOX_EXIT_FAILURE);
}

char *xasprintf(const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		oom();
	return s;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		oom();
	return d;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n ? n : 1, size ? size : 1);
	if (!q)
		oom();
	return q;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t read_all(int fd, void *buf, size_t cap)
{
	size_t got = 0;
	while (got < cap) {
		ssize_t n = read(fd, (char *)buf + got, cap - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

ssize_t copy_some(int in, int out, size_t want, char *buf, bool *in_kernel)
{
	for (;;) {
		ssize_t n;
		if (*in_kernel) {
			n = copy_file_range(in, NULL, out, NULL, want, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL ||
				      errno == ENOSYS || errno == EOPNOTSUPP ||
				      errno == EBADF)) {
				*in_kernel = false;
				continue;
			}
		} else {
			n = read(in, buf, want);
			if (n > 0) {
				int r = write_all(out, buf, (size_t)n);
				if (r < 0)
					return r;
			}
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : n;
	}
}

int write_file_at(int dirfd, const char *path, const char *content,
		  struct wsbox_error *err)
{
	_cleanup_close_ int fd =
	    openat(dirfd, path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return wsbox_fail(err, errno, "open `%s`", path);
	int r = write_all(fd, content, strlen(content));
	if (r < 0)
		return wsbox_fail(err, -r, "write `%s`", path);
	return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, char **out,
		 size_t *len, struct wsbox_error *err)
{
	_cleanup_close_ int fd =
	    openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return wsbox_fail(err, errno, "open `%s`", path);
	/* Size the buffer from fstat for regular files (proc files report
	 * 0 and grow as they are read). */
	struct stat st;
	size_t cap = 4096;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		cap = (size_t)st.st_size + 1;
	if (cap > max + 1)
		cap = max + 1;
	_cleanup_free_ char *buf = xcalloc(1, cap + 1);
	size_t got = 0;
	for (;;) {
		ssize_t n = read_all(fd, buf + got, cap - got);
		if (n < 0)
			return wsbox_fail(err, (int)-n, "read `%s`", path);
		got += (size_t)n;
		if (got < cap)
			break;
		if (got > max)
			return wsbox_fail(err, EFBIG, "read `%s`", path);
		cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
		buf = xreallocarray(buf, cap + 1, 1);
	}
	buf[got] = '\0';
	if (len)
		*len = got;
	*out = steal_pointer(&buf);
	return 0;
}

int fsync_dir_at(int dirfd, const char *path, struct wsbox_error *err)
{
	_cleanup_close_ int fd =
	    openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "open `%s`", path);
	if (fsync(fd) < 0)
		return wsbox_fail(err, errno, "fsync `%s`", path);
	return 0;
}

int atomic_write_at(int dirfd, const char *path, const void *content,
		    size_t len, mode_t mode, struct wsbox_error *err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : path;
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	/* The temp name starts with '.', which no valid task, run or layer
	 * name does: a crash leaves a file every listing skips and `wsbox gc`
	 * removes (pid = owner). */
	_cleanup_free_ char *tmp =
	    xasprintf("%s/.%s.tmp.%d", dir, base, (int)getpid());

	_cleanup_close_ int fd =
	    openat(dirfd, tmp,
		   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return wsbox_fail(err, errno, "create `%s`", tmp);
	int r = write_all(fd, content, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return wsbox_fail(err, -r, "write `%s`", tmp);
	}
	if (renameat(dirfd, tmp, dirfd, path) < 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return wsbox_fail(err, e, "rename `%s`", path);
	}
	return fsync_dir_at(dirfd, dir, err);
}

int write_new_file_at(int dirfd, const char *path, const void *content,
		      size_t len, mode_t mode, struct wsbox_error *err)
{
	_cleanup_close_ int fd =
	    openat(dirfd, path,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return wsbox_fail(err, errno, "create `%s`", path);
	int r = write_all(fd, content, len);
	if (r < 0)
		return wsbox_fail(err, -r, "write `%s`", path);
	return 0;
}

int mkdir_p(const char *path, mode_t mode, struct wsbox_error *err)
{
	/* Mostly the parents exist (the store's dirs, a run's): one mkdir,
	 * and the components are walked only when one is missing. */
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return wsbox_fail(err, errno, "mkdir `%s`", path);
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return wsbox_fail(err, errno, "mkdir `%s`", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return wsbox_fail(err, errno, "mkdir `%s`", p);
	return 0;
}

int open_beneath(int root, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
	    .resolve =
		RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof how);
	return fd < 0 ? -errno : fd;
}

/* Depth-first removal of a tree a task may have written, and may still be
 * racing (a process that kept an fd to it): every step is relative to a
 * directory fd wsbox opened itself, the last component is never followed
 * (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW), a directory is used only after fstat on
 * the opened fd shows the inode that the fstatat listing saw, and modes are
 * changed through that fd, never by name. A name that changes between the
 * look and the act is looked at again, at most RM_RETRIES times. Recursion
 * takes one frame and two fds per level, for RM_FD_WINDOW levels; below
 * that rm_deep goes on without recursion, so a 10,000-deep tree a task
 * made is removed within RLIMIT_NOFILE. */
#define RM_RETRIES 16
#define RM_FD_WINDOW 64

static int rm_entry_once(int dirfd, const char *name, int depth,
			 struct wsbox_error *err);
static int open_seen_dir(int dirfd, const char *name, const struct stat *seen,
			 struct wsbox_error *err);

/* In dfd: unlink every non-directory; *sub gets the name of one directory
 * left (NULL when none), with what fstatat saw of it. */
static int rm_files_find_dir(int dfd, const char *label, char **sub,
			     struct stat *sst, struct wsbox_error *err)
{
	*sub = NULL;
	int dup_fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_fd < 0)
		return wsbox_fail(err, errno, "open `%s`", label);
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		int e = errno;
		close(dup_fd);
		return wsbox_fail(err, e, "fdopendir `%s`", label);
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dfd, de->d_name, sst, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return wsbox_fail(err, errno, "stat `%s`", de->d_name);
		}
		if (S_ISDIR(sst->st_mode)) {
			*sub = xstrdup(de->d_name);
			return 0;
		}
		/* EISDIR: swapped for a directory, seen on the next pass. */
		if (unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT &&
		    errno != EISDIR)
			return wsbox_fail(err, errno, "unlink `%s`",
					  de->d_name);
	}
	if (errno)
		return wsbox_fail(err, errno, "readdir `%s`", label);
	return 0;
}

struct rm_level {
	char *name; /* in the level above */
	dev_t dev;
	ino_t ino;
};

/* Empty the directory `top` (a verified fd) without recursion, holding at
 * most three fds: down into one subdirectory at a time (open_seen_dir),
 * back up through ".." checked against the inode it came from (a
 * directory moved meanwhile fails the removal instead of removing
 * elsewhere), removing each directory once it is empty. */
static int rm_deep(int top, const char *label, struct wsbox_error *err)
{
	struct stat st;
	if (fstat(top, &st) < 0)
		return wsbox_fail(err, errno, "stat `%s`", label);
	size_t depth = 0, cap = 16, retries = 0;
	struct rm_level *lv = xcalloc(cap, sizeof *lv);
	lv[0] = (struct rm_level){NULL, st.st_dev, st.st_ino};
	int cur = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = cur < 0 ? wsbox_fail(err, errno, "open `%s`", label) : 0;
	while (r == 0) {
		char *sub = NULL;
		struct stat sst;
		r = rm_files_find_dir(cur, label, &sub, &sst, err);
		if (r < 0)
			break;
		if (sub) {
			int fd = open_seen_dir(cur, sub, &sst, err);
			if (fd == -EAGAIN && ++retries <= RM_RETRIES * 64) {
				free(sub);
				continue;
			}
			if (fd < 0) {
				free(sub);
				r = fd == -EAGAIN
					? wsbox_fail(err, EAGAIN,
						     "remove `%s`: it keeps "
						     "changing",
						     label)
					: fd;
				break;
			}
			if (++depth == cap) {
				cap *= 2;
				lv = xreallocarray(lv, cap, sizeof *lv);
			}
			lv[depth] =
			    (struct rm_level){sub, sst.st_dev, sst.st_ino};
			close(cur);
			cur = fd;
			continue;
		}
		if (depth == 0)
			break;
		int up = openat(
		    cur, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat ust;
		if (up < 0 || fstat(up, &ust) < 0 ||
		    ust.st_dev != lv[depth - 1].dev ||
		    ust.st_ino != lv[depth - 1].ino) {
			if (up >= 0)
				close(up);
			r = wsbox_fail(err, EAGAIN,
				       "remove `%s`: moved during removal",
				       label);
			break;
		}
		close(cur);
		cur = up;
		/* ENOTEMPTY: refilled meanwhile, listed again. */
		int u =
		    unlinkat(cur, lv[depth].name, AT_REMOVEDIR) < 0 ? errno : 0;
		bool again = u == ENOTEMPTY || u == EEXIST;
		if (u && u != ENOENT && !again)
			r = wsbox_fail(err, u, "rmdir `%s`", lv[depth].name);
		else if (again && ++retries > RM_RETRIES * 64)
			r = wsbox_fail(err, EAGAIN,
				       "remove `%s`: it keeps changing", label);
		free(lv[depth].name);
		depth--;
	}
	if (cur >= 0)
		close(cur);
	for (size_t i = 1; i <= depth; i++)
		free(lv[i].name);
	free(lv);
	return r;
}

static int rm_children(int dfd, const char *name, int depth,
		       struct wsbox_error *err)
{
	if (depth >= RM_FD_WINDOW)
		return rm_deep(dfd, name, err);
	int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return wsbox_fail(err, errno, "dup `%s`", name);
	_cleanup_closedir_ DIR *d = fdopendir(dup_fd);
	if (!d) {
		int e = errno;
		close(dup_fd);
		return wsbox_fail(err, e, "fdopendir `%s`", name);
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int r = -EAGAIN;
		for (int i = 0; r == -EAGAIN && i < RM_RETRIES; i++)
			r = rm_entry_once(dfd, de->d_name, depth + 1, err);
		if (r == -EAGAIN)
			r = wsbox_fail(err, EAGAIN,
				       "remove `%s`: it keeps changing",
				       de->d_name);
		if (r < 0)
			return r;
	}
	if (errno)
		return wsbox_fail(err, errno, "readdir `%s`", name);
	return 0;
}

/* chmod the inode behind an O_PATH fd: fchmod refuses O_PATH fds, so
 * fchmodat2(AT_EMPTY_PATH) (Linux 6.6), else the fd's magic link, which
 * names exactly that inode (never a path a task can redirect). */
static int chmod_opath(int pfd, mode_t mode)
{
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
	if (syscall(SYS_fchmodat2, pfd, "", mode, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL)
		return -errno;
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
	return chmod(proc, mode) < 0 ? -errno : 0;
}

/* Open dirfd/name for reading, only if it is still the directory `seen`
 * (what fstatat reported): -EAGAIN when it was swapped since (for a symlink,
 * a file, another directory) or is gone. A directory without rwx for its
 * owner (published layers are read-only, overlay's work/work is 000) gets
 * them through the verified fd before it is opened for reading. */
static int open_seen_dir(int dirfd, const char *name, const struct stat *seen,
			 struct wsbox_error *err)
{
	_cleanup_close_ int pfd =
	    openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			return -EAGAIN;
		return wsbox_fail(err, errno, "open `%s`", name);
	}
	struct stat st;
	if (fstat(pfd, &st) < 0)
		return wsbox_fail(err, errno, "stat `%s`", name);
	if (st.st_dev != seen->st_dev || st.st_ino != seen->st_ino)
		return -EAGAIN;
	if ((st.st_mode & S_IRWXU) != S_IRWXU) {
		int r = chmod_opath(pfd, (st.st_mode & 07777) | S_IRWXU);
		/* Not the owner and no CAP_FOWNER: try to read it anyway. */
		if (r < 0 && r != -EPERM)
			return wsbox_fail(err, -r, "chmod `%s`", name);
	}
	/* "." of the verified directory is that directory: no name a task
	 * can change is resolved again. */
	int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "open `%s`", name);
	return fd;
}

/* One pass over dirfd/name (`depth` levels below the removal's start):
 * -EAGAIN when the name changed under it. */
static int rm_entry_once(int dirfd, const char *name, int depth,
			 struct wsbox_error *err)
{
	struct stat seen;
	if (fstatat(dirfd, name, &seen, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return wsbox_fail(err, errno, "stat `%s`", name);
	}
	if (!S_ISDIR(seen.st_mode)) {
		if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
			return 0;
		if (errno == EISDIR)
			return -EAGAIN; /* a directory now */
		return wsbox_fail(err, errno, "unlink `%s`", name);
	}
	_cleanup_close_ int fd = open_seen_dir(dirfd, name, &seen, err);
	if (fd < 0)
		return fd;
	int r = rm_children(fd, name, depth, err);
	if (r < 0)
		return r;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	if (errno == ENOTDIR || errno == ENOTEMPTY || errno == EEXIST)
		return -EAGAIN; /* swapped, or refilled, since */
	return wsbox_fail(err, errno, "rmdir `%s`", name);
}

int rm_rf_at(int dirfd, const char *name, struct wsbox_error *err)
{
	for (int i = 0; i < RM_RETRIES; i++) {
		int r = rm_entry_once(dirfd, name, 0, err);
		if (r != -EAGAIN)
			return r;
	}
	return wsbox_fail(err, EAGAIN, "remove `%s`: it keeps changing", name);
}

void free_strings(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int list_dir_at(int dirfd, const char *rel, bool (*keep)(const char *name),
		char ***out, size_t *n, struct wsbox_error *err)
{
	*out = NULL;
	*n = 0;
	int fd =
	    openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "open `%s`", rel);
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return wsbox_fail(err, e, "open `%s`", rel);
	}
	size_t cap = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, "..") ||
		    (keep && !keep(name))) {
			errno = 0;
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xreallocarray(*out, cap, sizeof **out);
		}
		(*out)[(*n)++] = xstrdup(name);
		errno = 0;
	}
	int e = errno;
	closedir(d);
	if (e) {
		free_strings(*out, *n);
		*out = NULL;
		*n = 0;
		return wsbox_fail(err, e, "read `%s`", rel);
	}
	if (*n)
		qsort(*out, *n, sizeof **out, strcmp_ptr);
	return 0;
}

void appendf(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strnlen(buf, cap);
	if (len + 1 >= cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
}

int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool valid_name(const char *name)
{
	size_t n = 0;
	if (!name)
		return false;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');
		if (n == 0 && !alnum)
			return false;
		if (!alnum && c != '.' && c != '_' && c != '-')
			return false;
		if (n >= 128)
			return false;
	}
	return n > 0;
}
