/* layers/dag: from a task's parents to its workspace. Collects the
 * transitive ancestors from the parents' records (with the exact layer
 * digests they saw), orders them deterministically (topological, ties by
 * task name; docs/model.md "Workspace rules", rule 4), and checks that no
 * two contributing tasks that are not ancestor-related wrote the same path
 * (rule 3). */
#ifndef WSBOX_LAYERS_DAG_H
#define WSBOX_LAYERS_DAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layers/manifest.h"
#include "layers/record.h"
#include "layers/store.h"

struct dag {
	struct record_node *nodes; /* sorted by task name */
	size_t n;
	size_t *order; /* topological, roots first */
	size_t words;  /* uint64_t per row of anc and desc: (n + 63) / 64 */
	/* Bit matrices, n rows of `words`: bit j of anc's row i is set when
	 * j is an ancestor of i; desc is its transpose (j below i). */
	uint64_t *anc;
	uint64_t *desc;
	uint64_t *layered; /* one row: bit i set when nodes[i] has a layer */
};

/* Read the parents' records in `run` and build the ancestor DAG. Each
 * parent must exist and have succeeded; an ancestor seen with two different
 * layers (a parent re-run under a child) is refused. */
int dag_collect(const struct store *s, const char *run, char *const *parents,
		size_t n_parents, struct dag *d, struct wsbox_error *err);

/* Build a DAG directly from nodes (takes ownership); used by dag_collect
 * and the unit tests. Fails on cycles or unknown parents. */
int dag_from_nodes(struct record_node *nodes, size_t n, struct dag *d,
		   struct wsbox_error *err);

void dag_free(struct dag *d);

/* Whether some other node with a layer is not ancestor-related to node i:
 * only then can node i's layer take part in a conflict. */
bool dag_has_unrelated_layer(const struct dag *d, size_t i);

/* Conflicts between contributing layers (nodes with a layer) that are not
 * ancestor-related. manifests[i] belongs to d->nodes[i] (NULL if the node
 * has no layer). Every conflict is appended to `msgs` (one line each,
 * "conflict: <path>: written by task A and task B"), at most `cap` of them;
 * returns the total number found. */
size_t dag_conflicts(const struct dag *d, struct manifest *const *manifests,
		     char ***msgs, size_t *n_msgs, size_t cap);

#endif
