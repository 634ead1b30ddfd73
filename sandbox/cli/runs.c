/* `wsbox runs ls | show RUN [--dot] | rm RUN`: the runs of the store and the
 * records of their tasks. Removing a run drops its records and logs only;
 * its layers stay until `wsbox gc` finds them unreferenced. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layers/layer.h"
#include "layers/record.h"
#include "layers/store.h"
#include "sandbox/cli/commands.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/error.h"
#include "sandbox/util/fs.h"

static int usage(FILE *f, int status)
{
	fputs("usage: wsbox runs [--store DIR] ls\n"
	      "       wsbox runs [--store DIR] show RUN [--dot]\n"
	      "       wsbox runs [--store DIR] rm RUN\n",
	      f);
	return status;
}

/* Sorted valid names in dirfd/rel (temp files of atomic writes start with
 * a dot and are skipped by valid_name). -ENOENT when rel is missing. */
static int list_names(int dirfd, const char *rel, char ***out, size_t *n,
		      struct wsbox_error *err)
{
	return list_dir_at(dirfd, rel, valid_name, out, n, err);
}

static int do_ls(const struct store *s)
{
	struct wsbox_error err = {0};
	char **runs;
	size_t n;
	if (list_names(s->fd, store_rel(STORE_RUNS), &runs, &n, &err) < 0)
		return wsbox_error_exit(&err);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *rel =
		    store_run_rel(runs[i], "tasks", NULL);
		char **tasks;
		size_t nt;
		struct wsbox_error e2 = {0};
		if (list_names(s->fd, rel, &tasks, &nt, &e2) < 0)
			nt = 0; /* a run being created: no task yet */
		else
			free_strings(tasks, nt);
		printf("%s %zu task%s\n", runs[i], nt, nt == 1 ? "" : "s");
	}
	free_strings(runs, n);
	return fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
}

static int check_run(const struct store *s, const char *run,
		     struct wsbox_error *err)
{
	if (!valid_name(run))
		return wsbox_fail(err, EINVAL, "run `%s`: invalid name", run);
	_cleanup_free_ char *rel = store_run_rel(run, NULL, NULL);
	if (faccessat(s->fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return wsbox_fail(err, errno, "run `%s`", run);
	return 0;
}

static int do_show(const struct store *s, const char *run, bool dot)
{
	struct wsbox_error err = {0};
	if (check_run(s, run, &err) < 0)
		return wsbox_error_exit(&err);
	_cleanup_free_ char *rel = store_run_rel(run, "tasks", NULL);
	char **tasks;
	size_t n;
	if (list_names(s->fd, rel, &tasks, &n, &err) < 0) {
		if (err.errnum != ENOENT)
			return wsbox_error_exit(&err);
		tasks = NULL;
		n = 0;
	}
	int status = 0;
	if (dot)
		printf("digraph \"%s\" {\n\trankdir=LR;\n", run);
	for (size_t i = 0; i < n; i++) {
		struct task_record r = {0};
		if (record_read(s, run, tasks[i], &r, &err) < 0) {
			wsbox_error_print(&err);
			status = WSBOX_EXIT_FAILURE;
			continue;
		}
		const char *st = r.status ? r.status : "?";
		/* Record fields are checked names and digests, but quote
		 * defensively: this output may be fed to other tools. */
		if (dot) {
			printf("\t\"%s\" [label=\"%s\\n%s\"];\n", tasks[i],
			       tasks[i], st);
			for (size_t j = 0; j < r.n_parents; j++)
				if (valid_name(r.parents[j]))
					printf("\t\"%s\" -> \"%s\";\n",
					       r.parents[j], tasks[i]);
		} else {
			const char *hex =
			    r.layer ? layer_digest_hex(r.layer) : NULL;
			printf("%-20s %-9s exit=%-3d layer=%.12s parents=",
			       tasks[i], st,
			       r.signal ? 128 + r.signal : r.exit_code,
			       hex ? hex : "-");
			if (!r.n_parents)
				printf("-");
			for (size_t j = 0; j < r.n_parents; j++)
				printf("%s%s", j ? "," : "", r.parents[j]);
			printf("\n");
		}
		record_free(&r);
	}
	if (dot)
		printf("}\n");
	free_strings(tasks, n);
	if (fflush(stdout) != 0)
		return WSBOX_EXIT_FAILURE;
	return status;
}

static int do_rm(const struct store *s, const char *run)
{
	struct wsbox_error err = {0};
	if (check_run(s, run, &err) < 0)
		return wsbox_error_exit(&err);
	_cleanup_free_ char *dir = store_path_of(s, STORE_RUNS);
	int fd = openat(s->fd, store_rel(STORE_RUNS),
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		wsbox_fail(&err, errno, "open `%s`", dir);
		return wsbox_error_exit(&err);
	}
	int r = rm_rf_at(fd, run, &err);
	if (r == 0 && fsync(fd) < 0)
		r = wsbox_fail(&err, errno, "fsync `%s`", dir);
	close(fd);
	if (r < 0) {
		wsbox_error_prefix(&err, "runs rm %s", run);
		return wsbox_error_exit(&err);
	}
	return 0;
}

int cmd_runs(int argc, char **argv)
{
	const char *store_opt = NULL;
	bool dot = false;
	_cleanup_free_ char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
	size_t n = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return usage(stdout, 0);
		if (store_option(argc, argv, &i, &store_opt))
			continue;
		if (!strcmp(a, "--dot"))
			dot = true;
		else if (a[0] == '-' && a[1])
			return usage(stderr, WSBOX_EXIT_FAILURE);
		else
			pos[n++] = argv[i];
	}
	if (n == 0)
		return usage(stderr, WSBOX_EXIT_FAILURE);
	const char *sub = pos[0];
	bool ls = !strcmp(sub, "ls"), show = !strcmp(sub, "show"),
	     rm = !strcmp(sub, "rm");
	if (!(ls && n == 1) && !(show && n == 2) && !(rm && n == 2))
		return usage(stderr, WSBOX_EXIT_FAILURE);
	if (dot && !show)
		return usage(stderr, WSBOX_EXIT_FAILURE);

	struct wsbox_error err = {0};
	_cleanup_free_ char *path = store_default_path(store_opt);
	struct store s;
	if (store_open(path, false, &s, &err) < 0)
		return wsbox_error_exit(&err);
	int status = ls	    ? do_ls(&s)
		     : show ? do_show(&s, pos[1], dot)
			    : do_rm(&s, pos[1]);
	store_close(&s);
	return status;
}
