/* layers/registry_int.h: what the files of the registry client share
 * (registry.c: the distribution operations, registry_http.c: one request,
 * registry_auth.c: credentials and tokens, registry_url.c: names). Not for
 * use outside them: other code includes layers/registry.h. */
#ifndef WSBOX_LAYERS_REGISTRY_INT_H
#define WSBOX_LAYERS_REGISTRY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layers/curl_dl.h"
#include "layers/registry.h"
#include "sandbox/util/error.h"
#include "sandbox/util/sha256.h"

#define ERRBODY_MAX 2048

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

/* Free what the last transfer on `x` kept (headers, body); the handle
 * stays. */
void registry_http_clear(struct xfer *x);
static inline void registry_http_clearp(struct xfer *x)
{
	registry_http_clear(x);
}
#define _cleanup_xfer_ _cleanup_(registry_http_clearp)

#define SETOPT(e, opt, val) ((void)curl_easy_setopt(e, opt, val))

/* Reset x->easy and fill it from `q` (options, callbacks, headers). */
void registry_http_setup(struct registry *r, struct xfer *x,
			 const struct req *q);
/* 0: a response (x->status) to judge; -EAGAIN: a failure worth another
 * try; other negative: a failure no retry can fix. `err` filled on < 0. */
int registry_http_result(struct registry *r, struct xfer *x, CURLcode code,
			 struct wsbox_error *err);
/* One request with its retries (idempotent requests only) and at most one
 * authentication round; 0 with x->status to judge, or a failure. */
int registry_http_request(struct registry *r, const struct req *q,
			  struct xfer *x, struct wsbox_error *err);
/* Fill `err` with "remote URL: <fmt>" and return `ret`. */
int registry_http_failf(const struct registry *r, struct wsbox_error *err,
			int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A response that is not the expected one, in the registry's own words:
 * -EACCES (401, 403), -ENOENT (404), else -EPROTO. */
int registry_http_fail(struct registry *r, const struct xfer *x,
		       const char *what, struct wsbox_error *err);
/* Sleep before retry `attempt` (0-based): 250 ms doubling, capped. */
void registry_http_backoff(unsigned attempt);
/* `s` percent-escaped for a query (heap). */
char *registry_http_escape(const char *s);

/* Answer the 401 in `x`: parse its challenge, load credentials, fetch a
 * bearer token when asked for one. */
int registry_auth_answer(struct registry *r, struct xfer *x,
			 struct wsbox_error *err);

/* No control characters, spaces or non-ASCII: safe to send back. */
bool registry_url_header_safe(const char *s);

#endif
