/* layers/gc: `wsbox gc`, the store's garbage collector (docs/cache.md
 * "Garbage collection", docs/capture.md "Crash safety"). Under the
 * exclusive gc lock (lock.h; every exec holds it shared only while it reads
 * records or publishes) it:
 *   1. removes staging dirs whose owner is dead (pid gone, or reused: the
 *      start time differs); a live attempt's `uses` file pins its layers;
 *   2. removes temp files of atomic writes whose writer is dead;
 *   3. evicts task and flatten cache entries, least recently used first,
 *      until they fit the budget (only when one is given);
 *   4. removes every layer that no record, cache entry or live attempt
 *      names. A layer is first renamed out of layers/ (so it vanishes at
 *      once, never half-deleted), then deleted after the lock is released.
 * A killed gc leaves at most a staging dir the next gc removes. */
#ifndef WSBOX_LAYERS_GC_H
#define WSBOX_LAYERS_GC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "layers/store.h"

struct gc_options {
	bool dry_run;	 /* list, change nothing */
	bool has_budget; /* evict cache entries beyond cache_max_bytes */
	uint64_t cache_max_bytes;
	FILE *log; /* one line per object removed (or that would be) */
};

struct gc_stats {
	size_t staging, tmp_files, cache_entries, layers;
	uint64_t layer_bytes, cache_bytes;
	size_t kept_staging; /* live attempts */
};

int gc_run(struct store *s, const struct gc_options *o, struct gc_stats *st,
	   struct wsbox_error *err);

#endif
