/* cmd_exec.c: `wsbox exec`, the lifecycle of one task (SPEC.md "Exec
 * lifecycle"): parse and validate; resolve the ancestors and refuse
 * conflicts; stage an attempt; build the plan and run the sandbox; capture
 * and publish the upper dir on success; record the task; turn the outcome
 * into an exit status. Store and sandbox meet only here, through the plan. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layers/capture.h"
#include "layers/dag.h"
#include "layers/flatten.h"
#include "layers/layer.h"
#include "layers/record.h"
#include "layers/rootfs.h"
#include "layers/store.h"
#include "policy/policy.h"
#include "sandbox/commands.h"
#include "sandbox/exec_opts.h"
#include "sandbox/sandbox.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

extern char **environ;

#define MAX_CONFLICTS_SHOWN 20

/* Everything one exec owns, released in one place. */
struct exec_ctx {
	struct exec_opts o;
	struct store store;
	struct attempt att;
	struct policy pol;
	struct dag dag;
	struct manifest **manifests; /* per dag node, NULL when no layer */
	struct strv lowers;	     /* tree paths, topmost first */
	struct strv lower_digests;
	char *rootfs, *run, *empty, *bpf_dir;
	char **envp;
	int out_pipe[2], err_pipe[2];
	int out_log, err_log;
	struct task_record rec;
	/* The one host id the task maps to (the caller rootless; an
	 * unprivileged subordinate id as root) and the owner of layers on
	 * disk. Resolved once, after the store is open. */
	bool root;
	uid_t host_uid, layer_uid;
	gid_t host_gid, layer_gid;
};

static void resolve_ids(struct exec_ctx *c)
{
	c->root = geteuid() == 0;
	c->host_uid =
	    c->root ? (uid_t)ns_user_root_host_id("/etc/subuid") : getuid();
	c->host_gid =
	    c->root ? (gid_t)ns_user_root_host_id("/etc/subgid") : getgid();
	/* Interim (README "Ownership"): root-mode layers belong to the
	 * subordinate id so later tasks can read them as lowers. */
	c->layer_uid = c->root ? c->host_uid : c->store.owner_uid;
	c->layer_gid = c->root ? c->host_gid : c->store.owner_gid;
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
	for (char **e = c->envp; e && *e; e++)
		free(*e);
	free(c->envp);
	int fds[] = {c->out_pipe[0], c->out_pipe[1], c->err_pipe[0],
		     c->err_pipe[1], c->out_log,     c->err_log};
	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(c->rootfs);
	free(c->run);
	free(c->empty);
	free(c->bpf_dir);
	policy_free(&c->pol);
	store_close(&c->store);
	exec_opts_free(&c->o);
	/* The record borrows parents/lowers from above; only free its own. */
	free(c->rec.layer);
}

/* Ancestors → manifests → conflicts → lower dirs, topmost first. */
static int assemble_workspace(struct exec_ctx *c, struct wsbox_error *err)
{
	int r;
	if (!c->o.parents.n)
		return 0;
	r = dag_collect(&c->store, c->run, c->o.parents.v, c->o.parents.n,
			&c->dag, err);
	if (r < 0)
		return r;
	c->manifests = xcalloc(c->dag.n + 1, sizeof *c->manifests);
	for (size_t i = 0; i < c->dag.n; i++) {
		const char *layer = c->dag.nodes[i].layer;
		if (!layer)
			continue;
		c->manifests[i] = xcalloc(1, sizeof **c->manifests);
		r = layer_load_manifest(&c->store, layer, c->manifests[i], err);
		if (r < 0) {
			wsbox_error_prefix(err, "ancestor %s",
					   c->dag.nodes[i].task);
			return r;
		}
	}
	char **msgs = NULL;
	size_t n_msgs = 0;
	size_t total = dag_conflicts(&c->dag, c->manifests, &msgs, &n_msgs,
				     MAX_CONFLICTS_SHOWN);
	if (total) {
		/* All but the last on their own lines; the last becomes the
		 * error main() prints. */
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
	/* Descendants above ancestors: reverse topological order. Layers
	 * with no entries add nothing to the view and are not stacked. */
	_cleanup_free_ char **stacked = xcalloc(c->dag.n + 1, sizeof *stacked);
	size_t n_stacked = 0;
	for (size_t k = c->dag.n; k-- > 0;) {
		size_t i = c->dag.order[k];
		if (!c->manifests[i])
			continue;
		strv_push(&c->lower_digests, c->dag.nodes[i].layer);
		/* Identical layers (same digest: two tasks wrote the same
		 * content) are stacked once; overlayfs refuses a dir twice. */
		bool dup = false;
		for (size_t j = 0; j + 1 < c->lower_digests.n && !dup; j++)
			dup = !strcmp(c->lower_digests.v[j],
				      c->dag.nodes[i].layer);
		if (dup || !c->manifests[i]->n)
			continue;
		stacked[n_stacked++] = c->dag.nodes[i].layer;
	}
	/* Beyond overlayfs's limit on lowers, the oldest layers are merged
	 * into one layer cached by their digests (SPEC.md rule 5). The
	 * record keeps the real ancestors' digests. $WSBOX_MAX_LOWERS lowers
	 * the threshold so tests need not run 500 tasks. */
	size_t max_lowers = FLATTEN_MAX_LOWERS_DEFAULT;
	const char *env = getenv("WSBOX_MAX_LOWERS");
	if (env && *env) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(env, &end, 10);
		if (errno || *end || *env < '0' || *env > '9' || v < 2 ||
		    v > FLATTEN_MAX_LOWERS_DEFAULT)
			return wsbox_fail(err, EINVAL,
					  "WSBOX_MAX_LOWERS=`%s`: want 2..%d",
					  env, FLATTEN_MAX_LOWERS_DEFAULT);
		max_lowers = v;
	}
	/* The merged layer is owned like the task layers it replaces: by
	 * the subordinate id in root mode (resolve_ids). */
	char **flat = NULL;
	size_t n_flat = 0;
	r = flatten_lowers(&c->store, stacked, n_stacked, max_lowers,
			   c->layer_uid, c->layer_gid, &flat, &n_flat, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_flat; i++) {
		_cleanup_free_ char *p = layer_tree_path(&c->store, flat[i]);
		strv_push(&c->lowers, p);
	}
	flatten_free(flat, n_flat);
	return 0;
}

static int open_logs(struct exec_ctx *c, struct wsbox_error *err)
{
	_cleanup_free_ char *dir =
	    xasprintf("%s/runs/%s/logs", c->store.path, c->run);
	int r = mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	c->rec.stdout_log = xasprintf("runs/%s/logs/%s.out", c->run, c->att.id);
	c->rec.stderr_log = xasprintf("runs/%s/logs/%s.err", c->run, c->att.id);
	c->out_log = openat(c->store.fd, c->rec.stdout_log,
			    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	c->err_log = openat(c->store.fd, c->rec.stderr_log,
			    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (c->out_log < 0 || c->err_log < 0)
		return wsbox_fail(err, errno, "create logs in `%s`", dir);
	if (pipe2(c->out_pipe, O_CLOEXEC) < 0 ||
	    pipe2(c->err_pipe, O_CLOEXEC) < 0)
		return wsbox_fail(err, errno, "pipe");
	return 0;
}

/* Capture the upper dir of a finished sandbox and publish it. */
static int capture_and_publish(struct exec_ctx *c, struct wsbox_error *err)
{
	_cleanup_close_ int upper =
	    openat(c->att.dirfd, "upper",
		   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (upper < 0)
		return wsbox_fail(err, errno, "open upper dir");
	const char *const *save = NULL;
	if (c->o.save.n)
		save = (const char *const *)c->o.save.v;
	struct capture_options copts = {
	    .max_bytes = c->o.max_layer_size,
	    .save = save,
	    .owner_uid = c->layer_uid,
	    .owner_gid = c->layer_gid,
	    /* Write bits stay: lowers show their modes in the next
	     * workspace, and a task must be able to write into a
	     * directory its parent created. The store is private. */
	    .make_readonly = false,
	};
	struct manifest m = {0};
	struct capture_stats st = {0};
	int r = capture_tree(upper, &copts, &m, &st, err);
	if (r == 0) {
		char digest[DIGEST_STRLEN];
		r = layer_publish(&c->store, &c->att, "upper", &m, digest, err);
		if (r == 0)
			c->rec.layer = xstrdup(digest);
	}
	c->rec.bytes = st.bytes;
	c->rec.files = st.files;
	manifest_free(&m);
	if (r < 0)
		wsbox_error_prefix(err, "capture");
	return r;
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_exec(struct exec_ctx *c, struct wsbox_error *err)
{
	int r;
	struct exec_opts *o = &c->o;

	/* Validate everything that needs no store writes first: a --rootfs
	 * path is checked before the store is created, an imported rootfs
	 * name after it is opened. */
	bool rootfs_is_path =
	    o->rootfs && (strchr(o->rootfs, '/') || o->rootfs[0] == '.');
	if (rootfs_is_path) {
		r = rootfs_resolve(NULL, o->rootfs, &c->rootfs, err);
		if (r < 0)
			return r;
	}
	_cleanup_free_ char *store_path = store_default_path(o->store);
	r = store_open(store_path, true, &c->store, err);
	if (r < 0)
		return r;
	resolve_ids(c);
	if (!o->rootfs)
		c->rootfs = xstrdup("/");
	else if (!rootfs_is_path) {
		r = rootfs_resolve(&c->store, o->rootfs, &c->rootfs, err);
		if (r < 0)
			return r;
	}
	c->run = o->run ? xstrdup(o->run)
			: xasprintf("adhoc-%lld-%d", (long long)time(NULL),
				    (int)getpid());
	const char *task = o->task ? o->task : "main";
	r = assemble_workspace(c, err);
	if (r < 0)
		return r;
	c->bpf_dir = xasprintf("%s/cache/bpf", c->store.path);
	struct policy_options popts = {.bpf_cache_dir = c->bpf_dir,
				       .squash_chown = true};
	r = policy_load(o->policy, &popts, &c->pol, err);
	if (r < 0)
		return r;
	r = attempt_create(&c->store, &c->att, err);
	if (r < 0)
		return r;
	r = open_logs(c, err);
	if (r < 0)
		return r;

	/* As real root the task never runs as host root: it maps to an
	 * unprivileged id, which must own its upper and work dirs. */
	uid_t host_uid = c->host_uid;
	gid_t host_gid = c->host_gid;
	if (c->root &&
	    (fchownat(c->att.dirfd, "upper", host_uid, host_gid, 0) < 0 ||
	     fchownat(c->att.dirfd, "work", host_uid, host_gid, 0) < 0 ||
	     fchmod(c->att.dirfd, 0711) < 0 ||
	     fchmodat(c->store.fd, ".", 0711, 0) < 0 ||
	     fchmodat(c->store.fd, "staging", 0711, 0) < 0 ||
	     fchmodat(c->store.fd, "layers", 0711, 0) < 0))
		return wsbox_fail(err, errno, "prepare staging for uid %u",
				  (unsigned)host_uid);

	c->envp = exec_build_env(o, environ);
	c->empty = xasprintf("%s/empty", c->store.path);
	const char *hide[] = {c->store.path};
	struct plan plan = {
	    .rootfs = c->rootfs,
	    .host_root = !o->rootfs,
	    .hide = hide,
	    .n_hide = 1,
	    .lowers = (const char *const *)c->lowers.v,
	    .n_lowers = c->lowers.n,
	    .upper = o->ro ? NULL : c->att.upper,
	    .work = o->ro ? NULL : c->att.work,
	    .empty_lower = c->empty,
	    .root_mnt = c->att.root,
	    .argv = o->argv,
	    .envp = c->envp,
	    .cwd = o->cwd,
	    .hostname = o->hostname,
	    .uid = o->uid,
	    .gid = o->gid,
	    .host_uid = host_uid,
	    .host_gid = host_gid,
	    .net = o->net,
	    .limits = exec_opts_limits(o),
	    .policy = &c->pol,
	    .stdio = {-1, c->out_pipe[1], c->err_pipe[1]},
	    .close_stdio = true,
	    .tee = {{c->out_pipe[0], {STDOUT_FILENO, c->out_log}},
		    {c->err_pipe[0], {STDERR_FILENO, c->err_log}}},
	    .n_tee = 2,
	};
	struct task_record *rec = &c->rec;
	rec->run = c->run;
	rec->task = (char *)task;
	rec->attempt = c->att.id;
	rec->parents = o->parents.v;
	rec->n_parents = o->parents.n;
	rec->ancestors = c->dag.nodes;
	rec->n_ancestors = c->dag.n;
	rec->lowers = c->lower_digests.v;
	rec->n_lowers = c->lower_digests.n;
	rec->ro = o->ro;
	rec->started = wall_now();

	struct sandbox_result res;
	r = sandbox_run(&plan, &res, err);
	/* The sandbox closed the pipes' write ends; forget them. */
	c->out_pipe[1] = c->err_pipe[1] = -1;
	if (r < 0)
		return r;
	rec->wall_sec = res.wall_sec;
	rec->cpu_sec = res.cpu_sec;
	rec->max_rss_kb = res.max_rss_kb;
	rec->exit_code = res.signaled ? 0 : res.code;
	rec->signal = res.signaled ? res.code : 0;
	int status = sandbox_exit_status(&res);
	if (res.timed_out) {
		rec->status = "timeout";
		wsbox_fail_status(err, WSBOX_EXIT_TIMEOUT, 0,
				  "task %s timed out after %u s", task,
				  o->timeout_sec);
	} else if (status != 0) {
		rec->status = "failed";
	} else if (!o->ro) {
		r = capture_and_publish(c, err);
		rec->status = r == 0 ? "succeeded" : "failed";
		if (r < 0)
			status = WSBOX_EXIT_FAILURE;
	} else {
		rec->status = "succeeded";
	}
	struct wsbox_error rerr = {0};
	if (record_write(&c->store, rec, &rerr) < 0) {
		*err = rerr;
		return -EIO;
	}
	rec->status = NULL;
	if (status != 0 && !err->msg[0])
		err->status = status; /* the task's own failure: no message */
	else if (err->msg[0])
		err->status = err->status ? err->status : status;
	return status;
}

int cmd_exec(int argc, char **argv)
{
	struct wsbox_error err = {0};
	struct exec_ctx c = {.out_pipe = {-1, -1},
			     .err_pipe = {-1, -1},
			     .out_log = -1,
			     .err_log = -1,
			     .store = {.fd = -1},
			     .att = {.dirfd = -1}};
	int status;

	if (exec_opts_parse(argc, argv, &c.o, &err) < 0) {
		exec_opts_free(&c.o);
		wsbox_error_print(&err);
		return WSBOX_EXIT_FAILURE;
	}
	int r = run_exec(&c, &err);
	if (r < 0)
		status = err.status ? err.status : WSBOX_EXIT_FAILURE;
	else
		status = r;
	if (err.msg[0])
		wsbox_error_print(&err);
	if (c.att.id) {
		struct wsbox_error e2 = {0};
		if (c.o.keep_failed && status != 0) {
			fprintf(stderr, "wsbox: kept failed attempt in `%s`\n",
				c.att.dir);
			attempt_free(&c.att);
		} else if (attempt_discard(&c.store, &c.att, &e2) < 0) {
			wsbox_error_print(&e2);
		}
	}
	free(c.rec.stdout_log);
	free(c.rec.stderr_log);
	ctx_free(&c);
	return status;
}
