/* Unit tests for sandbox/cli/view.c: plain output is whole `[task] line`
 * lines however the bytes arrive; the terminal view keeps output to itself
 * and replays the last lines of failed tasks only; the tally's form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/cli/view.h"
#include "sandbox/util/fs.h"
#include "tests/unit/fixture.h"

static const char *const names[] = {"one", "two"};

/* A view writing to memory files; read back with drain(). */
static void open_view(struct view *v, bool tty)
{
	view_init(v, tty, names, 2, 100.0);
	v->out = memfd_create("out", MFD_CLOEXEC);
	v->err = memfd_create("err", MFD_CLOEXEC);
	assert_true(v->out >= 0 && v->err >= 0);
	v->run = "r1";
}

static char *drain(int fd)
{
	off_t len = lseek(fd, 0, SEEK_END);
	char *buf = xcalloc((size_t)len + 1, 1);
	assert_int_equal(pread(fd, buf, (size_t)len, 0), len);
	return buf;
}

static void close_view(struct view *v)
{
	close(v->out);
	close(v->err);
	view_free(v);
}

static void test_view_plain_lines_are_whole_and_prefixed(void **state)
{
	(void)state;
	struct view v;
	open_view(&v, false);
	view_started(&v, 0, 100.0);
	view_started(&v, 1, 100.0);
	/* Bytes of two tasks interleaved mid-line. */
	view_output(&v, 0, 1, "hel", 3);
	view_output(&v, 1, 1, "wor", 3);
	view_output(&v, 0, 1, "lo\nsec", 6);
	view_output(&v, 1, 1, "ld\n", 3);
	view_output(&v, 1, 2, "oops\n", 5);
	view_finished(&v, 0, SCHED_SUCCEEDED, 0, 101.25);
	char *out = drain(v.out), *err = drain(v.err);
	assert_string_equal(out, "[one] hello\n[two] world\n[one] sec\n"
				 "\u2713 one (1.2s)\n");
	assert_string_equal(err, "[two] oops\n");
	free(out);
	free(err);
	close_view(&v);
}

static void test_view_plain_splits_an_overlong_line(void **state)
{
	(void)state;
	struct view v;
	open_view(&v, false);
	char *big = xcalloc(VIEW_LINE_MAX + 10, 1);
	memset(big, 'x', VIEW_LINE_MAX + 9);
	view_output(&v, 0, 1, big, VIEW_LINE_MAX + 9);
	view_output(&v, 0, 1, "\n", 1);
	char *out = drain(v.out);
	assert_int_equal(strlen(out),
			 2 * strlen("[one] \n") + VIEW_LINE_MAX + 9);
	assert_int_equal(strchr(out, '\n') - out,
			 strlen("[one] ") + VIEW_LINE_MAX);
	free(out);
	free(big);
	close_view(&v);
}

static void test_view_terminal_replays_failed_tasks_only(void **state)
{
	(void)state;
	struct view v;
	open_view(&v, true);
	view_started(&v, 0, 100.0);
	view_started(&v, 1, 100.0);
	view_output(&v, 0, 1, "quiet success\n", 14);
	for (int i = 1; i <= 25; i++) {
		char line[32];
		int n = snprintf(line, sizeof line, "line %d\n", i);
		view_output(&v, 1, i % 2 ? 1 : 2, line, (size_t)n);
	}
	view_finished(&v, 0, SCHED_CACHED, 0, 101.0);
	view_finished(&v, 1, SCHED_FAILED, 3, 102.0);
	view_close(&v, (struct sched_tally){.cached = 1, .failed = 1}, 102.0,
		   false);
	char *out = drain(v.out);
	assert_null(strstr(out, "quiet success"));
	assert_non_null(strstr(out, "\u00b7 one (cached)\n"));
	assert_non_null(strstr(out, "\u2717 two (exit 3)\n"));
	assert_non_null(strstr(out, "2/2 tasks (2.0s)\n"));
	assert_non_null(strstr(out, "--- two: last 20 of 25 lines ---\n"
				    "line 6\n"));
	assert_null(strstr(out, "line 5\n"));
	assert_non_null(strstr(out, "line 25\n--- all of it: wsbox logs "
				    "--run r1 --task two\n"));
	assert_non_null(strstr(out, "2 tasks: 0 ran, 1 cached, 1 failed, 0 "
				    "skipped in 2.0 s\n"));
	free(out);
	close_view(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_view_plain_lines_are_whole_and_prefixed),
	    cmocka_unit_test(test_view_plain_splits_an_overlong_line),
	    cmocka_unit_test(test_view_terminal_replays_failed_tasks_only),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
