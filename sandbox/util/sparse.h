/* sandbox/util/sparse: a regular file as its data extents and holes
 * (lseek SEEK_DATA/SEEK_HOLE), so that the code reading, hashing or copying
 * a file a task wrote never reads or writes the zeros of a hole: a task's
 * `truncate -s 1T f` costs no disk I/O at capture, verify, restore, flatten
 * or export (docs/capture.md "Walk"). */
#ifndef WSBOX_UTIL_SPARSE_H
#define WSBOX_UTIL_SPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/util/sha256.h"

/* [off, off + len) of the file: data, or a hole that reads as zeros. */
struct sparse_extent {
	uint64_t off, len;
	bool hole;
};

/* The extents of fd's first `size` bytes, in file order. */
struct sparse_map {
	int fd;
	uint64_t size, pos; /* pos: where the next extent starts */
	bool seekable;	    /* SEEK_DATA works on this file */
};

void sparse_map_init(struct sparse_map *m, int fd, uint64_t size);

/* The extent at m->pos into *x: 1, or 0 once m->pos reached size, or
 * -errno. Extents cover [0, size) exactly, without gaps. A filesystem
 * without SEEK_DATA (EINVAL, EOPNOTSUPP) gives the rest as one data
 * extent; ENXIO (no data from pos to the file's end, which may be before
 * `size` if it shrank) gives a hole up to size: readers that must notice a
 * file shorter than `size` check its length after the walk. */
int sparse_next(struct sparse_map *m, struct sparse_extent *x);

/* Feed n zero bytes to h (a hole's content, never read from anywhere).
 * Costs the hashing, about 0.5 s of CPU per GiB with SHA extensions: a
 * digest of the logical bytes cannot skip them. */
void sparse_sha256_zeros(struct sha256 *h, uint64_t n);

/* SHA-256 of fd's first `size` bytes, reading only its data extents
 * through buf (bufsize bytes): the digest of what read() would return,
 * whatever the layout. *got is the length found (< size: the file is
 * shorter; != size: it changed). 0 or -errno (EINTR retried). */
int sparse_sha256_fd(int fd, uint64_t size, void *buf, size_t bufsize,
		     unsigned char out[32], uint64_t *got);

/* Copy the first `size` bytes of `in` to `out` (empty, opened for writing)
 * keeping holes: each data extent at its offset (copy_file_range, so a
 * reflink where the filesystem has them, else through buf), holes skipped,
 * then ftruncate to size. -EIO when `in` is shorter than size. */
int sparse_copy_fd(int in, int out, uint64_t size, void *buf, size_t bufsize);

/* True when all n bytes of buf are zero. */
bool sparse_all_zero(const void *buf, size_t n);

#endif
