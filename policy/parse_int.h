/* policy/parse_int.h: what the policy text parser's two halves share:
 * parse.c reads lines, includes and rules; parse_args.c reads the
 * argument side of a rule (values, actions, conditions, `in`/`notin`). */
#ifndef WSBOX_POLICY_PARSE_INT_H
#define WSBOX_POLICY_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <seccomp.h>

#include "sandbox/util/error.h"

/* One source being parsed, for messages and relative includes. */
struct src {
	const char *label; /* as shown in messages, owned by policy_set */
	char *dir;	   /* directory of a file source, NULL for embedded */
	unsigned line;
	unsigned depth;
};

/* `policy `LABEL` line N: WHY` into err; returns its negative errno. */
int parse_fail_at(const struct src *s, struct wsbox_error *err, const char *fmt,
		  ...) __attribute__((format(printf, 3, 4)));
#define FAIL(s, err, ...) parse_fail_at((s), (err), __VA_ARGS__)

/* A set condition (`in` / `notin`) before expansion. */
struct setcond {
	bool present, negate, masked;
	unsigned arg;
	uint64_t mask;
	uint64_t *vals;
	size_t nvals;
};

/* ACTION := allow | kill | log | deny ERRNO | errno ERRNO, from tok[*i]
 * (advanced past it). */
int parse_args_action(const struct src *s, char **tok, size_t ntok, size_t *i,
		      uint32_t *act, struct wsbox_error *err);

/* Is `t` one of arg0..arg5 (where a rule's conditions begin)? */
bool parse_args_is_arg(const char *t);

/* The conditions of tok[i..]: up to six plain comparisons into cond, and
 * at most one `in`/`notin` set into sc (its values in valbuf, which holds
 * POLICY_MAX_TOKENS). */
int parse_args_conditions(const struct src *s, char **tok, size_t ntok,
			  size_t i, struct scmp_arg_cmp *cond, unsigned *ncond,
			  struct setcond *sc, uint64_t *valbuf,
			  struct wsbox_error *err);

/* A set condition as alternatives (each one comparison, OR-ed), at most
 * POLICY_MAX_EXPAND into out. */
int parse_args_expand_set(const struct src *s, struct setcond *sc,
			  struct scmp_arg_cmp *out, size_t *n,
			  struct wsbox_error *err);

#endif
