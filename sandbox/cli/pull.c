/* sandbox/cli/pull.c: `wsbox pull --run R --task T [--remote URL]`, a
 * task's whole ancestry from a remote into the local store (README "Many
 * executors"), e.g. before `wsbox restore`. Options here; the store side
 * (records under the compare-and-swap, verified layers) in layers/sync.c. */
#include <stdio.h>
#include <string.h>

#include "layers/lock.h"
#include "layers/sync.h"
#include "sandbox/cli/args.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/remote_cli.h"
#include "sandbox/cli/usage.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/error.h"
#include "sandbox/util/fs.h"

static int usage(FILE *f, int status)
{
	fputs("usage: wsbox pull [--store DIR] --run RUN --task NAME "
	      "[--remote URL]\n"
	      "                  [--remote-insecure]\n"
	      "\n"
	      "Bring task NAME of run RUN and its whole ancestry from the "
	      "remote into the\n"
	      "store: the records (a record this store published later is "
	      "kept) and every\n"
	      "layer it lacks, each verified before it enters the store. "
	      "Then `wsbox\n"
	      "restore` and `wsbox exec --parent NAME` work here. A failed "
	      "pull leaves no\n"
	      "record. The remote is --remote URL or $WSBOX_REMOTE (README "
	      "\"Many executors\").\n"
	      "\n"
	      "exit status: 0 pulled; 125 refused or failed\n",
	      f);
	return status;
}

/* Under the shared gc lock from before the first layer arrives until the
 * records that name them are written (remote_pull_layers). */
static int pull(struct store *s, const struct remote_cli *ro, const char *run,
		const char *task, struct wsbox_error *err)
{
	_cleanup_(remote_closep) struct remote rm = {0};
	int r = remote_cli_open_for(ro, s, "pull", &rm, err);
	if (r < 0)
		return r;
	char *tasks[] = {(char *)task};
	struct sync_pull p = {
	    .run = run, .tasks = tasks, .n_tasks = 1, .replace = true};
	int gc = store_lock(s, LOCK_GC, false, err);
	if (gc < 0)
		return gc;
	r = sync_pull_tasks(&rm, s, &p, err);
	store_unlock(&gc);
	if (r == 0)
		printf("pulled task %s of run %s: %zu record%s, %zu layer%s\n",
		       task, run, p.records, p.records == 1 ? "" : "s",
		       p.layers, p.layers == 1 ? "" : "s");
	return r;
}

int cmd_pull(int argc, char **argv)
{
	const char *run = NULL, *task = NULL;
	struct remote_cli ro = {0};
	const struct arg_opt opts[] = {
	    {"--run", &run, NULL},
	    {"--task", &task, NULL},
	    {"--remote", &ro.url, NULL},
	    {"--remote-insecure", NULL, &ro.insecure}};
	struct args a = {
	    .verb = "pull", .opts = opts, .n_opts = ARRAY_SIZE(opts)};
	int pr = args_parse(&a, argc, argv);
	if (pr == ARGS_HELP)
		return usage(stdout, 0);
	if (pr < 0)
		return WSBOX_EXIT_FAILURE;
	if (!run || !task)
		return usage_refuse("pull", "wants --run RUN --task NAME");
	if (!valid_name(run))
		return usage_refuse_name("--run", run);
	if (!valid_name(task))
		return usage_refuse_name("--task", task);
	struct wsbox_error err = {0};
	_cleanup_free_ char *store_path = store_default_path(a.store);
	_cleanup_(store_closep) struct store s = {.fd = -1};
	if (store_open(store_path, true, &s, &err) < 0)
		return wsbox_error_exit(&err);
	if (pull(&s, &ro, run, task, &err) < 0)
		return wsbox_error_exit(&err);
	return fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
}
