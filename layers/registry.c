/* layers/registry.c: the OCI distribution client (see registry.h). One
 * request path for everything: xfer_setup fills a curl handle from a `struct
 * req`, the callbacks bound what a response may put in memory and hash a
 * blob as it streams, xfer_result judges the outcome (done, retry, fail), and
 * request() adds the bounded retry and the one authentication round. The
 * parallel download runs the same handles under curl multi. */
#include "layers/registry.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "layers/curl_dl.h"
#include "layers/layer.h"
#include "layers/oci.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"

#define AUTH_FILE_MAX (1UL << 20)
#define AUTH_ENTRY_MAX 4096 /* base64 of user:pass */
#define TOKEN_LEN_MAX 16384
#define ERRBODY_MAX 2048
#define TAG_PAGES_MAX 64
#define TAGS_BODY_MAX (4UL << 20)
#define CONNECT_TIMEOUT_SEC 10L
#define BACKOFF_MS 250
#define REDIRECTS_MAX 5L
#define NO_CREDS_HINT "see README \"Many executors\""

/* ---- URLs, tags ---- */

static bool host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

static bool port_valid(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > 5 || strspn(p, "0123456789") != n || p[0] == '0')
		return false;
	return atoi(p) <= 65535;
}

/* Fills `host` (brackets of an IPv6 literal removed); false when the
 * authority is not HOST[:PORT]. */
static bool authority_split(const char *auth, char *host, size_t cap)
{
	const char *port = NULL;
	size_t hl;
	if (auth[0] == '[') {
		const char *close = strchr(auth, ']');
		if (!close)
			return false;
		hl = (size_t)(close - auth - 1);
		if (hl == 0 || hl >= cap)
			return false;
		memcpy(host, auth + 1, hl);
		host[hl] = '\0';
		struct in6_addr a6;
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return false;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return false;
	} else {
		const char *colon = strchr(auth, ':');
		hl = colon ? (size_t)(colon - auth) : strlen(auth);
		if (hl == 0 || hl >= cap)
			return false;
		memcpy(host, auth, hl);
		host[hl] = '\0';
		const char *ok = "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
		if (strspn(host, ok) != hl || host[0] == '-' || host[0] == '.')
			return false;
		if (colon)
			port = colon + 1;
	}
	return !port || port_valid(port);
}

/* distribution's path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*. */
static bool repo_component_valid(const char *s, size_t n)
{
	size_t i = 0;
	for (;;) {
		size_t alnum = 0;
		while (i < n && (islower((unsigned char)s[i]) ||
				 isdigit((unsigned char)s[i]))) {
			i++;
			alnum++;
		}
		if (alnum == 0)
			return false;
		if (i == n)
			return true;
		size_t sep = i;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		else
			while (i < n && s[i] == '-')
				i++;
		if (i == sep)
			return false;
	}
}

static bool repo_valid(const char *repo)
{
	size_t n = strlen(repo);
	if (n == 0 || n > 255)
		return false;
	for (const char *p = repo;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (!repo_component_valid(p, len))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

void registry_url_free(struct registry_url *u)
{
	free(u->scheme);
	free(u->authority);
	free(u->repo);
	free(u->base);
	free(u->url);
	*u = (struct registry_url){0};
}

int registry_url_parse(const char *url, bool insecure, struct registry_url *u,
		       struct wsbox_error *err)
{
	*u = (struct registry_url){0};
	const char *rest;
	bool http = false;
	if (!strncmp(url, "https://", 8))
		rest = url + 8;
	else if (!strncmp(url, "http://", 7))
		rest = url + 7, http = true;
	else
		return wsbox_fail(
		    err, 0, "remote %s: not an https:// or http:// URL", url);
	if (strpbrk(url, "@?#% \t\r\n"))
		return wsbox_fail(err, 0,
				  "remote %s: user, query, fragment or escapes "
				  "are not allowed in a remote URL",
				  url);
	const char *slash = strchr(rest, '/');
	if (!slash || !slash[1])
		return wsbox_fail(err, 0,
				  "remote %s: no repository (expected "
				  "https://HOST[:PORT]/REPO/PATH)",
				  url);
	_cleanup_free_ char *auth = strndup(rest, (size_t)(slash - rest));
	char host[256];
	if (!auth || !authority_split(auth, host, sizeof host))
		return wsbox_fail(err, 0, "remote %s: bad host or port", url);
	if (!repo_valid(slash + 1))
		return wsbox_fail(err, 0,
				  "remote %s: bad repository name (lowercase "
				  "[a-z0-9] components joined by . _ -)",
				  url);
	bool loopback = host_is_loopback(host);
	if (http && !loopback && !insecure)
		return wsbox_fail(err, 0,
				  "remote %s: plain http only to a loopback "
				  "host (or with --remote-insecure)",
				  url);
	u->scheme = xstrdup(http ? "http" : "https");
	u->authority = steal_pointer(&auth);
	u->repo = xstrdup(slash + 1);
	u->base = xasprintf("%s://%s", u->scheme, u->authority);
	u->url = xasprintf("%s/%s", u->base, u->repo);
	u->loopback = loopback;
	return 0;
}

bool registry_tag_valid(const char *tag)
{
	size_t n = strlen(tag);
	const char *rest = "abcdefghijklmnopqrstuvwxyz"
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
	if (n == 0 || n > REGISTRY_TAG_MAX || tag[0] == '.' || tag[0] == '-')
		return false;
	return strspn(tag, rest) == n;
}

char *registry_location_join(const char *location, const char *digest)
{
	const char *hex = strchr(digest, ':');
	return xasprintf("%s%cdigest=%.*s%%3A%s", location,
			 strchr(location, '?') ? '&' : '?',
			 hex ? (int)(hex - digest) : 0, digest,
			 hex ? hex + 1 : digest);
}

static bool header_value_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int registry_location_resolve(const struct registry_url *u,
			      const char *location, char **out,
			      struct wsbox_error *err)
{
	size_t bl = strlen(u->base);
	if (!location || !location[0] || !header_value_safe(location))
		return wsbox_fail(err, 0, "remote %s: bad Location header",
				  u->url);
	if (location[0] == '/' && location[1] != '/') {
		*out = xasprintf("%s%s", u->base, location);
		return 0;
	}
	if (!strncmp(location, u->base, bl) && location[bl] == '/') {
		*out = xstrdup(location);
		return 0;
	}
	return wsbox_fail(err, 0,
			  "remote %s: refusing a Location on another host "
			  "(%.200s)",
			  u->url, location);
}

/* ---- WWW-Authenticate ---- */

void registry_challenge_free(struct registry_challenge *c)
{
	free(c->realm);
	free(c->service);
	free(c->scope);
	*c = (struct registry_challenge){0};
}

/* One auth-param value (token or quoted-string) at *p; heap. */
static char *param_value(const char **p)
{
	const char *s = *p;
	size_t cap = strlen(s) + 1, n = 0;
	char *v = xcalloc(1, cap);
	if (*s == '"') {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && s[1])
				s++;
			v[n++] = *s;
		}
		if (*s != '"') {
			free(v);
			return NULL;
		}
		s++;
	} else {
		while (*s && *s != ',' && *s != ' ' && *s != '\t')
			v[n++] = *s++;
	}
	v[n] = '\0';
	*p = s;
	return v;
}

int registry_challenge_parse(const char *header, struct registry_challenge *c)
{
	*c = (struct registry_challenge){0};
	const char *p = header + strspn(header, " \t");
	size_t sl = strcspn(p, " \t");
	if (sl == 5 && !strncasecmp(p, "Basic", 5))
		c->scheme = REGISTRY_AUTH_BASIC;
	else if (sl == 6 && !strncasecmp(p, "Bearer", 6))
		c->scheme = REGISTRY_AUTH_BEARER;
	else
		return -EINVAL;
	p += sl;
	/* Bounded: every pass consumes at least one byte or stops. */
	while (*p) {
		p += strspn(p, " \t,");
		if (!*p)
			break;
		size_t kl = strcspn(p, "= \t,");
		const char *key = p;
		p += kl;
		if (*p != '=') {
			/* A second challenge ("Basic realm=x, Bearer ...")
			 * or junk: keep what the first one said. */
			break;
		}
		p++;
		char *v = param_value(&p);
		if (!v) {
			registry_challenge_free(c);
			return -EINVAL;
		}
		char **slot = NULL;
		if (kl == 5 && !strncasecmp(key, "realm", 5))
			slot = &c->realm;
		else if (kl == 7 && !strncasecmp(key, "service", 7))
			slot = &c->service;
		else if (kl == 5 && !strncasecmp(key, "scope", 5))
			slot = &c->scope;
		if (slot && !*slot && strlen(v) <= REGISTRY_HEADER_MAX)
			*slot = v;
		else
			free(v);
	}
	if (c->scheme == REGISTRY_AUTH_BEARER && !c->realm) {
		registry_challenge_free(c);
		return -EINVAL;
	}
	return 0;
}

/* ---- auth files ---- */

/* "https://host:port/v1/" and "host:port" both name authority host:port. */
static bool auth_key_matches(const char *key, const char *authority)
{
	if (!strncmp(key, "https://", 8))
		key += 8;
	else if (!strncmp(key, "http://", 7))
		key += 7;
	size_t n = strcspn(key, "/");
	return n == strlen(authority) && !strncmp(key, authority, n);
}

static int decode_userpass(const char *b64, char **user, char **pass)
{
	size_t n = strlen(b64);
	if (n == 0 || n > AUTH_ENTRY_MAX || n % 4)
		return -EINVAL;
	_cleanup_free_ unsigned char *out = xcalloc(1, n / 4 * 3 + 1);
	int len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
	if (len < 0)
		return -EINVAL;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	for (size_t i = n; i > n - 2 && b64[i - 1] == '='; i--)
		len--;
	if (memchr(out, '\0', (size_t)len))
		return -EINVAL;
	out[len] = '\0';
	char *colon = strchr((char *)out, ':');
	if (!colon || colon == (char *)out)
		return -EINVAL;
	*colon = '\0';
	*user = xstrdup((char *)out);
	*pass = xstrdup(colon + 1);
	return 0;
}

int registry_auth_parse(const char *text, size_t len, const char *authority,
			char **user, char **pass, struct wsbox_error *err)
{
	*user = *pass = NULL;
	json_error_t je;
	json_t *j = json_loadb(text, len, 0, &je);
	if (!j)
		return wsbox_fail(err, 0, "auth file: %s (line %d)", je.text,
				  je.line);
	json_t *auths = json_object_get(j, "auths");
	int r = 0;
	const char *key;
	json_t *entry;
	if (auths && !json_is_object(auths))
		r = wsbox_fail(err, 0, "auth file: `auths` is not an object");
	else if (auths)
		json_object_foreach(auths, key, entry)
		{
			if (!auth_key_matches(key, authority))
				continue;
			const char *b64 =
			    json_string_value(json_object_get(entry, "auth"));
			if (!b64 || decode_userpass(b64, user, pass) < 0)
				r = wsbox_fail(err, 0,
					       "auth file: entry `%s`: `auth` "
					       "is not base64 of user:password",
					       authority);
			else
				r = 1;
			break;
		}
	json_decref(j);
	return r;
}

int registry_auth_lookup(const char *authority, char **user, char **pass,
			 struct wsbox_error *err)
{
	char *files[3] = {NULL, NULL, NULL};
	const char *v = getenv("REGISTRY_AUTH_FILE");
	if (v && *v)
		files[0] = xstrdup(v);
	if ((v = getenv("XDG_RUNTIME_DIR")) && *v)
		files[1] = xasprintf("%s/containers/auth.json", v);
	if ((v = getenv("HOME")) && *v)
		files[2] = xasprintf("%s/.docker/config.json", v);
	int r = 0;
	for (size_t i = 0; i < ARRAY_SIZE(files) && r == 0; i++) {
		if (!files[i])
			continue;
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		struct wsbox_error e = {0};
		int rr = read_file_at(AT_FDCWD, files[i], AUTH_FILE_MAX, &text,
				      &len, &e);
		if (rr == -ENOENT || rr == -ENOTDIR)
			continue;
		if (rr < 0) {
			*err = e;
			r = rr;
			break;
		}
		r = registry_auth_parse(text, len, authority, user, pass, err);
		if (r < 0)
			wsbox_error_prefix(err, "`%s`", files[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		free(files[i]);
	return r;
}

/* ---- one transfer ---- */

enum sink_kind {
	SINK_NONE, /* body only kept for error messages */
	SINK_MEM,  /* into x->mem, at most q->mem_max bytes */
	SINK_BLOB, /* hashed into q->sink, at most q->blob_max bytes */
};

struct req {
	const char *method; /* GET HEAD POST PUT PATCH */
	const char *url;
	const char *content_type, *accept, *content_range;
	const void *buf; /* request body from memory ... */
	int fd;		 /* ... or from fd at off (when buf is NULL) */
	uint64_t off, len;
	bool has_body;
	bool follow;	 /* redirects (blob GETs) */
	bool idempotent; /* may be retried as is */
	bool token_request;
	enum sink_kind sink_kind;
	size_t mem_max;
	const struct registry_sink *sink;
	uint64_t blob_max;
	const char *digest; /* SINK_BLOB: what the bytes must hash to */
};

struct xfer {
	CURL *easy;
	struct curl_slist *headers;
	const struct req *q;
	char curl_err[CURL_ERROR_SIZE];
	long status;
	char *location, *www_auth, *link;
	size_t header_bytes;
	bool header_overflow, too_big;
	int sink_err;
	uint64_t upos; /* upload position */
	char *mem;
	size_t mem_len;
	struct sha256 hash;
	uint64_t got;
	char errbody[ERRBODY_MAX];
	size_t errlen;
};

static void xfer_forget_headers(struct xfer *x)
{
	free(steal_pointer(&x->location));
	free(steal_pointer(&x->www_auth));
	free(steal_pointer(&x->link));
}

static void xfer_clear(struct xfer *x)
{
	xfer_forget_headers(x);
	curl_slist_free_all(steal_pointer(&x->headers));
	free(steal_pointer(&x->mem));
	x->mem_len = 0;
}

static void xfer_clearp(struct xfer *x)
{
	xfer_clear(x);
}
#define _cleanup_xfer_ _cleanup_(xfer_clearp)

static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	x->header_bytes += len;
	if (x->header_bytes > REGISTRY_HEADERS_MAX) {
		x->header_overflow = true;
		return 0;
	}
	/* A new status line: the response after a redirect starts over. */
	if (len >= 5 && !memcmp(b, "HTTP/", 5)) {
		xfer_forget_headers(x);
		return len;
	}
	const char *colon = memchr(b, ':', len);
	if (!colon)
		return len;
	size_t nl = (size_t)(colon - b);
	const char *v = colon + 1, *end = b + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
			   end[-1] == ' ' || end[-1] == '\t'))
		end--;
	size_t vl = (size_t)(end - v);
	if (vl > REGISTRY_HEADER_MAX)
		return len; /* a value we would refuse anyway */
	char **slot = NULL;
	if (nl == 8 && !strncasecmp(b, "Location", 8))
		slot = &x->location;
	else if (nl == 16 && !strncasecmp(b, "WWW-Authenticate", 16))
		slot = &x->www_auth;
	else if (nl == 4 && !strncasecmp(b, "Link", 4))
		slot = &x->link;
	if (slot && !*slot)
		*slot = strndup(v, vl);
	return len;
}

static size_t on_body(char *b, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	long st = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
	if (st < 200 || st > 299 || x->q->sink_kind == SINK_NONE) {
		size_t room = sizeof x->errbody - 1 - x->errlen;
		size_t take = len < room ? len : room;
		memcpy(x->errbody + x->errlen, b, take);
		x->errlen += take;
		x->errbody[x->errlen] = '\0';
		return len;
	}
	if (x->q->sink_kind == SINK_MEM) {
		if (len > x->q->mem_max - x->mem_len) {
			x->too_big = true;
			return 0;
		}
		x->mem = xreallocarray(x->mem, x->mem_len + len + 1, 1);
		memcpy(x->mem + x->mem_len, b, len);
		x->mem_len += len;
		x->mem[x->mem_len] = '\0';
		return len;
	}
	if (len > x->q->blob_max - x->got) {
		x->too_big = true;
		return 0;
	}
	sha256_update(&x->hash, b, len);
	x->got += len;
	int r = x->q->sink->write(x->q->sink->ctx, b, len);
	if (r < 0) {
		x->sink_err = -r;
		return 0;
	}
	return len;
}

static size_t on_read(char *b, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	const struct req *q = x->q;
	uint64_t left = q->len - x->upos;
	size_t take = size * n < left ? size * n : (size_t)left;
	if (q->buf) {
		memcpy(b, (const char *)q->buf + x->upos, take);
	} else {
		for (size_t done = 0; done < take;) {
			ssize_t k = pread(q->fd, b + done, take - done,
					  (off_t)(q->off + x->upos + done));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return CURL_READFUNC_ABORT;
			done += (size_t)k;
		}
	}
	x->upos += take;
	return take;
}

static void add_header(struct xfer *x, const char *fmt, const char *v)
{
	_cleanup_free_ char *h = xasprintf(fmt, v);
	struct curl_slist *l = curl_slist_append(x->headers, h);
	if (l)
		x->headers = l;
}

#define SETOPT(e, opt, val) ((void)curl_easy_setopt(e, opt, val))

static void xfer_setup(struct registry *r, struct xfer *x, const struct req *q)
{
	CURL *e = x->easy;
	xfer_clear(x);
	curl_easy_reset(e);
	*x = (struct xfer){.easy = e, .q = q};
	sha256_init(&x->hash);
	SETOPT(e, CURLOPT_URL, q->url);
	SETOPT(e, CURLOPT_ERRORBUFFER, x->curl_err);
	SETOPT(e, CURLOPT_NOSIGNAL, 1L);
	SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(e, CURLOPT_USERAGENT, "wsbox");
	SETOPT(e, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_SEC);
	/* A registry that stops sending (or stops, full stop) must not hang
	 * us: under 1 byte/s for stall_sec is a timeout, and retried. */
	SETOPT(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	SETOPT(e, CURLOPT_LOW_SPEED_TIME, r->stall_sec);
	SETOPT(e, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(e, CURLOPT_HEADERDATA, x);
	SETOPT(e, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(e, CURLOPT_WRITEDATA, x);
	if (r->ca_file)
		SETOPT(e, CURLOPT_CAINFO, r->ca_file);
	if (r->max_recv_bps)
		SETOPT(e, CURLOPT_MAX_RECV_SPEED_LARGE,
		       (curl_off_t)r->max_recv_bps);
	if (q->follow) {
		/* Blob storage may live elsewhere; curl drops our
		 * Authorization header when the host changes. */
		SETOPT(e, CURLOPT_FOLLOWLOCATION, 1L);
		SETOPT(e, CURLOPT_MAXREDIRS, REDIRECTS_MAX);
		SETOPT(e, CURLOPT_REDIR_PROTOCOLS_STR,
		       strcmp(r->url.scheme, "http") ? "https" : "http,https");
	}
	if (!strcmp(q->method, "HEAD")) {
		SETOPT(e, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->method, "POST")) {
		SETOPT(e, CURLOPT_POSTFIELDS, "");
		SETOPT(e, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (!strcmp(q->method, "PUT") || !strcmp(q->method, "PATCH")) {
		SETOPT(e, CURLOPT_UPLOAD, 1L);
		SETOPT(e, CURLOPT_INFILESIZE_LARGE,
		       (curl_off_t)(q->has_body ? q->len : 0));
		SETOPT(e, CURLOPT_READFUNCTION, on_read);
		SETOPT(e, CURLOPT_READDATA, x);
		if (!strcmp(q->method, "PATCH"))
			SETOPT(e, CURLOPT_CUSTOMREQUEST, "PATCH");
	}
	/* No 100-continue round trip before every upload. */
	add_header(x, "%s", "Expect:");
	if (q->accept)
		add_header(x, "Accept: %s", q->accept);
	if (q->content_type)
		add_header(x, "Content-Type: %s", q->content_type);
	if (q->content_range)
		add_header(x, "Content-Range: %s", q->content_range);
	if (q->token_request ? r->basic != NULL
			     : (!r->bearer && r->use_basic && r->basic))
		add_header(x, "Authorization: Basic %s", r->basic);
	else if (!q->token_request && r->bearer)
		add_header(x, "Authorization: Bearer %s", r->bearer);
	SETOPT(e, CURLOPT_HTTPHEADER, x->headers);
}

static int remote_fail(const struct registry *r, struct wsbox_error *err,
		       int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int remote_fail(const struct registry *r, struct wsbox_error *err,
		       int ret, const char *fmt, ...)
{
	char why[WSBOX_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	wsbox_fail(err, 0, "remote %s: %s", r->url.url, why);
	return ret;
}

static const char *curl_why(struct xfer *x, CURLcode code, char *buf,
			    size_t cap)
{
	long oserr = 0;
	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
	if (code == CURLE_COULDNT_CONNECT && oserr == ECONNREFUSED)
		return "connection refused";
	const char *detail =
	    x->curl_err[0] ? x->curl_err : curl_easy_strerror(code);
	if (code == CURLE_OPERATION_TIMEDOUT)
		snprintf(buf, cap, "timed out (%s)", detail);
	else
		snprintf(buf, cap, "%s", detail);
	return buf;
}

static bool curl_retryable(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* 0: a response (x->status) to judge; -EAGAIN: a failure worth another
 * try; other negative: a failure no retry can fix. `err` filled on < 0. */
static int xfer_result(struct registry *r, struct xfer *x, CURLcode code,
		       struct wsbox_error *err)
{
	const struct req *q = x->q;
	if (x->too_big)
		return remote_fail(r, err, -EFBIG,
				   "%s: response larger than %llu bytes",
				   q->digest ? q->digest : "request",
				   (unsigned long long)(q->sink_kind == SINK_MEM
							    ? q->mem_max
							    : q->blob_max));
	if (x->sink_err)
		return remote_fail(r, err, -x->sink_err, "blob %s: write: %s",
				   q->digest, strerror(x->sink_err));
	if (x->header_overflow)
		return remote_fail(r, err, -EFBIG,
				   "response headers larger than %lu bytes",
				   REGISTRY_HEADERS_MAX);
	if (code != CURLE_OK) {
		char buf[CURL_ERROR_SIZE + 32];
		remote_fail(r, err, 0, "%s",
			    curl_why(x, code, buf, sizeof buf));
		return curl_retryable(code) ? -EAGAIN : -EIO;
	}
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->status >= 500 || x->status == 429)
		return remote_fail(r, err, -EAGAIN, "%s %s: HTTP %ld",
				   q->method, q->digest ? q->digest : "",
				   x->status);
	if (q->sink_kind == SINK_BLOB && x->status == 200) {
		unsigned char md[32];
		char got[DIGEST_STRLEN];
		sha256_final(&x->hash, md);
		sha256_format(md, got);
		if (strcmp(got, q->digest))
			return remote_fail(r, err, -EBADMSG,
					   "blob %s: digest mismatch (the "
					   "registry sent %s): refused",
					   q->digest, got);
	}
	return 0;
}

/* The registry's own words, from a {"errors": [{code, message}]} body. */
static void error_detail(const struct xfer *x, char *buf, size_t cap)
{
	buf[0] = '\0';
	json_t *j = json_loadb(x->errbody, x->errlen, 0, NULL);
	json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(e0, "code"));
	const char *msg = json_string_value(json_object_get(e0, "message"));
	if (code)
		snprintf(buf, cap, " (%.64s%s%.200s)", code, msg ? ": " : "",
			 msg ? msg : "");
	json_decref(j);
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

static int http_fail(struct registry *r, const struct xfer *x, const char *what,
		     struct wsbox_error *err)
{
	if (x->status == 401 && !r->basic)
		return remote_fail(
		    r, err, -EACCES,
		    "401 unauthorized (no credentials for %s; " NO_CREDS_HINT
		    ")",
		    r->url.authority);
	if (x->status == 401)
		return remote_fail(r, err, -EACCES,
				   "401 unauthorized (the credentials for %s "
				   "were refused)",
				   r->url.authority);
	char detail[300];
	error_detail(x, detail, sizeof detail);
	if (x->status == 403)
		return remote_fail(r, err, -EACCES, "%s: 403 denied%s", what,
				   detail);
	if (x->status == 404)
		return remote_fail(r, err, -ENOENT, "%s: not found%s", what,
				   detail);
	return remote_fail(r, err, -EPROTO, "%s: HTTP %ld%s", what, x->status,
			   detail);
}

static void backoff(unsigned attempt)
{
	long ms = BACKOFF_MS << (attempt > 6 ? 6 : attempt);
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int authenticate(struct registry *r, struct xfer *x,
			struct wsbox_error *err);

/* One request with its retries (idempotent requests only) and at most one
 * authentication round; 0 with x->status to judge, or a failure. */
static int request(struct registry *r, const struct req *q, struct xfer *x,
		   struct wsbox_error *err)
{
	bool authed = q->token_request;
	for (unsigned t = 0;;) {
		if (t > 0 && q->sink && q->sink->reset &&
		    q->sink->reset(q->sink->ctx) < 0)
			return remote_fail(r, err, -EIO, "blob %s: reset",
					   q->digest);
		xfer_setup(r, x, q);
		CURLcode code = curl_easy_perform(x->easy);
		int rc = xfer_result(r, x, code, err);
		if (rc == 0 && x->status == 401 && !authed) {
			authed = true;
			rc = authenticate(r, x, err);
			if (rc < 0)
				return rc;
			t++;
			continue;
		}
		if (rc != -EAGAIN || !q->idempotent || ++t >= r->tries)
			return rc;
		backoff(t - 1);
	}
}

/* ---- authentication ---- */

static bool token_valid(const char *t)
{
	size_t n = strlen(t);
	const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789-._~+/=";
	return n > 0 && n <= TOKEN_LEN_MAX && strspn(t, ok) == n;
}

static char *escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *out = xstrdup(e ? e : "");
	curl_free(e);
	return out;
}

/* The token in a token service's answer ({"token"} or {"access_token"}). */
static int token_from(struct registry *r, const struct xfer *x,
		      struct wsbox_error *err)
{
	json_t *j = json_loadb(x->mem ? x->mem : "", x->mem_len, 0, NULL);
	const char *tok = json_string_value(json_object_get(j, "token"));
	if (!tok)
		tok = json_string_value(json_object_get(j, "access_token"));
	if (!tok || !token_valid(tok)) {
		json_decref(j);
		return remote_fail(r, err, -EPROTO,
				   "token service gave no usable token");
	}
	free(r->bearer);
	r->bearer = xstrdup(tok);
	json_decref(j);
	return 0;
}

static void easy_cleanupp(CURL **e)
{
	if (*e)
		curl_easy_cleanup(*e);
}

static int fetch_token(struct registry *r, const struct registry_challenge *c,
		       struct wsbox_error *err)
{
	bool https = !strncmp(c->realm, "https://", 8);
	if (!https && !(strncmp(c->realm, "http://", 7) == 0 &&
			!strcmp(r->url.scheme, "http")))
		return remote_fail(r, err, -EACCES,
				   "token realm `%.200s` is not https",
				   c->realm);
	if (!header_value_safe(c->realm))
		return remote_fail(r, err, -EACCES, "bad token realm");
	_cleanup_free_ char *svc = c->service ? escape(c->service) : NULL;
	_cleanup_free_ char *scope = c->scope ? escape(c->scope) : NULL;
	char sep = strchr(c->realm, '?') ? '&' : '?';
	_cleanup_free_ char *url =
	    xasprintf("%s%c%s%s%s%s", c->realm, sep, svc ? "service=" : "",
		      svc ? svc : "", scope ? (svc ? "&scope=" : "scope=") : "",
		      scope ? scope : "");
	struct req q = {.method = "GET",
			.url = url,
			.idempotent = true,
			.token_request = true,
			.sink_kind = SINK_MEM,
			.mem_max = REGISTRY_TOKEN_MAX};
	/* Its own handle: the caller's response is still being judged. */
	_cleanup_(easy_cleanupp) CURL *easy = curl_easy_init();
	if (!easy)
		return remote_fail(r, err, -ENOMEM, "curl_easy_init");
	_cleanup_xfer_ struct xfer x = {.easy = easy};
	int rc = request(r, &q, &x, err);
	if (rc < 0)
		return rc;
	if (x.status != 200)
		return http_fail(r, &x, "token request", err);
	return token_from(r, &x, err);
}

static int load_credentials(struct registry *r, struct wsbox_error *err)
{
	if (r->creds_looked_up)
		return 0;
	r->creds_looked_up = true;
	_cleanup_free_ char *user = NULL, *pass = NULL;
	int rc = registry_auth_lookup(r->url.authority, &user, &pass, err);
	if (rc < 0) {
		wsbox_error_prefix(err, "remote %s", r->url.url);
		return rc;
	}
	if (rc == 0)
		return 0;
	_cleanup_free_ char *up = xasprintf("%s:%s", user, pass);
	size_t n = strlen(up);
	r->basic = xcalloc(1, 4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)r->basic, (unsigned char *)up, (int)n);
	explicit_bzero(up, n);
	explicit_bzero(pass, strlen(pass));
	return 0;
}

static int authenticate(struct registry *r, struct xfer *x,
			struct wsbox_error *err)
{
	struct registry_challenge c;
	if (!x->www_auth || registry_challenge_parse(x->www_auth, &c) < 0)
		return remote_fail(r, err, -EACCES,
				   "401 unauthorized (no basic or bearer "
				   "challenge)");
	int rc = load_credentials(r, err);
	if (rc == 0 && c.scheme == REGISTRY_AUTH_BEARER)
		rc = fetch_token(r, &c, err);
	else if (rc == 0 && !r->basic)
		rc = http_fail(r, x, "", err);
	r->use_basic = c.scheme == REGISTRY_AUTH_BASIC;
	registry_challenge_free(&c);
	return rc;
}

/* ---- the client ---- */

int registry_open(struct registry *r, const char *url,
		  const struct registry_options *o, struct wsbox_error *err)
{
	*r = (struct registry){0};
	const struct registry_options none = {0};
	if (!o)
		o = &none;
	int rc = registry_url_parse(url, o->insecure, &r->url, err);
	if (rc < 0)
		return rc;
	rc = curl_dl_load(err);
	if (rc < 0) {
		registry_url_free(&r->url);
		wsbox_error_prefix(err, "remote %s", url);
		return rc;
	}
	r->curl = curl_easy_init();
	if (!r->curl) {
		registry_url_free(&r->url);
		return wsbox_fail(err, ENOMEM, "remote %s", url);
	}
	const char *ca = o->ca_file ? o->ca_file : getenv("WSBOX_REMOTE_CA");
	if (ca && *ca)
		r->ca_file = xstrdup(ca);
	r->tries = o->tries ? o->tries : REGISTRY_TRIES;
	const char *stall = getenv("WSBOX_REMOTE_STALL_SEC");
	r->stall_sec = o->stall_sec		  ? o->stall_sec
		       : stall && atol(stall) > 0 ? atol(stall)
						  : REGISTRY_STALL_SEC;
	const char *bps = getenv("WSBOX_REMOTE_MAX_RECV_BPS");
	r->max_recv_bps = o->max_recv_bps ? o->max_recv_bps
			  : bps		  ? strtoull(bps, NULL, 10)
					  : 0;
	return 0;
}

void registry_close(struct registry *r)
{
	if (r->curl)
		curl_easy_cleanup(r->curl);
	registry_url_free(&r->url);
	free(r->ca_file);
	if (r->basic)
		explicit_bzero(r->basic, strlen(r->basic));
	free(r->basic);
	free(r->bearer);
	*r = (struct registry){0};
}

static char *api_url(const struct registry *r, const char *kind,
		     const char *ref)
{
	return xasprintf("%s/v2/%s/%s/%s", r->url.base, r->url.repo, kind, ref);
}

/* Run `q` on the client's own handle; the response is left in *x (the
 * caller clears it). */
static int simple(struct registry *r, const struct req *q, struct xfer *x,
		  struct wsbox_error *err)
{
	x->easy = r->curl;
	return request(r, q, x, err);
}

int registry_ping(struct registry *r, struct wsbox_error *err)
{
	_cleanup_free_ char *url = xasprintf("%s/v2/", r->url.base);
	struct req q = {.method = "GET", .url = url, .idempotent = true};
	_cleanup_xfer_ struct xfer x = {0};
	int rc = simple(r, &q, &x, err);
	if (rc < 0 || x.status == 200)
		return rc;
	if (x.status == 404)
		return remote_fail(r, err, -EPROTO,
				   "not an OCI registry (GET /v2/: 404)");
	return http_fail(r, &x, "GET /v2/", err);
}

int registry_blob_exists(struct registry *r, const char *digest, uint64_t *size,
			 struct wsbox_error *err)
{
	if (!layer_digest_hex(digest))
		return remote_fail(r, err, -EINVAL, "not a digest: %.80s",
				   digest);
	_cleanup_free_ char *url = api_url(r, "blobs", digest);
	struct req q = {.method = "HEAD", .url = url, .idempotent = true};
	_cleanup_xfer_ struct xfer x = {0};
	int rc = simple(r, &q, &x, err);
	if (rc < 0)
		return rc;
	if (x.status == 404)
		return 0;
	/* A registry with redirecting blob storage answers HEAD with the
	 * redirect: it has the blob (a presigned URL would refuse a HEAD). */
	if (x.status >= 301 && x.status <= 308 && x.location) {
		if (size)
			*size = 0;
		return 1;
	}
	if (x.status != 200) {
		_cleanup_free_ char *what = xasprintf("blob %s", digest);
		return http_fail(r, &x, what, err);
	}
	curl_off_t len = -1;
	curl_easy_getinfo(x.easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	if (size)
		*size = len > 0 ? (uint64_t)len : 0;
	return 1;
}

static struct req blob_get_req(const char *url, const char *digest,
			       uint64_t max, const struct registry_sink *sink)
{
	return (struct req){.method = "GET",
			    .url = url,
			    .follow = true,
			    .idempotent = true,
			    .sink_kind = SINK_BLOB,
			    .sink = sink,
			    .blob_max = max,
			    .digest = digest};
}

static int blob_status(struct registry *r, const struct xfer *x,
		       const char *digest, struct wsbox_error *err)
{
	if (x->status == 200) {
		r->received += x->got;
		return 0;
	}
	_cleanup_free_ char *what = xasprintf("blob %s", digest);
	return http_fail(r, x, what, err);
}

int registry_blob_get(struct registry *r, const char *digest, uint64_t max,
		      const struct registry_sink *sink, struct wsbox_error *err)
{
	if (!layer_digest_hex(digest))
		return remote_fail(r, err, -EINVAL, "not a digest: %.80s",
				   digest);
	_cleanup_free_ char *url = api_url(r, "blobs", digest);
	struct req q = blob_get_req(url, digest, max, sink);
	_cleanup_xfer_ struct xfer x = {0};
	int rc = simple(r, &q, &x, err);
	if (rc < 0)
		return rc;
	return blob_status(r, &x, digest, err);
}

static int fd_write(void *ctx, const void *buf, size_t len)
{
	return write_all(*(int *)ctx, buf, len);
}

static int fd_reset(void *ctx)
{
	int fd = *(int *)ctx;
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	return 0;
}

int registry_blob_get_fd(struct registry *r, const char *digest, uint64_t max,
			 int fd, struct wsbox_error *err)
{
	struct registry_sink sink = {fd_write, fd_reset, &fd};
	return registry_blob_get(r, digest, max, &sink, err);
}

struct mem_sink {
	char *buf;
	size_t len;
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
	struct mem_sink *m = ctx;
	m->buf = xreallocarray(m->buf, m->len + len + 1, 1);
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	m->buf[m->len] = '\0';
	return 0;
}

static int mem_reset(void *ctx)
{
	((struct mem_sink *)ctx)->len = 0;
	return 0;
}

int registry_blob_get_mem(struct registry *r, const char *digest, size_t max,
			  char **buf, size_t *len, struct wsbox_error *err)
{
	struct mem_sink m = {xcalloc(1, 1), 0};
	struct registry_sink sink = {mem_write, mem_reset, &m};
	int rc = registry_blob_get(r, digest, max, &sink, err);
	if (rc < 0) {
		free(m.buf);
		return rc;
	}
	*buf = m.buf;
	*len = m.len;
	return 0;
}

/* ---- parallel downloads ---- */

struct many_item {
	struct registry_xfer *x;
	char *url;
	struct registry_sink sink;
	struct req q;
	struct xfer t;
};

/* The transfers of one registry_blob_get_many: a handle per item, a queue
 * of the items still to (re)try, the multi handle that runs them. */
struct many {
	struct many_item *items;
	struct many_item **queue;
	size_t n, queued;
	CURLM *multi;
	bool reauth; /* a token expired: authenticate before the next round */
};

static void many_free(struct many *m)
{
	for (size_t i = 0; m->items && i < m->n; i++) {
		struct many_item *it = &m->items[i];
		if (it->t.easy && m->multi)
			curl_multi_remove_handle(m->multi, it->t.easy);
		xfer_clear(&it->t);
		if (it->t.easy)
			curl_easy_cleanup(it->t.easy);
		free(it->url);
	}
	if (m->multi)
		curl_multi_cleanup(m->multi);
	free(m->items);
	free(m->queue);
	*m = (struct many){0};
}

static int many_init(struct registry *r, struct many *m,
		     struct registry_xfer *x, size_t n, struct wsbox_error *err)
{
	m->items = xcalloc(n, sizeof *m->items);
	m->queue = xcalloc(n, sizeof *m->queue);
	m->n = m->queued = n;
	m->multi = curl_multi_init();
	if (!m->multi)
		return remote_fail(r, err, -ENOMEM, "curl_multi_init");
	for (size_t i = 0; i < n; i++) {
		struct many_item *it = &m->items[i];
		it->x = &x[i];
		it->url = api_url(r, "blobs", x[i].digest);
		it->sink = (struct registry_sink){fd_write, fd_reset, &x[i].fd};
		it->q = blob_get_req(it->url, x[i].digest, x[i].max, &it->sink);
		it->t.easy = curl_easy_init();
		if (!it->t.easy)
			return remote_fail(r, err, -ENOMEM, "curl_easy_init");
		m->queue[i] = it;
		x[i].result = -EAGAIN;
	}
	return 0;
}

static int many_start(struct registry *r, struct many *m, struct many_item *it,
		      struct wsbox_error *err)
{
	if (fd_reset(&it->x->fd) < 0)
		return remote_fail(r, err, -EIO, "blob %s: truncate: %s",
				   it->x->digest, strerror(errno));
	xfer_setup(r, &it->t, &it->q);
	SETOPT(it->t.easy, CURLOPT_PRIVATE, it);
	CURLMcode mc = curl_multi_add_handle(m->multi, it->t.easy);
	if (mc != CURLM_OK)
		return remote_fail(r, err, -EIO, "curl multi: %s",
				   curl_multi_strerror(mc));
	return 0;
}

/* Judge one finished transfer; a retry goes back into the queue's done
 * part (slot *again), unless this is the last round. */
static void many_done(struct registry *r, struct many *m, CURLMsg *msg,
		      bool last, size_t *again)
{
	struct many_item *it = NULL;
	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&it);
	struct registry_xfer *x = it->x;
	x->err = (struct wsbox_error){0};
	x->result = xfer_result(r, &it->t, msg->data.result, &x->err);
	if (x->result == 0 && it->t.status == 401 && !last) {
		/* Tokens are short-lived; a long pull may outlive one. */
		m->reauth = true;
		x->result = -EAGAIN;
	} else if (x->result == 0) {
		x->result = blob_status(r, &it->t, x->digest, &x->err);
	}
	curl_multi_remove_handle(m->multi, it->t.easy);
	if (x->result == -EAGAIN && !last)
		m->queue[(*again)++] = it;
}

/* Run the queued items, `parallel` at a time, until each one is done. */
static int many_round(struct registry *r, struct many *m, unsigned parallel,
		      bool last, struct wsbox_error *err)
{
	size_t started = 0, active = 0, again = 0, total = m->queued;
	while (started < total || active > 0) {
		while (active < parallel && started < total) {
			int rc = many_start(r, m, m->queue[started++], err);
			if (rc < 0)
				return rc;
			active++;
		}
		int running = 0;
		CURLMcode mc = curl_multi_perform(m->multi, &running);
		if (mc != CURLM_OK)
			return remote_fail(r, err, -EIO, "curl multi: %s",
					   curl_multi_strerror(mc));
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			many_done(r, m, msg, last, &again);
			active--;
		}
		if (active > 0 &&
		    curl_multi_poll(m->multi, NULL, 0, 1000, NULL) != CURLM_OK)
			return remote_fail(r, err, -EIO, "curl multi poll");
	}
	m->queued = again;
	return 0;
}

int registry_blob_get_many(struct registry *r, struct registry_xfer *x,
			   size_t n, unsigned parallel, struct wsbox_error *err)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!layer_digest_hex(x[i].digest))
			return remote_fail(r, err, -EINVAL,
					   "not a digest: %.80s", x[i].digest);
	/* Authenticate once on the client's handle (a HEAD answers the
	 * challenge); every parallel handle then carries the token. */
	int rc = registry_blob_exists(r, x[0].digest, NULL, err);
	if (rc < 0)
		return rc;
	_cleanup_(many_free) struct many m = {0};
	rc = many_init(r, &m, x, n, err);
	if (rc < 0)
		return rc;
	for (unsigned t = 0; m.queued > 0 && t < r->tries; t++) {
		if (t > 0)
			backoff(t - 1);
		if (m.reauth) {
			m.reauth = false;
			free(steal_pointer(&r->bearer));
			rc = registry_blob_exists(r, x[0].digest, NULL, err);
			if (rc < 0)
				return rc;
		}
		rc = many_round(r, &m, parallel ? parallel : 1,
				t + 1 == r->tries, err);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < n; i++)
		if (x[i].result < 0) {
			*err = x[i].err;
			return x[i].result;
		}
	return 0;
}

/* ---- uploads ---- */

/* POST an upload session (with a mount attempt when `from` is set): 1 when
 * the registry mounted the blob, 0 and *loc (absolute) to upload to. */
static int upload_start(struct registry *r, const char *digest,
			const char *from, char **loc, struct wsbox_error *err)
{
	_cleanup_free_ char *url = NULL;
	if (from) {
		_cleanup_free_ char *f = escape(from);
		_cleanup_free_ char *d = escape(digest);
		url = xasprintf("%s/v2/%s/blobs/uploads/?mount=%s&from=%s",
				r->url.base, r->url.repo, d, f);
	} else {
		url = xasprintf("%s/v2/%s/blobs/uploads/", r->url.base,
				r->url.repo);
	}
	struct req q = {.method = "POST", .url = url, .idempotent = true};
	_cleanup_xfer_ struct xfer x = {0};
	int rc = simple(r, &q, &x, err);
	if (rc < 0)
		return rc;
	if (x.status == 201 && from)
		return 1;
	/* distribution 2.8 answers 202 with an absolute Location. */
	if (x.status != 202)
		return http_fail(r, &x, "start upload", err);
	return registry_location_resolve(&r->url, x.location, loc, err);
}

/* One PATCH of [off, off+len) to *loc; *loc becomes the next Location. */
static int upload_chunk(struct registry *r, const struct req *body,
			uint64_t off, uint64_t len, char **loc,
			struct wsbox_error *err)
{
	char range[64];
	snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	struct req q = *body;
	q.method = "PATCH";
	q.url = *loc;
	q.off = body->off + off;
	q.buf = body->buf ? (const char *)body->buf + off : NULL;
	q.len = len;
	q.content_range = range;
	_cleanup_xfer_ struct xfer x = {0};
	int rc = simple(r, &q, &x, err);
	if (rc < 0)
		return rc;
	if (x.status != 202)
		return http_fail(r, &x, "upload chunk", err);
	char *next = NULL;
	rc = registry_location_resolve(&r->url, x.location, &next, err);
	if (rc < 0)
		return rc;
	free(*loc);
	*loc = next;
	r->sent += len;
	return 0;
}

static int upload_once(struct registry *r, const char *digest,
		       const struct req *body, const char *from, uint64_t *sent,
		       struct wsbox_error *err)
{
	_cleanup_free_ char *loc = NULL;
	int rc = upload_start(r, digest, from, &loc, err);
	if (rc != 0)
		return rc < 0 ? rc : 0; /* mounted */
	uint64_t before = r->sent;
	struct req put = *body;
	if (body->len > REGISTRY_CHUNK) {
		for (uint64_t off = 0; off < body->len; off += REGISTRY_CHUNK) {
			uint64_t left = body->len - off;
			rc = upload_chunk(
			    r, body, off,
			    left < REGISTRY_CHUNK ? left : REGISTRY_CHUNK, &loc,
			    err);
			if (rc < 0)
				return rc;
		}
		put.has_body = false;
		put.len = 0;
	}
	_cleanup_free_ char *url = registry_location_join(loc, digest);
	put.method = "PUT";
	put.url = url;
	_cleanup_xfer_ struct xfer x = {0};
	rc = simple(r, &put, &x, err);
	if (rc < 0)
		return rc;
	if (x.status != 201) {
		_cleanup_free_ char *what = xasprintf("upload %s", digest);
		return http_fail(r, &x, what, err);
	}
	r->sent += put.len;
	if (sent)
		*sent = r->sent - before;
	return 0;
}

static int blob_push(struct registry *r, const char *digest,
		     const struct req *body, const char *from, uint64_t *sent,
		     struct wsbox_error *err)
{
	if (sent)
		*sent = 0;
	int rc = registry_blob_exists(r, digest, NULL, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	/* Chunks and the final PUT change the session's state, so a failed
	 * one restarts the whole upload rather than repeating itself. */
	for (unsigned t = 0;; t++) {
		rc = upload_once(r, digest, body, from, sent, err);
		if (rc != -EAGAIN || t + 1 >= r->tries)
			return rc;
		backoff(t);
	}
}

int registry_blob_push(struct registry *r, const char *digest, int fd,
		       uint64_t size, const char *mount_from, uint64_t *sent,
		       struct wsbox_error *err)
{
	if (!layer_digest_hex(digest))
		return remote_fail(r, err, -EINVAL, "not a digest: %.80s",
				   digest);
	struct req body = {.fd = fd,
			   .len = size,
			   .has_body = true,
			   .content_type = "application/octet-stream",
			   .digest = digest};
	return blob_push(r, digest, &body, mount_from, sent, err);
}

int registry_blob_push_mem(struct registry *r, const char *digest,
			   const void *buf, size_t len, struct wsbox_error *err)
{
	if (!layer_digest_hex(digest))
		return remote_fail(r, err, -EINVAL, "not a digest: %.80s",
				   digest);
	struct req body = {.buf = buf ? buf : "",
			   .fd = -1,
			   .len = len,
			   .has_body = true,
			   .content_type = "application/octet-stream",
			   .digest = digest};
	return blob_push(r, digest, &body, NULL, NULL, err);
}

/* ---- manifests and tags ---- */

static bool ref_valid(const char *ref)
{
	return registry_tag_valid(ref) || layer_digest_hex(ref);
}

int registry_manifest_put(struct registry *r, const char *ref,
			  const char *media_type, const char *text, size_t len,
			  char digest[DIGEST_STRLEN], struct wsbox_error *err)
{
	if (!ref_valid(ref))
		return remote_fail(r, err, -EINVAL, "not a tag: %.200s", ref);
	if (len > OCI_MANIFEST_MAX)
		return remote_fail(r, err, -EFBIG, "manifest %s too large",
				   ref);
	_cleanup_free_ char *url = api_url(r, "manifests", ref);
	struct req q = {.method = "PUT",
			.url = url,
			.content_type = media_type,
			.buf = text,
			.fd = -1,
			.len = len,
			.has_body = true,
			.idempotent = true};
	_cleanup_xfer_ struct xfer x = {0};
	int rc = simple(r, &q, &x, err);
	if (rc < 0)
		return rc;
	if (x.status != 201) {
		_cleanup_free_ char *what = xasprintf("put manifest %s", ref);
		return http_fail(r, &x, what, err);
	}
	if (digest)
		sha256_digest(text, len, digest);
	return 0;
}

int registry_manifest_get(struct registry *r, const char *ref, char **text,
			  size_t *len, char digest[DIGEST_STRLEN],
			  struct wsbox_error *err)
{
	if (!ref_valid(ref))
		return remote_fail(r, err, -EINVAL, "not a tag: %.200s", ref);
	_cleanup_free_ char *url = api_url(r, "manifests", ref);
	struct req q = {.method = "GET",
			.url = url,
			.accept = OCI_MT_MANIFEST ", " OCI_MT_DOCKER_MANIFEST,
			.idempotent = true,
			.sink_kind = SINK_MEM,
			.mem_max = OCI_MANIFEST_MAX};
	_cleanup_xfer_ struct xfer x = {0};
	int rc = simple(r, &q, &x, err);
	if (rc < 0)
		return rc;
	if (x.status != 200) {
		_cleanup_free_ char *what = xasprintf("manifest %s", ref);
		return http_fail(r, &x, what, err);
	}
	char d[DIGEST_STRLEN];
	sha256_digest(x.mem ? x.mem : "", x.mem_len, d);
	if (layer_digest_hex(ref) && strcmp(d, ref))
		return remote_fail(r, err, -EBADMSG,
				   "manifest %s: digest mismatch (got %s)", ref,
				   d);
	*text = x.mem ? steal_pointer(&x.mem) : xcalloc(1, 1);
	*len = x.mem_len;
	if (digest)
		strcpy(digest, d);
	return 0;
}

/* The target of a `Link: <URL>; rel="next"` header, or NULL. */
static char *link_next(const char *link)
{
	if (!link || link[0] != '<' || !strstr(link, "rel=\"next\""))
		return NULL;
	const char *end = strchr(link, '>');
	return end ? strndup(link + 1, (size_t)(end - link - 1)) : NULL;
}

static int tags_page(struct registry *r, const char *url, char ***tags,
		     size_t *n, char **next, struct wsbox_error *err)
{
	struct req q = {.method = "GET",
			.url = url,
			.idempotent = true,
			.sink_kind = SINK_MEM,
			.mem_max = TAGS_BODY_MAX};
	_cleanup_xfer_ struct xfer x = {0};
	int rc = simple(r, &q, &x, err);
	if (rc < 0)
		return rc;
	if (x.status == 404)
		return 0; /* a repository nobody pushed to yet */
	if (x.status != 200)
		return http_fail(r, &x, "tag list", err);
	json_t *j = json_loadb(x.mem ? x.mem : "", x.mem_len, 0, NULL);
	json_t *list = json_object_get(j, "tags");
	if (!json_is_array(list) && !json_is_null(list)) {
		json_decref(j);
		return remote_fail(r, err, -EPROTO, "tag list: malformed");
	}
	size_t i;
	json_t *t;
	json_array_foreach(list, i, t)
	{
		const char *s = json_string_value(t);
		if (!s || !registry_tag_valid(s))
			continue;
		*tags = xreallocarray(*tags, *n + 1, sizeof **tags);
		(*tags)[(*n)++] = xstrdup(s);
	}
	json_decref(j);
	_cleanup_free_ char *link = link_next(x.link);
	return link ? registry_location_resolve(&r->url, link, next, err) : 0;
}

int registry_tags_list(struct registry *r, char ***tags, size_t *n,
		       struct wsbox_error *err)
{
	*tags = NULL;
	*n = 0;
	char *url =
	    xasprintf("%s/v2/%s/tags/list?n=1000", r->url.base, r->url.repo);
	int rc = 0;
	for (unsigned page = 0; url && rc == 0; page++) {
		if (page == TAG_PAGES_MAX) {
			rc = remote_fail(r, err, -EFBIG,
					 "tag list: more than %d pages",
					 TAG_PAGES_MAX);
			break;
		}
		char *next = NULL;
		rc = tags_page(r, url, tags, n, &next, err);
		free(url);
		url = next;
	}
	free(url);
	if (rc < 0) {
		free_strings(*tags, *n);
		*tags = NULL;
		*n = 0;
	}
	return rc;
}
