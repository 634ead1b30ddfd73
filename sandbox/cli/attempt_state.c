/* sandbox/cli/attempt_state.c: a multi-step attempt written down and read
 * back (staging/<id>/attempt.json, docs/exec.md "Attempts"): the options
 * and the resolved workspace `attempt begin` found, so every step and the
 * commit work from exactly that state. */
#include <string.h>
#include "sandbox/cli/attempt_state.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/json.h"
#include "sandbox/util/logcap.h"

/* A policy file is named by its absolute path: steps run from anywhere. */
char *attempt_state_policy_name(const char *name)
{
	size_t n = strlen(name);
	bool file =
	    strchr(name, '/') || (n > 7 && !strcmp(name + n - 7, ".policy"));
	char *abs = file ? realpath(name, NULL) : NULL;
	return abs ? abs : xstrdup(name);
}

/* An events file is named by its absolute path: steps run from anywhere
 * ("-" and "fd:N" mean the step's own stderr and fd N). */
static char *events_for_steps(const char *spec)
{
	if (!spec || spec[0] == '/' || !strcmp(spec, "-") ||
	    !strncmp(spec, "fd:", 3))
		return spec ? xstrdup(spec) : NULL;
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	return cwd ? xasprintf("%s/%s", cwd, spec) : xstrdup(spec);
}

static json_t *ancestors_json(const struct exec_ctx *c)
{
	json_t *a = json_array();
	for (size_t i = 0; i < c->dag.n; i++) {
		const struct record_node *n = &c->dag.nodes[i];
		json_array_append_new(
		    a, json_pack("{s:s, s:o, s:o}", "task", n->task, "layer",
				 json_str_or_null(n->layer), "parents",
				 json_strv(n->parents, n->n_parents)));
	}
	return a;
}

static json_t *env_json(char **envp)
{
	json_t *a = json_array();
	for (char **e = envp; e && *e; e++)
		json_array_append_new(a, json_string(*e));
	return a;
}

/* Everything a step and the commit need, resolved once at begin: the
 * workspace (lowers, pins, ancestors), the root filesystem, the ids, the
 * policy and what the sandbox is given. */
json_t *attempt_state_json(const struct exec_ctx *c, const char *policy,
			   pid_t owner, unsigned long long start)
{
	const struct exec_opts *o = &c->o;
	_cleanup_free_ char *events = events_for_steps(o->events);
	json_t *j = json_pack(
	    "{s:i, s:s, s:s, s:s, s:I, s:f, s:o, s:o, s:o, s:o, s:s, s:s, "
	    "s:o, s:s, s:s}",
	    "version", ATTEMPT_FORMAT, "run", c->run, "task", c->task,
	    "attempt", c->att.id, "seq", (json_int_t)c->seq, "started",
	    c->rec.started, "parents", json_strv(o->parents.v, o->parents.n),
	    "ancestors", ancestors_json(c), "lowers",
	    json_strv(c->lowers.v, c->lowers.n), "lower_digests",
	    json_strv(c->lower_digests.v, c->lower_digests.n), "rootfs",
	    c->rootfs, "rootfs_id", c->rootfs_id, "rootfs_opt",
	    json_str_or_null(o->rootfs), "policy", policy, "policy_digest",
	    c->pol.digest);
	json_object_set_new(j, "ids",
			    json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I}",
				      "root", c->root, "idmap", c->idmap,
				      "host_uid", (json_int_t)c->host_uid,
				      "host_gid", (json_int_t)c->host_gid,
				      "id_count", (json_int_t)c->id_count,
				      "layer_uid", (json_int_t)c->layer_uid,
				      "layer_gid", (json_int_t)c->layer_gid));
	json_object_set_new(
	    j, "sandbox",
	    json_pack("{s:o, s:s, s:I, s:I, s:s, s:s, s:b, s:o, s:I, s:I, "
		      "s:I, s:I, s:o, s:o, s:o, s:b, s:o}",
		      "env", env_json(c->envp), "cwd", o->cwd, "uid",
		      (json_int_t)o->uid, "gid", (json_int_t)o->gid, "hostname",
		      o->hostname, "net", o->net == NET_HOST ? "host" : "none",
		      "ro", o->ro, "save", json_strv(o->save.v, o->save.n),
		      "timeout", (json_int_t)o->timeout_sec, "memory",
		      (json_int_t)o->memory, "pids", (json_int_t)o->pids,
		      "cpu_milli", (json_int_t)o->cpu_milli, "cgroup_parent",
		      json_str_or_null(o->cgroup_parent), "mutex",
		      json_str_or_null(o->mutex), "events",
		      json_str_or_null(events), "keep_failed", o->keep_failed,
		      "cache_key_extra",
		      json_strv(o->cache_key_extra.v, o->cache_key_extra.n)));
	json_object_set_new(json_object_get(j, "sandbox"), "max_log_size",
			    json_integer((json_int_t)o->max_log_size));
	json_object_set_new(j, "owner",
			    json_pack("{s:i, s:I}", "pid", (int)owner, "start",
				      (json_int_t)start));
	return j;
}

const char *attempt_state_str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

uint64_t attempt_state_int(json_t *o, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(o, k));
}

void attempt_state_strv(struct strv *v, json_t *a)
{
	for (size_t i = 0; i < json_array_size(a); i++)
		strv_push(v, json_string_value(json_array_get(a, i)));
}

static char **strings_of_json(json_t *a, size_t *n)
{
	*n = json_array_size(a);
	char **v = xcalloc(*n + 1, sizeof *v);
	for (size_t i = 0; i < *n; i++)
		v[i] = xstrdup(json_string_value(json_array_get(a, i)));
	return v;
}

void attempt_state_ancestors(struct exec_ctx *c, json_t *a)
{
	c->dag.n = json_array_size(a);
	c->dag.nodes = xcalloc(c->dag.n + 1, sizeof *c->dag.nodes);
	for (size_t i = 0; i < c->dag.n; i++) {
		json_t *n = json_array_get(a, i);
		struct record_node *d = &c->dag.nodes[i];
		d->task = xstrdup(attempt_state_str(n, "task"));
		d->layer = attempt_state_str(n, "layer")
			       ? xstrdup(attempt_state_str(n, "layer"))
			       : NULL;
		d->parents = strings_of_json(json_object_get(n, "parents"),
					     &d->n_parents);
	}
	c->rec.ancestors = c->dag.nodes;
	c->rec.n_ancestors = c->dag.n;
}

void attempt_state_ids(struct exec_ctx *c, json_t *ids)
{
	c->root = json_is_true(json_object_get(ids, "root"));
	c->idmap = json_is_true(json_object_get(ids, "idmap"));
	c->host_uid = (uid_t)attempt_state_int(ids, "host_uid");
	c->host_gid = (gid_t)attempt_state_int(ids, "host_gid");
	c->id_count = (uid_t)attempt_state_int(ids, "id_count");
	c->layer_uid = (uid_t)attempt_state_int(ids, "layer_uid");
	c->layer_gid = (gid_t)attempt_state_int(ids, "layer_gid");
}

void attempt_state_sandbox(struct exec_ctx *c, json_t *sb)
{
	struct exec_opts *o = &c->o;
	size_t n;
	c->envp = strings_of_json(json_object_get(sb, "env"), &n);
	o->cwd = attempt_state_str(sb, "cwd");
	o->uid = (uid_t)attempt_state_int(sb, "uid");
	o->gid = (gid_t)attempt_state_int(sb, "gid");
	o->hostname = attempt_state_str(sb, "hostname");
	o->net =
	    !strcmp(attempt_state_str(sb, "net"), "host") ? NET_HOST : NET_NONE;
	o->ro = json_is_true(json_object_get(sb, "ro"));
	attempt_state_strv(&o->save, json_object_get(sb, "save"));
	o->timeout_sec = (unsigned)attempt_state_int(sb, "timeout");
	o->memory = attempt_state_int(sb, "memory");
	o->pids = attempt_state_int(sb, "pids");
	o->cpu_milli = (uint32_t)attempt_state_int(sb, "cpu_milli");
	/* Every step's logs count against begin's --max-log-size. */
	o->max_log_size = attempt_state_int(sb, "max_log_size");
	if (!o->max_log_size)
		o->max_log_size = LOGCAP_DEFAULT_MAX;
	o->cgroup_parent = attempt_state_str(sb, "cgroup_parent");
	o->mutex = attempt_state_str(sb, "mutex");
	o->events = attempt_state_str(sb, "events");
	o->keep_failed = json_is_true(json_object_get(sb, "keep_failed"));
	attempt_state_strv(&o->cache_key_extra,
			   json_object_get(sb, "cache_key_extra"));
}

/* The names and the record as begin left them. */
void attempt_state_names(struct exec_ctx *c, json_t *j)
{
	c->run = xstrdup(attempt_state_str(j, "run"));
	c->task = attempt_state_str(j, "task");
	c->seq = attempt_state_int(j, "seq");
	c->ev.run = c->run;
	c->ev.task = c->task;
	c->ev.attempt = c->att.id;
	struct task_record *rec = &c->rec;
	rec->run = c->run;
	rec->task = (char *)c->task;
	rec->attempt = c->att.id;
	rec->seq = c->seq;
	rec->started = json_real_value(json_object_get(j, "started"));
	rec->parents = c->o.parents.v;
	rec->n_parents = c->o.parents.n;
	rec->lowers = c->lower_digests.v;
	rec->n_lowers = c->lower_digests.n;
	rec->ro = c->o.ro;
	rec->cache_key_extra = c->o.cache_key_extra.v;
	rec->n_cache_key_extra = c->o.cache_key_extra.n;
	c->uncacheable = ATTEMPT_UNCACHEABLE;
	rec->uncacheable = (char *)c->uncacheable;
}
