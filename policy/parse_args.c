/* The argument side of a policy rule line (policy/README.md): numbers and
 * symbolic constants joined by `|`, the action's errno, and conditions on
 * arguments, with `in`/`notin` sets expanded into comparisons libseccomp
 * can express. Every error names the file and line. */
#include "policy/parse_int.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/socket.h>

#include "policy/policy_int.h"

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
int parse_args_action(const struct src *s, char **tok, size_t ntok, size_t *i,
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

bool parse_args_is_arg(const char *t)
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
int parse_args_expand_set(const struct src *s, struct setcond *sc,
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
int parse_args_conditions(const struct src *s, char **tok, size_t ntok,
			  size_t i, struct scmp_arg_cmp *cond, unsigned *ncond,
			  struct setcond *sc, uint64_t *valbuf,
			  struct wsbox_error *err)
{
	bool seen[6] = {false};
	*ncond = 0;
	while (i < ntok) {
		if (!parse_args_is_arg(tok[i]))
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
			while (i < ntok && !parse_args_is_arg(tok[i])) {
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
	/* `notin` becomes ranges (LE, GE, masked prefixes); libseccomp 2.5
	 * merging those with an ordering comparison on a lower-numbered
	 * argument ran for minutes on a three-value set (found by fuzz-ci;
	 * the other order compiles at once). */
	for (unsigned k = 0; sc->present && sc->negate && k < *ncond; k++)
		if (cond[k].op != SCMP_CMP_EQ &&
		    cond[k].op != SCMP_CMP_MASKED_EQ && cond[k].arg < sc->arg)
			return FAIL(s, err,
				    "`notin` on arg%u with an ordering "
				    "comparison on arg%u cannot be compiled "
				    "in bounded time (split the rule)",
				    sc->arg, cond[k].arg);
	return 0;
}
