/* layers/remote: wsbox objects in an OCI registry (docs/remote.md has the
 * mapping; README "Many executors" the set-up). A layer travels as an OCI
 * image (one tar+zstd or tar+gzip layer, a minimal config) tagged
 * `layer-<hex>`, so skopeo and podman can read it; a task record and a cache
 * entry as OCI artifact manifests (`artifactType`) tagged by (run, task) and
 * by cache key. Pushing never uploads a blob the registry has; pulling
 * verifies every blob while it streams, imports layers with the
 * hostile-input rules of `layers import` and checks the wsbox digest before
 * anything names the layer. Built on layers/registry. */
#ifndef WSBOX_LAYERS_REMOTE_H
#define WSBOX_LAYERS_REMOTE_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "layers/cache.h"
#include "layers/record.h"
#include "layers/registry.h"
#include "layers/store.h"

#define REMOTE_MT_RECORD "application/vnd.wsbox.record.v1+json"
#define REMOTE_MT_CACHE "application/vnd.wsbox.cache.v1+json"
#define REMOTE_MT_LOG "application/vnd.wsbox.log.v1"
/* Annotations (on manifests, and on layer descriptors). */
#define REMOTE_ANN_LAYER "org.wsbox.layer" /* the wsbox layer digest */
#define REMOTE_ANN_RUN "org.wsbox.run"
#define REMOTE_ANN_TASK "org.wsbox.task"
#define REMOTE_ANN_KEY "org.wsbox.cache.key"
#define REMOTE_ANN_TITLE "org.opencontainers.image.title"
#define REMOTE_RECORD_MAX (16UL << 20) /* a record's config blob */
#define REMOTE_ENTRY_MAX (64UL << 10)  /* a cache entry's config blob */
#define REMOTE_PARALLEL 4

enum remote_compression {
	REMOTE_ZSTD, /* default */
	REMOTE_GZIP,
};

struct remote_options {
	bool insecure; /* --remote-insecure: plain http to any host */
	enum remote_compression compression;
	unsigned parallel; /* blob downloads at once (0: REMOTE_PARALLEL) */
	const char
	    *mount_from;     /* repository to offer a cross-repo mount from */
	const char *ca_file; /* NULL: $WSBOX_REMOTE_CA or the system store */
	/* Who owns pulled layers on disk (the caller's rule: the sandbox
	 * side's identity_layer_owner); unset, the store's owner. */
	bool set_owner;
	uid_t owner_uid;
	gid_t owner_gid;
};

struct remote {
	struct registry reg;
	enum remote_compression compression;
	unsigned parallel;
	char *mount_from;
	bool set_owner;
	uid_t owner_uid;
	gid_t owner_gid;
};

int remote_open(struct remote *rm, const char *url,
		const struct remote_options *o, struct wsbox_error *err);
void remote_close(struct remote *rm);
static inline void remote_closep(struct remote *rm)
{
	remote_close(rm);
}

/* A layer as the registry holds it. */
struct remote_layer {
	char layer[DIGEST_STRLEN];    /* wsbox digest (canonical manifest) */
	char blob[DIGEST_STRLEN];     /* digest of the compressed tar blob */
	uint64_t size;		      /* blob bytes */
	const char *media_type;	      /* OCI_MT_LAYER_ZSTD or _GZIP (static) */
	char manifest[DIGEST_STRLEN]; /* the image manifest `layer-<hex>` */
};

/* Tags (REGISTRY_TAG_MAX + 1 bytes with the NUL). A record's tag is
 * `run-<run>.task-<task>` when that fits the tag grammar and cannot be read
 * two ways (the run contains no ".task-"), else `record-<hex>` with hex =
 * sha256(run NUL task); the names are in the manifest's annotations either
 * way, and checked when a record is read. */
void remote_layer_tag(const char *digest, char tag[REGISTRY_TAG_MAX + 1]);
void remote_record_tag(const char *run, const char *task,
		       char tag[REGISTRY_TAG_MAX + 1]);
void remote_cache_tag(const char *key, char tag[REGISTRY_TAG_MAX + 1]);

/* Push layer `digest` of store `s` unless `layer-<hex>` already names it
 * (then nothing is exported or uploaded). `out` and `sent` (blob bytes
 * uploaded) may be NULL. */
int remote_push_layer(struct remote *rm, struct store *s, const char *digest,
		      struct remote_layer *out, uint64_t *sent,
		      struct wsbox_error *err);

/* Look layer `digest` up: 1 and `out` filled when the registry has it, 0
 * when not. */
int remote_find_layer(struct remote *rm, const char *digest,
		      struct remote_layer *out, struct wsbox_error *err);

/* Pull layers into `s` (those it lacks), downloading up to rm->parallel
 * blobs at once into the store's staging: every blob is checked against
 * its digest while it streams, imported with layer_import's hostile-input
 * rules, and must import as the wsbox digest asked for. On failure no layer
 * asked for has been published by this call except ones that verified;
 * an import that produced another digest is refused (that layer is named
 * by nothing, so `wsbox gc` removes it). */
/* A pulled layer is named by nothing until the caller writes the record or
 * cache entry that uses it: hold the store's gc lock (LOCK_GC, shared) from
 * before the pull until then, as exec does around publication. */
int remote_pull_layers(struct remote *rm, struct store *s, char *const *digests,
		       size_t n, struct wsbox_error *err);
int remote_pull_layer(struct remote *rm, struct store *s, const char *digest,
		      struct wsbox_error *err);

/* Push the record of run/task (and its layer first), tagged by
 * remote_record_tag. */
int remote_push_record(struct remote *rm, struct store *s, const char *run,
		       const char *task, struct wsbox_error *err);

/* Read the record of run/task from the registry into `r` (record_free it;
 * its log paths are NULL: logs stay where they were written). -ENOENT with
 * a message when the registry has none. The record is validated like a
 * local one: names, digests and the ancestors' shape. */
int remote_get_record(struct remote *rm, const char *run, const char *task,
		      struct task_record *r, struct wsbox_error *err);

/* Pull the layers of run/task and of its whole ancestry that `s` lacks (in
 * parallel); `r` (may be NULL) gets the task's record. */
int remote_pull_task(struct remote *rm, struct store *s, const char *run,
		     const char *task, struct task_record *r,
		     struct wsbox_error *err);

/* Push the local cache entry `key` (its layer, stdout and stderr). */
int remote_push_cache_entry(struct remote *rm, struct store *s, const char *key,
			    struct wsbox_error *err);

/* Look `key` up in the registry's cache: on a hit the layer is pulled
 * (verified), the entry and its logs are stored in the local cache (so
 * cache_lookup and cache_replay serve it from now on), `e` is filled and 1
 * returned; 0 on a miss. */
int remote_lookup_cache(struct remote *rm, struct store *s, const char *key,
			struct cache_entry *e, struct wsbox_error *err);

#endif
