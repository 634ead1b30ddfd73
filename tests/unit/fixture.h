/* tests/unit/fixture: what the unit tests share: a tree builder in a temp
 * dir, a temporary store, and the runner that honours `make check T=NAME`
 * and TEST_FILTER (tests/README.md). Every helper asserts with cmocka, so a
 * fixture that cannot be built fails the test that asked for it. */
#ifndef WSBOX_TESTS_UNIT_FIXTURE_H
#define WSBOX_TESTS_UNIT_FIXTURE_H
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "layers/manifest.h"
#include "layers/store.h"

/* ---- tree builder: paths are relative to a root made by fx_tree_new ---- */

/* A fresh empty dir under $TMPDIR (default /tmp); heap path. */
char *fx_tree_new(void);
/* Remove a tree of any depth, read-only dirs included. */
void fx_tree_remove(const char *root);
/* root/rel (heap). */
char *fx_path(const char *root, const char *rel);
void fx_dir(const char *root, const char *rel, mode_t mode);
void fx_file(const char *root, const char *rel, const char *content,
	     mode_t mode);
void fx_symlink(const char *root, const char *rel, const char *target);
/* Overlay's whiteout (a 0:0 char device): 0, or -errno when this process
 * may not make one (no CAP_MKNOD): the caller skips. */
int fx_whiteout(const char *root, const char *rel);
mode_t fx_mode_of(const char *root, const char *rel);
bool fx_exists(const char *root, const char *rel);

/* ---- a temporary store ---- */

struct fx_store {
	char *dir; /* the temp dir; the store is dir/store */
	char *path;
	struct store s;
};
/* Create an empty store in a fresh temp dir and open it. */
void fx_store_create(struct fx_store *fs);
/* Close and open it again (what a second wsbox process would see). */
void fx_store_reopen(struct fx_store *fs);
/* Close it and remove everything, published read-only layers included. */
void fx_store_remove(struct fx_store *fs);
/* Build a tree with `build` in a fresh attempt, capture it and publish it
 * (what exec does after a task, minus the sandbox): its digest. */
void fx_publish(struct fx_store *fs, void (*build)(const char *root),
		char digest[DIGEST_STRLEN]);

/* ---- the runner ---- */

/* cmocka_run_group_tests, keeping only the tests that `T` (via
 * WSBOX_UNIT_ONLY: one test name) and TEST_FILTER (a POSIX extended regex
 * on "<binary>:<test>") select. */
int fx_run_tests(const struct CMUnitTest *tests, size_t n,
		 CMFixtureFunction setup, CMFixtureFunction teardown);
#define FX_RUN_TESTS(tests, setup, teardown)                                   \
	fx_run_tests(tests, sizeof(tests) / sizeof(tests)[0], setup, teardown)

#endif
