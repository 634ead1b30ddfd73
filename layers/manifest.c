/* layers/manifest: the canonical text form of a layer tree, its strict parser
 * (hostile input, fuzzed: whatever it accepts re-serializes to the same bytes)
 * and the layer digest (sha256 over that text, sandbox/util/sha256). */
#include "layers/manifest.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"

static const char header[] = "wsbox-manifest 1\n";
static const char hexu[] = "0123456789ABCDEF";
static const char hexl[] = "0123456789abcdef";

static int add_checked(uint64_t *sum, uint64_t v)
{
	return __builtin_add_overflow(*sum, v, sum) ? -1 : 0;
}

void manifest_add(struct manifest *m, const struct mf_entry *entry)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		m->e = xreallocarray(m->e, cap, sizeof *m->e);
		m->cap = cap;
	}
	struct mf_entry *d = &m->e[m->n++];
	*d = *entry;
	d->path = xstrdup(entry->path);
	d->target = entry->target ? xstrdup(entry->target) : NULL;
	/* Saturate: only a hostile hand-built manifest can overflow, and
	 * manifest_parse refuses those. */
	if (entry->type == MF_FILE && add_checked(&m->total_bytes, entry->size))
		m->total_bytes = UINT64_MAX;
}

/* Length of the UTF-8 sequence at s, or 0 when it is malformed. */
static size_t utf8_seq(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (!n || s[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong 3- and 4-byte forms, surrogates, beyond U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

static bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		size_t n = utf8_seq(s);
		if (!n)
			return false;
		s += n;
	}
	return true;
}

bool manifest_all_utf8(const struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (!utf8_valid(m->e[i].path) ||
		    (m->e[i].target && !utf8_valid(m->e[i].target)))
			return false;
	return true;
}

void manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].path);
		free(m->e[i].target);
	}
	free(m->e);
	*m = (struct manifest){0};
}

/* Componentwise byte order with a directory right before its descendants'
 * siblings: at the first differing byte, end-of-string sorts first, then '/'
 * (a component boundary), then every other byte as unsigned. */
static int path_cmp_n(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	for (size_t i = 0; i < n; i++) {
		unsigned char ca = (unsigned char)a[i],
			      cb = (unsigned char)b[i];
		if (ca == cb)
			continue;
		if (ca == '/')
			return -1;
		if (cb == '/')
			return 1;
		return ca < cb ? -1 : 1;
	}
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int manifest_path_cmp(const char *a, const char *b)
{
	return path_cmp_n(a, strlen(a), b, strlen(b));
}

static const struct mf_entry *find_n(const struct mf_entry *e, size_t n,
				     const char *path, size_t len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = path_cmp_n(e[mid].path, strlen(e[mid].path), path, len);
		if (c == 0)
			return &e[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct mf_entry *manifest_find(const struct manifest *m, const char *path)
{
	if (!m || !path)
		return NULL;
	return find_n(m->e, m->n, path, strlen(path));
}

static bool verbatim(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '%';
}

static size_t escaped_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += verbatim((unsigned char)*s) ? 1 : 3;
	return n;
}

static char *escape_into(char *o, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (verbatim(c)) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hexu[c >> 4];
			*o++ = hexu[c & 15];
		}
	}
	return o;
}

char *manifest_escape(const char *raw)
{
	char *out = xcalloc(1, escaped_len(raw) + 1);
	*escape_into(out, raw) = '\0';
	return out;
}

/* A relative path of non-empty components, none "." or "..". */
static bool valid_path(const char *p, size_t len)
{
	if (len == 0 || len > MANIFEST_PATH_MAX)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] == '\0')
			return false;
		if (i < len && p[i] != '/')
			continue;
		size_t cl = i - start;
		if (cl == 0 || (cl == 1 && p[start] == '.') ||
		    (cl == 2 && p[start] == '.' && p[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

static bool zero_hash(const unsigned char h[32])
{
	for (int i = 0; i < 32; i++)
		if (h[i])
			return false;
	return true;
}

/* The per-entry rules of the canonical form; NULL when valid, else why. */
static const char *entry_problem(const struct mf_entry *e)
{
	if (!e->path || !valid_path(e->path, strlen(e->path)))
		return "invalid path";
	if (e->mode > 07777 || (e->mode & 06000))
		return "invalid mode";
	switch (e->type) {
	case MF_FILE:
		if (e->mode & 01000)
			return "sticky bit on a file";
		break;
	case MF_DIR:
	case MF_OPAQUE_DIR:
		break;
	case MF_SYMLINK:
		if (e->mode != 0777)
			return "symlink mode must be 0777";
		break;
	case MF_WHITEOUT:
		if (e->mode != 0)
			return "whiteout mode must be 0000";
		break;
	default:
		return "unknown entry type";
	}
	if (e->type != MF_FILE && (e->size != 0 || !zero_hash(e->sha256)))
		return "size or hash on a non-file";
	if (e->type == MF_SYMLINK) {
		if (!e->target || !e->target[0] ||
		    strlen(e->target) > MANIFEST_TARGET_MAX)
			return "invalid symlink target";
	} else if (e->target) {
		return "target on a non-symlink";
	}
	return NULL;
}

/* Order and tree shape of e[i] given valid e[0..i): strictly after its
 * predecessor, and its parent directory present as a directory. In pre-order
 * the entry before a path is its parent or a descendant of its parent, and
 * (by induction over the valid prefix) every ancestor of that entry is a
 * present directory, so checking e[i-1] alone is enough: linear time even
 * for 10,000-deep paths. */
static const char *order_problem(const struct mf_entry *e, size_t i)
{
	const char *p = e[i].path;
	if (i > 0 && manifest_path_cmp(e[i - 1].path, p) >= 0)
		return "unsorted or duplicate path";
	const char *slash = strrchr(p, '/');
	if (!slash)
		return NULL;
	size_t plen = (size_t)(slash - p);
	if (i == 0)
		return "parent directory missing";
	const char *prev = e[i - 1].path;
	size_t prevlen = strlen(prev);
	if (prevlen < plen || memcmp(prev, p, plen) != 0)
		return "parent directory missing";
	if (prevlen == plen) {
		if (e[i - 1].type != MF_DIR && e[i - 1].type != MF_OPAQUE_DIR)
			return "parent is not a directory";
		return NULL;
	}
	if (prev[plen] != '/')
		return "parent directory missing";
	return NULL;
}

int manifest_serialize(const struct manifest *m, char **out, size_t *len,
		       struct wsbox_error *err)
{
	size_t total = sizeof header - 1;
	for (size_t i = 0; i < m->n; i++) {
		const struct mf_entry *e = &m->e[i];
		const char *why = entry_problem(e);
		if (!why)
			why = order_problem(m->e, i);
		if (why) {
			_cleanup_free_ char *p =
			    manifest_escape(e->path ? e->path : "");
			return wsbox_fail(err, 0, "manifest entry `%s`: %s", p,
					  why);
		}
		/* type, 3 spaces, mode, size (<=20), hash, newline */
		total += 1 + 1 + 4 + 1 + 20 + 1 + 64 + 1 + 1;
		total += escaped_len(e->path);
		if (e->target)
			total += 1 + escaped_len(e->target);
	}
	char *buf = xcalloc(1, total + 1);
	char *o = buf;
	memcpy(o, header, sizeof header - 1);
	o += sizeof header - 1;
	for (size_t i = 0; i < m->n; i++) {
		const struct mf_entry *e = &m->e[i];
		o += sprintf(o, "%c %04o %llu ", e->type, (unsigned)e->mode,
			     (unsigned long long)e->size);
		if (e->type == MF_FILE) {
			for (int k = 0; k < 32; k++) {
				*o++ = hexl[e->sha256[k] >> 4];
				*o++ = hexl[e->sha256[k] & 15];
			}
		} else {
			*o++ = '-';
		}
		*o++ = ' ';
		o = escape_into(o, e->path);
		if (e->target) {
			*o++ = ' ';
			o = escape_into(o, e->target);
		}
		*o++ = '\n';
	}
	*o = '\0';
	*out = buf;
	*len = (size_t)(o - buf);
	return 0;
}

/* Parser state over a bounded, not NUL-terminated buffer. */
struct cursor {
	const char *p, *end;
};

static int hexval(char c, const char *digits)
{
	const char *d = memchr(digits, c, 16);
	return d && c ? (int)(d - digits) : -1;
}

/* Decode one escaped field up to ' ' or '\n' (not consumed) into a heap
 * string of at most `max` bytes; NULL if not canonical. */
static char *parse_escaped(struct cursor *c, size_t max)
{
	const char *s = c->p;
	while (c->p < c->end && *c->p != ' ' && *c->p != '\n')
		c->p++;
	size_t elen = (size_t)(c->p - s);
	if (elen == 0 || elen > 3 * max)
		return NULL;
	_cleanup_free_ char *out = xcalloc(1, elen + 1);
	size_t n = 0;
	for (size_t i = 0; i < elen; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '%') {
			if (elen - i < 3)
				return NULL;
			int hi = hexval(s[i + 1], hexu),
			    lo = hexval(s[i + 2], hexu);
			if (hi < 0 || lo < 0)
				return NULL;
			ch = (unsigned char)(hi << 4 | lo);
			/* NUL cannot be in a name; an escaped printable
			 * byte is a second spelling of the same path. */
			if (ch == 0 || verbatim(ch))
				return NULL;
			i += 2;
		} else if (!verbatim(ch)) {
			return NULL;
		}
		out[n++] = (char)ch;
	}
	if (n > max)
		return NULL;
	out[n] = '\0';
	return steal_pointer(&out);
}

static bool expect(struct cursor *c, char ch)
{
	if (c->p >= c->end || *c->p != ch)
		return false;
	c->p++;
	return true;
}

static const char *parse_line(struct cursor *c, struct mf_entry *e)
{
	if (c->p >= c->end)
		return "truncated entry";
	e->type = *c->p++;
	if (!expect(c, ' '))
		return "expected space after type";
	unsigned mode = 0;
	for (int i = 0; i < 4; i++) {
		if (c->p >= c->end || *c->p < '0' || *c->p > '7')
			return "invalid mode";
		mode = mode * 8 + (unsigned)(*c->p++ - '0');
	}
	e->mode = (mode_t)mode;
	if (!expect(c, ' '))
		return "expected space after mode";
	const char *s = c->p;
	uint64_t size = 0;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		if (__builtin_mul_overflow(size, 10, &size) ||
		    __builtin_add_overflow(size, (uint64_t)(*c->p - '0'),
					   &size))
			return "size overflows";
		c->p++;
	}
	if (c->p == s || (c->p - s > 1 && *s == '0'))
		return "invalid size";
	e->size = size;
	if (!expect(c, ' '))
		return "expected space after size";
	if (expect(c, '-')) {
		if (e->type == MF_FILE)
			return "file without content hash";
	} else {
		if (e->type != MF_FILE)
			return "content hash on a non-file";
		if (c->end - c->p < 64)
			return "invalid content hash";
		for (int i = 0; i < 32; i++) {
			int hi = hexval(c->p[2 * i], hexl),
			    lo = hexval(c->p[2 * i + 1], hexl);
			if (hi < 0 || lo < 0)
				return "invalid content hash";
			e->sha256[i] = (unsigned char)(hi << 4 | lo);
		}
		c->p += 64;
	}
	if (!expect(c, ' '))
		return "expected space after hash";
	e->path = parse_escaped(c, MANIFEST_PATH_MAX);
	if (!e->path)
		return "invalid path escape";
	if (expect(c, ' ')) {
		e->target = parse_escaped(c, MANIFEST_TARGET_MAX);
		if (!e->target)
			return "invalid target escape";
	}
	if (!expect(c, '\n'))
		return "trailing garbage";
	return NULL;
}

int manifest_parse(const char *buf, size_t len, struct manifest *m,
		   struct wsbox_error *err)
{
	*m = (struct manifest){0};
	if (!buf || len < sizeof header - 1 ||
	    memcmp(buf, header, sizeof header - 1) != 0)
		return wsbox_fail(err, 0,
				  "manifest: missing `wsbox-manifest "
				  "1` header");
	struct cursor c = {buf + sizeof header - 1, buf + len};
	uint64_t total = 0;
	for (size_t line = 2; c.p < c.end; line++) {
		if (m->n >= MANIFEST_MAX_ENTRIES) {
			manifest_free(m);
			return wsbox_fail(err, 0,
					  "manifest: more than %d "
					  "entries",
					  MANIFEST_MAX_ENTRIES);
		}
		struct mf_entry e = {0};
		const char *why = parse_line(&c, &e);
		if (!why)
			why = entry_problem(&e);
		if (!why && e.type == MF_FILE && add_checked(&total, e.size))
			why = "total size overflows";
		if (!why) {
			/* Take ownership of the decoded strings. */
			if (m->n == m->cap) {
				size_t cap = m->cap ? m->cap * 2 : 64;
				m->e = xreallocarray(m->e, cap, sizeof *m->e);
				m->cap = cap;
			}
			m->e[m->n++] = e;
			why = order_problem(m->e, m->n - 1);
			if (why)
				m->n--;
		}
		if (why) {
			free(e.path);
			free(e.target);
			manifest_free(m);
			return wsbox_fail(err, 0, "manifest line %zu: %s", line,
					  why);
		}
	}
	m->total_bytes = total;
	return 0;
}

void manifest_digest(const char *buf, size_t len, char out[DIGEST_STRLEN])
{
	sha256_digest(buf, len, out);
}
