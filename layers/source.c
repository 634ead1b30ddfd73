/* layers/source.c: `wsbox import` as a store operation (see source.h):
 * build the layer with layer_build, then record the task with the same
 * attempt sequence and compare-and-swap as exec (layers/result.h). */
#include "layers/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layers/capture.h"
#include "layers/import.h"
#include "layers/layer.h"
#include "layers/lock.h"
#include "layers/record.h"
#include "layers/result.h"
#include "layers/tree_copy.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

struct fill {
	const struct source_import *in;
	bool is_dir;
	struct source_result *out;
};

static int fill_source(int tree, void *ctx, struct wsbox_error *err)
{
	struct fill *f = ctx;
	if (!f->is_dir) {
		struct import_stats st = {0};
		int r = import_extract(tree, f->in->path, -1, IMPORT_ROOTFS,
				       &st, err);
		f->out->bytes = st.bytes;
		f->out->entries = st.entries;
		f->out->skipped = st.skipped;
		f->out->stripped = st.stripped;
		return r;
	}
	_cleanup_close_ int src =
	    open(f->in->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0)
		return wsbox_fail(err, errno, "open `%s`", f->in->path);
	struct tree_copy_stats st = {0};
	int r = tree_copy(src, tree, f->in->path, import_budget(), &st, err);
	f->out->bytes = st.bytes;
	f->out->entries = st.entries;
	return r;
}

static double wall_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The task's record: a succeeded task without parents whose layer is the
 * import. Written under the task's lock, after the CAS check. */
static int record_source(struct store *s, const struct source_import *in,
			 uint64_t seq, const struct source_result *out,
			 double started, struct wsbox_error *err)
{
	int lock = result_lock(s, in->run, in->task, seq, err);
	if (lock < 0)
		return lock;
	struct task_record rec = {
	    .run = (char *)in->run,
	    .task = (char *)in->task,
	    .attempt = out->attempt,
	    .seq = seq,
	    .layer = (char *)out->digest,
	    .status = "succeeded",
	    .started = started,
	    .wall_sec = wall_clock() - started,
	    .bytes = out->bytes,
	    .files = out->entries,
	};
	int r = record_write(s, &rec, err);
	store_unlock(&lock);
	return r;
}

int source_import(struct store *s, const struct source_import *in,
		  struct source_result *out, struct wsbox_error *err)
{
	double started = wall_clock();
	struct stat st;
	if (stat(in->path, &st) < 0)
		return wsbox_fail(err, errno, "import `%s`", in->path);
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return wsbox_fail(err, 0,
				  "import `%s`: neither a directory nor an "
				  "archive",
				  in->path);
	struct attempt id = {.dirfd = -1};
	attempt_new_id(&id);
	out->attempt = xstrdup(id.id);
	attempt_free(&id);

	/* Shared gc lock from the layer's publication to the record that
	 * names it: gc may not take the layer in between. */
	_cleanup_(store_unlock) int gc = store_lock(s, LOCK_GC, false, err);
	if (gc < 0)
		return gc;
	uint64_t seq;
	int r = result_begin(s, in->run, in->task, &seq, err);
	if (r < 0)
		return r;
	struct fill f = {.in = in, .is_dir = S_ISDIR(st.st_mode), .out = out};
	struct capture_options copts = {
	    .max_bytes = import_budget(),
	    .owner_uid = in->owner_uid,
	    .owner_gid = in->owner_gid,
	    .make_readonly = false,
	};
	r = layer_build(s, fill_source, &f, &copts, out->digest, err);
	if (r < 0)
		return r;
	return record_source(s, in, seq, out, started, err);
}

void source_result_free(struct source_result *r)
{
	free(r->attempt);
	r->attempt = NULL;
}
