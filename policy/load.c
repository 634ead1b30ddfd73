/* policy_load: resolve and parse a policy, name it by the SHA-256 of its
 * resolved text, and reuse the compiled BPF from the cache directory when an
 * entry exists for the same text, libseccomp, arch and options (libseccomp
 * compilation dominates start-up otherwise). A hit forks nothing; a miss
 * compiles within a time bound (compile_bounded.c). */
#include "policy/policy.h"
#include "policy/policy_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/env_num.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"

static void hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* SHA-256 over the given parts, each preceded by its length so that no
 * two different part lists hash the same bytes. */
static int sha256_hex(const void *const *parts, const size_t *lens, size_t n,
		      char out[65], struct wsbox_error *err)
{
	(void)err;
	struct sha256 c;
	sha256_init(&c);
	for (size_t i = 0; i < n; i++) {
		char pre[32];
		int w = snprintf(pre, sizeof pre, "%zu:", lens[i]);
		sha256_update(&c, pre, (size_t)w);
		sha256_update(&c, parts[i], lens[i]);
	}
	unsigned char md[32];
	sha256_final(&c, md);
	hex(md, sizeof md, out);
	return 0;
}

/* What the compiled program depends on besides the text. */
static char *cache_inputs(const struct policy_options *opts)
{
	const struct scmp_version *v = seccomp_version();
	return xasprintf("wsbox-policy-bpf compiler=%d libseccomp=%u.%u.%u "
			 "api=%u arch=0x%x squash_chown=%d",
			 POLICY_COMPILER_VERSION, v->major, v->minor, v->micro,
			 seccomp_api_get(), seccomp_arch_native(),
			 opts && opts->squash_chown);
}

/* A cache entry is used only if it looks like a program: whole
 * instructions, not empty, within the kernel's limit. */
static int cache_read(int dirfd, const char *file, struct sock_filter **filter,
		      unsigned short *len)
{
	_cleanup_close_ int fd =
	    openat(dirfd, file,
		   O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size % (off_t)sizeof(struct sock_filter) ||
	    st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
		return -EINVAL;
	size_t size = (size_t)st.st_size;
	_cleanup_free_ struct sock_filter *prog = xcalloc(1, size);
	ssize_t n = read_all(fd, prog, size);
	if (n < 0)
		return (int)n;
	if ((size_t)n != size)
		return -EINVAL;
	*filter = steal_pointer(&prog);
	*len = (unsigned short)(size / sizeof(struct sock_filter));
	return 0;
}

/* The cache is an optimisation: a read-only or full store must not stop the
 * task from running, so a failed write is dropped (the next load compiles
 * again). */
static void cache_write(int dirfd, const char *file,
			const struct sock_filter *filter, unsigned short len)
{
	struct wsbox_error ignored;
	if (dirfd >= 0)
		(void)atomic_write_at(dirfd, file, filter, len * sizeof *filter,
				      0600, &ignored);
}

/* The bound on compiling one policy, both programs together: the caller's
 * or the default. $WSBOX_POLICY_COMPILE_MS can only lower it (tests reach
 * the bound quickly; an operator may tighten it): raising it would let a
 * policy pin a core for longer. */
static int compile_bound_ms(const struct policy_options *opts, unsigned *ms,
			    struct wsbox_error *err)
{
	*ms = opts && opts->compile_timeout_ms ? opts->compile_timeout_ms
					       : POLICY_COMPILE_TIMEOUT_MS;
	unsigned long v = *ms;
	int r = env_num_in("WSBOX_POLICY_COMPILE_MS", 1,
			   POLICY_COMPILE_TIMEOUT_MS, &v, err);
	if (r < 0)
		return r;
	if (v < *ms)
		*ms = (unsigned)v;
	return 0;
}

/* One load: the parsed policy, its cache entries and what was compiled
 * here (written to the cache only once everything compiled, so a policy
 * past the bound leaves nothing behind). */
struct load {
	const char *name;
	struct policy_set ps;
	char *inputs;
	int dirfd; /* the cache directory, or -1 */
	char file[80], notify_file[80];
	struct policy_budget budget;
	bool fresh, notify_fresh;
};

static void load_free(struct load *l)
{
	policy_set_free(&l->ps);
	free(l->inputs);
	if (l->dirfd >= 0)
		close(l->dirfd);
}

static int parse_with_options(const char *name_or_file,
			      const struct policy_options *opts,
			      struct policy_set *ps, struct wsbox_error *err)
{
	int r = policy_parse(name_or_file, ps, err);
	if (r < 0)
		return r;
	if (opts && opts->squash_chown) {
		r = policy_set_squash_chown(ps, err);
		if (r < 0) {
			policy_set_free(ps);
			return r;
		}
	}
	return 0;
}

/* Parse, name (digest) and key the policy; open the cache directory. */
static int load_begin(struct load *l, const struct policy_options *opts,
		      struct policy *out, struct wsbox_error *err)
{
	unsigned ms;
	int r = compile_bound_ms(opts, &ms, err);
	if (r < 0)
		return r;
	r = parse_with_options(l->name, opts, &l->ps, err);
	if (r < 0)
		return r;
	policy_budget_start(&l->budget, l->name, ms);

	char digest[65], key[65];
	const char *text = l->ps.text ? l->ps.text : "";
	l->inputs = cache_inputs(opts);
	const void *dparts[] = {text};
	size_t dlens[] = {l->ps.text_len};
	const void *kparts[] = {l->inputs, text};
	size_t klens[] = {strlen(l->inputs), l->ps.text_len};
	if ((r = sha256_hex(dparts, dlens, 1, digest, err)) < 0 ||
	    (r = sha256_hex(kparts, klens, 2, key, err)) < 0)
		return r;
	snprintf(out->digest, sizeof out->digest, "sha256:%s", digest);
	snprintf(l->file, sizeof l->file, "%s.bpf", key);
	if (!opts || !opts->bpf_cache_dir)
		return 0;
	r = mkdir_p(opts->bpf_cache_dir, 0700, err);
	if (r < 0)
		return r;
	l->dirfd =
	    open(opts->bpf_cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0)
		return wsbox_fail(err, errno, "open `%s`", opts->bpf_cache_dir);
	return 0;
}

/* The plain program: from the cache (any failure, missing, truncated or
 * foreign, means recompiling; the entry is then rewritten) or compiled. */
static int load_plain(struct load *l, struct policy *out,
		      struct wsbox_error *err)
{
	if (l->dirfd >= 0 &&
	    cache_read(l->dirfd, l->file, &out->filter, &out->len) == 0)
		return 0;
	l->fresh = true;
	return policy_compile_bounded(&l->ps, NULL, &l->budget, &out->filter,
				      &out->len, NULL, err);
}

/* The reporting variant (report.c), cached under its own key: the same
 * inputs plus a variant tag, so it can never be taken for the plain
 * program. */
static int load_report_variant(struct load *l, struct policy *out,
			       struct wsbox_error *err)
{
	if (!policy_report_table(&l->ps, out))
		return 0;
	char key[65];
	static const char tag[] = "variant=notify";
	const void *parts[] = {l->inputs, tag, l->ps.text ? l->ps.text : ""};
	size_t lens[] = {strlen(l->inputs), sizeof tag - 1, l->ps.text_len};
	int r = sha256_hex(parts, lens, 3, key, err);
	if (r < 0)
		return r;
	snprintf(l->notify_file, sizeof l->notify_file, "%s.bpf", key);
	if (l->dirfd >= 0 &&
	    cache_read(l->dirfd, l->notify_file, &out->notify_filter,
		       &out->notify_len) == 0)
		return 0;
	free(out->notify_errnos);
	out->notify_errnos = NULL;
	out->n_notify_errnos = 0;
	out->notify_default_errno = 0;
	r = policy_report_variant(&l->ps, &l->budget, out, err);
	l->notify_fresh = r == 0 && out->notify_filter;
	return r;
}

int policy_check(const char *name_or_file, const struct policy_options *opts,
		 unsigned *rules, struct wsbox_error *err)
{
	unsigned ms;
	int r = compile_bound_ms(opts, &ms, err);
	if (r < 0)
		return r;
	_cleanup_(policy_set_freep) struct policy_set ps = {0};
	r = parse_with_options(name_or_file, opts, &ps, err);
	if (r < 0)
		return r;
	struct policy_budget b;
	policy_budget_start(&b, name_or_file, ms);
	_cleanup_free_ struct sock_filter *prog = NULL;
	unsigned short len;
	return policy_compile_bounded(&ps, NULL, &b, &prog, &len, rules, err);
}

static int load(struct load *l, const struct policy_options *opts,
		struct policy *out, struct wsbox_error *err)
{
	int r = load_begin(l, opts, out, err); /* parse, digest, cache dir */
	if (r < 0)
		return r;
	r = load_plain(l, out, err); /* cached, or compiled in bounds */
	if (r < 0)
		return r;
	r = load_report_variant(l, out, err); /* the same, notifying */
	if (r < 0)
		return r;
	if (l->fresh)
		cache_write(l->dirfd, l->file, out->filter, out->len);
	if (l->notify_fresh)
		cache_write(l->dirfd, l->notify_file, out->notify_filter,
			    out->notify_len);
	out->name = xstrdup(l->name);
	return 0;
}

int policy_load(const char *name_or_file, const struct policy_options *opts,
		struct policy *out, struct wsbox_error *err)
{
	memset(out, 0, sizeof *out);
	_cleanup_(load_free) struct load l = {.name = name_or_file,
					      .dirfd = -1};
	int r = load(&l, opts, out, err);
	if (r < 0)
		policy_free(out);
	return r;
}

void policy_free(struct policy *p)
{
	free(p->name);
	free(p->filter);
	free(p->notify_filter);
	free(p->notify_errnos);
	p->name = NULL;
	p->filter = NULL;
	p->len = 0;
	p->notify_filter = NULL;
	p->notify_len = 0;
	p->notify_errnos = NULL;
	p->n_notify_errnos = 0;
	p->notify_default_errno = 0;
}
