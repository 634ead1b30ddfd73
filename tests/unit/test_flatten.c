/* Unit tests for layers/flatten.c's choice of how many lower layers to
 * merge (flatten_merge_count): the stack must fit overlayfs's limit, and a
 * chain growing on top must keep merging the same bottom layers, so that
 * its tasks share one cached merged layer instead of building one each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "layers/flatten.h"
#include "tests/unit/fixture.h"

static void test_flatten_merges_nothing_when_the_stack_fits(void **state)
{
	(void)state;
	assert_int_equal(flatten_merge_count(1, 500), 0);
	assert_int_equal(flatten_merge_count(500, 500), 0);
	assert_int_equal(flatten_merge_count(2, 2), 0);
	/* A limit below 2 is the caller's error; nothing to plan. */
	assert_int_equal(flatten_merge_count(10, 1), 0);
}

/* Every n and limit: what is kept plus the merged layer fits, and no more
 * than the layers there are get merged. */
static void test_flatten_result_always_fits(void **state)
{
	(void)state;
	static const size_t limits[] = {2, 3, 7, 8, 16, 64, 500};
	for (size_t l = 0; l < sizeof limits / sizeof *limits; l++)
		for (size_t n = limits[l] + 1; n <= 1300; n++) {
			size_t m = flatten_merge_count(n, limits[l]);
			assert_true(m >= 1 && m <= n);
			assert_true(n - m + 1 <= limits[l]);
		}
}

/* Small limits merge exactly the layers that do not fit (t_flatten's
 * views rely on it). */
static void test_flatten_small_limits_merge_the_minimum(void **state)
{
	(void)state;
	assert_int_equal(flatten_merge_count(6, 2), 5);
	assert_int_equal(flatten_merge_count(6, 3), 4);
	assert_int_equal(flatten_merge_count(8, 7), 2);
}

/* Under the default limit a 600-task chain needs few distinct merged sets:
 * the count moves in blocks of 500 / 8 = 62 layers. */
static void test_flatten_growing_chain_reuses_merged_sets(void **state)
{
	(void)state;
	size_t distinct = 0, last = 0;
	for (size_t n = 1; n <= 600; n++) {
		size_t m = flatten_merge_count(n, FLATTEN_MAX_LOWERS_DEFAULT);
		assert_true(m >= last);
		if (m != last)
			distinct++;
		last = m;
	}
	assert_int_equal(flatten_merge_count(501, 500), 62);
	assert_int_equal(flatten_merge_count(561, 500), 62);
	assert_int_equal(flatten_merge_count(562, 500), 124);
	assert_int_equal(distinct, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flatten_merges_nothing_when_the_stack_fits),
	    cmocka_unit_test(test_flatten_result_always_fits),
	    cmocka_unit_test(test_flatten_small_limits_merge_the_minimum),
	    cmocka_unit_test(test_flatten_growing_chain_reuses_merged_sets),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
