/* sandbox/cli/schedule: the scheduler of `wsbox run`, pure logic over task
 * states (no processes, no clock), so every rule is unit-tested: a task
 * starts when all its needs succeeded, at most `jobs` at once, ties in
 * canonical order (topological, then name), never two of one mutex at
 * once; a failure skips its descendants and, without keep-going, stops
 * new starts. */
#ifndef WSBOX_SANDBOX_SCHEDULE_H
#define WSBOX_SANDBOX_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum sched_state {
	SCHED_WAITING,
	SCHED_RUNNING,
	SCHED_SUCCEEDED, /* ran and succeeded */
	SCHED_CACHED,	 /* succeeded from the cache */
	SCHED_KEPT,	 /* --restart: its earlier success stands */
	SCHED_FAILED,
	SCHED_SKIPPED, /* a need failed, or the run stopped first */
};

struct sched_task {
	const char *name;
	const size_t *needs; /* indices into the task array */
	size_t n_needs;
	const char *mutex; /* NULL: none */
	enum sched_state state;
};

struct schedule {
	struct sched_task *t; /* borrowed */
	size_t n;
	size_t *order; /* canonical order: topological, ties by name */
	unsigned jobs;
	bool keep_going;
	size_t running;
	bool stopping; /* a failure without keep-going, or interrupted */
};

struct sched_tally {
	size_t ran, cached, failed, skipped; /* cached counts kept tasks */
};

/* Order the tasks; -ELOOP when the needs have a cycle (pipeline.c refuses
 * those with the line first). */
int schedule_init(struct schedule *s, struct sched_task *t, size_t n,
		  unsigned jobs, bool keep_going);
void schedule_free(struct schedule *s);

/* --restart: task i may keep its earlier success when reusable[i]; it is
 * kept only if every need is kept too (a re-run parent re-runs its
 * descendants). */
void schedule_keep(struct schedule *s, const bool *reusable);

/* The next task to start now (marked running), or -1: none is ready, the
 * job cap is reached, or the run is stopping. */
ssize_t schedule_next(struct schedule *s);

/* A running task ended with `outcome` (SUCCEEDED, CACHED or FAILED). A
 * failure skips every descendant; without keep-going it stops the run. */
void schedule_finish(struct schedule *s, size_t i, enum sched_state outcome);

/* Start nothing more (Ctrl-C); running tasks still finish. */
void schedule_stop(struct schedule *s);

/* Nothing runs and nothing will start. Tasks that never could start are
 * marked skipped. */
bool schedule_done(struct schedule *s);

struct sched_tally schedule_tally(const struct schedule *s);

#endif
