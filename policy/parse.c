/* The policy text format (policy/README.md): lines and tokens, include
 * resolution with depth and loop guards, and rule lines turned into
 * policy_rule entries (their argument side is parse_args.c's). Every error
 * names the file and line. */
#include "policy/parse_int.h"
#include "policy/policy_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* Identities of the sources on the include stack, to refuse loops. */
struct stack {
	char *id[POLICY_MAX_DEPTH + 1];
	unsigned n;
};

static int parse_source(struct policy_set *ps, struct stack *st,
			const char *ref, const struct src *from,
			struct wsbox_error *err);

int parse_fail_at(const struct src *s, struct wsbox_error *err, const char *fmt,
		  ...)
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
	int r = parse_args_action(s, tok, ntok, &i, &act, err);
	if (r < 0)
		return r;
	size_t first = i;
	while (i < ntok && !parse_args_is_arg(tok[i]))
		i++;
	size_t last = i;
	if (first == last)
		return FAIL(s, err, "no syscall named");

	struct scmp_arg_cmp cond[6];
	unsigned ncond = 0;
	struct setcond sc = {.present = false};
	uint64_t vals[POLICY_MAX_TOKENS];
	r = parse_args_conditions(s, tok, ntok, last, cond, &ncond, &sc, vals,
				  err);
	if (r < 0)
		return r;
	_cleanup_free_ struct scmp_arg_cmp *alt = NULL;
	size_t nalt = 0;
	if (sc.present) {
		alt = xcalloc(POLICY_MAX_EXPAND, sizeof *alt);
		r = parse_args_expand_set(s, &sc, alt, &nalt, err);
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
	int r = parse_args_action(s, tok, ntok, &i, &act, err);
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
