/* sandbox/cli/exec_remote.c: what exec does with a remote (README "Many
 * executors", docs/remote.md "Executors"): parents missing here pulled with
 * their ancestry, the remote cache after a local miss, the result pushed. */
#include <errno.h>
#include "layers/sync.h"
#include "sandbox/cli/exec_ctx.h"
#include "sandbox/util/json.h"

/* Step 3, with a remote: the parents this store has no record of are
 * pulled with the part of their ancestry it lacks (records and layers),
 * under the gc lock identify_task took, as `wsbox pull` does. A failed
 * pull leaves no record (the attempt does not count yet); a parent the
 * remote lacks too is refused by assemble_workspace. */
int fetch_parents(struct exec_ctx *c, struct wsbox_error *err)
{
	if (!c->has_remote)
		return 0;
	struct strv missing = {0};
	for (size_t i = 0; i < c->o.parents.n; i++) {
		struct task_record r = {0};
		struct wsbox_error ignored = {0};
		if (record_read_shallow(&c->store, c->run, c->o.parents.v[i],
					&r, &ignored) == -ENOENT)
			strv_push(&missing, c->o.parents.v[i]);
		record_free(&r);
	}
	if (!missing.n)
		return 0;
	struct sync_pull p = {.run = c->run,
			      .tasks = missing.v,
			      .n_tasks = missing.n,
			      .missing_ok = true};
	int r = sync_pull_tasks(&c->rm, &c->store, &p, err);
	if (r == 0)
		events_emit(&c->ev, "remote_pulled",
			    json_pack("{s:o, s:I, s:I}", "parents",
				      json_strv(missing.v, missing.n),
				      "records", (json_int_t)p.records,
				      "layers", (json_int_t)p.layers));
	strv_free(&missing);
	return r;
}

/* Step 10, with a remote: a success (run here or served from a cache) is
 * shared: its ancestry's layers, its layer, record and cache entry. A
 * failed push keeps the local result and fails the exec (125), with the
 * command that retries it. */
int push_result(struct exec_ctx *c, int status, struct wsbox_error *err)
{
	if (status != 0 || !c->has_remote)
		return status;
	int r = sync_push_task(&c->rm, &c->store, c->run, c->task, err);
	if (r >= 0)
		return 0;
	snprintf(c->hint, sizeof c->hint,
		 "task %s is published in this store; retry the push with "
		 "`wsbox push --run %s --task %s%s%s%s%s`",
		 c->task, c->run, c->task, c->o.store ? " --store " : "",
		 c->o.store ? c->o.store : "", c->o.remote ? " --remote " : "",
		 c->o.remote ? c->o.remote : "");
	return r;
}

/* After a local miss, the remote's cache: a hit there is pulled (layer
 * verified, entry and logs stored here) and served like a local one. A
 * remote that cannot answer costs a miss, not the task: its push says
 * whether the remote is back. */
int lookup_remote(struct exec_ctx *c, struct cache_entry *e)
{
	if (!c->has_remote)
		return 0;
	struct wsbox_error rerr = {0};
	int r = remote_lookup_cache(&c->rm, &c->store, c->key, e, &rerr);
	if (r < 0)
		fprintf(stderr,
			"wsbox: warning: %s (cache looked up as a miss)\n",
			rerr.msg);
	c->remote_hit = r == 1;
	return r == 1;
}
