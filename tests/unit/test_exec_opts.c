/* Unit tests for sandbox/cli/exec_opts.c (option parsing, validation, env) and
 * sandbox/ns_user.c (id-map formatting) and the name rule of fs.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/cli/exec_opts.h"
#include "sandbox/ns.h" /* idmap_format */
#include "sandbox/util/fs.h"
#include "tests/unit/fixture.h"

static int parse(struct exec_opts *o, struct wsbox_error *e, ...)
{
	char *argv[64] = {"exec"};
	int argc = 1;
	va_list ap;
	va_start(ap, e);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	memset(e, 0, sizeof *e);
	return exec_opts_parse(argc, argv, o, e);
}

static void test_exec_opts_defaults_without_options(void **state)
{
	(void)state;
	struct exec_opts o;
	struct wsbox_error e;
	assert_int_equal(parse(&o, &e, "--", "make", "-j4", NULL), 0);
	assert_int_equal(o.net, NET_NONE);
	assert_string_equal(o.hostname, "wsbox");
	assert_string_equal(o.cwd, "/workspace");
	assert_string_equal(o.policy, "default");
	assert_int_equal(o.uid, 0);
	assert_int_equal(o.max_log_size, 64ULL << 20);
	assert_int_equal(o.argc, 2);
	assert_string_equal(o.argv[1], "-j4");
	exec_opts_free(&o);
}

static void test_exec_opts_parses_every_option(void **state)
{
	(void)state;
	struct exec_opts o;
	struct wsbox_error e;
	assert_int_equal(
	    parse(&o, &e, "--store", "/s", "--run", "r1", "--task", "build",
		  "--parent", "a", "--parent", "b", "--rootfs", "/r", "--save",
		  "out/bin", "--env", "A=1", "--env-pass", "HOME", "--cwd",
		  "/tmp", "--uid", "1000", "--gid", "100", "--net", "host",
		  "--timeout", "30", "--memory", "512M", "--pids", "64",
		  "--policy", "strict", "--no-cache", "--keep-failed",
		  "--hostname", "h-1", "--max-layer-size", "1G",
		  "--max-log-size", "1M", "true", NULL),
	    0);
	assert_string_equal(o.run, "r1");
	assert_int_equal(o.parents.n, 2);
	assert_string_equal(o.parents.v[1], "b");
	assert_int_equal(o.uid, 1000);
	assert_int_equal(o.gid, 100);
	assert_int_equal(o.net, NET_HOST);
	assert_int_equal(o.timeout_sec, 30);
	assert_int_equal(o.memory, 512ULL << 20);
	assert_int_equal(o.max_layer_size, 1ULL << 30);
	assert_int_equal(o.max_log_size, 1ULL << 20);
	assert_int_equal(o.pids, 64);
	assert_true(o.no_cache && o.keep_failed);
	assert_string_equal(o.argv[0], "true");
	exec_opts_free(&o);
}

static void test_exec_opts_leaves_command_flags_to_the_command(void **state)
{
	(void)state;
	struct exec_opts o;
	struct wsbox_error e;
	/* The first non-option ends wsbox's options. */
	assert_int_equal(parse(&o, &e, "ls", "--net", "host", NULL), 0);
	assert_int_equal(o.net, NET_NONE);
	assert_int_equal(o.argc, 3);
	exec_opts_free(&o);
}

static void expect_refused(const char *needle, ...)
{
	char *argv[16] = {"exec"};
	int argc = 1;
	va_list ap;
	va_start(ap, needle);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	struct exec_opts o;
	struct wsbox_error e = {0};
	assert_true(exec_opts_parse(argc, argv, &o, &e) < 0);
	assert_int_equal(e.status, WSBOX_EXIT_FAILURE);
	if (!strstr(e.msg, needle))
		fail_msg("message `%s` lacks `%s`", e.msg, needle);
	assert_null(strchr(e.msg, '\n'));
	exec_opts_free(&o);
}

static void test_exec_opts_refuses_bad_input_with_a_message(void **state)
{
	(void)state;
	expect_refused("unknown option", "--bogus", "true", NULL);
	expect_refused("needs a value", "--run", NULL);
	expect_refused("invalid name", "--task", "../x", "true", NULL);
	expect_refused("invalid name", "--run", "-x", "true", NULL);
	expect_refused("given twice", "--parent", "a", "--parent", "a", "true",
		       NULL);
	expect_refused("want none or host", "--net", "bridge", "true", NULL);
	expect_refused("0..65533", "--uid", "65534", "true", NULL);
	expect_refused("0..65533", "--gid", "-1", "true", NULL);
	expect_refused("seconds", "--timeout", "0", "true", NULL);
	expect_refused("size", "--memory", "10X", "true", NULL);
	expect_refused("--max-log-size `0`: want a size", "--max-log-size", "0",
		       "true", NULL);
	expect_refused("--max-log-size `-1`", "--max-log-size", "-1", "true",
		       NULL);
	expect_refused("absolute", "--cwd", "rel", "true", NULL);
	expect_refused("NAME=VALUE", "--env", "=x", "true", NULL);
	expect_refused("relative", "--save", "a/../b", "true", NULL);
	expect_refused("relative", "--save", "/abs", "true", NULL);
	expect_refused("exclude", "--ro", "--save", "x", "true", NULL);
	expect_refused("hostname", "--hostname", "a b", "true", NULL);
	expect_refused("--cpus `0`", "--cpus", "0", "true", NULL);
	expect_refused("CPU count", "--cpus", "half", "true", NULL);
	expect_refused("CPU count", "--cpus", "0.0001", "true", NULL);
	expect_refused("--cgroup-parent", "--cgroup-parent", "rel/x", "true",
		       NULL);
	expect_refused("without `..`", "--cgroup-parent", "/sys/fs/cgroup/..",
		       "true", NULL);
	expect_refused("without `..`", "--cgroup-parent", "/a/../b", "true",
		       NULL);
	expect_refused("--cgroup-parent", "--cgroup-parent", "", "true", NULL);
	expect_refused("no command", NULL);
	expect_refused("want K=V", "--cache-key-extra", "rev", "true", NULL);
	expect_refused("want K=V", "--cache-key-extra", "=1", "true", NULL);
	expect_refused("given twice", "--cache-key-extra", "rev=1",
		       "--cache-key-extra", "rev=2", "true", NULL);
	expect_refused("NAME one of inotify-instances", "--quota",
		       "max_user_namespaces=1", "true", NULL);
	expect_refused("want NAME=N", "--quota", "inotify-watches", "true",
		       NULL);
	expect_refused("(the host's own limit)", "--quota",
		       "inotify-watches=-1", "true", NULL);
	expect_refused("(the host's own limit)", "--quota",
		       "inotify-instances=4294967296", "true", NULL);
	expect_refused("--quota inotify-instances: given twice", "--quota",
		       "inotify-instances=1", "--quota", "inotify-instances=2",
		       "true", NULL);
}

/* The order on the command line does not change the key: sorted by K. */
static void test_exec_opts_takes_the_remote_options(void **state)
{
	(void)state;
	struct exec_opts o;
	struct wsbox_error e;
	assert_int_equal(parse(&o, &e, "--remote", "https://r.example/ci/ws",
			       "--remote-insecure", "--remote-compression",
			       "gzip", "true", NULL),
			 0);
	assert_string_equal(o.remote, "https://r.example/ci/ws");
	assert_true(o.remote_insecure);
	assert_string_equal(o.remote_compression, "gzip");
	exec_opts_free(&o);
	assert_int_equal(parse(&o, &e, "true", NULL), 0);
	assert_null(o.remote);
	assert_false(o.remote_insecure);
	assert_null(o.remote_compression);
	exec_opts_free(&o);
	assert_true(parse(&o, &e, "--remote-compression", "lz4", "true", NULL) <
		    0);
	assert_string_equal(e.msg,
			    "--remote-compression `lz4`: want zstd or gzip");
	exec_opts_free(&o);
	assert_true(parse(&o, &e, "--remote", "", "true", NULL) < 0);
	assert_string_equal(e.msg, "--remote: empty");
	exec_opts_free(&o);
}

static void test_exec_opts_sorts_cache_key_extra_by_name(void **state)
{
	(void)state;
	struct exec_opts o;
	struct wsbox_error e;
	assert_int_equal(parse(&o, &e, "--cache-key-extra", "rev=2",
			       "--cache-key-extra", "a=x=y",
			       "--cache-key-extra", "re=1", "true", NULL),
			 0);
	assert_int_equal(o.cache_key_extra.n, 3);
	assert_string_equal(o.cache_key_extra.v[0], "a=x=y");
	assert_string_equal(o.cache_key_extra.v[1], "re=1");
	assert_string_equal(o.cache_key_extra.v[2], "rev=2");
	assert_null(o.cache_key_extra.v[3]);
	exec_opts_free(&o);
}

static void test_parse_cpus_refuses_out_of_range_and_imprecise(void **state)
{
	(void)state;
	uint32_t m = 0;
	assert_int_equal(parse_cpus("2", &m), 0);
	assert_int_equal(m, 2000);
	assert_int_equal(parse_cpus("0.5", &m), 0);
	assert_int_equal(m, 500);
	assert_int_equal(parse_cpus("1.25", &m), 0);
	assert_int_equal(m, 1250);
	assert_int_equal(parse_cpus("0.01", &m), 0);
	assert_int_equal(m, 10);
	assert_int_equal(parse_cpus("4096", &m), 0);
	assert_int_equal(m, 4096000);
	const char *bad[] = {
	    "",	      "0",   "0.009",	 "0.001",
	    "-1",     "+1",  " 1",	 "1 ",
	    "abc",    "1e3", "1.",	 ".5",
	    "1.2345", "1,5", "4096.001", "99999999999999999999",
	    "inf"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (parse_cpus(bad[i], &m) == 0)
			fail_msg("parse_cpus accepted `%s`", bad[i]);
}

static void test_exec_opts_limits_come_from_options(void **state)
{
	(void)state;
	struct exec_opts o;
	struct wsbox_error e;
	assert_int_equal(parse(&o, &e, "--memory", "64M", "--pids", "50",
			       "--cpus", "0.5", "--timeout", "9",
			       "--cgroup-parent", "/sys/fs/cgroup/ci", "true",
			       NULL),
			 0);
	struct limits l = exec_opts_limits(&o);
	assert_int_equal(l.memory_bytes, 64ULL << 20);
	assert_int_equal(l.pids, 50);
	assert_int_equal(l.cpu_milli, 500);
	assert_int_equal(l.timeout_sec, 9);
	assert_string_equal(l.cgroup_parent, "/sys/fs/cgroup/ci");
	assert_false(l.via_cgroup);
	exec_opts_free(&o);
	/* --quota: set ones carried, others left to the default share. */
	assert_int_equal(parse(&o, &e, "--quota", "inotify-instances=0",
			       "--quota", "inotify-watches=100", "true", NULL),
			 0);
	l = exec_opts_limits(&o);
	assert_true(l.quota_set[QUOTA_INOTIFY_INSTANCES]);
	assert_int_equal(l.quota[QUOTA_INOTIFY_INSTANCES], 0);
	assert_true(l.quota_set[QUOTA_INOTIFY_WATCHES]);
	assert_int_equal(l.quota[QUOTA_INOTIFY_WATCHES], 100);
	assert_false(l.quota_set[QUOTA_FANOTIFY_GROUPS]);
	exec_opts_free(&o);
	/* No limit options: nothing to enforce, no cgroup to pick. */
	assert_int_equal(parse(&o, &e, "true", NULL), 0);
	l = exec_opts_limits(&o);
	assert_int_equal(l.memory_bytes + l.pids + l.cpu_milli, 0);
	assert_null(l.cgroup_parent);
	exec_opts_free(&o);
}

static void test_parse_size_takes_suffixes_and_refuses_overflow(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(parse_size("123", &v), 0);
	assert_int_equal(v, 123);
	assert_int_equal(parse_size("4k", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("2GiB", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_true(parse_size("", &v) < 0);
	assert_true(parse_size("-1", &v) < 0);
	assert_true(parse_size("99999999999999999999T", &v) < 0);
	assert_true(parse_size("16777216T", &v) < 0); /* overflows 64 bits */
}

static void test_exec_env_holds_only_given_and_passed_vars(void **state)
{
	(void)state;
	struct exec_opts o;
	struct wsbox_error e;
	assert_int_equal(parse(&o, &e, "--env", "A=1", "--env", "PATH=/x",
			       "--env-pass", "KEEP", "--env-pass", "ABSENT",
			       "true", NULL),
			 0);
	char *host[] = {"KEEP=yes", "SECRET=no", "TERM=xterm", NULL};
	char **env = exec_build_env(&o, host);
	size_t n = 0;
	bool saw_keep = false, saw_path = false;
	for (char **p = env; *p; p++, n++) {
		assert_null(strstr(*p, "SECRET"));
		assert_null(strstr(*p, "ABSENT"));
		saw_keep |= !strcmp(*p, "KEEP=yes");
		saw_path |= !strcmp(*p, "PATH=/x");
		free(*p);
	}
	free(env);
	assert_true(saw_keep && saw_path);
	assert_int_equal(n, 5); /* PATH HOME TERM KEEP A */
	exec_opts_free(&o);
}

static void test_idmap_format_writes_one_line_or_enospc(void **state)
{
	(void)state;
	char buf[32];
	assert_int_equal(idmap_format(buf, sizeof buf, 0, 1000), 0);
	assert_string_equal(buf, "0 1000 1\n");
	assert_int_equal(idmap_format(buf, 6, 0, 100000), -ENOSPC);
}

static void test_valid_name_refuses_paths_dots_and_control_chars(void **state)
{
	(void)state;
	assert_true(valid_name("build"));
	assert_true(valid_name("a.b_c-9"));
	assert_false(valid_name(""));
	assert_false(valid_name(".x"));
	assert_false(valid_name("-x"));
	assert_false(valid_name("a/b"));
	assert_false(valid_name("a\nb"));
	char longname[130];
	memset(longname, 'a', sizeof longname - 1);
	longname[129] = '\0';
	assert_false(valid_name(longname));
	longname[128] = '\0';
	assert_true(valid_name(longname));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exec_opts_defaults_without_options),
	    cmocka_unit_test(test_exec_opts_parses_every_option),
	    cmocka_unit_test(
		test_exec_opts_leaves_command_flags_to_the_command),
	    cmocka_unit_test(test_exec_opts_refuses_bad_input_with_a_message),
	    cmocka_unit_test(test_exec_opts_takes_the_remote_options),
	    cmocka_unit_test(test_exec_opts_sorts_cache_key_extra_by_name),
	    cmocka_unit_test(
		test_parse_size_takes_suffixes_and_refuses_overflow),
	    cmocka_unit_test(
		test_parse_cpus_refuses_out_of_range_and_imprecise),
	    cmocka_unit_test(test_exec_opts_limits_come_from_options),
	    cmocka_unit_test(test_exec_env_holds_only_given_and_passed_vars),
	    cmocka_unit_test(test_idmap_format_writes_one_line_or_enospc),
	    cmocka_unit_test(
		test_valid_name_refuses_paths_dots_and_control_chars),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
