/* layers/cache: the task cache (docs/cache.md). A successful attempt is
 * stored under a key that hashes everything that can change what the task
 * does; an identical exec later, in any run and under any task name, finds
 * the entry, publishes its layer for the new task and replays its output
 * without starting a sandbox.
 *
 *   cache/tasks/<key hex>/entry    JSON: layer digest, counts, timings
 *   cache/tasks/<key hex>/stdout   the attempt's output, byte for byte
 *   cache/tasks/<key hex>/stderr
 *   cache/tasks/<key hex>/combined both, in their order of arrival
 *
 * The combined log (also runs/<run>/logs/<attempt>.log) is in the format of
 * layers/tasklog.h, one chunk per read of the task's output. A hit replays
 * it chunk by chunk, so compiler errors stay next to the make lines they
 * belong to; an entry without one replays stdout, then stderr.
 *
 * An entry is built in the attempt's staging dir and renamed into place, so
 * it appears whole or not at all; the entry file's mtime is its last use
 * (gc evicts least recently used first). Entries are not fsynced: after a
 * power cut, an entry whose file or logs did not survive whole (the entry
 * records the logs' sizes) is a miss, never a wrong replay. */
#ifndef WSBOX_LAYERS_CACHE_H
#define WSBOX_LAYERS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "layers/manifest.h"
#include "layers/store.h"

/* Bumped whenever the key's encoding or the meaning of a cached result
 * changes; old entries then simply never match. */
#define CACHE_KEY_VERSION 2 /* 2: stdin and --cache-key-extra */

/* What goes into the key. Every string may be NULL (encoded distinctly from
 * ""); lists are counted, strings length-prefixed, so no two different
 * inputs encode alike. */
struct cache_key_input {
	const char
	    *rootfs_id;	     /* "sha256:..." or "host-dir:<path>:<dev>:<ino>" */
	char *const *lowers; /* ancestor layer digests, workspace order */
	size_t n_lowers;
	char *const *argv;     /* NULL-terminated */
	char *const *envp;     /* what the task sees, NULL-terminated */
	char *const *env_pass; /* --env-pass names ... */
	const char *const
	    *env_pass_values; /* ... and host values (NULL = unset) */
	size_t n_env_pass;
	uid_t uid;
	gid_t gid;
	const char *cwd;
	const char *hostname;
	int net;
	const char *policy; /* the policy's digest */
	char *const *save;
	size_t n_save;
	bool ro;
	uint64_t max_layer_size;
	/* What the task reads on stdin: "empty" (/dev/null, closed),
	 * "file:sha256:<hex>" (a regular file's content), "stream" (a pipe
	 * or terminal keyed by --cache-key-extra instead of its bytes). */
	const char *stdin_id;
	char *const *extra; /* --cache-key-extra K=V, sorted by K */
	size_t n_extra;
	/* --tenant NAME, or NULL (no tenant, the key as before): one tenant
	 * is never answered from another's entries (docs/cache.md "Cache key").
	 */
	const char *tenant;
};

/* "sha256:<hex>" of the versioned encoding of `in`. */
void cache_key(const struct cache_key_input *in, char out[DIGEST_STRLEN]);

struct cache_entry {
	char *layer; /* NULL for a read-only task */
	uint64_t bytes, files;
	double wall_sec;
};

/* 1 and `e` filled on a hit; 0 on a miss. Never an error: an entry that is
 * absent, malformed, or names a layer that is missing or whose manifest does
 * not hash to its digest is a miss (and gets replaced by the next store). A
 * hit marks the entry used now. */
int cache_lookup(const struct store *s, const char *key, struct cache_entry *e);
void cache_entry_free(struct cache_entry *e);

/* Store `e` under `key` with the logs at a->dir/stdout, a->dir/stderr and
 * a->dir/combined (hard-linked, not copied), atomically replacing an older
 * entry. A combined log that does not add up to the other two (a write of
 * it failed) is left out: the entry then replays stdout, then stderr. */
int cache_store(const struct store *s, const struct attempt *a, const char *key,
		const struct cache_entry *e, struct wsbox_error *err);

/* Relative path (heap) of a file of the entry: "cache/tasks/<hex>/<name>". */
char *cache_file(const char *key, const char *name);

/* Copy the entry's output to the given fds, in full: the combined log
 * chunk by chunk when the entry has one, else stdout, then stderr. */
int cache_replay(const struct store *s, const char *key, int out_fd, int err_fd,
		 struct wsbox_error *err);

#endif
