/* Unit tests for layers/copy_ws (README "Strategies"): a workspace
 * populated from published layers, changed as a task would change it, and
 * diffed into an upper dir that capture turns into the layer the kernel
 * overlay would have left. Run as root and as a plain user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/capture.h"
#include "layers/copy_ws.h"
#include "layers/layer.h"
#include "layers/manifest.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "tests/unit/fixture.h"

static void lower_tree(const char *root)
{
	fx_file(root, "f", "hi\n", 0644);
	fx_file(root, "keep", "k\n", 0644);
	fx_file(root, "same", "s\n", 0644);
	fx_dir(root, "d", 0755);
	fx_dir(root, "d/e", 0755);
	fx_file(root, "d/e/g", "x\n", 0644);
	fx_dir(root, "k", 0755);
	fx_dir(root, "k/j", 0755);
	fx_file(root, "k/j/z", "z\n", 0644);
	fx_symlink(root, "l", "f");
}

struct ws_case {
	struct fx_store fs;
	char *base, *ws, *upper;
	struct copy_ws snap;
};

static void case_open(struct ws_case *c)
{
	memset(c, 0, sizeof *c);
	fx_store_create(&c->fs);
	char digest[DIGEST_STRLEN];
	fx_publish(&c->fs, lower_tree, digest);
	c->base = fx_tree_new();
	c->ws = fx_path(c->base, "ws");
	c->upper = fx_path(c->base, "upper");
	fx_dir(c->base, "upper", 0755);
	char *digests[] = {digest, NULL};
	struct wsbox_error err = {0};
	if (copy_ws_populate(&c->fs.s, digests, 1, c->ws, (uid_t)-1, (gid_t)-1,
			     &c->snap, &err) < 0)
		fail_msg("copy_ws_populate: %s", err.msg);
}

/* Diff and capture: the upper dir's manifest. */
static void case_diff(struct ws_case *c, struct manifest *m)
{
	struct wsbox_error err = {0};
	_cleanup_close_ int ws =
	    open(c->ws, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int up =
	    open(c->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(ws >= 0 && up >= 0);
	if (copy_ws_diff(&c->snap, ws, up, &err) < 0)
		fail_msg("copy_ws_diff: %s", err.msg);
	struct capture_options o = {.owner_uid = (uid_t)-1,
				    .owner_gid = (gid_t)-1};
	struct capture_stats st;
	*m = (struct manifest){0};
	if (capture_tree(up, &o, m, &st, &err) < 0)
		fail_msg("capture_tree: %s", err.msg);
}

static void case_close(struct ws_case *c)
{
	copy_ws_free(&c->snap);
	fx_tree_remove(c->base);
	fx_store_remove(&c->fs);
	free(c->base);
	free(c->ws);
	free(c->upper);
}

static void need(const struct manifest *m, const char *path, char type)
{
	const struct mf_entry *e = manifest_find(m, path);
	if (!e)
		fail_msg("missing entry `%s`", path);
	if (e->type != type)
		fail_msg("`%s`: type %c, want %c", path, e->type, type);
}

static void test_copy_ws_populates_the_merged_lowers(void **state)
{
	(void)state;
	struct ws_case c;
	case_open(&c);
	assert_true(fx_exists(c.ws, "d/e/g"));
	assert_true(fx_exists(c.ws, "l"));
	assert_int_equal(fx_mode_of(c.ws, "keep") & 07777, 0644);
	case_close(&c);
}

static void test_copy_ws_unchanged_workspace_gives_an_empty_layer(void **state)
{
	(void)state;
	struct ws_case c;
	case_open(&c);
	/* Reading changes nothing. */
	_cleanup_free_ char *p = fx_path(c.ws, "keep");
	_cleanup_free_ char *text = NULL;
	size_t len;
	struct wsbox_error err = {0};
	assert_int_equal(read_file_at(AT_FDCWD, p, 64, &text, &len, &err), 0);
	struct manifest m;
	case_diff(&c, &m);
	assert_int_equal(m.n, 0);
	manifest_free(&m);
	case_close(&c);
}

/* Deletions become whiteouts, a replaced dir opaque (even where the
 * filesystem reuses the inode number), changed files and their parents
 * show, untouched entries do not. */
static void test_copy_ws_diff_is_what_overlay_would_capture(void **state)
{
	(void)state;
	struct ws_case c;
	case_open(&c);
	_cleanup_free_ char *f = fx_path(c.ws, "f");
	_cleanup_free_ char *d = fx_path(c.ws, "d");
	_cleanup_free_ char *keep = fx_path(c.ws, "keep");
	_cleanup_free_ char *z = fx_path(c.ws, "k/j/z");
	assert_int_equal(unlink(f), 0);
	fx_tree_remove(d);
	fx_dir(c.ws, "d", 0700);
	fx_file(c.ws, "d/n", "y\n", 0644);
	assert_int_equal(chmod(keep, 0600), 0);
	int fd = open(z, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "more\n", 5), 5);
	close(fd);
	fx_dir(c.ws, "fresh", 0755);
	fx_file(c.ws, "fresh/a", "a\n", 0644);
	struct manifest m;
	case_diff(&c, &m);
	need(&m, "f", MF_WHITEOUT);
	need(&m, "d", MF_OPAQUE_DIR);
	need(&m, "d/n", MF_FILE);
	need(&m, "keep", MF_FILE);
	need(&m, "k", MF_DIR);
	need(&m, "k/j", MF_DIR);
	need(&m, "k/j/z", MF_FILE);
	need(&m, "fresh", MF_DIR);
	need(&m, "fresh/a", MF_FILE);
	assert_null(manifest_find(&m, "same"));
	assert_null(manifest_find(&m, "l"));
	assert_null(manifest_find(&m, "d/e"));
	assert_int_equal(manifest_find(&m, "keep")->mode, 0600);
	assert_int_equal(manifest_find(&m, "d")->mode, 0700);
	assert_int_equal(m.n, 9);
	manifest_free(&m);
	case_close(&c);
}

/* Lowers deeper than the fd limit and a directory its owner may not list: the
 * walks hold O(1) fds on the workspace side and lend themselves the
 * permission bits. */
#define DEEP 1500
static void deep_tree(const char *root)
{
	fx_file(root, "top", "t\n", 0644);
	_cleanup_free_ char *p = fx_path(root, "deep");
	assert_int_equal(mkdir(p, 0755), 0);
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	for (int i = 0; i < DEEP; i++) {
		assert_int_equal(mkdirat(fd, "d", 0755), 0);
		int sub = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(sub >= 0);
		close(fd);
		fd = sub;
	}
	close(fd);
	fx_dir(root, "locked", 0755);
	fx_file(root, "locked/secret", "s\n", 0644);
	_cleanup_free_ char *l = fx_path(root, "locked");
	assert_int_equal(chmod(l, 0100), 0); /* search only: not listable */
}

static void test_copy_ws_walks_deep_and_locked_lowers(void **state)
{
	(void)state;
	struct ws_case c;
	memset(&c, 0, sizeof c);
	fx_store_create(&c.fs);
	char digest[DIGEST_STRLEN];
	fx_publish(&c.fs, deep_tree, digest);
	c.base = fx_tree_new();
	c.ws = fx_path(c.base, "ws");
	c.upper = fx_path(c.base, "upper");
	fx_dir(c.base, "upper", 0755);
	char *digests[] = {digest, NULL};
	struct wsbox_error err = {0};
	/* Fewer fds than levels. */
	struct rlimit old, low = {256, 256};
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int r = copy_ws_populate(&c.fs.s, digests, 1, c.ws, (uid_t)-1,
				 (gid_t)-1, &c.snap, &err);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (r < 0)
		fail_msg("copy_ws_populate: %s", err.msg);
	assert_int_equal(fx_mode_of(c.ws, "locked") & 07777, 0100);
	_cleanup_free_ char *top = fx_path(c.ws, "top");
	assert_int_equal(unlink(top), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	struct manifest m;
	case_diff(&c, &m);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	need(&m, "top", MF_WHITEOUT);
	assert_int_equal(m.n, 1);
	manifest_free(&m);
	case_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_copy_ws_populates_the_merged_lowers),
	    cmocka_unit_test(
		test_copy_ws_unchanged_workspace_gives_an_empty_layer),
	    cmocka_unit_test(test_copy_ws_diff_is_what_overlay_would_capture),
	    cmocka_unit_test(test_copy_ws_walks_deep_and_locked_lowers),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
