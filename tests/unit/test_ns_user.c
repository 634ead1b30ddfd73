/* Unit tests for sandbox/ns_user.c: root's subordinate range from an
 * /etc/subuid-format file, its refusal when it meets other users' ids
 * (idrange.c) and the range form of the id maps (the root-mode half; the
 * single-id form is in test_exec_opts.c). */
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

#include "sandbox/idrange.h"
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

/* Id databases in temp files (empty for NULL); files_free removes them. */
static struct idrange_files files_of(const char *subuid, const char *subgid,
				     const char *passwd, const char *group)
{
	static char paths[4][64];
	const char *content[4] = {subuid, subgid, passwd, group};
	for (int i = 0; i < 4; i++)
		strcpy(paths[i], subid_file(content[i] ? content[i] : ""));
	return (struct idrange_files){paths[0], paths[1], paths[2], paths[3]};
}

static void files_free(const struct idrange_files *f)
{
	unlink(f->subuid);
	unlink(f->subgid);
	unlink(f->passwd);
	unlink(f->group);
}

static const struct idrange_files no_files = {
    "/nonexistent/subuid", "/nonexistent/subgid", "/nonexistent/passwd",
    "/nonexistent/group"};

/* Run ns_user_root_ids_from(f, base) expecting a refusal whose message
 * contains `want`. */
static void expect_overlap(const struct idrange_files *f, unsigned long base,
			   const char *want)
{
	struct ns_user_ids ids;
	struct wsbox_error e = {0};
	assert_int_equal(ns_user_root_ids_from(f, base, 0, 0, &ids, &e),
			 -EINVAL);
	if (!strstr(e.msg, want))
		fail_msg("message `%s` lacks `%s`", e.msg, want);
}

static void test_ns_user_refuses_another_users_subid_entry(void **state)
{
	(void)state;
	struct idrange_files f =
	    files_of("alice:150000:65536\n", "1002:300000:10\n", NULL, NULL);
	expect_overlap(&f, 100000, "id range 100000-165535: overlaps ");
	expect_overlap(&f, 100000,
		       " entry of user alice (150000-215535); pick another "
		       "with --idmap-base or give root its own /etc/subuid "
		       "entry");
	/* A numeric name is a uid; the gid side is checked on its own. */
	expect_overlap(&f, 250000, "entry of uid 1002 (300000-300009)");
	/* Just past both: fine. */
	struct ns_user_ids ids;
	struct wsbox_error e = {0};
	assert_int_equal(ns_user_root_ids_from(&f, 300010, 0, 0, &ids, &e), 0);
	assert_int_equal(ids.host_uid, 300010);
	files_free(&f);
}

/* shadow-utils reads subordinate ids with base 0: hex and octal entries
 * are ranges newuidmap grants, and a line longer than any buffer is still
 * one entry. */
static void test_ns_user_refuses_hex_octal_and_long_subid_entries(void **state)
{
	(void)state;
	struct idrange_files f =
	    files_of("alice:0x70000000:0x10000\n", NULL, NULL, NULL);
	expect_overlap(&f, 0, "id range 1879048192-1879113727: overlaps ");
	expect_overlap(&f, 0, "entry of user alice (1879048192-1879113727)");
	files_free(&f);
	/* Octal 0100000 is 32768: its range is 32768-98303, not 100000-. */
	f = files_of("bob:0100000:65536\n", NULL, NULL, NULL);
	expect_overlap(&f, 40000, "entry of user bob (32768-98303)");
	struct ns_user_ids ids;
	struct wsbox_error e = {0};
	assert_int_equal(ns_user_root_ids_from(&f, 98304, 0, 0, &ids, &e), 0);
	files_free(&f);
	char line[700];
	memset(line, 'c', 600);
	snprintf(line + 600, sizeof line - 600, ":200000:65536\n");
	f = files_of(line, NULL, NULL, NULL);
	expect_overlap(&f, 200000, "(200000-265535)");
	files_free(&f);
	/* Root's own entry in hex is root's range. */
	f = files_of("root:0x7a000000:0x10000\n", "0:0x7a000000:65536\n", NULL,
		     NULL);
	assert_int_equal(ns_user_root_ids_from(&f, 0, 0, 0, &ids, &e), 0);
	assert_int_equal(ids.host_uid, 0x7a000000);
	files_free(&f);
}

static void test_ns_user_refuses_passwd_and_group_ids(void **state)
{
	(void)state;
	struct idrange_files f =
	    files_of(NULL, NULL,
		     "root:x:0:0::/root:/bin/sh\n"
		     "bob:x:70000:70001::/home/bob:/bin/sh\n",
		     "root:x:0:\ndevs:x:90000:bob\n");
	expect_overlap(&f, 65536,
		       "id range 65536-131071: overlaps uid 70000 of user bob "
		       "in ");
	expect_overlap(&f, 70001, "overlaps gid 70001 of user bob in ");
	expect_overlap(&f, 80000, "overlaps gid 90000 of group devs in ");
	files_free(&f);
}

static void test_ns_user_takes_roots_own_entry(void **state)
{
	(void)state;
	struct ns_user_ids ids;
	struct wsbox_error e = {0};
	struct idrange_files f =
	    files_of("root:500000:65536\nalice:100000:65536\n",
		     "0:500000:65536\n", NULL, NULL);
	assert_int_equal(ns_user_root_ids_from(&f, 0, 0, 0, &ids, &e), 0);
	assert_int_equal(ids.host_uid, 500000);
	assert_int_equal(ids.host_gid, 500000);
	files_free(&f);
	/* Root's entry overlapping alice's: refused, naming root's entry. */
	f = files_of("root:500000:65536\nalice:530000:65536\n",
		     "root:500000:65536\n", NULL, NULL);
	expect_overlap(&f, 0, "alice (530000-595535); move root's /etc/subuid");
	files_free(&f);
}

static void test_ns_user_default_range_is_above_useradd_ranges(void **state)
{
	(void)state;
	struct ns_user_ids ids;
	struct wsbox_error e = {0};
	/* useradd allocates from SUB_UID_MIN 100000 to SUB_UID_MAX 600100000:
	 * a full such table leaves the default alone. */
	struct idrange_files f =
	    files_of("wsbox-test:100000:65536\nlast:600034464:65536\n",
		     "wsbox-test:100000:65536\n", NULL, NULL);
	assert_int_equal(ns_user_root_ids_from(&f, 0, 0, 0, &ids, &e), 0);
	assert_int_equal(ids.host_uid, NS_USER_DEFAULT_BASE);
	assert_int_equal(ids.count, NS_USER_MIN_RANGE);
	files_free(&f);
}

static void test_ns_user_validates_idmap_base(void **state)
{
	(void)state;
	struct ns_user_ids ids;
	struct wsbox_error e = {0};
	assert_int_equal(
	    ns_user_root_ids_from(&no_files, 200000, 0, 0, &ids, &e), 0);
	assert_int_equal(ids.host_uid, 200000);
	assert_int_equal(ids.host_gid, 200000);
	assert_int_equal(ids.count, NS_USER_MIN_RANGE);
	/* The store owner inside the range: refused. */
	assert_int_equal(
	    ns_user_root_ids_from(&no_files, 200000, 210000, 0, &ids, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "store owner"));
	/* Past the last host id. */
	memset(&e, 0, sizeof e);
	assert_int_equal(
	    ns_user_root_ids_from(&no_files, 0xffffff00UL, 0, 0, &ids, &e),
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
	    cmocka_unit_test(test_ns_user_refuses_another_users_subid_entry),
	    cmocka_unit_test(
		test_ns_user_refuses_hex_octal_and_long_subid_entries),
	    cmocka_unit_test(test_ns_user_refuses_passwd_and_group_ids),
	    cmocka_unit_test(test_ns_user_takes_roots_own_entry),
	    cmocka_unit_test(
		test_ns_user_default_range_is_above_useradd_ranges),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
