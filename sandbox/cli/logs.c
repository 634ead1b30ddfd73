/* `wsbox logs --run R --task T [--stdout|--stderr] [--store DIR]`: print
 * the logs of a task's latest published attempt (what its record names).
 * Owns choosing and checking the log files; the combined log's format is
 * layers/tasklog.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "layers/record.h"
#include "layers/store.h"
#include "layers/tasklog.h"
#include "sandbox/cli/args.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/usage.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/error.h"
#include "sandbox/util/fs.h"

struct logs_opts {
	const char *store, *run, *task;
	bool out, err; /* the streams to print (both without a selector) */
};

static int usage(FILE *f, int status)
{
	fputs("usage: wsbox logs [--store DIR] --run RUN --task NAME "
	      "[--stdout|--stderr]\n"
	      "\n"
	      "Print the output of the task's latest published attempt (a "
	      "cache hit's too:\n"
	      "the output it replayed) on stdout.\n"
	      "  --stdout  only what the task wrote to stdout\n"
	      "  --stderr  only what the task wrote to stderr\n"
	      "Without a selector both streams, in the order the task wrote "
	      "them when the\n"
	      "attempt kept a combined log; else all of stdout, then all of "
	      "stderr.\n",
	      f);
	return status;
}

/* A log path from the record: only a file of this run's logs directory,
 * opened beneath the store (no symlink followed). */
static int open_log(const struct store *s, const char *run, const char *rel,
		    const char *task, struct wsbox_error *err)
{
	_cleanup_free_ char *dir = store_run_rel(run, "logs", NULL);
	size_t dl = strlen(dir);
	if (strncmp(rel, dir, dl) || rel[dl] != '/' ||
	    !valid_name(rel + dl + 1))
		return wsbox_fail(err, 0, "record of task %s: bad log path",
				  task);
	int fd = open_beneath(s->fd, rel, O_RDONLY);
	if (fd == -ENOENT)
		return wsbox_fail(err, 0, "log of task %s: missing", task);
	if (fd < 0)
		return wsbox_fail(err, -fd, "open `%s/%s`", s->path, rel);
	return fd;
}

/* Copy one plain log to stdout; a record without it has nothing. */
static int print_plain(const struct store *s, const struct task_record *r,
		       const char *rel, struct wsbox_error *err)
{
	if (!rel)
		return 0;
	_cleanup_close_ int fd = open_log(s, r->run, rel, r->task, err);
	if (fd < 0)
		return fd;
	return tasklog_copy(fd, STDOUT_FILENO, err);
}

static int print_record(const struct store *s, const struct logs_opts *o,
			const struct task_record *rec, struct wsbox_error *err)
{
	if (rec->combined_log) {
		_cleanup_close_ int fd =
		    open_log(s, o->run, rec->combined_log, o->task, err);
		if (fd < 0)
			return fd;
		return tasklog_replay(fd, o->out ? STDOUT_FILENO : -1,
				      o->err ? STDOUT_FILENO : -1, err);
	}
	int r = o->out ? print_plain(s, rec, rec->stdout_log, err) : 0;
	if (r == 0 && o->err)
		r = print_plain(s, rec, rec->stderr_log, err);
	return r;
}

static int print_logs(const struct logs_opts *o, struct wsbox_error *err)
{
	_cleanup_free_ char *path = store_default_path(o->store);
	struct store s;
	int r = store_open(path, false, &s, err);
	if (r < 0)
		return r;
	struct task_record rec;
	r = record_read_shallow(&s, o->run, o->task, &rec, err);
	if (r == 0) {
		r = print_record(&s, o, &rec, err);
		record_free(&rec);
	}
	store_close(&s);
	return r;
}

int cmd_logs(int argc, char **argv)
{
	struct logs_opts o = {0};
	bool only_out = false, only_err = false;
	const struct arg_opt opts[] = {{"--run", &o.run, NULL},
				       {"--task", &o.task, NULL},
				       {"--stdout", NULL, &only_out},
				       {"--stderr", NULL, &only_err}};
	struct args a = {
	    .verb = "logs", .opts = opts, .n_opts = ARRAY_SIZE(opts)};
	int pr = args_parse(&a, argc, argv);
	if (pr == ARGS_HELP)
		return usage(stdout, 0);
	if (pr < 0)
		return WSBOX_EXIT_FAILURE;
	o.store = a.store;
	if (!o.run || !o.task)
		return usage_refuse("logs", "wants --run RUN --task TASK");
	if (only_out && only_err)
		return usage_refuse("logs", "--stdout and --stderr exclude "
					    "each other");
	o.out = !only_err;
	o.err = !only_out;
	struct wsbox_error err = {0};
	if (!valid_name(o.run) || !valid_name(o.task)) {
		wsbox_fail(&err, 0, "logs: invalid run or task name");
		return wsbox_error_exit(&err);
	}
	if (print_logs(&o, &err) < 0)
		return wsbox_error_exit(&err);
	return fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
}
