/* layers/pipeline_state.c: the per-task definition digests of a run (see
 * pipeline_state.h); the layout comes from store_run_rel. */
#include "layers/pipeline_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

#define PIPELINE_DIR "pipeline"

int pipeline_state_write(struct store *s, const char *run, const char *task,
			 const char *digest, struct wsbox_error *err)
{
	_cleanup_free_ char *dir = store_run_path(s, run, PIPELINE_DIR);
	int r = mkdir_p(dir, 0700, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *rel = store_run_rel(run, PIPELINE_DIR, task);
	_cleanup_free_ char *tmp = store_run_rel(run, PIPELINE_DIR, NULL);
	char *full = xasprintf("%s/.%s.tmp.%d", tmp, task, (int)getpid());
	free(tmp);
	tmp = full;
	/* Written and renamed, not fsync'ed: losing the digest to a crash
	 * only re-runs the task on --restart; two fsyncs per task would cost
	 * more than a cache hit. */
	(void)unlinkat(s->fd, tmp, 0);
	r = write_new_file_at(s->fd, tmp, digest, strlen(digest), 0600, err);
	if (r < 0)
		return r;
	if (renameat(s->fd, tmp, s->fd, rel) < 0) {
		r = wsbox_fail(err, errno, "rename `%s`", rel);
		(void)unlinkat(s->fd, tmp, 0);
		return r;
	}
	return 0;
}

int pipeline_state_read(const struct store *s, const char *run,
			const char *task, char out[DIGEST_STRLEN],
			struct wsbox_error *err)
{
	_cleanup_free_ char *rel = store_run_rel(run, PIPELINE_DIR, task);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (faccessat(s->fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return -ENOENT;
	int r = read_file_at(s->fd, rel, DIGEST_STRLEN - 1, &text, &len, err);
	if (r < 0)
		return r;
	memcpy(out, text, len);
	out[len] = '\0';
	return 0;
}

int pipeline_state_clear(struct store *s, const char *run, const char *task,
			 struct wsbox_error *err)
{
	_cleanup_free_ char *rel = store_run_rel(run, PIPELINE_DIR, task);
	if (unlinkat(s->fd, rel, 0) < 0 && errno != ENOENT)
		return wsbox_fail(err, errno, "remove `%s`", rel);
	return 0;
}
