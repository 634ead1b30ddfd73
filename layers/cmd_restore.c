/* `wsbox restore --run R --task T --to DIR [--with-self] [--force]`:
 * materialize the workspace a task saw (its lowers, plus its own layer with
 * --with-self) into a host directory, applying the layers bottom up with
 * overlay's rules. Files are copied, never hardlinked: DIR is writable by
 * its user and must not alias the store. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/archive.h"
#include "layers/layer.h"
#include "layers/manifest.h"
#include "layers/record.h"
#include "layers/store.h"
#include "sandbox/commands.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/error.h"
#include "sandbox/util/fs.h"

#define COPY_CHUNK (1u << 20)

struct restore_opts {
	const char *store, *run, *task, *to;
	bool with_self, force;
};

/* Directory modes are applied at the end (deepest first, the topmost layer
 * winning) so that every directory stays writable while layers go in. */
struct dir_mode {
	char *path;
	mode_t mode;
	size_t seq, depth;
};

struct restorer {
	int dir; /* the target DIR */
	struct dir_mode *dirs;
	size_t n_dirs, cap_dirs;
	char *buf;
	struct wsbox_error *err;
};

static int usage(FILE *f, int status)
{
	fputs("usage: wsbox restore [--store DIR] --run RUN --task NAME --to "
	      "DIR [--with-self] [--force]\n"
	      "  --with-self  include the task's own layer on top\n"
	      "  --force      replace the content of a non-empty DIR\n",
	      f);
	return status;
}

static void note_dir(struct restorer *rs, const char *path, mode_t mode)
{
	if (rs->n_dirs == rs->cap_dirs) {
		rs->cap_dirs = rs->cap_dirs ? rs->cap_dirs * 2 : 64;
		rs->dirs =
		    xreallocarray(rs->dirs, rs->cap_dirs, sizeof *rs->dirs);
	}
	size_t depth = 0;
	for (const char *p = path; *p; p++)
		depth += *p == '/';
	rs->dirs[rs->n_dirs] = (struct dir_mode){.path = xstrdup(path),
						 .mode = mode,
						 .seq = rs->n_dirs,
						 .depth = depth};
	rs->n_dirs++;
}

static int dir_mode_cmp(const void *pa, const void *pb)
{
	const struct dir_mode *a = pa, *b = pb;
	if (a->depth != b->depth)
		return a->depth > b->depth ? -1 : 1;
	int c = strcmp(a->path, b->path);
	if (c)
		return c;
	return a->seq > b->seq ? -1 : 1;
}

static int apply_dir_modes(struct restorer *rs)
{
	qsort(rs->dirs, rs->n_dirs, sizeof *rs->dirs, dir_mode_cmp);
	for (size_t i = 0; i < rs->n_dirs; i++) {
		const struct dir_mode *d = &rs->dirs[i];
		if (i > 0 && !strcmp(d->path, rs->dirs[i - 1].path))
			continue;
		int fd = archive_open_beneath(rs->dir, d->path,
					      O_RDONLY | O_DIRECTORY);
		/* Gone or replaced by a later layer: nothing to apply. */
		if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
			continue;
		if (fd < 0)
			return wsbox_fail(rs->err, -fd, "open `%s`", d->path);
		int r = fchmod(fd, d->mode) < 0 ? -errno : 0;
		close(fd);
		if (r < 0)
			return wsbox_fail(rs->err, -r, "chmod `%s`", d->path);
	}
	return 0;
}

static int copy_data(int in, int out, uint64_t size, char *buf)
{
	bool cfr = true;
	while (size > 0) {
		size_t want = size < COPY_CHUNK ? (size_t)size : COPY_CHUNK;
		ssize_t n;
		if (cfr) {
			/* Same filesystem: the kernel copies (or reflinks)
			 * without bouncing through user space. */
			n = copy_file_range(in, NULL, out, NULL, want, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL ||
				      errno == ENOSYS || errno == EOPNOTSUPP ||
				      errno == EBADF)) {
				cfr = false;
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
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the layer file shrank */
		size -= (uint64_t)n;
	}
	return 0;
}

/* Apply one manifest entry of layer `tree` onto rs->dir. */
static int apply_entry(struct restorer *rs, int tree, const struct mf_entry *e)
{
	const char *slash = strrchr(e->path, '/');
	const char *leaf = slash ? slash + 1 : e->path;
	_cleanup_free_ char *parent =
	    slash ? xasprintf("%.*s", (int)(slash - e->path), e->path) : NULL;
	_cleanup_close_ int pfd =
	    parent ? archive_open_beneath(rs->dir, parent, O_PATH | O_DIRECTORY)
		   : fcntl(rs->dir, F_DUPFD_CLOEXEC, 3);
	if (pfd < 0)
		return wsbox_fail(rs->err, parent ? -pfd : errno,
				  "open parent of `%s`", e->path);

	struct stat st;
	bool exists = fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (!exists && errno != ENOENT)
		return wsbox_fail(rs->err, errno, "stat `%s`", e->path);
	bool keep_dir = exists && S_ISDIR(st.st_mode) && e->type == MF_DIR;
	/* Overlay: a whiteout hides, an opaque dir replaces, any non-dir
	 * replaces; only a plain dir over a dir merges. */
	if (exists && !keep_dir) {
		int r = rm_rf_at(pfd, leaf, rs->err);
		if (r < 0)
			return r;
	}
	switch (e->type) {
	case MF_WHITEOUT:
		return 0;
	case MF_DIR:
	case MF_OPAQUE_DIR:
		if (!keep_dir && mkdirat(pfd, leaf, 0700) < 0)
			return wsbox_fail(rs->err, errno, "mkdir `%s`",
					  e->path);
		note_dir(rs, e->path, e->mode);
		return 0;
	case MF_SYMLINK:
		if (symlinkat(e->target, pfd, leaf) < 0)
			return wsbox_fail(rs->err, errno, "symlink `%s`",
					  e->path);
		return 0;
	case MF_FILE: {
		_cleanup_close_ int in =
		    archive_open_beneath(tree, e->path, O_RDONLY);
		if (in < 0)
			return wsbox_fail(rs->err, -in, "layer file `%s`",
					  e->path);
		_cleanup_close_ int out = openat(
		    pfd, leaf,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			return wsbox_fail(rs->err, errno, "create `%s`",
					  e->path);
		int r = copy_data(in, out, e->size, rs->buf);
		if (r < 0)
			return wsbox_fail(rs->err, -r, "copy `%s`", e->path);
		if (fchmod(out, e->mode) < 0)
			return wsbox_fail(rs->err, errno, "chmod `%s`",
					  e->path);
		return 0;
	}
	}
	return wsbox_fail(rs->err, EINVAL, "`%s`: unknown type", e->path);
}

static int apply_layer(struct restorer *rs, const struct store *s,
		       const char *digest)
{
	struct manifest m = {0};
	int r = layer_load_manifest(s, digest, &m, rs->err);
	if (r < 0)
		return r;
	_cleanup_free_ char *rel =
	    xasprintf("layers/%s/tree", layer_digest_hex(digest));
	_cleanup_close_ int tree =
	    archive_open_beneath(s->fd, rel, O_PATH | O_DIRECTORY);
	if (tree < 0)
		r = wsbox_fail(rs->err, -tree, "layer %s: tree", digest);
	for (size_t i = 0; r == 0 && i < m.n; i++) {
		r = apply_entry(rs, tree, &m.e[i]);
		if (r < 0)
			wsbox_error_prefix(rs->err, "layer %s", digest);
	}
	manifest_free(&m);
	return r;
}

/* 1 when the directory has any entry, 0 when empty, -errno. With `clear`,
 * remove every entry instead (symlink-safe). */
static int dir_entries(int dirfd, bool clear, struct wsbox_error *err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "open target");
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return wsbox_fail(err, errno, "open target");
	}
	struct dirent *de;
	int found = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!clear)
			return 1;
		/* Removing while reading: rewind so nothing is missed. */
		int r = rm_rf_at(dirfd, de->d_name, err);
		if (r < 0)
			return r;
		rewinddir(d);
		found = 1;
	}
	return found;
}

static int run_restore(const struct restore_opts *o, struct wsbox_error *err)
{
	_cleanup_free_ char *path = store_default_path(o->store);
	struct store s;
	int r = store_open(path, false, &s, err);
	if (r < 0)
		return r;
	struct task_record rec = {0};
	r = record_read(&s, o->run, o->task, &rec, err);
	if (r < 0) {
		store_close(&s);
		return r;
	}
	/* Check every layer before touching DIR. */
	for (size_t i = 0; r == 0 && i < rec.n_lowers; i++)
		if (!layer_exists(&s, rec.lowers[i]))
			r = wsbox_fail(err, ENOENT, "layer %s: missing",
				       rec.lowers[i]);
	if (r == 0 && o->with_self && rec.layer && !layer_exists(&s, rec.layer))
		r = wsbox_fail(err, ENOENT, "layer %s: missing", rec.layer);

	struct restorer rs = {.dir = -1, .err = err};
	if (r == 0)
		r = mkdir_p(o->to, 0755, err);
	if (r == 0) {
		rs.dir = open(o->to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rs.dir < 0)
			r = wsbox_fail(err, errno, "restore to `%s`", o->to);
	}
	if (r == 0) {
		r = dir_entries(rs.dir, false, err);
		if (r == 1 && !o->force)
			r = wsbox_fail(err, ENOTEMPTY,
				       "restore to `%s` (use --force to "
				       "replace its content)",
				       o->to);
		else if (r == 1)
			r = dir_entries(rs.dir, true, err);
		if (r > 0)
			r = 0;
	}
	if (r == 0) {
		rs.buf = malloc(COPY_CHUNK);
		if (!rs.buf)
			r = wsbox_fail(err, ENOMEM, "copy buffer");
	}
	/* lowers are topmost first: apply from the bottom up. */
	for (size_t i = rec.n_lowers; r == 0 && i > 0; i--)
		r = apply_layer(&rs, &s, rec.lowers[i - 1]);
	if (r == 0 && o->with_self && rec.layer)
		r = apply_layer(&rs, &s, rec.layer);
	if (r == 0)
		r = apply_dir_modes(&rs);
	if (r == 0 && syncfs(rs.dir) < 0)
		r = wsbox_fail(err, errno, "sync `%s`", o->to);
	for (size_t i = 0; i < rs.n_dirs; i++)
		free(rs.dirs[i].path);
	free(rs.dirs);
	free(rs.buf);
	if (rs.dir >= 0)
		close(rs.dir);
	record_free(&rec);
	store_close(&s);
	return r;
}

int cmd_restore(int argc, char **argv)
{
	struct restore_opts o = {0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = !strcmp(a, "--store")  ? &o.store
				    : !strcmp(a, "--run")  ? &o.run
				    : !strcmp(a, "--task") ? &o.task
				    : !strcmp(a, "--to")   ? &o.to
							   : NULL;
		if (slot && i + 1 < argc)
			*slot = argv[++i];
		else if (!strcmp(a, "--with-self"))
			o.with_self = true;
		else if (!strcmp(a, "--force"))
			o.force = true;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return usage(stdout, 0);
		else
			return usage(stderr, WSBOX_EXIT_FAILURE);
	}
	if (!o.run || !o.task || !o.to || !*o.to)
		return usage(stderr, WSBOX_EXIT_FAILURE);
	struct wsbox_error err = {0};
	if (!valid_name(o.run) || !valid_name(o.task)) {
		wsbox_fail(&err, EINVAL, "restore: invalid run or task name");
		wsbox_error_print(&err);
		return WSBOX_EXIT_FAILURE;
	}
	if (run_restore(&o, &err) < 0) {
		wsbox_error_print(&err);
		return err.status ? err.status : WSBOX_EXIT_FAILURE;
	}
	return 0;
}
