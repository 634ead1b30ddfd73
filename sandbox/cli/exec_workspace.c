/* sandbox/cli/exec_workspace.c: step 3 of exec (docs/exec.md "Lifecycle"):
 * the parents' records become the ancestor DAG, its manifests are checked
 * for conflicts, and the layers are stacked (flattened past the overlay
 * limit) into the lower dirs the sandbox mounts. */
#include <string.h>
#include "layers/flatten.h"
#include "layers/layer.h"
#include "sandbox/cli/exec_ctx.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/env_num.h"
#include "sandbox/util/fs.h"

#define MAX_CONFLICTS_SHOWN 20

/* Every ancestor's layer is checked present; a manifest is read only where
 * it is needed. */
static int load_manifests(struct exec_ctx *c, const char *empty_digest,
			  struct wsbox_error *err)
{
	c->manifests = xcalloc(c->dag.n + 1, sizeof *c->manifests);
	for (size_t i = 0; i < c->dag.n; i++) {
		const char *layer = c->dag.nodes[i].layer;
		/* A layer that holds nothing adds nothing and conflicts with
		 * nothing: it is told by its digest, never read. */
		if (!layer || !strcmp(layer, empty_digest))
			continue;
		/* Only a layer with an unrelated one beside it can conflict
		 * (rule 3): in a chain no manifest is read, so restore does
		 * not grow with the files the ancestors wrote. */
		int r;
		if (dag_has_unrelated_layer(&c->dag, i)) {
			c->manifests[i] = xcalloc(1, sizeof **c->manifests);
			r = layer_load_manifest(&c->store, layer,
						c->manifests[i], err);
		} else {
			r = layer_require(&c->store, layer, err);
		}
		if (r < 0) {
			wsbox_error_prefix(err, "ancestor %s",
					   c->dag.nodes[i].task);
			return r;
		}
	}
	return 0;
}

/* Two unrelated ancestors that wrote the same path refuse the exec. */
static int refuse_conflicts(struct exec_ctx *c, struct wsbox_error *err)
{
	char **msgs = NULL;
	size_t n_msgs = 0;
	size_t total = dag_conflicts(&c->dag, c->manifests, &msgs, &n_msgs,
				     MAX_CONFLICTS_SHOWN);
	if (!total)
		return 0;
	/* All but the last on their own lines; the last becomes the error
	 * main() prints. */
	for (size_t i = 0; i + 1 < n_msgs; i++)
		fprintf(stderr, "wsbox: %s\n", msgs[i]);
	if (total > n_msgs)
		wsbox_fail(err, 0, "%s (and %zu more conflicts)",
			   msgs[n_msgs - 1], total - n_msgs);
	else
		wsbox_fail(err, 0, "%s", msgs[n_msgs - 1]);
	for (size_t i = 0; i < n_msgs; i++)
		free(msgs[i]);
	free(msgs);
	return -EEXIST;
}

/* A layer in stacking order: `rank` counts from the top. */
struct lower_ref {
	const char *digest;
	size_t rank, node;
};

static int lower_ref_cmp(const void *a, const void *b)
{
	const struct lower_ref *x = a, *y = b;
	int c = strcmp(x->digest, y->digest);
	if (c)
		return c;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Which nodes carry a layer already stacked above them (same digest: two
 * tasks wrote the same content), by sorting: O(n log n), where comparing
 * each layer with every one above was O(n^2) at 10,000 ancestors. Returns
 * one flag per node. */
static bool *repeated_layers(const struct exec_ctx *c)
{
	bool *repeated = xcalloc(c->dag.n + 1, sizeof *repeated);
	_cleanup_free_ struct lower_ref *refs =
	    xcalloc(c->dag.n + 1, sizeof *refs);
	size_t n = 0;
	for (size_t k = c->dag.n; k-- > 0;) {
		size_t i = c->dag.order[k];
		if (!c->dag.nodes[i].layer)
			continue;
		refs[n] = (struct lower_ref){c->dag.nodes[i].layer, n, i};
		n++;
	}
	if (n > 1)
		qsort(refs, n, sizeof *refs, lower_ref_cmp);
	for (size_t j = 1; j < n; j++)
		if (!strcmp(refs[j].digest, refs[j - 1].digest))
			repeated[refs[j].node] = true;
	return repeated;
}

/* Descendants above ancestors: reverse topological order, into `stacked`
 * (room for dag.n). Every layer is recorded and pinned; layers with no
 * entries add nothing to the view and are not stacked. Returns the count. */
static size_t stack_lowers(struct exec_ctx *c, const char *empty_digest,
			   char **stacked)
{
	_cleanup_free_ bool *repeated = repeated_layers(c);
	size_t n_stacked = 0;
	for (size_t k = c->dag.n; k-- > 0;) {
		size_t i = c->dag.order[k];
		if (!c->dag.nodes[i].layer)
			continue;
		strv_push(&c->lower_digests, c->dag.nodes[i].layer);
		strv_push(&c->pins, c->dag.nodes[i].layer);
		/* Identical layers are stacked once: overlayfs refuses a dir
		 * twice. */
		if (repeated[i] || !strcmp(c->dag.nodes[i].layer, empty_digest))
			continue;
		stacked[n_stacked++] = c->dag.nodes[i].layer;
	}
	return n_stacked;
}

/* $WSBOX_MAX_LOWERS lowers the flattening threshold so tests need not run
 * 500 tasks. */
static int max_lowers_of_env(size_t *max_lowers, struct wsbox_error *err)
{
	unsigned long v = FLATTEN_MAX_LOWERS_DEFAULT;
	int r = env_num_in("WSBOX_MAX_LOWERS", 2, FLATTEN_MAX_LOWERS_DEFAULT,
			   &v, err);
	*max_lowers = v;
	return r < 0 ? r : 0;
}

/* Beyond overlayfs's limit on lowers, the oldest layers are merged into one
 * layer cached by their digests (layers/flatten.h); the record keeps the real
 * ancestors' digests. The merged layer is owned like the task layers it
 * replaces: by c->layer_uid (resolve_ids). */
static int flatten_stack(struct exec_ctx *c, char **stacked, size_t n_stacked,
			 struct wsbox_error *err)
{
	size_t max_lowers;
	int r = max_lowers_of_env(&max_lowers, err);
	if (r < 0)
		return r;
	char **flat = NULL;
	size_t n_flat = 0;
	r = flatten_lowers(&c->store, stacked, n_stacked, max_lowers,
			   c->layer_uid, c->layer_gid, &flat, &n_flat, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_flat; i++) {
		_cleanup_free_ char *p = layer_tree_path(&c->store, flat[i]);
		strv_push(&c->lowers, p);
		strv_push(&c->stacked, flat[i]);
		strv_push(&c->pins, flat[i]);
	}
	flatten_free(flat, n_flat);
	return 0;
}

/* Step 3: ancestors → manifests → conflicts → lower dirs, topmost first;
 * the record names them. */
int assemble_workspace(struct exec_ctx *c, struct wsbox_error *err)
{
	/* From here on the attempt counts: a refusal (conflict, unknown or
	 * failed parent) leaves a record saying so (record_unpublished). */
	c->counts = true;
	if (!c->o.parents.n)
		return 0;
	int r = dag_collect(&c->store, c->run, c->o.parents.v, c->o.parents.n,
			    &c->dag, err);
	if (r < 0)
		return r;
	char empty_digest[DIGEST_STRLEN];
	layer_empty_digest(empty_digest);
	r = load_manifests(c, empty_digest, err);
	if (r < 0)
		return r;
	r = refuse_conflicts(c, err);
	if (r < 0)
		return r;
	_cleanup_free_ char **stacked = xcalloc(c->dag.n + 1, sizeof *stacked);
	size_t n_stacked = stack_lowers(c, empty_digest, stacked);
	r = flatten_stack(c, stacked, n_stacked, err);
	if (r < 0)
		return r;
	c->rec.ancestors = c->dag.nodes;
	c->rec.n_ancestors = c->dag.n;
	c->rec.lowers = c->lower_digests.v;
	c->rec.n_lowers = c->lower_digests.n;
	return 0;
}

/* fuse-overlayfs's opaque markers count only where the lowers show the
 * path (layers/capture.h): every ancestor's manifest, also those
 * load_manifests() had no reason to read, into `stack` topmost first
 * (stack_lowers' order), *n_out of them. */
int stack_manifests(struct exec_ctx *c, const struct manifest **stack,
		    size_t *n_out, struct wsbox_error *err)
{
	char empty_digest[DIGEST_STRLEN];
	layer_empty_digest(empty_digest);
	size_t n = 0;
	for (size_t k = c->dag.n; k-- > 0 && c->manifests;) {
		size_t i = c->dag.order[k];
		const char *layer = c->dag.nodes[i].layer;
		if (!layer || !strcmp(layer, empty_digest))
			continue;
		if (!c->manifests[i]) {
			c->manifests[i] = xcalloc(1, sizeof **c->manifests);
			int r = layer_load_manifest(&c->store, layer,
						    c->manifests[i], err);
			if (r < 0)
				return r;
		}
		stack[n++] = c->manifests[i];
	}
	*n_out = n;
	return 0;
}
