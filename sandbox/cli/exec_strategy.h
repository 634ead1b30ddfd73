/* exec_strategy: which workspace strategy one exec uses (README
 * "Strategies"): --strategy, else $WSBOX_STRATEGY, else auto; auto asks
 * the probes of sandbox/strategy.c once per store and remembers the answer
 * there (layers/strategy_cache.c). */
#ifndef WSBOX_SANDBOX_CLI_EXEC_STRATEGY_H
#define WSBOX_SANDBOX_CLI_EXEC_STRATEGY_H

#include <limits.h>

#include "layers/store.h"
#include "sandbox/plan.h"
#include "sandbox/util/error.h"

struct exec_strategy {
	enum workspace_strategy s;
	char fuse_bin[PATH_MAX]; /* WS_FUSE_OVERLAYFS: the daemon */
};

/* Resolve `requested` (NULL: $WSBOX_STRATEGY, else "auto") for store `s`.
 * A forced fuse-overlayfs that cannot work here fails (exit 125). When auto
 * falls back from kernel overlay, prints one line on stderr saying why,
 * the first time for this store (kernel, filesystem). */
int exec_strategy_choose(const struct store *s, const char *requested,
			 struct exec_strategy *out, struct wsbox_error *err);

#endif
