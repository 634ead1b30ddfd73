/* sandbox/cli/import.c: `wsbox import --run R --task NAME PATH`, sources
 * into a run (docs/model.md "Sources"): options and validation here, the
 * store work in layers/source.c, the layer owner from sandbox/identity.c. */
#include <stdio.h>
#include <string.h>

#include "layers/source.h"
#include "layers/store.h"
#include "sandbox/cli/args.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/usage.h"
#include "sandbox/identity.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/error.h"
#include "sandbox/util/fs.h"

static int usage(FILE *f, int status)
{
	fprintf(
	    f,
	    "usage: wsbox import [--store DIR] --run RUN --task NAME PATH\n"
	    "\n"
	    "Record task NAME of run RUN whose layer is the content of PATH,\n"
	    "a host directory or a tar archive (plain, .gz, .zst, .xz, .bz2),\n"
	    "so later tasks can name it with --parent NAME. Identical content\n"
	    "gives the same layer digest, so the tasks that stand on it hit\n"
	    "the cache. PATH is read as hostile input: symlinks are copied,\n"
	    "never followed; devices, FIFOs and sockets are refused (a\n"
	    "directory) or skipped (an archive); setuid bits are dropped.\n"
	    "Prints the layer digest.\n"
	    "\n"
	    "exit status: 0 imported; 125 refused or failed (nothing is\n"
	    "published)\n");
	return status;
}

int cmd_import(int argc, char **argv)
{
	const char *run = NULL, *task = NULL, *pos[1];
	const struct arg_opt opts[] = {{"--run", &run, NULL},
				       {"--task", &task, NULL}};
	struct args a = {.verb = "import",
			 .opts = opts,
			 .n_opts = ARRAY_SIZE(opts),
			 .pos = pos,
			 .max_pos = ARRAY_SIZE(pos)};
	int pr = args_parse(&a, argc, argv);
	if (pr == ARGS_HELP)
		return usage(stdout, 0);
	if (pr < 0)
		return WSBOX_EXIT_FAILURE;
	if (!run || !task || a.n_pos != 1)
		return usage_refuse("import",
				    "wants --run RUN --task NAME PATH");
	const char *path = pos[0];
	if (!valid_name(run))
		return usage_refuse_name("--run", run);
	if (!valid_name(task))
		return usage_refuse_name("--task", task);
	struct wsbox_error err = {0};
	_cleanup_free_ char *store_path = store_default_path(a.store);
	struct store s = {.fd = -1};
	if (store_open(store_path, true, &s, &err) < 0)
		return wsbox_error_exit(&err);
	struct source_import in = {.run = run, .task = task, .path = path};
	identity_layer_owner(s.path, s.owner_uid, s.owner_gid, &in.owner_uid,
			     &in.owner_gid);
	struct source_result out = {.attempt = NULL};
	int r = source_import(&s, &in, &out, &err);
	store_close(&s);
	if (r < 0) {
		source_result_free(&out);
		return wsbox_error_exit(&err);
	}
	if (out.skipped || out.stripped)
		fprintf(stderr,
			"wsbox: import `%s`: skipped %llu device nodes, FIFOs "
			"or sockets; dropped setuid/setgid from %llu entries\n",
			path, (unsigned long long)out.skipped,
			(unsigned long long)out.stripped);
	printf("%s\n", out.digest);
	source_result_free(&out);
	return fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
}
