/* layers/dag.c: ancestor collection, deterministic order and conflict
 * detection (see dag.h). The ancestor relation is a dense n*n bit matrix
 * (and its transpose, the descendants): O(1) to query, and rows are OR-ed
 * 64 nodes a word, so 10,000 tasks take 12.5 MB and no byte loops. */
#include "layers/dag.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct record_node *)a)->task,
		      ((const struct record_node *)b)->task);
}

static ssize_t find_node(const struct dag *d, const char *task)
{
	size_t lo = 0, hi = d->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(d->nodes[mid].task, task);
		if (!c)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void dag_free(struct dag *d)
{
	for (size_t i = 0; i < d->n; i++)
		record_node_free(&d->nodes[i]);
	free(d->nodes);
	free(d->order);
	free(d->anc);
	free(d->desc);
	free(d->layered);
	memset(d, 0, sizeof *d);
}

static void node_copy(struct record_node *dst, const struct record_node *src)
{
	dst->task = xstrdup(src->task);
	dst->layer = src->layer ? xstrdup(src->layer) : NULL;
	dst->n_parents = src->n_parents;
	dst->parents = xcalloc(src->n_parents + 1, sizeof *dst->parents);
	for (size_t i = 0; i < src->n_parents; i++)
		dst->parents[i] = xstrdup(src->parents[i]);
}

static bool bit_test(const uint64_t *row, size_t j)
{
	return row[j / 64] >> (j % 64) & 1;
}

static void bit_set(uint64_t *row, size_t j)
{
	row[j / 64] |= UINT64_C(1) << (j % 64);
}

static void row_or(uint64_t *dst, const uint64_t *src, size_t words)
{
	for (size_t w = 0; w < words; w++)
		dst[w] |= src[w];
}

/* The ready nodes of Kahn's algorithm, smallest index (= smallest name:
 * nodes are sorted) on top: O(log n) a pick instead of a scan of all. */
struct ready_heap {
	size_t *v;
	size_t n;
};

static void heap_push(struct ready_heap *h, size_t x)
{
	size_t i = h->n++;
	while (i > 0 && h->v[(i - 1) / 2] > x) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

static size_t heap_pop(struct ready_heap *h)
{
	size_t top = h->v[0], x = h->v[--h->n], i = 0;
	for (size_t c; (c = 2 * i + 1) < h->n; i = c) {
		if (c + 1 < h->n && h->v[c + 1] < h->v[c])
			c++;
		if (x <= h->v[c])
			break;
		h->v[i] = h->v[c];
	}
	if (h->n)
		h->v[i] = x;
	return top;
}

/* Parent edges as indices (pidx[pstart[i]..pstart[i+1]) are i's parents)
 * and their reverse (cidx, cstart: i's children), so the loops below touch
 * each edge once without string compares. */
struct edges {
	size_t *pstart, *pidx, *cstart, *cidx;
};

static void edges_free(struct edges *e)
{
	free(e->pstart);
	free(e->pidx);
	free(e->cstart);
	free(e->cidx);
}

static int edges_build(const struct dag *d, struct edges *e,
		       struct wsbox_error *err)
{
	size_t n = d->n;
	e->pstart = xcalloc(n + 2, sizeof *e->pstart);
	for (size_t i = 0; i < n; i++)
		e->pstart[i + 1] = e->pstart[i] + d->nodes[i].n_parents;
	e->pidx = xcalloc(e->pstart[n] + 1, sizeof *e->pidx);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < d->nodes[i].n_parents; k++) {
			ssize_t p = find_node(d, d->nodes[i].parents[k]);
			if (p < 0)
				return wsbox_fail_logic(
				    err, EINVAL, "task %s: parent %s unknown",
				    d->nodes[i].task, d->nodes[i].parents[k]);
			e->pidx[e->pstart[i] + k] = (size_t)p;
		}
	e->cstart = xcalloc(n + 2, sizeof *e->cstart);
	for (size_t k = 0; k < e->pstart[n]; k++)
		e->cstart[e->pidx[k] + 1]++;
	for (size_t i = 0; i < n; i++)
		e->cstart[i + 1] += e->cstart[i];
	_cleanup_free_ size_t *fill = xcalloc(n + 1, sizeof *fill);
	e->cidx = xcalloc(e->pstart[n] + 1, sizeof *e->cidx);
	for (size_t i = 0; i < n; i++)
		for (size_t k = e->pstart[i]; k < e->pstart[i + 1]; k++) {
			size_t p = e->pidx[k];
			e->cidx[e->cstart[p] + fill[p]++] = i;
		}
	return 0;
}

/* Kahn's algorithm; among ready nodes always take the smallest name. A
 * node's ancestors are final when it is picked: its parents and theirs. */
static int order_and_ancestors(struct dag *d, const struct edges *e,
			       struct wsbox_error *err)
{
	size_t n = d->n, words = d->words;
	_cleanup_free_ size_t *indeg = xcalloc(n + 1, sizeof *indeg);
	_cleanup_free_ size_t *heap = xcalloc(n + 1, sizeof *heap);
	struct ready_heap ready = {heap, 0};
	for (size_t i = 0; i < n; i++) {
		indeg[i] = e->pstart[i + 1] - e->pstart[i];
		if (!indeg[i])
			heap_push(&ready, i);
	}
	for (size_t out = 0; out < n; out++) {
		if (!ready.n)
			return wsbox_fail_logic(err, EINVAL,
						"cycle among ancestors");
		size_t pick = heap_pop(&ready);
		d->order[out] = pick;
		uint64_t *row = d->anc + pick * words;
		for (size_t k = e->pstart[pick]; k < e->pstart[pick + 1]; k++) {
			bit_set(row, e->pidx[k]);
			row_or(row, d->anc + e->pidx[k] * words, words);
		}
		for (size_t k = e->cstart[pick]; k < e->cstart[pick + 1]; k++)
			if (!--indeg[e->cidx[k]])
				heap_push(&ready, e->cidx[k]);
	}
	return 0;
}

/* Descendants, children first (reverse topological order), so that
 * dag_has_unrelated_layer reads one row of each matrix. */
static void descendants(struct dag *d, const struct edges *e)
{
	size_t words = d->words;
	for (size_t k = d->n; k-- > 0;) {
		size_t i = d->order[k];
		uint64_t *row = d->desc + i * words;
		for (size_t c = e->cstart[i]; c < e->cstart[i + 1]; c++) {
			bit_set(row, e->cidx[c]);
			row_or(row, d->desc + e->cidx[c] * words, words);
		}
	}
}

int dag_from_nodes(struct record_node *nodes, size_t n, struct dag *d,
		   struct wsbox_error *err)
{
	memset(d, 0, sizeof *d);
	if (n > 1) /* qsort must not get NULL, even for 0 elements */
		qsort(nodes, n, sizeof *nodes, node_cmp);
	d->nodes = nodes;
	d->n = n;
	for (size_t i = 1; i < n; i++)
		if (!strcmp(nodes[i - 1].task, nodes[i].task))
			return wsbox_fail_logic(
			    err, EINVAL, "task %s listed twice", nodes[i].task);
	d->words = (n + 63) / 64;
	d->order = xcalloc(n + 1, sizeof *d->order);
	d->anc = xcalloc(n * d->words + 1, sizeof *d->anc);
	d->desc = xcalloc(n * d->words + 1, sizeof *d->desc);
	d->layered = xcalloc(d->words + 1, sizeof *d->layered);
	for (size_t i = 0; i < n; i++)
		if (nodes[i].layer)
			bit_set(d->layered, i);
	_cleanup_(edges_free) struct edges e = {0};
	int r = edges_build(d, &e, err);
	if (r < 0)
		return r;
	r = order_and_ancestors(d, &e, err);
	if (r < 0)
		return r;
	descendants(d, &e);
	return 0;
}

/* Task name -> index into the node list being collected: every parent's
 * record repeats most ancestors, so lookups must not scan (open addressing,
 * FNV-1a, kept at most half full). */
struct name_index {
	size_t *slot; /* index + 1, 0 = empty */
	size_t cap;   /* power of two */
};

static size_t name_hash(const char *s)
{
	size_t h = 1469598103934665603ULL & SIZE_MAX;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * (1099511628211ULL & SIZE_MAX);
	return h;
}

/* The slot where `task` is, or where it would go. */
static size_t *name_slot(struct name_index *x, const struct record_node *nodes,
			 const char *task)
{
	size_t i = name_hash(task) & (x->cap - 1);
	while (x->slot[i] && strcmp(nodes[x->slot[i] - 1].task, task))
		i = (i + 1) & (x->cap - 1);
	return &x->slot[i];
}

static void name_index_grow(struct name_index *x,
			    const struct record_node *nodes, size_t n)
{
	if (x->cap && 2 * (n + 1) <= x->cap)
		return;
	free(x->slot);
	x->cap = x->cap ? x->cap * 2 : 64;
	x->slot = xcalloc(x->cap, sizeof *x->slot);
	for (size_t i = 0; i < n; i++)
		*name_slot(x, nodes, nodes[i].task) = i + 1;
}

/* Add `src` (brought by parent number `origin`) to the node list unless
 * present. The same task seen with two different layers is a clash: its
 * index goes to *clash (else SIZE_MAX). */
static void add_node(struct record_node **nodes, size_t **origins, size_t *n,
		     struct name_index *x, const struct record_node *src,
		     size_t origin, size_t *clash)
{
	*clash = SIZE_MAX;
	name_index_grow(x, *nodes, *n);
	size_t *slot = name_slot(x, *nodes, src->task);
	if (*slot) {
		size_t i = *slot - 1;
		const char *a = (*nodes)[i].layer, *b = src->layer;
		if ((a || b) && (!a || !b || strcmp(a, b)))
			*clash = i;
		return;
	}
	*nodes = xreallocarray(*nodes, *n + 1, sizeof **nodes);
	*origins = xreallocarray(*origins, *n + 1, sizeof **origins);
	node_copy(&(*nodes)[*n], src);
	(*origins)[*n] = origin;
	*slot = ++*n;
}

static bool same_layer(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Task `task` reached this exec with two layers, through parent `pa` (as
 * `la`) and parent `pb` (as `lb`): it was re-run after one of them used
 * it. The parents that saw another layer than its record holds now are
 * the ones to re-run (both when its record cannot tell). */
static int refuse_disagreement(const struct store *s, const char *run,
			       const char *task, const char *pa, const char *la,
			       const char *pb, const char *lb,
			       struct wsbox_error *err)
{
	struct task_record now;
	struct wsbox_error ignored;
	bool known = record_read_shallow(s, run, task, &now, &ignored) == 0;
	bool stale_a = !known || !same_layer(la, now.layer);
	bool stale_b = !known || !same_layer(lb, now.layer);
	if (known)
		record_free(&now);
	if (!stale_a && !stale_b)
		stale_a = stale_b = true;
	bool both = stale_a && stale_b && strcmp(pa, pb);
	const char *one = stale_a ? pa : pb;
	return wsbox_fail_logic(
	    err, EINVAL,
	    "ancestors disagree on the layer of task %s: it was re-run after "
	    "a descendant used it; re-run %s%s%s (and every task between %s "
	    "and %s) first (`wsbox runs show` marks them stale)",
	    task, one, both ? " and " : "", both ? pb : "", task,
	    both ? "them" : one);
}

int dag_collect(const struct store *s, const char *run, char *const *parents,
		size_t n_parents, struct dag *d, struct wsbox_error *err)
{
	struct record_node *nodes = NULL;
	size_t *origins = NULL; /* per node: the parent that brought it */
	size_t n = 0, clash;
	struct name_index x = {0};
	/* Ancestry files already merged: siblings share one, so a fan-in of
	 * 100 parses it once. */
	char **seen = NULL;
	size_t n_seen = 0;
	int r = 0;
	memset(d, 0, sizeof *d);
	for (size_t i = 0; i < n_parents && r == 0; i++) {
		struct task_record rec;
		r = record_read_shallow(s, run, parents[i], &rec, err);
		if (r < 0) {
			if (r == -ENOENT)
				wsbox_fail_logic(
				    err, ENOENT,
				    "parent %s: no such task in run %s",
				    parents[i], run);
			break;
		}
		if (strcmp(rec.status, "succeeded")) {
			r = wsbox_fail_logic(err, EINVAL,
					     "parent %s did not succeed (%s)",
					     parents[i], rec.status);
		} else {
			struct record_node self = {
			    .task = rec.task,
			    .layer = rec.layer,
			    .parents = rec.parents,
			    .n_parents = rec.n_parents,
			};
			add_node(&nodes, &origins, &n, &x, &self, i, &clash);
			if (clash != SIZE_MAX)
				r = refuse_disagreement(
				    s, run, self.task, parents[origins[clash]],
				    nodes[clash].layer, parents[i], self.layer,
				    err);
			bool merged = false;
			for (size_t k = 0; rec.ancestry && k < n_seen; k++)
				merged =
				    merged || !strcmp(seen[k], rec.ancestry);
			if (r == 0 && !merged) {
				r = record_load_ancestry(s, &rec, err);
				if (r == 0 && rec.ancestry) {
					seen = xreallocarray(seen, n_seen + 1,
							     sizeof *seen);
					seen[n_seen++] = xstrdup(rec.ancestry);
				}
			}
			for (size_t k = 0;
			     !merged && k < rec.n_ancestors && r == 0; k++) {
				const struct record_node *a = &rec.ancestors[k];
				add_node(&nodes, &origins, &n, &x, a, i,
					 &clash);
				if (clash != SIZE_MAX)
					r = refuse_disagreement(
					    s, run, a->task,
					    parents[origins[clash]],
					    nodes[clash].layer, parents[i],
					    a->layer, err);
			}
		}
		record_free(&rec);
	}
	free(x.slot);
	free(origins);
	free_strings(seen, n_seen);
	if (r == 0)
		r = dag_from_nodes(nodes, n, d, err);
	else {
		for (size_t i = 0; i < n; i++)
			record_node_free(&nodes[i]);
		free(nodes);
		return r;
	}
	if (r < 0)
		dag_free(d);
	return r;
}

/* --- conflicts --------------------------------------------------------- */

struct hit {
	const struct mf_entry *e;
	size_t node;
};

static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	int c = manifest_path_cmp(x->e->path, y->e->path);
	if (c)
		return c;
	return x->node < y->node ? -1 : x->node > y->node;
}

static bool is_dir(const struct mf_entry *e)
{
	return e->type == MF_DIR || e->type == MF_OPAQUE_DIR;
}

static bool identical(const struct mf_entry *a, const struct mf_entry *b)
{
	if (a->type != b->type || a->mode != b->mode)
		return false;
	if (a->type == MF_FILE)
		return a->size == b->size &&
		       !memcmp(a->sha256, b->sha256, sizeof a->sha256);
	if (a->type == MF_SYMLINK)
		return !strcmp(a->target, b->target);
	return true;
}

static bool related(const struct dag *d, size_t a, size_t b)
{
	return bit_test(d->anc + a * d->words, b) ||
	       bit_test(d->anc + b * d->words, a);
}

/* Word-wise: the layered nodes that are neither i, nor above nor below it. */
bool dag_has_unrelated_layer(const struct dag *d, size_t i)
{
	const uint64_t *anc = d->anc + i * d->words;
	const uint64_t *desc = d->desc + i * d->words;
	for (size_t w = 0; w < d->words; w++) {
		uint64_t m = d->layered[w] & ~(anc[w] | desc[w]);
		if (w == i / 64)
			m &= ~(UINT64_C(1) << (i % 64));
		if (m)
			return true;
	}
	return false;
}

/* Is `child` strictly below `dir`? */
static bool below(const char *dir, const char *child)
{
	size_t n = strlen(dir);
	return !strncmp(dir, child, n) && child[n] == '/';
}

static void add_msg(char ***msgs, size_t *n, size_t cap, size_t *total,
		    const char *path, const char *a, const char *b,
		    const char *why)
{
	(*total)++;
	if (*n >= cap)
		return;
	_cleanup_free_ char *esc = manifest_escape(path);
	*msgs = xreallocarray(*msgs, *n + 1, sizeof **msgs);
	(*msgs)[(*n)++] = xasprintf("conflict: %s: %s by task %s and task %s",
				    esc, why, a, b);
}

size_t dag_conflicts(const struct dag *d, struct manifest *const *manifests,
		     char ***msgs, size_t *n_msgs, size_t cap)
{
	size_t total = 0, nh = 0;
	for (size_t i = 0; i < d->n; i++)
		if (manifests[i])
			nh += manifests[i]->n;
	_cleanup_free_ struct hit *hits = xcalloc(nh + 1, sizeof *hits);
	nh = 0;
	for (size_t i = 0; i < d->n; i++)
		for (size_t k = 0; manifests[i] && k < manifests[i]->n; k++)
			hits[nh++] = (struct hit){&manifests[i]->e[k], i};
	qsort(hits, nh, sizeof *hits, hit_cmp);

	/* Same path in two unrelated layers. */
	for (size_t i = 0; i < nh;) {
		size_t j = i + 1;
		while (j < nh && !strcmp(hits[j].e->path, hits[i].e->path))
			j++;
		for (size_t a = i; a < j; a++)
			for (size_t b = a + 1; b < j; b++) {
				const struct mf_entry *x = hits[a].e,
						      *y = hits[b].e;
				if (related(d, hits[a].node, hits[b].node))
					continue;
				/* Two tasks creating the same directory to
				 * put their own files in is the normal case;
				 * overlay merges directories. What an opaque
				 * one hides is checked below. */
				if (is_dir(x) && is_dir(y))
					continue;
				if (identical(x, y))
					continue;
				const char *why = (x->type == MF_WHITEOUT ||
						   y->type == MF_WHITEOUT)
						      ? "deleted and modified"
						  : is_dir(x) != is_dir(y)
						      ? "file and directory"
						      : "written";
				add_msg(msgs, n_msgs, cap, &total, x->path,
					d->nodes[hits[a].node].task,
					d->nodes[hits[b].node].task, why);
			}
		i = j;
	}
	/* A deleted or replaced (opaque) directory in one layer with entries
	 * written below it by an unrelated layer. In canonical order a
	 * directory's descendants follow it directly. */
	for (size_t i = 0; i < nh; i++) {
		const struct mf_entry *x = hits[i].e;
		if (x->type != MF_WHITEOUT && x->type != MF_OPAQUE_DIR)
			continue;
		size_t j = i + 1;
		while (j < nh && !strcmp(hits[j].e->path, x->path))
			j++;
		for (; j < nh && below(x->path, hits[j].e->path); j++) {
			if (hits[j].node == hits[i].node ||
			    related(d, hits[i].node, hits[j].node))
				continue;
			add_msg(msgs, n_msgs, cap, &total, hits[j].e->path,
				d->nodes[hits[i].node].task,
				d->nodes[hits[j].node].task,
				x->type == MF_WHITEOUT
				    ? "parent deleted and written"
				    : "parent replaced and written");
			break;
		}
	}
	return total;
}
