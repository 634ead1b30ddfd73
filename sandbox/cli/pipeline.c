/* sandbox/cli/pipeline.c: the pipeline file (see pipeline.h), parsed with
 * libyaml's document API so every node keeps its line. Exec options are
 * validated by exec's own parser (exec_opts_parse), so a pipeline refuses
 * exactly what `wsbox exec` would, but before anything runs. */
#include "sandbox/cli/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "sandbox/cli/pipeline_bounds.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof *(a))
#endif

/* How a key's value turns into exec options. */
enum key_kind {
	KEY_SCALAR, /* --opt VALUE */
	KEY_LIST,   /* --opt V1 --opt V2 (a single scalar is a list of one) */
	KEY_MAP,    /* --opt K1=V1 --opt K2=V2 */
	KEY_BOOL,   /* --opt when true */
};

static const struct task_key {
	const char *key, *opt;
	enum key_kind kind;
} task_keys[] = {
    {"save", "--save", KEY_LIST},
    {"env", "--env", KEY_MAP},
    {"env-pass", "--env-pass", KEY_LIST},
    {"timeout", "--timeout", KEY_SCALAR},
    {"memory", "--memory", KEY_SCALAR},
    {"max-log-size", "--max-log-size", KEY_SCALAR},
    {"pids", "--pids", KEY_SCALAR},
    {"cpus", "--cpus", KEY_SCALAR},
    {"mutex", "--mutex", KEY_SCALAR},
    {"rootfs", "--rootfs", KEY_SCALAR},
    {"policy", "--policy", KEY_SCALAR},
    {"net", "--net", KEY_SCALAR},
    {"cache-key-extra", "--cache-key-extra", KEY_MAP},
    {"ro", "--ro", KEY_BOOL},
    {"uid", "--uid", KEY_SCALAR},
    {"gid", "--gid", KEY_SCALAR},
    {"cwd", "--cwd", KEY_SCALAR},
};

struct parse {
	const char *file;
	yaml_document_t *doc;
	struct wsbox_error *err;
};

static int line_of(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

/* Fail with `FILE:LINE: what`. */
__attribute__((format(printf, 3, 4))) static int at(struct parse *ps, int line,
						    const char *fmt, ...)
{
	char what[WSBOX_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return wsbox_fail(ps->err, 0, "%s:%d: %s", ps->file, line, what);
}

static yaml_node_t *node(struct parse *ps, int id)
{
	return yaml_document_get_node(ps->doc, id);
}

/* The node's text when it is a scalar without NUL bytes, else NULL. */
static const char *scalar(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	const char *s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length)
		return NULL;
	return s;
}

/* Would `wsbox exec` take these options? Its parser says why not. */
static int check_exec_opts(const struct strv *opts, struct wsbox_error *err)
{
	_cleanup_free_ char **argv = xcalloc(opts->n + 4, sizeof *argv);
	int argc = 0;
	argv[argc++] = "exec";
	for (size_t i = 0; i < opts->n; i++)
		argv[argc++] = opts->v[i];
	argv[argc++] = "--";
	argv[argc++] = "true";
	struct exec_opts o;
	int r = exec_opts_parse(argc, argv, &o, err);
	exec_opts_free(&o);
	return r;
}

/* --cache-key-extra K=V: exec validates it too; checked here so the
 * file's line is named. */
static bool valid_extra_key(const char *k)
{
	return *k && !strchr(k, '=') && strlen(k) <= 128;
}

/* One option of key `k`: append it to the task and check it alone, so a
 * refusal names the key's own line. */
static int add_opt(struct parse *ps, struct pipeline_task *t,
		   const struct task_key *k, const char *value, int line)
{
	if (!strcmp(k->key, "cache-key-extra") && value) {
		_cleanup_free_ char *key = xstrdup(value);
		key[strcspn(key, "=")] = '\0';
		if (!valid_extra_key(key))
			return at(ps, line,
				  "task `%s`: cache-key-extra `%s`: want a "
				  "non-empty key without `=`",
				  t->name, key);
		strv_push(&t->extra, value);
		return 0;
	}
	struct strv one = {0};
	strv_push(&one, k->opt);
	if (value)
		strv_push(&one, value);
	struct wsbox_error e = {0};
	int r = check_exec_opts(&one, &e);
	for (size_t i = 0; i < one.n; i++)
		strv_push(&t->opts, one.v[i]);
	strv_free(&one);
	if (r < 0)
		return at(ps, line, "task `%s`: %s", t->name, e.msg);
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE",
					  "yes",  "Yes",  "on"};
	static const char *const no[] = {"false", "False", "FALSE",
					 "no",	  "No",	   "off"};
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (!strcmp(s, yes[i]))
			return *out = true, 0;
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		if (!strcmp(s, no[i]))
			return *out = false, 0;
	return -EINVAL;
}

static int parse_key_value(struct parse *ps, struct pipeline_task *t,
			   const struct task_key *k, yaml_node_t *v)
{
	const char *s = scalar(v);
	bool on;
	switch (k->kind) {
	case KEY_SCALAR:
		if (!s)
			return at(ps, line_of(v),
				  "task `%s`: `%s` wants a "
				  "string",
				  t->name, k->key);
		if (!strcmp(k->key, "mutex"))
			t->mutex = xstrdup(s);
		return add_opt(ps, t, k, s, line_of(v));
	case KEY_BOOL:
		if (!s || parse_bool(s, &on) < 0)
			return at(ps, line_of(v),
				  "task `%s`: `%s` wants true "
				  "or false",
				  t->name, k->key);
		return on ? add_opt(ps, t, k, NULL, line_of(v)) : 0;
	case KEY_LIST:
		if (s)
			return add_opt(ps, t, k, s, line_of(v));
		if (v->type != YAML_SEQUENCE_NODE)
			return at(ps, line_of(v),
				  "task `%s`: `%s` wants a "
				  "list of strings",
				  t->name, k->key);
		for (yaml_node_item_t *i = v->data.sequence.items.start;
		     i < v->data.sequence.items.top; i++) {
			yaml_node_t *item = node(ps, *i);
			if (!scalar(item))
				return at(ps, line_of(item),
					  "task `%s`: `%s` "
					  "wants a list of strings",
					  t->name, k->key);
			int r = add_opt(ps, t, k, scalar(item), line_of(item));
			if (r < 0)
				return r;
		}
		return 0;
	case KEY_MAP:
		if (v->type != YAML_MAPPING_NODE)
			return at(ps, line_of(v),
				  "task `%s`: `%s` wants a "
				  "mapping",
				  t->name, k->key);
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
		     p < v->data.mapping.pairs.top; p++) {
			const char *mk = scalar(node(ps, p->key));
			const char *mv = scalar(node(ps, p->value));
			if (!mk || !mv)
				return at(ps, line_of(node(ps, p->key)),
					  "task `%s`: `%s` wants string keys "
					  "and values",
					  t->name, k->key);
			_cleanup_free_ char *kv = xasprintf("%s=%s", mk, mv);
			int r =
			    add_opt(ps, t, k, kv, line_of(node(ps, p->key)));
			if (r < 0)
				return r;
		}
		return 0;
	}
	return 0;
}

/* `run`: a string for sh -c, or a non-empty list, the argv itself. */
static int parse_run(struct parse *ps, struct pipeline_task *t, yaml_node_t *v)
{
	const char *s = scalar(v);
	if (s) {
		if (!*s)
			return at(ps, line_of(v), "task `%s`: empty `run`",
				  t->name);
		strv_push(&t->argv, "sh");
		strv_push(&t->argv, "-c");
		strv_push(&t->argv, s);
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.items.start == v->data.sequence.items.top)
		return at(ps, line_of(v),
			  "task `%s`: `run` wants a string or "
			  "a non-empty list of strings",
			  t->name);
	for (yaml_node_item_t *i = v->data.sequence.items.start;
	     i < v->data.sequence.items.top; i++) {
		const char *a = scalar(node(ps, *i));
		if (!a)
			return at(ps, line_of(node(ps, *i)),
				  "task `%s`: `run` "
				  "wants a list of strings",
				  t->name);
		strv_push(&t->argv, a);
	}
	if (!*t->argv.v[0])
		return at(ps, line_of(v), "task `%s`: empty command", t->name);
	return 0;
}

static int parse_needs(struct parse *ps, struct pipeline_task *t,
		       yaml_node_t *v)
{
	if (scalar(v)) {
		strv_push(&t->needs, scalar(v));
		t->need_line = xreallocarray(t->need_line, 1, sizeof(int));
		t->need_line[0] = line_of(v);
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return at(ps, line_of(v),
			  "task `%s`: `needs` wants a list of "
			  "task names",
			  t->name);
	for (yaml_node_item_t *i = v->data.sequence.items.start;
	     i < v->data.sequence.items.top; i++) {
		yaml_node_t *item = node(ps, *i);
		if (!scalar(item))
			return at(ps, line_of(item),
				  "task `%s`: `needs` wants "
				  "a list of task names",
				  t->name);
		t->need_line =
		    xreallocarray(t->need_line, t->needs.n + 1, sizeof(int));
		t->need_line[t->needs.n] = line_of(item);
		strv_push(&t->needs, scalar(item));
	}
	return 0;
}

static const struct task_key *find_key(const char *k)
{
	for (size_t i = 0; i < ARRAY_SIZE(task_keys); i++)
		if (!strcmp(task_keys[i].key, k))
			return &task_keys[i];
	return NULL;
}

/* Was this pair's key seen before in the same mapping? YAML forbids it,
 * libyaml keeps both. */
static bool key_repeated(struct parse *ps, yaml_node_t *map,
			 yaml_node_pair_t *p)
{
	const char *k = scalar(node(ps, p->key));
	for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
		const char *qk = scalar(node(ps, q->key));
		if (qk && k && !strcmp(qk, k))
			return true;
	}
	return false;
}

static int parse_task_key(struct parse *ps, struct pipeline_task *t,
			  yaml_node_t *map, yaml_node_pair_t *p)
{
	yaml_node_t *kn = node(ps, p->key), *vn = node(ps, p->value);
	const char *k = scalar(kn);
	if (!k)
		return at(ps, line_of(kn), "task `%s`: keys are strings",
			  t->name);
	if (key_repeated(ps, map, p))
		return at(ps, line_of(kn), "task `%s`: `%s` given twice",
			  t->name, k);
	if (!strcmp(k, "run"))
		return parse_run(ps, t, vn);
	if (!strcmp(k, "needs"))
		return parse_needs(ps, t, vn);
	if (!strcmp(k, "import")) {
		const char *path = scalar(vn);
		if (!path || !*path)
			return at(ps, line_of(vn),
				  "task `%s`: `import` wants a path", t->name);
		t->import = xstrdup(path);
		return 0;
	}
	const struct task_key *tk = find_key(k);
	if (!tk)
		return at(ps, line_of(kn), "task `%s`: unknown key `%s`",
			  t->name, k);
	return parse_key_value(ps, t, tk, vn);
}

static int parse_task(struct parse *ps, yaml_node_t *kn, yaml_node_t *vn,
		      struct pipeline_task *t)
{
	const char *name = scalar(kn);
	t->line = line_of(kn);
	if (!name || !valid_name(name))
		return at(ps, t->line,
			  "task `%s`: invalid name (want "
			  "[A-Za-z0-9][A-Za-z0-9._-]{0,127})",
			  name ? name : "?");
	t->name = xstrdup(name);
	if (vn->type != YAML_MAPPING_NODE)
		return at(ps, line_of(vn),
			  "task `%s`: want a mapping with "
			  "`run` and options",
			  name);
	for (yaml_node_pair_t *p = vn->data.mapping.pairs.start;
	     p < vn->data.mapping.pairs.top; p++) {
		int r = parse_task_key(ps, t, vn, p);
		if (r < 0)
			return r;
	}
	if (t->import && (t->argv.n || t->needs.n || t->opts.n || t->extra.n))
		return at(ps, t->line,
			  "task `%s`: an `import` task takes no `run`, `needs` "
			  "or options",
			  name);
	if (!t->argv.n && !t->import)
		return at(ps, t->line, "task `%s`: no `run` (or `import`)",
			  name);
	/* Options that exclude each other (--ro and --save). */
	struct wsbox_error e = {0};
	if (check_exec_opts(&t->opts, &e) < 0)
		return at(ps, t->line, "task `%s`: %s", name, e.msg);
	return 0;
}

static int by_name(const void *a, const void *b, void *arg)
{
	const struct pipeline_task *t = arg;
	return strcmp(t[*(const size_t *)a].name, t[*(const size_t *)b].name);
}

/* Index of task `name` in the name-sorted index `sorted`, or -1. */
static ssize_t find_task(const struct pipeline *p, const size_t *sorted,
			 const char *name)
{
	size_t lo = 0, hi = p->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->tasks[sorted[mid]].name, name);
		if (!c)
			return (ssize_t)sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Duplicate names, then every need to an index, each at most once per
 * task (by index: a list compared pairwise cost 9 s for 90 tasks needing
 * the same 9900). */
static int resolve_needs(struct parse *ps, struct pipeline *p)
{
	_cleanup_free_ size_t *sorted = xcalloc(p->n + 1, sizeof *sorted);
	/* seen[k] == i + 1: task i already needs task k. */
	_cleanup_free_ size_t *seen = xcalloc(p->n + 1, sizeof *seen);
	for (size_t i = 0; i < p->n; i++)
		sorted[i] = i;
	qsort_r(sorted, p->n, sizeof *sorted, by_name, p->tasks);
	for (size_t i = 1; i < p->n; i++) {
		struct pipeline_task *a = &p->tasks[sorted[i - 1]];
		struct pipeline_task *b = &p->tasks[sorted[i]];
		if (!strcmp(a->name, b->name))
			return at(ps, a->line > b->line ? a->line : b->line,
				  "task `%s` defined twice", a->name);
	}
	for (size_t i = 0; i < p->n; i++) {
		struct pipeline_task *t = &p->tasks[i];
		t->need_idx = xcalloc(t->needs.n + 1, sizeof *t->need_idx);
		for (size_t j = 0; j < t->needs.n; j++) {
			ssize_t k = find_task(p, sorted, t->needs.v[j]);
			if (k < 0)
				return at(ps, t->need_line[j],
					  "task `%s` needs "
					  "unknown task `%s`",
					  t->name, t->needs.v[j]);
			if (seen[k] == i + 1)
				return at(ps, t->need_line[j],
					  "task `%s`: `%s` needed twice",
					  t->name, t->needs.v[j]);
			seen[k] = i + 1;
			t->need_idx[j] = (size_t)k;
		}
	}
	return 0;
}

enum { WHITE, GREY, BLACK };

/* Depth-first search for a cycle through `i`; `path` holds the grey
 * tasks from the root. Returns the length of a cycle found (its tasks at
 * the tail of path), else 0. */
static size_t find_cycle(const struct pipeline *p, size_t i, char *colour,
			 size_t *path, size_t depth, size_t *start)
{
	colour[i] = GREY;
	path[depth] = i;
	const struct pipeline_task *t = &p->tasks[i];
	for (size_t j = 0; j < t->needs.n; j++) {
		size_t k = t->need_idx[j];
		if (colour[k] == GREY) {
			for (size_t d = 0; d <= depth; d++)
				if (path[d] == k)
					*start = d;
			return depth + 1 - *start;
		}
		if (colour[k] == WHITE) {
			size_t len =
			    find_cycle(p, k, colour, path, depth + 1, start);
			if (len)
				return len;
		}
	}
	colour[i] = BLACK;
	return 0;
}

static int check_acyclic(struct parse *ps, const struct pipeline *p)
{
	_cleanup_free_ char *colour = xcalloc(p->n + 1, 1);
	_cleanup_free_ size_t *path = xcalloc(p->n + 1, sizeof *path);
	for (size_t i = 0; i < p->n; i++) {
		if (colour[i] != WHITE)
			continue;
		size_t start = 0;
		size_t len = find_cycle(p, i, colour, path, 0, &start);
		if (!len)
			continue;
		/* path[start..] each needs the next; print it as needs go. */
		char chain[WSBOX_ERROR_MAX / 2] = "";
		for (size_t d = start; d < start + len; d++)
			appendf(chain, sizeof chain, "%s -> ",
				p->tasks[path[d]].name);
		appendf(chain, sizeof chain, "%s", p->tasks[path[start]].name);
		return at(ps, p->tasks[path[start]].line, "cycle in needs: %s",
			  chain);
	}
	return 0;
}

static void hash_strv(struct sha256 *h, const char *tag, const struct strv *s)
{
	sha256_update(h, tag, strlen(tag) + 1);
	for (size_t i = 0; i < s->n; i++)
		sha256_update(h, s->v[i], strlen(s->v[i]) + 1);
}

/* The definition as `wsbox exec` will get it, in the file's order
 * (reordering keys counts as a change: a re-run, never a wrong keep). */
static void digest_task(struct pipeline_task *t)
{
	struct sha256 h;
	unsigned char md[32];
	sha256_init(&h);
	sha256_update(&h, "wsbox-run-task 1", 17);
	sha256_update(&h, t->name, strlen(t->name) + 1);
	hash_strv(&h, "argv", &t->argv);
	sha256_update(&h, "import", 7);
	if (t->import)
		sha256_update(&h, t->import, strlen(t->import) + 1);
	hash_strv(&h, "needs", &t->needs);
	hash_strv(&h, "opts", &t->opts);
	hash_strv(&h, "extra", &t->extra);
	sha256_final(&h, md);
	sha256_format(md, t->digest);
}

static int parse_tasks(struct parse *ps, struct pipeline *p, yaml_node_t *tasks)
{
	if (tasks->type != YAML_MAPPING_NODE)
		return at(ps, line_of(tasks),
			  "`tasks` wants a mapping of "
			  "task names");
	size_t n = (size_t)(tasks->data.mapping.pairs.top -
			    tasks->data.mapping.pairs.start);
	if (!n)
		return at(ps, line_of(tasks), "no tasks");
	if (n > PIPELINE_MAX_TASKS)
		return at(ps, line_of(tasks), "%zu tasks: at most %u", n,
			  PIPELINE_MAX_TASKS);
	p->tasks = xcalloc(n, sizeof *p->tasks);
	for (yaml_node_pair_t *pr = tasks->data.mapping.pairs.start;
	     pr < tasks->data.mapping.pairs.top; pr++) {
		int r = parse_task(ps, node(ps, pr->key), node(ps, pr->value),
				   &p->tasks[p->n++]);
		if (r < 0)
			return r;
	}
	int r = resolve_needs(ps, p);
	if (r < 0)
		return r;
	r = check_acyclic(ps, p);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n; i++)
		digest_task(&p->tasks[i]);
	return 0;
}

static int parse_root(struct parse *ps, struct pipeline *p)
{
	yaml_node_t *root = yaml_document_get_root_node(ps->doc);
	if (!root)
		return at(ps, 1, "empty file (want a `tasks:` mapping)");
	if (root->type != YAML_MAPPING_NODE)
		return at(ps, line_of(root), "want a mapping with `tasks:`");
	yaml_node_t *tasks = NULL;
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *kn = node(ps, pr->key);
		const char *k = scalar(kn);
		if (!k || strcmp(k, "tasks"))
			return at(ps, line_of(kn),
				  "unknown key `%s` (want "
				  "`tasks:`)",
				  k ? k : "?");
		if (tasks)
			return at(ps, line_of(kn), "`tasks` given twice");
		tasks = node(ps, pr->value);
	}
	if (!tasks)
		return at(ps, line_of(root), "no `tasks:`");
	return parse_tasks(ps, p, tasks);
}

/* A second document (after `---`) would be ignored silently: refuse it. */
static int single_document(struct parse *ps, yaml_parser_t *parser)
{
	yaml_document_t next;
	if (!yaml_parser_load(parser, &next))
		return at(ps, (int)parser->problem_mark.line + 1, "%s",
			  parser->problem ? parser->problem : "not YAML");
	yaml_node_t *root = yaml_document_get_root_node(&next);
	int line = root ? line_of(root) : 0;
	yaml_document_delete(&next);
	if (root)
		return at(ps, line, "a second YAML document: want one");
	return 0;
}

int pipeline_parse(const char *file, const char *text, size_t len,
		   struct pipeline *p, struct wsbox_error *err)
{
	memset(p, 0, sizeof *p);
	p->file = xstrdup(file);
	int r = pipeline_check_bounds(file, text, len, err);
	if (r < 0)
		return r;
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser))
		return wsbox_fail(err, ENOMEM, "yaml parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = wsbox_fail(err, 0, "%s:%zu: %s", file,
			       parser.problem_mark.line + 1,
			       parser.problem ? parser.problem : "not YAML");
		yaml_parser_delete(&parser);
		return r;
	}
	struct parse ps = {.file = file, .doc = &doc, .err = err};
	r = parse_root(&ps, p);
	yaml_document_delete(&doc);
	if (r == 0)
		r = single_document(&ps, &parser);
	yaml_parser_delete(&parser);
	return r;
}

int pipeline_load(const char *path, struct pipeline *p, struct wsbox_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	memset(p, 0, sizeof *p);
	int r =
	    read_file_at(AT_FDCWD, path, PIPELINE_MAX_BYTES, &text, &len, err);
	if (r < 0)
		return r;
	return pipeline_parse(path, text, len, p, err);
}

void pipeline_free(struct pipeline *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct pipeline_task *t = &p->tasks[i];
		free(t->name);
		free(t->import);
		strv_free(&t->argv);
		strv_free(&t->needs);
		free(t->need_line);
		free(t->need_idx);
		strv_free(&t->opts);
		strv_free(&t->extra);
		free(t->mutex);
	}
	free(p->tasks);
	free(p->file);
	memset(p, 0, sizeof *p);
}
