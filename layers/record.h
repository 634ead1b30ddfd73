/* layers/record: the task record, one JSON file per task of a run
 * (runs/<run>/tasks/<task>), replaced atomically. It says what the task
 * saw (every ancestor with the exact layer digest it contributed, so a later
 * re-run of a parent never changes what a finished child was built on),
 * what it produced, and how it ended. Every attempt also leaves its own copy
 * under runs/<run>/attempts/<task>/<attempt> (history: also refused and
 * superseded attempts, never replaced). */
#ifndef WSBOX_LAYERS_RECORD_H
#define WSBOX_LAYERS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layers/store.h"

/* 2: ancestors in a shared ancestry file; 3: exit_status, error, combined */
#define RECORD_VERSION 3

/* One ancestor as seen by a task: its layer (NULL for a read-only task or
 * one that wrote nothing) and its own parents (the DAG edges). */
struct record_node {
	char *task;
	char *layer;
	char **parents;
	size_t n_parents;
};

struct task_record {
	char *run, *task, *attempt;
	uint64_t seq; /* attempt sequence number (result.h) */
	char **parents;
	size_t n_parents;
	struct record_node *ancestors; /* transitive, sorted by task name */
	size_t n_ancestors;
	/* On disk the ancestors live in runs/<run>/ancestry/<hex> (shared by
	 * every task with the same ancestors); this is its digest, NULL when
	 * the task has none. */
	char *ancestry;
	char **lowers; /* layer digests in workspace order, topmost first */
	size_t n_lowers;
	char *layer; /* this task's layer, NULL if none */
	/* "succeeded", "failed", "timeout", "refused" (the workspace could
	 * not be assembled: conflict, unknown or failed parent), "superseded"
	 * (attempt records only: a newer attempt published first) or "error"
	 * (wsbox failed: sandbox setup, store). */
	char *status;
	int exit_code, signal;
	/* wsbox's own exit status for the attempt (README "Exit status").
	 * Records written before it existed read as 124 for a timeout, else
	 * 128+signal, else exit_code. */
	int exit_status;
	char *error; /* why it failed when wsbox says (one line), or NULL */
	bool ro, cache_hit;
	char *cache_key;
	double started, wall_sec, cpu_sec;
	uint64_t bytes, files, max_rss_kb;
	char *stdout_log, *stderr_log; /* relative to the store */
	/* Both streams interleaved as written (layers/tasklog.h), relative to
	 * the store; NULL in records without one. */
	char *combined_log;
	/* --max-log-size cut the stored stdout [0], stderr [1], combined [2]
	 * log (the record's "log_truncated" object, absent when none was). */
	bool log_truncated[3];
	char **cache_key_extra; /* --cache-key-extra K=V, in key order */
	size_t n_cache_key_extra;
	/* Why the task was not looked up nor stored ("stdin is a pipe"),
	 * NULL when it was cacheable. */
	char *uncacheable;
};

int record_write(struct store *s, const struct task_record *r,
		 struct wsbox_error *err);
/* record_write in two halves, for a caller whose layer publication flushes
 * the filesystem in between (layer_publish_sync): record_stage writes the
 * record to its temporary file (a name every listing skips) without a
 * flush; record_commit flushes it unless `synced` (a syncfs ran since),
 * renames it into place and flushes the directory. The durability is
 * record_write's. record_staged_free removes a temporary file that was not
 * committed. */
struct record_staged {
	char *tmp, *path, *dir; /* relative to the store */
};
int record_stage(struct store *s, const struct task_record *r,
		 struct record_staged *st, struct wsbox_error *err);
int record_commit(struct store *s, struct record_staged *st, bool synced,
		  struct wsbox_error *err);
void record_staged_free(struct store *s, struct record_staged *st);
/* The attempt's own record, runs/<run>/attempts/<task>/<attempt>: written
 * once (O_EXCL), not fsynced: it is history, and a torn one after a power
 * cut reads as malformed. gc does not read these: the layers they name are
 * kept only while a task record, a cache entry or a live attempt names
 * them (docs/cache.md "Garbage collection"). */
int record_write_attempt(struct store *s, const struct task_record *r,
			 struct wsbox_error *err);
/* The same right after record_write(r) under the task's lock: the attempt
 * record is a hard link to the task record just written (the same text;
 * a later attempt's rename replaces the task's name, not this inode), one
 * directory entry instead of a new file (README "Performance"). Falls back
 * to record_write_attempt where the link cannot be made. */
int record_link_attempt(struct store *s, const struct task_record *r,
			struct wsbox_error *err);
/* Read an attempt record back (run/task/attempt validated as names). */
int record_read_attempt(const struct store *s, const char *run,
			const char *task, const char *attempt,
			struct task_record *r, struct wsbox_error *err);
/* -ENOENT (with a message) when the task has no record in the run. */
int record_read(const struct store *s, const char *run, const char *task,
		struct task_record *r, struct wsbox_error *err);
/* The same without the ancestors (r->ancestry names them): what the
 * attempt CAS and DAG collection need before deciding to load them. */
int record_read_shallow(const struct store *s, const char *run,
			const char *task, struct task_record *r,
			struct wsbox_error *err);
/* Load r->ancestors from r->ancestry (no-op when loaded or none);
 * checks the file's digest. */
int record_load_ancestry(const struct store *s, struct task_record *r,
			 struct wsbox_error *err);
void record_free(struct task_record *r);
void record_node_free(struct record_node *n);

#endif
