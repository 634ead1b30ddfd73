/* Unit tests of sandbox/util/sparse.c: the extent walk covers a file
 * exactly, with its holes as holes; the digest of a sparse file is that of
 * the same bytes written dense; a copy keeps the bytes and the holes; a
 * file shorter than the size asked for is noticed. The fixture's trees are
 * on the disk of $TMPDIR (ext4 or tmpfs in CI, both with SEEK_HOLE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/sha256.h"
#include "sandbox/util/sparse.h"
#include "tests/unit/fixture.h"

#define MIB (1u << 20)
#define BUFSZ (64u * 1024)

/* Where the layout puts data: 0, 3 MiB + 7 and 9 MiB - 1 (the last byte);
 * the rest never written. */
static const uint64_t data_at[] = {0, 3 * MIB + 7, 9 * MIB - 1};
#define FILE_SIZE (9 * (uint64_t)MIB)

/* The test file at root/rel, sparse (data written, the rest holes) or
 * dense (every zero written too). Returns an O_RDONLY fd. */
static int make_file(const char *root, const char *rel, bool sparse)
{
	_cleanup_free_ char *p = fx_path(root, rel);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	if (!sparse) {
		static const char zeros[BUFSZ];
		for (uint64_t o = 0; o < FILE_SIZE; o += sizeof zeros)
			assert_int_equal(
			    pwrite(fd, zeros, sizeof zeros, (off_t)o),
			    (ssize_t)sizeof zeros);
	}
	for (size_t i = 0; i < sizeof data_at / sizeof *data_at; i++)
		assert_int_equal(pwrite(fd, "x", 1, (off_t)data_at[i]), 1);
	assert_int_equal(ftruncate(fd, (off_t)FILE_SIZE), 0);
	close(fd);
	int rfd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(rfd >= 0);
	return rfd;
}

static void test_sparse_next_covers_the_file_with_its_holes(void **state)
{
	(void)state;
	_cleanup_free_ char *root = fx_tree_new();
	int fd = make_file(root, "f", true);
	struct sparse_map m;
	sparse_map_init(&m, fd, FILE_SIZE);
	struct sparse_extent x;
	uint64_t end = 0, holes = 0;
	int r;
	while ((r = sparse_next(&m, &x)) > 0) {
		assert_int_equal(x.off, end); /* no gap, no overlap */
		assert_true(x.len > 0);
		for (size_t i = 0; i < sizeof data_at / sizeof *data_at; i++)
			if (data_at[i] >= x.off && data_at[i] < x.off + x.len)
				assert_false(x.hole);
		if (x.hole)
			holes += x.len;
		end = x.off + x.len;
	}
	assert_int_equal(r, 0);
	assert_int_equal(end, FILE_SIZE);
	/* Most of the 9 MiB was never written: the walk says so. */
	assert_true(holes >= 6 * (uint64_t)MIB);
	close(fd);
	fx_tree_remove(root);
}

static void test_sparse_next_walks_no_further_than_size(void **state)
{
	(void)state;
	_cleanup_free_ char *root = fx_tree_new();
	int fd = make_file(root, "f", true);
	struct sparse_map m;
	sparse_map_init(&m, fd, 5);
	struct sparse_extent x;
	assert_int_equal(sparse_next(&m, &x), 1);
	assert_int_equal(x.off, 0);
	assert_int_equal(x.len, 5);
	assert_false(x.hole);
	assert_int_equal(sparse_next(&m, &x), 0);
	close(fd);
	fx_tree_remove(root);
}

static void test_sparse_sha256_fd_is_the_digest_of_the_bytes(void **state)
{
	(void)state;
	_cleanup_free_ char *root = fx_tree_new();
	int sp = make_file(root, "sparse", true);
	int dn = make_file(root, "dense", false);
	_cleanup_free_ char *buf = malloc(BUFSZ);
	assert_non_null(buf);
	unsigned char want[32], got_sp[32], got_dn[32];
	unsigned long long n = 0;
	assert_int_equal(sha256_fd(dn, buf, BUFSZ, want, &n), 0);
	assert_int_equal(n, FILE_SIZE);
	uint64_t len = 0;
	assert_int_equal(
	    sparse_sha256_fd(sp, FILE_SIZE, buf, BUFSZ, got_sp, &len), 0);
	assert_int_equal(len, FILE_SIZE);
	assert_memory_equal(got_sp, want, 32);
	assert_int_equal(
	    sparse_sha256_fd(dn, FILE_SIZE, buf, BUFSZ, got_dn, &len), 0);
	assert_memory_equal(got_dn, want, 32);
	close(sp);
	close(dn);
	fx_tree_remove(root);
}

static void
test_sparse_sha256_fd_reports_a_file_shorter_than_asked(void **state)
{
	(void)state;
	_cleanup_free_ char *root = fx_tree_new();
	int fd = make_file(root, "f", true);
	_cleanup_free_ char *buf = malloc(BUFSZ);
	assert_non_null(buf);
	unsigned char md[32];
	uint64_t len = 0;
	assert_int_equal(
	    sparse_sha256_fd(fd, FILE_SIZE + 4096, buf, BUFSZ, md, &len), 0);
	assert_int_equal(len, FILE_SIZE);
	close(fd);
	fx_tree_remove(root);
}

static off_t blocks_of(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return (off_t)st.st_blocks;
}

static void test_sparse_copy_fd_keeps_the_bytes_and_the_holes(void **state)
{
	(void)state;
	_cleanup_free_ char *root = fx_tree_new();
	int in = make_file(root, "f", true);
	_cleanup_free_ char *cp = fx_path(root, "copy");
	int out = open(cp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(out >= 0);
	_cleanup_free_ char *buf = malloc(BUFSZ);
	assert_non_null(buf);
	assert_int_equal(sparse_copy_fd(in, out, FILE_SIZE, buf, BUFSZ), 0);
	struct stat st;
	assert_int_equal(fstat(out, &st), 0);
	assert_int_equal(st.st_size, FILE_SIZE);
	/* Far fewer than the 9 MiB a dense copy has (512-byte units). */
	assert_true(blocks_of(out) <= blocks_of(in) + 64);
	assert_true(blocks_of(out) < (off_t)(FILE_SIZE / 512 / 2));
	unsigned char a[32], b[32];
	uint64_t la, lb;
	assert_int_equal(sparse_sha256_fd(in, FILE_SIZE, buf, BUFSZ, a, &la),
			 0);
	assert_int_equal(sparse_sha256_fd(out, FILE_SIZE, buf, BUFSZ, b, &lb),
			 0);
	assert_memory_equal(a, b, 32);
	char c = 0;
	assert_int_equal(pread(out, &c, 1, (off_t)data_at[1]), 1);
	assert_int_equal(c, 'x');
	assert_int_equal(pread(out, &c, 1, (off_t)data_at[1] + 1), 1);
	assert_int_equal(c, 0);
	close(in);
	close(out);
	fx_tree_remove(root);
}

static void test_sparse_copy_fd_of_a_shorter_file_is_eio(void **state)
{
	(void)state;
	_cleanup_free_ char *root = fx_tree_new();
	int in = make_file(root, "f", true);
	_cleanup_free_ char *cp = fx_path(root, "copy");
	int out = open(cp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(out >= 0);
	_cleanup_free_ char *buf = malloc(BUFSZ);
	assert_non_null(buf);
	assert_int_equal(sparse_copy_fd(in, out, FILE_SIZE + 1, buf, BUFSZ),
			 -EIO);
	close(in);
	close(out);
	fx_tree_remove(root);
}

static void test_sparse_all_zero_looks_at_every_byte(void **state)
{
	(void)state;
	unsigned char b[4096] = {0};
	assert_true(sparse_all_zero(b, 0));
	assert_true(sparse_all_zero(b, sizeof b));
	b[sizeof b - 1] = 1;
	assert_false(sparse_all_zero(b, sizeof b));
	assert_true(sparse_all_zero(b, sizeof b - 1));
	b[0] = 1;
	assert_false(sparse_all_zero(b, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sparse_next_covers_the_file_with_its_holes),
	    cmocka_unit_test(test_sparse_next_walks_no_further_than_size),
	    cmocka_unit_test(test_sparse_sha256_fd_is_the_digest_of_the_bytes),
	    cmocka_unit_test(
		test_sparse_sha256_fd_reports_a_file_shorter_than_asked),
	    cmocka_unit_test(test_sparse_copy_fd_keeps_the_bytes_and_the_holes),
	    cmocka_unit_test(test_sparse_copy_fd_of_a_shorter_file_is_eio),
	    cmocka_unit_test(test_sparse_all_zero_looks_at_every_byte),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
