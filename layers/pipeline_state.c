/* layers/pipeline_state.c: the per-task definition digests of a run (see
 * pipeline_state.h); the layout comes from store_run_rel. */
#include "layers/pipeline_state.h"

#include <errno.h>
#include <fcntl.h>
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
	return atomic_write_at(s->fd, rel, digest, strlen(digest), 0600, err);
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
