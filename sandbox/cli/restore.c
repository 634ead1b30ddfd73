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

#include "layers/apply.h"
#include "layers/layer.h"
#include "layers/manifest.h"
#include "layers/record.h"
#include "layers/store.h"
#include "sandbox/cli/args.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/usage.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/error.h"
#include "sandbox/util/fs.h"

struct restore_opts {
	const char *store, *run, *task, *to;
	bool with_self, force;
};

static int usage(FILE *f, int status)
{
	fputs("usage: wsbox restore [--store DIR] --run RUN --task NAME --to "
	      "DIR [--with-self] [--force]\n"
	      "\n"
	      "Materialize into DIR the workspace the task started from: "
	      "its inputs, the\n"
	      "merged layers of its ancestors. Without --with-self the "
	      "task's own result\n"
	      "is NOT included; --with-self adds it on top (what its "
	      "children see).\n"
	      "Every file gets the layers' fixed time stamp (README \"Time "
	      "stamps\"), so make\n"
	      "in DIR finds what was built up to date.\n"
	      "  --with-self  include the task's own layer on top\n"
	      "  --force      replace the content of a non-empty DIR\n",
	      f);
	return status;
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
		r = layer_require(&s, rec.lowers[i], err);
	if (r == 0 && o->with_self && rec.layer)
		r = layer_require(&s, rec.layer, err);

	int dir = -1;
	if (r == 0)
		r = mkdir_p(o->to, 0755, err);
	if (r == 0) {
		dir = open(o->to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0)
			r = wsbox_fail(err, errno, "restore to `%s`", o->to);
	}
	if (r == 0) {
		r = dir_entries(dir, false, err);
		if (r == 1 && !o->force)
			r = wsbox_fail(err, 0,
				       "restore to `%s`: not empty (use "
				       "--force to replace its content)",
				       o->to);
		else if (r == 1)
			r = dir_entries(dir, true, err);
		if (r > 0)
			r = 0;
	}
	/* The task's own layer (--with-self) sits above its lowers. */
	bool self = o->with_self && rec.layer;
	char **stack = xcalloc(rec.n_lowers + 1, sizeof *stack);
	if (self)
		stack[0] = rec.layer;
	for (size_t i = 0; i < rec.n_lowers; i++)
		stack[i + self] = rec.lowers[i];
	if (r == 0)
		r = layers_apply(&s, stack, rec.n_lowers + self, dir, err);
	free(stack);
	if (r == 0 && syncfs(dir) < 0)
		r = wsbox_fail(err, errno, "sync `%s`", o->to);
	/* The usual surprise: the inputs without the result. Say so. */
	char empty[DIGEST_STRLEN];
	layer_empty_digest(empty);
	if (r == 0 && !o->with_self && rec.layer && strcmp(rec.layer, empty))
		fprintf(stderr,
			"wsbox: note: `%s` holds the inputs of task %s, not "
			"its result (add --with-self for that)\n",
			o->to, o->task);
	if (dir >= 0)
		close(dir);
	record_free(&rec);
	store_close(&s);
	return r;
}

int cmd_restore(int argc, char **argv)
{
	struct restore_opts o = {0};
	const struct arg_opt opts[] = {
	    {"--run", &o.run, NULL},	 {"--task", &o.task, NULL},
	    {"--to", &o.to, NULL},	 {"--with-self", NULL, &o.with_self},
	    {"--force", NULL, &o.force},
	};
	struct args a = {
	    .verb = "restore", .opts = opts, .n_opts = ARRAY_SIZE(opts)};
	int pr = args_parse(&a, argc, argv);
	if (pr == ARGS_HELP)
		return usage(stdout, 0);
	if (pr < 0)
		return WSBOX_EXIT_FAILURE;
	o.store = a.store;
	if (!o.run || !o.task || !o.to || !*o.to)
		return usage_refuse("restore", "wants --run RUN --task TASK "
					       "--to DIR");
	struct wsbox_error err = {0};
	if (!valid_name(o.run) || !valid_name(o.task)) {
		wsbox_fail(&err, 0, "restore: invalid run or task name");
		wsbox_error_print(&err);
		return WSBOX_EXIT_FAILURE;
	}
	if (run_restore(&o, &err) < 0) {
		wsbox_error_print(&err);
		return err.status ? err.status : WSBOX_EXIT_FAILURE;
	}
	return 0;
}
