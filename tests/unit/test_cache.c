/* Unit tests for the cache key (layers/cache.c): deterministic, and every
 * input that docs/cache.md "Cache key" lists changes it, including the
 * encodings that a naive concatenation would confuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "layers/cache.h"
#include "tests/unit/fixture.h"

static char *argv_a[] = {"sh", "-c", "make", NULL};
static char *env_a[] = {"PATH=/bin", "HOME=/tmp", NULL};
static char *lowers_a[] = {"sha256:aa", "sha256:bb"};
static char *pass_names[] = {"TOKEN"};
static const char *pass_set[] = {"x"};
static const char *pass_empty[] = {""};
static const char *pass_unset[] = {NULL};

static struct cache_key_input base(void)
{
	return (struct cache_key_input){
	    .rootfs_id = "sha256:root",
	    .lowers = lowers_a,
	    .n_lowers = 2,
	    .argv = argv_a,
	    .envp = env_a,
	    .cwd = "/workspace",
	    .hostname = "wsbox",
	    .policy = "sha256:pol",
	};
}

static void key_of(const struct cache_key_input *in, char out[DIGEST_STRLEN])
{
	cache_key(in, out);
	assert_int_equal(strlen(out), 71);
	assert_memory_equal(out, "sha256:", 7);
}

static void assert_differs(const struct cache_key_input *a,
			   const struct cache_key_input *b)
{
	char ka[DIGEST_STRLEN], kb[DIGEST_STRLEN];
	key_of(a, ka);
	key_of(b, kb);
	assert_string_not_equal(ka, kb);
}

static void test_cache_key_is_deterministic(void **state)
{
	(void)state;
	struct cache_key_input a = base(), b = base();
	char ka[DIGEST_STRLEN], kb[DIGEST_STRLEN];
	key_of(&a, ka);
	key_of(&b, kb);
	assert_string_equal(ka, kb);
}

static void test_cache_key_changes_with_each_field(void **state)
{
	(void)state;
	struct cache_key_input a = base(), b;
	b = base();
	b.rootfs_id = "sha256:other";
	assert_differs(&a, &b);
	b = base();
	b.n_lowers = 1;
	assert_differs(&a, &b);
	char *swapped[] = {"sha256:bb", "sha256:aa"};
	b = base();
	b.lowers = swapped;
	assert_differs(&a, &b);
	char *argv_b[] = {"sh", "-c", "make all", NULL};
	b = base();
	b.argv = argv_b;
	assert_differs(&a, &b);
	char *env_b[] = {"PATH=/bin", "HOME=/root", NULL};
	b = base();
	b.envp = env_b;
	assert_differs(&a, &b);
	b = base();
	b.uid = 1;
	assert_differs(&a, &b);
	b = base();
	b.gid = 1;
	assert_differs(&a, &b);
	b = base();
	b.cwd = "/";
	assert_differs(&a, &b);
	b = base();
	b.hostname = "h";
	assert_differs(&a, &b);
	b = base();
	b.net = 1;
	assert_differs(&a, &b);
	b = base();
	b.policy = "sha256:strict";
	assert_differs(&a, &b);
	char *save[] = {"out"};
	b = base();
	b.save = save;
	b.n_save = 1;
	assert_differs(&a, &b);
	b = base();
	b.ro = true;
	assert_differs(&a, &b);
	b = base();
	b.max_layer_size = 1;
	assert_differs(&a, &b);
	b = base();
	b.stdin_id = "empty";
	assert_differs(&a, &b);
	char *extra[] = {"rev=1"};
	b = base();
	b.extra = extra;
	b.n_extra = 1;
	assert_differs(&a, &b);
}

/* Two files on stdin are two inputs; a named stream is neither of them. */
static void test_cache_key_covers_stdin_and_extras(void **state)
{
	(void)state;
	struct cache_key_input a = base(), b = base();
	a.stdin_id = "file:sha256:aa";
	b.stdin_id = "file:sha256:bb";
	assert_differs(&a, &b);
	b.stdin_id = "stream";
	assert_differs(&a, &b);
	char *x1[] = {"rev=1"}, *x2[] = {"rev=2"}, *x12[] = {"rev=1", "b=2"};
	a = base();
	b = base();
	a.extra = x1;
	a.n_extra = 1;
	b.extra = x2;
	b.n_extra = 1;
	assert_differs(&a, &b);
	b.extra = x12;
	b.n_extra = 2;
	assert_differs(&a, &b);
}

/* ["ab", "c"] and ["a", "bc"] concatenate alike; the key must not. */
static void test_cache_key_keeps_list_boundaries(void **state)
{
	(void)state;
	char *x[] = {"ab", "c", NULL}, *y[] = {"a", "bc", NULL};
	struct cache_key_input a = base(), b = base();
	a.argv = x;
	b.argv = y;
	assert_differs(&a, &b);
	/* Moving a string from argv to env is a different key too. */
	char *argv1[] = {"true", "X=1", NULL}, *env0[] = {NULL};
	char *argv0[] = {"true", NULL}, *env1[] = {"X=1", NULL};
	a = base();
	a.argv = argv1;
	a.envp = env0;
	b = base();
	b.argv = argv0;
	b.envp = env1;
	assert_differs(&a, &b);
}

/* --env-pass: unset, empty and set are three different keys; NULL strings
 * differ from empty ones. */
static void test_cache_key_tells_env_pass_unset_empty_and_set(void **state)
{
	(void)state;
	struct cache_key_input u = base(), e = base(), s = base();
	u.env_pass = e.env_pass = s.env_pass = pass_names;
	u.n_env_pass = e.n_env_pass = s.n_env_pass = 1;
	u.env_pass_values = pass_unset;
	e.env_pass_values = pass_empty;
	s.env_pass_values = pass_set;
	assert_differs(&u, &e);
	assert_differs(&e, &s);
	assert_differs(&u, &s);
	struct cache_key_input n = base(), z = base();
	n.cwd = NULL;
	z.cwd = "";
	assert_differs(&n, &z);
}

/* --tenant: each tenant its own keys (never answered from another's
 * entries), and no tenant apart from any named one. */
static void test_cache_key_separates_tenants(void **state)
{
	(void)state;
	struct cache_key_input none = base(), a = base(), b = base();
	a.tenant = "a";
	b.tenant = "b";
	assert_differs(&none, &a);
	assert_differs(&a, &b);
	struct cache_key_input empty = base();
	empty.tenant = "";
	assert_differs(&none, &empty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cache_key_is_deterministic),
	    cmocka_unit_test(test_cache_key_changes_with_each_field),
	    cmocka_unit_test(test_cache_key_covers_stdin_and_extras),
	    cmocka_unit_test(test_cache_key_keeps_list_boundaries),
	    cmocka_unit_test(test_cache_key_tells_env_pass_unset_empty_and_set),
	    cmocka_unit_test(test_cache_key_separates_tenants),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
