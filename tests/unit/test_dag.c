/* Unit tests for layers/dag.c: deterministic order (topological, ties by
 * name), ancestor relation, and every conflict rule of docs/model.md
 * "Conflicts". */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "layers/dag.h"
#include "sandbox/util/fs.h"
#include "tests/unit/fixture.h"

/* node("c", "a", "b", NULL): task c with parents a and b. */
static struct record_node node(const char *task, ...)
{
	struct record_node n = {.task = xstrdup(task)};
	n.layer = xasprintf("sha256:%064d", 0);
	n.parents = xcalloc(8, sizeof *n.parents);
	va_list ap;
	va_start(ap, task);
	for (const char *p; (p = va_arg(ap, const char *));)
		n.parents[n.n_parents++] = xstrdup(p);
	va_end(ap);
	return n;
}

static void build(struct dag *d, struct record_node *nodes, size_t n)
{
	struct record_node *copy = xcalloc(n, sizeof *copy);
	memcpy(copy, nodes, n * sizeof *copy);
	struct wsbox_error e = {0};
	assert_int_equal(dag_from_nodes(copy, n, d, &e), 0);
}

static const char *at(const struct dag *d, size_t k)
{
	return d->nodes[d->order[k]].task;
}

static void test_dag_order_is_topological_with_name_ties(void **state)
{
	(void)state;
	struct record_node n[] = {
	    node("zeta", NULL),		 node("alpha", "zeta", NULL),
	    node("beta", NULL),		 node("gamma", "alpha", "beta", NULL),
	    node("delta", "beta", NULL),
	};
	struct dag d;
	build(&d, n, 5);
	/* roots first, smallest ready name first */
	assert_string_equal(at(&d, 0), "beta");
	assert_string_equal(at(&d, 1), "delta");
	assert_string_equal(at(&d, 2), "zeta");
	assert_string_equal(at(&d, 3), "alpha");
	assert_string_equal(at(&d, 4), "gamma");
	dag_free(&d);
}

static void test_dag_refuses_cycles_and_unknown_parents(void **state)
{
	(void)state;
	struct record_node c[] = {node("a", "b", NULL), node("b", "a", NULL)};
	struct record_node *copy = xcalloc(2, sizeof *copy);
	memcpy(copy, c, sizeof c);
	struct dag d;
	struct wsbox_error e = {0};
	assert_true(dag_from_nodes(copy, 2, &d, &e) < 0);
	assert_non_null(strstr(e.msg, "cycle"));
	dag_free(&d);
	struct record_node u[] = {node("a", "ghost", NULL)};
	copy = xcalloc(1, sizeof *copy);
	memcpy(copy, u, sizeof u);
	assert_true(dag_from_nodes(copy, 1, &d, &e) < 0);
	assert_non_null(strstr(e.msg, "ghost"));
	dag_free(&d);
}

static void add(struct manifest *m, const char *path, char type,
		const char *content)
{
	struct mf_entry e = {.path = (char *)path, .type = type};
	e.mode = type == MF_FILE ? 0644 : type == MF_WHITEOUT ? 0 : 0755;
	if (type == MF_FILE) {
		e.size = strlen(content);
		memset(e.sha256, content[0], sizeof e.sha256);
	}
	manifest_add(m, &e);
}

/* Two unrelated tasks a, b, plus c child of a. */
static size_t conflicts(struct manifest *ma, struct manifest *mb,
			struct manifest *mc, char ***msgs, size_t *n)
{
	struct record_node nodes[] = {node("a", NULL), node("b", NULL),
				      node("c", "a", NULL)};
	struct dag d;
	build(&d, nodes, 3);
	struct manifest *ms[] = {ma, mb, mc};
	*msgs = NULL;
	*n = 0;
	size_t total = dag_conflicts(&d, ms, msgs, n, 10);
	dag_free(&d);
	return total;
}

static void free_msgs(char **msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(msgs[i]);
	free(msgs);
}

static void test_dag_conflict_only_on_differing_entries(void **state)
{
	(void)state;
	char **msgs;
	size_t n;
	struct manifest a = {0}, b = {0}, c = {0};

	/* same path, different content: conflict naming both tasks */
	add(&a, "out", MF_DIR, NULL);
	add(&a, "out/bin", MF_FILE, "x");
	add(&b, "out", MF_DIR, NULL);
	add(&b, "out/bin", MF_FILE, "y");
	assert_int_equal(conflicts(&a, &b, NULL, &msgs, &n), 1);
	assert_string_equal(msgs[0],
			    "conflict: out/bin: written by task a and task b");
	free_msgs(msgs, n);
	manifest_free(&b);

	/* identical entries and shared directories: no conflict */
	memset(&b, 0, sizeof b);
	add(&b, "out", MF_DIR, NULL);
	add(&b, "out/bin", MF_FILE, "x");
	add(&b, "out/other", MF_FILE, "z");
	assert_int_equal(conflicts(&a, &b, NULL, &msgs, &n), 0);
	free_msgs(msgs, n);
	manifest_free(&b);

	/* file versus directory */
	memset(&b, 0, sizeof b);
	add(&b, "out", MF_FILE, "f");
	assert_int_equal(conflicts(&a, &b, NULL, &msgs, &n), 1);
	assert_non_null(strstr(msgs[0], "file and directory"));
	free_msgs(msgs, n);
	manifest_free(&b);

	/* deletion of a dir the other wrote into */
	memset(&b, 0, sizeof b);
	add(&b, "out", MF_WHITEOUT, NULL);
	assert_int_equal(conflicts(&a, &b, NULL, &msgs, &n), 2);
	free_msgs(msgs, n);
	manifest_free(&b);

	/* opaque (replaced) dir against content below it */
	memset(&b, 0, sizeof b);
	add(&b, "out", MF_OPAQUE_DIR, NULL);
	assert_int_equal(conflicts(&a, &b, NULL, &msgs, &n), 1);
	assert_non_null(strstr(msgs[0], "parent replaced"));
	free_msgs(msgs, n);
	manifest_free(&b);

	/* along an ancestry chain the descendant simply wins */
	memset(&b, 0, sizeof b);
	add(&c, "out", MF_OPAQUE_DIR, NULL);
	add(&c, "out/bin", MF_FILE, "new");
	assert_int_equal(conflicts(&a, &b, &c, &msgs, &n), 0);
	free_msgs(msgs, n);
	manifest_free(&a);
	manifest_free(&c);
}

/* A reference for the large test below: the algorithm dag.c had before its
 * heap and bit matrices, kept plain. Kahn's algorithm scanning for the
 * lowest ready index (nodes are sorted by name); anc is an n*n byte matrix
 * (anc[i*n+j]: j is an ancestor of i). */
static void reference_order(const struct dag *d, size_t *order,
			    unsigned char *anc)
{
	size_t n = d->n;
	size_t *indeg = xcalloc(n + 1, sizeof *indeg);
	unsigned char *done = xcalloc(n + 1, 1);
	size_t **pidx = xcalloc(n + 1, sizeof *pidx);
	for (size_t i = 0; i < n; i++) {
		pidx[i] = xcalloc(d->nodes[i].n_parents + 1, sizeof **pidx);
		for (size_t k = 0; k < d->nodes[i].n_parents; k++)
			for (size_t j = 0; j < n; j++)
				if (!strcmp(d->nodes[j].task,
					    d->nodes[i].parents[k]))
					pidx[i][k] = j;
		indeg[i] = d->nodes[i].n_parents;
	}
	for (size_t out = 0; out < n; out++) {
		size_t pick = n;
		for (size_t i = 0; i < n && pick == n; i++)
			if (!done[i] && !indeg[i])
				pick = i;
		assert_true(pick < n);
		done[pick] = 1;
		order[out] = pick;
		for (size_t k = 0; k < d->nodes[pick].n_parents; k++) {
			size_t p = pidx[pick][k];
			anc[pick * n + p] = 1;
			for (size_t j = 0; j < n; j++)
				anc[pick * n + j] |= anc[p * n + j];
		}
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < d->nodes[i].n_parents; k++)
				if (pidx[i][k] == pick)
					indeg[i]--;
	}
	for (size_t i = 0; i < n; i++)
		free(pidx[i]);
	free(pidx);
	free(done);
	free(indeg);
}

static uint32_t next_rand(uint32_t *seed)
{
	*seed = *seed * 1103515245 + 12345;
	return *seed >> 16;
}

/* 1,000 tasks (not a multiple of 64, so rows end mid-word), named in an
 * order unrelated to their generation, each with up to 6 parents among
 * those generated before it, a sixth of them without a layer: the order,
 * and which nodes have an unrelated layer beside them, must be exactly the
 * reference's. */
static void test_dag_large_order_and_relation_match_reference(void **state)
{
	(void)state;
	enum { N = 1000 };
	struct record_node *nodes = xcalloc(N, sizeof *nodes);
	uint32_t seed = 12345;
	for (size_t i = 0; i < N; i++) {
		/* i * 389 mod 1000 is a permutation (gcd 1): names are not
		 * in generation (= topological) order. */
		nodes[i].task = xasprintf("t%04zu", i * 389 % N);
		if (i % 6)
			nodes[i].layer = xasprintf("sha256:%064zu", i);
		/* Every task but the first has a parent, so all descend
		 * from the first: it has no unrelated layer beside it. */
		size_t np = i ? 1 + next_rand(&seed) % 6 : 0;
		nodes[i].parents = xcalloc(np + 1, sizeof *nodes[i].parents);
		for (size_t k = 0; k < np; k++) {
			/* Mostly recent parents: long chains, some far. */
			size_t back = 1 + next_rand(&seed) % (k ? i : 8);
			size_t p = back > i ? 0 : i - back;
			bool dup = false;
			for (size_t q = 0; q < nodes[i].n_parents; q++)
				dup |=
				    !strcmp(nodes[i].parents[q], nodes[p].task);
			if (!dup)
				nodes[i].parents[nodes[i].n_parents++] =
				    xstrdup(nodes[p].task);
		}
	}
	struct dag d;
	build(&d, nodes, N);
	free(nodes);
	size_t *order = xcalloc(N, sizeof *order);
	unsigned char *anc = xcalloc((size_t)N * N, 1);
	reference_order(&d, order, anc);
	for (size_t k = 0; k < N; k++)
		assert_string_equal(at(&d, k), d.nodes[order[k]].task);
	size_t with_unrelated = 0;
	for (size_t i = 0; i < N; i++) {
		bool want = false;
		for (size_t j = 0; j < N && !want; j++)
			want = j != i && d.nodes[j].layer && !anc[i * N + j] &&
			       !anc[j * N + i];
		assert_int_equal(dag_has_unrelated_layer(&d, i), want);
		with_unrelated += want;
	}
	/* Both answers occur, or the comparison proves little. */
	assert_true(with_unrelated > 0 && with_unrelated < N);
	free(anc);
	free(order);
	dag_free(&d);
}

/* Memory of a run's DAG grows with n^2 / 4 bytes (two bit matrices), not
 * n^2 (the byte matrix it had): a 30,000-task chain builds in 512 MiB of
 * address space (900 MB of bytes before). In a child, so the limit stays
 * there; not under ASan, which reserves terabytes of address space. */
static void test_dag_large_chain_fits_in_bounded_memory(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip();
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	skip();
#endif
#endif
	enum { N = 30000 };
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct rlimit lim = {512UL << 20, 512UL << 20};
		struct record_node *nodes = xcalloc(N, sizeof *nodes);
		for (size_t i = 0; i < N; i++) {
			nodes[i].task = xasprintf("t%05zu", i);
			nodes[i].layer = xasprintf("sha256:%064zu", i);
			nodes[i].parents = xcalloc(2, sizeof *nodes[i].parents);
			if (i)
				nodes[i].parents[nodes[i].n_parents++] =
				    xasprintf("t%05zu", i - 1);
		}
		struct dag d;
		struct wsbox_error e = {0};
		if (setrlimit(RLIMIT_AS, &lim) < 0 ||
		    dag_from_nodes(nodes, N, &d, &e) < 0)
			_exit(2);
		/* A chain: everything related, in generation order. */
		bool ok = d.order[0] == 0 && d.order[N - 1] == N - 1 &&
			  !dag_has_unrelated_layer(&d, 0) &&
			  !dag_has_unrelated_layer(&d, N / 2);
		_exit(ok ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dag_order_is_topological_with_name_ties),
	    cmocka_unit_test(test_dag_refuses_cycles_and_unknown_parents),
	    cmocka_unit_test(test_dag_conflict_only_on_differing_entries),
	    cmocka_unit_test(test_dag_large_order_and_relation_match_reference),
	    cmocka_unit_test(test_dag_large_chain_fits_in_bounded_memory),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
