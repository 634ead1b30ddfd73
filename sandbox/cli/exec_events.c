/* sandbox/cli/exec_events.c: what exec reports (docs/cache.md "Events"):
 * task_started, policy_denied, task_finished with the limits it met, and the
 * final line on stderr. */
#include <signal.h>
#include <string.h>
#include "sandbox/cli/exec_ctx.h"
#include "sandbox/strategy.h"
#include "sandbox/util/json.h"

void emit_started(struct exec_ctx *c)
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
void emit_denied(void *ctx, pid_t pid, int nr, const char *name)
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
	/* --max-log-size: which stored logs end in the marker. */
	if (o && (c->ran || r->log_truncated[0] || r->log_truncated[1] ||
		  r->log_truncated[2]))
		json_object_set_new(o, "log_truncated",
				    json_log_truncated(r->log_truncated));
	events_emit(&c->ev, "task_finished", o);
}

/* The line an exec ends with (printed by report, kept in the record): the
 * failure, else the limit the task hit, else "". */
void final_line(const struct exec_ctx *c, const struct wsbox_error *err,
		char line[WSBOX_ERROR_MAX])
{
	line[0] = '\0';
	if (err->msg[0])
		snprintf(line, WSBOX_ERROR_MAX, "%s", err->msg);
	else if (c->ran && c->res.note[0])
		snprintf(line, WSBOX_ERROR_MAX, "task %s: %s", c->task,
			 c->res.note);
}

/* Print the line wsbox ends with, and the last event. */
void report(struct exec_ctx *c, int status, const char *line)
{
	if (line[0])
		dprintf(STDERR_FILENO, "wsbox: %s\n", line);
	if (c->hint[0])
		dprintf(STDERR_FILENO, "wsbox: %s\n", c->hint);
	if (c->ev.fd >= 0)
		emit_finished(c, status, line[0] ? line : NULL);
}
