/* sandbox/cli/pipeline: the pipeline file of `wsbox run` (docs/run.md), read
 * with libyaml into validated tasks: each task's command, its needs resolved
 * to indices, and its exec options as `wsbox exec` argv fragments. Every
 * refusal names the file and line (`FILE:LINE: what`, exit 125). */
#ifndef WSBOX_SANDBOX_PIPELINE_H
#define WSBOX_SANDBOX_PIPELINE_H

#include <stddef.h>

#include "layers/manifest.h"
#include "sandbox/cli/exec_opts.h"
#include "sandbox/util/error.h"

/* Bounds on what one file may ask for. */
#define PIPELINE_MAX_BYTES (4u << 20)
#define PIPELINE_MAX_TASKS 10000

struct pipeline_task {
	char *name;
	int line;	  /* where the task's name stands */
	struct strv argv; /* the command: sh -c STRING, or the list */
	/* Instead of a command: a source task, `wsbox import` of this path
	 * (relative to the pipeline file's directory); no needs, no options
	 * (docs/run.md "Sources"). */
	char *import;
	struct strv needs; /* as written */
	int *need_line;	   /* the line of each */
	size_t *need_idx;  /* needs resolved to indices into tasks[] */
	struct strv opts;  /* exec options: "--save", "out", "--ro", ... */
	struct strv
	    extra;   /* cache-key-extra K=V, passed as --cache-key-extra */
	char *mutex; /* NULL when none (also in opts) */
	/* Digest of the whole definition: `--restart` keeps a task only when
	 * it is the one its last success ran. */
	char digest[DIGEST_STRLEN];
};

struct pipeline {
	char *file; /* as named on the command line, for messages */
	struct pipeline_task *tasks; /* in file order */
	size_t n;
};

/* Read and validate the file at `path`. */
int pipeline_load(const char *path, struct pipeline *p,
		  struct wsbox_error *err);
/* The same from memory; `file` names it in messages. */
int pipeline_parse(const char *file, const char *text, size_t len,
		   struct pipeline *p, struct wsbox_error *err);
void pipeline_free(struct pipeline *p);
static inline void pipeline_freep(struct pipeline *p)
{
	pipeline_free(p);
}

#endif
