/* sandbox/cli/pipeline_bounds: a first pass over a pipeline file's YAML
 * events, before libyaml loads the document, that refuses a file whose load
 * or walk would cost far more than its size (docs/run.md "Bounds"). */
#ifndef WSBOX_SANDBOX_PIPELINE_BOUNDS_H
#define WSBOX_SANDBOX_PIPELINE_BOUNDS_H

#include <stddef.h>

#include "sandbox/util/error.h"

/* Collections inside collections: a pipeline needs five levels. */
#define PIPELINE_MAX_DEPTH 32
/* Nodes of the document with every alias replaced by what it names. */
#define PIPELINE_MAX_NODES 1000000
#define PIPELINE_MAX_ANCHORS 256

/* 0, or -1 with `FILE:LINE: what` in err (exit 125): nesting past
 * PIPELINE_MAX_DEPTH, more than PIPELINE_MAX_ANCHORS anchors, an alias
 * inside the node it names, or aliases that make the document more than
 * PIPELINE_MAX_NODES nodes. YAML errors are reported as the loader would. */
int pipeline_check_bounds(const char *file, const char *text, size_t len,
			  struct wsbox_error *err);

#endif
