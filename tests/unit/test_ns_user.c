/* Unit tests for sandbox/ns_user.c: root's subordinate range from an
 * /etc/subuid-format file and the range form of the id maps (the root-mode
 * half; the single-id form is in test_exec_opts.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/ns.h"
#include "sandbox/sandbox.h"
#include "tests/unit/fixture.h"

/* Write `content` to a fresh temp file; returns its path (static). */
static const char *subid_file(const char *content)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/wsbox-subid.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
			 (ssize_t)strlen(content));
	close(fd);
	return path;
}

static void test_ns_user_finds_the_root_range(void **state)
{
	(void)state;
	unsigned long start = 1, count = 1;
	const char *p = subid_file("alice:100000:65536\n"
				   "root:300000:131072\n"
				   "root:900000:65536\n");
	assert_int_equal(ns_user_subid_range(p, &start, &count), 0);
	assert_int_equal(start, 300000);
	assert_int_equal(count, 131072);
	assert_int_equal(ns_user_root_host_id(p), 300000);
	unlink(p);
	/* "0" names root too. */
	p = subid_file("0:400000:65536");
	assert_int_equal(ns_user_subid_range(p, &start, &count), 0);
	assert_int_equal(start, 400000);
	assert_int_equal(count, 65536);
	unlink(p);
}

static void test_ns_user_skips_unusable_entries(void **state)
{
	(void)state;
	unsigned long start, count;
	/* A range starting at 0 (would map host root), an empty one, one
	 * running past the id space, garbage: none is usable. */
	const char *p = subid_file("root:0:65536\nroot:5000:0\n"
				   "root:4294967290:65536\nroot:x:y\nroot\n");
	assert_int_equal(ns_user_subid_range(p, &start, &count), -ENOENT);
	assert_int_equal(ns_user_root_host_id(p), NS_USER_DEFAULT_BASE);
	unlink(p);
	assert_int_equal(
	    ns_user_subid_range("/nonexistent/subuid", &start, &count),
	    -ENOENT);
}

static void test_ns_user_formats_the_range_map(void **state)
{
	(void)state;
	char buf[64];
	assert_int_equal(idmap_format_range(buf, sizeof buf, 0, 200000, 65536),
			 0);
	assert_string_equal(buf, "0 200000 65536\n");
	assert_int_equal(idmap_format_range(buf, 8, 0, 200000, 65536), -ENOSPC);
}

static void test_ns_user_validates_idmap_base(void **state)
{
	(void)state;
	struct ns_user_ids ids;
	struct wsbox_error e = {0};
	assert_int_equal(ns_user_root_ids(200000, 0, 0, &ids, &e), 0);
	assert_int_equal(ids.host_uid, 200000);
	assert_int_equal(ids.host_gid, 200000);
	assert_int_equal(ids.count, NS_USER_MIN_RANGE);
	/* The store owner inside the range: refused. */
	assert_int_equal(ns_user_root_ids(200000, 210000, 0, &ids, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "store owner"));
	/* Past the last host id. */
	memset(&e, 0, sizeof e);
	assert_int_equal(ns_user_root_ids(0xffffff00UL, 0, 0, &ids, &e),
			 -EINVAL);
	assert_non_null(strstr(e.msg, "past the last host id"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ns_user_finds_the_root_range),
	    cmocka_unit_test(test_ns_user_skips_unusable_entries),
	    cmocka_unit_test(test_ns_user_formats_the_range_map),
	    cmocka_unit_test(test_ns_user_validates_idmap_base),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
