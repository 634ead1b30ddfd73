/* Unit tests for layers/manifest: canonical order, escaping, the golden
 * serialized form and digest, and rejection of every kind of non-canonical
 * or hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "layers/manifest.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/cleanup.h"
#include "tests/unit/fixture.h"

#define H_HELLO                                                                \
	"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define H_EMPTY                                                                \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define GOOD_HDR "wsbox-manifest 1\n"

/* Written by hand (and cross-checked with Python's hashlib) so any change
 * of the format or the digest is caught. */
static const char golden[] = "wsbox-manifest 1\n"
			     "d 0755 0 - a\n"
			     "f 0644 5 " H_HELLO " a/b\n"
			     "l 0777 0 - a/link ../x%20y\n"
			     "f 0755 0 " H_EMPTY " a%0Ab%FF\n"
			     "D 1777 0 - a.d\n"
			     "w 0000 0 - a.d/gone\n";
static const char golden_digest[] =
    "sha256:afb7a5bfccaeaf21f44e13d5e43c33069d24cb66abd193fd43d3c6a41da32efe";

static void hex_to_bin(const char *hex, unsigned char out[32])
{
	for (int i = 0; i < 32; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
}

static void build_golden(struct manifest *m)
{
	struct mf_entry e = {.path = "a", .type = MF_DIR, .mode = 0755};
	manifest_add(m, &e);
	e = (struct mf_entry){
	    .path = "a/b", .type = MF_FILE, .mode = 0644, .size = 5};
	hex_to_bin(H_HELLO, e.sha256);
	manifest_add(m, &e);
	e = (struct mf_entry){.path = "a/link",
			      .type = MF_SYMLINK,
			      .mode = 0777,
			      .target = "../x y"};
	manifest_add(m, &e);
	e = (struct mf_entry){
	    .path = "a\nb\xff", .type = MF_FILE, .mode = 0755};
	hex_to_bin(H_EMPTY, e.sha256);
	manifest_add(m, &e);
	e = (struct mf_entry){
	    .path = "a.d", .type = MF_OPAQUE_DIR, .mode = 01777};
	manifest_add(m, &e);
	e = (struct mf_entry){.path = "a.d/gone", .type = MF_WHITEOUT};
	manifest_add(m, &e);
}

static void test_manifest_orders_paths_preorder_by_bytes(void **state)
{
	(void)state;
	/* Pre-order, siblings by bytes: a directory's subtree comes before
	 * any sibling that merely shares its name as a prefix. */
	static const char *const sorted[] = {
	    "a",  "a/b", "a/b/c", "a/c", "a\n",	 "a-",	 "a.txt",
	    "a0", "ab",	 "b",	  "b/a", "\x7f", "\xff",
	};
	size_t n = sizeof sorted / sizeof *sorted;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(manifest_path_cmp(sorted[i], sorted[i]), 0);
		for (size_t j = i + 1; j < n; j++) {
			assert_true(manifest_path_cmp(sorted[i], sorted[j]) <
				    0);
			assert_true(manifest_path_cmp(sorted[j], sorted[i]) >
				    0);
		}
	}
}

static void test_manifest_escape_percent_encodes_unsafe_bytes(void **state)
{
	(void)state;
	_cleanup_free_ char *a = manifest_escape("a b\n%\xff/\xc3\xa9~!");
	assert_string_equal(a, "a%20b%0A%25%FF/%C3%A9~!");
	_cleanup_free_ char *b = manifest_escape("");
	assert_string_equal(b, "");
	_cleanup_free_ char *c = manifest_escape("\t\x7f\x01");
	assert_string_equal(c, "%09%7F%01");
}

static void test_manifest_golden_round_trips(void **state)
{
	(void)state;
	struct manifest m = {0};
	struct wsbox_error err = {0};
	build_golden(&m);
	assert_int_equal(m.total_bytes, 5);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	assert_int_equal(manifest_serialize(&m, &text, &len, &err), 0);
	assert_int_equal(len, strlen(golden));
	assert_memory_equal(text, golden, len);

	char d[DIGEST_STRLEN];
	manifest_digest(text, len, d);
	assert_string_equal(d, golden_digest);

	struct manifest p = {0};
	assert_int_equal(manifest_parse(text, len, &p, &err), 0);
	assert_int_equal(p.n, m.n);
	assert_int_equal(p.total_bytes, 5);
	for (size_t i = 0; i < m.n; i++) {
		assert_string_equal(p.e[i].path, m.e[i].path);
		assert_int_equal(p.e[i].type, m.e[i].type);
		assert_int_equal(p.e[i].mode, m.e[i].mode);
		assert_int_equal(p.e[i].size, m.e[i].size);
		assert_memory_equal(p.e[i].sha256, m.e[i].sha256, 32);
		if (m.e[i].target)
			assert_string_equal(p.e[i].target, m.e[i].target);
		else
			assert_null(p.e[i].target);
		assert_ptr_equal(manifest_find(&p, m.e[i].path), &p.e[i]);
	}
	assert_null(manifest_find(&p, "a/a"));
	assert_null(manifest_find(&p, "zzz"));
	assert_null(manifest_find(&p, ""));
	assert_null(manifest_find(&p, "a.d/gone/x"));

	_cleanup_free_ char *again = NULL;
	size_t len2 = 0;
	assert_int_equal(manifest_serialize(&p, &again, &len2, &err), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(again, text, len);
	manifest_free(&p);
	manifest_free(&m);
	assert_null(m.e);
	assert_int_equal(m.n, 0);
}

/* Which names export can write as plain UTF-8 pax headers. */
static void test_manifest_all_utf8_tells_well_formed_names(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		bool ok;
	} cases[] = {
	    {"plain/ascii", true},
	    {"caf\xc3\xa9", true},
	    {"\xe2\x82\xac", true},
	    {"\xf0\x9f\x98\x80", true},
	    {"bad\xffname", false},
	    {"\xc0\xaf", false}, /* overlong */
	    {"\xe0\x80\xaf", false},
	    {"\xed\xa0\x80", false}, /* surrogate */
	    {"\xf4\x90\x80\x80", false},
	    {"cut\xe2\x82", false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mf_entry e = {.path = (char *)cases[i].name,
				     .type = MF_FILE};
		struct manifest m = {.e = &e, .n = 1};
		assert_int_equal(manifest_all_utf8(&m), cases[i].ok);
		/* A symlink target counts too. */
		struct mf_entry l = {.path = "link",
				     .type = MF_SYMLINK,
				     .target = (char *)cases[i].name};
		struct manifest ml = {.e = &l, .n = 1};
		assert_int_equal(manifest_all_utf8(&ml), cases[i].ok);
	}
}

static void test_manifest_empty_round_trips(void **state)
{
	(void)state;
	struct manifest m = {0};
	struct wsbox_error err = {0};
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	assert_int_equal(manifest_serialize(&m, &text, &len, &err), 0);
	assert_string_equal(text, GOOD_HDR);
	assert_int_equal(manifest_parse(text, len, &m, &err), 0);
	assert_int_equal(m.n, 0);
	assert_null(manifest_find(&m, "a"));
	manifest_free(&m);
}

/* Each case is a whole manifest that must be refused. */
static const char *const bad[] = {
    "",
    "wsbox-manifest 1",
    "wsbox-manifest 2\n",
    "wsbox-manifest 1\r\n",
    " wsbox-manifest 1\n",
    GOOD_HDR "\n",
    GOOD_HDR "d 0755 0 - a",		  /* no final newline */
    GOOD_HDR "d 0755 0 - a\n\n",	  /* empty line */
    GOOD_HDR "x 0755 0 - a\n",		  /* unknown type */
    GOOD_HDR "d 755 0 - a\n",		  /* short mode */
    GOOD_HDR "d 00755 0 - a\n",		  /* long mode */
    GOOD_HDR "d 0855 0 - a\n",		  /* not octal */
    GOOD_HDR "d 4755 0 - a\n",		  /* setuid */
    GOOD_HDR "d 2755 0 - a\n",		  /* setgid */
    GOOD_HDR "f 1644 0 " H_EMPTY " a\n",  /* sticky file */
    GOOD_HDR "l 0755 0 - a b\n",	  /* symlink mode */
    GOOD_HDR "w 0644 0 - a\n",		  /* whiteout mode */
    GOOD_HDR "d 0755 1 - a\n",		  /* size on a dir */
    GOOD_HDR "f 0644 00 " H_EMPTY " a\n", /* leading zero */
    GOOD_HDR "f 0644 -1 " H_EMPTY " a\n",
    GOOD_HDR "f 0644 18446744073709551616 " H_EMPTY " a\n",
    GOOD_HDR "f 0644 0 - a\n",		 /* file without hash */
    GOOD_HDR "d 0755 0 " H_EMPTY " a\n", /* hash on a dir */
    GOOD_HDR
    "f 0644 0 E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855 "
    "a\n",
    GOOD_HDR "f 0644 0 e3b0c44298fc1c149afbf4c8996fb924 a\n",
    GOOD_HDR
    "f 0644 0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g "
    "a\n",
    GOOD_HDR "d 0755 0 -  a\n", /* double space */
    GOOD_HDR "d 0755 0 - \n",	/* empty path */
    GOOD_HDR "d 0755 0 - /a\n", /* absolute */
    GOOD_HDR "d 0755 0 - a/\n", /* trailing slash */
    GOOD_HDR "d 0755 0 - .\n",
    GOOD_HDR "d 0755 0 - ..\n",
    GOOD_HDR "d 0755 0 - a\nd 0755 0 - a//b\n",
    GOOD_HDR "d 0755 0 - a\nd 0755 0 - a/./b\n",
    GOOD_HDR "d 0755 0 - a\nd 0755 0 - a/..\n",
    GOOD_HDR "d 0755 0 - a%2\n", /* short escape */
    GOOD_HDR "d 0755 0 - a%\n",
    GOOD_HDR "d 0755 0 - a%0a\n", /* lowercase escape */
    GOOD_HDR "d 0755 0 - a%GG\n",
    GOOD_HDR "d 0755 0 - a%41\n",	     /* needless escape */
    GOOD_HDR "d 0755 0 - a%2F\n",	     /* escaped slash */
    GOOD_HDR "d 0755 0 - a%00b\n",	     /* NUL */
    GOOD_HDR "d 0755 0 - a\tb\n",	     /* raw control byte */
    GOOD_HDR "d 0755 0 - a\xff\n",	     /* raw high byte */
    GOOD_HDR "d 0755 0 - b\nd 0755 0 - a\n", /* unsorted */
    GOOD_HDR "d 0755 0 - a\nd 0755 0 - a\n", /* duplicate */
    GOOD_HDR "d 0755 0 - a.txt\nd 0755 0 - a\nd 0755 0 - a/b\n",
    GOOD_HDR "f 0644 0 " H_EMPTY " a/b\n", /* no parent */
    GOOD_HDR "f 0644 0 " H_EMPTY " a\nf 0644 0 " H_EMPTY " a/b\n",
    GOOD_HDR "l 0777 0 - a\n",	   /* symlink w/o target */
    GOOD_HDR "d 0755 0 - a b\n",   /* target on a dir */
    GOOD_HDR "l 0777 0 - a b c\n", /* trailing field */
    GOOD_HDR "d 0755 0 - a \n",
    GOOD_HDR "f 0644 18446744073709551615 " H_EMPTY " a\n"
	     "f 0644 1 " H_EMPTY " b\n", /* total overflows */
};

static void test_manifest_parse_rejects_malformed_text(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct manifest m = {0};
		struct wsbox_error err = {0};
		size_t len = strlen(bad[i]);
		int r = manifest_parse(bad[i], len, &m, &err);
		if (r == 0)
			fail_msg("accepted bad manifest #%zu: %s", i, bad[i]);
		assert_int_equal(r, -EINVAL);
		assert_true(err.msg[0] != '\0');
		assert_null(strchr(err.msg, '\n'));
		assert_int_equal(m.n, 0);
		assert_null(m.e);
	}
}

static void test_manifest_parse_stays_within_its_buffer(void **state)
{
	(void)state;
	/* A NUL inside a line (the buffer carries its length). */
	static const char nul[] = GOOD_HDR "d 0755 0 - a\0b\n";
	struct manifest m0 = {0};
	struct wsbox_error err0 = {0};
	assert_int_equal(manifest_parse(nul, sizeof nul - 1, &m0, &err0),
			 -EINVAL);

	/* A path longer than 64 KiB is refused. */
	size_t plen = MANIFEST_PATH_MAX + 1;
	size_t cap = sizeof GOOD_HDR + 16 + plen + 2;
	_cleanup_free_ char *buf = calloc(1, cap);
	int n = snprintf(buf, cap, GOOD_HDR "d 0755 0 - ");
	memset(buf + n, 'x', plen);
	buf[n + plen] = '\n';
	struct manifest m = {0};
	struct wsbox_error err = {0};
	assert_int_equal(manifest_parse(buf, (size_t)n + plen + 1, &m, &err),
			 -EINVAL);
	/* ... and exactly 64 KiB is fine. */
	buf[n + plen - 1] = '\n';
	assert_int_equal(manifest_parse(buf, (size_t)n + plen, &m, &err), 0);
	assert_int_equal(m.n, 1);
	manifest_free(&m);

	/* A buffer that is not NUL-terminated is never over-read: parse
	 * every prefix of the golden text (only the full one is valid). */
	size_t gl = strlen(golden);
	for (size_t i = 0; i < gl; i++) {
		char *copy = malloc(i ? i : 1);
		memcpy(copy, golden, i);
		int r = manifest_parse(copy, i, &m, &err);
		/* Prefixes ending at a line boundary are valid manifests. */
		if (r == 0)
			assert_true(i == strlen(GOOD_HDR) ||
				    golden[i - 1] == '\n');
		manifest_free(&m);
		free(copy);
	}
}

static void test_manifest_serialize_refuses_unsorted_or_invalid(void **state)
{
	(void)state;
	struct wsbox_error err = {0};
	_cleanup_free_ char *text = NULL;
	size_t len;
	struct manifest m = {0};
	struct mf_entry e = {.path = "b", .type = MF_DIR, .mode = 0755};
	manifest_add(&m, &e);
	e.path = "a";
	manifest_add(&m, &e);
	assert_int_equal(manifest_serialize(&m, &text, &len, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unsorted"));
	manifest_free(&m);

	e = (struct mf_entry){.path = "a", .type = MF_FILE, .mode = 04755};
	manifest_add(&m, &e);
	assert_int_equal(manifest_serialize(&m, &text, &len, &err), -EINVAL);
	manifest_free(&m);

	e = (struct mf_entry){.path = "a\n", .type = MF_DIR, .mode = 0755};
	manifest_add(&m, &e);
	e = (struct mf_entry){.path = "a\n/x", .type = MF_FILE, .mode = 0644};
	manifest_add(&m, &e);
	e = (struct mf_entry){.path = "a\n/x/y", .type = MF_FILE, .mode = 0644};
	manifest_add(&m, &e);
	assert_int_equal(manifest_serialize(&m, &text, &len, &err), -EINVAL);
	/* The message names the escaped path and stays one line. */
	assert_non_null(strstr(err.msg, "a%0A/x/y"));
	manifest_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_manifest_orders_paths_preorder_by_bytes),
	    cmocka_unit_test(test_manifest_escape_percent_encodes_unsafe_bytes),
	    cmocka_unit_test(test_manifest_golden_round_trips),
	    cmocka_unit_test(test_manifest_empty_round_trips),
	    cmocka_unit_test(test_manifest_all_utf8_tells_well_formed_names),
	    cmocka_unit_test(test_manifest_parse_rejects_malformed_text),
	    cmocka_unit_test(test_manifest_parse_stays_within_its_buffer),
	    cmocka_unit_test(
		test_manifest_serialize_refuses_unsorted_or_invalid),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
