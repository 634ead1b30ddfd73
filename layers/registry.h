/* layers/registry: a client of the OCI distribution API on libcurl (README
 * "Many executors", docs/remote.md): /v2/ ping, blob HEAD/GET/upload
 * (monolithic, chunked, cross-repository mount), manifest PUT/GET, tag
 * lists, parallel blob downloads, basic and bearer-token auth with podman's
 * and docker's auth files. Every response is hostile: sizes read into memory
 * are bounded, blobs are verified against their digest while they stream,
 * and every request loop is bounded (retries with backoff on connection
 * errors, timeouts, 5xx and 429; a stalled transfer is a timeout). Errors
 * read `remote URL: why`. */
#ifndef WSBOX_LAYERS_REGISTRY_H
#define WSBOX_LAYERS_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layers/manifest.h"
#include "sandbox/util/error.h"

#define REGISTRY_TOKEN_MAX (64UL << 10)	  /* token endpoint response */
#define REGISTRY_HEADER_MAX (8UL << 10)	  /* one kept header value */
#define REGISTRY_HEADERS_MAX (64UL << 10) /* all headers of a response */
#define REGISTRY_CHUNK (32UL << 20)	  /* larger blobs go up in PATCHes */
#define REGISTRY_TRIES 4
#define REGISTRY_STALL_SEC 30 /* below 1 byte/s this long: timed out */
#define REGISTRY_TAG_MAX 128

/* A parsed remote URL: https://HOST[:PORT]/REPO/PATH. */
struct registry_url {
	char *scheme;	 /* "https" or "http" */
	char *authority; /* HOST[:PORT] as written: the auth files' key */
	char *repo;	 /* REPO/PATH */
	char *base;	 /* scheme://authority */
	char *url;	 /* base/repo: how messages name the remote */
	bool loopback;	 /* 127.0.0.0/8, ::1 or localhost */
};

/* Plain http is accepted only for a loopback host or when `insecure`. The
 * repository follows distribution's grammar (lowercase components of
 * [a-z0-9] joined by [._-], separated by '/'), at most 255 bytes. */
int registry_url_parse(const char *url, bool insecure, struct registry_url *u,
		       struct wsbox_error *err);
void registry_url_free(struct registry_url *u);

/* One WWW-Authenticate challenge: "Basic realm=..." or "Bearer realm=...,
 * service=..., scope=...". Unknown parameters are ignored. */
enum registry_scheme {
	REGISTRY_AUTH_NONE,
	REGISTRY_AUTH_BASIC,
	REGISTRY_AUTH_BEARER,
};
struct registry_challenge {
	enum registry_scheme scheme;
	char *realm, *service, *scope;
};
/* 0, or -EINVAL for a header that is not a basic or bearer challenge. */
int registry_challenge_parse(const char *header, struct registry_challenge *c);
void registry_challenge_free(struct registry_challenge *c);

/* Look `authority` up in the JSON text of an auth file
 * ({"auths": {"host[:port]": {"auth": base64("user:pass")}}}; keys may
 * carry a scheme or a path, as docker writes them). 1 and *user, *pass
 * (heap) when found, 0 when the file has no entry for it, negative for a
 * malformed file or entry. */
int registry_auth_parse(const char *json, size_t len, const char *authority,
			char **user, char **pass, struct wsbox_error *err);

/* The credentials for `authority` from $REGISTRY_AUTH_FILE, then
 * $XDG_RUNTIME_DIR/containers/auth.json, then ~/.docker/config.json: the
 * first file with an entry wins. Same returns as registry_auth_parse. */
int registry_auth_lookup(const char *authority, char **user, char **pass,
			 struct wsbox_error *err);

/* An upload Location with `digest` added as a query parameter: `&digest=`
 * when the location already has a query (distribution's `?_state=`), else
 * `?digest=`. Heap. */
char *registry_location_join(const char *location, const char *digest);

/* Resolve a Location header against the remote: a path becomes base+path;
 * an absolute URL must have the remote's own scheme and authority (an
 * upload never goes, with our credentials, to another host). */
int registry_location_resolve(const struct registry_url *u,
			      const char *location, char **out,
			      struct wsbox_error *err);

struct registry_options {
	bool insecure;	     /* plain http to a non-loopback host */
	const char *ca_file; /* NULL: $WSBOX_REMOTE_CA, else the system store */
	unsigned tries;	     /* 0: REGISTRY_TRIES */
	long stall_sec; /* 0: $WSBOX_REMOTE_STALL_SEC or REGISTRY_STALL_SEC */
	/* Download cap in bytes/s (0: $WSBOX_REMOTE_MAX_RECV_BPS, else none),
	 * for shared links and for tests that stop a registry mid-blob. */
	uint64_t max_recv_bps;
};

struct registry {
	struct registry_url url;
	void *curl; /* CURL *, reused so connections stay alive */
	char *ca_file;
	char *basic; /* base64 "user:pass" once looked up, or NULL */
	bool creds_looked_up;
	bool use_basic; /* the registry asked for basic auth */
	char *bearer;	/* current token, or NULL */
	unsigned tries;
	long stall_sec;
	uint64_t max_recv_bps;
	uint64_t sent, received; /* blob bytes moved (statistics, tests) */
};
#define REGISTRY_INIT                                                          \
	{                                                                      \
		.curl = NULL                                                   \
	}

int registry_open(struct registry *r, const char *url,
		  const struct registry_options *o, struct wsbox_error *err);
void registry_close(struct registry *r);
static inline void registry_closep(struct registry *r)
{
	registry_close(r);
}

/* GET /v2/ (authenticating when challenged): is it a registry we may use? */
int registry_ping(struct registry *r, struct wsbox_error *err);

/* HEAD the blob: 1 (and *size when not NULL) when present, 0 when not. */
int registry_blob_exists(struct registry *r, const char *digest, uint64_t *size,
			 struct wsbox_error *err);

/* Stream the blob to `write` (redirects followed) while hashing it; more
 * than `max` bytes, or a digest other than `digest`, fails the transfer
 * (-EBADMSG for a mismatch). `reset` is called before a retry starts over.
 * The sink must not trust the data until this returns 0. */
struct registry_sink {
	int (*write)(void *ctx, const void *buf, size_t len);
	int (*reset)(void *ctx);
	void *ctx;
};
int registry_blob_get(struct registry *r, const char *digest, uint64_t max,
		      const struct registry_sink *sink,
		      struct wsbox_error *err);
/* The same into a regular file `fd` (truncated on retry). */
int registry_blob_get_fd(struct registry *r, const char *digest, uint64_t max,
			 int fd, struct wsbox_error *err);
/* The same into memory (heap, NUL-terminated), at most `max` bytes. */
int registry_blob_get_mem(struct registry *r, const char *digest, size_t max,
			  char **buf, size_t *len, struct wsbox_error *err);

/* Download several blobs, `parallel` at a time (curl multi), each into its
 * own regular file and verified like registry_blob_get. Every transfer is
 * tried up to the retry bound; returns 0 when all succeeded, else the first
 * failure (each one's own result in x[i].result / x[i].err). */
struct registry_xfer {
	const char *digest;
	uint64_t max;
	int fd;
	int result;
	struct wsbox_error err;
};
int registry_blob_get_many(struct registry *r, struct registry_xfer *x,
			   size_t n, unsigned parallel,
			   struct wsbox_error *err);

/* Make blob `digest` (`size` bytes readable from `fd` at offset 0) present:
 * HEAD first (nothing is uploaded twice), then a mount from repository
 * `mount_from` (may be NULL) when the registry offers it, else an upload:
 * monolithic up to REGISTRY_CHUNK, chunked PATCHes above. *sent (may be
 * NULL) gets the bytes uploaded: 0 when the blob was already there. */
int registry_blob_push(struct registry *r, const char *digest, int fd,
		       uint64_t size, const char *mount_from, uint64_t *sent,
		       struct wsbox_error *err);
/* The same from memory. */
int registry_blob_push_mem(struct registry *r, const char *digest,
			   const void *buf, size_t len,
			   struct wsbox_error *err);

/* PUT a manifest under `ref` (a tag or a digest) with its media type;
 * `digest` (may be NULL) gets the manifest's digest. */
int registry_manifest_put(struct registry *r, const char *ref,
			  const char *media_type, const char *text, size_t len,
			  char digest[DIGEST_STRLEN], struct wsbox_error *err);
/* GET manifest `ref` (at most OCI_MANIFEST_MAX bytes; checked against `ref`
 * when it is a digest); *text heap, NUL-terminated; `digest` (may be NULL)
 * gets its digest. -ENOENT (with a message) when the registry has none. */
int registry_manifest_get(struct registry *r, const char *ref, char **text,
			  size_t *len, char digest[DIGEST_STRLEN],
			  struct wsbox_error *err);

/* The repository's tags (following `Link` pages, at most 64 of them). */
int registry_tags_list(struct registry *r, char ***tags, size_t *n,
		       struct wsbox_error *err);

/* Is `tag` in distribution's tag grammar [A-Za-z0-9_][A-Za-z0-9._-]{0,127}? */
bool registry_tag_valid(const char *tag);

#endif
