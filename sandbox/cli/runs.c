/* `wsbox runs ls | show RUN [--dot|--json] | rm RUN`: the runs of the store
 * and the records of their tasks, in topological order, each marked stale
 * when an ancestor's current result is not the one it was built on.
 * Removing a run drops its records and logs only; its layers stay until
 * `wsbox gc` finds them unreferenced. In root mode its own id block goes
 * back to the range allocation file (sandbox/cli/run_ids.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layers/layer.h"
#include "sandbox/util/json.h"
#include "layers/record.h"
#include "layers/store.h"
#include "sandbox/cli/args.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/run_ids.h"
#include "sandbox/cli/usage.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/error.h"
#include "sandbox/util/fs.h"

static int usage(FILE *f, int status)
{
	fputs("usage: wsbox runs [--store DIR] ls\n"
	      "       wsbox runs [--store DIR] show RUN [--dot|--json]\n"
	      "       wsbox runs [--store DIR] rm RUN\n"
	      "\n"
	      "  ls    every run and its number of tasks\n"
	      "  show  the run's tasks in topological order (ties by name): "
	      "status,\n"
	      "        exit status, layer (a digest prefix `wsbox layers "
	      "show` accepts),\n"
	      "        parents, and `stale` when an ancestor was re-run with "
	      "another result\n"
	      "        after the task used it (re-run the task to refresh "
	      "it)\n"
	      "        --dot   as a Graphviz graph (stale tasks dashed, "
	      "grey)\n"
	      "        --json  {\"run\", \"tasks\": [{\"task\", \"status\", "
	      "\"exit_status\", \"error\",\n"
	      "                \"layer\" (full digest or null), \"parents\", "
	      "\"cache_hit\", \"stale\",\n"
	      "                \"stale_because\", \"attempt\", \"seq\", "
	      "\"wall_sec\"}]}\n"
	      "  rm    remove the run's records and logs (its layers stay "
	      "until `wsbox gc`);\n"
	      "        in root mode, free the run's own id block\n",
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
		return wsbox_fail(err, 0, "run `%s`: invalid name", run);
	_cleanup_free_ char *rel = store_run_rel(run, NULL, NULL);
	if (faccessat(s->fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno == ENOENT)
		return wsbox_fail(err, 0, "no such run `%s`", run);
	return wsbox_fail(err, errno, "run `%s`", run);
}

/* One task of the run as `show` sees it. */
struct shown {
	struct task_record rec;
	char **stale_because; /* ancestors whose result changed since */
	size_t n_stale;
	size_t *children, n_children;
	size_t waiting; /* parents in the run not yet printed */
	bool done;
};

struct run_view {
	struct shown *v; /* sorted by task name */
	size_t n;
	size_t *order; /* indices of v, topological, ties by name */
};

static int shown_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct shown *)elem)->rec.task);
}

static struct shown *find_task(const struct run_view *rv, const char *name)
{
	return rv->n ? bsearch(name, rv->v, rv->n, sizeof *rv->v, shown_cmp)
		     : NULL;
}

static void run_view_free(struct run_view *rv)
{
	for (size_t i = 0; i < rv->n; i++) {
		record_free(&rv->v[i].rec);
		free(rv->v[i].stale_because); /* names borrowed */
		free(rv->v[i].children);
	}
	free(rv->v);
	free(rv->order);
	memset(rv, 0, sizeof *rv);
}

/* Every readable record of the run (an unreadable one is printed and makes
 * the verb fail, the others are still shown). */
static int load_records(const struct store *s, const char *run,
			struct run_view *rv, bool *partial,
			struct wsbox_error *err)
{
	_cleanup_free_ char *rel = store_run_rel(run, "tasks", NULL);
	char **tasks;
	size_t n;
	int r = list_names(s->fd, rel, &tasks, &n, err);
	if (r == -ENOENT)
		return 0; /* a run being created: no task yet */
	if (r < 0)
		return r;
	rv->v = xcalloc(n + 1, sizeof *rv->v);
	for (size_t i = 0; i < n; i++) {
		struct wsbox_error e = {0};
		if (record_read(s, run, tasks[i], &rv->v[rv->n].rec, &e) < 0) {
			wsbox_error_print(&e);
			*partial = true;
			continue;
		}
		rv->n++;
	}
	free_strings(tasks, n);
	return 0;
}

static bool same_layer(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Stale: an ancestor's current record names another layer than the one
 * this task recorded for it (it was re-run after this task used it, with
 * another result). Every recorded ancestor counts, not only the parents:
 * a task built on a stale parent is itself outdated. */
static void mark_stale(struct run_view *rv)
{
	for (size_t i = 0; i < rv->n; i++) {
		struct shown *t = &rv->v[i];
		for (size_t k = 0; k < t->rec.n_ancestors; k++) {
			const struct record_node *a = &t->rec.ancestors[k];
			const struct shown *now = find_task(rv, a->task);
			if (!now || same_layer(now->rec.layer, a->layer))
				continue;
			t->stale_because =
			    xreallocarray(t->stale_because, t->n_stale + 1,
					  sizeof *t->stale_because);
			t->stale_because[t->n_stale++] = a->task;
		}
	}
}

/* Kahn's algorithm over the records' parent edges, always taking the
 * first ready task by name. Edges to tasks without a readable record are
 * ignored; a cycle (a task re-run with a descendant as parent) is broken
 * by name. O(n^2) scans, fine for the thousands of tasks a run has. */
static void order_tasks(struct run_view *rv)
{
	rv->order = xcalloc(rv->n + 1, sizeof *rv->order);
	for (size_t i = 0; i < rv->n; i++) {
		struct shown *t = &rv->v[i];
		for (size_t k = 0; k < t->rec.n_parents; k++) {
			struct shown *p = find_task(rv, t->rec.parents[k]);
			if (!p || p == t)
				continue;
			p->children =
			    xreallocarray(p->children, p->n_children + 1,
					  sizeof *p->children);
			p->children[p->n_children++] = i;
			t->waiting++;
		}
	}
	for (size_t out = 0; out < rv->n; out++) {
		size_t pick = rv->n;
		for (size_t i = 0; i < rv->n && pick == rv->n; i++)
			if (!rv->v[i].done && rv->v[i].waiting == 0)
				pick = i;
		for (size_t i = 0; i < rv->n && pick == rv->n; i++)
			if (!rv->v[i].done)
				pick = i; /* a cycle */
		struct shown *t = &rv->v[pick];
		t->done = true;
		rv->order[out] = pick;
		for (size_t c = 0; c < t->n_children; c++)
			if (rv->v[t->children[c]].waiting > 0)
				rv->v[t->children[c]].waiting--;
	}
}

static void print_text(const struct shown *t)
{
	const struct task_record *r = &t->rec;
	const char *hex = r->layer ? layer_digest_hex(r->layer) : NULL;
	printf("%-20s %-9s exit=%-3d layer=%.12s parents=", r->task,
	       r->status ? r->status : "?", r->exit_status, hex ? hex : "-");
	if (!r->n_parents)
		printf("-");
	for (size_t j = 0; j < r->n_parents; j++)
		printf("%s%s", j ? "," : "", r->parents[j]);
	if (t->n_stale) {
		printf(" stale (re-run since:");
		for (size_t j = 0; j < t->n_stale; j++)
			printf(" %s", t->stale_because[j]);
		printf(")");
	}
	printf("\n");
}

/* Record fields are checked names and digests, but the graph is quoted
 * defensively: this output may be fed to other tools. */
static void print_dot(const struct shown *t)
{
	const struct task_record *r = &t->rec;
	printf("\t\"%s\" [label=\"%s\\n%s%s\"%s];\n", r->task, r->task,
	       r->status ? r->status : "?", t->n_stale ? "\\nstale" : "",
	       t->n_stale ? ", style=dashed, color=grey, fontcolor=grey" : "");
	for (size_t j = 0; j < r->n_parents; j++)
		if (valid_name(r->parents[j]))
			printf("\t\"%s\" -> \"%s\"%s;\n", r->parents[j],
			       r->task, t->n_stale ? " [color=grey]" : "");
}

static json_t *task_json(const struct shown *t)
{
	const struct task_record *r = &t->rec;
	json_t *stale = json_strv(t->stale_because, t->n_stale);
	return json_pack(
	    "{s:s, s:s?, s:i, s:o, s:o, s:o, s:b, s:b, s:o, s:s?, s:I, s:f}",
	    "task", r->task, "status", r->status, "exit_status", r->exit_status,
	    "error", json_str_or_null(r->error), "layer",
	    json_str_or_null(r->layer), "parents",
	    json_strv(r->parents, r->n_parents), "cache_hit", r->cache_hit,
	    "stale", t->n_stale > 0, "stale_because", stale, "attempt",
	    r->attempt, "seq", (json_int_t)r->seq, "wall_sec", r->wall_sec);
}

static int print_json(const char *run, const struct run_view *rv)
{
	json_t *tasks = json_array();
	for (size_t i = 0; i < rv->n; i++)
		json_array_append_new(tasks, task_json(&rv->v[rv->order[i]]));
	json_t *doc = json_pack("{s:s, s:o}", "run", run, "tasks", tasks);
	int r = doc ? json_dumpf(doc, stdout,
				 JSON_INDENT(2) | JSON_REAL_PRECISION(6))
		    : -1;
	json_decref(doc);
	if (r < 0)
		return -1;
	putchar('\n');
	return 0;
}

enum show_format { SHOW_TEXT, SHOW_DOT, SHOW_JSON };

static int do_show(const struct store *s, const char *run, enum show_format fmt)
{
	struct wsbox_error err = {0};
	if (check_run(s, run, &err) < 0)
		return wsbox_error_exit(&err);
	struct run_view rv = {0};
	bool partial = false;
	if (load_records(s, run, &rv, &partial, &err) < 0)
		return wsbox_error_exit(&err);
	mark_stale(&rv);
	order_tasks(&rv);
	int status = partial ? WSBOX_EXIT_FAILURE : 0;
	if (fmt == SHOW_JSON && print_json(run, &rv) < 0)
		status = WSBOX_EXIT_FAILURE;
	if (fmt == SHOW_DOT)
		printf("digraph \"%s\" {\n\trankdir=LR;\n", run);
	for (size_t i = 0; fmt != SHOW_JSON && i < rv.n; i++) {
		const struct shown *t = &rv.v[rv.order[i]];
		if (fmt == SHOW_DOT)
			print_dot(t);
		else
			print_text(t);
	}
	if (fmt == SHOW_DOT)
		printf("}\n");
	run_view_free(&rv);
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
	run_ids_release(s, run, stdout);
	return fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
}

int cmd_runs(int argc, char **argv)
{
	bool dot = false, json = false;
	const char *pos[2];
	const struct arg_opt opts[] = {{"--dot", NULL, &dot},
				       {"--json", NULL, &json}};
	struct args a = {.verb = "runs",
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
		return usage_refuse("runs", "wants ls, show RUN or rm RUN");
	const char *sub = pos[0];
	bool ls = !strcmp(sub, "ls"), show = !strcmp(sub, "show"),
	     rm = !strcmp(sub, "rm");
	if (!(ls && n == 1) && !(show && n == 2) && !(rm && n == 2))
		return usage_refuse("runs", "wants ls, show RUN or rm RUN");
	if ((dot || json) && (!show || (dot && json)))
		return usage_refuse("runs", "--dot or --json, with show only");

	struct wsbox_error err = {0};
	_cleanup_free_ char *path = store_default_path(a.store);
	struct store s;
	if (store_open(path, false, &s, &err) < 0)
		return wsbox_error_exit(&err);
	enum show_format fmt = dot ? SHOW_DOT : json ? SHOW_JSON : SHOW_TEXT;
	int status = ls	    ? do_ls(&s)
		     : show ? do_show(&s, pos[1], fmt)
			    : do_rm(&s, pos[1]);
	store_close(&s);
	return status;
}
