/* Unit tests of sandbox/ns_alias.c and sandbox/util/mountinfo.c: where else
 * the store shows under the new root, from a mount table written here. A
 * bind of the store's parent, a second mount of its whole device and a
 * bound piece of it are found at the right paths; mounts of other devices,
 * mounts outside the new root and the store's own covered path give the
 * right answers too; escaped paths come back unescaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/ns.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/mountinfo.h"
#include "tests/unit/fixture.h"

/* The host: / on 8:1 with the store at /var/lib/wsbox/store; /srv/x a bind
 * of /var/lib; /data a second mount of 8:1; /mnt/layer a bound layer;
 * /home on 8:2. The new root (id 30) at /var/lib/wsbox/store/mnt/r holds
 * clones of /srv (31, with /srv/x as 32), /mnt (33, 34), /home (35), /var
 * (36), and /data (37); 40 is a bind of /srv/x outside the new root. */
static const char table[] =
    "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
    "2 1 8:1 /var/lib /srv/x rw - ext4 /dev/sda1 rw\n"
    "3 1 8:2 / /home rw - ext4 /dev/sda2 rw\n"
    "30 1 0:50 / /var/lib/wsbox/store/mnt/r rw - tmpfs tmpfs rw\n"
    "31 30 8:1 /srv /var/lib/wsbox/store/mnt/r/srv ro - ext4 /dev/sda1 rw\n"
    "32 31 8:1 /var/lib /var/lib/wsbox/store/mnt/r/srv/x ro - ext4 /dev/sda1 "
    "rw\n"
    "33 30 8:1 /mnt /var/lib/wsbox/store/mnt/r/mnt ro - ext4 /dev/sda1 rw\n"
    "34 33 8:1 /var/lib/wsbox/store/layers/ab "
    "/var/lib/wsbox/store/mnt/r/mnt/layer ro - ext4 /dev/sda1 rw\n"
    "35 30 8:2 / /var/lib/wsbox/store/mnt/r/home ro - ext4 /dev/sda2 rw\n"
    "36 30 8:1 /var /var/lib/wsbox/store/mnt/r/var ro - ext4 /dev/sda1 rw\n"
    "37 30 8:1 / /var/lib/wsbox/store/mnt/r/data ro - ext4 /dev/sda1 rw\n"
    "40 1 8:1 /var/lib /elsewhere rw - ext4 /dev/sda1 rw\n"
    "garbage line without the separator\n";

struct seen {
	char got[16][128];
	bool piece[16];
	size_t n;
};

static int record(const char *rel, bool piece, void *ctx,
		  struct wsbox_error *err)
{
	(void)err;
	struct seen *s = ctx;
	assert_true(s->n < 16);
	snprintf(s->got[s->n], sizeof s->got[s->n], "%s", rel);
	s->piece[s->n++] = piece;
	return 0;
}

static const struct hide_target store = {
    .major = 8, .minor = 1, .fs_path = "/var/lib/wsbox/store"};

static void run_each(const struct hide_target *t, struct seen *s)
{
	char *copy = xstrdup(table);
	struct wsbox_error err;
	*s = (struct seen){0};
	assert_int_equal(ns_alias_each(copy, t, 30, record, s, &err), 0);
	free(copy);
}

/* In table order (the mounts sorted by id). */
static void test_alias_each_finds_binds_second_mounts_and_pieces(void **state)
{
	(void)state;
	struct seen s;
	run_each(&store, &s);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.got[0], "srv/x/wsbox/store");
	assert_false(s.piece[0]);
	assert_string_equal(s.got[1], "mnt/layer");
	assert_true(s.piece[1]);
	/* The store's own path through the /var clone: hide_path covered
	 * it first, so the caller's check finds another inode there. */
	assert_string_equal(s.got[2], "var/lib/wsbox/store");
	assert_false(s.piece[2]);
	assert_string_equal(s.got[3], "data/var/lib/wsbox/store");
	assert_false(s.piece[3]);
}

/* A mount whose root is the target itself shows it at its mount point; one
 * on another device, none. */
static void test_alias_each_target_at_a_mount_root(void **state)
{
	(void)state;
	struct seen s;
	const struct hide_target layer = {.major = 8,
					  .minor = 1,
					  .fs_path =
					      "/var/lib/wsbox/store/layers/ab"};
	run_each(&layer, &s);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.got[0], "srv/x/wsbox/store/layers/ab");
	assert_string_equal(s.got[1], "mnt/layer");
	assert_false(s.piece[1]);
	const struct hide_target other = {
	    .major = 8, .minor = 3, .fs_path = "/var/lib/wsbox/store"};
	run_each(&other, &s);
	assert_int_equal(s.n, 0);
}

static void test_alias_each_refuses_a_missing_root_mount(void **state)
{
	(void)state;
	char *copy = xstrdup(table);
	struct wsbox_error err;
	struct seen s = {0};
	assert_true(ns_alias_each(copy, &store, 99, record, &s, &err) < 0);
	assert_non_null(strstr(err.msg, "new root's mount"));
	free(copy);
}

/* Paths with a space, a tab, a newline or a backslash come escaped. */
static void test_mountinfo_unescapes_paths(void **state)
{
	(void)state;
	char line[] = "7 1 0:5 /a\\040b /mnt/c\\011d\\012e\\134f rw shared:1 "
		      "- tmpfs my\\040src rw,size=4k\n";
	char *cur = line;
	struct mount_entry e;
	assert_true(mountinfo_next(&cur, &e));
	assert_int_equal(e.id, 7);
	assert_int_equal(e.parent, 1);
	assert_int_equal(e.major, 0);
	assert_int_equal(e.minor, 5);
	assert_string_equal(e.root, "/a b");
	assert_string_equal(e.point, "/mnt/c\td\ne\\f");
	assert_string_equal(e.fstype, "tmpfs");
	assert_string_equal(e.source, "my src");
	assert_string_equal(e.super_opts, "rw,size=4k");
	assert_false(mountinfo_next(&cur, &e));
}

/* Kernel filesystems a rootfs brings: the procfs and the cgroup mounts
 * below the new root are named, with their ids and types; a procfs outside
 * it, a tmpfs inside it and the new root itself are not. */
struct kseen {
	char got[8][160];
	size_t n;
};

static int krecord(const char *rel, uint64_t id, const char *fstype, void *ctx,
		   struct wsbox_error *err)
{
	(void)err;
	struct kseen *s = ctx;
	assert_true(s->n < 8);
	snprintf(s->got[s->n++], sizeof s->got[0], "%s %llu %s", rel,
		 (unsigned long long)id, fstype);
	return 0;
}

static void test_kernel_mounts_each_names_host_filesystems(void **state)
{
	(void)state;
	char t[] = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
		   "2 1 0:4 / /proc rw - proc proc rw\n"
		   "30 1 0:50 / /m/r rw - tmpfs tmpfs rw\n"
		   "31 30 8:1 /chroot/etc /m/r/etc ro - ext4 /dev/sda1 rw\n"
		   "32 30 0:4 / /m/r/hostproc ro - proc proc rw\n"
		   "33 30 0:26 / /m/r/var/cg ro - tmpfs tmpfs ro\n"
		   "34 33 0:30 / /m/r/var/cg/memory ro - cgroup cgroup rw\n"
		   "35 30 0:23 / /m/r/dev/mq ro - mqueue mqueue rw\n";
	struct kseen s = {0};
	struct wsbox_error err = {0};
	assert_int_equal(ns_kernel_mounts_each(t, 30, krecord, &s, &err), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.got[0], "hostproc 32 proc");
	assert_string_equal(s.got[1], "var/cg/memory 34 cgroup");
	assert_string_equal(s.got[2], "dev/mq 35 mqueue");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_alias_each_finds_binds_second_mounts_and_pieces),
	    cmocka_unit_test(test_alias_each_target_at_a_mount_root),
	    cmocka_unit_test(test_alias_each_refuses_a_missing_root_mount),
	    cmocka_unit_test(test_mountinfo_unescapes_paths),
	    cmocka_unit_test(test_kernel_mounts_each_names_host_filesystems),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
