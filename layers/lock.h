/* layers/lock: advisory locks on files below the store (flock). The kernel
 * drops a lock when its holder dies, so a `kill -9` never leaves one held.
 * Who takes which lock (docs/cache.md "Locks"; layers/README.md "Locking
 * order"):
 *
 *   locks/gc                    shared by every exec while it reads records
 *                               or publishes; exclusive by `wsbox gc`
 *   runs/<run>/locks/<task>     a task's attempt counter and the lock of its
 *                               result (compare-and-swap in result.c)
 *   locks/mutex/<name>          `--mutex NAME`, held while the task runs
 *
 * None of them is held while a task runs except its own --mutex. */
#ifndef WSBOX_LAYERS_LOCK_H
#define WSBOX_LAYERS_LOCK_H

#include <stdbool.h>

#include "layers/store.h"

/* The gc lock's place (store.h). */
#define LOCK_GC store_rel(STORE_GC_LOCK)

/* Open (creating it and its parent directories) STORE/rel and lock it,
 * waiting for the lock. Returns the locked fd (O_CLOEXEC) or -errno. */
int store_lock(const struct store *s, const char *rel, bool exclusive,
	       struct wsbox_error *err);

/* Release and close; *fd becomes -1 (no-op when already -1). */
void store_unlock(int *fd);

#endif
