/* sandbox/cli/attempt.c: `wsbox attempt begin|step|commit|abort`, one task
 * run as several sandboxes over one workspace (docs/exec.md "Attempts").
 * Three more spines made of exec's steps (sandbox/cli/exec_ctx.h): begin
 * assembles and stages the workspace and writes it down in the staging dir
 * (attempt.json); each step reads it back and runs one sandbox over the same
 * upper dir; commit captures and publishes with exec's compare-and-swap;
 * abort removes the staging dir. Steps and commit/abort of one attempt are
 * serialised by a flock on staging/<id>/lock. */
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "layers/result.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/attempt_state.h"
#include "sandbox/cli/usage.h"
#include "sandbox/strategy.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/json.h"

extern char **environ;

/* The files a multi-step attempt adds to its staging dir (layers/store.h). */
#define ATTEMPT_FILE "attempt.json" /* the resolved workspace and options */
#define ATTEMPT_LOCK "lock"	    /* serialises steps, commit, abort */
#define ATTEMPT_STEPS "steps"	    /* one JSON line per finished step */
#define ATTEMPT_CLOSED "closed"	    /* "committed" or "aborted" */

static int usage(FILE *f, int status);

/* An attempt verb's context: exec's, plus the attempt file it was read
 * from (c's borrowed strings point into it). */
struct attempt_ctx {
	struct exec_ctx c;
	json_t *file;
	int lock; /* staging/<id>/lock, held */
};

static void attempt_ctx_release(struct attempt_ctx *a)
{
	if (a->lock >= 0)
		close(a->lock);
	a->lock = -1;
	json_decref(a->file);
	a->file = NULL;
}

/* ---- begin ---- */

#define OWNER_OPT "--owner-pid"

/* --owner-pid PID (or --owner-pid=PID), taken out of argv before exec's
 * parser sees the rest. */
static int take_owner_opt(int *argc, char **argv, pid_t *owner,
			  struct wsbox_error *err)
{
	*owner = getppid();
	for (int i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		int words = 2;
		const char *val = i + 1 < *argc ? argv[i + 1] : "";
		if (!strncmp(argv[i], OWNER_OPT "=", sizeof OWNER_OPT)) {
			words = 1;
			val = argv[i] + sizeof OWNER_OPT;
		} else if (strcmp(argv[i], OWNER_OPT)) {
			continue;
		}
		char *end;
		errno = 0;
		long v = strtol(val, &end, 10);
		if (errno || end == val || *end || v <= 0 || v > INT_MAX)
			return wsbox_fail(err, 0,
					  "--owner-pid `%s`: want a pid", val);
		*owner = (pid_t)v;
		memmove(&argv[i], &argv[i + words],
			(size_t)(*argc - i - words + 1) * sizeof *argv);
		*argc -= words;
		i--;
	}
	return 0;
}

/* The number (result_begin), the environment, the attempt's events. No
 * cache key: the commands are only known as the steps come. */
static int draw_number(struct exec_ctx *c, struct wsbox_error *err)
{
	c->began = true;
	int r = result_begin(&c->store, c->run, c->task, &c->seq, err);
	if (r < 0)
		return r;
	c->rec.seq = c->seq;
	c->uncacheable = ATTEMPT_UNCACHEABLE;
	c->rec.uncacheable = (char *)c->uncacheable;
	c->envp = exec_build_env(&c->o, environ);
	emit_started(c);
	events_emit(&c->ev, "cache_miss",
		    json_pack("{s:n, s:b, s:b, s:s}", "cache_key", "forced",
			      false, "uncacheable", true, "reason",
			      c->uncacheable));
	return 0;
}

/* Empty logs the steps append to, and the attempt file; then the owner
 * marker names the engine, so gc reclaims the attempt once it is gone. */
static int write_attempt(struct exec_ctx *c, pid_t owner,
			 unsigned long long start, struct wsbox_error *err)
{
	const char *logs[] = {"stdout", "stderr", "combined"};
	for (size_t i = 0; i < ARRAY_SIZE(logs); i++) {
		int r =
		    write_new_file_at(c->att.dirfd, logs[i], "", 0, 0600, err);
		if (r < 0)
			return r;
	}
	_cleanup_free_ char *policy = attempt_state_policy_name(c->o.policy);
	json_t *j = attempt_state_json(c, policy, owner, start);
	_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(1));
	json_decref(j);
	if (!text)
		return wsbox_fail(err, ENOMEM, "attempt file");
	int r = atomic_write_at(c->att.dirfd, ATTEMPT_FILE, text, strlen(text),
				0600, err);
	if (r < 0)
		return r;
	return attempt_set_owner(&c->att, owner, start, err);
}

/* The spine of `attempt begin`: exec's steps up to staging, then the
 * attempt written down instead of a sandbox. */
static int run_begin(struct exec_ctx *c, pid_t owner, struct wsbox_error *err)
{
	unsigned long long start = proc_starttime(owner);
	if (!start)
		return wsbox_fail(err, 0, "--owner-pid %d: no such process",
				  (int)owner);
	if (c->o.max_layer_size)
		return wsbox_fail(err, 0,
				  "--max-layer-size: not for attempts (its "
				  "tmpfs would not outlive a step)");
	int r = open_store(c, err);
	if (r < 0)
		return r;
	/* begin and commit do not talk to a registry: an engine pulls the
	 * parents before and pushes the task after (docs/exec.md
	 * "Attempts"), rather than believe a push happened. */
	if (c->has_remote)
		return wsbox_fail(err, 0,
				  "--remote or $WSBOX_REMOTE: attempts do not "
				  "use a remote; run `wsbox pull` for the "
				  "parents before begin and `wsbox push` after "
				  "commit");
	r = identify_task(c, err); /* ids, rootfs, strategy, names, gc lock */
	if (r < 0)
		return r;
	/* Every step remounts the same upper dir: only the kernel overlay
	 * does that without a daemon or a copy to carry between steps
	 * (docs/exec.md "Attempts"). */
	if (c->strat.s != WS_OVERLAY)
		return wsbox_fail(err, 0,
				  "strategy %s: multi-step attempts need the "
				  "kernel overlay (see `wsbox doctor`)",
				  strategy_name(c->strat.s));
	r = load_policy(c, err);
	if (r < 0)
		return r;
	r = assemble_workspace(c, err); /* DAG → conflicts → lowers */
	if (r < 0)
		return r;
	r = draw_number(c, err); /* number, env; uncacheable */
	if (r < 0)
		return r;
	r = stage(c, err); /* staging dir, pins; gc lock dropped */
	if (r < 0)
		return r;
	return write_attempt(c, owner, start, err);
}

static int attempt_begin(int argc, char **argv)
{
	struct exec_ctx c = EXEC_CTX_INIT;
	struct wsbox_error err = {0};
	pid_t owner;
	if (take_owner_opt(&argc, argv, &owner, &err) < 0 ||
	    exec_opts_parse_workspace(argc, argv, &c.o, &err) != 0) {
		exec_opts_free(&c.o);
		if (!err.msg[0]) /* --help */
			return usage(stdout, 0);
		return wsbox_error_exit(&err);
	}
	int r = run_begin(&c, owner, &err);
	if (r < 0)
		return exec_ctx_finish(&c, r, &err);
	printf("%s\n", c.att.id);
	attempt_free(&c.att); /* the staging dir stays for the steps */
	ctx_free(&c);
	return fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
}

/* ---- reading an attempt back ---- */

/* attempt.json into c: the state a step or the commit works from. */
static int load_attempt(struct attempt_ctx *a, struct wsbox_error *err)
{
	struct exec_ctx *c = &a->c;
	_cleanup_free_ char *text = NULL;
	int r = read_file_at(c->att.dirfd, ATTEMPT_FILE, 64UL << 20, &text,
			     NULL, err);
	if (r < 0)
		return r;
	json_error_t je;
	a->file = json_loads(text, 0, &je);
	json_t *j = a->file;
	json_t *sb = json_object_get(j, "sandbox");
	if (!j || attempt_state_int(j, "version") != ATTEMPT_FORMAT ||
	    !attempt_state_str(j, "run") || !attempt_state_str(j, "task") ||
	    !attempt_state_str(j, "rootfs") ||
	    !attempt_state_str(j, "rootfs_id") ||
	    !attempt_state_str(j, "policy") || !attempt_state_str(sb, "cwd") ||
	    !attempt_state_str(sb, "hostname") || !attempt_state_str(sb, "net"))
		return wsbox_fail(err, 0, "attempt %s: malformed `%s`",
				  c->att.id, ATTEMPT_FILE);
	attempt_state_strv(&c->o.parents, json_object_get(j, "parents"));
	attempt_state_strv(&c->lowers, json_object_get(j, "lowers"));
	attempt_state_strv(&c->lower_digests,
			   json_object_get(j, "lower_digests"));
	attempt_state_ancestors(c, json_object_get(j, "ancestors"));
	c->rootfs = xstrdup(attempt_state_str(j, "rootfs"));
	c->rootfs_id = xstrdup(attempt_state_str(j, "rootfs_id"));
	c->o.rootfs = attempt_state_str(j, "rootfs_opt");
	c->o.policy = attempt_state_str(j, "policy");
	attempt_state_ids(c, json_object_get(j, "ids"));
	attempt_state_sandbox(c, json_object_get(j, "sandbox"));
	attempt_state_names(c, j);
	c->counts = c->began = true;
	return 0;
}

/* Is `id` the attempt of some task record's history? (A committed
 * attempt's staging dir is gone; its attempt record stays.) */
static bool attempt_was_committed(struct store *s, const char *id)
{
	char **runs = NULL, **tasks = NULL;
	size_t n_runs = 0, n_tasks = 0;
	struct wsbox_error ignored;
	bool found = false;
	if (list_dir_at(s->fd, store_rel(STORE_RUNS), NULL, &runs, &n_runs,
			&ignored) < 0)
		return false;
	for (size_t i = 0; i < n_runs && !found; i++) {
		_cleanup_free_ char *dir =
		    store_run_rel(runs[i], "attempts", NULL);
		if (list_dir_at(s->fd, dir, NULL, &tasks, &n_tasks, &ignored) <
		    0)
			continue;
		for (size_t k = 0; k < n_tasks && !found; k++) {
			_cleanup_free_ char *rel =
			    store_attempt_rel(runs[i], tasks[k], id);
			found = faccessat(s->fd, rel, F_OK, 0) == 0;
		}
		free_strings(tasks, n_tasks);
	}
	free_strings(runs, n_runs);
	return found;
}

/* The refusal of an attempt whose staging dir is gone. */
static int refuse_gone(struct store *s, const char *id, struct wsbox_error *err)
{
	if (attempt_was_committed(s, id))
		return wsbox_fail(err, 0, "attempt %s: committed", id);
	return wsbox_fail(err, 0,
			  "attempt %s: no such attempt (aborted, reclaimed "
			  "by gc, or never begun)",
			  id);
}

/* Open the staging dir of attempt `id` and take its lock (waiting for a
 * step that runs); refuse an attempt that is gone, committed or aborted. */
static int open_attempt(struct attempt_ctx *a, const char *store_opt,
			const char *id, struct wsbox_error *err)
{
	struct exec_ctx *c = &a->c;
	_cleanup_free_ char *path = store_default_path(store_opt);
	int r = store_open(path, false, &c->store, err);
	if (r < 0)
		return r;
	r = attempt_open(&c->store, id, &c->att, err);
	if (r == -ENOENT)
		return refuse_gone(&c->store, id, err);
	if (r < 0)
		return r;
	a->lock = openat(c->att.dirfd, ATTEMPT_LOCK,
			 O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->lock < 0 && errno == ENOENT)
		return refuse_gone(&c->store, id, err);
	if (a->lock < 0 || flock(a->lock, LOCK_EX) < 0)
		return wsbox_fail(err, errno, "lock attempt %s", id);
	_cleanup_free_ char *closed = NULL;
	struct wsbox_error none;
	if (read_file_at(c->att.dirfd, ATTEMPT_CLOSED, 64, &closed, NULL,
			 &none) == 0)
		return wsbox_fail(err, 0, "attempt %s: %s", id, closed);
	/* Removed while we waited (abort, gc): its files are gone. */
	if (faccessat(c->att.dirfd, ATTEMPT_FILE, F_OK, 0) < 0)
		return refuse_gone(&c->store, id, err);
	return 0;
}

/* Mark the attempt closed before committing or aborting it: a step that
 * waits for the lock then refuses. */
static int close_attempt(struct exec_ctx *c, const char *how,
			 struct wsbox_error *err)
{
	return write_new_file_at(c->att.dirfd, ATTEMPT_CLOSED, how, strlen(how),
				 0600, err);
}

/* ---- the command lines of step, commit, abort ---- */

struct attempt_args {
	const char *store, *id, *events;
	struct strv env; /* step: --env K=V */
	char **argv;	 /* step: CMD [ARG...] */
	int argc;
};

enum { ARG_STORE = 256, ARG_ENV, ARG_EVENTS };

/* VERB ID [--store DIR] [--events SPEC] [--env K=V]... [-- CMD...]: the id
 * may stand before or after the options; CMD only for step. 0, 1 for
 * --help, or the exit status of a refusal. */
static int parse_args(const char *verb, int argc, char **argv,
		      struct attempt_args *a)
{
	static const struct option opts[] = {
	    {"store", required_argument, NULL, ARG_STORE},
	    {"env", required_argument, NULL, ARG_ENV},
	    {"events", required_argument, NULL, ARG_EVENTS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool step = !strcmp(verb, "step");
	optind = 1;
	opterr = 0;
	for (;;) {
		int o = getopt_long(argc, argv, "+:h", opts, NULL);
		if (o == -1) {
			bool dashes =
			    optind > 1 && !strcmp(argv[optind - 1], "--");
			if (!a->id && optind < argc && !dashes) {
				a->id = argv[optind++];
				continue;
			}
			break;
		}
		if (o == 'h') {
			return 1;
		} else if (o == ARG_STORE) {
			a->store = optarg;
		} else if (o == ARG_EVENTS) {
			a->events = optarg;
		} else if (o == ARG_ENV && step) {
			const char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg)
				return usage_refuse(
				    "attempt", "--env `%s`: want NAME=VALUE",
				    optarg);
			strv_push(&a->env, optarg);
		} else if (o == ':') {
			return usage_refuse("attempt",
					    "option `%s` needs a value",
					    argv[optind - 1]);
		} else {
			return usage_unknown_option("attempt",
						    argv[optind - 1]);
		}
	}
	if (!a->id)
		return usage_refuse("attempt", "%s: no attempt id given", verb);
	if (step && (optind >= argc || !*argv[optind]))
		return usage_refuse("attempt", "step: no command given");
	if (!step && optind < argc)
		return usage_refuse("attempt", "unexpected argument `%s`",
				    argv[optind]);
	a->argv = argv + optind;
	a->argc = argc - optind;
	return 0;
}

/* --events of this call, else the one given to begin. */
static int open_events(struct attempt_ctx *a, const char *spec,
		       struct wsbox_error *err)
{
	struct exec_ctx *c = &a->c;
	return events_open(&c->ev, spec ? spec : c->o.events, err);
}

/* ---- step ---- */

/* The step's --env over the environment begin settled (later wins). */
static void apply_step_env(struct exec_ctx *c, const struct strv *env)
{
	for (size_t i = 0; i < env->n; i++) {
		const char *kv = env->v[i];
		size_t klen = (size_t)(strchr(kv, '=') - kv);
		size_t k = 0;
		while (c->envp[k] && (strncmp(c->envp[k], kv, klen) ||
				      c->envp[k][klen] != '='))
			k++;
		if (!c->envp[k]) {
			c->envp =
			    xreallocarray(c->envp, k + 2, sizeof *c->envp);
			c->envp[k + 1] = NULL;
		} else {
			free(c->envp[k]);
		}
		c->envp[k] = xstrdup(kv);
	}
}

/* The policy a step runs under is the one begin resolved: a policy file
 * changed since is refused rather than silently used. */
static int load_step_policy(struct attempt_ctx *a, struct wsbox_error *err)
{
	struct exec_ctx *c = &a->c;
	int r = load_policy(c, err);
	if (r < 0)
		return r;
	const char *want = attempt_state_str(a->file, "policy_digest");
	if (!want || strcmp(want, c->pol.digest))
		return wsbox_fail(err, 0,
				  "policy `%s`: changed since attempt "
				  "begin",
				  c->o.policy);
	return 0;
}

/* Overlay refuses a work dir it used before (with `volatile`: its
 * work/incompat/volatile marker): each step gets an empty one. The upper
 * dir stays: that is what the steps share. */
static int reset_work(struct exec_ctx *c, struct wsbox_error *err)
{
	int r = rm_rf_at(c->att.dirfd, "work", err);
	if (r < 0 && r != -ENOENT)
		return r;
	if (mkdirat(c->att.dirfd, "work", 0700) < 0)
		return wsbox_fail(err, errno, "mkdir `%s`", c->att.work);
	return 0;
}

/* The attempt's logs, appended to by every step, and the output pipes. */
static int open_step_logs(struct exec_ctx *c, struct wsbox_error *err)
{
	const int fl = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
	c->out_log = openat(c->att.dirfd, "stdout", fl);
	c->err_log = openat(c->att.dirfd, "stderr", fl);
	c->comb_log = openat(c->att.dirfd, "combined", fl);
	if (c->out_log < 0 || c->err_log < 0 || c->comb_log < 0)
		return wsbox_fail(err, errno, "open logs in `%s`", c->att.dir);
	if (pipe2(c->out_pipe, O_CLOEXEC) < 0 ||
	    pipe2(c->err_pipe, O_CLOEXEC) < 0)
		return wsbox_fail(err, errno, "pipe");
	return 0;
}

/* How many steps ran before this one (lines of `steps`). */
static size_t steps_done(struct exec_ctx *c)
{
	_cleanup_free_ char *text = NULL;
	struct wsbox_error ignored;
	size_t len = 0, n = 0;
	if (read_file_at(c->att.dirfd, ATTEMPT_STEPS, 64UL << 20, &text, &len,
			 &ignored) < 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	return n;
}

static json_t *step_result_json(const struct exec_ctx *c, size_t step,
				int status)
{
	const struct sandbox_result *res = &c->res;
	return json_pack("{s:I, s:i, s:i, s:i, s:b, s:f, s:f, s:I, s:o, s:b}",
			 "step", (json_int_t)step, "exit_status", status,
			 "exit_code", res->signaled ? 0 : res->code, "signal",
			 res->signaled ? res->code : 0, "timed_out",
			 res->timed_out, "wall_sec", res->wall_sec, "cpu_sec",
			 res->cpu_sec, "max_rss_kb",
			 (json_int_t)res->max_rss_kb, "log_truncated",
			 json_log_truncated(res->log_truncated), "sealed",
			 !res->seal_refused);
}

/* One line per step in `steps` (what commit adds up), one write. */
static int append_step(struct exec_ctx *c, json_t *line,
		       struct wsbox_error *err)
{
	_cleanup_free_ char *text = json_dumps(line, JSON_COMPACT);
	if (!text)
		return wsbox_fail(err, ENOMEM, "step line");
	_cleanup_free_ char *nl = xasprintf("%s\n", text);
	_cleanup_close_ int fd = openat(
	    c->att.dirfd, ATTEMPT_STEPS,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write_all(fd, nl, strlen(nl)) < 0)
		return wsbox_fail(err, errno, "append to `%s/%s`", c->att.dir,
				  ATTEMPT_STEPS);
	return 0;
}

/* Steps 7 of exec for one step: a fresh work dir, the logs, root-mode
 * ownership, idmapped lowers, --mutex, the sandbox. */
static int run_one_step(struct exec_ctx *c, struct wsbox_error *err)
{
	int r = c->o.ro ? 0 : reset_work(c, err);
	if (r < 0)
		return r;
	r = open_step_logs(c, err);
	if (r < 0)
		return r;
	r = prepare_root_staging(c, err);
	if (r < 0)
		return r;
	r = show_idmapped_lowers(c, err);
	if (r < 0)
		return r;
	r = take_mutex(c, err);
	if (r < 0)
		return r;
	return run_sandbox(c, err); /* every process gone when it returns */
}

/* The exit status of a step that ran, exactly as exec's; a timeout and a
 * limit the task hit leave their line in `line`. */
static int judge_step(struct exec_ctx *c, size_t step, char *line)
{
	int status = sandbox_exit_status(&c->res);
	line[0] = '\0';
	if (c->res.timed_out)
		snprintf(line, WSBOX_ERROR_MAX,
			 "attempt %s: step %zu timed out after %u s", c->att.id,
			 step, c->o.timeout_sec);
	else if (c->res.note[0])
		snprintf(line, WSBOX_ERROR_MAX, "task %s: %s", c->task,
			 c->res.note);
	else if (c->res.seal_refused)
		snprintf(line, WSBOX_ERROR_MAX,
			 "attempt %s: step %zu left a file of the workspace "
			 "open for writing: the attempt cannot be committed",
			 c->att.id, step);
	return status;
}

/* The spine of `attempt step`: the attempt read back, one sandbox run
 * over its upper dir, the step's result appended. */
static int run_step(struct attempt_ctx *a, const struct attempt_args *args,
		    char *line, struct wsbox_error *err)
{
	struct exec_ctx *c = &a->c;
	/* First: a closed fd 0 is filled before anything else is opened. */
	int r = exec_stdin_classify(&c->in, err);
	if (r < 0)
		return r;
	/* A file on stdin is handed over as a sealed copy, as to exec. */
	r = exec_stdin_snapshot(&c->in, true, err);
	if (r < 0)
		return r;
	r = open_attempt(a, args->store, args->id, err); /* lock held */
	if (r < 0)
		return r;
	r = load_attempt(a, err);
	if (r < 0)
		return r;
	r = open_events(a, args->events, err);
	if (r < 0)
		return r;
	r = load_step_policy(a, err);
	if (r < 0)
		return r;
	apply_step_env(c, &args->env);
	c->o.argv = args->argv;
	c->o.argc = args->argc;
	size_t step = steps_done(c) + 1;
	events_emit(&c->ev, "step_started",
		    json_pack("{s:I, s:o}", "step", (json_int_t)step, "argv",
			      json_strv(c->o.argv, (size_t)c->o.argc)));
	r = run_one_step(c, err);
	/* A step whose workspace could not be sealed ran: its line says so,
	 * for commit to refuse the attempt (its upper dir can still change). */
	if (r < 0 && !c->res.seal_refused)
		return r;
	int status = judge_step(c, step, line);
	if (r < 0) {
		status = err->status ? err->status : WSBOX_EXIT_FAILURE;
		snprintf(line, WSBOX_ERROR_MAX, "%s", err->msg);
	}
	json_t *res = step_result_json(c, step, status);
	r = append_step(c, res, err);
	json_object_set_new(res, "error",
			    json_str_or_null(line[0] ? line : NULL));
	events_emit(&c->ev, "step_finished", res);
	return r < 0 ? r : status;
}

static int attempt_step(int argc, char **argv)
{
	struct attempt_ctx a = {.c = EXEC_CTX_INIT, .lock = -1};
	struct attempt_args args = {0};
	struct wsbox_error err = {0};
	int r = parse_args("step", argc, argv, &args);
	if (r != 0) {
		strv_free(&args.env);
		return r == 1 ? usage(stdout, 0) : r;
	}
	char line[WSBOX_ERROR_MAX] = "";
	r = run_step(&a, &args, line, &err);
	int status = r;
	if (r < 0) {
		status = err.status ? err.status : WSBOX_EXIT_FAILURE;
		snprintf(line, sizeof line, "%s", err.msg);
	}
	if (line[0])
		dprintf(STDERR_FILENO, "wsbox: %s\n", line);
	attempt_free(&a.c.att); /* the staging dir stays for the next step */
	ctx_free(&a.c);
	attempt_ctx_release(&a);
	strv_free(&args.env);
	return status;
}

/* ---- commit ---- */

/* What the steps did, added up into the sandbox result the record takes:
 * the attempt's whole wall time, every step's CPU time, the largest RSS. */
static void sum_steps(struct exec_ctx *c)
{
	c->res = (struct sandbox_result){.upper_fs = -1};
	c->res.wall_sec = wall_now() - c->rec.started;
	_cleanup_free_ char *text = NULL;
	struct wsbox_error ignored;
	if (read_file_at(c->att.dirfd, ATTEMPT_STEPS, 64UL << 20, &text, NULL,
			 &ignored) < 0)
		return;
	for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
		json_t *j = json_loads(l, 0, NULL);
		c->res.cpu_sec +=
		    json_real_value(json_object_get(j, "cpu_sec"));
		uint64_t rss = attempt_state_int(j, "max_rss_kb");
		if (rss > c->res.max_rss_kb)
			c->res.max_rss_kb = rss;
		/* The logs are the attempt's: cut by any step, cut. */
		json_log_truncated_merge(json_object_get(j, "log_truncated"),
					 c->rec.log_truncated);
		c->res.seal_refused |=
		    json_is_false(json_object_get(j, "sealed"));
		json_decref(j);
	}
}

/* The spine of `attempt commit`: exec's capture and publication, on the
 * attempt's upper dir. The engine commits what it judged a success. */
static int run_commit(struct attempt_ctx *a, const struct attempt_args *args,
		      struct wsbox_error *err)
{
	struct exec_ctx *c = &a->c;
	int r = open_attempt(a, args->store, args->id, err); /* lock held */
	if (r < 0)
		return r;
	r = load_attempt(a, err);
	if (r < 0)
		return r;
	r = close_attempt(c, "committed", err);
	if (r < 0)
		return r;
	r = open_events(a, args->events, err);
	if (r < 0)
		return r;
	sum_steps(c);
	/* A reference a step left into the workspace could write into the
	 * layer after publication (docs/capture.md "Integrity after
	 * publication"). */
	if (c->res.seal_refused)
		return wsbox_fail_logic(err, EBUSY,
					"attempt %s: a step left a file of the "
					"workspace open for writing; nothing "
					"published",
					c->att.id);
	int status = judge_and_capture(c, err); /* capture, unless --ro */
	return publish(c, status, err);		/* compare-and-swap */
}

static int attempt_commit(int argc, char **argv)
{
	struct attempt_ctx a = {.c = EXEC_CTX_INIT, .lock = -1};
	struct attempt_args args = {0};
	struct wsbox_error err = {0};
	int r = parse_args("commit", argc, argv, &args);
	if (r != 0)
		return r == 1 ? usage(stdout, 0) : r;
	r = run_commit(&a, &args, &err);
	if (r < 0 && !a.c.counts) { /* refused before the attempt was read */
		wsbox_error_print(&err);
		attempt_free(&a.c.att);
		ctx_free(&a.c);
		attempt_ctx_release(&a);
		return err.status ? err.status : WSBOX_EXIT_FAILURE;
	}
	/* Records what was not, reports, removes the staging dir. */
	int status = exec_ctx_finish(&a.c, r, &err);
	attempt_ctx_release(&a);
	return status;
}

/* ---- abort ---- */

static int run_abort(struct attempt_ctx *a, const struct attempt_args *args,
		     struct wsbox_error *err)
{
	struct exec_ctx *c = &a->c;
	int r = open_attempt(a, args->store, args->id, err); /* lock held */
	if (r < 0)
		return r;
	r = load_attempt(a, err);
	if (r < 0)
		return r;
	r = close_attempt(c, "aborted", err);
	if (r < 0)
		return r;
	r = open_events(a, args->events, err);
	if (r < 0)
		return r;
	events_emit(
	    &c->ev, "task_finished",
	    json_pack("{s:s, s:i}", "status", "aborted", "exit_status", 0));
	return attempt_discard(&c->store, &c->att, err);
}

static int attempt_abort(int argc, char **argv)
{
	struct attempt_ctx a = {.c = EXEC_CTX_INIT, .lock = -1};
	struct attempt_args args = {0};
	struct wsbox_error err = {0};
	int r = parse_args("abort", argc, argv, &args);
	if (r != 0)
		return r == 1 ? usage(stdout, 0) : r;
	r = run_abort(&a, &args, &err);
	if (r < 0)
		wsbox_error_print(&err);
	attempt_free(&a.c.att);
	ctx_free(&a.c);
	attempt_ctx_release(&a);
	return r < 0 ? (err.status ? err.status : WSBOX_EXIT_FAILURE) : 0;
}

/* ---- the verb ---- */

static int usage(FILE *f, int status)
{
	fputs(
	    "usage: wsbox attempt begin --run RUN --task NAME [--parent P]... "
	    "[EXEC OPTIONS]\n"
	    "                     [--owner-pid PID]\n"
	    "       wsbox attempt step ID [--store DIR] [--env K=V]... "
	    "[--events SPEC] -- CMD [ARG...]\n"
	    "       wsbox attempt commit ID [--store DIR] [--events SPEC]\n"
	    "       wsbox attempt abort ID [--store DIR] [--events SPEC]\n"
	    "One task as several sandboxes over one workspace (docs/exec.md "
	    "\"Attempts\").\n"
	    "begin prints the attempt id; it lives while the process "
	    "--owner-pid (default:\nthe caller's parent) does, then `wsbox "
	    "gc` reclaims it. A step sees what the\nsteps before it wrote; "
	    "commit publishes the workspace as the task's layer;\nabort "
	    "leaves nothing. Attempts are not cached.\n"
	    "\nexit status: begin, commit, abort: 0, or 125 (refused, "
	    "superseded, wsbox failed);\nstep: as `wsbox exec` (CMD's own, "
	    "128+N, 124, 125, 126, 127)\n",
	    f);
	return status;
}

int cmd_attempt(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, WSBOX_EXIT_FAILURE);
	const char *sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") ||
	    !strcmp(sub, "help"))
		return usage(stdout, 0);
	if (sub[0] == '-')
		return usage_unknown_option("attempt", sub);
	/* The attempt file outlives a reader that goes away; as in exec. */
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(sub, "begin"))
		return attempt_begin(argc - 1, argv + 1);
	if (!strcmp(sub, "step"))
		return attempt_step(argc - 1, argv + 1);
	if (!strcmp(sub, "commit"))
		return attempt_commit(argc - 1, argv + 1);
	if (!strcmp(sub, "abort"))
		return attempt_abort(argc - 1, argv + 1);
	return usage_refuse("attempt", "unknown subcommand `%s`", sub);
}
