/* Unit test: replays every checked-in fuzz input (tests/fuzz/seeds/<target>/
 * and tests/fuzz/regress/<target>/) through the same entry points as the
 * libFuzzer harnesses (tests/fuzz/target_*.h), in the normal `make test`
 * build. No input may break an invariant of its target; besides, a file
 * named `accept-*` must be accepted and one named `refuse-*` refused, so the
 * seeds double as parser tests (e.g. a hostile tar that starts being
 * accepted fails here). Paths are relative to the repository root, where
 * the tests run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/fuzz/target_archive.h"
#include "tests/fuzz/target_manifest.h"
#include "tests/fuzz/target_pipeline.h"
#include "tests/fuzz/target_policy.h"
#include "tests/unit/fixture.h"

static struct fuzz_policy_ctx policy_ctx;
static struct fuzz_archive_ctx archive_ctx;

static int policy_one(const uint8_t *d, size_t n)
{
	return fuzz_policy_one(&policy_ctx, d, n);
}

static int archive_one(const uint8_t *d, size_t n)
{
	return fuzz_archive_one(&archive_ctx, d, n);
}

/* Replay every file of tests/fuzz/<kind>/<target>; returns how many. */
static size_t replay_dir(const char *kind, const char *target,
			 int (*one)(const uint8_t *, size_t))
{
	_cleanup_free_ char *dir = xasprintf("tests/fuzz/%s/%s", kind, target);
	_cleanup_free_ char *names = fuzz_list_dir(AT_FDCWD, dir);
	if (!names) {
		/* A target may have no regressions yet; seeds must exist. */
		assert_string_equal(kind, "regress");
		return 0;
	}
	size_t count = 0;
	char *save = NULL;
	for (char *n = strtok_r(names, " ", &save); n;
	     n = strtok_r(NULL, " ", &save)) {
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, n);
		char *buf = NULL;
		size_t len = 0;
		struct wsbox_error err = {0};
		if (read_file_at(AT_FDCWD, path, 1u << 20, &buf, &len, &err) <
		    0)
			fail_msg("%s", err.msg);
		int r = one((const uint8_t *)buf, len);
		free(buf);
		if (r == FUZZ_BUG)
			fail_msg("%s: invariant broken (see stderr)", path);
		if (!strncmp(n, "accept-", 7) && r != FUZZ_ACCEPTED)
			fail_msg("%s: expected to be accepted, got %d", path,
				 r);
		if (!strncmp(n, "refuse-", 7) && r != FUZZ_REFUSED)
			fail_msg("%s: expected to be refused, got %d", path, r);
		count++;
	}
	return count;
}

static void replay(const char *target, int (*one)(const uint8_t *, size_t))
{
	size_t seeds = replay_dir("seeds", target, one);
	/* Guard against a renamed directory silently replaying nothing. */
	assert_true(seeds >= 3);
	replay_dir("regress", target, one);
}

/* Scratch dirs are made in setup and removed in teardown, which cmocka runs
 * even when a replay fails, so a failing run leaves nothing in /dev/shm. */
static int policy_setup(void **state)
{
	(void)state;
	return fuzz_policy_init(&policy_ctx);
}

static int policy_teardown(void **state)
{
	(void)state;
	fuzz_policy_fini(&policy_ctx);
	return 0;
}

static int archive_setup(void **state)
{
	(void)state;
	return fuzz_archive_init(&archive_ctx);
}

static int archive_teardown(void **state)
{
	(void)state;
	fuzz_archive_fini(&archive_ctx);
	return 0;
}

static void test_fuzz_regress_policy_inputs_are_handled(void **state)
{
	(void)state;
	replay("policy", policy_one);
}

static void test_fuzz_regress_manifest_inputs_are_handled(void **state)
{
	(void)state;
	replay("manifest", fuzz_manifest_one);
}

static void test_fuzz_regress_pipeline_inputs_are_handled(void **state)
{
	(void)state;
	replay("pipeline", fuzz_pipeline_one);
}

static void test_fuzz_regress_archive_inputs_are_handled(void **state)
{
	(void)state;
	replay("archive", archive_one);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_fuzz_regress_policy_inputs_are_handled, policy_setup,
		policy_teardown),
	    cmocka_unit_test(test_fuzz_regress_manifest_inputs_are_handled),
	    cmocka_unit_test(test_fuzz_regress_pipeline_inputs_are_handled),
	    cmocka_unit_test_setup_teardown(
		test_fuzz_regress_archive_inputs_are_handled, archive_setup,
		archive_teardown),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
