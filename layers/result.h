/* layers/result: which attempt's result a task of a run holds
 * (docs/cache.md "Attempts", "Compare-and-swap"). Every attempt draws a
 * sequence number when it starts; publishing is a compare-and-swap under the
 * task's lock (runs/<run>/locks/<task>): an attempt may replace the task's
 * record only when the record's sequence number is not greater than its own,
 * i.e. when no attempt that started after it has published in the meantime.
 * The loser publishes nothing and exits 125. */
#ifndef WSBOX_LAYERS_RESULT_H
#define WSBOX_LAYERS_RESULT_H

#include <stdint.h>

#include "layers/store.h"

/* Draw the next sequence number of run/task (1, 2, ...). The counter lives
 * in the lock file; when it is lost (power cut), the record's number is the
 * floor, so a new attempt always ranks above every published one. */
int result_begin(const struct store *s, const char *run, const char *task,
		 uint64_t *seq, struct wsbox_error *err);

/* Lock run/task and check that attempt `seq` may publish. Returns the locked
 * fd (release with store_unlock after writing the record); -ESTALE with
 * "task T: superseded by attempt A" and status 125 when a newer attempt has
 * published; another -errno on failure. */
int result_lock(const struct store *s, const char *run, const char *task,
		uint64_t seq, struct wsbox_error *err);

#endif
