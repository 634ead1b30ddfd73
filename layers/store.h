/* layers/store: the on-disk store and its layout. Everything wsbox keeps
 * lives below one directory owned by one user:
 *
 *   VERSION                     "wsbox-store 1"
 *   layers/<hex>/tree/          a published layer (read-only tree)
 *   layers/<hex>/manifest       its canonical manifest (digest = sha256 of it)
 *   runs/<run>/tasks/<task>     task record (JSON, replaced atomically)
 *   runs/<run>/ancestry/<hex>   ancestor lists, shared by digest (record.h)
 *   runs/<run>/attempts/<task>/<attempt>  every attempt's own record
 *   runs/<run>/logs/<attempt>.{out,err,log}
 *   staging/<attempt>/          private to one attempt: owner, uses (only
 *                               when it pins layers), upper/, work/,
 *                               workspace/ (--strategy copy), stdout,
 *                               stderr (logs until published); a multi-step
 *                               attempt also attempt.json, lock, steps,
 *                               closed (sandbox/cli/attempt.c)
 *   cache/tasks/<key>/          task cache entries (cache.h); cache/bpf/
 *                               compiled policies; cache/flatten/ merged
 *                               lower layers
 *   empty/                      empty dir: the lower of a parentless task
 *   mnt/                        empty dir: every sandbox's root is mounted
 *                               here, each in its own mount namespace
 *   locks/                      gc and --mutex locks (lock.h)
 *   runs/<run>/locks/<task>     a task's lock and attempt counter
 *
 * Publication is always "write completely in staging, then rename", so a
 * crash leaves either the whole object or none; staging of dead attempts is
 * reclaimed by `wsbox gc` (gc.h). */
#ifndef WSBOX_LAYERS_STORE_H
#define WSBOX_LAYERS_STORE_H

#include <stdbool.h>
#include <sys/types.h>

#include "sandbox/util/error.h"

struct store {
	char *path;	 /* absolute */
	int fd;		 /* O_PATH|O_DIRECTORY of path */
	uid_t owner_uid; /* who owns the store (and every layer on disk) */
	gid_t owner_gid;
};

/* The places of the layout above. Only store.c spells their names; the
 * rest of wsbox asks for them here. */
enum store_place {
	STORE_LAYERS,	     /* layers/ */
	STORE_RUNS,	     /* runs/ */
	STORE_STAGING,	     /* staging/ */
	STORE_CACHE,	     /* cache/ */
	STORE_TASK_CACHE,    /* cache/tasks/ */
	STORE_BPF_CACHE,     /* cache/bpf/ */
	STORE_FLATTEN_CACHE, /* cache/flatten/ */
	STORE_EMPTY,	     /* empty/ */
	STORE_LOCKS,	     /* locks/ */
	STORE_GC_LOCK,	     /* locks/gc */
	STORE_MUTEX_LOCKS,   /* locks/mutex/ */
	STORE_ROOTFS,	     /* rootfs/ */
	STORE_STRATEGY,	     /* cache/strategy: auto's choice */
	STORE_ROOT_MNT,	     /* mnt/: every sandbox's root mount point */
};

/* A place relative to the store's fd (static string). */
const char *store_rel(enum store_place p);
/* `<place>/<name>[/<sub>]` relative to the store's fd (heap); `sub` may be
 * NULL. */
char *store_rel_join(enum store_place p, const char *name, const char *sub);
/* A place as an absolute path below s->path (heap). */
char *store_path_of(const struct store *s, enum store_place p);
/* `STORE/<place>/<name>[/<sub>]`, absolute (heap); `sub` may be NULL. */
char *store_path_join(const struct store *s, enum store_place p,
		      const char *name, const char *sub);
/* `runs/<run>[/<sub>[/<name>]]` relative to the store's fd (heap), e.g.
 * store_run_rel(run, "tasks", task); `sub` and `name` may be NULL. */
char *store_run_rel(const char *run, const char *sub, const char *name);
/* `runs/<run>/attempts/<task>[/<attempt>]` relative to the store's fd
 * (heap): where every attempt leaves its own record; `attempt` may be NULL
 * (the task's directory of attempts). */
char *store_attempt_rel(const char *run, const char *task, const char *attempt);
/* The same, absolute below s->path (heap): store_run_path(s, run, "logs"). */
char *store_run_path(const struct store *s, const char *run, const char *sub);

/* Make the directory `rel` (relative to the store's fd, mode 0700): one
 * mkdirat when its parent exists (the common case on the start-up path),
 * mkdir_p of the missing parents otherwise. */
int store_mkdir_rel(const struct store *s, const char *rel,
		    struct wsbox_error *err);

/* --store, else $WSBOX_STORE, else $XDG_DATA_HOME/wsbox, else
 * ~/.local/share/wsbox; root without any of them: /var/lib/wsbox. */
char *store_default_path(const char *opt);

/* Open (creating the layout when `create`) the store at path. */
int store_open(const char *path, bool create, struct store *s,
	       struct wsbox_error *err);
void store_close(struct store *s);
static inline void store_closep(struct store *s)
{
	store_close(s);
}

struct attempt {
	char *id;    /* unique: <time>-<pid>-<random> */
	char *dir;   /* STORE/staging/<id> */
	char *upper; /* dir/upper */
	char *work;  /* dir/work */
	char *root;  /* STORE/mnt (attempt_root_mnt), else NULL */
	char *copy;  /* dir/workspace: the copy strategy's workspace (made
			only when used) */
	int dirfd;
};

/* Give `a` a fresh unique id (no directory yet): an exec knows its attempt
 * id before it knows whether it needs staging (a cache hit does not). */
void attempt_new_id(struct attempt *a);
/* Create a private staging area for one attempt with a fresh id, with an
 * owner marker (pid, process start time, host) so `wsbox gc` can tell dead
 * attempts. `a` need not be initialized. */
int attempt_create(struct store *s, struct attempt *a, struct wsbox_error *err);
/* The same for an attempt that already has its id (attempt_new_id). */
int attempt_stage(struct store *s, struct attempt *a, struct wsbox_error *err);
/* An attempt that runs a sandbox: a->root becomes the store's shared mnt/
 * (made if missing), the mount point of the sandbox's root in the
 * sandbox's own mount namespace. attempt_open does this itself. */
int attempt_root_mnt(struct store *s, struct attempt *a,
		     struct wsbox_error *err);
/* Open the staging area of a live attempt by its id (a multi-step attempt,
 * docs/exec.md "Attempts"): -ENOENT without a message when there is none. */
int attempt_open(struct store *s, const char *id, struct attempt *a,
		 struct wsbox_error *err);
/* Replace the owner marker (atomically): the attempt now lives as long as
 * process `pid` with start time `start` (proc_starttime), e.g. the engine
 * that began a multi-step attempt. */
int attempt_set_owner(struct attempt *a, pid_t pid, unsigned long long start,
		      struct wsbox_error *err);
/* Remove the staging area (symlink-safe) and free `a`. */
int attempt_discard(struct store *s, struct attempt *a,
		    struct wsbox_error *err);
void attempt_free(struct attempt *a);
/* Record in the staging dir (file `uses`) the layers the attempt's
 * workspace stands on, so gc keeps them while the attempt lives even if the
 * records that named them are replaced meanwhile. With n == 0 no file is
 * written (gc reads a missing `uses` as nothing pinned). */
int attempt_write_uses(struct attempt *a, char *const *digests, size_t n,
		       struct wsbox_error *err);

/* Start time of `pid` in clock ticks since boot (0 if it does not exist):
 * with the pid it names one process even after the pid is reused. */
unsigned long long proc_starttime(pid_t pid);

#endif
