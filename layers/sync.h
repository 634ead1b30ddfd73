/* layers/sync: a store and a remote kept in step (README "Many executors",
 * docs/remote.md "Executors"): the store side of `wsbox pull`, `wsbox push`
 * and `wsbox exec --remote`. Pulling materialises tasks with their whole
 * ancestry (records and layers); pushing sends a task's layer, the layers
 * of its ancestors, its record and its cache entry. Built on
 * layers/remote. */
#ifndef WSBOX_LAYERS_SYNC_H
#define WSBOX_LAYERS_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "layers/remote.h"
#include "layers/store.h"

struct sync_pull {
	const char *run;
	char *const *tasks; /* the tasks asked for */
	size_t n_tasks;
	/* `wsbox pull`: a local record that differs from the remote's is
	 * replaced (under the compare-and-swap); else (exec) only tasks
	 * without a local record get one. */
	bool replace;
	/* exec: an asked task the remote lacks is skipped (the exec then
	 * refuses its missing parent itself); else it fails the pull. */
	bool missing_ok;
	/* Out: records written, layers pulled. */
	size_t records, layers;
};

/* Pull the records of p->tasks in p->run and of all their ancestors, and
 * every layer they name that `s` lacks (in parallel, verified: see
 * remote_pull_layers). Nothing is written before every record has been
 * read and every layer has arrived: a failed pull leaves no record, and
 * the layers it verified are named by nothing (gc removes them). Each
 * record is written under the attempt compare-and-swap (layers/result.h),
 * its number drawn before the transfer, so an attempt of this store that
 * started later and published first is never overwritten. An ancestor the
 * remote has no record of gets none here (its layer still comes, through
 * its descendant's record).
 * The caller holds the store's gc lock (LOCK_GC) shared from before the
 * call: pulled layers are named by nothing until the records are written. */
int sync_pull_tasks(struct remote *rm, struct store *s, struct sync_pull *p,
		    struct wsbox_error *err);

/* Push task run/task: its ancestors' layers, its layer and record, then
 * its cache entry when the local cache still has it. Nothing is uploaded
 * that the registry has (remote_push_layer). 1 (nothing pushed) for a task
 * that did not succeed: only successes are shared. */
int sync_push_task(struct remote *rm, struct store *s, const char *run,
		   const char *task, struct wsbox_error *err);

/* Push every task of the run that succeeded; *pushed (may be NULL) counts
 * them. Stops at the first failure. */
int sync_push_run(struct remote *rm, struct store *s, const char *run,
		  size_t *pushed, struct wsbox_error *err);

#endif
