/* run_ids.h: the verbs' side of a run's own id block (docs/sandbox.md "Id
 * blocks"): `wsbox runs rm` gives the removed run's block back, `wsbox gc`
 * takes back the blocks of runs that no longer exist and of ended one-off
 * execs (sandbox/idrange_alloc.h holds the file). Root mode with a range
 * allocation file only; otherwise nothing happens. Each prints its one
 * line. */
#ifndef WSBOX_CLI_RUN_IDS_H
#define WSBOX_CLI_RUN_IDS_H

#include <stdbool.h>
#include <stdio.h>

#include "layers/store.h"

/* After `runs rm RUN`: free its block, saying so on `out`; a block still
 * held by a running task is kept (also said: gc frees it later). Never
 * fails the removal: a problem is one `wsbox: ...` line on stderr. */
void run_ids_release(const struct store *s, const char *run, FILE *out);

/* For `wsbox gc`: 0 and one line per freed block on `log`, or a negative
 * errno with err set. */
int run_ids_reclaim(const struct store *s, bool dry_run, FILE *log,
		    struct wsbox_error *err);

#endif
