/* sandbox/cli/attempt_state.h: staging/<id>/attempt.json, the state a
 * multi-step attempt's steps and commit work from (attempt_state.c; the
 * verbs in attempt.c). */
#ifndef WSBOX_CLI_ATTEMPT_STATE_H
#define WSBOX_CLI_ATTEMPT_STATE_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "sandbox/cli/exec_ctx.h"

#define ATTEMPT_FORMAT 1
/* The record's `uncacheable` (docs/exec.md "Attempts": why). */
#define ATTEMPT_UNCACHEABLE "multi-step attempt"

/* The policy as the steps must load it (a file by its absolute path). */
char *attempt_state_policy_name(const char *name);
/* attempt.json of a begun attempt: options, resolved workspace, owner. */
json_t *attempt_state_json(const struct exec_ctx *c, const char *policy,
			   pid_t owner, unsigned long long start);
/* Reading it back: a string or NULL, a number or 0, a list of strings,
 * and the parts of c the file holds. */
const char *attempt_state_str(json_t *o, const char *k);
uint64_t attempt_state_int(json_t *o, const char *k);
void attempt_state_strv(struct strv *v, json_t *a);
void attempt_state_ancestors(struct exec_ctx *c, json_t *a);
void attempt_state_ids(struct exec_ctx *c, json_t *ids);
void attempt_state_sandbox(struct exec_ctx *c, json_t *sb);
void attempt_state_names(struct exec_ctx *c, json_t *j);

#endif
