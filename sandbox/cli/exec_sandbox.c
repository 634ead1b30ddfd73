/* sandbox/cli/exec_sandbox.c: step 7 of exec (docs/exec.md "Lifecycle"):
 * root-mode staging, idmapped views of the lowers, --mutex, the plan the
 * sandbox reads (sandbox/plan.h), and the sandbox run to its end. */
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include "layers/lock.h"
#include "sandbox/cli/exec_ctx.h"
#include "sandbox/idmap.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

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
 * range in which the task's ids must own its upper and work dirs. They reach
 * them through the sandbox's private view of the store (plan.view_base,
 * sandbox/ns_view.c), so on disk the store, staging/ and layers/ stay 0700:
 * no other host user can traverse to a live upper or a layer (tightened
 * here too, for stores an older wsbox opened to 0711). The attempt dir
 * itself is searchable, behind them. Root's supplementary groups (host
 * gid 0) would follow the task into its namespace: drop them. */
/* The sandbox child reaches the store's places by path as the task's host
 * ids; the private view (sandbox/ns_view.c) covers the store itself, not
 * the directories above it. A parent only root can search (a store under a
 * 0700 mktemp dir or /root) failed later as "mount tmpfs on ...: Permission
 * denied"; name the directory instead. */
static int check_store_parents(const struct exec_ctx *c,
			       struct wsbox_error *err)
{
	_cleanup_free_ char *dir = xstrdup(c->store.path);
	char *slash;
	while ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		const char *at = *dir ? dir : "/";
		struct stat st;
		if (stat(at, &st) < 0)
			return wsbox_fail(err, errno, "stat `%s`", at);
		if (!(st.st_mode & S_IXOTH))
			return wsbox_fail_logic(
			    err, EACCES,
			    "store `%s`: its parent `%s` (mode %04o) cannot "
			    "be searched by the task's ids: make it "
			    "searchable (chmod o+x) or put the store elsewhere",
			    c->store.path, at, (unsigned)(st.st_mode & 07777));
	}
	return 0;
}

int prepare_root_staging(struct exec_ctx *c, struct wsbox_error *err)
{
	if (!c->root)
		return 0;
	int r = check_store_parents(c, err);
	if (r < 0)
		return r;
	uid_t up_uid = task_host_uid(c);
	gid_t up_gid = task_host_gid(c);
	if (setgroups(0, NULL) < 0 ||
	    fchownat(c->att.dirfd, "upper", up_uid, up_gid, 0) < 0 ||
	    fchownat(c->att.dirfd, "work", up_uid, up_gid, 0) < 0 ||
	    fchmod(c->att.dirfd, 0711) < 0 ||
	    fchmodat(c->store.fd, ".", 0700, 0) < 0 ||
	    fchmodat(c->store.fd, store_rel(STORE_STAGING), 0700, 0) < 0 ||
	    fchmodat(c->store.fd, store_rel(STORE_LAYERS), 0700, 0) < 0)
		return wsbox_fail(err, errno, "prepare staging for uid %u",
				  (unsigned)up_uid);
	return 0;
}

/* Host-root-owned layers (and the empty lower) appear owned by the task's
 * --uid/--gid (README "Ownership, root mode") through read-only
 * idmapped views, made in a private mount namespace the sandbox inherits. */
int show_idmapped_lowers(struct exec_ctx *c, struct wsbox_error *err)
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
int take_mutex(struct exec_ctx *c, struct wsbox_error *err)
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
int prepare_sandbox(struct exec_ctx *c, struct wsbox_error *err)
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

/* The task's own terminal (docs/sandbox.md "Terminal"): only when stdin is
 * the caller's terminal, which the task must never hold; its stdout and
 * stderr are on the pty exactly where wsbox's are terminals. Other stdin
 * (a pipe, a file's copy, /dev/null) keeps pipes everywhere, so what a
 * cacheable task prints never depends on a terminal. */
static unsigned pty_stdio(const struct exec_ctx *c)
{
	if (c->in.kind != EXEC_STDIN_TERMINAL)
		return 0;
	return 1u | (isatty(STDOUT_FILENO) ? 2u : 0u) |
	       (isatty(STDERR_FILENO) ? 4u : 0u);
}

/* The one-way boundary between store and sandbox (sandbox/plan.h). `hide`
 * must outlive the plan. */
static struct plan exec_plan(struct exec_ctx *c, const char **hide)
{
	struct exec_opts *o = &c->o;
	return (struct plan){
	    .rootfs = c->rootfs,
	    .host_root = !o->rootfs,
	    .rootfs_in_store = c->rootfs_imported,
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
	    .view_base = c->root ? c->store.path : NULL,
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
	    .relay_stdin = c->in.relay >= 0,
	    .stdin_relay_fd = c->in.relay,
	    .pty_stdio = pty_stdio(c),
	    .tee = {{c->out_pipe[0], {STDOUT_FILENO, c->out_log}},
		    {c->err_pipe[0], {STDERR_FILENO, c->err_log}}},
	    .n_tee = 2,
	    .has_combined_log = true,
	    .combined_log = c->comb_log,
	    .log_max_bytes = o->max_log_size,
	    .report_denied = true,
	    .on_denied = emit_denied,
	    .on_denied_ctx = c,
	};
}

/* Step 7: clone → contain → init → task, to the end (c->res). */
int run_sandbox(struct exec_ctx *c, struct wsbox_error *err)
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
	c->in.fd = c->in.relay = -1;
	if (r < 0 && c->res.seal_refused) {
		/* The task ran, yet a reference into its workspace could
		 * still write: its tree is no layer (sandbox/seal.h). */
		char why[WSBOX_ERROR_MAX];
		snprintf(why, sizeof why, "%s", err->msg);
		return wsbox_fail_logic(err, -r, "%s; nothing published", why);
	}
	if (r < 0)
		return r;
	c->ran = true;
	memcpy(c->rec.log_truncated, c->res.log_truncated,
	       sizeof c->rec.log_truncated);
	return 0;
}
