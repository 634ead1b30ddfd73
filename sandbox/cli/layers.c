/* `wsbox layers ls | show DIGEST | verify [DIGEST...] | export DIGEST -o FILE
 * | import FILE`: inspect, check and move the store's layers. Owns the
 * read-only verification of a layer tree against its manifest; the tar
 * format lives in layers/export.c and layers/import.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layers/export.h"
#include "layers/import.h"
#include "layers/layer.h"
#include "layers/layer_check.h"
#include "layers/manifest.h"
#include "layers/store.h"
#include "sandbox/cli/args.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/usage.h"
#include "sandbox/identity.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/error.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sparse.h"

#define HASH_CHUNK (1u << 20)
#define OPAQUE_XATTR "user.overlay.opaque"

static int usage(FILE *f, int status)
{
	fputs("usage: wsbox layers [--store DIR] ls\n"
	      "       wsbox layers [--store DIR] show DIGEST\n"
	      "       wsbox layers [--store DIR] verify [DIGEST...]\n"
	      "       wsbox layers [--store DIR] export DIGEST -o "
	      "FILE.tar[.gz|.zst]\n"
	      "       wsbox layers [--store DIR] import FILE\n"
	      "\n"
	      "  ls      every layer: digest, files, bytes\n"
	      "  show    a layer's manifest, one entry a line\n"
	      "  verify  compare layer trees with their manifests (all "
	      "without DIGEST)\n"
	      "  export  write a layer as a tar archive (OCI whiteouts)\n"
	      "  import  add a tar archive as a layer, print its digest\n"
	      "\n"
	      "DIGEST: sha256:<64 hex>, <64 hex>, or a unique prefix of at "
	      "least 8 hex digits\n"
	      "(what `wsbox runs show` prints). --store: else $WSBOX_STORE, "
	      "then the default store.\n",
	      f);
	return status;
}

/* The layer a DIGEST argument names (layer_resolve_digest), or an error
 * printed: 0 or WSBOX_EXIT_FAILURE. */
static int resolve(const struct store *s, const char *arg,
		   char digest[DIGEST_STRLEN])
{
	struct wsbox_error err = {0};
	if (layer_resolve_digest(s, arg, digest, &err) < 0)
		return wsbox_error_exit(&err);
	return 0;
}

/* Digests of every layer in the store, sorted (what `ls` and a bare
 * `verify` walk). Names that are not 64 hex digits are not layers. */
static int list_layers(const struct store *s, char ***out, size_t *n,
		       struct wsbox_error *err)
{
	int r = list_dir_at(s->fd, store_rel(STORE_LAYERS), layer_name_valid,
			    out, n, err);
	for (size_t i = 0; r == 0 && i < *n; i++) {
		char *dg = xasprintf("sha256:%s", (*out)[i]);
		free((*out)[i]);
		(*out)[i] = dg;
	}
	return r;
}

static int do_ls(const struct store *s)
{
	struct wsbox_error err = {0};
	char **v;
	size_t n;
	if (list_layers(s, &v, &n, &err) < 0)
		return wsbox_error_exit(&err);
	int status = 0;
	for (size_t i = 0; i < n; i++) {
		struct manifest m = {0};
		if (layer_load_manifest(s, v[i], &m, &err) < 0) {
			wsbox_error_print(&err);
			status = 1;
			continue;
		}
		size_t files = 0;
		for (size_t j = 0; j < m.n; j++)
			files += m.e[j].type == MF_FILE;
		printf("%s %zu files %llu bytes\n", v[i], files,
		       (unsigned long long)m.total_bytes);
		manifest_free(&m);
	}
	free_strings(v, n);
	return status;
}

static void hex32(const unsigned char *h, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int do_show(const struct store *s, const char *arg)
{
	char digest[DIGEST_STRLEN];
	int status = resolve(s, arg, digest);
	if (status)
		return status;
	struct wsbox_error err = {0};
	struct manifest m = {0};
	if (layer_load_manifest(s, digest, &m, &err) < 0)
		return wsbox_error_exit(&err);
	printf("layer %s: %zu entries, %llu bytes\n", digest, m.n,
	       (unsigned long long)m.total_bytes);
	for (size_t i = 0; i < m.n; i++) {
		const struct mf_entry *e = &m.e[i];
		_cleanup_free_ char *p = manifest_escape(e->path);
		switch (e->type) {
		case MF_FILE: {
			char h[65];
			hex32(e->sha256, h);
			printf("file     %04o %12llu %s sha256:%.12s\n",
			       (unsigned)e->mode, (unsigned long long)e->size,
			       p, h);
			break;
		}
		case MF_DIR:
		case MF_OPAQUE_DIR:
			printf("%s %04o %12s %s/\n",
			       e->type == MF_DIR ? "dir     " : "opaque  ",
			       (unsigned)e->mode, "", p);
			break;
		case MF_SYMLINK: {
			_cleanup_free_ char *t = manifest_escape(e->target);
			printf("symlink  %04o %12s %s -> %s\n",
			       (unsigned)e->mode, "", p, t);
			break;
		}
		case MF_WHITEOUT:
			printf("whiteout %4s %12s %s\n", "", "", p);
			break;
		}
	}
	manifest_free(&m);
	return fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
}

/* ---- verify: read-only comparison of a tree with its manifest ---- */

/* First difference between the on-disk entry and `e`, or NULL. *why is a
 * static string or a heap one in *owned. */
static const char *check_entry(int tree, const struct mf_entry *e, char *buf,
			       char **owned)
{
	_cleanup_close_ int fd = open_beneath(tree, e->path, O_PATH);
	if (fd < 0) {
		*owned = xasprintf("cannot open (%s)", strerror(-fd));
		return *owned;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		*owned = xasprintf("stat (%s)", strerror(errno));
		return *owned;
	}
	mode_t perm = st.st_mode & 07777;
	/* make_readonly (capture.h) may have dropped write bits after
	 * hashing; the manifest keeps the mode from before. */
	bool mode_ok = perm == e->mode || perm == (e->mode & ~(mode_t)0222);
	switch (e->type) {
	case MF_FILE: {
		if (!S_ISREG(st.st_mode))
			return "not a regular file";
		if (!mode_ok)
			goto bad_mode;
		if ((uint64_t)st.st_size != e->size)
			return "size differs";
		_cleanup_close_ int rfd =
		    open_beneath(tree, e->path, O_RDONLY | O_NONBLOCK);
		if (rfd < 0) {
			*owned = xasprintf("cannot read (%s)", strerror(-rfd));
			return *owned;
		}
		unsigned char h[32];
		uint64_t size;
		/* Holes hashed as zeros, never read (sparse.h). */
		int r =
		    sparse_sha256_fd(rfd, e->size, buf, HASH_CHUNK, h, &size);
		if (r < 0) {
			*owned = xasprintf("cannot read (%s)", strerror(-r));
			return *owned;
		}
		if (size != e->size || memcmp(h, e->sha256, 32))
			return "content differs";
		return NULL;
	}
	case MF_DIR:
	case MF_OPAQUE_DIR: {
		if (!S_ISDIR(st.st_mode))
			return "not a directory";
		if (!mode_ok)
			goto bad_mode;
		_cleanup_close_ int dfd =
		    open_beneath(tree, e->path, O_RDONLY | O_DIRECTORY);
		if (dfd < 0) {
			*owned = xasprintf("cannot open (%s)", strerror(-dfd));
			return *owned;
		}
		char v[8];
		ssize_t n = fgetxattr(dfd, OPAQUE_XATTR, v, sizeof v);
		bool opaque = n == 1 && v[0] == 'y';
		if (n < 0 && errno != ENODATA && errno != ENOTSUP) {
			*owned = xasprintf("read xattr (%s)", strerror(errno));
			return *owned;
		}
		if (e->type == MF_OPAQUE_DIR && !opaque)
			return "opaque marker missing";
		if (e->type == MF_DIR && n >= 0)
			return "unexpected opaque marker";
		return NULL;
	}
	case MF_SYMLINK: {
		if (!S_ISLNK(st.st_mode))
			return "not a symlink";
		char t[MANIFEST_TARGET_MAX + 2];
		ssize_t n = readlinkat(fd, "", t, sizeof t);
		if (n < 0) {
			*owned = xasprintf("readlink (%s)", strerror(errno));
			return *owned;
		}
		if ((size_t)n != strlen(e->target) ||
		    memcmp(t, e->target, (size_t)n))
			return "symlink target differs";
		return NULL;
	}
	case MF_WHITEOUT:
		if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(0, 0))
			return "not a whiteout (char 0:0)";
		return NULL;
	}
	return "unknown manifest type";
bad_mode:
	*owned = xasprintf("mode %04o, manifest says %04o", (unsigned)perm,
			   (unsigned)e->mode);
	return *owned;
}

/* Entries of directory `dir` (relative, "" = root) absent from the
 * manifest: the tree must hold nothing more than it says. */
static const char *check_extra(int tree, const char *dir,
			       const struct manifest *m, char **owned)
{
	int fd = *dir ? open_beneath(tree, dir, O_RDONLY | O_DIRECTORY)
		      : openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		*owned =
		    xasprintf("cannot open (%s)", strerror(*dir ? -fd : errno));
		return *owned;
	}
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		*owned = xasprintf("cannot list (%s)", strerror(errno));
		return *owned;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *p =
		    *dir ? xasprintf("%s/%s", dir, de->d_name)
			 : xstrdup(de->d_name);
		if (!manifest_find(m, p)) {
			_cleanup_free_ char *esc = manifest_escape(p);
			*owned = xasprintf("%s: not in the manifest", esc);
			return *owned;
		}
	}
	return NULL;
}

/* 0 ok, 1 mismatch (printed), never modifies the tree. */
static int verify_one(const struct store *s, const char *digest, char *buf)
{
	struct wsbox_error err = {0};
	struct manifest m = {0};
	if (layer_load_manifest(s, digest, &m, &err) < 0) {
		printf("FAIL %s: %s\n", digest, err.msg);
		return 1;
	}
	_cleanup_close_ int tree = layer_open_tree(s, digest);
	int bad = 0;
	char *owned = NULL;
	const char *why = NULL, *where = "";
	if (tree < 0) {
		owned = xasprintf("tree: %s", strerror(-tree));
		why = owned;
	}
	if (!why)
		why = check_extra(tree, "", &m, &owned);
	for (size_t i = 0; !why && i < m.n; i++) {
		where = m.e[i].path;
		why = check_entry(tree, &m.e[i], buf, &owned);
		if (!why &&
		    (m.e[i].type == MF_DIR || m.e[i].type == MF_OPAQUE_DIR))
			why = check_extra(tree, m.e[i].path, &m, &owned);
	}
	/* What hashing cannot see: a chmod, chown or utimes put back, a
	 * content written back as it was (layers/layer_check.h). */
	if (!why && layer_check(s, digest, &err) < 0) {
		printf("FAIL %s: %s\n", digest, err.msg);
		bad = 1;
	} else if (why) {
		_cleanup_free_ char *esc = manifest_escape(where);
		printf("FAIL %s: %s%s%s\n", digest, esc, *esc ? ": " : "", why);
		bad = 1;
	} else {
		printf("ok %s\n", digest);
	}
	free(owned);
	manifest_free(&m);
	return bad;
}

static int do_verify(const struct store *s, const char *const *digests,
		     size_t n)
{
	struct wsbox_error err = {0};
	char **all = NULL;
	size_t n_all = 0;
	if (n == 0) {
		if (list_layers(s, &all, &n_all, &err) < 0)
			return wsbox_error_exit(&err);
		digests = (const char *const *)all;
		n = n_all;
	}
	_cleanup_free_ char *buf = malloc(HASH_CHUNK);
	if (!buf) {
		free_strings(all, n_all);
		wsbox_fail(&err, ENOMEM, "verify buffer");
		return wsbox_error_exit(&err);
	}
	int status = 0;
	bool bad_arg = false;
	for (size_t i = 0; i < n; i++) {
		char digest[DIGEST_STRLEN];
		if (resolve(s, digests[i], digest)) {
			bad_arg = true;
			continue;
		}
		status |= verify_one(s, digest, buf);
	}
	free_strings(all, n_all);
	if (bad_arg)
		status = WSBOX_EXIT_FAILURE;
	if (fflush(stdout) != 0)
		return WSBOX_EXIT_FAILURE;
	return status;
}

int cmd_layers(int argc, char **argv)
{
	const char *out = NULL;
	_cleanup_free_ const char **pos =
	    xcalloc((size_t)argc + 1, sizeof *pos);
	const struct arg_opt opts[] = {{"-o", &out, NULL}};
	struct args a = {.verb = "layers",
			 .opts = opts,
			 .n_opts = ARRAY_SIZE(opts),
			 .pos = pos,
			 .max_pos = (size_t)argc};
	int pr = args_parse(&a, argc, argv);
	if (pr == ARGS_HELP)
		return usage(stdout, 0);
	if (pr < 0)
		return WSBOX_EXIT_FAILURE;
	size_t n = a.n_pos;
	if (n == 0)
		return usage_refuse("layers", "wants ls, show, verify, export "
					      "or import");
	const char *sub = pos[0];
	bool is_import = !strcmp(sub, "import");
	if ((!strcmp(sub, "ls") && n != 1) ||
	    (!strcmp(sub, "show") && n != 2) ||
	    (!strcmp(sub, "export") && (n != 2 || !out)) ||
	    (is_import && n != 2) || (out && strcmp(sub, "export")))
		return usage_refuse("layers", "wrong arguments for `%s`", sub);

	struct wsbox_error err = {0};
	_cleanup_free_ char *path = store_default_path(a.store);
	struct store s;
	/* Only import adds to the store; the rest never creates one. */
	if (store_open(path, is_import, &s, &err) < 0)
		return wsbox_error_exit(&err);
	int status;
	if (!strcmp(sub, "ls")) {
		status = do_ls(&s);
	} else if (!strcmp(sub, "show")) {
		status = do_show(&s, pos[1]);
	} else if (!strcmp(sub, "verify")) {
		status = do_verify(&s, pos + 1, n - 1);
	} else if (!strcmp(sub, "export")) {
		char digest[DIGEST_STRLEN];
		status = resolve(&s, pos[1], digest);
		if (status == 0 && export_layer(&s, digest, out, &err) < 0)
			status = wsbox_error_exit(&err);
	} else if (is_import) {
		char digest[DIGEST_STRLEN];
		/* Owned like a task's layer, so tasks can stand on it. */
		uid_t ou;
		gid_t og;
		identity_layer_owner(s.path, s.owner_uid, s.owner_gid, &ou,
				     &og);
		if (import_layer(&s, pos[1], ou, og, digest, &err) < 0) {
			status = wsbox_error_exit(&err);
		} else {
			printf("%s\n", digest);
			status = fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
		}
	} else {
		status = usage_refuse("layers", "unknown subcommand `%s`", sub);
	}
	store_close(&s);
	return status;
}
