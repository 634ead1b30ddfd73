/* layers/registry_auth.c: authentication against a remote (see
 * registry.h): WWW-Authenticate challenges, podman's and docker's auth files
 * (base64 user:pass), and answering a 401 with basic credentials or a bearer
 * token fetched from the challenge's realm. */
#include "layers/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "layers/registry_int.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

#define AUTH_FILE_MAX (1UL << 20)
#define AUTH_ENTRY_MAX 4096 /* base64 of user:pass */
#define TOKEN_LEN_MAX 16384

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

/* ---- authentication ---- */

static bool token_valid(const char *t)
{
	size_t n = strlen(t);
	const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789-._~+/=";
	return n > 0 && n <= TOKEN_LEN_MAX && strspn(t, ok) == n;
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
		return registry_http_failf(
		    r, err, -EPROTO, "token service gave no usable token");
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
		return registry_http_failf(r, err, -EACCES,
					   "token realm `%.200s` is not https",
					   c->realm);
	if (!registry_url_header_safe(c->realm))
		return registry_http_failf(r, err, -EACCES, "bad token realm");
	_cleanup_free_ char *svc =
	    c->service ? registry_http_escape(c->service) : NULL;
	_cleanup_free_ char *scope =
	    c->scope ? registry_http_escape(c->scope) : NULL;
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
		return registry_http_failf(r, err, -ENOMEM, "curl_easy_init");
	_cleanup_xfer_ struct xfer x = {.easy = easy};
	int rc = registry_http_request(r, &q, &x, err);
	if (rc < 0)
		return rc;
	if (x.status != 200)
		return registry_http_fail(r, &x, "token request", err);
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

int registry_auth_answer(struct registry *r, struct xfer *x,
			 struct wsbox_error *err)
{
	struct registry_challenge c;
	if (!x->www_auth || registry_challenge_parse(x->www_auth, &c) < 0)
		return registry_http_failf(
		    r, err, -EACCES,
		    "401 unauthorized (no basic or bearer "
		    "challenge)");
	int rc = load_credentials(r, err);
	if (rc == 0 && c.scheme == REGISTRY_AUTH_BEARER)
		rc = fetch_token(r, &c, err);
	else if (rc == 0 && !r->basic)
		rc = registry_http_fail(r, x, "", err);
	r->use_basic = c.scheme == REGISTRY_AUTH_BASIC;
	registry_challenge_free(&c);
	return rc;
}
