/* `wsbox rootfs [--store DIR] import FILE --name NAME | ls`: import a tar
 * (e.g. `docker export`) as a named root filesystem and list them. The
 * import itself is layers/rootfs.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/rootfs.h"
#include "layers/store.h"
#include "sandbox/cli/args.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/usage.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/error.h"
#include "sandbox/util/fs.h"

static int usage(FILE *f, int status)
{
	fputs(
	    "usage: wsbox rootfs [--store DIR] import FILE.tar[.gz|.zst|.xz] "
	    "--name NAME\n"
	    "       wsbox rootfs [--store DIR] ls\n"
	    "Root filesystems for `wsbox exec --rootfs NAME`, imported from a "
	    "tar\n(e.g. `docker export`) into the store.\n"
	    "\n"
	    "  import FILE --name NAME  import FILE as NAME; print NAME and "
	    "its digest\n"
	    "  ls                       list imported root filesystems and "
	    "their digests\n"
	    "  --store DIR              the store (default: $WSBOX_STORE, "
	    "else\n"
	    "                           ~/.local/share/wsbox; root: "
	    "/var/lib/wsbox)\n"
	    "  -h, --help               print this help and exit\n"
	    "\nexit status: 0 done; 125 failed or refused\n",
	    f);
	return status;
}

/* One line per imported rootfs, sorted: `NAME sha256:<hex>`, or `NAME -`
 * when its digest is missing. Only real directories with valid names
 * count (not .digest files, nor anything else left in the directory). */
static int do_ls(const struct store *s)
{
	struct wsbox_error err = {0};
	const char *rel = store_rel(STORE_ROOTFS);
	int fd =
	    openat(s->fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) /* a store from before rootfs/ */
		return 0;
	if (fd < 0) {
		wsbox_fail(&err, errno, "open `%s/%s`", s->path, rel);
		return wsbox_error_exit(&err);
	}
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		wsbox_fail(&err, errno, "open `%s/%s`", s->path, rel);
		return wsbox_error_exit(&err);
	}
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		struct stat st;
		if (valid_name(de->d_name) &&
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(st.st_mode)) {
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				v = xreallocarray(v, cap, sizeof *v);
			}
			v[n++] = xstrdup(de->d_name);
		}
		errno = 0;
	}
	int status = 0;
	if (errno) {
		wsbox_fail(&err, errno, "read `%s/%s`", s->path, rel);
		status = wsbox_error_exit(&err);
	}
	if (n)
		qsort(v, n, sizeof *v, strcmp_ptr);
	for (size_t i = 0; i < n && status == 0; i++) {
		char *dg = NULL;
		struct wsbox_error e2 = {0};
		rootfs_digest(s, v[i], &dg, &e2);
		printf("%s %s\n", v[i], dg ? dg : "-");
		free(dg);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	if (status == 0 && fflush(stdout) != 0)
		status = WSBOX_EXIT_FAILURE;
	return status;
}

int cmd_rootfs(int argc, char **argv)
{
	const char *name = NULL, *pos[3];
	const struct arg_opt opts[] = {{"--name", &name, NULL}};
	struct args a = {.verb = "rootfs",
			 .opts = opts,
			 .n_opts = ARRAY_SIZE(opts),
			 .pos = pos,
			 .max_pos = ARRAY_SIZE(pos)};
	int pr = args_parse(&a, argc, argv);
	if (pr == ARGS_HELP)
		return usage(stdout, 0);
	if (pr < 0)
		return WSBOX_EXIT_FAILURE;
	size_t n = a.n_pos;
	if (n == 0)
		return usage_refuse("rootfs", "want import FILE --name NAME, "
					      "or ls");
	bool is_import = !strcmp(pos[0], "import");
	if (!is_import && strcmp(pos[0], "ls"))
		return usage_refuse("rootfs", "unknown subcommand `%s`",
				    pos[0]);
	if (is_import && (n != 2 || !name))
		return usage_refuse("rootfs", "import wants FILE and "
					      "--name NAME");
	if (!is_import && (n != 1 || name))
		return usage_refuse("rootfs", "ls takes no argument");

	struct wsbox_error err = {0};
	_cleanup_free_ char *path = store_default_path(a.store);
	struct store s;
	/* Only import adds to the store; ls never creates one. */
	if (store_open(path, is_import, &s, &err) < 0)
		return wsbox_error_exit(&err);
	int status;
	if (!is_import) {
		status = do_ls(&s);
	} else if (rootfs_import(&s, pos[1], name, &err) < 0) {
		status = wsbox_error_exit(&err);
	} else {
		char *dg = NULL;
		if (rootfs_digest(&s, name, &dg, &err) < 0) {
			status = wsbox_error_exit(&err);
		} else {
			printf("%s %s\n", name, dg);
			status = fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
		}
		free(dg);
	}
	store_close(&s);
	return status;
}
