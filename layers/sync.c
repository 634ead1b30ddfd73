/* layers/sync.c: pulling tasks with their ancestry into a store and pushing
 * a store's results to a remote (see sync.h). Reads every remote record
 * first, then moves layers, then writes records: the order that never lets
 * a local record name a layer that is not there. */
#include "layers/sync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "layers/cache.h"
#include "layers/layer.h"
#include "layers/lock.h"
#include "layers/record.h"
#include "layers/result.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* One task of the pull: its remote record, and whether and under which
 * attempt number it is written here. */
struct sync_item {
	struct task_record rec;
	bool write;
	uint64_t seq;
};

struct sync_set {
	struct sync_item *v;
	size_t n;
};

static void sync_set_free(struct sync_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		record_free(&set->v[i].rec);
	free(set->v);
	*set = (struct sync_set){0};
}

static bool sync_set_has(const struct sync_set *set, const char *task)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->v[i].rec.task, task))
			return true;
	return false;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Whether the local store should get the remote's record of `r`: it has
 * none, or (replace) one with another result. */
static bool wants_record(const struct store *s, const struct task_record *r,
			 bool replace)
{
	struct task_record local = {0};
	struct wsbox_error ignored = {0};
	if (record_read_shallow(s, r->run, r->task, &local, &ignored) < 0)
		return true;
	bool differs = !same_str(local.layer, r->layer) ||
		       !same_str(local.status, r->status);
	record_free(&local);
	return replace && differs;
}

/* Read the remote record of `task` into the set: 1 added, 0 the remote
 * has none (and `missing_ok`), or an error. */
static int add_remote(struct remote *rm, const struct store *s,
		      struct sync_pull *p, const char *task, bool missing_ok,
		      struct sync_set *set, struct wsbox_error *err)
{
	struct task_record r;
	struct wsbox_error e = {0};
	int ret = remote_get_record(rm, p->run, task, &r, &e);
	if (ret == -ENOENT && missing_ok)
		return 0;
	if (ret < 0) {
		*err = e;
		return ret;
	}
	set->v = xreallocarray(set->v, set->n + 1, sizeof *set->v);
	set->v[set->n++] = (struct sync_item){
	    .rec = r, .write = wants_record(s, &r, p->replace)};
	return 1;
}

/* The asked tasks, then every ancestor they name (their lists are
 * transitive) that this store should get a record of. */
static int read_records(struct remote *rm, const struct store *s,
			struct sync_pull *p, struct sync_set *set,
			struct wsbox_error *err)
{
	for (size_t i = 0; i < p->n_tasks; i++) {
		if (sync_set_has(set, p->tasks[i]))
			continue;
		int r =
		    add_remote(rm, s, p, p->tasks[i], p->missing_ok, set, err);
		if (r < 0)
			return r;
	}
	size_t asked = set->n;
	for (size_t i = 0; i < asked; i++) {
		for (size_t j = 0; j < set->v[i].rec.n_ancestors; j++) {
			const char *t = set->v[i].rec.ancestors[j].task;
			struct task_record probe = {.run = (char *)p->run,
						    .task = (char *)t};
			if (sync_set_has(set, t) ||
			    !wants_record(s, &probe, p->replace))
				continue;
			/* An ancestor recorded only on its own executor
			 * (an import never pushed): its layer still comes. */
			int r = add_remote(rm, s, p, t, true, set, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Every layer the set's records name (duplicates are fine:
 * remote_pull_layers takes each once); the count of those missing here. */
static char **wanted_layers(const struct store *s, const struct sync_set *set,
			    size_t *n, size_t *missing)
{
	size_t cap = 1;
	for (size_t i = 0; i < set->n; i++)
		cap += 1 + set->v[i].rec.n_ancestors;
	char **v = xcalloc(cap, sizeof *v);
	*n = *missing = 0;
	for (size_t i = 0; i < set->n; i++) {
		const struct task_record *r = &set->v[i].rec;
		if (r->layer)
			v[(*n)++] = r->layer;
		for (size_t j = 0; j < r->n_ancestors; j++)
			if (r->ancestors[j].layer)
				v[(*n)++] = r->ancestors[j].layer;
	}
	for (size_t i = 0; i < *n; i++) {
		bool seen = layer_exists(s, v[i]);
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(v[i], v[j]);
		*missing += !seen;
	}
	return v;
}

/* Under the task's lock: refuse when an attempt of this store that began
 * after the pull published first (or, without `replace`, when any record
 * appeared meanwhile). 1 written, 0 left alone. */
static int write_item(struct store *s, struct sync_item *it, bool replace,
		      struct wsbox_error *err)
{
	struct task_record *r = &it->rec;
	struct wsbox_error e = {0};
	int fd = result_lock(s, r->run, r->task, it->seq, &e);
	if (fd == -ESTALE)
		return 0;
	if (fd < 0) {
		*err = e;
		return fd;
	}
	int ret = 1;
	if (replace || wants_record(s, r, false)) {
		r->seq = it->seq;
		if (!r->attempt)
			r->attempt = xstrdup("pulled");
		ret = record_write(s, r, err);
		ret = ret < 0 ? ret : 1;
	} else {
		ret = 0;
	}
	store_unlock(&fd);
	return ret;
}

int sync_pull_tasks(struct remote *rm, struct store *s, struct sync_pull *p,
		    struct wsbox_error *err)
{
	_cleanup_(sync_set_free) struct sync_set set = {0};
	p->records = p->layers = 0;
	int r = read_records(rm, s, p, &set, err);
	if (r < 0)
		return r;
	/* Numbers first: whatever this store starts from now on ranks
	 * above the pulled records. */
	for (size_t i = 0; i < set.n; i++) {
		struct sync_item *it = &set.v[i];
		if (it->write && (r = result_begin(s, p->run, it->rec.task,
						   &it->seq, err)) < 0)
			return r;
	}
	size_t n, missing;
	_cleanup_free_ char **want = wanted_layers(s, &set, &n, &missing);
	r = remote_pull_layers(rm, s, want, n, err);
	if (r < 0)
		return r;
	p->layers = missing;
	for (size_t i = 0; i < set.n; i++) {
		if (!set.v[i].write)
			continue;
		r = write_item(s, &set.v[i], p->replace, err);
		if (r < 0)
			return r;
		p->records += (size_t)r;
	}
	return 0;
}

static void record_freep(struct task_record *r)
{
	record_free(r);
}

/* The local cache entry of the task's key, when the cache still has it. */
static int push_entry(struct remote *rm, struct store *s,
		      const struct task_record *rec, struct wsbox_error *err)
{
	if (!rec->cache_key)
		return 0;
	struct cache_entry e;
	if (cache_lookup(s, rec->cache_key, &e) != 1)
		return 0;
	cache_entry_free(&e);
	return remote_push_cache_entry(rm, s, rec->cache_key, err);
}

int sync_push_task(struct remote *rm, struct store *s, const char *run,
		   const char *task, struct wsbox_error *err)
{
	_cleanup_(record_freep) struct task_record rec = {0};
	int r = record_read(s, run, task, &rec, err);
	if (r < 0)
		return r;
	if (!rec.status || strcmp(rec.status, "succeeded"))
		return 1;
	/* A puller needs every layer of the ancestry; ancestors that were
	 * imported or ran without a remote never pushed theirs. */
	for (size_t i = 0; i < rec.n_ancestors; i++) {
		const char *l = rec.ancestors[i].layer;
		if (l && (r = remote_push_layer(rm, s, l, NULL, NULL, err)) < 0)
			return r;
	}
	r = remote_push_record(rm, s, run, task, err);
	if (r < 0)
		return r;
	return push_entry(rm, s, &rec, err);
}

int sync_push_run(struct remote *rm, struct store *s, const char *run,
		  size_t *pushed, struct wsbox_error *err)
{
	if (pushed)
		*pushed = 0;
	_cleanup_free_ char *rel = store_run_rel(run, "tasks", NULL);
	char **tasks;
	size_t n;
	int r = list_dir_at(s->fd, rel, valid_name, &tasks, &n, err);
	if (r == -ENOENT)
		return wsbox_fail(err, 0, "run %s: no task records", run);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = sync_push_task(rm, s, run, tasks[i], err);
		if (r == 0 && pushed)
			(*pushed)++;
	}
	free_strings(tasks, n);
	return r < 0 ? r : 0;
}
