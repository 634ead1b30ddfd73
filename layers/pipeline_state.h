/* layers/pipeline_state: what `wsbox run` remembers about a run's tasks
 * beyond their records: runs/<run>/pipeline/<task> holds the digest of the
 * task definition whose run last succeeded, so `--restart` can tell an
 * unchanged task (kept) from an edited one (re-run). */
#ifndef WSBOX_LAYERS_PIPELINE_STATE_H
#define WSBOX_LAYERS_PIPELINE_STATE_H

#include "layers/manifest.h"
#include "layers/store.h"

/* Remember `digest` for the task (atomically replaced). */
int pipeline_state_write(struct store *s, const char *run, const char *task,
			 const char *digest, struct wsbox_error *err);
/* The digest remembered, or -ENOENT (no message) when there is none. */
int pipeline_state_read(const struct store *s, const char *run,
			const char *task, char out[DIGEST_STRLEN],
			struct wsbox_error *err);
/* Forget it (before the task runs again: a failure must not leave the
 * digest of an earlier success next to a failed record). */
int pipeline_state_clear(struct store *s, const char *run, const char *task,
			 struct wsbox_error *err);

#endif
