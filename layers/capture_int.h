/* layers/capture_int.h: what the files of capture share (capture.c: the
 * walk; capture_sanitize.c: sanitizing in place; capture_copy.c: copy
 * mode). Not for use outside them: other code includes layers/capture.h. */
#ifndef WSBOX_LAYERS_CAPTURE_INT_H
#define WSBOX_LAYERS_CAPTURE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "layers/capture.h"
#include "layers/manifest.h"
#include "sandbox/util/error.h"

#define HASH_CHUNK (1u << 20)
#define OPAQUE_XATTR "user.overlay.opaque"

/* What to do with a directory's children. */
enum frame_kind {
	KEEP_ALL,      /* inside the captured set: sanitize and record */
	SAVE_ANCESTOR, /* only leads to --save paths: filter children */
	REMOVE,	       /* outside --save: delete everything */
};

struct frame {
	char *path;   /* relative to the root; "" for the root itself */
	char **names; /* children, sorted by bytes */
	size_t n_names, next;
	int fd; /* -1 when evicted */
	dev_t dev;
	ino_t ino;
	/* Copy mode: the directory's copy (evicted with fd). */
	int dst_fd;
	dev_t dst_dev;
	ino_t dst_ino;
	mode_t cur_mode;   /* permission bits on disk now */
	mode_t final_mode; /* applied when leaving, after the children */
	enum frame_kind kind;
};

struct walker {
	int root_fd;
	int dst_root;  /* copy mode: the copy's root; -1 captures in place */
	size_t window; /* open frames: each holds two fds in copy mode */
	const struct capture_options *opts;
	struct manifest *out;
	struct capture_stats *st;
	struct wsbox_error *err;
	struct frame *stack;
	size_t depth, cap;
	size_t open_lo; /* frames [open_lo, depth) have fds (root excluded) */
	char **save;
	size_t n_save;
	unsigned char *buf; /* hash chunks and getdents64 records */
	uint64_t bytes;
};

/* Fails with -ETIMEDOUT once opts->deadline has passed; else 0. */
int capture_deadline(struct walker *w);

/* What capture_read_file hands on, chunk by chunk in file order: `data`
 * is NULL for a hole (n zero bytes at `off` that were never read). */
typedef int (*capture_chunk_fn)(struct walker *w, void *ctx, uint64_t off,
				const unsigned char *data, size_t n);

/* Hash the first `size` bytes of fd (the size it was listed with) into
 * sha, in chunks of at most HASH_CHUNK, each passed to `put` (may be
 * NULL). Holes (SEEK_DATA/SEEK_HOLE) are hashed as the zeros they read
 * as, without reading them, so the digest is that of the bytes whatever
 * the file's layout on disk. A file that is not `size` bytes long by the
 * end is "changed during capture" (-EAGAIN); the deadline is checked
 * between chunks. */
int capture_read_file(struct walker *w, int fd, const char *path, uint64_t size,
		      capture_chunk_fn put, void *ctx, unsigned char sha[32]);

/* "WHAT `PATH`" in `err` (the path escaped, "." for the root); -errnum. */
int capture_escaped_fail(struct wsbox_error *err, int errnum, const char *what,
			 const char *path);

/* capture_sanitize.c */
int capture_sanitize_xattrs(struct walker *w, int fd, const char *lpath,
			    const char *path, bool keep_opaque, bool *opaque,
			    mode_t *cur);
bool capture_sanitize_needs_chown(const struct walker *w,
				  const struct stat *st);
int capture_sanitize_file(struct walker *w, int fd, const char *path,
			  const struct stat *st, mode_t cur, mode_t disk);
int capture_sanitize_special(struct walker *w, int dirfd, const char *name,
			     const char *path, const struct stat *st);
int capture_sanitize_dir(struct walker *w, int fd, const char *path,
			 const struct stat *st, enum frame_kind kind,
			 bool *opaque, mode_t *cur);
bool capture_sanitize_fuse_opaque(int fd);
bool capture_sanitize_lower_visible(const struct walker *w, const char *path);
int capture_sanitize_fuse_whiteouts(struct walker *w, int fd, const char *path,
				    char **names, size_t *n);

/* capture_copy.c */
int capture_copy_settle(struct walker *w, int fd, int dirfd, const char *name,
			const char *path, mode_t mode);
int capture_copy_file(struct walker *w, int src, int dstdir, const char *name,
		      const char *path, const struct stat *st, mode_t disk,
		      unsigned char sha[32], uint64_t *got);
int capture_copy_special(struct walker *w, int dstdir, const char *name,
			 const char *path, const char *target);
int capture_copy_dir(struct walker *w, int dstdir, const char *name,
		     const char *path, bool opaque, struct stat *cst);
bool capture_copy_src_opaque(int fd);
void capture_copy_discard(struct walker *w);

#endif
