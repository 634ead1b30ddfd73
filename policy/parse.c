/* The policy text format (policy/README.md): tokenizer, symbolic constants,
 * include resolution with depth and loop guards, and expansion of `in` and
 * `notin` argument sets into rules libseccomp can express. Every error names
 * the file and line. */
#include "policy/policy_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

struct sym {
	const char *name;
	uint64_t value;
};

/* Native values from the system headers: the filter is compiled for the
 * native arch only, and e.g. TIOCSTI differs between arches. */
static const struct sym symbols[] = {
    {"TIOCSTI", TIOCSTI},
    {"TIOCLINUX", TIOCLINUX},
    {"AF_UNSPEC", AF_UNSPEC},
    {"AF_UNIX", AF_UNIX},
    {"AF_LOCAL", AF_LOCAL},
    {"AF_INET", AF_INET},
    {"AF_INET6", AF_INET6},
    {"AF_NETLINK", AF_NETLINK},
    {"AF_PACKET", AF_PACKET},
    {"AF_KEY", AF_KEY},
    {"AF_BLUETOOTH", AF_BLUETOOTH},
    {"AF_ALG", AF_ALG},
    {"AF_VSOCK", AF_VSOCK},
    {"IPPROTO_IP", IPPROTO_IP},
    {"IPPROTO_ICMP", IPPROTO_ICMP},
    {"IPPROTO_TCP", IPPROTO_TCP},
    {"IPPROTO_UDP", IPPROTO_UDP},
    {"IPPROTO_ICMPV6", IPPROTO_ICMPV6},
    {"IPPROTO_SCTP", IPPROTO_SCTP},
    {"IPPROTO_DCCP", IPPROTO_DCCP},
    {"IPPROTO_UDPLITE", IPPROTO_UDPLITE},
    {"IPPROTO_RAW", IPPROTO_RAW},
    {"CLONE_NEWNS", CLONE_NEWNS},
    {"CLONE_NEWUTS", CLONE_NEWUTS},
    {"CLONE_NEWIPC", CLONE_NEWIPC},
    {"CLONE_NEWUSER", CLONE_NEWUSER},
    {"CLONE_NEWPID", CLONE_NEWPID},
    {"CLONE_NEWNET", CLONE_NEWNET},
    {"CLONE_NEWCGROUP", CLONE_NEWCGROUP},
    {"CLONE_NEWTIME", CLONE_NEWTIME},
    {"PER_LINUX", PER_LINUX},
    {"PER_LINUX32", PER_LINUX32},
    {"UNAME26", UNAME26},
};

static const struct sym errnos[] = {
    {"EPERM", EPERM},
    {"ENOENT", ENOENT},
    {"ESRCH", ESRCH},
    {"EIO", EIO},
    {"EBADF", EBADF},
    {"ENOMEM", ENOMEM},
    {"EACCES", EACCES},
    {"EFAULT", EFAULT},
    {"ENODEV", ENODEV},
    {"EINVAL", EINVAL},
    {"ENOTTY", ENOTTY},
    {"ENOSYS", ENOSYS},
    {"ENOTSUP", ENOTSUP},
    {"EOPNOTSUPP", EOPNOTSUPP},
    {"EAFNOSUPPORT", EAFNOSUPPORT},
    {"EPROTONOSUPPORT", EPROTONOSUPPORT},
};

/* One source being parsed, for messages and relative includes. */
struct src {
	const char *label; /* as shown in messages, owned by policy_set */
	char *dir;	   /* directory of a file source, NULL for embedded */
	unsigned line;
	unsigned depth;
};

/* Identities of the sources on the include stack, to refuse loops. */
struct stack {
	char *id[POLICY_MAX_DEPTH + 1];
	unsigned n;
};

static int parse_source(struct policy_set *ps, struct stack *st,
			const char *ref, const struct src *from,
			struct wsbox_error *err);

#define FAIL(s, err, ...) fail_at((s), (err), __VA_ARGS__)

static int fail_at(const struct src *s, struct wsbox_error *err,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(const struct src *s, struct wsbox_error *err,
		   const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return wsbox_fail(err, 0, "policy `%s` line %u: %s", s->label, s->line,
			  why);
}

static void text_append(struct policy_set *ps, const char *p, size_t n)
{
	if (ps->text_len + n + 1 > ps->text_cap) {
		size_t cap = ps->text_cap ? ps->text_cap : 4096;
		while (cap < ps->text_len + n + 1)
			cap *= 2;
		ps->text = xreallocarray(ps->text, cap, 1);
		ps->text_cap = cap;
	}
	memcpy(ps->text + ps->text_len, p, n);
	ps->text_len += n;
	ps->text[ps->text_len] = '\0';
}

static const char *intern_file(struct policy_set *ps, const char *label)
{
	ps->files = xreallocarray(ps->files, ps->nfiles + 1, sizeof *ps->files);
	ps->files[ps->nfiles] = xstrdup(label);
	return ps->files[ps->nfiles++];
}

void policy_set_free(struct policy_set *ps)
{
	free(ps->rules);
	free(ps->text);
	for (size_t i = 0; i < ps->nfiles; i++)
		free(ps->files[i]);
	free(ps->files);
	memset(ps, 0, sizeof *ps);
}

static bool is_file_ref(const char *ref)
{
	size_t n = strlen(ref);
	return strchr(ref, '/') ||
	       (n > 7 && strcmp(ref + n - 7, ".policy") == 0);
}

/* Decimal or 0x-hex, the whole token, no sign, no overflow. */
static bool parse_number(const char *t, uint64_t *out)
{
	int base = 10;
	if (t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
		base = 16;
		t += 2;
	}
	if (!*t || !((*t >= '0' && *t <= '9') ||
		     (base == 16 && strchr("abcdefABCDEF", *t))))
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(t, &end, base);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static bool lookup(const struct sym *tab, size_t n, const char *name,
		   uint64_t *out)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tab[i].name, name) == 0) {
			*out = tab[i].value;
			return true;
		}
	return false;
}

/* VALUE := TERM ('|' TERM)*, TERM := number | symbol. */
static int parse_value(const struct src *s, const char *tok, uint64_t *out,
		       struct wsbox_error *err)
{
	char buf[POLICY_MAX_LINE];
	snprintf(buf, sizeof buf, "%s", tok);
	uint64_t v = 0;
	char *save = NULL;
	bool any = false;
	for (char *t = strtok_r(buf, "|", &save); t;
	     t = strtok_r(NULL, "|", &save)) {
		uint64_t x;
		if (!parse_number(t, &x) &&
		    !lookup(symbols, sizeof symbols / sizeof *symbols, t, &x))
			return FAIL(s, err, "bad value `%s`", t);
		v |= x;
		any = true;
	}
	if (!any || tok[0] == '|' || tok[strlen(tok) - 1] == '|')
		return FAIL(s, err, "bad value `%s`", tok);
	*out = v;
	return 0;
}

/* ACTION := allow | kill | log | deny ERRNO | errno ERRNO. Consumes tokens
 * from tok[*i]. */
static int parse_action(const struct src *s, char **tok, size_t ntok, size_t *i,
			uint32_t *act, struct wsbox_error *err)
{
	const char *a = tok[*i];
	if (strcmp(a, "allow") == 0) {
		*act = SCMP_ACT_ALLOW;
	} else if (strcmp(a, "kill") == 0) {
		*act = SCMP_ACT_KILL_PROCESS;
	} else if (strcmp(a, "log") == 0) {
		*act = SCMP_ACT_LOG;
	} else if (strcmp(a, "deny") == 0 || strcmp(a, "errno") == 0) {
		if (*i + 1 >= ntok)
			return FAIL(s, err, "`%s` needs an errno (e.g. EPERM)",
				    a);
		const char *e = tok[++*i];
		uint64_t v;
		if (!lookup(errnos, sizeof errnos / sizeof *errnos, e, &v) &&
		    !parse_number(e, &v))
			return FAIL(s, err, "unknown errno `%s`", e);
		/* SECCOMP_RET_DATA is 16 bits, but errno values stop at
		 * MAX_ERRNO; anything larger would not read as an error.
		 * libseccomp (2.5) also refuses MAX_ERRNO itself. */
		if (v >= 4095)
			return FAIL(s, err, "errno `%s` out of range", e);
		*act = SCMP_ACT_ERRNO((uint32_t)v);
	} else {
		return FAIL(s, err, "unknown action `%s`", a);
	}
	++*i;
	return 0;
}

static bool is_arg_token(const char *t)
{
	return t[0] == 'a' && t[1] == 'r' && t[2] == 'g' && t[3] >= '0' &&
	       t[3] <= '5' && t[4] == '\0';
}

/* Like SCMP_CMP, with every field named (clang's -Wextra flags the macro's
 * positional initializer for 2-operand comparisons). */
static struct scmp_arg_cmp arg_cmp(unsigned arg, enum scmp_compare op,
				   uint64_t a, uint64_t b)
{
	return (struct scmp_arg_cmp){
	    .arg = arg, .op = op, .datum_a = a, .datum_b = b};
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* A set condition (`in` / `notin`) before expansion. */
struct setcond {
	bool present, negate, masked;
	unsigned arg;
	uint64_t mask;
	uint64_t *vals;
	size_t nvals;
};

/* Cover [lo, hi] (inside the domain 0..dmax) with masked-equality prefixes,
 * the classic range-to-prefix expansion: libseccomp cannot AND two
 * comparisons on one argument, but one MASKED_EQ matches an aligned
 * power-of-two block. The open ends of an unmasked domain use one LE/GE. */
static int expand_range(const struct src *s, const struct setcond *sc,
			uint64_t lo, uint64_t hi, struct scmp_arg_cmp *out,
			size_t *n, struct wsbox_error *err)
{
	if (!sc->masked && (lo == 0 || hi == UINT64_MAX)) {
		if (*n >= POLICY_MAX_EXPAND)
			goto too_many;
		out[(*n)++] = lo == 0 ? arg_cmp(sc->arg, SCMP_CMP_LE, hi, 0)
				      : arg_cmp(sc->arg, SCMP_CMP_GE, lo, 0);
		return 0;
	}
	for (;;) {
		uint64_t size = 1;
		for (;;) {
			uint64_t next = size << 1;
			if (next == 0 || (lo & (next - 1)) ||
			    next - 1 > hi - lo)
				break;
			size = next;
		}
		if (*n >= POLICY_MAX_EXPAND)
			goto too_many;
		uint64_t m = sc->mask & ~(size - 1);
		if (!sc->masked && size == 1)
			out[(*n)++] = arg_cmp(sc->arg, SCMP_CMP_EQ, lo, 0);
		else
			out[(*n)++] =
			    arg_cmp(sc->arg, SCMP_CMP_MASKED_EQ, m, lo);
		if (hi - lo == size - 1)
			return 0;
		lo += size;
	}
too_many:
	return FAIL(s, err, "`notin` expands to more than %d rules",
		    POLICY_MAX_EXPAND);
}

/* Turn a set condition into alternatives (each one condition, OR-ed). */
static int expand_set(const struct src *s, struct setcond *sc,
		      struct scmp_arg_cmp *out, size_t *n,
		      struct wsbox_error *err)
{
	qsort(sc->vals, sc->nvals, sizeof *sc->vals, cmp_u64);
	size_t u = 0;
	for (size_t i = 0; i < sc->nvals; i++) {
		if (sc->vals[i] > sc->mask)
			return FAIL(s, err, "value 0x%llx outside mask 0x%llx",
				    (unsigned long long)sc->vals[i],
				    (unsigned long long)sc->mask);
		if (u == 0 || sc->vals[u - 1] != sc->vals[i])
			sc->vals[u++] = sc->vals[i];
	}
	sc->nvals = u;
	*n = 0;
	if (!sc->negate) {
		for (size_t i = 0; i < u; i++) {
			if (*n >= POLICY_MAX_EXPAND)
				return FAIL(s, err, "`in` list too long");
			out[(*n)++] =
			    sc->masked
				? arg_cmp(sc->arg, SCMP_CMP_MASKED_EQ, sc->mask,
					  sc->vals[i])
				: arg_cmp(sc->arg, SCMP_CMP_EQ, sc->vals[i], 0);
		}
		return 0;
	}
	uint64_t lo = 0;
	for (size_t i = 0; i <= u; i++) {
		bool last = i == u;
		uint64_t v = last ? 0 : sc->vals[i];
		if (!last && v > lo) {
			int r = expand_range(s, sc, lo, v - 1, out, n, err);
			if (r < 0)
				return r;
		}
		if (last) {
			if (lo != 0 || u == 0) {
				int r = expand_range(s, sc, lo, sc->mask, out,
						     n, err);
				if (r < 0)
					return r;
			}
			break;
		}
		if (v == sc->mask) /* nothing above the largest value */
			return 0;
		lo = v + 1;
	}
	return 0;
}

static int parse_op(const char *t, enum scmp_compare *op)
{
	static const struct {
		const char *s;
		enum scmp_compare op;
	} ops[] = {{"==", SCMP_CMP_EQ}, {"!=", SCMP_CMP_NE},
		   {"<", SCMP_CMP_LT},	{"<=", SCMP_CMP_LE},
		   {">", SCMP_CMP_GT},	{">=", SCMP_CMP_GE}};
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
		if (strcmp(t, ops[i].s) == 0) {
			*op = ops[i].op;
			return 0;
		}
	return -1;
}

/* CONDITION := argN OP VALUE | argN &MASK == VALUE
 *            | argN [&MASK] in VALUE... | argN [&MASK] notin VALUE... */
static int parse_conditions(const struct src *s, char **tok, size_t ntok,
			    size_t i, struct scmp_arg_cmp *cond,
			    unsigned *ncond, struct setcond *sc,
			    uint64_t *valbuf, struct wsbox_error *err)
{
	bool seen[6] = {false};
	*ncond = 0;
	while (i < ntok) {
		if (!is_arg_token(tok[i]))
			return FAIL(s, err, "expected `argN`, got `%s`",
				    tok[i]);
		unsigned arg = (unsigned)(tok[i][3] - '0');
		if (seen[arg])
			/* libseccomp rejects two comparisons on one argument
			 * in a rule; say so here rather than at compile. */
			return FAIL(
			    s, err,
			    "two conditions on arg%u (use `in`/`notin`)", arg);
		seen[arg] = true;
		i++;
		bool masked = false;
		uint64_t mask = UINT64_MAX;
		if (i < ntok && tok[i][0] == '&') {
			const char *m = tok[i][1] ? tok[i] + 1 : NULL;
			if (!m) {
				if (++i >= ntok)
					return FAIL(s, err, "`&` needs a mask");
				m = tok[i];
			}
			int r = parse_value(s, m, &mask, err);
			if (r < 0)
				return r;
			masked = true;
			i++;
		}
		if (i >= ntok)
			return FAIL(s, err, "incomplete condition on arg%u",
				    arg);
		const char *op = tok[i++];
		if (strcmp(op, "in") == 0 || strcmp(op, "notin") == 0) {
			if (sc->present)
				return FAIL(s, err,
					    "only one `in`/`notin` per line");
			bool negate = op[0] == 'n';
			if (negate && masked && (mask & (mask + 1)))
				return FAIL(s, err,
					    "`notin` needs a mask of low bits "
					    "(e.g. 0xffffffff)");
			*sc = (struct setcond){.present = true,
					       .negate = negate,
					       .masked = masked,
					       .arg = arg,
					       .mask = mask,
					       .vals = valbuf,
					       .nvals = 0};
			while (i < ntok && !is_arg_token(tok[i])) {
				int r = parse_value(
				    s, tok[i++], &sc->vals[sc->nvals++], err);
				if (r < 0)
					return r;
			}
			if (sc->nvals == 0)
				return FAIL(s, err, "`%s` needs values", op);
			continue;
		}
		enum scmp_compare cmp;
		if (parse_op(op, &cmp) < 0)
			return FAIL(s, err, "unknown operator `%s`", op);
		if (masked && cmp != SCMP_CMP_EQ)
			return FAIL(s, err, "a mask needs `==`");
		if (i >= ntok)
			return FAIL(s, err, "`%s` needs a value", op);
		uint64_t v;
		int r = parse_value(s, tok[i++], &v, err);
		if (r < 0)
			return r;
		cond[(*ncond)++] =
		    masked ? arg_cmp(arg, SCMP_CMP_MASKED_EQ, mask, v)
			   : arg_cmp(arg, cmp, v, 0);
	}
	return 0;
}

int policy_set_add(struct policy_set *ps, const struct policy_rule *r,
		   struct wsbox_error *err)
{
	for (size_t i = 0; i < ps->nrules; i++) {
		struct policy_rule *o = &ps->rules[i];
		if (o->dead || o->nr != r->nr)
			continue;
		if (r->ncond == 0) {
			/* Later unconditional rules win, so a file can
			 * `include default` and then `allow ptrace`. */
			o->dead = true;
		} else if (o->ncond == 0) {
			if (o->action == r->action)
				return 0; /* already covered */
			/* libseccomp would silently keep the unconditional
			 * rule; refuse instead of dropping the user's rule. */
			return wsbox_fail(err, 0,
					  "policy `%s` line %u: conditions "
					  "cannot refine the unconditional "
					  "rule for `%s` (`%s` line %u); "
					  "replace it first",
					  r->file, r->line, r->syscall, o->file,
					  o->line);
		}
	}
	if (ps->nrules >= POLICY_MAX_RULES)
		return wsbox_fail(err, 0,
				  "policy `%s` line %u: more than %d "
				  "rules",
				  r->file, r->line, POLICY_MAX_RULES);
	if (ps->nrules == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 256;
		ps->rules =
		    xreallocarray(ps->rules, ps->cap, sizeof *ps->rules);
	}
	ps->rules[ps->nrules++] = *r;
	return 0;
}

int policy_set_squash_chown(struct policy_set *ps, struct wsbox_error *err)
{
	/* The 32-bit variants exist on i386/arm; elsewhere libseccomp knows
	 * them as pseudo syscalls and the rule is a no-op. */
	static const char *const names[] = {"chown",	"fchown",  "lchown",
					    "fchownat", "chown32", "fchown32",
					    "lchown32"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		struct policy_rule r = {.action = SCMP_ACT_ERRNO(0),
					.file = "squash_chown"};
		r.nr = seccomp_syscall_resolve_name(names[i]);
		if (r.nr == __NR_SCMP_ERROR)
			continue;
		snprintf(r.syscall, sizeof r.syscall, "%s", names[i]);
		int ret = policy_set_add(ps, &r, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* A rule line: ACTION SYSCALL... [CONDITION...]. */
static int parse_rule(struct policy_set *ps, const struct src *s, char **tok,
		      size_t ntok, struct wsbox_error *err)
{
	size_t i = 0;
	uint32_t act;
	int r = parse_action(s, tok, ntok, &i, &act, err);
	if (r < 0)
		return r;
	size_t first = i;
	while (i < ntok && !is_arg_token(tok[i]))
		i++;
	size_t last = i;
	if (first == last)
		return FAIL(s, err, "no syscall named");

	struct scmp_arg_cmp cond[6];
	unsigned ncond = 0;
	struct setcond sc = {.present = false};
	uint64_t vals[POLICY_MAX_TOKENS];
	r = parse_conditions(s, tok, ntok, last, cond, &ncond, &sc, vals, err);
	if (r < 0)
		return r;
	_cleanup_free_ struct scmp_arg_cmp *alt = NULL;
	size_t nalt = 0;
	if (sc.present) {
		alt = xcalloc(POLICY_MAX_EXPAND, sizeof *alt);
		r = expand_set(s, &sc, alt, &nalt, err);
		if (r < 0)
			return r;
		if (nalt == 0)
			return FAIL(s, err, "`notin` excludes every value");
	}

	for (size_t k = first; k < last; k++) {
		const char *name = tok[k];
		int nr = policy_syscall_nr(name);
		if (nr == __NR_SCMP_ERROR)
			return FAIL(s, err, "unknown syscall `%s`", name);
		struct policy_rule rule = {.nr = nr,
					   .action = act,
					   .ncond = ncond,
					   .file = s->label,
					   .line = s->line};
		snprintf(rule.syscall, sizeof rule.syscall, "%s", name);
		memcpy(rule.cond, cond, ncond * sizeof *cond);
		if (!sc.present) {
			r = policy_set_add(ps, &rule, err);
			if (r < 0)
				return r;
			continue;
		}
		rule.ncond = ncond + 1;
		for (size_t a = 0; a < nalt; a++) {
			rule.cond[ncond] = alt[a];
			r = policy_set_add(ps, &rule, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Split a line into whitespace-separated tokens, dropping a trailing
 * comment (a `#` at the start of a token). */
static int tokenize(const struct src *s, char *line, char **tok, size_t *ntok,
		    struct wsbox_error *err)
{
	*ntok = 0;
	char *save = NULL;
	for (char *t = strtok_r(line, " \t\r\v\f", &save); t;
	     t = strtok_r(NULL, " \t\r\v\f", &save)) {
		if (t[0] == '#')
			break;
		if (*ntok >= POLICY_MAX_TOKENS)
			return FAIL(s, err, "more than %d words",
				    POLICY_MAX_TOKENS);
		tok[(*ntok)++] = t;
	}
	return 0;
}

/* default/newer ACTION: the outermost file that sets it wins. */
static int set_toplevel_action(const struct src *s, char **tok, size_t ntok,
			       bool *has, uint32_t *action, unsigned *depth,
			       bool *seen_here, struct wsbox_error *err)
{
	if (*seen_here)
		return FAIL(s, err, "second `%s` line", tok[0]);
	*seen_here = true;
	if (ntok < 2)
		return FAIL(s, err, "`%s` needs an action", tok[0]);
	size_t i = 1;
	uint32_t act;
	int r = parse_action(s, tok, ntok, &i, &act, err);
	if (r < 0)
		return r;
	if (i != ntok)
		return FAIL(s, err, "unexpected `%s`", tok[i]);
	if (!*has || s->depth <= *depth) {
		*has = true;
		*action = act;
		*depth = s->depth;
	}
	return 0;
}

static int parse_text(struct policy_set *ps, struct stack *st, struct src *s,
		      const char *text, size_t len, struct wsbox_error *err)
{
	if (memchr(text, '\0', len))
		return wsbox_fail(err, 0, "policy `%s`: contains a NUL byte",
				  s->label);
	bool seen_default = false, seen_newer = false;
	const char *p = text, *end = text + len;
	_cleanup_free_ char *line = xcalloc(1, POLICY_MAX_LINE + 1);
	char *tok[POLICY_MAX_TOKENS];
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		s->line++;
		if (n > POLICY_MAX_LINE)
			return FAIL(s, err, "line longer than %d bytes",
				    POLICY_MAX_LINE);
		memcpy(line, p, n);
		line[n] = '\0';
		const char *raw = p;
		p += n + (nl ? 1 : 0);

		size_t ntok;
		int r = tokenize(s, line, tok, &ntok, err);
		if (r < 0)
			return r;
		if (ntok > 0 && strcmp(tok[0], "include") == 0) {
			if (ntok != 2)
				return FAIL(s, err,
					    "`include` needs one profile "
					    "name or file");
			r = parse_source(ps, st, tok[1], s, err);
			if (r < 0)
				return r;
			continue; /* the included text replaces the line */
		}
		text_append(ps, raw, n);
		text_append(ps, "\n", 1);
		if (ntok == 0)
			continue;
		if (strcmp(tok[0], "default") == 0)
			r = set_toplevel_action(
			    s, tok, ntok, &ps->has_default, &ps->default_action,
			    &ps->default_depth, &seen_default, err);
		else if (strcmp(tok[0], "newer") == 0)
			r = set_toplevel_action(
			    s, tok, ntok, &ps->has_newer, &ps->newer_action,
			    &ps->newer_depth, &seen_newer, err);
		else
			r = parse_rule(ps, s, tok, ntok, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int read_policy_file(const char *path, char **out, size_t *len,
			    struct stat *st, struct wsbox_error *err)
{
	_cleanup_close_ int fd =
	    open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return wsbox_fail(err, errno, "policy `%s`", path);
	if (fstat(fd, st) < 0)
		return wsbox_fail(err, errno, "policy `%s`: stat", path);
	/* A FIFO or device would block or never end. */
	if (!S_ISREG(st->st_mode))
		return wsbox_fail(err, EINVAL,
				  "policy `%s`: not a regular file", path);
	if (st->st_size > (off_t)POLICY_MAX_BYTES)
		return wsbox_fail(err, EFBIG, "policy `%s`", path);
	_cleanup_free_ char *buf = xcalloc(1, POLICY_MAX_BYTES + 1);
	ssize_t n = read_all(fd, buf, POLICY_MAX_BYTES + 1);
	if (n < 0)
		return wsbox_fail(err, (int)-n, "policy `%s`: read", path);
	if ((size_t)n > POLICY_MAX_BYTES)
		return wsbox_fail(err, EFBIG, "policy `%s`", path);
	buf[n] = '\0';
	*len = (size_t)n;
	*out = steal_pointer(&buf);
	return 0;
}

/* Parse the profile or file `ref`, included from `from` (NULL at the top).
 * Errors about the reference itself are reported at the include line. */
static int parse_source(struct policy_set *ps, struct stack *st,
			const char *ref, const struct src *from,
			struct wsbox_error *err)
{
	unsigned depth = from ? from->depth + 1 : 0;
	if (depth > POLICY_MAX_DEPTH) {
		FAIL(from, err, "include `%s`: nested deeper than %d", ref,
		     POLICY_MAX_DEPTH);
		return -EMLINK;
	}
	_cleanup_free_ char *id = NULL, *path = NULL, *buf = NULL, *dir = NULL;
	const char *text;
	size_t len;
	if (is_file_ref(ref)) {
		if (from && !from->dir)
			return FAIL(from, err,
				    "include `%s`: a shipped profile can "
				    "only include profiles by name",
				    ref);
		if (ref[0] == '/' || !from)
			path = xstrdup(ref);
		else
			path = xasprintf("%s/%s", from->dir, ref);
		struct stat sb;
		int r = read_policy_file(path, &buf, &len, &sb, err);
		if (r < 0) {
			if (from)
				wsbox_error_prefix(err, "policy `%s` line %u",
						   from->label, from->line);
			return r;
		}
		text = buf;
		id = xasprintf("file:%llu:%llu", (unsigned long long)sb.st_dev,
			       (unsigned long long)sb.st_ino);
		dir = xstrdup(path);
		char *slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0';
		else if (slash)
			*slash = '\0';
		else
			strcpy(dir, ".");
	} else {
		text = valid_name(ref) ? policy_embedded(ref, &len) : NULL;
		if (!text) {
			static const char why[] =
			    "no such profile (shipped: default, strict, "
			    "permissive; a file needs a `/` or the "
			    ".policy suffix)";
			if (from)
				return FAIL(from, err, "include `%s`: %s", ref,
					    why);
			return wsbox_fail(err, 0, "policy `%s`: %s", ref, why);
		}
		id = xasprintf("profile:%s", ref);
	}
	for (unsigned i = 0; i < st->n; i++)
		if (strcmp(st->id[i], id) == 0) {
			FAIL(from, err, "include `%s`: include loop", ref);
			return -ELOOP;
		}

	struct src s = {.label = intern_file(ps, path ? path : ref),
			.dir = dir,
			.line = 0,
			.depth = depth};
	st->id[st->n++] = id;
	int r = parse_text(ps, st, &s, text, len, err);
	st->n--;
	return r;
}

int policy_parse(const char *name_or_file, struct policy_set *ps,
		 struct wsbox_error *err)
{
	memset(ps, 0, sizeof *ps);
	struct stack st = {.n = 0};
	int r = parse_source(ps, &st, name_or_file, NULL, err);
	if (r == 0 && !ps->has_default)
		r = wsbox_fail(err, 0, "policy `%s`: no `default` line",
			       name_or_file);
	if (r < 0)
		policy_set_free(ps);
	return r;
}
