/* Unit tests for sandbox/cli/schedule.c: the canonical order (topological,
 * ties by name), the job cap, mutexes, failures skipping their
 * descendants, --keep-going, stopping, and --restart's keep rule. No
 * processes: states are driven by hand. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/cli/schedule.h"
#include "sandbox/util/fs.h"
#include "tests/unit/fixture.h"

#define MAX_TASKS 16

/* A graph built from lines "name need need...", in the given order. */
struct graph {
	struct sched_task t[MAX_TASKS];
	size_t needs[MAX_TASKS][MAX_TASKS];
	size_t n;
	struct schedule s;
};

static size_t index_of(const struct graph *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(g->t[i].name, name))
			return i;
	fail_msg("no task %s", name);
	return 0;
}

/* graph(g, jobs, keep_going, "a", "b a", "c a", "d b c", NULL): task b
 * needs a, and so on. Needs must be declared before use. */
static void graph(struct graph *g, unsigned jobs, int keep_going, ...)
{
	memset(g, 0, sizeof *g);
	va_list ap;
	va_start(ap, keep_going);
	for (const char *line; (line = va_arg(ap, const char *));) {
		char *copy = xstrdup(line), *save = NULL;
		struct sched_task *t = &g->t[g->n];
		t->name = xstrdup(strtok_r(copy, " ", &save));
		t->needs = g->needs[g->n];
		g->n++;
		for (char *w; (w = strtok_r(NULL, " ", &save));)
			g->needs[g->n - 1][t->n_needs++] = index_of(g, w);
		free(copy);
	}
	va_end(ap);
	assert_int_equal(schedule_init(&g->s, g->t, g->n, jobs, keep_going), 0);
}

static void graph_free(struct graph *g)
{
	schedule_free(&g->s);
	for (size_t i = 0; i < g->n; i++)
		free((char *)g->t[i].name);
}

/* The name of the next task to start, or "-" when none may. */
static const char *next(struct graph *g)
{
	ssize_t i = schedule_next(&g->s);
	return i < 0 ? "-" : g->t[i].name;
}

static void finish(struct graph *g, const char *name, enum sched_state st)
{
	schedule_finish(&g->s, index_of(g, name), st);
}

static enum sched_state state(struct graph *g, const char *name)
{
	return g->t[index_of(g, name)].state;
}

static void test_schedule_order_is_topological_with_name_ties(void **st)
{
	(void)st;
	struct graph g;
	graph(&g, 1, false, "zeta", "alpha zeta", "beta", "gamma alpha beta",
	      "delta beta", NULL);
	const char *want[] = {"beta", "delta", "zeta", "alpha", "gamma"};
	for (size_t k = 0; k < g.n; k++)
		assert_string_equal(g.t[g.s.order[k]].name, want[k]);
	graph_free(&g);
}

static void test_schedule_refuses_a_cycle(void **st)
{
	(void)st;
	struct sched_task t[2] = {{.name = "a"}, {.name = "b"}};
	size_t na = 1, nb = 0;
	t[0].needs = &na;
	t[0].n_needs = 1;
	t[1].needs = &nb;
	t[1].n_needs = 1;
	struct schedule s;
	assert_int_equal(schedule_init(&s, t, 2, 1, false), -ELOOP);
}

static void test_schedule_diamond_runs_middle_tasks_together(void **st)
{
	(void)st;
	struct graph g;
	graph(&g, 2, false, "top", "left top", "right top", "bottom left right",
	      NULL);
	assert_string_equal(next(&g), "top");
	assert_string_equal(next(&g), "-"); /* needs unmet */
	finish(&g, "top", SCHED_SUCCEEDED);
	assert_string_equal(next(&g), "left");
	assert_string_equal(next(&g), "right");
	assert_string_equal(next(&g), "-");
	finish(&g, "left", SCHED_CACHED);
	assert_string_equal(next(&g), "-"); /* right still runs */
	finish(&g, "right", SCHED_SUCCEEDED);
	assert_string_equal(next(&g), "bottom");
	finish(&g, "bottom", SCHED_SUCCEEDED);
	assert_true(schedule_done(&g.s));
	struct sched_tally y = schedule_tally(&g.s);
	assert_int_equal(y.ran, 3);
	assert_int_equal(y.cached, 1);
	assert_int_equal(y.failed + y.skipped, 0);
	graph_free(&g);
}

static void test_schedule_job_cap_holds(void **st)
{
	(void)st;
	struct graph g;
	graph(&g, 2, false, "a", "b", "c", "d", NULL);
	assert_string_equal(next(&g), "a");
	assert_string_equal(next(&g), "b");
	assert_string_equal(next(&g), "-");
	assert_int_equal(g.s.running, 2);
	finish(&g, "b", SCHED_SUCCEEDED);
	assert_string_equal(next(&g), "c");
	assert_string_equal(next(&g), "-");
	graph_free(&g);
}

static void test_schedule_mutex_pair_never_overlaps(void **st)
{
	(void)st;
	struct graph g;
	graph(&g, 4, false, "a", "b", "c", NULL);
	g.t[0].mutex = "db";
	g.t[1].mutex = "db";
	assert_string_equal(next(&g), "a");
	/* b shares a's mutex: c, later in order, starts instead. */
	assert_string_equal(next(&g), "c");
	assert_string_equal(next(&g), "-");
	finish(&g, "a", SCHED_SUCCEEDED);
	assert_string_equal(next(&g), "b");
	graph_free(&g);
}

static void test_schedule_failure_skips_descendants_and_stops(void **st)
{
	(void)st;
	struct graph g;
	graph(&g, 2, false, "a", "b a", "c b", "x", "y", NULL);
	assert_string_equal(next(&g), "a");
	assert_string_equal(next(&g), "x");
	finish(&g, "a", SCHED_FAILED);
	assert_int_equal(state(&g, "b"), SCHED_SKIPPED);
	assert_int_equal(state(&g, "c"), SCHED_SKIPPED);
	/* Without keep-going nothing new starts; x still runs. */
	assert_string_equal(next(&g), "-");
	assert_false(schedule_done(&g.s));
	finish(&g, "x", SCHED_SUCCEEDED);
	assert_true(schedule_done(&g.s));
	assert_int_equal(state(&g, "y"), SCHED_SKIPPED);
	struct sched_tally y = schedule_tally(&g.s);
	assert_int_equal(y.ran, 1);
	assert_int_equal(y.failed, 1);
	assert_int_equal(y.skipped, 3);
	graph_free(&g);
}

static void test_schedule_keep_going_runs_independent_tasks(void **st)
{
	(void)st;
	struct graph g;
	graph(&g, 1, true, "a", "b a", "x", "y x", NULL);
	assert_string_equal(next(&g), "a");
	finish(&g, "a", SCHED_FAILED);
	assert_int_equal(state(&g, "b"), SCHED_SKIPPED);
	assert_string_equal(next(&g), "x");
	finish(&g, "x", SCHED_SUCCEEDED);
	assert_string_equal(next(&g), "y");
	finish(&g, "y", SCHED_SUCCEEDED);
	assert_true(schedule_done(&g.s));
	struct sched_tally y = schedule_tally(&g.s);
	assert_int_equal(y.ran, 2);
	assert_int_equal(y.failed, 1);
	assert_int_equal(y.skipped, 1);
	graph_free(&g);
}

static void test_schedule_stop_starts_nothing_more(void **st)
{
	(void)st;
	struct graph g;
	graph(&g, 1, true, "a", "b", NULL);
	assert_string_equal(next(&g), "a");
	schedule_stop(&g.s);
	finish(&g, "a", SCHED_FAILED);
	assert_string_equal(next(&g), "-");
	assert_true(schedule_done(&g.s));
	assert_int_equal(state(&g, "b"), SCHED_SKIPPED);
	graph_free(&g);
}

static void test_schedule_keep_needs_kept_parents(void **st)
{
	(void)st;
	struct graph g;
	/* b failed last time; c below it succeeded but must re-run, and so
	 * must d, whose definition changed (not reusable). */
	graph(&g, 4, false, "a", "b a", "c b", "d a", "e a", NULL);
	bool reusable[] = {true, false, true, false, true};
	schedule_keep(&g.s, reusable);
	assert_int_equal(state(&g, "a"), SCHED_KEPT);
	assert_int_equal(state(&g, "e"), SCHED_KEPT);
	assert_int_equal(state(&g, "b"), SCHED_WAITING);
	assert_int_equal(state(&g, "c"), SCHED_WAITING);
	assert_int_equal(state(&g, "d"), SCHED_WAITING);
	assert_string_equal(next(&g), "b");
	assert_string_equal(next(&g), "d");
	assert_string_equal(next(&g), "-");
	graph_free(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_schedule_order_is_topological_with_name_ties),
	    cmocka_unit_test(test_schedule_refuses_a_cycle),
	    cmocka_unit_test(test_schedule_diamond_runs_middle_tasks_together),
	    cmocka_unit_test(test_schedule_job_cap_holds),
	    cmocka_unit_test(test_schedule_mutex_pair_never_overlaps),
	    cmocka_unit_test(test_schedule_failure_skips_descendants_and_stops),
	    cmocka_unit_test(test_schedule_keep_going_runs_independent_tasks),
	    cmocka_unit_test(test_schedule_stop_starts_nothing_more),
	    cmocka_unit_test(test_schedule_keep_needs_kept_parents),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
