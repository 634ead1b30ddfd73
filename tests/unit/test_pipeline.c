/* Unit tests for sandbox/cli/pipeline.c: a pipeline file becomes tasks with
 * their commands, needs and exec options; every refusal names the file
 * and the line (docs/run.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/cli/pipeline.h"
#include "sandbox/util/fs.h"
#include "tests/unit/fixture.h"

static int parse(const char *text, struct pipeline *p, struct wsbox_error *e)
{
	memset(e, 0, sizeof *e);
	return pipeline_parse("p.yml", text, strlen(text), p, e);
}

/* The options of a task joined by spaces. */
static char *joined(const struct strv *s)
{
	char buf[1024] = "";
	for (size_t i = 0; i < s->n; i++)
		appendf(buf, sizeof buf, "%s%s", i ? " " : "", s->v[i]);
	return xstrdup(buf);
}

static void test_pipeline_tasks_commands_and_options(void **state)
{
	(void)state;
	struct pipeline p;
	struct wsbox_error e;
	int r = parse("tasks:\n"
		      "  build:\n"
		      "    run: make -j2\n"
		      "    save: [out, logs]\n"
		      "    env: {CC: gcc, X: \"a b\"}\n"
		      "    timeout: 60\n"
		      "    ro: false\n"
		      "    mutex: db\n"
		      "    cache-key-extra: {compiler: gcc-12}\n"
		      "  test:\n"
		      "    run: [./t, --fast]\n"
		      "    needs: [build]\n"
		      "    ro: true\n",
		      &p, &e);
	assert_int_equal(r, 0);
	assert_int_equal(p.n, 2);
	struct pipeline_task *b = &p.tasks[0], *t = &p.tasks[1];
	assert_string_equal(b->name, "build");
	assert_int_equal(b->line, 2);
	char *s = joined(&b->argv);
	assert_string_equal(s, "sh -c make -j2");
	free(s);
	s = joined(&b->opts);
	assert_string_equal(s, "--save out --save logs --env CC=gcc "
			       "--env X=a b --timeout 60 --mutex db");
	free(s);
	s = joined(&b->extra);
	assert_string_equal(s, "compiler=gcc-12");
	free(s);
	assert_string_equal(b->mutex, "db");
	s = joined(&t->argv);
	assert_string_equal(s, "./t --fast");
	free(s);
	s = joined(&t->opts);
	assert_string_equal(s, "--ro");
	free(s);
	assert_int_equal(t->needs.n, 1);
	assert_int_equal(t->need_idx[0], 0);
	pipeline_free(&p);
}

/* FILE:LINE: what, for each way a file can be wrong (the message starts
 * with the text given; exec's own option errors follow their prefix). */
static void test_pipeline_refusals_name_the_line(void **state)
{
	(void)state;
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"tasks:\n  a:\n    run: true\n    bogus: 1\n",
	     "p.yml:4: task `a`: unknown key `bogus`"},
	    {"tasks:\n  a:\n    run: true\n    needs: [x, zz]\n  x:\n    run: "
	     "true\n",
	     "p.yml:4: task `a` needs unknown task `zz`"},
	    {"tasks:\n  a:\n    run: true\n  b:\n    run: true\n  a:\n    run: "
	     "false\n",
	     "p.yml:6: task `a` defined twice"},
	    {"tasks:\n  a:\n    run: true\n    run: false\n",
	     "p.yml:4: task `a`: `run` given twice"},
	    {"tasks:\n  a:\n    save: x\n", "p.yml:2: task `a`: no `run`"},
	    {"tasks:\n  a:\n    run: {x: 1}\n",
	     "p.yml:3: task `a`: `run` wants a string or a non-empty list of "
	     "strings"},
	    {"tasks:\n  a:\n    run: true\n    needs: {b: 1}\n",
	     "p.yml:4: task `a`: `needs` wants a list of task names"},
	    {"tasks:\n  a:\n    run: true\n    env: [X=1]\n",
	     "p.yml:4: task `a`: `env` wants a mapping"},
	    {"tasks:\n  a:\n    run: true\n    ro: maybe\n",
	     "p.yml:4: task `a`: `ro` wants true or false"},
	    {"tasks:\n  a:\n    run: true\n    timeout: [1]\n",
	     "p.yml:4: task `a`: `timeout` wants a string"},
	    {"tasks:\n  a:\n    run: true\n\n    memory: lots\n",
	     "p.yml:5: task `a`: --memory `lots`: "}, /* exec's words follow */
	    {"tasks:\n  a b:\n    run: true\n",
	     "p.yml:2: task `a b`: invalid name (want "
	     "[A-Za-z0-9][A-Za-z0-9._-]{0,127})"},
	    {"tasks:\n  a:\n    run: true\n    needs: [a]\n",
	     "p.yml:2: cycle in needs: a -> a"},
	    {"tasks:\n  a:\n    run: true\n    needs: [b, b]\n  b:\n    run: "
	     "true\n",
	     "p.yml:4: task `a`: `b` needed twice"},
	    {"stages: []\n", "p.yml:1: unknown key `stages` (want `tasks:`)"},
	    {"tasks: []\n", "p.yml:1: `tasks` wants a mapping of task names"},
	    {"", "p.yml:1: empty file (want a `tasks:` mapping)"},
	    {"tasks:\n  a: [\n", "p.yml:3: did not find expected node content"},
	    {"tasks:\n  a:\n    run: true\n---\ntasks: {}\n",
	     "p.yml:5: a second YAML document: want one"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct pipeline p;
		struct wsbox_error e;
		assert_true(parse(cases[i].text, &p, &e) < 0);
		if (strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: got \"%s\", want \"%s...\"", i,
				 e.msg, cases[i].msg);
		pipeline_free(&p);
	}
}

static void test_pipeline_cycle_names_its_tasks(void **state)
{
	(void)state;
	struct pipeline p;
	struct wsbox_error e;
	int r = parse("tasks:\n"
		      "  ok:\n    run: true\n"
		      "  a:\n    run: true\n    needs: [c]\n"
		      "  b:\n    run: true\n    needs: [a, ok]\n"
		      "  c:\n    run: true\n    needs: [b]\n",
		      &p, &e);
	assert_true(r < 0);
	assert_string_equal(e.msg, "p.yml:4: cycle in needs: a -> c -> b -> a");
	pipeline_free(&p);
}

/* `[` N deep then `]` N deep as the value of `run`. */
static char *nested(size_t n)
{
	const char *head = "tasks:\n  a:\n    run: ";
	size_t h = strlen(head);
	char *t = xcalloc(h + 2 * n + 2, 1);
	memcpy(t, head, h);
	memset(t + h, '[', n);
	memset(t + h + n, ']', n);
	t[h + 2 * n] = '\n';
	return t;
}

/* Nesting past 32: libyaml's scanner is quadratic in it (100,000 levels
 * took 39.5 s before the bound, and then said `run` wants strings). */
static void test_pipeline_deep_nesting_refused(void **state)
{
	(void)state;
	struct pipeline p;
	struct wsbox_error e;
	char *text = nested(100000);
	assert_true(parse(text, &p, &e) < 0);
	assert_string_equal(e.msg, "p.yml:3: collections nested more than 32 "
				   "deep");
	pipeline_free(&p);
	free(text);
	text = nested(29); /* 32 levels with the three mappings above */
	assert_true(parse(text, &p, &e) < 0);
	assert_string_equal(e.msg, "p.yml:3: task `a`: `run` wants a list of "
				   "strings");
	pipeline_free(&p);
	free(text);
}

/* 1001 tasks aliasing one with 1000 `env` entries: about 2,000,000 nodes
 * once expanded from a file of 30 KB (before the bound: a million --env
 * options, and a file of 268 KB grew to 6.7 GB). */
static void test_pipeline_alias_expansion_bounded(void **state)
{
	(void)state;
	size_t size = 64 << 10, off = 0;
	char *text = xcalloc(size, 1);
	off += (size_t)snprintf(text + off, size - off,
				"tasks:\n  t0: &x\n    run: echo\n    env:\n");
	for (int i = 0; i < 1000; i++)
		off += (size_t)snprintf(text + off, size - off,
					"      K%d: v\n", i);
	for (int i = 1; i <= 1000; i++)
		off +=
		    (size_t)snprintf(text + off, size - off, "  t%d: *x\n", i);
	assert_true(off < size);
	struct pipeline p;
	struct wsbox_error e;
	assert_true(parse(text, &p, &e) < 0);
	assert_string_equal(e.msg, "p.yml:1502: more than 1000000 nodes once "
				   "its aliases are expanded");
	pipeline_free(&p);
	free(text);
}

static void test_pipeline_aliases_within_bounds(void **state)
{
	(void)state;
	struct pipeline p;
	struct wsbox_error e;
	assert_int_equal(parse("tasks:\n"
			       "  a:\n    run: x\n    env: &common {CC: gcc}\n"
			       "  b:\n    run: y\n    env: *common\n"
			       "    needs: &up [a]\n"
			       "  c:\n    run: z\n    needs: *up\n",
			       &p, &e),
			 0);
	assert_int_equal(p.n, 3);
	char *s = joined(&p.tasks[1].opts);
	assert_string_equal(s, "--env CC=gcc");
	free(s);
	assert_int_equal(p.tasks[2].need_idx[0], 0);
	pipeline_free(&p);
	/* An alias inside what it names: a loop in the document. */
	assert_true(parse("tasks: &t\n  a:\n    run: x\n    env: {A: *t}\n", &p,
			  &e) < 0);
	assert_string_equal(e.msg,
			    "p.yml:4: an alias inside the node it names: `*t`");
	pipeline_free(&p);
}

static char *digest_of(const char *text, size_t task)
{
	struct pipeline p;
	struct wsbox_error e;
	assert_int_equal(parse(text, &p, &e), 0);
	char *d = xstrdup(p.tasks[task].digest);
	pipeline_free(&p);
	return d;
}

static void test_pipeline_digest_follows_the_definition(void **state)
{
	(void)state;
	const char *base = "tasks:\n  a:\n    run: echo 1\n  b:\n    run: x\n";
	char *d1 = digest_of(base, 0);
	char *same = digest_of("tasks:\n  a:\n    run: echo 1\n"
			       "  b:\n    run: y\n",
			       0);
	char *cmd = digest_of("tasks:\n  a:\n    run: echo 2\n", 0);
	char *opt =
	    digest_of("tasks:\n  a:\n    run: echo 1\n    env: {A: 1}\n", 0);
	char *argv = digest_of("tasks:\n  a:\n    run: [sh, -c, echo 1]\n", 0);
	assert_string_equal(d1, same); /* another task changed */
	assert_string_not_equal(d1, cmd);
	assert_string_not_equal(d1, opt);
	/* the list form is the same argv as the string form */
	assert_string_equal(d1, argv);
	free(d1);
	free(same);
	free(cmd);
	free(opt);
	free(argv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipeline_tasks_commands_and_options),
	    cmocka_unit_test(test_pipeline_refusals_name_the_line),
	    cmocka_unit_test(test_pipeline_cycle_names_its_tasks),
	    cmocka_unit_test(test_pipeline_deep_nesting_refused),
	    cmocka_unit_test(test_pipeline_alias_expansion_bounded),
	    cmocka_unit_test(test_pipeline_aliases_within_bounds),
	    cmocka_unit_test(test_pipeline_digest_follows_the_definition),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
