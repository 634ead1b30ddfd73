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
 * Locks (layers/lock.h): the gc lock is held shared only while records are
 * read and while results are published; the task's lock only around the
 * publication; --mutex only while the sandbox runs. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layers/cache.h"
#include "layers/capture.h"
#include "layers/copy_ws.h"
#include "layers/dag.h"
#include "layers/flatten.h"
#include "layers/layer.h"
#include "layers/lock.h"
#include "layers/record.h"
#include "layers/result.h"
#include "layers/rootfs.h"
#include "layers/store.h"
#include "policy/policy.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/events.h"
#include "sandbox/cli/exec_opts.h"
#include "sandbox/cli/exec_stdin.h"
#include "sandbox/cli/exec_strategy.h"
#include "sandbox/identity.h"
#include "sandbox/idmap.h"
#include "sandbox/sandbox.h"
#include "sandbox/strategy.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/json.h"
#include "sandbox/util/trace.h"

extern char **environ;

#define MAX_CONFLICTS_SHOWN 20

/* Everything one exec owns, released in one place (exec_ctx_finish). */
struct exec_ctx {
	struct exec_opts o;
	struct store store;
	struct attempt att;
	struct policy pol;
	struct dag dag;
	struct manifest **manifests; /* per dag node, NULL when no layer */
	struct strv lowers;	     /* tree paths, topmost first */
	struct strv lower_digests;
	struct strv stacked; /* digests of `lowers`, for --strategy copy */
	struct exec_strategy strat;
	struct copy_ws copy; /* --strategy copy: the workspace's snapshot */
	/* Every layer the workspace stands on, merged ones included: what the
	 * attempt pins against gc (staging/<id>/uses). */
	struct strv pins;
	char *rootfs, *rootfs_id, *run, *empty, *bpf_dir;
	const char *task;
	char **envp;
	int out_pipe[2], err_pipe[2];
	int out_log, err_log, comb_log; /* logs in staging */
	struct exec_stdin in;		/* what the task reads */
	/* Why the task is neither looked up nor stored ("stdin is a
	 * pipe"), NULL when cacheable. */
	const char *uncacheable;
	int gc_lock, task_lock, mutex_lock; /* held store locks, or -1 */
	uint64_t seq;			    /* attempt sequence number */
	char key[DIGEST_STRLEN];	    /* cache key, "" until known */
	struct manifest captured;	    /* the upper dir, once captured */
	bool have_capture;
	struct events ev;
	struct sandbox_result res; /* zero until the sandbox ran */
	bool ran;
	bool hit; /* served from the cache: no sandbox */
	/* The attempt counts from workspace assembly on: however it ends,
	 * it leaves a record (record_unpublished when publication did not). */
	bool counts, began, recorded, superseded, logs_published;
	char line[WSBOX_ERROR_MAX]; /* the message the record keeps */
	bool rootfs_is_path; /* --rootfs names a directory, not an import */
	struct task_record rec;
	/* The host ids the task maps to (rootless: the caller, one id; as
	 * root: inside 0..id_count-1 onto an unprivileged subordinate range)
	 * and the owner of layers on disk. With `idmap` the lowers are shown
	 * to root-mode tasks through idmapped mounts, so layers stay the
	 * store owner's. Resolved once, after the store is open. */
	bool root, idmap;
	uid_t host_uid, layer_uid, id_count;
	gid_t host_gid, layer_gid;
};

#define EXEC_CTX_INIT                                                          \
	{                                                                      \
		.out_pipe = {-1, -1}, .err_pipe = {-1, -1}, .out_log = -1,     \
		.err_log = -1, .comb_log = -1, .in = EXEC_STDIN_INIT,          \
		.gc_lock = -1, .task_lock = -1, .mutex_lock = -1,              \
		.store = {.fd = -1}, .att = {.dirfd = -1}, .ev = {.fd = -1},   \
	}

static int resolve_ids(struct exec_ctx *c, struct wsbox_error *err)
{
	struct identity id;
	int r =
	    identity_resolve(c->o.idmap_base, c->store.path, c->store.owner_uid,
			     c->store.owner_gid, &id, err);
	if (r < 0)
		return r;
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

static void ctx_free(struct exec_ctx *c)
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
	store_close(&c->store);
	exec_opts_free(&c->o);
	/* The record borrows parents/lowers from above; only free its own. */
	free(c->rec.layer);
}

/* Every ancestor's layer is checked present; a manifest is read only where
 * it is needed. */
static int load_manifests(struct exec_ctx *c, const char *empty_digest,
			  struct wsbox_error *err)
{
	c->manifests = xcalloc(c->dag.n + 1, sizeof *c->manifests);
	for (size_t i = 0; i < c->dag.n; i++) {
		const char *layer = c->dag.nodes[i].layer;
		/* A layer that holds nothing adds nothing and conflicts with
		 * nothing: it is told by its digest, never read. */
		if (!layer || !strcmp(layer, empty_digest))
			continue;
		/* Only a layer with an unrelated one beside it can conflict
		 * (rule 3): in a chain no manifest is read, so restore does
		 * not grow with the files the ancestors wrote. */
		int r;
		if (dag_has_unrelated_layer(&c->dag, i)) {
			c->manifests[i] = xcalloc(1, sizeof **c->manifests);
			r = layer_load_manifest(&c->store, layer,
						c->manifests[i], err);
		} else {
			r = layer_require(&c->store, layer, err);
		}
		if (r < 0) {
			wsbox_error_prefix(err, "ancestor %s",
					   c->dag.nodes[i].task);
			return r;
		}
	}
	return 0;
}

/* Two unrelated ancestors that wrote the same path refuse the exec. */
static int refuse_conflicts(struct exec_ctx *c, struct wsbox_error *err)
{
	char **msgs = NULL;
	size_t n_msgs = 0;
	size_t total = dag_conflicts(&c->dag, c->manifests, &msgs, &n_msgs,
				     MAX_CONFLICTS_SHOWN);
	if (!total)
		return 0;
	/* All but the last on their own lines; the last becomes the error
	 * main() prints. */
	for (size_t i = 0; i + 1 < n_msgs; i++)
		fprintf(stderr, "wsbox: %s\n", msgs[i]);
	if (total > n_msgs)
		wsbox_fail(err, 0, "%s (and %zu more conflicts)",
			   msgs[n_msgs - 1], total - n_msgs);
	else
		wsbox_fail(err, 0, "%s", msgs[n_msgs - 1]);
	for (size_t i = 0; i < n_msgs; i++)
		free(msgs[i]);
	free(msgs);
	return -EEXIST;
}

/* Descendants above ancestors: reverse topological order, into `stacked`
 * (room for dag.n). Every layer is recorded and pinned; layers with no
 * entries add nothing to the view and are not stacked. Returns the count. */
static size_t stack_lowers(struct exec_ctx *c, const char *empty_digest,
			   char **stacked)
{
	size_t n_stacked = 0;
	for (size_t k = c->dag.n; k-- > 0;) {
		size_t i = c->dag.order[k];
		if (!c->dag.nodes[i].layer)
			continue;
		strv_push(&c->lower_digests, c->dag.nodes[i].layer);
		strv_push(&c->pins, c->dag.nodes[i].layer);
		/* Identical layers (same digest: two tasks wrote the same
		 * content) are stacked once; overlayfs refuses a dir twice. */
		bool dup = false;
		for (size_t j = 0; j + 1 < c->lower_digests.n && !dup; j++)
			dup = !strcmp(c->lower_digests.v[j],
				      c->dag.nodes[i].layer);
		if (dup || !strcmp(c->dag.nodes[i].layer, empty_digest))
			continue;
		stacked[n_stacked++] = c->dag.nodes[i].layer;
	}
	return n_stacked;
}

/* $WSBOX_MAX_LOWERS lowers the flattening threshold so tests need not run
 * 500 tasks. */
static int max_lowers_of_env(size_t *max_lowers, struct wsbox_error *err)
{
	*max_lowers = FLATTEN_MAX_LOWERS_DEFAULT;
	const char *env = getenv("WSBOX_MAX_LOWERS");
	if (!env || !*env)
		return 0;
	char *end;
	errno = 0;
	unsigned long v = strtoul(env, &end, 10);
	if (errno || *end || *env < '0' || *env > '9' || v < 2 ||
	    v > FLATTEN_MAX_LOWERS_DEFAULT)
		return wsbox_fail(err, EINVAL,
				  "WSBOX_MAX_LOWERS=`%s`: want 2..%d", env,
				  FLATTEN_MAX_LOWERS_DEFAULT);
	*max_lowers = v;
	return 0;
}

/* Beyond overlayfs's limit on lowers, the oldest layers are merged into one
 * layer cached by their digests (layers/flatten.h); the record keeps the real
 * ancestors' digests. The merged layer is owned like the task layers it
 * replaces: by c->layer_uid (resolve_ids). */
static int flatten_stack(struct exec_ctx *c, char **stacked, size_t n_stacked,
			 struct wsbox_error *err)
{
	size_t max_lowers;
	int r = max_lowers_of_env(&max_lowers, err);
	if (r < 0)
		return r;
	char **flat = NULL;
	size_t n_flat = 0;
	r = flatten_lowers(&c->store, stacked, n_stacked, max_lowers,
			   c->layer_uid, c->layer_gid, &flat, &n_flat, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_flat; i++) {
		_cleanup_free_ char *p = layer_tree_path(&c->store, flat[i]);
		strv_push(&c->lowers, p);
		strv_push(&c->stacked, flat[i]);
		strv_push(&c->pins, flat[i]);
	}
	flatten_free(flat, n_flat);
	return 0;
}

/* Step 3: ancestors → manifests → conflicts → lower dirs, topmost first;
 * the record names them. */
static int assemble_workspace(struct exec_ctx *c, struct wsbox_error *err)
{
	/* From here on the attempt counts: a refusal (conflict, unknown or
	 * failed parent) leaves a record saying so (record_unpublished). */
	c->counts = true;
	if (!c->o.parents.n)
		return 0;
	int r = dag_collect(&c->store, c->run, c->o.parents.v, c->o.parents.n,
			    &c->dag, err);
	if (r < 0)
		return r;
	char empty_digest[DIGEST_STRLEN];
	layer_empty_digest(empty_digest);
	r = load_manifests(c, empty_digest, err);
	if (r < 0)
		return r;
	r = refuse_conflicts(c, err);
	if (r < 0)
		return r;
	_cleanup_free_ char **stacked = xcalloc(c->dag.n + 1, sizeof *stacked);
	size_t n_stacked = stack_lowers(c, empty_digest, stacked);
	r = flatten_stack(c, stacked, n_stacked, err);
	if (r < 0)
		return r;
	c->rec.ancestors = c->dag.nodes;
	c->rec.n_ancestors = c->dag.n;
	c->rec.lowers = c->lower_digests.v;
	c->rec.n_lowers = c->lower_digests.n;
	return 0;
}

/* The task's output goes to the attempt's staging dir until the result is
 * published (a superseded attempt leaves no log behind). */
static int open_logs(struct exec_ctx *c, struct wsbox_error *err)
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

static int make_log_dir(struct exec_ctx *c, struct wsbox_error *err)
{
	_cleanup_free_ char *dir = store_run_path(&c->store, c->run, "logs");
	_cleanup_free_ char *out = xasprintf("%s.out", c->att.id);
	_cleanup_free_ char *errf = xasprintf("%s.err", c->att.id);
	_cleanup_free_ char *comb = xasprintf("%s.log", c->att.id);
	c->rec.stdout_log = store_run_rel(c->run, "logs", out);
	c->rec.stderr_log = store_run_rel(c->run, "logs", errf);
	c->rec.combined_log = store_run_rel(c->run, "logs", comb);
	return mkdir_p(dir, 0700, err);
}

/* fuse-overlayfs's opaque markers count only where the lowers show the
 * path (layers/capture.h): every ancestor's manifest, also those
 * load_manifests() had no reason to read, into `stack` topmost first
 * (stack_lowers' order), *n_out of them. */
static int stack_manifests(struct exec_ctx *c, const struct manifest **stack,
			   size_t *n_out, struct wsbox_error *err)
{
	char empty_digest[DIGEST_STRLEN];
	layer_empty_digest(empty_digest);
	size_t n = 0;
	for (size_t k = c->dag.n; k-- > 0 && c->manifests;) {
		size_t i = c->dag.order[k];
		const char *layer = c->dag.nodes[i].layer;
		if (!layer || !strcmp(layer, empty_digest))
			continue;
		if (!c->manifests[i]) {
			c->manifests[i] = xcalloc(1, sizeof **c->manifests);
			int r = layer_load_manifest(&c->store, layer,
						    c->manifests[i], err);
			if (r < 0)
				return r;
		}
		stack[n++] = c->manifests[i];
	}
	*n_out = n;
	return 0;
}

/* Capture the upper dir of a finished sandbox (no lock held: this is the
 * part that scales with what the task wrote). */
static int capture_upper(struct exec_ctx *c, struct wsbox_error *err)
{
	_cleanup_close_ int upper =
	    openat(c->att.dirfd, "upper",
		   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (upper < 0)
		return wsbox_fail(err, errno, "open upper dir");
	/* capture_tree leaves the root dir's owner alone: in root mode it is
	 * still the task's mapped id. */
	if (c->root && fchown(upper, c->layer_uid, c->layer_gid) < 0)
		return wsbox_fail(err, errno, "chown upper dir");
	const char *const *save = NULL;
	if (c->o.save.n)
		save = (const char *const *)c->o.save.v;
	_cleanup_free_ const struct manifest **stack =
	    xcalloc(c->dag.n + 1, sizeof *stack);
	size_t n_stack = 0;
	if (c->strat.s == WS_FUSE_OVERLAYFS) {
		int r = stack_manifests(c, stack, &n_stack, err);
		if (r < 0)
			return r;
	}
	struct capture_options copts = {
	    .max_bytes = c->o.max_layer_size,
	    .save = save,
	    .owner_uid = c->layer_uid,
	    .owner_gid = c->layer_gid,
	    /* Write bits stay: lowers show their modes in the next
	     * workspace, and a task must be able to write into a
	     * directory its parent created. The store is private. */
	    .make_readonly = false,
	    .fuse_upper = c->strat.s == WS_FUSE_OVERLAYFS,
	    .lowers = stack,
	    .n_lowers = n_stack,
	};
	/* --strategy copy: what the task changed moves from the workspace
	 * into the upper dir first, as overlay would have left it. */
	if (c->strat.s == WS_COPY) {
		/* Through the attempt's dirfd like `upper`: a rename between
		 * them needs the same mount, and root mode's private mount
		 * namespace has its own copy of the store's. */
		_cleanup_close_ int ws =
		    openat(c->att.dirfd, "workspace",
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (ws < 0)
			return wsbox_fail(err, errno, "open `%s`", c->att.copy);
		int r = copy_ws_diff(&c->copy, ws, upper, err);
		if (r < 0)
			return r == -ENOSPC ? layer_fail_nospace(&c->store, err)
					    : r;
	}
	struct capture_stats st = {0};
	/* --max-layer-size: the tree is on the task's tmpfs and is copied
	 * into the upper dir as it is captured (docs/capture.md "Size
	 * limit"); the tmpfs goes when its fd does. */
	_cleanup_close_ int fs = steal_fd(&c->res.upper_fs);
	int r = fs >= 0 ? capture_tree_copy(fs, upper, &copts, &c->captured,
					    &st, err)
			: capture_tree(upper, &copts, &c->captured, &st, err);
	c->rec.bytes = st.bytes;
	c->rec.files = st.files;
	if (r == -ENOSPC)
		return layer_fail_nospace(&c->store, err);
	if (r < 0) {
		wsbox_error_prefix(err, "capture");
		return r;
	}
	c->have_capture = true;
	return 0;
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
	};
	cache_key(&in, c->key);
	free(pass_values);
}

static double wall_now(void)
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
 * its failure is a warning, the result stands). Under the task's lock. */
static int write_records(struct exec_ctx *c, struct wsbox_error *err)
{
	int r = record_write(&c->store, &c->rec, err);
	if (r < 0)
		return r;
	c->recorded = true;
	struct wsbox_error aerr = {0};
	if (record_write_attempt(&c->store, &c->rec, &aerr) < 0)
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
	if (c->have_capture) {
		char digest[DIGEST_STRLEN];
		r = layer_publish(&c->store, &c->att, "upper", &c->captured,
				  digest, err);
		if (r < 0) {
			wsbox_error_prefix(err, "capture");
			return r;
		}
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
	r = write_records(c, err);
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
	r = write_records(c, err);
	store_unlock(&c->task_lock);
	store_unlock(&c->gc_lock);
	if (r < 0)
		return r;
	return cache_replay(&c->store, c->key, STDOUT_FILENO, STDERR_FILENO,
			    err);
}

static void emit_started(struct exec_ctx *c)
{
	events_emit(&c->ev, "task_started",
		    json_pack("{s:o, s:o, s:s}", "parents",
			      json_strv(c->o.parents.v, c->o.parents.n),
			      "cache_key",
			      json_str_or_null(c->key[0] ? c->key : NULL),
			      "strategy", strategy_name(c->strat.s)));
}

/* What the limits and the policy did to a task that ran. */
static void emit_finished_limits(json_t *o, const struct sandbox_result *res,
				 uint64_t memory)
{
	json_object_set_new(o, "limits_via", json_str_or_null(res->limits_via));
	/* RLIMIT_AS does not count shmem or memfd pages: with rlimits only,
	 * --memory is not a bound (README "Limits"). */
	if (memory)
		json_object_set_new(
		    o, "memory_bounded",
		    json_boolean(!res->limits_via ||
				 strcmp(res->limits_via, "rlimit")));
	json_object_set_new(o, "oom_killed", json_boolean(res->oom_killed));
	json_object_set_new(o, "pids_max_hit", json_boolean(res->pids_max_hit));
	json_object_set_new(o, "mem_peak_bytes",
			    json_integer((json_int_t)res->mem_peak_bytes));
	json_object_set_new(o, "policy_denied",
			    json_integer((json_int_t)res->denied_count));
}

/* plan.on_denied: the supervisor answered a syscall the policy refused
 * (sandbox/notify.c). pid is as wsbox sees it (host PID namespace). */
static void emit_denied(void *ctx, pid_t pid, int nr, const char *name)
{
	struct exec_ctx *c = ctx;
	events_emit(&c->ev, "policy_denied",
		    json_pack("{s:s, s:i, s:i}", "syscall", name, "nr", nr,
			      "pid", (int)pid));
	if (getenv("WSBOX_DEBUG_DENIED"))
		fprintf(stderr, "wsbox: task %s: policy denied %s (pid %d)\n",
			c->task, name, (int)pid);
}

/* `msg`: the line wsbox printed last (report), or NULL. */
static void emit_finished(struct exec_ctx *c, int status, const char *msg)
{
	const struct task_record *r = &c->rec;
	const char *st = r->status ? r->status : "error";
	json_t *o = json_pack(
	    "{s:s, s:i, s:i, s:i, s:b, s:f, s:f, s:I, s:o, s:I, "
	    "s:I, s:o}",
	    "status", st, "exit_status", status, "exit_code", r->exit_code,
	    "signal", r->signal, "cache_hit", r->cache_hit, "wall_sec",
	    r->wall_sec, "cpu_sec", r->cpu_sec, "max_rss_kb",
	    (json_int_t)r->max_rss_kb, "layer", json_str_or_null(r->layer),
	    "bytes", (json_int_t)r->bytes, "files", (json_int_t)r->files,
	    "error", json_str_or_null(msg));
	if (o && c->ran)
		emit_finished_limits(o, &c->res, c->o.memory);
	events_emit(&c->ev, "task_finished", o);
}

/* Step 1: stdin's kind, events, a --rootfs path, the store. Everything
 * that needs no store write is validated first: a --rootfs path is checked
 * before the store is created, an imported rootfs name after it is opened
 * (identify_task). */
static int open_store(struct exec_ctx *c, struct wsbox_error *err)
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
static int identify_task(struct exec_ctx *c, struct wsbox_error *err)
{
	int r = resolve_ids(c, err);
	if (r < 0)
		return r;
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
static int load_policy(struct exec_ctx *c, struct wsbox_error *err)
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
	if (c->o.no_cache || cache_lookup(&c->store, c->key, &e) != 1) {
		events_emit(&c->ev, "cache_miss",
			    json_pack("{s:s, s:b, s:b}", "cache_key", c->key,
				      "forced", c->o.no_cache, "uncacheable",
				      false));
		return 0;
	}
	events_emit(&c->ev, "cache_hit",
		    json_pack("{s:s, s:o}", "cache_key", c->key, "layer",
			      json_str_or_null(e.layer)));
	c->hit = true;
	int r = publish_hit(c, &e, err);
	cache_entry_free(&e);
	return r;
}

/* Step 6: the attempt's staging dir. Pin what the workspace stands on
 * before the gc lock goes: the task may run for hours. */
static int stage(struct exec_ctx *c, struct wsbox_error *err)
{
	int r = attempt_stage(&c->store, &c->att, err);
	if (r < 0)
		return r;
	r = attempt_write_uses(&c->att, c->pins.v, c->pins.n, err);
	if (r < 0)
		return r;
	store_unlock(&c->gc_lock);
	return 0;
}

/* The host ids the task's --uid/--gid map to, which own its upper and work
 * dirs. */
static uid_t task_host_uid(const struct exec_ctx *c)
{
	return c->host_uid + (c->id_count > 1 ? c->o.uid : 0);
}

static gid_t task_host_gid(const struct exec_ctx *c)
{
	return c->host_gid + (c->id_count > 1 ? c->o.gid : 0);
}

/* As real root the task never runs as host root: it maps to an unprivileged
 * range in which the task's ids must own its upper and work dirs and reach
 * them by path. Root's supplementary groups (host gid 0) would follow the
 * task into its namespace: drop them. */
static int prepare_root_staging(struct exec_ctx *c, struct wsbox_error *err)
{
	if (!c->root)
		return 0;
	uid_t up_uid = task_host_uid(c);
	gid_t up_gid = task_host_gid(c);
	if (setgroups(0, NULL) < 0 ||
	    fchownat(c->att.dirfd, "upper", up_uid, up_gid, 0) < 0 ||
	    fchownat(c->att.dirfd, "work", up_uid, up_gid, 0) < 0 ||
	    fchmod(c->att.dirfd, 0711) < 0 ||
	    fchmodat(c->store.fd, ".", 0711, 0) < 0 ||
	    fchmodat(c->store.fd, store_rel(STORE_STAGING), 0711, 0) < 0 ||
	    fchmodat(c->store.fd, store_rel(STORE_LAYERS), 0711, 0) < 0)
		return wsbox_fail(err, errno, "prepare staging for uid %u",
				  (unsigned)up_uid);
	return 0;
}

/* Host-root-owned layers (and the empty lower) appear owned by the task's
 * --uid/--gid (README "Ownership, root mode") through read-only
 * idmapped views, made in a private mount namespace the sandbox inherits. */
static int show_idmapped_lowers(struct exec_ctx *c, struct wsbox_error *err)
{
	if (!c->idmap)
		return 0;
	struct ns_user_ids ids = {task_host_uid(c), task_host_gid(c), 1};
	_cleanup_close_ int userns = ns_user_open_userns(&ids, err);
	if (userns < 0)
		return userns;
	_cleanup_free_ char *empty = store_path_of(&c->store, STORE_EMPTY);
	strv_push(&c->lowers, empty);
	int r = idmap_mount_dirs((const char *const *)c->lowers.v, c->lowers.n,
				 userns, err);
	free(c->lowers.v[--c->lowers.n]);
	c->lowers.v[c->lowers.n] = NULL;
	return r;
}

/* --mutex: tasks sharing the name never run at once in this store (a cache
 * hit never waits for it). Held until the sandbox is gone (run_sandbox). */
static int take_mutex(struct exec_ctx *c, struct wsbox_error *err)
{
	if (!c->o.mutex)
		return 0;
	_cleanup_free_ char *rel =
	    store_rel_join(STORE_MUTEX_LOCKS, c->o.mutex, NULL);
	c->mutex_lock = store_lock(&c->store, rel, true, err);
	return c->mutex_lock < 0 ? c->mutex_lock : 0;
}

/* Step 7, before the sandbox: logs, root-mode ownership, idmapped views,
 * --mutex. */
static int prepare_sandbox(struct exec_ctx *c, struct wsbox_error *err)
{
	int r = open_logs(c, err);
	if (r < 0)
		return r;
	r = prepare_root_staging(c, err);
	if (r < 0)
		return r;
	r = show_idmapped_lowers(c, err);
	if (r < 0)
		return r;
	return take_mutex(c, err);
}

/* The one-way boundary between store and sandbox (sandbox/plan.h). `hide`
 * must outlive the plan. */
static struct plan exec_plan(struct exec_ctx *c, const char **hide)
{
	struct exec_opts *o = &c->o;
	return (struct plan){
	    .rootfs = c->rootfs,
	    .host_root = !o->rootfs,
	    .hide = hide,
	    .n_hide = 1,
	    .lowers = (const char *const *)c->lowers.v,
	    .n_lowers = c->lowers.n,
	    .upper = o->ro ? NULL : c->att.upper,
	    .work = o->ro ? NULL : c->att.work,
	    /* Only the kernel overlay's upper can live on the tmpfs; the
	     * other strategies check the limit at capture. */
	    .upper_max_bytes =
		o->ro || c->strat.s != WS_OVERLAY ? 0 : o->max_layer_size,
	    .strategy = c->strat.s,
	    .fuse_bin = c->strat.fuse_bin,
	    .copy_dir = c->att.copy,
	    .empty_lower = c->empty,
	    .root_mnt = c->att.root,
	    .argv = o->argv,
	    .envp = c->envp,
	    .cwd = o->cwd,
	    .hostname = o->hostname,
	    .uid = o->uid,
	    .gid = o->gid,
	    .host_uid = c->host_uid,
	    .host_gid = c->host_gid,
	    .id_count = c->id_count,
	    .net = o->net,
	    .limits = exec_opts_limits(o),
	    .policy = &c->pol,
	    .stdio = {c->in.fd, c->out_pipe[1], c->err_pipe[1]},
	    .close_stdio = true,
	    .tee = {{c->out_pipe[0], {STDOUT_FILENO, c->out_log}},
		    {c->err_pipe[0], {STDERR_FILENO, c->err_log}}},
	    .n_tee = 2,
	    .has_combined_log = true,
	    .combined_log = c->comb_log,
	    .report_denied = true,
	    .on_denied = emit_denied,
	    .on_denied_ctx = c,
	};
}

/* Step 7: clone → contain → init → task, to the end (c->res). */
static int run_sandbox(struct exec_ctx *c, struct wsbox_error *err)
{
	c->empty = store_path_of(&c->store, STORE_EMPTY);
	if (c->strat.s == WS_COPY) {
		/* The copy strategy's workspace: the lowers written out and, in
		 * root mode, owned by the task's ids, as the idmapped lowers
		 * show them (show_idmapped_lowers). */
		int r = copy_ws_populate(
		    &c->store, c->stacked.v, c->stacked.n, c->att.copy,
		    c->root ? task_host_uid(c) : (uid_t)-1,
		    c->root ? task_host_gid(c) : (gid_t)-1, &c->copy, err);
		if (r < 0)
			return r;
	}
	const char *hide[] = {c->store.path};
	struct plan plan = exec_plan(c, hide);
	int r = sandbox_run(&plan, &c->res, err);
	store_unlock(&c->mutex_lock);
	/* The sandbox closed the pipes' write ends and stdin's copy;
	 * forget them. */
	c->out_pipe[1] = c->err_pipe[1] = -1;
	c->in.fd = -1;
	if (r < 0)
		return r;
	c->ran = true;
	return 0;
}

/* Step 8: how the task ended, into the record, and the upper dir of a
 * task that succeeded captured. Returns the exit status; a timeout or a
 * failed capture also leaves its message in err, but the result is still
 * published. */
static int judge_and_capture(struct exec_ctx *c, struct wsbox_error *err)
{
	const struct sandbox_result *res = &c->res;
	struct task_record *rec = &c->rec;
	rec->wall_sec = res->wall_sec;
	rec->cpu_sec = res->cpu_sec;
	rec->max_rss_kb = res->max_rss_kb;
	rec->exit_code = res->signaled ? 0 : res->code;
	rec->signal = res->signaled ? res->code : 0;
	int status = sandbox_exit_status(res);
	if (res->timed_out) {
		rec->status = "timeout";
		wsbox_fail_status(err, WSBOX_EXIT_TIMEOUT, 0,
				  "task %s timed out after %u s", c->task,
				  c->o.timeout_sec);
	} else if (status != 0) {
		rec->status = "failed";
	} else if (!c->o.ro) {
		int r = capture_upper(c, err);
		rec->status = r == 0 ? "succeeded" : "failed";
		if (r < 0)
			status = WSBOX_EXIT_FAILURE;
	} else {
		rec->status = "succeeded";
	}
	return status;
}

/* The line an exec ends with (printed by report, kept in the record): the
 * failure, else the limit the task hit, else "". */
static void final_line(const struct exec_ctx *c, const struct wsbox_error *err,
		       char line[WSBOX_ERROR_MAX])
{
	line[0] = '\0';
	if (err->msg[0])
		snprintf(line, WSBOX_ERROR_MAX, "%s", err->msg);
	else if (c->ran && c->res.note[0])
		snprintf(line, WSBOX_ERROR_MAX, "task %s: %s", c->task,
			 c->res.note);
}

/* Step 9: publish the result (publish_result) and return `status`; a
 * result that cannot be published fails the exec, with its own error. The
 * record keeps the exit status and the message (a timeout, a capture
 * refused, a limit hit). */
static int publish(struct exec_ctx *c, int status, struct wsbox_error *err)
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
	int r = open_store(c, err); /* stdin, events, rootfs path, store */
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
	r = assemble_workspace(c, err); /* DAG → conflicts → lowers */
	if (r < 0)
		return r;
	trace_phase("assemble");
	r = begin_attempt(c, err); /* number, stdin, env, cache key */
	if (r < 0)
		return r;
	trace_phase("key");
	r = lookup_cache(c, err); /* a hit is published there */
	if (r < 0 || c->hit)
		return r;
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
	return publish(c, status, err);
}

/* Print the line wsbox ends with, and the last event. */
static void report(struct exec_ctx *c, int status, const char *line)
{
	if (line[0])
		dprintf(STDERR_FILENO, "wsbox: %s\n", line);
	if (c->ev.fd >= 0)
		emit_finished(c, status, line[0] ? line : NULL);
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
	if (c->att.dirfd < 0) {
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
static int exec_ctx_finish(struct exec_ctx *c, int r,
			   const struct wsbox_error *err)
{
	int status = r;
	if (r < 0)
		status = err->status ? err->status : WSBOX_EXIT_FAILURE;
	char line[WSBOX_ERROR_MAX];
	final_line(c, err, line);
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
