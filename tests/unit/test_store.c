/* Unit tests of the store library on a temporary store, without namespaces
 * (tests/unit/fixture.h): a published layer whose tree changes afterwards
 * fails `layers verify`, task records read back what was written, and gc
 * removes what nothing names and reclaims dead attempts' staging. Run as
 * root and as a plain user. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "layers/capture.h"
#include "layers/gc.h"
#include "layers/layer.h"
#include "layers/manifest.h"
#include "layers/record.h"
#include "layers/store.h"
#include "sandbox/cli/commands.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "tests/unit/fixture.h"

/* The two trees the tests publish: different content, so two layers. */
static void tree_a(const char *root)
{
	fx_dir(root, "d", 0755);
	fx_file(root, "d/f", "hi\n", 0644);
	fx_file(root, "top", "a\n", 0600);
	fx_symlink(root, "link", "d/f");
}

static void tree_b(const char *root)
{
	fx_file(root, "only-b", "b\n", 0644);
}

/* Build a tree in a fresh attempt's staging, capture it read-only and
 * owned by the store's owner, publish it, and drop the attempt: what exec
 * does after a task, minus the sandbox. */
static void publish(struct fx_store *fs, void (*build)(const char *root),
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
	struct capture_options o = {.owner_uid = fs->s.owner_uid,
				    .owner_gid = fs->s.owner_gid,
				    .make_readonly = true};
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

/* `wsbox layers --store S verify DIGEST`: its exit status, and its stdout
 * in out. */
static int verify(struct fx_store *fs, const char *digest, char *out,
		  size_t cap)
{
	_cleanup_free_ char *log = fx_path(fs->dir, "verify.out");
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	char *argv[] = {"layers", "--store",	  fs->path,
			"verify", (char *)digest, NULL};
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	/* No assertion until stdout is back: cmocka reports there. */
	int redirected = dup2(fd, STDOUT_FILENO);
	int status = redirected < 0 ? -1 : cmd_layers(5, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);
	assert_true(redirected >= 0);
	FILE *f = fopen(log, "re");
	assert_non_null(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
	return status;
}

static void test_layer_verify_detects_a_file_changed_after_publish(void **state)
{
	(void)state;
	struct fx_store fs;
	fx_store_create(&fs);
	char digest[DIGEST_STRLEN];
	publish(&fs, tree_a, digest);
	char out[4096], want[256];
	assert_int_equal(verify(&fs, digest, out, sizeof out), 0);
	snprintf(want, sizeof want, "ok %s\n", digest);
	assert_string_equal(out, want);

	/* Same size, other bytes: only the content hash can tell. */
	_cleanup_free_ char *tree = layer_tree_path(&fs.s, digest);
	_cleanup_free_ char *f = fx_path(tree, "d/f");
	assert_int_equal(chmod(f, 0644), 0);
	fx_file(tree, "d/f", "ho\n", 0444);
	assert_int_equal(verify(&fs, digest, out, sizeof out), 1);
	snprintf(want, sizeof want, "FAIL %s: d/f: ", digest);
	if (strncmp(out, want, strlen(want)))
		fail_msg("verify said `%s`, expected it to start `%s`", out,
			 want);
	fx_store_remove(&fs);
}

static void test_layer_verify_detects_a_file_added_after_publish(void **state)
{
	(void)state;
	struct fx_store fs;
	fx_store_create(&fs);
	char digest[DIGEST_STRLEN];
	publish(&fs, tree_a, digest);
	_cleanup_free_ char *tree = layer_tree_path(&fs.s, digest);
	_cleanup_free_ char *d = fx_path(tree, "d");
	assert_int_equal(chmod(d, 0755), 0);
	fx_file(tree, "d/planted", "x", 0644);
	char out[4096], want[256];
	assert_int_equal(verify(&fs, digest, out, sizeof out), 1);
	snprintf(want, sizeof want,
		 "FAIL %s: d: d/planted: not in the manifest\n", digest);
	assert_string_equal(out, want);
	fx_store_remove(&fs);
}

#define DIG_A                                                                  \
	"sha256:"                                                              \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIG_L                                                                  \
	"sha256:"                                                              \
	"1111111111111111111111111111111111111111111111111111111111111111"
#define DIG_K                                                                  \
	"sha256:"                                                              \
	"2222222222222222222222222222222222222222222222222222222222222222"

static void test_record_write_then_read_returns_every_field(void **state)
{
	(void)state;
	struct fx_store fs;
	fx_store_create(&fs);
	char *parents[] = {"a", "b"};
	char *b_parents[] = {"a"};
	struct record_node anc[] = {
	    {.task = "a", .layer = DIG_A},
	    {.task = "b", .layer = NULL, .parents = b_parents, .n_parents = 1},
	};
	char *lowers[] = {DIG_A};
	struct task_record w = {
	    .run = "r1",
	    .task = "build",
	    .attempt = "1700000000-42-abcd",
	    .seq = 7,
	    .parents = parents,
	    .n_parents = 2,
	    .ancestors = anc,
	    .n_ancestors = 2,
	    .lowers = lowers,
	    .n_lowers = 1,
	    .layer = DIG_L,
	    .status = "failed",
	    .exit_code = 3,
	    .signal = 0,
	    .ro = false,
	    .cache_hit = true,
	    .cache_key = DIG_K,
	    .started = 1700000000.5,
	    .wall_sec = 1.25,
	    .cpu_sec = 0.5,
	    .bytes = 12345,
	    .files = 6,
	    .max_rss_kb = 2048,
	    .stdout_log = "runs/r1/logs/1700000000-42-abcd.out",
	    .stderr_log = "runs/r1/logs/1700000000-42-abcd.err",
	};
	struct wsbox_error err = {0};
	if (record_write(&fs.s, &w, &err) < 0)
		fail_msg("record_write: %s", err.msg);
	fx_store_reopen(&fs);

	struct task_record r;
	if (record_read(&fs.s, "r1", "build", &r, &err) < 0)
		fail_msg("record_read: %s", err.msg);
	assert_string_equal(r.run, "r1");
	assert_string_equal(r.task, "build");
	assert_string_equal(r.attempt, w.attempt);
	assert_int_equal(r.seq, 7);
	assert_int_equal(r.n_parents, 2);
	assert_string_equal(r.parents[0], "a");
	assert_string_equal(r.parents[1], "b");
	assert_int_equal(r.n_ancestors, 2);
	assert_non_null(r.ancestry);
	assert_string_equal(r.ancestors[0].task, "a");
	assert_string_equal(r.ancestors[0].layer, DIG_A);
	assert_int_equal(r.ancestors[0].n_parents, 0);
	assert_string_equal(r.ancestors[1].task, "b");
	assert_null(r.ancestors[1].layer);
	assert_int_equal(r.ancestors[1].n_parents, 1);
	assert_string_equal(r.ancestors[1].parents[0], "a");
	assert_int_equal(r.n_lowers, 1);
	assert_string_equal(r.lowers[0], DIG_A);
	assert_string_equal(r.layer, DIG_L);
	assert_string_equal(r.status, "failed");
	assert_int_equal(r.exit_code, 3);
	assert_int_equal(r.signal, 0);
	assert_false(r.ro);
	assert_true(r.cache_hit);
	assert_string_equal(r.cache_key, DIG_K);
	assert_true(r.started == 1700000000.5);
	assert_true(r.wall_sec == 1.25);
	assert_true(r.cpu_sec == 0.5);
	assert_int_equal(r.bytes, 12345);
	assert_int_equal(r.files, 6);
	assert_int_equal(r.max_rss_kb, 2048);
	assert_string_equal(r.stdout_log, w.stdout_log);
	assert_string_equal(r.stderr_log, w.stderr_log);
	record_free(&r);

	/* A record is replaced whole: the second write is what reads back. */
	w.status = "succeeded";
	w.exit_code = 0;
	w.layer = NULL;
	w.n_ancestors = 0;
	if (record_write(&fs.s, &w, &err) < 0)
		fail_msg("record_write again: %s", err.msg);
	if (record_read(&fs.s, "r1", "build", &r, &err) < 0)
		fail_msg("record_read again: %s", err.msg);
	assert_string_equal(r.status, "succeeded");
	assert_int_equal(r.exit_code, 0);
	assert_null(r.layer);
	assert_int_equal(r.n_ancestors, 0);
	assert_null(r.ancestry);
	record_free(&r);
	fx_store_remove(&fs);
}

static void test_record_read_of_an_unknown_task_is_enoent(void **state)
{
	(void)state;
	struct fx_store fs;
	fx_store_create(&fs);
	struct task_record r;
	struct wsbox_error err = {0};
	assert_int_equal(record_read(&fs.s, "r1", "ghost", &r, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "ghost"));
	fx_store_remove(&fs);
}

/* A minimal record of run r, task `task`, whose layer is `layer`. */
static void write_record(struct fx_store *fs, const char *task,
			 const char *layer)
{
	struct task_record w = {
	    .run = "r",
	    .task = (char *)task,
	    .attempt = "1-1-1",
	    .layer = (char *)layer,
	    .status = "succeeded",
	};
	struct wsbox_error err = {0};
	if (record_write(&fs->s, &w, &err) < 0)
		fail_msg("record_write: %s", err.msg);
}

/* Run gc; its log (one line per object) goes to `log` when given. */
static struct gc_stats gc_log(struct fx_store *fs, bool dry_run, char **log)
{
	size_t len;
	FILE *f = log ? open_memstream(log, &len) : fopen("/dev/null", "we");
	assert_non_null(f);
	struct gc_options o = {.dry_run = dry_run, .log = f};
	struct gc_stats st = {0};
	struct wsbox_error err = {0};
	int r = gc_run(&fs->s, &o, &st, &err);
	assert_int_equal(fclose(f), 0);
	if (r < 0)
		fail_msg("gc_run: %s", err.msg);
	return st;
}

static struct gc_stats gc(struct fx_store *fs, bool dry_run)
{
	return gc_log(fs, dry_run, NULL);
}

static void
test_gc_removes_unreferenced_layers_and_keeps_referenced(void **state)
{
	(void)state;
	struct fx_store fs;
	fx_store_create(&fs);
	char a[DIGEST_STRLEN], b[DIGEST_STRLEN];
	publish(&fs, tree_a, a);
	publish(&fs, tree_b, b);
	assert_string_not_equal(a, b);
	write_record(&fs, "t", a);

	_cleanup_free_ char *log = NULL;
	struct gc_stats st = gc_log(&fs, true, &log);
	_cleanup_free_ char *want =
	    xasprintf("would remove layer %s (2 bytes)\n", b);
	assert_string_equal(log, want);
	assert_int_equal(st.layers, 1);
	assert_true(layer_exists(&fs.s, b)); /* a dry run changes nothing */

	st = gc(&fs, false);
	assert_int_equal(st.layers, 1);
	assert_true(layer_exists(&fs.s, a));
	assert_false(layer_exists(&fs.s, b));
	_cleanup_free_ char *gone = xasprintf("layers/%s", layer_digest_hex(b));
	assert_false(fx_exists(fs.path, gone));

	/* Once no record names it, a is garbage too. */
	write_record(&fs, "t", NULL);
	st = gc(&fs, false);
	assert_int_equal(st.layers, 1);
	assert_false(layer_exists(&fs.s, a));
	fx_store_remove(&fs);
}

static void
test_gc_reclaims_dead_attempts_staging_and_keeps_live_ones(void **state)
{
	(void)state;
	struct fx_store fs;
	fx_store_create(&fs);
	char b[DIGEST_STRLEN];
	publish(&fs, tree_b, b);

	/* Alive: this process made it; its `uses` pins layer b, which no
	 * record names. */
	struct attempt live;
	struct wsbox_error err = {0};
	if (attempt_create(&fs.s, &live, &err) < 0)
		fail_msg("attempt_create: %s", err.msg);
	char *uses[] = {b};
	if (attempt_write_uses(&live, uses, 1, &err) < 0)
		fail_msg("attempt_write_uses: %s", err.msg);

	/* Dead: its owner pid cannot exist; an unwritable dir inside. */
	char host[256] = "";
	assert_int_equal(gethostname(host, sizeof host - 1), 0);
	fx_dir(fs.path, "staging/dead1", 0755);
	fx_dir(fs.path, "staging/dead1/upper", 0755);
	fx_file(fs.path, "staging/dead1/upper/f", "x", 0644);
	_cleanup_free_ char *owner =
	    xasprintf("pid 999999999\nstart 1\nhost %s\n", host);
	fx_file(fs.path, "staging/dead1/owner", owner, 0644);
	assert_int_equal(fx_mode_of(fs.path, "staging/dead1/upper"), 0755);
	_cleanup_free_ char *upper = fx_path(fs.path, "staging/dead1/upper");
	assert_int_equal(chmod(upper, 0500), 0);

	_cleanup_free_ char *log = NULL;
	struct gc_stats st = gc_log(&fs, false, &log);
	assert_string_equal(
	    log, "removed staging dead1 (owner pid 999999999 gone)\n");
	assert_int_equal(st.staging, 1);
	assert_false(fx_exists(fs.path, "staging/dead1"));
	assert_int_equal(st.kept_staging, 1);
	assert_true(fx_exists(live.dir, "uses"));
	assert_int_equal(st.layers, 0);
	assert_true(layer_exists(&fs.s, b));

	/* Once the attempt is gone, nothing pins b. */
	if (attempt_discard(&fs.s, &live, &err) < 0)
		fail_msg("attempt_discard: %s", err.msg);
	st = gc(&fs, false);
	assert_int_equal(st.layers, 1);
	assert_false(layer_exists(&fs.s, b));
	fx_store_remove(&fs);
}

/* The attempt record linked to the task record keeps that attempt's text
 * when a later attempt replaces the task record. */
static void test_linked_attempt_record_survives_the_next_attempt(void **state)
{
	(void)state;
	struct fx_store fs;
	fx_store_create(&fs);
	struct task_record w = {.run = "r1",
				.task = "t",
				.attempt = "1700000000-42-aaaa",
				.seq = 1,
				.status = "failed",
				.exit_code = 3};
	struct wsbox_error err = {0};
	if (record_write(&fs.s, &w, &err) < 0 ||
	    record_link_attempt(&fs.s, &w, &err) < 0)
		fail_msg("write: %s", err.msg);
	w.attempt = "1700000001-43-bbbb";
	w.seq = 2;
	w.status = "succeeded";
	w.exit_code = 0;
	if (record_write(&fs.s, &w, &err) < 0 ||
	    record_link_attempt(&fs.s, &w, &err) < 0)
		fail_msg("write: %s", err.msg);
	struct task_record r;
	if (record_read_attempt(&fs.s, "r1", "t", "1700000000-42-aaaa", &r,
				&err) < 0)
		fail_msg("read: %s", err.msg);
	assert_int_equal(r.seq, 1);
	assert_string_equal(r.status, "failed");
	assert_int_equal(r.exit_code, 3);
	record_free(&r);
	if (record_read(&fs.s, "r1", "t", &r, &err) < 0)
		fail_msg("read: %s", err.msg);
	assert_int_equal(r.seq, 2);
	assert_string_equal(r.attempt, "1700000001-43-bbbb");
	record_free(&r);
	if (record_read_attempt(&fs.s, "r1", "t", "1700000001-43-bbbb", &r,
				&err) < 0)
		fail_msg("read: %s", err.msg);
	assert_string_equal(r.status, "succeeded");
	record_free(&r);
	fx_store_remove(&fs);
}

/* exec's staging: no `uses` file when nothing is pinned, no per-attempt
 * root/ (the sandbox root's mount point is the store's shared mnt/, made on
 * first use), and gc still keeps such a live attempt and its dir. */
static void test_staging_without_pins_has_no_uses_and_shares_mnt(void **state)
{
	(void)state;
	struct fx_store fs;
	fx_store_create(&fs);
	assert_false(fx_exists(fs.path, "mnt"));
	struct attempt live;
	struct wsbox_error err = {0};
	if (attempt_create(&fs.s, &live, &err) < 0 ||
	    attempt_write_uses(&live, NULL, 0, &err) < 0 ||
	    attempt_root_mnt(&fs.s, &live, &err) < 0)
		fail_msg("stage: %s", err.msg);
	assert_false(fx_exists(live.dir, "uses"));
	assert_false(fx_exists(live.dir, "root"));
	assert_true(fx_exists(live.dir, "upper"));
	assert_true(fx_exists(live.dir, "work"));
	_cleanup_free_ char *mnt = fx_path(fs.path, "mnt");
	assert_string_equal(live.root, mnt);
	assert_true(fx_exists(fs.path, "mnt"));
	struct gc_stats st = gc(&fs, false);
	assert_int_equal(st.kept_staging, 1);
	assert_true(fx_exists(live.dir, "owner"));
	if (attempt_discard(&fs.s, &live, &err) < 0)
		fail_msg("attempt_discard: %s", err.msg);
	fx_store_remove(&fs);
}

/* A staged record is invisible (its temporary file is skipped by every
 * listing) until committed; one never committed leaves no file. */
static void test_staged_record_visible_only_after_commit(void **state)
{
	(void)state;
	struct fx_store fs;
	fx_store_create(&fs);
	struct task_record w = {.run = "r1",
				.task = "t",
				.attempt = "1700000000-42-aaaa",
				.seq = 1,
				.status = "succeeded"};
	struct wsbox_error err = {0};
	struct record_staged st;
	if (record_stage(&fs.s, &w, &st, &err) < 0)
		fail_msg("stage: %s", err.msg);
	struct task_record r;
	assert_int_equal(record_read(&fs.s, "r1", "t", &r, &err), -ENOENT);
	if (record_commit(&fs.s, &st, false, &err) < 0)
		fail_msg("commit: %s", err.msg);
	record_staged_free(&fs.s, &st);
	if (record_read(&fs.s, "r1", "t", &r, &err) < 0)
		fail_msg("read: %s", err.msg);
	assert_string_equal(r.attempt, "1700000000-42-aaaa");
	record_free(&r);

	w.task = "u";
	if (record_stage(&fs.s, &w, &st, &err) < 0)
		fail_msg("stage: %s", err.msg);
	record_staged_free(&fs.s, &st);
	_cleanup_free_ char *tmp =
	    xasprintf("runs/r1/tasks/.u.tmp.%d", (int)getpid());
	assert_false(fx_exists(fs.path, tmp));
	assert_false(fx_exists(fs.path, "runs/r1/tasks/u"));
	fx_store_remove(&fs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_staged_record_visible_only_after_commit),
	    cmocka_unit_test(
		test_staging_without_pins_has_no_uses_and_shares_mnt),
	    cmocka_unit_test(
		test_linked_attempt_record_survives_the_next_attempt),
	    cmocka_unit_test(
		test_layer_verify_detects_a_file_changed_after_publish),
	    cmocka_unit_test(
		test_layer_verify_detects_a_file_added_after_publish),
	    cmocka_unit_test(test_record_write_then_read_returns_every_field),
	    cmocka_unit_test(test_record_read_of_an_unknown_task_is_enoent),
	    cmocka_unit_test(
		test_gc_removes_unreferenced_layers_and_keeps_referenced),
	    cmocka_unit_test(
		test_gc_reclaims_dead_attempts_staging_and_keeps_live_ones),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
