/* Unit tests for sandbox/util/logcap.c: the accounting of --max-log-size
 * (what the supervisor keeps of each chunk, the marker, appended logs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/util/logcap.h"
#include "tests/unit/fixture.h"

static void test_logcap_keeps_everything_up_to_the_limit(void **state)
{
	(void)state;
	struct log_cap c;
	bool cut;
	logcap_init(&c, 10, 0);
	assert_int_equal(logcap_admit(&c, "abcd\n", 5, &cut), 5);
	assert_false(cut);
	assert_int_equal(logcap_admit(&c, "efgh\n", 5, &cut), 5);
	assert_false(cut);
	assert_false(c.cut);
}

static void test_logcap_cuts_the_chunk_that_crosses_the_limit(void **state)
{
	(void)state;
	struct log_cap c;
	bool cut;
	logcap_init(&c, 10, 0);
	assert_int_equal(logcap_admit(&c, "abcdefg", 7, &cut), 7);
	assert_int_equal(logcap_admit(&c, "hijklmn", 7, &cut), 3);
	assert_true(cut);
	/* Once: later chunks are dropped without a second marker. */
	assert_int_equal(logcap_admit(&c, "opq", 3, &cut), 0);
	assert_false(cut);
	assert_true(c.cut);
	assert_int_equal(c.stored, 10);
}

static void test_logcap_marker_starts_its_own_line(void **state)
{
	(void)state;
	struct log_cap c;
	bool cut;
	char m[LOGCAP_MARKER_MAX];
	logcap_init(&c, 2048, 0);
	logcap_admit(&c, "x", 1, &cut);
	c.max = 1; /* a mid-line cut */
	logcap_admit(&c, "y", 1, &cut);
	assert_true(cut);
	c.max = 2048;
	logcap_marker(&c, "stdout", m);
	assert_string_equal(m, "\n[wsbox: stdout log truncated at 2 KiB "
			       "(--max-log-size); the rest was not stored]\n");
	logcap_init(&c, 3ULL << 20, 0);
	size_t n = logcap_marker(&c, "stderr", m);
	assert_int_equal(n, strlen(m));
	assert_string_equal(m, "[wsbox: stderr log truncated at 3 MiB "
			       "(--max-log-size); the rest was not stored]\n");
	logcap_init(&c, 1000, 0);
	logcap_marker(&c, "stdout", m);
	assert_non_null(strstr(m, "at 1000 bytes"));
}

/* A multi-step attempt appends: the limit counts what the log holds, and a
 * log longer than the limit was cut (and marked) by an earlier step. */
static void test_logcap_counts_an_appended_log(void **state)
{
	(void)state;
	struct log_cap c;
	bool cut;
	logcap_init(&c, 10, 8);
	assert_false(c.cut);
	assert_int_equal(logcap_admit(&c, "abcd", 4, &cut), 2);
	assert_true(cut);
	logcap_init(&c, 10, 10);
	assert_false(c.cut);
	assert_int_equal(logcap_admit(&c, "a", 1, &cut), 0);
	assert_true(cut);
	logcap_init(&c, 10, 60);
	assert_true(c.cut);
	assert_int_equal(logcap_admit(&c, "a", 1, &cut), 0);
	assert_false(cut);
	assert_true(logcap_was_cut(10, 11));
	assert_false(logcap_was_cut(10, 10));
	assert_false(logcap_was_cut(0, 1ULL << 40));
}

static void test_logcap_zero_is_no_limit(void **state)
{
	(void)state;
	struct log_cap c;
	bool cut;
	logcap_init(&c, 0, 1ULL << 40);
	assert_int_equal(logcap_admit(&c, "abc", 3, &cut), 3);
	assert_false(cut);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_logcap_keeps_everything_up_to_the_limit),
	    cmocka_unit_test(test_logcap_cuts_the_chunk_that_crosses_the_limit),
	    cmocka_unit_test(test_logcap_marker_starts_its_own_line),
	    cmocka_unit_test(test_logcap_counts_an_appended_log),
	    cmocka_unit_test(test_logcap_zero_is_no_limit),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
