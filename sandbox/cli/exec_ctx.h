/* sandbox/cli/exec_ctx.h: what one task's lifecycle owns (struct exec_ctx)
 * and the steps of `run_exec` (sandbox/cli/exec.c) that other spines reuse:
 * the attempt verbs (sandbox/cli/attempt.c) build begin, step and commit out
 * of the same steps (docs/exec.md "Lifecycle", "Attempts"). Private to
 * sandbox/cli/. */
#ifndef WSBOX_CLI_EXEC_CTX_H
#define WSBOX_CLI_EXEC_CTX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "layers/cache.h"
#include "layers/copy_ws.h"
#include "layers/dag.h"
#include "layers/manifest.h"
#include "layers/record.h"
#include "layers/remote.h"
#include "layers/store.h"
#include "policy/policy.h"
#include "sandbox/cli/events.h"
#include "sandbox/cli/exec_opts.h"
#include "sandbox/cli/exec_strategy.h"
#include "sandbox/cli/exec_stdin.h"
#include "sandbox/sandbox.h"
#include "sandbox/util/error.h"

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
	/* Plain exec: the staging dir removed by a second thread during
	 * publication (exec_discard.c); staging_gone once it did. */
	struct exec_discard *discard;
	bool staging_gone;
	char line[WSBOX_ERROR_MAX]; /* the message the record keeps */
	bool rootfs_is_path;  /* --rootfs names a directory, not an import */
	bool rootfs_imported; /* the rootfs is rootfs/<name> in the store */
	struct task_record rec;
	/* The host ids the task maps to (rootless: the caller, one id; as
	 * root: inside 0..id_count-1 onto an unprivileged subordinate range)
	 * and the owner of layers on disk. With `idmap` the lowers are shown
	 * to root-mode tasks through idmapped mounts, so layers stay the
	 * store owner's. Resolved once, after the store is open. */
	bool root, idmap;
	uid_t host_uid, layer_uid, id_count;
	gid_t host_gid, layer_gid;
	/* --remote or $WSBOX_REMOTE, open when has_remote. */
	struct remote rm;
	bool has_remote, remote_hit;
	/* A second line after the error (the retry of a failed push). */
	char hint[WSBOX_ERROR_MAX];
};

#define EXEC_CTX_INIT                                                          \
	{                                                                      \
		.out_pipe = {-1, -1}, .err_pipe = {-1, -1}, .out_log = -1,     \
		.err_log = -1, .comb_log = -1, .in = EXEC_STDIN_INIT,          \
		.gc_lock = -1, .task_lock = -1, .mutex_lock = -1,              \
		.store = {.fd = -1}, .att = {.dirfd = -1}, .ev = {.fd = -1},   \
	}

/* The steps, in the order run_exec calls them; each returns 0 or a
 * negative errno with err set (judge_and_capture and publish: the exit
 * status). */

/* Step 1: stdin's kind, events, a --rootfs path, the store (created). */
int open_store(struct exec_ctx *c, struct wsbox_error *err);
/* Step 2: ids, rootfs and its identity, names; takes the gc lock shared. */
int identify_task(struct exec_ctx *c, struct wsbox_error *err);
/* Step 2: the seccomp policy (c->o.policy), compiled filters cached. */
int load_policy(struct exec_ctx *c, struct wsbox_error *err);
/* Step 3: ancestors, conflicts, lowers; from here on the attempt counts. */
int assemble_workspace(struct exec_ctx *c, struct wsbox_error *err);
/* Step 6: staging dir and its pins; drops the gc lock. */
int stage(struct exec_ctx *c, struct wsbox_error *err);
/* Step 7, before the sandbox: root-mode ownership of upper/ and work/, the
 * idmapped views of the lowers, --mutex. */
int prepare_root_staging(struct exec_ctx *c, struct wsbox_error *err);
int show_idmapped_lowers(struct exec_ctx *c, struct wsbox_error *err);
int take_mutex(struct exec_ctx *c, struct wsbox_error *err);
/* Step 7: the sandbox, to the end (c->res, c->ran); releases --mutex. */
int run_sandbox(struct exec_ctx *c, struct wsbox_error *err);
/* Step 8: the outcome of c->res into the record, capture on success;
 * returns the exit status. */
int judge_and_capture(struct exec_ctx *c, struct wsbox_error *err);
/* Step 9: the compare-and-swap publication; returns `status`, or a
 * negative errno when the result could not be published. */
int publish(struct exec_ctx *c, int status, struct wsbox_error *err);
/* Step 10: record what was not, report, settle the staging dir, free c;
 * returns the exit status. */
int exec_ctx_finish(struct exec_ctx *c, int r, const struct wsbox_error *err);

/* Step 7, first: the logs in staging and the pipes the tee reads (exec.c);
 * then the logs, root-mode staging, idmapped views and --mutex
 * (exec_sandbox.c). */
int open_logs(struct exec_ctx *c, struct wsbox_error *err);
int prepare_sandbox(struct exec_ctx *c, struct wsbox_error *err);

/* exec_discard.c, plain exec only: after the sandbox, a thread removes
 * overlayfs's work dir and makes the run's attempts/<task>/ (start; not
 * for --keep-failed, --ro, --max-layer-size or another strategy); once the
 * layer, logs and cache entry are out, the rest of staging (release);
 * finish waits for it (c->staging_gone). No fork or clone after start. */
void exec_discard_start(struct exec_ctx *c);
void exec_discard_release(struct exec_ctx *c);
void exec_discard_finish(struct exec_ctx *c);

/* exec_workspace.c: the manifests of the stacked lowers, topmost first (the
 * copy and fuse-overlayfs strategies diff against them at capture). */
int stack_manifests(struct exec_ctx *c, const struct manifest **stack,
		    size_t *n_out, struct wsbox_error *err);

/* exec_remote.c, with --remote or $WSBOX_REMOTE (no-ops without): parents
 * with no record here pulled with their ancestry (step 3); the remote cache
 * after a local miss (1 hit, 0 miss; a failure is a warning and a miss);
 * after a publication, the task pushed (returns `status`, or 125 with the
 * retry command in c->hint). */
int fetch_parents(struct exec_ctx *c, struct wsbox_error *err);
int lookup_remote(struct exec_ctx *c, struct cache_entry *e);
int push_result(struct exec_ctx *c, int status, struct wsbox_error *err);

/* exec_events.c: policy_denied (plan.on_denied), the one line exec prints
 * for err (or the limits note), and the final report: that line and the
 * task_finished event. */
void emit_denied(void *ctx, pid_t pid, int nr, const char *name);
void final_line(const struct exec_ctx *c, const struct wsbox_error *err,
		char line[WSBOX_ERROR_MAX]);
void report(struct exec_ctx *c, int status, const char *line);

/* task_started (parents, cache key) on c->ev. */
void emit_started(struct exec_ctx *c);
/* Release everything c holds (no record, no report, staging untouched). */
void ctx_free(struct exec_ctx *c);
/* Unix time now, fractional. */
double wall_now(void);

#endif
