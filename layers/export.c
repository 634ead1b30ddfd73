/* layers/export.c: a published layer as a deterministic OCI layer tar (see
 * export.h). The input is our own store, checked against its manifest as
 * it is read; libarchive only writes the tar stream. */
#include "layers/export.h"

#include <errno.h>
#include <locale.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

/* Last: libarchive is loaded on first use (archive_dl.h). */
#include "layers/archive_dl.h"

#include "layers/layer.h"
#include "layers/oci_tar.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sparse.h"

#define COPY_CHUNK (1u << 20)

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

/* A file's data runs in the tar (GNU sparse 1.0 in pax, which GNU tar and
 * libarchive read): every whole, aligned TAR_HOLE_BLOCK of zeros is a
 * hole, neither written nor, where it is a hole on disk, read. The map
 * comes from the content, not from the file's layout on disk (a hole on
 * disk is zeros known without reading; a data block is read and checked),
 * so a layer exports the same bytes whatever store or filesystem holds it
 * and however the task wrote its zeros. A file without such a block
 * (every file under 1 MiB) is a plain entry. */
#define TAR_HOLE_BLOCK COPY_CHUNK

struct data_runs {
	struct sparse_extent *v;
	size_t n, cap;
};

static void runs_add(struct data_runs *d, uint64_t off, uint64_t len)
{
	if (d->n && d->v[d->n - 1].off + d->v[d->n - 1].len == off) {
		d->v[d->n - 1].len += len;
		return;
	}
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->v = xreallocarray(d->v, d->cap, sizeof *d->v);
	}
	d->v[d->n++] = (struct sparse_extent){.off = off, .len = len};
}

static ssize_t pread_full(int fd, char *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, buf + got, n - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* Is the block at off all zeros? Without a read when it lies in a hole
 * of the extent walk m (x: its current extent). 1, 0 or -errno. */
static int block_is_zero(int fd, struct sparse_map *m, struct sparse_extent *x,
			 uint64_t off, char *buf)
{
	while (x->off + x->len <= off) {
		int r = sparse_next(m, x);
		if (r <= 0)
			return r < 0 ? r : -EIO;
	}
	if (x->hole && x->off + x->len >= off + TAR_HOLE_BLOCK)
		return 1;
	ssize_t n = pread_full(fd, buf, TAR_HOLE_BLOCK, off);
	if (n < 0)
		return (int)n;
	if ((size_t)n < TAR_HOLE_BLOCK)
		return -EIO; /* shrank */
	return sparse_all_zero(buf, TAR_HOLE_BLOCK);
}

/* The data runs of fd's `size` bytes into d, and whether it has a hole
 * block at all (*sparse; else it is a plain entry). A file that is all
 * holes gets one empty run at its end, which is how the sparse map says
 * so. 0 or -errno. */
static int map_runs(int fd, uint64_t size, char *buf, struct data_runs *d,
		    bool *sparse)
{
	struct sparse_map m;
	sparse_map_init(&m, fd, size);
	struct sparse_extent x = {0};
	*sparse = false;
	for (uint64_t off = 0; off < size; off += TAR_HOLE_BLOCK) {
		uint64_t n = size - off;
		int zero = 0;
		if (n >= TAR_HOLE_BLOCK) {
			n = TAR_HOLE_BLOCK;
			zero = block_is_zero(fd, &m, &x, off, buf);
			if (zero < 0)
				return zero;
		}
		if (zero)
			*sparse = true;
		else
			runs_add(d, off, n);
	}
	if (*sparse && d->n == 0)
		runs_add(d, size, 0);
	return 0;
}

static int write_header(struct archive *a, const char *path, mode_t type,
			mode_t perm, int64_t size, const char *target,
			const struct data_runs *runs, struct wsbox_error *err)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return wsbox_fail(err, ENOMEM, "archive entry");
	archive_entry_copy_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_size(e, size);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, 0, 0);
	if (target)
		archive_entry_copy_symlink(e, target);
	for (size_t i = 0; runs && i < runs->n; i++)
		archive_entry_sparse_add_entry(e, (la_int64_t)runs->v[i].off,
					       (la_int64_t)runs->v[i].len);
	int r = archive_write_header(a, e);
	archive_entry_free(e);
	if (r < ARCHIVE_OK) {
		_cleanup_free_ char *esc = manifest_escape(path);
		return wsbox_fail(err, 0, "write `%s`: %s", esc,
				  archive_error_string(a));
	}
	return 0;
}

/* What a hole reads as, for archive_write_data, which skips the holes of
 * the sparse map without reading them (bss: never written). */
static char hole_zeros[COPY_CHUNK];

/* n bytes at off of the file's logical stream: zeros for a hole, else
 * read from fd. */
static int write_span(struct archive *a, int fd, uint64_t off, uint64_t n,
		      bool hole, char *buf, const char *esc,
		      struct wsbox_error *err)
{
	while (n > 0) {
		size_t want = n < COPY_CHUNK ? (size_t)n : COPY_CHUNK;
		const char *p = hole_zeros;
		if (!hole) {
			ssize_t got = pread_full(fd, buf, want, off);
			if (got < 0)
				return wsbox_fail(err, (int)-got, "read `%s`",
						  esc);
			if ((size_t)got < want)
				return wsbox_fail(
				    err, EIO, "read `%s`: file shrank", esc);
			p = buf;
		}
		if (archive_write_data(a, p, want) != (la_ssize_t)want)
			return wsbox_fail(err, 0, "write `%s`: %s", esc,
					  archive_error_string(a));
		off += want;
		n -= want;
	}
	return 0;
}

static void runs_free(struct data_runs *d)
{
	free(d->v);
}

static int write_file(struct archive *a, int tree, const struct mf_entry *m,
		      char *buf, struct wsbox_error *err)
{
	_cleanup_free_ char *esc = manifest_escape(m->path);
	_cleanup_close_ int fd = open_beneath(tree, m->path, O_RDONLY);
	if (fd < 0)
		return wsbox_fail(err, -fd, "layer file `%s`", esc);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return wsbox_fail(err, errno, "layer file `%s`", esc);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != m->size)
		return wsbox_fail(err, EIO,
				  "layer file `%s`: does not match its "
				  "manifest (run `wsbox layers verify`)",
				  esc);
	_cleanup_(runs_free) struct data_runs runs = {0};
	bool sparse;
	int r = map_runs(fd, m->size, buf, &runs, &sparse);
	if (r < 0)
		return wsbox_fail(err, -r, "read `%s`", esc);
	r = write_header(a, m->path, AE_IFREG, m->mode, (int64_t)m->size, NULL,
			 sparse ? &runs : NULL, err);
	if (r < 0)
		return r;
	if (!sparse)
		return write_span(a, fd, 0, m->size, false, buf, esc, err);
	/* The whole logical stream, holes included: libarchive pads what
	 * it was not given with zeros, holes too. */
	uint64_t pos = 0;
	for (size_t i = 0; r == 0 && i <= runs.n; i++) {
		uint64_t at = i < runs.n ? runs.v[i].off : m->size;
		r = write_span(a, fd, pos, at - pos, true, buf, esc, err);
		if (r == 0 && i < runs.n)
			r = write_span(a, fd, at, runs.v[i].len, false, buf,
				       esc, err);
		pos = i < runs.n ? at + runs.v[i].len : at;
	}
	return r;
}

static int write_entries(struct archive *a, int tree, const struct manifest *m,
			 struct wsbox_error *err)
{
	_cleanup_free_ char *buf = malloc(COPY_CHUNK);
	if (!buf)
		return wsbox_fail(err, ENOMEM, "export buffer");
	for (size_t i = 0; i < m->n; i++) {
		const struct mf_entry *e = &m->e[i];
		const char *leaf = oci_tar_last_component(e->path);
		int r;
		/* Capture refuses the same (one rule), so this is a layer
		 * published before it did. */
		const char *why = oci_tar_refusal(e->path);
		if (why) {
			_cleanup_free_ char *esc = manifest_escape(e->path);
			return wsbox_fail_logic(err, EINVAL, "`%s`: %s", esc,
						why);
		}
		switch (e->type) {
		case MF_FILE:
			r = write_file(a, tree, e, buf, err);
			break;
		case MF_DIR:
		case MF_OPAQUE_DIR:
			r = write_header(a, e->path, AE_IFDIR, e->mode, 0, NULL,
					 NULL, err);
			if (r == 0 && e->type == MF_OPAQUE_DIR) {
				_cleanup_free_ char *opq =
				    xasprintf("%s/" OCI_WH_OPAQUE, e->path);
				r = write_header(a, opq, AE_IFREG, 0, 0, NULL,
						 NULL, err);
			}
			break;
		case MF_SYMLINK:
			r = write_header(a, e->path, AE_IFLNK, 0777, 0,
					 e->target, NULL, err);
			break;
		case MF_WHITEOUT: {
			size_t dir = (size_t)(leaf - e->path);
			_cleanup_free_ char *wh = xasprintf(
			    "%.*s" OCI_WH_PREFIX "%s", (int)dir, e->path, leaf);
			r = write_header(a, wh, AE_IFREG, 0, 0, NULL, NULL,
					 err);
			break;
		}
		default:
			r = wsbox_fail(err, EINVAL, "unknown manifest type");
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Compression from the file name, pax format. Layer names are bytes
 * (manifest.h), not necessarily UTF-8: unless they all are (and the writer
 * runs in a UTF-8 locale) the pax writer gets hdrcharset=BINARY, since a
 * name needing a `path` record would otherwise fail to convert. Plain pax
 * headers let GNU tar read the export without a warning per entry. */
static int writer_setup(struct archive *a, const char *file, bool utf8)
{
	int r = ARCHIVE_OK;
	if (ends_with(file, ".gz") || ends_with(file, ".tgz")) {
		r = archive_write_add_filter_gzip(a);
		/* No timestamp or name in the gzip header: same layer, same
		 * bytes. Older libarchives lack the option (warning only). */
		if (r == ARCHIVE_OK)
			archive_write_set_filter_option(a, "gzip", "timestamp",
							NULL);
	} else if (ends_with(file, ".zst")) {
		r = archive_write_add_filter_zstd(a);
	}
	if (r != ARCHIVE_OK)
		return r;
	r = archive_write_set_format_pax_restricted(a);
	if (r != ARCHIVE_OK || utf8)
		return r;
	return archive_write_set_format_option(a, "pax", "hdrcharset",
					       "BINARY");
}

int export_layer(const struct store *s, const char *digest, const char *file,
		 struct wsbox_error *err)
{
	if (archive_dl_load(err) < 0)
		return -ENOENT;
	struct manifest m = {0};
	int r = layer_load_manifest(s, digest, &m, err);
	if (r < 0)
		return r;
	_cleanup_close_ int tree = layer_open_tree(s, digest);
	if (tree < 0) {
		manifest_free(&m);
		return wsbox_fail(err, -tree, "layer %s: tree", digest);
	}
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		manifest_free(&m);
		return wsbox_fail(err, errno, "export `%s`", file);
	}
	struct archive *a = archive_write_new();
	if (!a) {
		manifest_free(&m);
		close(fd);
		return wsbox_fail(err, ENOMEM, "archive");
	}
	/* libarchive converts names from the locale's charset: a UTF-8 one
	 * (this thread only) lets UTF-8 names through as they are. */
	bool utf8 = manifest_all_utf8(&m);
	locale_t u8 = utf8 ? newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0)
			   : (locale_t)0;
	locale_t prev = u8 ? uselocale(u8) : (locale_t)0;
	r = writer_setup(a, file, u8 != (locale_t)0);
	if (r == ARCHIVE_OK)
		r = archive_write_open_fd(a, fd);
	if (r != ARCHIVE_OK)
		r = wsbox_fail(err, 0, "export `%s`: %s", file,
			       archive_error_string(a));
	else
		r = write_entries(a, tree, &m, err);
	if (archive_write_close(a) != ARCHIVE_OK && r == 0)
		r = wsbox_fail(err, 0, "export `%s`: %s", file,
			       archive_error_string(a));
	archive_write_free(a);
	if (u8) {
		uselocale(prev);
		freelocale(u8);
	}
	if (r == 0 && fsync(fd) < 0 && errno != EINVAL)
		r = wsbox_fail(err, errno, "export `%s`", file);
	if (close(fd) < 0 && r == 0)
		r = wsbox_fail(err, errno, "export `%s`", file);
	if (r < 0) {
		wsbox_error_prefix(err, "export %s", digest);
		unlink(file);
	}
	manifest_free(&m);
	return r;
}
