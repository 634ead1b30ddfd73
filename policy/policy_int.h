/* Internal interface between the parts of policy/: the parser (parse.c and
 * parse_args.c) turns policy text into a rule list, the compiler (compile.c)
 * turns that list into BPF with libseccomp, compile_bounded.c runs it in a
 * child under a time bound, load.c caches the result. Not for use outside
 * policy/. */
#ifndef WSBOX_POLICY_INT_H
#define WSBOX_POLICY_INT_H

#include <linux/filter.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/util/error.h"

/* Bounds on untrusted policy files. */
#define POLICY_MAX_BYTES (1u << 20)
#define POLICY_MAX_LINE 4096
#define POLICY_MAX_TOKENS 256
#define POLICY_MAX_DEPTH 8
#define POLICY_MAX_RULES 8192
/* A `notin` list expands to at most this many libseccomp rules. */
#define POLICY_MAX_EXPAND 512

/* Bump when the compiler's output for the same text changes (e.g. the
 * `newer` prefix): it is part of every BPF cache key. 2: `newer` starts
 * above POLICY_REVIEWED_MAX_NR at the earliest. */
#define POLICY_COMPILER_VERSION 2

/* The highest syscall number the shipped profiles were reviewed against:
 * Linux 6.17 (file_setattr, 469; re-checked on 6.18, which adds none). A
 * profile with `newer ACTION` answers every number above it (and above
 * every syscall it names) with ACTION, so a syscall a later kernel adds is
 * never allowed by default. From 424 on every arch shares the numbers but
 * alpha, ia64 and mips (offset tables): there -1, only the names count,
 * and policy/syscalls.c names nothing newer than libseccomp. */
#if defined(__alpha__) || defined(__ia64__) || defined(__mips__)
#define POLICY_REVIEWED_MAX_NR (-1)
#else
#define POLICY_REVIEWED_MAX_NR 469
#endif

struct policy_rule {
	int nr;		 /* native syscall number, or libseccomp's pseudo
			    number (< 0) for a syscall the arch lacks */
	uint32_t action; /* SCMP_ACT_* */
	unsigned ncond;
	struct scmp_arg_cmp cond[6];
	bool dead;	  /* overridden by a later unconditional rule */
	const char *file; /* for messages; owned by policy_set.files */
	unsigned line;
	char syscall[48];
};

struct policy_set {
	struct policy_rule *rules;
	size_t nrules, cap;

	bool has_default, has_newer;
	uint32_t default_action, newer_action;
	unsigned default_depth, newer_depth;

	/* The resolved text: every source with its include lines replaced by
	 * the included text. Hashing it gives the policy's identity. */
	char *text;
	size_t text_len, text_cap;

	char **files; /* names used in messages */
	size_t nfiles;
};

/* The native number of syscall `name` (libseccomp's, or policy/syscalls.c's
 * for syscalls newer than libseccomp), __NR_SCMP_ERROR when unknown. */
int policy_syscall_nr(const char *name);

/* An embedded profile (policy/profiles.S). */
const char *policy_embedded(const char *name, size_t *len);

/* Parse NAME (embedded profile) or FILE, following includes. */
int policy_parse(const char *name_or_file, struct policy_set *ps,
		 struct wsbox_error *err);
void policy_set_free(struct policy_set *ps);
static inline void policy_set_freep(struct policy_set *ps)
{
	policy_set_free(ps);
}

/* Append a rule with the override semantics of the format (a later
 * unconditional rule replaces every earlier rule for the syscall). Used by
 * the parser and for the squash_chown rules. */
int policy_set_add(struct policy_set *ps, const struct policy_rule *r,
		   struct wsbox_error *err);

/* Add the workspace rule: the chown family returns 0 without effect. */
int policy_set_squash_chown(struct policy_set *ps, struct wsbox_error *err);

/* Compile with libseccomp into a heap BPF program (*out, *len insns);
 * `nrules` gets the number of libseccomp rules added. */
int policy_compile(const struct policy_set *ps, struct sock_filter **out,
		   unsigned short *len, unsigned *nrules,
		   struct wsbox_error *err);

struct policy;

/* A compilation of the same rule list with other actions (the reporting
 * variant, policy/report.c). */
struct policy_variant {
	uint32_t default_action, newer_action;
	/* Per entry of ps->rules, or NULL for each rule's own action. */
	const uint32_t *actions;
	/* Rules added after the text's; they do not move the `newer`
	 * boundary. */
	const struct policy_rule *extra;
	size_t n_extra;
};

int policy_compile_variant(const struct policy_set *ps,
			   const struct policy_variant *v,
			   struct sock_filter **out, unsigned short *len,
			   unsigned *nrules, struct wsbox_error *err);

/* The time one policy_load or policy_check may spend compiling: the plain
 * program and the reporting variant share it (compile_bounded.c). */
struct policy_budget {
	const char *name;     /* the policy as given, for the message */
	unsigned ms;	      /* the bound, for the message */
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
};

/* Start a budget of `ms` milliseconds now. */
void policy_budget_start(struct policy_budget *b, const char *name,
			 unsigned ms);

/* policy_compile_variant (v NULL: policy_compile) in a forked child with
 * RLIMIT_CPU and b's deadline. The program comes back over a pipe and is
 * checked (whole instructions, 1..BPF_MAXINSNS) before it is returned. A
 * compilation still running at the deadline, or out of CPU time, is killed
 * and fails with ETIMEDOUT: "policy `NAME`: compile took longer than N s
 * ...". The compiler's own refusals come back with their message. */
int policy_compile_bounded(const struct policy_set *ps,
			   const struct policy_variant *v,
			   const struct policy_budget *b,
			   struct sock_filter **out, unsigned short *len,
			   unsigned *nrules, struct wsbox_error *err);

/* The reporting variant of `ps` (see policy.h, struct policy), compiled
 * within budget `b`: fills out->notify_* and returns 0, leaving
 * out->notify_filter NULL when the policy denies nothing reportable or
 * cannot be reported safely. Fails only when the compilation exceeds the
 * bound (ETIMEDOUT). */
int policy_report_variant(const struct policy_set *ps,
			  const struct policy_budget *b, struct policy *out,
			  struct wsbox_error *err);
/* Only the errno table and default (no compilation): used with a cached
 * program. Returns whether the policy has a reporting variant. */
bool policy_report_table(const struct policy_set *ps, struct policy *out);

#endif
