/* tests/unit/fixture.c: the shared unit-test fixtures (see fixture.h). */
#include "tests/unit/fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "layers/capture.h"
#include "layers/layer.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

char *fx_tree_new(void)
{
	const char *tmp = getenv("TMPDIR");
	char *t = xasprintf("%s/wsbox-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(t));
	return t;
}

void fx_tree_remove(const char *root)
{
	/* rm copes with any depth; read-only layers need u+rwx first. */
	_cleanup_free_ char *cmd = xasprintf(
	    "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", root, root);
	assert_int_equal(system(cmd), 0);
}

char *fx_path(const char *root, const char *rel)
{
	return xasprintf("%s/%s", root, rel);
}

void fx_dir(const char *root, const char *rel, mode_t mode)
{
	_cleanup_free_ char *p = fx_path(root, rel);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(chmod(p, mode), 0);
}

void fx_file(const char *root, const char *rel, const char *content,
	     mode_t mode)
{
	_cleanup_free_ char *p = fx_path(root, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, content, strlen(content)), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

void fx_symlink(const char *root, const char *rel, const char *target)
{
	_cleanup_free_ char *p = fx_path(root, rel);
	assert_int_equal(symlink(target, p), 0);
}

int fx_whiteout(const char *root, const char *rel)
{
	_cleanup_free_ char *p = fx_path(root, rel);
	if (mknod(p, S_IFCHR | 0000, makedev(0, 0)) < 0) {
		assert_true(errno == EPERM || errno == EACCES);
		return -errno;
	}
	return 0;
}

mode_t fx_mode_of(const char *root, const char *rel)
{
	_cleanup_free_ char *p = fx_path(root, rel);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	return st.st_mode & 07777;
}

bool fx_exists(const char *root, const char *rel)
{
	_cleanup_free_ char *p = fx_path(root, rel);
	struct stat st;
	return lstat(p, &st) == 0;
}

void fx_store_create(struct fx_store *fs)
{
	memset(fs, 0, sizeof *fs);
	fs->dir = fx_tree_new();
	fs->path = fx_path(fs->dir, "store");
	struct wsbox_error err = {0};
	if (store_open(fs->path, true, &fs->s, &err) < 0)
		fail_msg("store_open %s: %s", fs->path, err.msg);
}

void fx_store_reopen(struct fx_store *fs)
{
	store_close(&fs->s);
	struct wsbox_error err = {0};
	if (store_open(fs->path, false, &fs->s, &err) < 0)
		fail_msg("store_open %s: %s", fs->path, err.msg);
}

void fx_store_remove(struct fx_store *fs)
{
	store_close(&fs->s);
	fx_tree_remove(fs->dir);
	free(fs->path);
	free(fs->dir);
	memset(fs, 0, sizeof *fs);
}

void fx_publish(struct fx_store *fs, void (*build)(const char *root),
		char digest[DIGEST_STRLEN])
{
	struct wsbox_error err = {0};
	struct attempt a;
	if (attempt_create(&fs->s, &a, &err) < 0)
		fail_msg("attempt_create: %s", err.msg);
	fx_dir(a.dir, "tree", 0755);
	_cleanup_free_ char *tree = fx_path(a.dir, "tree");
	build(tree);
	int fd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct capture_options o = {.owner_uid = (uid_t)-1,
				    .owner_gid = (gid_t)-1};
	struct manifest m = {0};
	struct capture_stats st;
	int r = capture_tree(fd, &o, &m, &st, &err);
	close(fd);
	if (r < 0)
		fail_msg("capture_tree: %s", err.msg);
	if (layer_publish(&fs->s, &a, "tree", &m, digest, &err) < 0)
		fail_msg("layer_publish: %s", err.msg);
	manifest_free(&m);
	if (attempt_discard(&fs->s, &a, &err) < 0)
		fail_msg("attempt_discard: %s", err.msg);
}

int fx_run_tests(const struct CMUnitTest *tests, size_t n,
		 CMFixtureFunction setup, CMFixtureFunction teardown)
{
	const char *only = getenv("WSBOX_UNIT_ONLY");
	const char *filter = getenv("TEST_FILTER");
	regex_t re;
	bool use_re = filter && *filter;
	if (use_re && regcomp(&re, filter, REG_EXTENDED | REG_NOSUB) != 0) {
		fprintf(stderr, "TEST_FILTER `%s`: not an extended regex\n",
			filter);
		return 1;
	}
	_cleanup_free_ struct CMUnitTest *kept = xcalloc(n + 1, sizeof *kept);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (only && *only && strcmp(only, tests[i].name))
			continue;
		if (use_re) {
			_cleanup_free_ char *name =
			    xasprintf("%s:%s", program_invocation_short_name,
				      tests[i].name);
			if (regexec(&re, name, 0, NULL, 0) != 0)
				continue;
		}
		kept[k++] = tests[i];
	}
	if (use_re)
		regfree(&re);
	return _cmocka_run_group_tests(program_invocation_short_name, kept, k,
				       setup, teardown);
}
