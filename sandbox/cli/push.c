/* sandbox/cli/push.c: `wsbox push --run R [--task T] [--remote URL]`, a
 * run's results to a remote (README "Many executors"): the retry of an
 * exec whose push failed, or the sharing of tasks that ran (or were
 * imported) without one. Options here; the store side in layers/sync.c. */
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
	fputs("usage: wsbox push [--store DIR] --run RUN [--task NAME] "
	      "[--remote URL]\n"
	      "                  [--remote-insecure] [--remote-compression "
	      "zstd|gzip]\n"
	      "\n"
	      "Push task NAME of run RUN (every task of the run without "
	      "--task) to the\n"
	      "remote: the layers of its ancestry, its layer, its record and "
	      "its cache\n"
	      "entry. Only tasks that succeeded are pushed; nothing the "
	      "registry has is\n"
	      "uploaded again, so this is also the retry of a failed push. "
	      "The remote is\n"
	      "--remote URL or $WSBOX_REMOTE (README \"Many executors\").\n"
	      "\n"
	      "exit status: 0 pushed; 125 refused or failed\n",
	      f);
	return status;
}

static int push(struct store *s, const struct remote_cli *ro, const char *run,
		const char *task, struct wsbox_error *err)
{
	_cleanup_(remote_closep) struct remote rm = {0};
	int r = remote_cli_open_for(ro, s, "push", &rm, err);
	if (r < 0)
		return r;
	if (!task) {
		size_t n = 0;
		r = sync_push_run(&rm, s, run, &n, err);
		if (r == 0)
			printf("pushed %zu task%s of run %s\n", n,
			       n == 1 ? "" : "s", run);
		return r;
	}
	r = sync_push_task(&rm, s, run, task, err);
	if (r == 1)
		return wsbox_fail(err, 0,
				  "task %s: did not succeed: only successes "
				  "are pushed",
				  task);
	if (r == 0)
		printf("pushed task %s of run %s\n", task, run);
	return r;
}

int cmd_push(int argc, char **argv)
{
	const char *run = NULL, *task = NULL;
	struct remote_cli ro = {0};
	const struct arg_opt opts[] = {
	    {"--run", &run, NULL},
	    {"--task", &task, NULL},
	    {"--remote", &ro.url, NULL},
	    {"--remote-insecure", NULL, &ro.insecure},
	    {"--remote-compression", &ro.compression, NULL}};
	struct args a = {
	    .verb = "push", .opts = opts, .n_opts = ARRAY_SIZE(opts)};
	int pr = args_parse(&a, argc, argv);
	if (pr == ARGS_HELP)
		return usage(stdout, 0);
	if (pr < 0)
		return WSBOX_EXIT_FAILURE;
	if (!run)
		return usage_refuse("push", "wants --run RUN");
	if (!valid_name(run))
		return usage_refuse_name("--run", run);
	if (task && !valid_name(task))
		return usage_refuse_name("--task", task);
	if (ro.compression && !remote_cli_compression_valid(ro.compression))
		return usage_refuse("push",
				    "--remote-compression `%s`: want zstd or "
				    "gzip",
				    ro.compression);
	struct wsbox_error err = {0};
	_cleanup_free_ char *store_path = store_default_path(a.store);
	_cleanup_(store_closep) struct store s = {.fd = -1};
	if (store_open(store_path, false, &s, &err) < 0)
		return wsbox_error_exit(&err);
	if (push(&s, &ro, run, task, &err) < 0)
		return wsbox_error_exit(&err);
	return fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
}
