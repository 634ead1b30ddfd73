/* Implementation of sparse.h: the extent walk over SEEK_DATA/SEEK_HOLE, a
 * file's digest that never reads its holes, a copy that keeps them. */
#include "sandbox/util/sparse.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* copy_file_range's step: large, since the kernel needs no buffer. */
#define KERNEL_CHUNK (1ull << 30)

void sparse_map_init(struct sparse_map *m, int fd, uint64_t size)
{
	*m = (struct sparse_map){.fd = fd, .size = size, .seekable = true};
}

int sparse_next(struct sparse_map *m, struct sparse_extent *x)
{
	uint64_t pos = m->pos;
	if (pos >= m->size)
		return 0;
	*x = (struct sparse_extent){.off = pos, .len = m->size - pos};
	off_t d = m->seekable ? lseek(m->fd, (off_t)pos, SEEK_DATA) : 0;
	if (!m->seekable) {
		/* the rest is data */
	} else if (d < 0 && errno == ENXIO) {
		x->hole = true;
	} else if (d < 0 && (errno == EINVAL || errno == EOPNOTSUPP)) {
		m->seekable = false;
	} else if (d < 0) {
		return -errno;
	} else if ((uint64_t)d > pos) {
		x->hole = true;
		if ((uint64_t)d < m->size)
			x->len = (uint64_t)d - pos;
	} else {
		off_t h = lseek(m->fd, (off_t)pos, SEEK_HOLE);
		if (h < 0)
			return -errno;
		if ((uint64_t)h > pos && (uint64_t)h < m->size)
			x->len = (uint64_t)h - pos;
	}
	m->pos = x->off + x->len;
	return 1;
}

/* bss: the kernel's zero page until written, which it never is. */
static unsigned char zero_block[1u << 16];

void sparse_sha256_zeros(struct sha256 *h, uint64_t n)
{
	while (n > 0) {
		size_t k =
		    n < sizeof zero_block ? (size_t)n : sizeof zero_block;
		sha256_update(h, zero_block, k);
		n -= k;
	}
}

bool sparse_all_zero(const void *buf, size_t n)
{
	const unsigned char *b = buf;
	return n == 0 || (b[0] == 0 && !memcmp(b, b + 1, n - 1));
}

/* Hash one data extent: 0, 1 when the file ended inside it, or -errno. */
static int hash_extent(int fd, const struct sparse_extent *x, struct sha256 *h,
		       void *buf, size_t bufsize, uint64_t *got)
{
	for (uint64_t pos = x->off, end = x->off + x->len; pos < end;) {
		size_t want =
		    end - pos < bufsize ? (size_t)(end - pos) : bufsize;
		ssize_t n = pread(fd, buf, want, (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 1;
		sha256_update(h, buf, (size_t)n);
		pos += (uint64_t)n;
		*got += (uint64_t)n;
	}
	return 0;
}

int sparse_sha256_fd(int fd, uint64_t size, void *buf, size_t bufsize,
		     unsigned char out[32], uint64_t *got)
{
	struct sha256 h;
	sha256_init(&h);
	struct sparse_map m;
	sparse_map_init(&m, fd, size);
	struct sparse_extent x;
	*got = 0;
	int r;
	while ((r = sparse_next(&m, &x)) > 0) {
		if (x.hole) {
			sparse_sha256_zeros(&h, x.len);
			*got += x.len;
		} else if ((r = hash_extent(fd, &x, &h, buf, bufsize, got)) !=
			   0) {
			break;
		}
	}
	if (r < 0)
		return r;
	/* A hole past a shrunk end was hashed as zeros: the length now
	 * tells. */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size != size)
		*got = (uint64_t)st.st_size;
	sha256_final(&h, out);
	return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* One data extent to the same offset of out; *in_kernel as copy_some's
 * (fs.h): cleared for good when the kernel cannot copy between them. */
static int copy_extent(int in, int out, uint64_t off, uint64_t len, void *buf,
		       size_t bufsize, bool *in_kernel)
{
	while (len > 0) {
		ssize_t n;
		if (*in_kernel) {
			loff_t io = (loff_t)off, oo = (loff_t)off;
			size_t want = len < KERNEL_CHUNK ? (size_t)len
							 : (size_t)KERNEL_CHUNK;
			n = copy_file_range(in, &io, out, &oo, want, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL ||
				      errno == ENOSYS || errno == EOPNOTSUPP ||
				      errno == EBADF)) {
				*in_kernel = false;
				continue;
			}
		} else {
			size_t want = len < bufsize ? (size_t)len : bufsize;
			n = pread(in, buf, want, (off_t)off);
			int r =
			    n > 0 ? pwrite_all(out, buf, (size_t)n, off) : 0;
			if (r < 0)
				return r;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* shorter than size */
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int sparse_copy_fd(int in, int out, uint64_t size, void *buf, size_t bufsize)
{
	struct sparse_map m;
	sparse_map_init(&m, in, size);
	struct sparse_extent x;
	bool in_kernel = true;
	int r;
	while ((r = sparse_next(&m, &x)) > 0) {
		if (x.hole)
			continue;
		r = copy_extent(in, out, x.off, x.len, buf, bufsize,
				&in_kernel);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	struct stat st;
	if (fstat(in, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < size)
		return -EIO;
	return ftruncate(out, (off_t)size) < 0 ? -errno : 0;
}
