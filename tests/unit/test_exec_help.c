/* Unit tests for `wsbox exec --help` (sandbox/cli/exec_opts.c): --help stops
 * the parse, the usage lists every option README "Using it" documents with
 * one line each plus the exit statuses, and a bad option points at it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/cli/exec_opts.h"
#include "tests/unit/fixture.h"

static int parse(struct wsbox_error *e, ...)
{
	char *argv[16] = {"exec"};
	int argc = 1;
	va_list ap;
	va_start(ap, e);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	struct exec_opts o;
	memset(e, 0, sizeof *e);
	int r = exec_opts_parse(argc, argv, &o, e);
	exec_opts_free(&o);
	return r;
}

/* The usage as one malloc'ed string. (Static: open_memstream keeps the
 * addresses until fclose, and gcc would take a local for dangling.) */
static char *usage_text(void)
{
	static char *buf;
	static size_t len;
	buf = NULL;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	exec_opts_usage(f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_exec_help_stops_the_parse(void **state)
{
	(void)state;
	struct wsbox_error e;
	assert_int_equal(parse(&e, "--help", NULL), 1);
	assert_int_equal(parse(&e, "-h", NULL), 1);
	/* Anywhere among wsbox's options, even with no command. */
	assert_int_equal(parse(&e, "--store", "/s", "--help", NULL), 1);
	/* After CMD it is CMD's own. */
	assert_int_equal(parse(&e, "--", "make", "--help", NULL), 0);
	assert_int_equal(parse(&e, "make", "-h", NULL), 0);
}

static void test_exec_help_lists_every_option_on_one_line(void **state)
{
	(void)state;
	static const char *const names[] = {
	    "store",
	    "run",
	    "task",
	    "parent",
	    "rootfs",
	    "ro",
	    "save",
	    "env",
	    "env-pass",
	    "cwd",
	    "uid",
	    "gid",
	    "hostname",
	    "net",
	    "timeout",
	    "memory",
	    "pids",
	    "cpus",
	    "cgroup-parent",
	    "max-layer-size",
	    "policy",
	    "no-cache",
	    "events",
	    "mutex",
	    "keep-failed",
	    "idmap-base",
	    "remote",
	    "remote-insecure",
	    "remote-compression",
	    "help",
	};
	char *text = usage_text();
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char want[64];
		snprintf(want, sizeof want, "\n  --%s ", names[i]);
		char *at = strstr(text, want);
		if (!at)
			fail_msg("usage lacks a line for --%s", names[i]);
		/* The option, its value, then a description on that line. */
		char *nl = strchr(at + 1, '\n');
		assert_non_null(nl);
		assert_true(nl - at > 30);
	}
	assert_non_null(strstr(text, "usage: wsbox exec [OPTIONS] -- CMD"));
	assert_non_null(strstr(text, "124 timeout"));
	assert_non_null(strstr(text, "125 wsbox failed or refused"));
	assert_non_null(strstr(text, "126 CMD not executable"));
	assert_non_null(strstr(text, "127 CMD not found"));
	for (char *l = text; *l;) {
		char *nl = strchrnul(l, '\n');
		if (nl - l > 80)
			fail_msg("line longer than 80: %.*s", (int)(nl - l), l);
		l = *nl ? nl + 1 : nl;
	}
	free(text);
}

static void test_exec_bad_option_points_at_help(void **state)
{
	(void)state;
	struct wsbox_error e;
	assert_true(parse(&e, "--x", "true", NULL) < 0);
	assert_string_equal(
	    e.msg, "exec: unknown option `--x` (see `wsbox exec --help`)");
	assert_int_equal(e.status, 125);
	assert_true(parse(&e, "--run", NULL) < 0);
	assert_string_equal(e.msg, "exec: option `--run` needs a value (see "
				   "`wsbox exec --help`)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exec_help_stops_the_parse),
	    cmocka_unit_test(test_exec_help_lists_every_option_on_one_line),
	    cmocka_unit_test(test_exec_bad_option_points_at_help),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
