/* Small filesystem and string helpers shared by every module. Everything here
 * opens with O_CLOEXEC and never follows symlinks where it walks trees that a
 * task may have written (rm_rf_at). */
#ifndef WSBOX_UTIL_FS_H
#define WSBOX_UTIL_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sandbox/util/error.h"

/* Elements of an array (never of a pointer: the division would lie). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof *(a))

/* asprintf that aborts on OOM (an allocation failure of a few bytes is not a
 * condition wsbox can report meaningfully). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);

/* Write `len` bytes, retrying on EINTR/short writes. Returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);
/* Read until EOF or `cap` bytes; returns bytes read or -errno. */
ssize_t read_all(int fd, void *buf, size_t cap);

/* One step of a file copy: up to `want` bytes from in's offset to out's,
 * by copy_file_range while *in_kernel holds (the kernel copies or reflinks
 * on one filesystem), else through `buf` (at least `want` bytes). Clears
 * *in_kernel for good when the kernel cannot (another filesystem, ...).
 * Returns bytes copied, 0 at EOF, or -errno; EINTR is retried. */
ssize_t copy_some(int in, int out, size_t want, char *buf, bool *in_kernel);

/* Open `path` (relative to dirfd) for writing with O_TRUNC|O_CLOEXEC and
 * write `content`. Used for /proc files (uid_map, setgroups...). */
int write_file_at(int dirfd, const char *path, const char *content,
		  struct wsbox_error *err);

/* Read a whole small file (at most `max` bytes) into a NUL-terminated heap
 * buffer. Refuses files larger than max with -EFBIG. */
int read_file_at(int dirfd, const char *path, size_t max, char **out,
		 size_t *len, struct wsbox_error *err);

/* Atomically replace dirfd/path with `content`: write a temp file
 * `.<name>.tmp.<pid>` in the same directory (the leading dot keeps it out of
 * every listing), fsync it, rename over the target, fsync the directory. */
int atomic_write_at(int dirfd, const char *path, const void *content,
		    size_t len, mode_t mode, struct wsbox_error *err);

/* Create dirfd/path (O_EXCL) and write `content` with one write, without
 * fsync: for files that only matter while their writer lives (an attempt's
 * owner marker) or whose loss a reader detects (a cache entry). */
int write_new_file_at(int dirfd, const char *path, const void *content,
		      size_t len, mode_t mode, struct wsbox_error *err);

/* mkdir -p with `mode` for created components. */
int mkdir_p(const char *path, mode_t mode, struct wsbox_error *err);

/* Open `path` below directory fd `root` with openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS and O_NOFOLLOW|O_CLOEXEC added
 * to `flags` (with O_PATH a trailing symlink opens the link itself): the one
 * way wsbox opens anything inside a tree a task or an archive wrote
 * (capture, verify, restore, import). Returns the fd or -errno. */
int open_beneath(int root, const char *path, int flags);

/* Remove a tree below dirfd/name without following any symlink, also while
 * a process races it (swaps a directory for a symlink): fd-relative, the
 * last component never followed, each directory checked (dev/ino) after
 * opening, read-only directories made writable through their fd (published
 * layers are read-only). Components of `name` before the last are wsbox's
 * own path and trusted; everything from the last one down may be a task's. */
int rm_rf_at(int dirfd, const char *name, struct wsbox_error *err);

/* fsync a directory by path. */
int fsync_dir_at(int dirfd, const char *path, struct wsbox_error *err);

/* The names in dirfd/rel for which keep(name) is true (every name but "."
 * and ".." when keep is NULL), sorted, as a heap array of heap strings (free
 * with free_strings). -ENOENT (with a message) when rel is missing. */
int list_dir_at(int dirfd, const char *rel, bool (*keep)(const char *name),
		char ***out, size_t *n, struct wsbox_error *err);
void free_strings(char **v, size_t n);

/* Append to a bounded, NUL-terminated buffer; silently truncates (for
 * diagnostics built piecewise). */
void appendf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* qsort comparator for an array of C strings. */
int strcmp_ptr(const void *a, const void *b);

/* True when `name` matches [A-Za-z0-9][A-Za-z0-9._-]{0,127}, the rule for
 * run, task and mutex names (docs/model.md "Names"). */
bool valid_name(const char *name);

#endif
