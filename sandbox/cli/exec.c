/* sandbox/cli/exec.c: `wsbox exec`, the lifecycle of one task (docs/exec.md
 * "Lifecycle", docs/cache.md "Compare-and-swap"): parse and validate; resolve
 * the ancestors and refuse conflicts; draw an attempt number; settle stdin
 * (sandbox/cli/exec_stdin.h) and compute the cache key and, on a hit, publish
 * the cached result without any sandbox; else stage the attempt, build the
 * plan and run the sandbox; capture the upper dir on success; publish layer,
 * logs, record and cache entry in one compare-and-swap under the task's lock;
 * report events; turn the outcome into an exit status. From workspace
 * assembly on, every attempt leaves a record, also a refused, superseded or
 * failed one (record_unpublished). Store and sandbox meet only here, through
 * the plan.
 *
 * With a remote (README "Many executors"; layers/sync.h): parents missing
 * here are pulled with their ancestry before the workspace is assembled,
 * the remote cache is asked after a local miss, and a success is pushed
 * after its publication (a failed push keeps the local result, exit 125).
 *
 * Locks (layers/lock.h): the gc lock is held shared only while records are
 * read (and parents pulled) and while results are published; the task's
 * lock only around the publication; --mutex only while the sandbox runs. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "layers/layer.h"
#include "layers/lock.h"
#include "layers/result.h"
#include "layers/rootfs.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/exec_ctx.h"
#include "sandbox/cli/remote_cli.h"
#include "sandbox/identity.h"
#include "sandbox/idrange_alloc.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/json.h"
#include "sandbox/util/trace.h"

extern char **environ;

/* A block of the range allocation file's pool was refused: the remedy is
 * the pool, not --idmap-base or root's /etc/subuid entry, which ns_user.c's
 * refusal names (that refusal does not know where its base came from). */
static void pool_block_hint(struct wsbox_error *err)
{
	static const char idmap_hint[] =
	    "; pick another with --idmap-base or give root its own "
	    "/etc/subuid entry";
	char *at = strstr(err->msg, idmap_hint);
	if (!at || at[sizeof idmap_hint - 1])
		return;
	snprintf(at, sizeof err->msg - (size_t)(at - err->msg),
		 "; move the pool in `%s` to ids no one else has",
		 idrange_alloc_file());
}

static int resolve_ids(struct exec_ctx *c, struct wsbox_error *err)
{
	struct identity id;
	struct identity_block b = {.tenant = c->o.tenant,
				   .run = c->o.run,
				   .store_path = c->store.path,
				   .store_uid = c->store.owner_uid,
				   .store_gid = c->store.owner_gid,
				   .idmap_base = c->o.idmap_base};
	unsigned long base;
	bool own;
	int r = identity_block_base(&b, &base, &own, err);
	if (r < 0)
		return r;
	r = identity_resolve(base, c->store.path, c->store.owner_uid,
			     c->store.owner_gid, &id, err);
	/* Without idmapped lowers a run's layers would be its own id's, which
	 * no other run's cache hit could read: all runs share the range. */
	if (r == 0 && own && !id.idmap)
		r = identity_resolve(0, c->store.path, c->store.owner_uid,
				     c->store.owner_gid, &id, err);
	if (r < 0) {
		if ((c->o.tenant && !c->o.idmap_base) || own)
			pool_block_hint(err);
		if (c->o.tenant)
			wsbox_error_prefix(err, "tenant %s", c->o.tenant);
		else if (own)
			wsbox_error_prefix(err, "%s%s's id block",
					   c->o.run ? "run " : "one-off exec",
					   c->o.run ? c->o.run : "");
		return r;
	}
	c->root = id.root;
	c->host_uid = id.host_uid;
	c->host_gid = id.host_gid;
	c->idmap = id.idmap;
	c->id_count = id.id_count;
	c->layer_uid = id.layer_uid;
	c->layer_gid = id.layer_gid;
	if (c->idmap && (c->o.uid >= id.id_count || c->o.gid >= id.id_count))
		return wsbox_fail(err, 0,
				  "--uid %u --gid %u: outside the %u ids "
				  "mapped in root mode",
				  (unsigned)c->o.uid, (unsigned)c->o.gid,
				  (unsigned)id.id_count);
	return 0;
}

void ctx_free(struct exec_ctx *c)
{
	for (size_t i = 0; i < c->dag.n && c->manifests; i++)
		if (c->manifests[i]) {
			manifest_free(c->manifests[i]);
			free(c->manifests[i]);
		}
	free(c->manifests);
	dag_free(&c->dag);
	strv_free(&c->lowers);
	strv_free(&c->lower_digests);
	strv_free(&c->stacked);
	copy_ws_free(&c->copy);
	strv_free(&c->pins);
	for (char **e = c->envp; e && *e; e++)
		free(*e);
	free(c->envp);
	int fds[] = {c->out_pipe[0], c->out_pipe[1], c->err_pipe[0],
		     c->err_pipe[1], c->out_log,     c->err_log,
		     c->comb_log};
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	exec_stdin_close(&c->in);
	store_unlock(&c->gc_lock);
	store_unlock(&c->task_lock);
	store_unlock(&c->mutex_lock);
	manifest_free(&c->captured);
	events_close(&c->ev);
	free(c->rootfs);
	free(c->rootfs_id);
	free(c->run);
	free(c->empty);
	free(c->bpf_dir);
	policy_free(&c->pol);
	if (c->has_remote)
		remote_close(&c->rm);
	store_close(&c->store);
	exec_opts_free(&c->o);
	/* The record borrows parents/lowers from above; only free its own. */
	free(c->rec.layer);
}

/* The task's output goes to the attempt's staging dir until the result is
 * published (a superseded attempt leaves no log behind). */
int open_logs(struct exec_ctx *c, struct wsbox_error *err)
{
	const int fl = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
	c->out_log = openat(c->att.dirfd, "stdout", fl, 0600);
	c->err_log = openat(c->att.dirfd, "stderr", fl, 0600);
	c->comb_log = openat(c->att.dirfd, "combined", fl, 0600);
	if (c->out_log < 0 || c->err_log < 0 || c->comb_log < 0)
		return wsbox_fail(err, errno, "create logs in `%s`",
				  c->att.dir);
	if (pipe2(c->out_pipe, O_CLOEXEC) < 0 ||
	    pipe2(c->err_pipe, O_CLOEXEC) < 0)
		return wsbox_fail(err, errno, "pipe");
	return 0;
}

/* The names the record gives the attempt's logs (runs/<run>/logs/), fixed
 * before they exist: a record staged ahead of them names them already. */
static void name_logs(struct exec_ctx *c)
{
	if (c->rec.stdout_log)
		return;
	_cleanup_free_ char *out = xasprintf("%s.out", c->att.id);
	_cleanup_free_ char *errf = xasprintf("%s.err", c->att.id);
	_cleanup_free_ char *comb = xasprintf("%s.log", c->att.id);
	c->rec.stdout_log = store_run_rel(c->run, "logs", out);
	c->rec.stderr_log = store_run_rel(c->run, "logs", errf);
	c->rec.combined_log = store_run_rel(c->run, "logs", comb);
}

static int make_log_dir(struct exec_ctx *c, struct wsbox_error *err)
{
	_cleanup_free_ char *dir = store_run_rel(c->run, "logs", NULL);
	name_logs(c);
	return store_mkdir_rel(&c->store, dir, err);
}

/* The identity of the root filesystem in the cache key: an imported
 * rootfs's digest; for a host directory its canonical path, device and
 * inode (README "Cache": change a host rootfs in place and the cache cannot
 * tell; import it to get content identity). */
static int rootfs_identity(struct exec_ctx *c, bool imported,
			   struct wsbox_error *err)
{
	if (imported)
		return rootfs_digest(&c->store, c->o.rootfs, &c->rootfs_id,
				     err);
	struct stat st;
	if (stat(c->rootfs, &st) < 0)
		return wsbox_fail(err, errno, "rootfs `%s`", c->rootfs);
	c->rootfs_id = xasprintf("host-dir:%s:%llu:%llu", c->rootfs,
				 (unsigned long long)st.st_dev,
				 (unsigned long long)st.st_ino);
	return 0;
}

static void compute_key(struct exec_ctx *c)
{
	struct exec_opts *o = &c->o;
	const char **pass_values =
	    xcalloc(o->env_pass.n + 1, sizeof *pass_values);
	for (size_t i = 0; i < o->env_pass.n; i++)
		pass_values[i] = getenv(o->env_pass.v[i]);
	struct cache_key_input in = {
	    .rootfs_id = c->rootfs_id,
	    .lowers = c->lower_digests.v,
	    .n_lowers = c->lower_digests.n,
	    .argv = o->argv,
	    .envp = c->envp,
	    .env_pass = o->env_pass.v,
	    .env_pass_values = pass_values,
	    .n_env_pass = o->env_pass.n,
	    .uid = o->uid,
	    .gid = o->gid,
	    .cwd = o->cwd,
	    .hostname = o->hostname,
	    .net = (int)o->net,
	    .policy = c->pol.digest,
	    .save = o->save.v,
	    .n_save = o->save.n,
	    .ro = o->ro,
	    .max_layer_size = o->max_layer_size,
	    .stdin_id = c->in.id,
	    .extra = o->cache_key_extra.v,
	    .n_extra = o->cache_key_extra.n,
	    .tenant = o->tenant,
	};
	cache_key(&in, c->key);
	free(pass_values);
}

double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The compare-and-swap check under the task's lock (result_lock); a newer
 * attempt that published first makes this one superseded. */
static int lock_result(struct exec_ctx *c, struct wsbox_error *err)
{
	c->task_lock = result_lock(&c->store, c->run, c->task, c->seq, err);
	if (c->task_lock == -ESTALE)
		c->superseded = true;
	return c->task_lock < 0 ? c->task_lock : 0;
}

/* The task's record (published state), then the attempt's own (history:
 * its failure is a warning, the result stands). Under the task's lock. A
 * record staged before the layer's syncfs (st, synced) is committed. */
static int write_records(struct exec_ctx *c, struct record_staged *st,
			 bool synced, struct wsbox_error *err)
{
	int r = st && st->tmp ? record_commit(&c->store, st, synced, err)
			      : record_write(&c->store, &c->rec, err);
	if (r < 0)
		return r;
	c->recorded = true;
	struct wsbox_error aerr = {0};
	if (record_link_attempt(&c->store, &c->rec, &aerr) < 0)
		fprintf(stderr, "wsbox: warning: attempt record: %s\n",
			aerr.msg);
	return 0;
}

/* Staging's logs into runs/<run>/logs/ (a superseded attempt never gets
 * here and leaves none). */
static int publish_logs(struct exec_ctx *c, struct wsbox_error *err)
{
	int r = make_log_dir(c, err);
	if (r < 0)
		return r;
	const char *from[] = {"stdout", "stderr", "combined"};
	const char *to[] = {c->rec.stdout_log, c->rec.stderr_log,
			    c->rec.combined_log};
	for (size_t i = 0; i < ARRAY_SIZE(from); i++)
		if (renameat(c->att.dirfd, from[i], c->store.fd, to[i]) < 0)
			return wsbox_fail(err, errno, "publish logs of task %s",
					  c->task);
	c->logs_published = true;
	return 0;
}

/* layer_publish_sync's hook, just before its syncfs: the task record, final
 * but for the layer's digest, goes to its temporary file so that syncfs
 * flushes it too (one flush less per published layer, README
 * "Performance"); it becomes visible only after the layer, the cache
 * entry and the logs, as before. */
struct stage_hook {
	struct exec_ctx *c;
	struct record_staged *st;
};

static int stage_record(void *ctx, const char *digest, struct wsbox_error *err)
{
	struct stage_hook *h = ctx;
	free(h->c->rec.layer);
	h->c->rec.layer = xstrdup(digest);
	name_logs(h->c);
	return record_stage(&h->c->store, &h->c->rec, h->st, err);
}

/* A staged record not committed (publication failed on the way) leaves no
 * temporary file. */
struct staged_record {
	struct store *s;
	struct record_staged st;
};

static void staged_record_free(struct staged_record *r)
{
	record_staged_free(r->s, &r->st);
}

/* Publish this attempt's result: the compare-and-swap of docs/cache.md
 * "Compare-and-swap". Under the shared gc lock (so gc cannot take the layer
 * between its publication and the record naming it) and the task's lock: refuse
 * when a newer attempt published meanwhile, else publish the layer, the cache
 * entry, the logs, then the record, each atomic, in the order that never
 * lets a record or an entry name something missing. */
static int publish_result(struct exec_ctx *c, bool cache_it,
			  struct wsbox_error *err)
{
	int r;
	c->gc_lock = store_lock(&c->store, LOCK_GC, false, err);
	if (c->gc_lock < 0)
		return c->gc_lock;
	r = lock_result(c, err);
	if (r < 0)
		return r;
	_cleanup_(staged_record_free) struct staged_record st = {.s =
								     &c->store};
	bool synced = false;
	if (c->have_capture) {
		char digest[DIGEST_STRLEN];
		struct stage_hook h = {c, &st.st};
		r = layer_publish_sync(&c->store, &c->att, "upper",
				       &c->captured, digest, stage_record, &h,
				       &synced, err);
		if (r < 0) {
			wsbox_error_prefix(err, "capture");
			return r;
		}
		free(c->rec.layer);
		c->rec.layer = xstrdup(digest);
	}
	if (cache_it && !c->uncacheable) {
		struct cache_entry e = {.layer = c->rec.layer,
					.bytes = c->rec.bytes,
					.files = c->rec.files,
					.wall_sec = c->rec.wall_sec};
		/* A cache that cannot be written costs a later miss, not this
		 * task's result. */
		struct wsbox_error cerr = {0};
		if (cache_store(&c->store, &c->att, c->key, &e, &cerr) < 0)
			fprintf(stderr, "wsbox: warning: %s\n", cerr.msg);
	}
	r = publish_logs(c, err);
	if (r < 0)
		return r;
	/* Layer, cache entry and logs are out: the rest of staging can go
	 * while the record waits for the disk. */
	exec_discard_release(c);
	r = write_records(c, &st.st, synced, err);
	exec_discard_finish(c);
	store_unlock(&c->task_lock);
	store_unlock(&c->gc_lock);
	return r;
}

/* The run keeps its own links to the cached output, so evicting the entry
 * later does not take the run's logs. An entry without a combined log
 * (older) gives the run none. */
static int link_cached_logs(struct exec_ctx *c, struct wsbox_error *err)
{
	struct task_record *rec = &c->rec;
	int r = make_log_dir(c, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *out = cache_file(c->key, "stdout");
	_cleanup_free_ char *errf = cache_file(c->key, "stderr");
	_cleanup_free_ char *comb = cache_file(c->key, "combined");
	if (linkat(c->store.fd, out, c->store.fd, rec->stdout_log, 0) < 0 ||
	    linkat(c->store.fd, errf, c->store.fd, rec->stderr_log, 0) < 0)
		return wsbox_fail(err, errno, "link cached logs of task %s",
				  c->task);
	if (linkat(c->store.fd, comb, c->store.fd, rec->combined_log, 0) < 0) {
		if (errno != ENOENT)
			return wsbox_fail(
			    err, errno, "link cached logs of task %s", c->task);
		free(rec->combined_log);
		rec->combined_log = NULL;
	}
	c->logs_published = true;
	return 0;
}

/* A cache hit: the cached layer becomes this task's layer, the cached
 * output is replayed; no staging, no namespace. Called with the gc lock
 * held shared (taken before the lookup). */
static int publish_hit(struct exec_ctx *c, struct cache_entry *e,
		       struct wsbox_error *err)
{
	int r;
	struct task_record *rec = &c->rec;
	rec->layer = e->layer ? xstrdup(e->layer) : NULL;
	rec->bytes = e->bytes;
	rec->files = e->files;
	rec->cache_hit = true;
	rec->status = "succeeded";
	rec->exit_status = 0;
	r = lock_result(c, err);
	if (r < 0)
		return r;
	r = link_cached_logs(c, err);
	if (r < 0)
		return r;
	rec->wall_sec = wall_now() - rec->started;
	r = write_records(c, NULL, false, err);
	store_unlock(&c->task_lock);
	store_unlock(&c->gc_lock);
	if (r < 0)
		return r;
	return cache_replay(&c->store, c->key, STDOUT_FILENO, STDERR_FILENO,
			    err);
}

/* Step 1: stdin's kind, events, a --rootfs path, the remote, the store.
 * Everything that needs no store write is validated first: a --rootfs path
 * and the remote's URL are checked before the store is created, an
 * imported rootfs name after it is opened (identify_task). */
int open_store(struct exec_ctx *c, struct wsbox_error *err)
{
	struct exec_opts *o = &c->o;
	/* First: a closed fd 0 is filled before anything else is opened. */
	int r = exec_stdin_classify(&c->in, err);
	if (r < 0)
		return r;
	r = events_open(&c->ev, o->events, err);
	if (r < 0)
		return r;
	c->rootfs_is_path =
	    o->rootfs && (strchr(o->rootfs, '/') || o->rootfs[0] == '.');
	if (c->rootfs_is_path) {
		r = rootfs_resolve(NULL, o->rootfs, &c->rootfs, err);
		if (r < 0)
			return r;
	}
	/* A bad remote URL is refused before the store is touched; pulled
	 * layers get their owner once it is known (identify_task). */
	struct remote_cli ro = {.url = o->remote,
				.insecure = o->remote_insecure,
				.compression = o->remote_compression};
	r = remote_cli_open(&ro, 0, 0, &c->rm, &c->has_remote, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *store_path = store_default_path(o->store);
	return store_open(store_path, true, &c->store, err);
}

/* The root filesystem (the host's "/" by default, else a path or an
 * imported name) and its identity for the cache key. */
static int resolve_rootfs(struct exec_ctx *c, struct wsbox_error *err)
{
	struct exec_opts *o = &c->o;
	if (!o->rootfs) {
		c->rootfs = xstrdup("/");
	} else if (!c->rootfs_is_path) {
		int r = rootfs_resolve(&c->store, o->rootfs, &c->rootfs, err);
		if (r < 0)
			return r;
	}
	int r = rootfs_check_store(&c->store, c->rootfs, err);
	if (r < 0)
		return r;
	c->rootfs_imported = r == 1;
	return rootfs_identity(c, o->rootfs && !c->rootfs_is_path, err);
}

/* The run, task and attempt names, given to the events and the record. */
static void name_attempt(struct exec_ctx *c)
{
	struct exec_opts *o = &c->o;
	c->run = o->run ? xstrdup(o->run)
			: xasprintf("adhoc-%lld-%d", (long long)time(NULL),
				    (int)getpid());
	c->task = o->task ? o->task : "main";
	attempt_new_id(&c->att);
	c->ev.run = c->run;
	c->ev.task = c->task;
	c->ev.attempt = c->att.id;

	struct task_record *rec = &c->rec;
	rec->run = c->run;
	rec->task = (char *)c->task;
	rec->attempt = c->att.id;
	rec->parents = o->parents.v;
	rec->n_parents = o->parents.n;
	rec->ro = o->ro;
	rec->cache_key_extra = o->cache_key_extra.v;
	rec->n_cache_key_extra = o->cache_key_extra.n;
	rec->started = wall_now();
}

/* Step 2: who the task runs as, on which root filesystem and workspace
 * strategy, under which names; then the shared gc lock, under which records
 * are read and layers pinned. */
int identify_task(struct exec_ctx *c, struct wsbox_error *err)
{
	int r = resolve_ids(c, err);
	if (r < 0)
		return r;
	/* Pulled layers are owned like the layers this exec publishes. */
	c->rm.owner_uid = c->layer_uid;
	c->rm.owner_gid = c->layer_gid;
	r = resolve_rootfs(c, err);
	if (r < 0)
		return r;
	/* The workspace strategy is the host's and the options' business:
	 * one that cannot work here is refused before the attempt counts. */
	r = exec_strategy_choose(&c->store, c->o.strategy, &c->strat, err);
	if (r < 0)
		return r;
	name_attempt(c);
	c->gc_lock = store_lock(&c->store, LOCK_GC, false, err);
	return c->gc_lock < 0 ? c->gc_lock : 0;
}

/* Step 2: the seccomp policy, its compiled filters cached in the store
 * (before the workspace: a bad --policy is an option error and leaves no
 * record). */
int load_policy(struct exec_ctx *c, struct wsbox_error *err)
{
	c->bpf_dir = store_path_of(&c->store, STORE_BPF_CACHE);
	struct policy_options popts = {.bpf_cache_dir = c->bpf_dir,
				       .squash_chown = true};
	return policy_load(c->o.policy, &popts, &c->pol, err);
}

/* The task's stdin, settled (a file copied and hashed), and whether the
 * task can be cached at all: a stream on stdin can only be keyed by the
 * names the caller gives it (--cache-key-extra). */
static int settle_stdin(struct exec_ctx *c, struct wsbox_error *err)
{
	bool named = c->o.cache_key_extra.n > 0;
	int r = exec_stdin_snapshot(&c->in, named, err);
	if (r < 0)
		return r;
	c->uncacheable = named ? NULL : exec_stdin_stream_reason(&c->in);
	c->rec.uncacheable = (char *)c->uncacheable;
	return 0;
}

/* Step 4: the workspace is valid: draw the attempt's number (any attempt
 * of this task that draws a higher number and publishes first wins), then
 * stdin, the environment and the cache key. */
static int begin_attempt(struct exec_ctx *c, struct wsbox_error *err)
{
	c->began = true;
	int r = result_begin(&c->store, c->run, c->task, &c->seq, err);
	if (r < 0)
		return r;
	c->rec.seq = c->seq;
	r = settle_stdin(c, err);
	if (r < 0)
		return r;
	c->envp = exec_build_env(&c->o, environ);
	if (!c->uncacheable) {
		compute_key(c);
		c->rec.cache_key = c->key;
	}
	emit_started(c);
	return 0;
}

/* Step 5: on a hit, publish the cached result here (c->hit) and run
 * nothing; a miss is announced. */
static int lookup_cache(struct exec_ctx *c, struct wsbox_error *err)
{
	struct cache_entry e;
	if (c->uncacheable) {
		events_emit(&c->ev, "cache_miss",
			    json_pack("{s:n, s:b, s:b, s:s}", "cache_key",
				      "forced", c->o.no_cache, "uncacheable",
				      true, "reason", c->uncacheable));
		return 0;
	}
	if (c->o.no_cache || (cache_lookup(&c->store, c->key, &e) != 1 &&
			      lookup_remote(c, &e) != 1)) {
		events_emit(&c->ev, "cache_miss",
			    json_pack("{s:s, s:b, s:b}", "cache_key", c->key,
				      "forced", c->o.no_cache, "uncacheable",
				      false));
		return 0;
	}
	events_emit(&c->ev, "cache_hit",
		    json_pack("{s:s, s:o, s:b}", "cache_key", c->key, "layer",
			      json_str_or_null(e.layer), "remote",
			      c->remote_hit));
	c->hit = true;
	int r = publish_hit(c, &e, err);
	cache_entry_free(&e);
	return r;
}

/* Step 6: the attempt's staging dir. Pin what the workspace stands on
 * before the gc lock goes: the task may run for hours. */
int stage(struct exec_ctx *c, struct wsbox_error *err)
{
	int r = attempt_stage(&c->store, &c->att, err);
	if (r < 0)
		return r;
	r = attempt_write_uses(&c->att, c->pins.v, c->pins.n, err);
	if (r < 0)
		return r;
	r = attempt_root_mnt(&c->store, &c->att, err);
	if (r < 0)
		return r;
	store_unlock(&c->gc_lock);
	return 0;
}

/* Step 9: publish the result (publish_result) and return `status`; a
 * result that cannot be published fails the exec, with its own error. The
 * record keeps the exit status and the message (a timeout, a capture
 * refused, a limit hit). */
int publish(struct exec_ctx *c, int status, struct wsbox_error *err)
{
	c->rec.exit_status = status;
	final_line(c, err, c->line);
	c->rec.error = c->line[0] ? c->line : NULL;
	struct wsbox_error perr = {0};
	if (publish_result(c, status == 0, &perr) < 0) {
		*err = perr;
		if (perr.errnum == ENOSPC) /* logs, record: one line */
			layer_fail_nospace(&c->store, err);
		c->rec.status = NULL;
		return -EIO;
	}
	return status;
}

/* The parent side of one exec, one named step after another: the task's
 * exit status, or a negative errno with err set. */
static int run_exec(struct exec_ctx *c, struct wsbox_error *err)
{
	int r = open_store(c, err); /* stdin, events, rootfs, remote, store */
	if (r < 0)
		return r;
	trace_phase("store");
	r = identify_task(c, err); /* ids, rootfs, strategy, names, gc lock */
	if (r < 0)
		return r;
	trace_phase("ids+rootfs");
	r = load_policy(c, err);
	if (r < 0)
		return r;
	trace_phase("policy");
	r = fetch_parents(c, err); /* missing here: from the remote */
	if (r < 0)
		return r;
	trace_phase("fetch");
	r = assemble_workspace(c, err); /* DAG → conflicts → lowers */
	if (r < 0)
		return r;
	trace_phase("assemble");
	r = begin_attempt(c, err); /* number, stdin, env, cache key */
	if (r < 0)
		return r;
	trace_phase("key");
	r = lookup_cache(c, err); /* local, remote; a hit is published there */
	if (r < 0 || c->hit)
		return push_result(c, r, err);
	trace_phase("lookup");
	r = stage(c, err); /* staging dir, pins; gc lock dropped */
	if (r < 0)
		return r;
	trace_phase("staged");
	r = prepare_sandbox(c, err); /* logs, root-mode ids, --mutex */
	if (r < 0)
		return r;
	trace_phase("pre-sandbox");
	r = run_sandbox(c, err); /* clone → contain → init → task */
	if (r < 0)
		return r;
	trace_phase("sandbox");
	int status = judge_and_capture(c, err);
	trace_phase("capture");
	exec_discard_start(c); /* the sandbox is gone: overlayfs's work dir */
	return push_result(c, publish(c, status, err), err);
}

/* Under the task's lock, taken here unless publication still holds it
 * (a flock taken twice by one process on two fds would wait for itself).
 * 1: locked and this attempt may replace the task's record; 0:
 * superseded, or the lock could not be had (*why says so). */
static int lock_for_record(struct exec_ctx *c, struct wsbox_error *why)
{
	if (c->superseded)
		return 0;
	if (c->gc_lock < 0)
		c->gc_lock = store_lock(&c->store, LOCK_GC, false, why);
	if (c->gc_lock < 0)
		return 0;
	/* Refused before its number was drawn: draw one now, so the refusal
	 * ranks like any attempt that started at this point. */
	if (!c->seq &&
	    result_begin(&c->store, c->run, c->task, &c->seq, why) < 0)
		return 0;
	c->rec.seq = c->seq;
	if (c->task_lock < 0 && lock_result(c, why) < 0)
		return 0;
	return 1;
}

/* An attempt that counts but published no record: refused (the workspace
 * could not be assembled), superseded, or wsbox failed. Its record says
 * why; it replaces the task's record under the compare-and-swap unless a
 * newer attempt published (then only the attempt record is left). Best
 * effort: the exec fails already; a record that cannot be written is a
 * warning. */
static void record_unpublished(struct exec_ctx *c, int status, const char *line)
{
	struct task_record *rec = &c->rec;
	rec->status = !c->began ? "refused" : "error";
	rec->exit_status = status;
	snprintf(c->line, sizeof c->line, "%s", line);
	rec->error = c->line[0] ? c->line : NULL;
	if (!rec->wall_sec)
		rec->wall_sec = wall_now() - rec->started;
	if (!c->logs_published) {
		free(rec->stdout_log);
		free(rec->stderr_log);
		free(rec->combined_log);
		rec->stdout_log = rec->stderr_log = rec->combined_log = NULL;
	}
	struct wsbox_error werr = {0};
	int locked = lock_for_record(c, &werr);
	if (c->superseded)
		rec->status = "superseded";
	int r = locked ? record_write(&c->store, rec, &werr) : 0;
	if (r == 0 && (locked || c->superseded))
		r = record_write_attempt(&c->store, rec, &werr);
	store_unlock(&c->task_lock);
	store_unlock(&c->gc_lock);
	/* Superseded is not a failure of the record: it is the outcome. */
	if (r < 0 || (!locked && !c->superseded))
		fprintf(stderr, "wsbox: warning: record of task %s: %s\n",
			c->task, werr.msg);
	c->recorded = true;
}

/* A failed attempt's staging dir is kept for --keep-failed, any other
 * removed. */
static void settle_attempt(struct exec_ctx *c, int status)
{
	if (c->att.dirfd < 0 || c->staging_gone) {
		attempt_free(&c->att);
		return;
	}
	if (c->o.keep_failed && status != 0) {
		fprintf(stderr, "wsbox: kept failed attempt in `%s`\n",
			c->att.dir);
		attempt_free(&c->att);
		return;
	}
	struct wsbox_error e2 = {0};
	if (attempt_discard(&c->store, &c->att, &e2) < 0)
		wsbox_error_print(&e2);
}

/* The end of every exec, however far run_exec got (r): report, settle the
 * attempt, release everything. Returns the exit status. */
int exec_ctx_finish(struct exec_ctx *c, int r, const struct wsbox_error *err)
{
	int status = r;
	if (r < 0)
		status = err->status ? err->status : WSBOX_EXIT_FAILURE;
	char line[WSBOX_ERROR_MAX];
	final_line(c, err, line);
	exec_discard_finish(c); /* publication did not get there */
	if (c->counts && !c->recorded)
		record_unpublished(c, status, line);
	report(c, status, line);
	settle_attempt(c, status);
	free(c->rec.stdout_log);
	free(c->rec.stderr_log);
	free(c->rec.combined_log);
	ctx_free(c);
	trace_phase("done");
	return status;
}

int cmd_exec(int argc, char **argv)
{
	struct exec_ctx c = EXEC_CTX_INIT;
	struct wsbox_error err = {0};

	/* A reader that goes away (`wsbox exec ... | head`) must not kill
	 * wsbox before it records the task: writes get EPIPE instead. The
	 * sandbox resets every signal for the task. */
	signal(SIGPIPE, SIG_IGN);
	if (exec_opts_parse(argc, argv, &c.o, &err) < 0) {
		exec_opts_free(&c.o);
		wsbox_error_print(&err);
		return WSBOX_EXIT_FAILURE;
	}
	trace_phase("options");
	int r = run_exec(&c, &err);
	trace_phase("published");
	return exec_ctx_finish(&c, r, &err);
}
