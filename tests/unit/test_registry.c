/* Unit tests for the registry client's parsers (layers/registry_url.c,
 * layers/registry_auth.c), the tag mapping (layers/remote.c) and the OCI
 * manifest codec (layers/oci.c): everything a registry or a user's auth
 * file can feed them is hostile. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "layers/oci.h"
#include "layers/registry.h"
#include "layers/remote.h"
#include "tests/fuzz/target_oci.h"

static int parse(const char *url, bool insecure, struct registry_url *u)
{
	struct wsbox_error err = {0};
	return registry_url_parse(url, insecure, u, &err);
}

static void test_registry_url_splits_host_port_and_repository(void **st)
{
	(void)st;
	struct registry_url u;
	assert_int_equal(
	    parse("https://reg.example.com:5000/team/wsbox/ci", false, &u), 0);
	assert_string_equal(u.scheme, "https");
	assert_string_equal(u.authority, "reg.example.com:5000");
	assert_string_equal(u.repo, "team/wsbox/ci");
	assert_string_equal(u.base, "https://reg.example.com:5000");
	assert_string_equal(u.url,
			    "https://reg.example.com:5000/team/wsbox/ci");
	assert_false(u.loopback);
	registry_url_free(&u);
	assert_int_equal(parse("https://[::1]:443/a", false, &u), 0);
	assert_string_equal(u.authority, "[::1]:443");
	assert_true(u.loopback);
	registry_url_free(&u);
}

static void test_registry_url_plain_http_only_to_loopback(void **st)
{
	(void)st;
	const char *ok[] = {"http://127.0.0.1:5000/w/t", "http://127.9.8.7/w",
			    "http://localhost:1/w", "http://[::1]:5000/w"};
	const char *refused[] = {"http://10.0.0.1:5000/w",
				 "http://example.com/w", "http://128.0.0.1/w",
				 "http://[::2]/w"};
	struct registry_url u;
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		assert_int_equal(parse(ok[i], false, &u), 0);
		assert_true(u.loopback);
		registry_url_free(&u);
	}
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		struct wsbox_error err = {0};
		assert_true(registry_url_parse(refused[i], false, &u, &err) <
			    0);
		assert_non_null(
		    strstr(err.msg, "plain http only to a loopback"));
		/* --remote-insecure allows it. */
		assert_int_equal(parse(refused[i], true, &u), 0);
		registry_url_free(&u);
	}
}

static void test_registry_url_refuses_malformed_remotes(void **st)
{
	(void)st;
	const char *bad[] = {
	    "ftp://h/w",	 "https://h",	    "https://h/",
	    "https://h/Upper",	 "https://u:p@h/w", "https://h/w?x=1",
	    "https://h/w#f",	 "https://h/w%2f",  "https://h:0/w",
	    "https://h:65536/w", "https://h:/w",    "https://[zz]/w",
	    "https://h/w//x",	 "https://h/w/",    "https://h/-w",
	    "https://h/w..x",	 "https://-h/w",    "https:///w",
	    "https://h w/x",	 "https://h/a___b",
	};
	struct registry_url u;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (parse(bad[i], true, &u) == 0)
			fail_msg("accepted %s", bad[i]);
	}
	assert_int_equal(parse("https://h/a__b.c-d--e/f_g", false, &u), 0);
	registry_url_free(&u);
}

static void test_registry_tag_grammar(void **st)
{
	(void)st;
	char max[REGISTRY_TAG_MAX + 2];
	memset(max, 'a', REGISTRY_TAG_MAX);
	max[REGISTRY_TAG_MAX] = '\0';
	assert_true(registry_tag_valid(max));
	assert_true(registry_tag_valid("_x.Y-9"));
	max[REGISTRY_TAG_MAX] = 'a';
	max[REGISTRY_TAG_MAX + 1] = '\0';
	assert_false(registry_tag_valid(max));
	assert_false(registry_tag_valid(""));
	assert_false(registry_tag_valid(".x"));
	assert_false(registry_tag_valid("-x"));
	assert_false(registry_tag_valid("a:b"));
	assert_false(registry_tag_valid("a/b"));
}

static void test_remote_record_tag_direct_when_unambiguous(void **st)
{
	(void)st;
	char tag[REGISTRY_TAG_MAX + 1];
	remote_record_tag("r1", "build", tag);
	assert_string_equal(tag, "run-r1.task-build");
	/* A run holding ".task-" could be read two ways: hashed. */
	char a[REGISTRY_TAG_MAX + 1], b[REGISTRY_TAG_MAX + 1];
	remote_record_tag("a.task-b", "c", a);
	remote_record_tag("a", "b.task-c", b);
	assert_string_equal(b, "run-a.task-b.task-c");
	assert_int_equal(strncmp(a, "record-", 7), 0);
	assert_int_equal(strlen(a), 7 + 64);
	assert_true(registry_tag_valid(a));
}

static void test_remote_record_tag_hashes_long_names(void **st)
{
	(void)st;
	char run[129], tag[REGISTRY_TAG_MAX + 1], again[REGISTRY_TAG_MAX + 1];
	char other[REGISTRY_TAG_MAX + 1];
	memset(run, 'r', 128);
	run[128] = '\0';
	remote_record_tag(run, "t", tag);
	remote_record_tag(run, "t", again);
	remote_record_tag(run, "u", other);
	assert_int_equal(strncmp(tag, "record-", 7), 0);
	assert_true(registry_tag_valid(tag));
	assert_string_equal(tag, again);
	assert_string_not_equal(tag, other);
	/* Exactly at the bound: still direct. */
	char r2[128];
	memset(r2, 'r', 113);
	r2[113] = '\0'; /* "run-" + 113 + ".task-" + 5 = 128 */
	remote_record_tag(r2, "abcde", tag);
	assert_int_equal(strlen(tag), 128);
	assert_int_equal(strncmp(tag, "run-", 4), 0);
}

static void test_remote_layer_and_cache_tags(void **st)
{
	(void)st;
	const char *d = "sha256:"
			"0123456789abcdef0123456789abcdef0123456789abcdef012345"
			"6789abcdef";
	char tag[REGISTRY_TAG_MAX + 1];
	remote_layer_tag(d, tag);
	assert_string_equal(tag, "layer-0123456789abcdef0123456789abcdef0123456"
				 "789abcdef0123456789abcdef");
	remote_cache_tag(d, tag);
	assert_int_equal(strncmp(tag, "cache-0123", 10), 0);
	assert_true(registry_tag_valid(tag));
}

static void test_registry_challenge_parses_bearer(void **st)
{
	(void)st;
	struct registry_challenge c;
	assert_int_equal(
	    registry_challenge_parse(
		"Bearer realm=\"https://auth.example.com/token\",service="
		"\"registry.example.com\",scope=\"repository:team/"
		"ci:pull,push\"",
		&c),
	    0);
	assert_int_equal(c.scheme, REGISTRY_AUTH_BEARER);
	assert_string_equal(c.realm, "https://auth.example.com/token");
	assert_string_equal(c.service, "registry.example.com");
	assert_string_equal(c.scope, "repository:team/ci:pull,push");
	registry_challenge_free(&c);
	/* Case, spacing, tokens, escapes, unknown parameters. */
	assert_int_equal(registry_challenge_parse(
			     "bearer  error=\"insufficient_scope\", realm=r ,"
			     "service=\"a\\\"b\"",
			     &c),
			 0);
	assert_string_equal(c.realm, "r");
	assert_string_equal(c.service, "a\"b");
	assert_null(c.scope);
	registry_challenge_free(&c);
}

static void test_registry_challenge_parses_basic_and_refuses_others(void **st)
{
	(void)st;
	struct registry_challenge c;
	assert_int_equal(registry_challenge_parse("Basic realm=\"wsbox\"", &c),
			 0);
	assert_int_equal(c.scheme, REGISTRY_AUTH_BASIC);
	assert_string_equal(c.realm, "wsbox");
	registry_challenge_free(&c);
	assert_int_equal(registry_challenge_parse("Digest realm=x", &c),
			 -EINVAL);
	assert_int_equal(registry_challenge_parse("", &c), -EINVAL);
	/* A bearer challenge without a realm cannot be answered. */
	assert_int_equal(registry_challenge_parse("Bearer service=x", &c),
			 -EINVAL);
	assert_int_equal(registry_challenge_parse("Bearer realm=\"open", &c),
			 -EINVAL);
}

static int auth(const char *json, const char *authority, char **user,
		char **pass)
{
	struct wsbox_error err = {0};
	return registry_auth_parse(json, strlen(json), authority, user, pass,
				   &err);
}

static void test_registry_auth_file_decodes_base64(void **st)
{
	(void)st;
	char *u, *p;
	/* "alice:s3cret" */
	assert_int_equal(auth("{\"auths\":{\"127.0.0.1:5000\":{\"auth\":"
			      "\"YWxpY2U6czNjcmV0\"}}}",
			      "127.0.0.1:5000", &u, &p),
			 1);
	assert_string_equal(u, "alice");
	assert_string_equal(p, "s3cret");
	free(u);
	free(p);
	/* Docker's URL-shaped keys; one and two padding bytes; a password
	 * holding colons. "bob:p:w" and "al:pw" */
	assert_int_equal(auth("{\"auths\":{\"https://reg:443/v1/"
			      "\":{\"auth\":\"Ym9iOnA6dw==\"}}}",
			      "reg:443", &u, &p),
			 1);
	assert_string_equal(u, "bob");
	assert_string_equal(p, "p:w");
	free(u);
	free(p);
	assert_int_equal(
	    auth("{\"auths\":{\"r\":{\"auth\":\"YWw6cHc=\"}}}", "r", &u, &p),
	    1);
	assert_string_equal(u, "al");
	assert_string_equal(p, "pw");
	free(u);
	free(p);
}

static void test_registry_auth_file_misses_and_refusals(void **st)
{
	(void)st;
	char *u = NULL, *p = NULL;
	const char *other =
	    "{\"auths\":{\"reg:5000\":{\"auth\":\"YWw6cHc=\"}}}";
	assert_int_equal(auth(other, "reg", &u, &p), 0);
	assert_int_equal(auth(other, "reg:500", &u, &p), 0);
	assert_int_equal(auth("{}", "reg", &u, &p), 0);
	assert_true(auth("not json", "reg", &u, &p) < 0);
	assert_true(auth("{\"auths\":[]}", "reg", &u, &p) < 0);
	/* Not base64, no colon, empty user, NUL inside. */
	assert_true(
	    auth("{\"auths\":{\"r\":{\"auth\":\"%%%%\"}}}", "r", &u, &p) < 0);
	assert_true(auth("{\"auths\":{\"r\":{\"auth\":\"YWxpY2U=\"}}}", "r", &u,
			 &p) < 0);
	assert_true(
	    auth("{\"auths\":{\"r\":{\"auth\":\"OnB3\"}}}", "r", &u, &p) < 0);
	assert_true(auth("{\"auths\":{\"r\":{\"auth\":\"YQBiOmM=\"}}}", "r", &u,
			 &p) < 0);
	assert_true(auth("{\"auths\":{\"r\":{\"auth\":\"YWw6cHc\"}}}", "r", &u,
			 &p) < 0);
	assert_null(u);
	assert_null(p);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_registry_auth_lookup_order(void **st)
{
	(void)st;
	char dir[] = "/tmp/wsbox-auth.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof path, "%s/containers", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/.docker", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/containers/auth.json", dir);
	write_text(path,
		   "{\"auths\":{\"h\":{\"auth\":\"eGRnOjE=\"}}}"); /* xdg:1 */
	snprintf(path, sizeof path, "%s/.docker/config.json", dir);
	write_text(path, "{\"auths\":{\"h\":{\"auth\":\"ZG9jOjI=\"},"
			 "\"d\":{\"auth\":\"ZG9jOjI=\"}}}"); /* doc:2 */
	snprintf(path, sizeof path, "%s/file.json", dir);
	write_text(path,
		   "{\"auths\":{\"h\":{\"auth\":\"ZW52OjM=\"}}}"); /* env:3 */
	setenv("XDG_RUNTIME_DIR", dir, 1);
	setenv("HOME", dir, 1);
	setenv("REGISTRY_AUTH_FILE", path, 1);
	struct wsbox_error err = {0};
	char *u, *p;
	assert_int_equal(registry_auth_lookup("h", &u, &p, &err), 1);
	assert_string_equal(u, "env");
	free(u);
	free(p);
	unsetenv("REGISTRY_AUTH_FILE");
	assert_int_equal(registry_auth_lookup("h", &u, &p, &err), 1);
	assert_string_equal(u, "xdg");
	free(u);
	free(p);
	/* The first file with an entry for the host wins. */
	assert_int_equal(registry_auth_lookup("d", &u, &p, &err), 1);
	assert_string_equal(u, "doc");
	free(u);
	free(p);
	assert_int_equal(registry_auth_lookup("none", &u, &p, &err), 0);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_registry_location_join_appends_digest(void **st)
{
	(void)st;
	const char *d = "sha256:ab";
	char *s = registry_location_join(
	    "http://127.0.0.1:5000/v2/w/blobs/uploads/u1?_state=xyz", d);
	assert_string_equal(
	    s, "http://127.0.0.1:5000/v2/w/blobs/uploads/u1?_state=xyz&digest="
	       "sha256%3Aab");
	free(s);
	s = registry_location_join("/v2/w/blobs/uploads/u1", d);
	assert_string_equal(s, "/v2/w/blobs/uploads/u1?digest=sha256%3Aab");
	free(s);
}

static void test_registry_location_resolve_stays_on_the_remote(void **st)
{
	(void)st;
	struct registry_url u;
	assert_int_equal(parse("http://127.0.0.1:5000/w/t", false, &u), 0);
	struct wsbox_error err = {0};
	char *out = NULL;
	assert_int_equal(registry_location_resolve(
			     &u, "/v2/w/t/blobs/uploads/x", &out, &err),
			 0);
	assert_string_equal(out,
			    "http://127.0.0.1:5000/v2/w/t/blobs/uploads/x");
	free(out);
	assert_int_equal(
	    registry_location_resolve(
		&u, "http://127.0.0.1:5000/v2/w/t/blobs/uploads/x?_state=a",
		&out, &err),
	    0);
	free(out);
	const char *bad[] = {"http://127.0.0.1:5001/v2/x",
			     "https://127.0.0.1:5000/v2/x",
			     "http://127.0.0.1:5000.evil/v2/x",
			     "//evil/v2/x",
			     "v2/x",
			     "/v2/x y",
			     "/v2/\x01",
			     ""};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (registry_location_resolve(&u, bad[i], &out, &err) == 0)
			fail_msg("accepted Location %s", bad[i]);
	assert_int_equal(registry_location_resolve(&u, NULL, &out, &err) < 0,
			 1);
	registry_url_free(&u);
}

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char manifest_text[] =
    "{\"annotations\":{\"org.wsbox.run\":\"r1\"},"
    "\"artifactType\":\"application/vnd.wsbox.record.v1+json\","
    "\"config\":{\"digest\":\"sha256:" HEX64 "\",\"mediaType\":"
    "\"application/vnd.wsbox.record.v1+json\",\"size\":12},"
    "\"layers\":[{\"annotations\":{\"org.wsbox.layer\":\"sha256:" HEX64
    "\"},\"digest\":\"sha256:" HEX64 "\",\"mediaType\":"
    "\"application/vnd.oci.image.layer.v1.tar+zstd\",\"size\":34}],"
    "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"schemaVersion\":2}";

static void test_oci_manifest_round_trips_canonically(void **st)
{
	(void)st;
	struct wsbox_error err = {0};
	struct oci_manifest m;
	assert_int_equal(
	    oci_manifest_parse(manifest_text, strlen(manifest_text), &m, &err),
	    0);
	assert_string_equal(m.artifact_type, REMOTE_MT_RECORD);
	assert_int_equal(m.config.size, 12);
	assert_int_equal(m.n_layers, 1);
	assert_int_equal(m.layers[0].size, 34);
	assert_string_equal(oci_annotation_get(m.layers[0].annotations,
					       m.layers[0].n_annotations,
					       REMOTE_ANN_LAYER),
			    "sha256:" HEX64);
	assert_string_equal(
	    oci_annotation_get(m.annotations, m.n_annotations, REMOTE_ANN_RUN),
	    "r1");
	char *text;
	size_t len;
	assert_int_equal(oci_manifest_encode(&m, &text, &len, &err), 0);
	assert_string_equal(text, manifest_text);
	free(text);
	oci_manifest_free(&m);
}

static void refuse_manifest(const char *from, const char *to)
{
	char buf[sizeof manifest_text + 256];
	const char *at = strstr(manifest_text, from);
	assert_non_null(at);
	snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - manifest_text),
		 manifest_text, to, at + strlen(from));
	struct wsbox_error err = {0};
	struct oci_manifest m;
	if (oci_manifest_parse(buf, strlen(buf), &m, &err) == 0)
		fail_msg("accepted manifest with %s -> %s", from, to);
}

static void test_oci_manifest_refuses_hostile_fields(void **st)
{
	(void)st;
	refuse_manifest("\"schemaVersion\":2", "\"schemaVersion\":1");
	refuse_manifest("\"size\":12", "\"size\":-1");
	refuse_manifest("\"size\":12", "\"size\":\"12\"");
	refuse_manifest(
	    "\"sha256:" HEX64 "\",\"mediaType\":\"application/vnd.wsbox",
	    "\"sha256:../../x\",\"mediaType\":\"application/vnd.wsbox");
	refuse_manifest(
	    "\"sha256:" HEX64 "\",\"mediaType\":\"application/vnd.wsbox",
	    "\"sha512:" HEX64 "\",\"mediaType\":\"application/vnd.wsbox");
	refuse_manifest("application/vnd.oci.image.manifest.v1+json",
			"application/vnd.oci.image.index.v1+json");
	refuse_manifest("\"application/vnd.oci.image.layer.v1.tar+zstd\"",
			"\"text\\r\\n/x\"");
	refuse_manifest("\"org.wsbox.run\":\"r1\"", "\"org.wsbox.run\":1");
	refuse_manifest("\"org.wsbox.run\":\"r1\"",
			"\"org.wsbox.run\":\"r1\\u0000\"");
	refuse_manifest("\"schemaVersion\":2}",
			"\"schemaVersion\":2,\"schemaVersion\":2}");
	refuse_manifest("\"layers\":[", "\"layers\":{},\"x\":[");
	struct wsbox_error err = {0};
	struct oci_manifest m;
	assert_true(oci_manifest_parse("[]", 2, &m, &err) < 0);
	assert_true(oci_manifest_parse("{", 1, &m, &err) < 0);
}

/* The fuzz seeds double as parser tests: accept-* parse, refuse-* do not,
 * and no seed breaks the target's invariants (tests/fuzz/target_oci.h). */
static void test_oci_fuzz_seeds_replay(void **st)
{
	(void)st;
	_cleanup_free_ char *names =
	    fuzz_list_dir(AT_FDCWD, "tests/fuzz/seeds/oci");
	assert_non_null(names);
	size_t count = 0;
	char *save = NULL;
	for (char *n = strtok_r(names, " ", &save); n;
	     n = strtok_r(NULL, " ", &save), count++) {
		_cleanup_free_ char *path =
		    xasprintf("tests/fuzz/seeds/oci/%s", n);
		char *buf = NULL;
		size_t len = 0;
		struct wsbox_error err = {0};
		if (read_file_at(AT_FDCWD, path, 1u << 20, &buf, &len, &err) <
		    0)
			fail_msg("%s", err.msg);
		int r = fuzz_oci_one((const uint8_t *)buf, len);
		free(buf);
		if (r == FUZZ_BUG)
			fail_msg("%s: invariant broken", path);
		if (!strncmp(n, "accept-", 7) && r != FUZZ_ACCEPTED)
			fail_msg("%s: refused", path);
		if (!strncmp(n, "refuse-", 7) && r != FUZZ_REFUSED)
			fail_msg("%s: accepted", path);
	}
	assert_true(count >= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_registry_url_splits_host_port_and_repository),
	    cmocka_unit_test(test_registry_url_plain_http_only_to_loopback),
	    cmocka_unit_test(test_registry_url_refuses_malformed_remotes),
	    cmocka_unit_test(test_registry_tag_grammar),
	    cmocka_unit_test(test_remote_record_tag_direct_when_unambiguous),
	    cmocka_unit_test(test_remote_record_tag_hashes_long_names),
	    cmocka_unit_test(test_remote_layer_and_cache_tags),
	    cmocka_unit_test(test_registry_challenge_parses_bearer),
	    cmocka_unit_test(
		test_registry_challenge_parses_basic_and_refuses_others),
	    cmocka_unit_test(test_registry_auth_file_decodes_base64),
	    cmocka_unit_test(test_registry_auth_file_misses_and_refusals),
	    cmocka_unit_test(test_registry_auth_lookup_order),
	    cmocka_unit_test(test_registry_location_join_appends_digest),
	    cmocka_unit_test(
		test_registry_location_resolve_stays_on_the_remote),
	    cmocka_unit_test(test_oci_manifest_round_trips_canonically),
	    cmocka_unit_test(test_oci_manifest_refuses_hostile_fields),
	    cmocka_unit_test(test_oci_fuzz_seeds_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
