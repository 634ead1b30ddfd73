/* sandbox/cli/schedule.c: the scheduler of `wsbox run` (see schedule.h).
 * The canonical order is Kahn's algorithm with a min-heap on name rank, so
 * it is topological with ties by name and costs O(E + N log N). */
#include "sandbox/cli/schedule.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

struct heap {
	size_t *v, n;
	const size_t *rank; /* smaller first */
};

static void heap_swap(struct heap *h, size_t a, size_t b)
{
	size_t t = h->v[a];
	h->v[a] = h->v[b];
	h->v[b] = t;
}

static void heap_push(struct heap *h, size_t x)
{
	size_t i = h->n++;
	h->v[i] = x;
	while (i && h->rank[h->v[(i - 1) / 2]] > h->rank[h->v[i]]) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static size_t heap_pop(struct heap *h)
{
	size_t top = h->v[0];
	h->v[0] = h->v[--h->n];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && h->rank[h->v[l]] < h->rank[h->v[m]])
			m = l;
		if (r < h->n && h->rank[h->v[r]] < h->rank[h->v[m]])
			m = r;
		if (m == i)
			break;
		heap_swap(h, i, m);
		i = m;
	}
	return top;
}

static int by_name(const void *a, const void *b, void *arg)
{
	const struct sched_task *t = arg;
	return strcmp(t[*(const size_t *)a].name, t[*(const size_t *)b].name);
}

/* rank[i]: position of task i in name order. */
static size_t *name_ranks(const struct sched_task *t, size_t n)
{
	_cleanup_free_ size_t *byname = xcalloc(n + 1, sizeof *byname);
	size_t *rank = xcalloc(n + 1, sizeof *rank);
	for (size_t i = 0; i < n; i++)
		byname[i] = i;
	qsort_r(byname, n, sizeof *byname, by_name, (void *)t);
	for (size_t i = 0; i < n; i++)
		rank[byname[i]] = i;
	return rank;
}

int schedule_init(struct schedule *s, struct sched_task *t, size_t n,
		  unsigned jobs, bool keep_going)
{
	memset(s, 0, sizeof *s);
	s->t = t;
	s->n = n;
	s->jobs = jobs ? jobs : 1;
	s->keep_going = keep_going;
	s->order = xcalloc(n + 1, sizeof *s->order);

	_cleanup_free_ size_t *rank = name_ranks(t, n);
	_cleanup_free_ size_t *pending = xcalloc(n + 1, sizeof *pending);
	/* Children as one flat array: kids[first[i] .. first[i + 1]). */
	_cleanup_free_ size_t *first = xcalloc(n + 2, sizeof *first);
	size_t edges = 0;
	for (size_t i = 0; i < n; i++) {
		pending[i] = t[i].n_needs;
		edges += t[i].n_needs;
		for (size_t j = 0; j < t[i].n_needs; j++)
			first[t[i].needs[j] + 1]++;
	}
	for (size_t i = 0; i < n; i++)
		first[i + 1] += first[i];
	_cleanup_free_ size_t *kids = xcalloc(edges + 1, sizeof *kids);
	_cleanup_free_ size_t *fill = xcalloc(n + 1, sizeof *fill);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < t[i].n_needs; j++) {
			size_t p = t[i].needs[j];
			kids[first[p] + fill[p]++] = i;
		}

	_cleanup_free_ size_t *hv = xcalloc(n + 1, sizeof *hv);
	struct heap h = {.v = hv, .rank = rank};
	for (size_t i = 0; i < n; i++)
		if (!pending[i])
			heap_push(&h, i);
	size_t placed = 0;
	while (h.n) {
		size_t i = heap_pop(&h);
		s->order[placed++] = i;
		for (size_t k = first[i]; k < first[i + 1]; k++)
			if (!--pending[kids[k]])
				heap_push(&h, kids[k]);
	}
	if (placed != n) {
		schedule_free(s);
		return -ELOOP;
	}
	return 0;
}

void schedule_free(struct schedule *s)
{
	free(s->order);
	s->order = NULL;
}

static bool succeeded(enum sched_state st)
{
	return st == SCHED_SUCCEEDED || st == SCHED_CACHED || st == SCHED_KEPT;
}

void schedule_keep(struct schedule *s, const bool *reusable)
{
	/* In topological order every need is decided before its child. */
	for (size_t k = 0; k < s->n; k++) {
		struct sched_task *t = &s->t[s->order[k]];
		bool keep = reusable[s->order[k]] && t->state == SCHED_WAITING;
		for (size_t j = 0; keep && j < t->n_needs; j++)
			keep = s->t[t->needs[j]].state == SCHED_KEPT;
		if (keep)
			t->state = SCHED_KEPT;
	}
}

static bool mutex_busy(const struct schedule *s, const char *mutex)
{
	if (!mutex)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].state == SCHED_RUNNING && s->t[i].mutex &&
		    !strcmp(s->t[i].mutex, mutex))
			return true;
	return false;
}

static bool ready(const struct schedule *s, const struct sched_task *t)
{
	if (t->state != SCHED_WAITING)
		return false;
	for (size_t j = 0; j < t->n_needs; j++)
		if (!succeeded(s->t[t->needs[j]].state))
			return false;
	return !mutex_busy(s, t->mutex);
}

ssize_t schedule_next(struct schedule *s)
{
	if (s->stopping || s->running >= s->jobs)
		return -1;
	for (size_t k = 0; k < s->n; k++) {
		size_t i = s->order[k];
		if (!ready(s, &s->t[i]))
			continue;
		s->t[i].state = SCHED_RUNNING;
		s->running++;
		return (ssize_t)i;
	}
	return -1;
}

/* Every waiting task with a failed or skipped need is skipped; one pass in
 * topological order reaches all descendants. */
static void skip_descendants(struct schedule *s)
{
	for (size_t k = 0; k < s->n; k++) {
		struct sched_task *t = &s->t[s->order[k]];
		if (t->state != SCHED_WAITING)
			continue;
		for (size_t j = 0; j < t->n_needs; j++) {
			enum sched_state p = s->t[t->needs[j]].state;
			if (p == SCHED_FAILED || p == SCHED_SKIPPED) {
				t->state = SCHED_SKIPPED;
				break;
			}
		}
	}
}

void schedule_finish(struct schedule *s, size_t i, enum sched_state outcome)
{
	if (s->t[i].state != SCHED_RUNNING)
		return;
	s->t[i].state = outcome;
	s->running--;
	if (outcome != SCHED_FAILED)
		return;
	skip_descendants(s);
	if (!s->keep_going)
		s->stopping = true;
}

void schedule_stop(struct schedule *s)
{
	s->stopping = true;
}

bool schedule_done(struct schedule *s)
{
	if (s->running)
		return false;
	bool waiting = false;
	for (size_t i = 0; i < s->n; i++)
		waiting |= s->t[i].state == SCHED_WAITING;
	/* Not stopping, nothing running: the first waiting task in order has
	 * every need succeeded (failures skipped their descendants), so it
	 * can start. */
	if (waiting && !s->stopping)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].state == SCHED_WAITING)
			s->t[i].state = SCHED_SKIPPED;
	return true;
}

struct sched_tally schedule_tally(const struct schedule *s)
{
	struct sched_tally y = {0};
	for (size_t i = 0; i < s->n; i++) {
		switch (s->t[i].state) {
		case SCHED_SUCCEEDED:
			y.ran++;
			break;
		case SCHED_CACHED:
		case SCHED_KEPT:
			y.cached++;
			break;
		case SCHED_FAILED:
			y.failed++;
			break;
		case SCHED_SKIPPED:
		case SCHED_WAITING:
			y.skipped++;
			break;
		case SCHED_RUNNING:
			break;
		}
	}
	return y;
}
