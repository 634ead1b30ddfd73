/* layers/registry.c: the OCI distribution operations of the client (see
 * registry.h): open and close, /v2/ ping, blob HEAD/GET (one, or many in
 * parallel under curl multi), uploads and mounts, manifests and tag lists.
 * Each one is a `struct req` run by registry_http_request. */
#include "layers/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layers/layer.h"
#include "layers/oci.h"
#include "layers/registry_int.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"

#define TAG_PAGES_MAX 64
#define TAGS_BODY_MAX (4UL << 20)

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
	return registry_http_request(r, q, x, err);
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
		return registry_http_failf(
		    r, err, -EPROTO, "not an OCI registry (GET /v2/: 404)");
	return registry_http_fail(r, &x, "GET /v2/", err);
}

int registry_blob_exists(struct registry *r, const char *digest, uint64_t *size,
			 struct wsbox_error *err)
{
	if (!layer_digest_hex(digest))
		return registry_http_failf(r, err, -EINVAL,
					   "not a digest: %.80s", digest);
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
		return registry_http_fail(r, &x, what, err);
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
	return registry_http_fail(r, x, what, err);
}

int registry_blob_get(struct registry *r, const char *digest, uint64_t max,
		      const struct registry_sink *sink, struct wsbox_error *err)
{
	if (!layer_digest_hex(digest))
		return registry_http_failf(r, err, -EINVAL,
					   "not a digest: %.80s", digest);
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
		registry_http_clear(&it->t);
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
		return registry_http_failf(r, err, -ENOMEM, "curl_multi_init");
	for (size_t i = 0; i < n; i++) {
		struct many_item *it = &m->items[i];
		it->x = &x[i];
		it->url = api_url(r, "blobs", x[i].digest);
		it->sink = (struct registry_sink){fd_write, fd_reset, &x[i].fd};
		it->q = blob_get_req(it->url, x[i].digest, x[i].max, &it->sink);
		it->t.easy = curl_easy_init();
		if (!it->t.easy)
			return registry_http_failf(r, err, -ENOMEM,
						   "curl_easy_init");
		m->queue[i] = it;
		x[i].result = -EAGAIN;
	}
	return 0;
}

static int many_start(struct registry *r, struct many *m, struct many_item *it,
		      struct wsbox_error *err)
{
	if (fd_reset(&it->x->fd) < 0)
		return registry_http_failf(r, err, -EIO,
					   "blob %s: truncate: %s",
					   it->x->digest, strerror(errno));
	registry_http_setup(r, &it->t, &it->q);
	SETOPT(it->t.easy, CURLOPT_PRIVATE, it);
	CURLMcode mc = curl_multi_add_handle(m->multi, it->t.easy);
	if (mc != CURLM_OK)
		return registry_http_failf(r, err, -EIO, "curl multi: %s",
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
	x->result = registry_http_result(r, &it->t, msg->data.result, &x->err);
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
			return registry_http_failf(r, err, -EIO,
						   "curl multi: %s",
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
			return registry_http_failf(r, err, -EIO,
						   "curl multi poll");
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
			return registry_http_failf(r, err, -EINVAL,
						   "not a digest: %.80s",
						   x[i].digest);
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
			registry_http_backoff(t - 1);
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
		_cleanup_free_ char *f = registry_http_escape(from);
		_cleanup_free_ char *d = registry_http_escape(digest);
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
		return registry_http_fail(r, &x, "start upload", err);
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
		return registry_http_fail(r, &x, "upload chunk", err);
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
		return registry_http_fail(r, &x, what, err);
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
		registry_http_backoff(t);
	}
}

int registry_blob_push(struct registry *r, const char *digest, int fd,
		       uint64_t size, const char *mount_from, uint64_t *sent,
		       struct wsbox_error *err)
{
	if (!layer_digest_hex(digest))
		return registry_http_failf(r, err, -EINVAL,
					   "not a digest: %.80s", digest);
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
		return registry_http_failf(r, err, -EINVAL,
					   "not a digest: %.80s", digest);
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
		return registry_http_failf(r, err, -EINVAL, "not a tag: %.200s",
					   ref);
	if (len > OCI_MANIFEST_MAX)
		return registry_http_failf(r, err, -EFBIG,
					   "manifest %s too large", ref);
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
		return registry_http_fail(r, &x, what, err);
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
		return registry_http_failf(r, err, -EINVAL, "not a tag: %.200s",
					   ref);
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
		return registry_http_fail(r, &x, what, err);
	}
	char d[DIGEST_STRLEN];
	sha256_digest(x.mem ? x.mem : "", x.mem_len, d);
	if (layer_digest_hex(ref) && strcmp(d, ref))
		return registry_http_failf(
		    r, err, -EBADMSG, "manifest %s: digest mismatch (got %s)",
		    ref, d);
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
		return registry_http_fail(r, &x, "tag list", err);
	json_t *j = json_loadb(x.mem ? x.mem : "", x.mem_len, 0, NULL);
	json_t *list = json_object_get(j, "tags");
	if (!json_is_array(list) && !json_is_null(list)) {
		json_decref(j);
		return registry_http_failf(r, err, -EPROTO,
					   "tag list: malformed");
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
			rc = registry_http_failf(r, err, -EFBIG,
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
