/* Unit tests for layers/dag.c: deterministic order (topological, ties by
 * name), ancestor relation, and every conflict rule of docs/model.md
 * "Conflicts". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dag_order_is_topological_with_name_ties),
	    cmocka_unit_test(test_dag_refuses_cycles_and_unknown_parents),
	    cmocka_unit_test(test_dag_conflict_only_on_differing_entries),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
