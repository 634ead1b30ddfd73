/* tests/fuzz: the archive importer target (layers/import.c). The input is
 * written as a file and imported twice per run:
 *   - as a layer, with import_layer() into a real store (what `wsbox layers
 *     import` does), and
 *   - as a rootfs, with import_extract(IMPORT_ROOTFS) into an empty
 *     directory, reading from an fd (what `wsbox rootfs import` does).
 * Everything lives in one scratch directory per process, laid out so that
 * an escape by `..`, an absolute name relative to the cwd or a followed
 * symlink shows up as an unexpected name:
 *   SCRATCH/cwd/                  the harness's cwd (must stay empty)
 *   SCRATCH/d1/d2/in.tar          the input
 *   SCRATCH/d1/d2/store/          the store (layers/ emptied after each run)
 *   SCRATCH/d1/d2/rootfs/         rootfs extraction (removed after each run)
 * Checks after every run, accepted or not: nothing new at any of those
 * levels, the store's staging/ empty (a refused import leaves nothing), the
 * rootfs tree holds only files, dirs and symlinks without setuid/setgid.
 * For an accepted layer: its manifest loads and is canonical, no path
 * component is an unconverted `.wh.` name, and export + re-import gives the
 * same digest. The byte budget ($WSBOX_IMPORT_MAX_BYTES) is set to 8 MiB so
 * decompression bombs are refused quickly. */
#ifndef WSBOX_TESTS_FUZZ_TARGET_ARCHIVE_H
#define WSBOX_TESTS_FUZZ_TARGET_ARCHIVE_H

#include "layers/export.h"
#include "layers/import.h"
#include "layers/layer.h"
#include "layers/store.h"
#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/target_manifest.h"

#define FUZZ_ARCHIVE_BUDGET "8388608"

struct fuzz_archive_ctx {
	char *dir;	/* SCRATCH */
	char *work;	/* SCRATCH/d1/d2 */
	char *input;	/* work/in.tar */
	char *exported; /* work/out.tar (exists only during a run) */
	int workfd;
	struct store store;
	char *store_top; /* listing of the fresh store */
};

static inline int fuzz_archive_init(struct fuzz_archive_ctx *c)
{
	*c = (struct fuzz_archive_ctx){.workfd = -1, .store = {.fd = -1}};
	setenv("WSBOX_IMPORT_MAX_BYTES", FUZZ_ARCHIVE_BUDGET, 1);
	c->dir = fuzz_mkdtemp("archive");
	if (!c->dir)
		return -1;
	c->work = xasprintf("%s/d1/d2", c->dir);
	c->input = xasprintf("%s/in.tar", c->work);
	c->exported = xasprintf("%s/out.tar", c->work);
	_cleanup_free_ char *cwd = xasprintf("%s/cwd", c->dir);
	struct wsbox_error err = {0};
	if (mkdir_p(cwd, 0700, &err) < 0 || mkdir_p(c->work, 0700, &err) < 0) {
		fprintf(stderr, "fuzz: %s\n", err.msg);
		return -1;
	}
	c->workfd = open(c->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->workfd < 0)
		return -1;
	_cleanup_free_ char *sp = xasprintf("%s/store", c->work);
	if (store_open(sp, true, &c->store, &err) < 0) {
		fprintf(stderr, "fuzz: %s\n", err.msg);
		return -1;
	}
	c->store_top = fuzz_list_dir(c->workfd, "store");
	return c->store_top ? 0 : -1;
}

static inline void fuzz_archive_fini(struct fuzz_archive_ctx *c)
{
	struct wsbox_error err;
	if (c->store.fd >= 0)
		store_close(&c->store);
	if (c->workfd >= 0)
		close(c->workfd);
	if (c->dir)
		(void)rm_rf_at(AT_FDCWD, c->dir, &err);
	free(c->dir);
	free(c->work);
	free(c->input);
	free(c->exported);
	free(c->store_top);
	*c = (struct fuzz_archive_ctx){.workfd = -1, .store = {.fd = -1}};
}

/* Remove every entry of dirfd/path (not path itself). */
static inline int fuzz_empty_dir(int dirfd, const char *path)
{
	_cleanup_free_ char *names = fuzz_list_dir(dirfd, path);
	if (!names)
		return fuzz_bug("cannot list `%s`", path);
	_cleanup_close_ int fd =
	    openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fuzz_bug("open `%s`: %s", path, strerror(errno));
	char *save = NULL;
	for (char *n = strtok_r(names, " ", &save); n;
	     n = strtok_r(NULL, " ", &save)) {
		struct wsbox_error err = {0};
		if (rm_rf_at(fd, n, &err) < 0)
			return fuzz_bug("cleanup `%s/%s`: %s", path, n,
					err.msg);
	}
	return 0;
}

/* A rootfs tree may only hold dirs, regular files and symlinks, none
 * setuid/setgid. Walks with O_NOFOLLOW below a directory fd. Each dir is
 * given u+rwx before it is read (after its mode was checked): as a plain
 * user, an archive's 0000 or 0644 dir would otherwise hide its entries. */
static inline int fuzz_check_rootfs_tree(int dfd, unsigned depth)
{
	if (depth > 4096)
		return fuzz_bug("rootfs tree deeper than 4096");
	struct stat self;
	if (fstat(dfd, &self) < 0)
		return fuzz_bug("fstat: %s", strerror(errno));
	if ((self.st_mode & S_IRWXU) != S_IRWXU &&
	    fchmod(dfd, (self.st_mode & 07777) | S_IRWXU) < 0)
		return fuzz_bug("fchmod: %s", strerror(errno));
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return fuzz_bug("dup: %s", strerror(errno));
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return fuzz_bug("fdopendir: %s", strerror(errno));
	}
	int r = 0;
	struct dirent *de;
	while (r == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = fuzz_bug("stat: %s", strerror(errno));
			break;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) &&
		    !S_ISLNK(st.st_mode))
			r = fuzz_bug("rootfs holds `%s` of type 0%o",
				     de->d_name, st.st_mode & S_IFMT);
		else if (!S_ISLNK(st.st_mode) &&
			 (st.st_mode & (S_ISUID | S_ISGID)))
			r = fuzz_bug("rootfs `%s` kept setuid/setgid",
				     de->d_name);
		else if (S_ISDIR(st.st_mode)) {
			/* Readable before it is opened (see above). */
			if ((st.st_mode & S_IRWXU) != S_IRWXU &&
			    fchmodat(dfd, de->d_name,
				     (st.st_mode & 07777) | S_IRWXU, 0) < 0) {
				r = fuzz_bug("chmod dir `%s`: %s", de->d_name,
					     strerror(errno));
				break;
			}
			int sub = openat(dfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);
			if (sub < 0)
				r = fuzz_bug("open dir `%s`: %s", de->d_name,
					     strerror(errno));
			else {
				r = fuzz_check_rootfs_tree(sub, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
	return r;
}

static inline int fuzz_archive_rootfs(struct fuzz_archive_ctx *c)
{
	if (mkdirat(c->workfd, "rootfs", 0700) < 0)
		return fuzz_bug("mkdir rootfs: %s", strerror(errno));
	_cleanup_close_ int root =
	    openat(c->workfd, "rootfs",
		   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int in = open(c->input, O_RDONLY | O_CLOEXEC);
	if (root < 0 || in < 0)
		return fuzz_bug("open rootfs/input: %s", strerror(errno));
	struct import_stats st = {0};
	struct wsbox_error err = {0};
	int r = import_extract(root, c->input, in, IMPORT_ROOTFS, &st, &err);
	if (r < 0 && !err.msg[0])
		return fuzz_bug("rootfs refusal without a message");
	if (st.bytes > strtoull(FUZZ_ARCHIVE_BUDGET, NULL, 10))
		return fuzz_bug("rootfs wrote %llu bytes, over the budget",
				(unsigned long long)st.bytes);
	/* A partial tree after a refusal must be as harmless as a whole one. */
	int ret = fuzz_check_rootfs_tree(root, 0);
	struct wsbox_error e2 = {0};
	if (rm_rf_at(c->workfd, "rootfs", &e2) < 0 && ret == 0)
		ret = fuzz_bug("cleanup rootfs: %s", e2.msg);
	return ret;
}

/* The published layer: canonical manifest, whiteouts converted, and the
 * export/re-import round trip gives the same identity. */
static inline int fuzz_archive_check_layer(struct fuzz_archive_ctx *c,
					   const char *digest)
{
	struct wsbox_error err = {0};
	if (!layer_exists(&c->store, digest))
		return fuzz_bug("imported layer %s not in the store", digest);
	struct manifest m = {0};
	if (layer_load_manifest(&c->store, digest, &m, &err) < 0)
		return fuzz_bug("imported layer's manifest: %s", err.msg);
	int r = 0;
	for (size_t i = 0; r == 0 && i < m.n; i++) {
		const char *p = m.e[i].path;
		if (!strncmp(p, ".wh.", 4) || strstr(p, "/.wh."))
			r = fuzz_bug("layer keeps a `.wh.` name: %s", p);
	}
	if (r == 0) {
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		if (manifest_serialize(&m, &text, &len, &err) < 0)
			r = fuzz_bug("manifest serialize: %s", err.msg);
		else
			r = fuzz_manifest_check(&m, (const uint8_t *)text, len);
	}
	manifest_free(&m);
	if (r < 0)
		return r;

	if (export_layer(&c->store, digest, c->exported, &err) < 0)
		return fuzz_bug("export of an imported layer: %s", err.msg);
	char again[DIGEST_STRLEN] = "";
	r = import_layer(&c->store, c->exported, c->store.owner_uid,
			 c->store.owner_gid, again, &err);
	unlink(c->exported);
	if (r < 0)
		return fuzz_bug("re-import of the export refused: %s", err.msg);
	if (strcmp(again, digest) != 0)
		return fuzz_bug("export + re-import: %s became %s", digest,
				again);
	return 0;
}

static inline int fuzz_archive_one(struct fuzz_archive_ctx *c,
				   const uint8_t *data, size_t size)
{
	if (fuzz_write_file(c->input, data, size) < 0)
		return fuzz_bug("write `%s`: %s", c->input, strerror(errno));

	struct wsbox_error err = {0};
	char digest[DIGEST_STRLEN] = "";
	int ret = FUZZ_REFUSED;
	if (import_layer(&c->store, c->input, c->store.owner_uid,
			 c->store.owner_gid, digest, &err) == 0) {
		ret = FUZZ_ACCEPTED;
		if (fuzz_archive_check_layer(c, digest) < 0)
			ret = FUZZ_BUG;
	} else if (!err.msg[0] || strchr(err.msg, '\n')) {
		ret = fuzz_bug("layer refusal without a one-line message");
	} else {
		fuzz_refused("archive", err.msg);
	}
	if (ret != FUZZ_BUG && fuzz_archive_rootfs(c) < 0)
		ret = FUZZ_BUG;

	/* Nothing may have appeared anywhere else. */
	if (fuzz_expect_dir(AT_FDCWD, c->dir, "cwd d1") < 0)
		ret = FUZZ_BUG;
	_cleanup_free_ char *cwd = xasprintf("%s/cwd", c->dir);
	_cleanup_free_ char *d1 = xasprintf("%s/d1", c->dir);
	if (fuzz_expect_dir(AT_FDCWD, cwd, "") < 0 ||
	    fuzz_expect_dir(AT_FDCWD, d1, "d2") < 0 ||
	    fuzz_expect_dir(c->workfd, ".", "in.tar store") < 0 ||
	    fuzz_expect_dir(c->workfd, "store", c->store_top) < 0 ||
	    fuzz_expect_dir(c->workfd, "store/staging", "") < 0)
		ret = FUZZ_BUG;
	if (fuzz_empty_dir(c->workfd, "store/layers") < 0)
		ret = FUZZ_BUG;
	return ret;
}

#endif
