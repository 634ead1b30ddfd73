/* sandbox/cli/exec_capture.c: step 8 of exec (docs/exec.md "Lifecycle"):
 * the sandbox's outcome judged into the record, and on success the upper
 * dir captured (docs/capture.md), in place, by copy from the size-limited
 * tmpfs, or from a copy or fuse-overlayfs workspace. */
#include <errno.h>
#include <fcntl.h>
#include <time.h>

#include "layers/layer.h"
#include "sandbox/cli/exec_ctx.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* --timeout covers the task and its capture (docs/capture.md "When"):
 * what the sandbox left of it, from now, on the monotonic clock. `attempt
 * commit` ran no sandbox (--timeout holds for each step alone): its
 * capture gets a whole --timeout. */
static double capture_deadline_of(const struct exec_ctx *c)
{
	if (!c->o.timeout_sec)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	double left = (double)c->o.timeout_sec;
	if (c->ran)
		left -= c->res.wall_sec;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 +
	       (left > 0 ? left : 0);
}

/* Capture the upper dir of a finished sandbox (no lock held: this is the
 * part that scales with what the task wrote). */
static int capture_upper(struct exec_ctx *c, struct wsbox_error *err)
{
	_cleanup_close_ int upper =
	    openat(c->att.dirfd, "upper",
		   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (upper < 0)
		return wsbox_fail(err, errno, "open upper dir");
	/* capture_tree leaves the root dir's owner alone: in root mode it is
	 * still the task's mapped id. */
	if (c->root && fchown(upper, c->layer_uid, c->layer_gid) < 0)
		return wsbox_fail(err, errno, "chown upper dir");
	const char *const *save = NULL;
	if (c->o.save.n)
		save = (const char *const *)c->o.save.v;
	_cleanup_free_ const struct manifest **stack =
	    xcalloc(c->dag.n + 1, sizeof *stack);
	size_t n_stack = 0;
	if (c->strat.s == WS_FUSE_OVERLAYFS) {
		int r = stack_manifests(c, stack, &n_stack, err);
		if (r < 0)
			return r;
	}
	struct capture_options copts = {
	    .max_bytes = c->o.max_layer_size,
	    .deadline = capture_deadline_of(c),
	    .save = save,
	    .owner_uid = c->layer_uid,
	    .owner_gid = c->layer_gid,
	    /* Write bits stay: lowers show their modes in the next
	     * workspace, and a task must be able to write into a
	     * directory its parent created. The store is private. */
	    .make_readonly = false,
	    .fuse_upper = c->strat.s == WS_FUSE_OVERLAYFS,
	    .lowers = stack,
	    .n_lowers = n_stack,
	};
	/* --strategy copy: what the task changed moves from the workspace
	 * into the upper dir first, as overlay would have left it. */
	if (c->strat.s == WS_COPY) {
		/* Through the attempt's dirfd like `upper`: a rename between
		 * them needs the same mount, and root mode's private mount
		 * namespace has its own copy of the store's. */
		_cleanup_close_ int ws =
		    openat(c->att.dirfd, "workspace",
			   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (ws < 0)
			return wsbox_fail(err, errno, "open `%s`", c->att.copy);
		int r = copy_ws_diff(&c->copy, ws, upper, err);
		if (r < 0)
			return r == -ENOSPC ? layer_fail_nospace(&c->store, err)
					    : r;
	}
	struct capture_stats st = {0};
	/* --max-layer-size: the tree is on the task's tmpfs and is copied
	 * into the upper dir as it is captured (docs/capture.md "Size
	 * limit"); the tmpfs goes when its fd does. */
	_cleanup_close_ int fs = steal_fd(&c->res.upper_fs);
	int r = fs >= 0 ? capture_tree_copy(fs, upper, &copts, &c->captured,
					    &st, err)
			: capture_tree(upper, &copts, &c->captured, &st, err);
	c->rec.bytes = st.bytes;
	c->rec.files = st.files;
	if (r == -ENOSPC)
		return layer_fail_nospace(&c->store, err);
	/* Reported as the task's own timeout is: exit 124. */
	if (r == -ETIMEDOUT) {
		wsbox_fail_status(err, WSBOX_EXIT_TIMEOUT, 0,
				  "task %s timed out after %u s (during "
				  "capture)",
				  c->task, c->o.timeout_sec);
		return -ETIMEDOUT;
	}
	if (r < 0) {
		wsbox_error_prefix(err, "capture");
		return r;
	}
	c->have_capture = true;
	return 0;
}

/* Step 8: how the task ended, into the record, and the upper dir of a
 * task that succeeded captured. Returns the exit status; a timeout or a
 * failed capture also leaves its message in err, but the result is still
 * published. */
int judge_and_capture(struct exec_ctx *c, struct wsbox_error *err)
{
	const struct sandbox_result *res = &c->res;
	struct task_record *rec = &c->rec;
	rec->wall_sec = res->wall_sec;
	rec->cpu_sec = res->cpu_sec;
	rec->max_rss_kb = res->max_rss_kb;
	rec->exit_code = res->signaled ? 0 : res->code;
	rec->signal = res->signaled ? res->code : 0;
	int status = sandbox_exit_status(res);
	if (res->timed_out) {
		rec->status = "timeout";
		wsbox_fail_status(err, WSBOX_EXIT_TIMEOUT, 0,
				  "task %s timed out after %u s", c->task,
				  c->o.timeout_sec);
	} else if (status != 0) {
		rec->status = "failed";
	} else if (!c->o.ro) {
		int r = capture_upper(c, err);
		rec->status = r == 0		? "succeeded"
			      : r == -ETIMEDOUT ? "timeout"
						: "failed";
		if (r < 0)
			status = r == -ETIMEDOUT ? WSBOX_EXIT_TIMEOUT
						 : WSBOX_EXIT_FAILURE;
	} else {
		rec->status = "succeeded";
	}
	return status;
}
