/* Unit tests for layers/layer_check: a published layer passes as it was
 * published, and any change to its tree after publication (a write of the
 * same size, a new file, a removal, a chmod, utimes back to the layer's
 * time) is refused, naming the layer and the path. Run as
 * root and as a plain user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layers/layer.h"
#include "layers/layer_check.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "tests/unit/fixture.h"

static void sample(const char *root)
{
	fx_dir(root, "d", 0755);
	fx_file(root, "d/f", "orig\n", 0644);
	fx_file(root, "g", "g\n", 0644);
}

/* ctime has the file system's clock granularity (a jiffy, a few ms): a
 * change must come in a later tick than the publication to be seen. */
static void next_tick(void)
{
	struct timespec ts = {0, 30 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static char *tree_path(struct fx_store *fs, const char *digest, const char *rel)
{
	_cleanup_free_ char *t = layer_tree_path(&fs->s, digest);
	return xasprintf("%s/%s", t, rel);
}

static void tamper(struct fx_store *fs, const char *digest, int how)
{
	_cleanup_free_ char *f = tree_path(fs, digest, "d/f");
	_cleanup_free_ char *d = tree_path(fs, digest, "d");
	struct stat st;
	assert_int_equal(stat(f, &st), 0);
	/* Layers keep their write bits (docs/model.md "Layers"). */
	switch (how) {
	case 0: { /* same size, mtime put back */
		int fd = open(f, O_WRONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, "evil\n", 5, 0), 5);
		const struct timespec t[2] = {st.st_atim, st.st_mtim};
		assert_int_equal(futimens(fd, t), 0);
		close(fd);
		break;
	}
	case 1: /* a planted file */
		fx_file(d, "new", "x", 0644);
		break;
	case 2: /* removed */
		assert_int_equal(unlink(f), 0);
		break;
	case 3: /* chmod only */
		assert_int_equal(chmod(f, 0600), 0);
		break;
	}
}

static void test_layer_check_passes_an_untouched_layer(void **state)
{
	(void)state;
	struct fx_store fs;
	fx_store_create(&fs);
	char digest[DIGEST_STRLEN];
	fx_publish(&fs, sample, digest);
	next_tick();
	struct wsbox_error err = {0};
	if (layer_check(&fs.s, digest, &err))
		fail_msg("layer_check: %s", err.msg);
	/* Reading it changes nothing. */
	_cleanup_free_ char *f = tree_path(&fs, digest, "d/f");
	_cleanup_free_ char *c = xasprintf("cat '%s' >/dev/null", f);
	assert_int_equal(system(c), 0);
	assert_int_equal(layer_check(&fs.s, digest, &err), 0);
	fx_store_remove(&fs);
}

static void
test_layer_check_refuses_a_tree_changed_after_publication(void **state)
{
	(void)state;
	static const char *const what[] = {"d/f", "d", "d", "d/f"};
	for (int how = 0; how < 4; how++) {
		struct fx_store fs;
		fx_store_create(&fs);
		char digest[DIGEST_STRLEN];
		fx_publish(&fs, sample, digest);
		next_tick();
		tamper(&fs, digest, how);
		struct wsbox_error err = {0};
		assert_int_equal(layer_check(&fs.s, digest, &err), -EIO);
		_cleanup_free_ char *want =
		    xasprintf("layer %s: `%s` changed since it was published",
			      digest, what[how]);
		assert_string_equal(err.msg, want);
		fx_store_remove(&fs);
	}
}

static bool whiteouts_made;

static void with_whiteout(const char *root)
{
	sample(root);
	whiteouts_made = fx_whiteout(root, "gone") == 0;
}

/* Overlay's whiteouts of one mount are links of one inode in its work
 * dir, removed with the attempt after publication: that sets their ctime
 * and is no change to the layer. */
static void test_layer_check_ignores_a_whiteout_links_ctime(void **state)
{
	(void)state;
	struct fx_store fs;
	fx_store_create(&fs);
	char digest[DIGEST_STRLEN];
	fx_publish(&fs, with_whiteout, digest);
	if (!whiteouts_made) {
		fx_store_remove(&fs);
		skip(); /* no whiteouts for this process */
	}
	next_tick();
	_cleanup_free_ char *w = tree_path(&fs, digest, "gone");
	_cleanup_free_ char *o = xasprintf("%s/outside-link", fs.dir);
	assert_int_equal(link(w, o), 0);
	assert_int_equal(unlink(o), 0);
	struct wsbox_error err = {0};
	if (layer_check(&fs.s, digest, &err))
		fail_msg("layer_check: %s", err.msg);
	fx_store_remove(&fs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layer_check_passes_an_untouched_layer),
	    cmocka_unit_test(
		test_layer_check_refuses_a_tree_changed_after_publication),
	    cmocka_unit_test(test_layer_check_ignores_a_whiteout_links_ctime),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
