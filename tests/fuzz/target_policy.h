/* tests/fuzz: the policy parser + compiler target (policy/parse.c,
 * compile.c, load.c). The input is written as `fuzz.policy` into a private
 * scratch directory that also holds a few fixture policies the input can
 * include by relative name (a valid one, a self-include loop, a chain, a
 * broken one). Includes of any path with a '/' are filtered out, so a run
 * never reads files outside the scratch directory (or blocks on one); shipped
 * profiles can be included by name. Checks beyond "no crash": an accepted
 * policy loads (parse + compile) to the same digest and BPF twice, and the
 * BPF served from the compiled-policy cache equals the fresh compile. */
#ifndef WSBOX_TESTS_FUZZ_TARGET_POLICY_H
#define WSBOX_TESTS_FUZZ_TARGET_POLICY_H

#include <linux/filter.h>

#include "policy/policy.h"
#include "tests/fuzz/fuzz_common.h"

struct fuzz_policy_ctx {
	char *dir;   /* scratch directory */
	char *input; /* dir/fuzz.policy */
	char *cache; /* dir/cache: BPF cache, emptied after each run */
};

static const struct {
	const char *name, *text;
} fuzz_policy_fixtures[] = {
    {"inc-ok.policy", "include default\nallow ptrace\n"},
    {"inc-loop.policy", "include inc-loop.policy\n"},
    {"inc-chain.policy", "include inc-ok.policy\nnewer errno ENOSYS\n"},
    {"inc-bad.policy", "allow no_such_syscall\n"},
    {"inc-default.policy", "default errno EPERM\nallow read write\n"},
};

static inline int fuzz_policy_init(struct fuzz_policy_ctx *c)
{
	*c = (struct fuzz_policy_ctx){0};
	c->dir = fuzz_mkdtemp("policy");
	if (!c->dir)
		return -1;
	c->input = xasprintf("%s/fuzz.policy", c->dir);
	c->cache = xasprintf("%s/cache", c->dir);
	for (size_t i = 0;
	     i < sizeof fuzz_policy_fixtures / sizeof *fuzz_policy_fixtures;
	     i++) {
		_cleanup_free_ char *p =
		    xasprintf("%s/%s", c->dir, fuzz_policy_fixtures[i].name);
		const char *t = fuzz_policy_fixtures[i].text;
		if (fuzz_write_file(p, t, strlen(t)) < 0)
			return -1;
	}
	return 0;
}

static inline void fuzz_policy_fini(struct fuzz_policy_ctx *c)
{
	struct wsbox_error err;
	if (c->dir)
		(void)rm_rf_at(AT_FDCWD, c->dir, &err);
	free(c->dir);
	free(c->input);
	free(c->cache);
	*c = (struct fuzz_policy_ctx){0};
}

/* Would a line of the input include something by path? Mirrors the
 * tokenizer of policy/parse.c closely enough to be conservative: any line
 * whose first word is `include` and that has a '/' anywhere is filtered. */
static inline bool fuzz_policy_includes_path(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *w = p;
		while (w < le && *w && strchr(" \t\r\v\f", *w))
			w++;
		if ((size_t)(le - w) >= 7 && !memcmp(w, "include", 7) &&
		    memchr(w, '/', (size_t)(le - w)))
			return true;
		p = le + (nl ? 1 : 0);
	}
	return false;
}

static inline int fuzz_policy_same(const struct policy *a,
				   const struct policy *b, const char *what)
{
	if (strcmp(a->digest, b->digest) != 0)
		return fuzz_bug("%s: digest %s vs %s", what, a->digest,
				b->digest);
	if (a->len != b->len || a->len == 0 ||
	    memcmp(a->filter, b->filter, a->len * sizeof *a->filter) != 0)
		return fuzz_bug("%s: BPF differs (%u vs %u insns)", what,
				a->len, b->len);
	return 0;
}

static inline int fuzz_policy_one(struct fuzz_policy_ctx *c,
				  const uint8_t *data, size_t size)
{
	if (fuzz_policy_includes_path(data, size))
		return FUZZ_SKIPPED;
	if (fuzz_write_file(c->input, data, size) < 0)
		return fuzz_bug("write `%s`: %s", c->input, strerror(errno));
	/* One bit of the input picks the option, so both paths of
	 * parse_with_options are fuzzed without a second compile per run.
	 * A 1 s compile bound: an input libseccomp chews on for minutes is
	 * a refusal within libFuzzer's -timeout=10, and costs the run 1 s,
	 * not 5 (the shipped profiles take milliseconds even under ASan). */
	struct policy_options opts = {.squash_chown = size & 1,
				      .compile_timeout_ms = 1000};
	struct wsbox_error err = {0};
	unsigned rules = 0;
	int r = policy_check(c->input, &opts, &rules, &err);
	if (r < 0) {
		if (!err.msg[0])
			return fuzz_bug("refusal without a message");
		if (strchr(err.msg, '\n'))
			return fuzz_bug("multi-line error: %s", err.msg);
		/* policy.h: errors name the file (and line). The one refusal
		 * about the compiled whole is the BPF size limit. */
		if (strncmp(err.msg, "policy `", 8) != 0 &&
		    strncmp(err.msg, "seccomp: program of", 19) != 0)
			return fuzz_bug("refusal does not name the policy: %s",
					err.msg);
		return fuzz_refused("policy", err.msg);
	}

	/* Accepted: load it fresh, then through the cache (miss, then hit),
	 * and compare all three. */
	struct policy fresh = {0}, miss = {0}, hit = {0};
	int ret = FUZZ_ACCEPTED;
	if (policy_load(c->input, &opts, &fresh, &err) < 0) {
		ret = fuzz_bug("policy_check accepted, policy_load refused: %s",
			       err.msg);
		goto out;
	}
	opts.bpf_cache_dir = c->cache;
	if (policy_load(c->input, &opts, &miss, &err) < 0 ||
	    policy_load(c->input, &opts, &hit, &err) < 0) {
		ret = fuzz_bug("cached load refused: %s", err.msg);
		goto out;
	}
	if (fuzz_policy_same(&fresh, &miss, "fresh vs cache miss") < 0 ||
	    fuzz_policy_same(&fresh, &hit, "fresh vs cache hit") < 0)
		ret = FUZZ_BUG;
out:
	policy_free(&fresh);
	policy_free(&miss);
	policy_free(&hit);
	struct wsbox_error ignored;
	(void)rm_rf_at(AT_FDCWD, c->cache, &ignored);
	return ret;
}

#endif
