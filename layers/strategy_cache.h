/* layers/strategy_cache: the store's memory of exec's `auto` strategy
 * choice (README "Strategies"), one line in cache/strategy: the key the
 * choice was made for (kernel release, the store's filesystem type and
 * device), a tab, the choice, a tab, why. A different key is a miss, so a
 * new kernel or a store moved to another filesystem is probed again. */
#ifndef WSBOX_LAYERS_STRATEGY_CACHE_H
#define WSBOX_LAYERS_STRATEGY_CACHE_H

#include <stddef.h>

#include "layers/store.h"
#include "sandbox/util/error.h"

/* The key for this store now, into buf. */
int strategy_cache_key(const struct store *s, char *buf, size_t cap,
		       struct wsbox_error *err);
/* 1 with the cached choice and reason (heap) for `key`, 0 on a miss. */
int strategy_cache_get(const struct store *s, const char *key, char **choice,
		       char **why);
/* Remember a choice (replaced atomically). */
int strategy_cache_put(const struct store *s, const char *key,
		       const char *choice, const char *why,
		       struct wsbox_error *err);

#endif
