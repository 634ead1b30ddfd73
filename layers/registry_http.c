/* layers/registry_http.c: one request to a remote (see registry_int.h):
 * registry_http_setup fills a curl handle from a `struct req`, the callbacks
 * bound what a response may put in memory and hash a blob as it streams,
 * registry_http_result judges the outcome (done, retry, fail), and
 * registry_http_request adds the bounded retry with registry_http_backoff and
 * the one authentication round. */
#include "layers/registry.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "layers/registry_int.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"

#define CONNECT_TIMEOUT_SEC 10L
#define BACKOFF_MS 250
#define REDIRECTS_MAX 5L
#define NO_CREDS_HINT "see README \"Many executors\""

static void xfer_forget_headers(struct xfer *x)
{
	free(steal_pointer(&x->location));
	free(steal_pointer(&x->www_auth));
	free(steal_pointer(&x->link));
}

void registry_http_clear(struct xfer *x)
{
	xfer_forget_headers(x);
	curl_slist_free_all(steal_pointer(&x->headers));
	free(steal_pointer(&x->mem));
	x->mem_len = 0;
}

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

void registry_http_setup(struct registry *r, struct xfer *x,
			 const struct req *q)
{
	CURL *e = x->easy;
	registry_http_clear(x);
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

int registry_http_failf(const struct registry *r, struct wsbox_error *err,
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
int registry_http_result(struct registry *r, struct xfer *x, CURLcode code,
			 struct wsbox_error *err)
{
	const struct req *q = x->q;
	if (x->too_big)
		return registry_http_failf(
		    r, err, -EFBIG, "%s: response larger than %llu bytes",
		    q->digest ? q->digest : "request",
		    (unsigned long long)(q->sink_kind == SINK_MEM
					     ? q->mem_max
					     : q->blob_max));
	if (x->sink_err)
		return registry_http_failf(r, err, -x->sink_err,
					   "blob %s: write: %s", q->digest,
					   strerror(x->sink_err));
	if (x->header_overflow)
		return registry_http_failf(
		    r, err, -EFBIG, "response headers larger than %lu bytes",
		    REGISTRY_HEADERS_MAX);
	if (code != CURLE_OK) {
		char buf[CURL_ERROR_SIZE + 32];
		registry_http_failf(r, err, 0, "%s",
				    curl_why(x, code, buf, sizeof buf));
		return curl_retryable(code) ? -EAGAIN : -EIO;
	}
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->status >= 500 || x->status == 429)
		return registry_http_failf(
		    r, err, -EAGAIN, "%s %s: HTTP %ld", q->method,
		    q->digest ? q->digest : "", x->status);
	if (q->sink_kind == SINK_BLOB && x->status == 200) {
		unsigned char md[32];
		char got[DIGEST_STRLEN];
		sha256_final(&x->hash, md);
		sha256_format(md, got);
		if (strcmp(got, q->digest))
			return registry_http_failf(
			    r, err, -EBADMSG,
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

int registry_http_fail(struct registry *r, const struct xfer *x,
		       const char *what, struct wsbox_error *err)
{
	if (x->status == 401 && !r->basic)
		return registry_http_failf(
		    r, err, -EACCES,
		    "401 unauthorized (no credentials for %s; " NO_CREDS_HINT
		    ")",
		    r->url.authority);
	if (x->status == 401)
		return registry_http_failf(
		    r, err, -EACCES,
		    "401 unauthorized (the credentials for %s "
		    "were refused)",
		    r->url.authority);
	char detail[300];
	error_detail(x, detail, sizeof detail);
	if (x->status == 403)
		return registry_http_failf(r, err, -EACCES, "%s: 403 denied%s",
					   what, detail);
	if (x->status == 404)
		return registry_http_failf(r, err, -ENOENT, "%s: not found%s",
					   what, detail);
	return registry_http_failf(r, err, -EPROTO, "%s: HTTP %ld%s", what,
				   x->status, detail);
}

void registry_http_backoff(unsigned attempt)
{
	long ms = BACKOFF_MS << (attempt > 6 ? 6 : attempt);
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One request with its retries (idempotent requests only) and at most one
 * authentication round; 0 with x->status to judge, or a failure. */
int registry_http_request(struct registry *r, const struct req *q,
			  struct xfer *x, struct wsbox_error *err)
{
	bool authed = q->token_request;
	for (unsigned t = 0;;) {
		if (t > 0 && q->sink && q->sink->reset &&
		    q->sink->reset(q->sink->ctx) < 0)
			return registry_http_failf(r, err, -EIO,
						   "blob %s: reset", q->digest);
		registry_http_setup(r, x, q);
		CURLcode code = curl_easy_perform(x->easy);
		int rc = registry_http_result(r, x, code, err);
		if (rc == 0 && x->status == 401 && !authed) {
			authed = true;
			rc = registry_auth_answer(r, x, err);
			if (rc < 0)
				return rc;
			t++;
			continue;
		}
		if (rc != -EAGAIN || !q->idempotent || ++t >= r->tries)
			return rc;
		registry_http_backoff(t - 1);
	}
}

char *registry_http_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *out = xstrdup(e ? e : "");
	curl_free(e);
	return out;
}
