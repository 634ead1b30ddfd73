/* layers/source: a task of a run whose layer is brought in from the host
 * (`wsbox import`, docs/model.md "Sources") instead of made by a sandboxed
 * command. The result is an ordinary succeeded task with no parents, so
 * `--parent NAME` works for it, and because layers are content-addressed,
 * identical sources give the same digest and hit the cache of the tasks that
 * stand on them. */
#ifndef WSBOX_LAYERS_SOURCE_H
#define WSBOX_LAYERS_SOURCE_H

#include <sys/types.h>

#include "layers/manifest.h"
#include "layers/store.h"
#include "sandbox/util/error.h"

struct source_import {
	const char *run, *task;
	const char *path; /* a directory, or a tar (plain, gz, zst, xz, bz2) */
	uid_t owner_uid;  /* who owns the layer on disk (identity.h's rule) */
	gid_t owner_gid;
};

struct source_result {
	char digest[DIGEST_STRLEN];
	char *attempt;		    /* the attempt id recorded */
	uint64_t bytes, entries;    /* what was read in */
	uint64_t skipped, stripped; /* tar only: see import.h IMPORT_ROOTFS */
};

/* Copy `in->path` into a new layer and record it as task `in->task` of run
 * `in->run` under the same compare-and-swap as exec (a newer attempt of the
 * task that published meanwhile wins: -ESTALE, status 125). A directory is
 * read with tree_copy's rules, a tar with import.h's rootfs rules (a source
 * tarball may hold hardlinks; devices are skipped, setuid bits stripped).
 * On failure nothing is published and no record is written. */
int source_import(struct store *s, const struct source_import *in,
		  struct source_result *out, struct wsbox_error *err);
void source_result_free(struct source_result *r);

#endif
