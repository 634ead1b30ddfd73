/* sandbox/cli/view: what `wsbox run` shows (docs/run.md "What it shows").
 * On a terminal a live view redrawn at most ~10 times a second: finished
 * tasks as permanent lines (`✓ a (1.2s)`, `✗ b (exit 3)`, `· c (cached)`,
 * `- d (skipped)`), below them a root line `pos/total tasks (elapsed)` and
 * one line per running task; task output is kept (the last lines of each
 * task) and replayed for failed tasks only. Otherwise plain: every output
 * line as `[task] line`, written whole, never interleaved within a line.
 * Both end with the tally. Times are seconds on one monotonic clock, given
 * by the caller. */
#ifndef WSBOX_SANDBOX_VIEW_H
#define WSBOX_SANDBOX_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/cli/schedule.h"

#define VIEW_LINE_MAX 4096 /* longer output lines are split */
#define VIEW_TAIL 20	   /* lines kept per task for the failure replay */

struct view_task {
	const char *name; /* borrowed */
	enum sched_state state;
	double started, secs;
	int exit_status;
	bool reported;		     /* its final line is out */
	char part[2][VIEW_LINE_MAX]; /* partial line of stdout, stderr */
	size_t part_len[2];
	char *tail[VIEW_TAIL]; /* ring of the last lines (terminal mode) */
	size_t tail_next;
	size_t lines; /* lines seen in all */
};

struct view {
	bool tty;
	int out, err;
	struct view_task *t;
	size_t n, done;
	double t0, last_draw;
	bool dirty;
	bool interrupted; /* failures from here on are the interrupt's */
	int drawn;	  /* lines of the live region on screen */
	int cols, rows;
	char *above; /* finished lines not yet drawn (terminal mode) */
	size_t above_len;
	const char *run, *store; /* for the `wsbox logs` hint; store may be
				  * NULL */
};

/* `tty`: the live view, else plain output; `names[i]` is task i. */
void view_init(struct view *v, bool tty, const char *const *names, size_t n,
	       double now);
void view_free(struct view *v);

/* Output of task i on stream 1 or 2. */
void view_output(struct view *v, size_t i, int stream, const char *buf,
		 size_t len);
void view_started(struct view *v, size_t i, double now);
/* Task i reached its final state (succeeded, cached, kept, failed,
 * skipped); `exit_status` is the exec's for a failure. Once per task. */
void view_finished(struct view *v, size_t i, enum sched_state st,
		   int exit_status, double now);
/* Redraw the live view if it is due (`force`: now). */
void view_tick(struct view *v, double now, bool force);
/* The end: the last frame, the replay of failed tasks, the tally. */
void view_close(struct view *v, struct sched_tally y, double now,
		bool interrupted);

#endif
