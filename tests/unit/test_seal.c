/* Unit tests for sandbox/seal.c: which workspaces are sealed and how, the
 * error line, and a superblock sealed for real (a tmpfs in a user and mount
 * namespace of a forked child): refused with a writer, then read-only for
 * an fd opened before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/seal.h"
#include "sandbox/util/fs.h"
#include "tests/unit/fixture.h"

static void test_seal_kind_follows_strategy_and_writability(void **state)
{
	(void)state;
	struct plan p = {.upper = "/u", .strategy = WS_OVERLAY};
	assert_int_equal(seal_kind_of(&p), SEAL_SUPERBLOCK);
	p.strategy = WS_COPY;
	assert_int_equal(seal_kind_of(&p), SEAL_MOUNT);
	p.strategy = WS_FUSE_OVERLAYFS; /* the daemon's death seals it */
	assert_int_equal(seal_kind_of(&p), SEAL_NONE);
	p.strategy = WS_OVERLAY;
	p.upper = NULL; /* --ro */
	assert_int_equal(seal_kind_of(&p), SEAL_NONE);
}

static void test_seal_fail_names_a_writer_for_ebusy(void **state)
{
	(void)state;
	struct wsbox_error err = {0};
	assert_int_equal(seal_fail(&err, EBUSY), -EBUSY);
	assert_string_equal(err.msg, "seal the workspace: a file in it is "
				     "still open for writing (Device or "
				     "resource busy)");
	assert_int_equal(err.status, 125);
	assert_int_equal(seal_fail(&err, EPERM), -EPERM);
	assert_string_equal(err.msg, "seal the workspace: cannot make it "
				     "read-only (Operation not permitted)");
}

/* In the child: 0 all held, 77 no namespaces here, else the step that
 * failed. */
static int seal_a_tmpfs(void)
{
	char umap[32], gmap[32];
	snprintf(umap, sizeof umap, "0 %u 1", (unsigned)geteuid());
	snprintf(gmap, sizeof gmap, "0 %u 1", (unsigned)getegid());
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return 77;
	/* Our own ids inside, so what we create on the tmpfs has an owner. */
	struct wsbox_error merr = {0};
	if (write_file_at(AT_FDCWD, "/proc/self/uid_map", umap, &merr) < 0 ||
	    write_file_at(AT_FDCWD, "/proc/self/setgroups", "deny", &merr) <
		0 ||
	    write_file_at(AT_FDCWD, "/proc/self/gid_map", gmap, &merr) < 0)
		return 1;
	int fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0 || fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return 77;
	int mnt = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		return 77;
	int w = openat(mnt, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	int r = openat(mnt, "f", O_RDONLY | O_CLOEXEC);
	if (w < 0 || r < 0)
		return 2;
	struct seal s = SEAL_INIT;
	s.kind = SEAL_SUPERBLOCK;
	s.fs = fspick(mnt, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	if (s.fs < 0)
		return 3;
	struct wsbox_error err = {0};
	if (seal_apply(&s, &err) != -EBUSY || s.fs != -1)
		return 4; /* a writer: refused, and the context closed */
	close(w);
	s.fs = fspick(mnt, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	if (s.fs < 0 || seal_apply(&s, &err) != 0)
		return 5;
	if (openat(mnt, "g", O_WRONLY | O_CREAT | O_CLOEXEC, 0644) >= 0 ||
	    errno != EROFS)
		return 6;
	if (openat(mnt, "f", O_WRONLY | O_CLOEXEC) >= 0 || errno != EROFS)
		return 7;
	return 0;
}

static void test_seal_superblock_refuses_a_writer_then_holds(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(seal_a_tmpfs());
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip(); /* no user namespaces for this user */
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seal_kind_follows_strategy_and_writability),
	    cmocka_unit_test(test_seal_fail_names_a_writer_for_ebusy),
	    cmocka_unit_test(test_seal_superblock_refuses_a_writer_then_holds),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
