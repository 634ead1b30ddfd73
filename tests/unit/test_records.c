/* Unit tests for what the record verbs stand on: digest prefixes
 * (layer_resolve_digest in layers/layer.c), the combined log's chunk format
 * (layers/tasklog.c, on hand-made files) and the record fields added for
 * `runs show --json` (layers/record.c), old records included. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "layers/layer.h"
#include "layers/record.h"
#include "layers/store.h"
#include "layers/tasklog.h"
#include "sandbox/util/fs.h"

#define HEX_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX_B "0123456789abcdefffffffffffffffffffffffffffffffffffffffffffffffff"
#define HEX_C "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

struct fixture {
	char dir[64];
	struct store s;
};

static void rm_tree(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

/* A temporary store with three layer directories (names only: resolution
 * looks at nothing else). */
static int setup_store(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/wsbox-unit-records.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	char *path = xasprintf("%s/store", f->dir);
	struct wsbox_error err = {0};
	int r = store_open(path, true, &f->s, &err);
	free(path);
	if (r < 0)
		return -1;
	const char *hex[] = {HEX_A, HEX_B, HEX_C};
	for (size_t i = 0; i < 3; i++) {
		char *rel = xasprintf("layers/%s", hex[i]);
		r = mkdirat(f->s.fd, rel, 0700);
		free(rel);
		if (r < 0)
			return -1;
	}
	*state = f;
	return 0;
}

static int teardown_store(void **state)
{
	struct fixture *f = *state;
	store_close(&f->s);
	rm_tree(f->dir);
	free(f);
	return 0;
}

static int resolve(void **state, const char *arg, char out[DIGEST_STRLEN],
		   struct wsbox_error *err)
{
	struct fixture *f = *state;
	memset(err, 0, sizeof *err);
	return layer_resolve_digest(&f->s, arg, out, err);
}

static void
test_resolve_accepts_full_digest_with_and_without_prefix(void **state)
{
	char out[DIGEST_STRLEN];
	struct wsbox_error err;
	assert_int_equal(resolve(state, "sha256:" HEX_C, out, &err), 0);
	assert_string_equal(out, "sha256:" HEX_C);
	assert_int_equal(resolve(state, HEX_C, out, &err), 0);
	assert_string_equal(out, "sha256:" HEX_C);
	/* Full digests are not looked up: existence is the caller's. */
	const char *absent = "sha256:" HEX_C;
	char other[80];
	snprintf(other, sizeof other, "%.70s1", absent);
	assert_int_equal(resolve(state, other, out, &err), 0);
	assert_string_equal(out, other);
}

static void test_resolve_unique_prefix_gives_full_digest(void **state)
{
	char out[DIGEST_STRLEN];
	struct wsbox_error err;
	assert_int_equal(resolve(state, "fedcba98", out, &err), 0);
	assert_string_equal(out, "sha256:" HEX_C);
	assert_int_equal(resolve(state, "sha256:FEDCBA9876", out, &err), 0);
	assert_string_equal(out, "sha256:" HEX_C);
	/* Longer than the shared part of A and B: unique again. */
	assert_int_equal(resolve(state, "0123456789abcdef0", out, &err), 0);
	assert_string_equal(out, "sha256:" HEX_A);
}

static void test_resolve_ambiguous_prefix_counts_candidates(void **state)
{
	char out[DIGEST_STRLEN];
	struct wsbox_error err;
	assert_int_equal(resolve(state, "01234567", out, &err), -ENOTUNIQ);
	assert_non_null(strstr(err.msg, "2 layers match"));
	assert_null(strstr(err.msg, "Name not unique"));
}

static void test_resolve_refuses_short_unknown_and_non_hex(void **state)
{
	char out[DIGEST_STRLEN];
	struct wsbox_error err;
	assert_int_equal(resolve(state, "fedcba9", out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "too short"));
	assert_int_equal(resolve(state, "sha256:", out, &err), -EINVAL);
	assert_int_equal(resolve(state, "aaaaaaaa", out, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no such layer"));
	/* Logical errors: no errno text. */
	assert_null(strstr(err.msg, "No such file"));
	assert_int_equal(resolve(state, "fedcba98zz", out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a layer digest"));
	assert_int_equal(resolve(state, "../../etc/passwd", out, &err),
			 -EINVAL);
	assert_int_equal(resolve(state, HEX_A "0", out, &err), -EINVAL);
}

/* ---- combined log ---- */

/* A scratch file with `len` bytes of content, opened for reading. */
static int file_with(const void *buf, size_t len)
{
	char path[] = "/tmp/wsbox-unit-log.XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write_all(fd, buf, len), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static int empty_file(void)
{
	return file_with("", 0);
}

/* The whole content of a scratch file written by the code under test. */
static char *contents(int fd, size_t *len)
{
	off_t end = lseek(fd, 0, SEEK_END);
	assert_true(end >= 0);
	char *buf = xcalloc(1, (size_t)end + 1);
	assert_int_equal(pread(fd, buf, (size_t)end, 0), end);
	*len = (size_t)end;
	return buf;
}

/* out 1, err 2, out 1, written by hand byte by byte. */
static const unsigned char hand_made[] = {
    1,	 0,   0,   0,	5,   'm', 'a',	'k', 'e', '\n', 2, 0, 0,   0,	7,
    'e', 'r', 'r', 'o', 'r', '!', '\n', 1,   0,	  0,	0, 3, 'o', 'k', '\n',
};

static void test_tasklog_replays_chunks_in_order(void **state)
{
	(void)state;
	int log = file_with(hand_made, sizeof hand_made);
	int both = empty_file();
	struct wsbox_error err = {0};
	assert_int_equal(tasklog_replay(log, both, both, &err), 0);
	size_t len;
	char *got = contents(both, &len);
	assert_string_equal(got, "make\nerror!\nok\n");
	free(got);
	close(both);
	close(log);
}

static void test_tasklog_splits_and_selects_streams(void **state)
{
	(void)state;
	int log = file_with(hand_made, sizeof hand_made);
	int out = empty_file(), errf = empty_file();
	struct wsbox_error err = {0};
	assert_int_equal(tasklog_replay(log, out, errf, &err), 0);
	size_t len;
	char *o = contents(out, &len), *e = contents(errf, &len);
	assert_string_equal(o, "make\nok\n");
	assert_string_equal(e, "error!\n");
	free(o);
	free(e);
	/* Only stderr: stdout chunks are read over, not printed. */
	close(out);
	out = empty_file();
	assert_int_equal(lseek(log, 0, SEEK_SET), 0);
	assert_int_equal(tasklog_replay(log, -1, out, &err), 0);
	o = contents(out, &len);
	assert_string_equal(o, "error!\n");
	free(o);
	close(out);
	close(errf);
	close(log);
}

static void test_tasklog_append_writes_the_hand_made_format(void **state)
{
	(void)state;
	int log = empty_file();
	assert_int_equal(tasklog_append(log, TASKLOG_STDOUT, "make\n", 5), 0);
	assert_int_equal(tasklog_append(log, TASKLOG_STDERR, "error!\n", 7), 0);
	assert_int_equal(tasklog_append(log, TASKLOG_STDOUT, "ok\n", 3), 0);
	size_t len;
	char *got = contents(log, &len);
	assert_int_equal(len, sizeof hand_made);
	assert_memory_equal(got, hand_made, sizeof hand_made);
	free(got);
	close(log);
}

static void test_tasklog_refuses_bad_stream_and_cut_chunks(void **state)
{
	(void)state;
	struct wsbox_error err = {0};
	unsigned char bad[sizeof hand_made];
	memcpy(bad, hand_made, sizeof bad);
	bad[10] = 3; /* the second chunk's stream */
	int log = file_with(bad, sizeof bad);
	int out = empty_file();
	assert_int_equal(tasklog_replay(log, out, out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "bad stream 3"));
	size_t len;
	char *got = contents(out, &len);
	assert_string_equal(got, "make\n"); /* what came before it */
	free(got);
	close(log);
	close(out);
	/* Cut inside the last chunk's bytes, then inside a header. */
	size_t cuts[] = {sizeof hand_made - 1, 13};
	for (size_t i = 0; i < 2; i++) {
		log = file_with(hand_made, cuts[i]);
		out = empty_file();
		memset(&err, 0, sizeof err);
		assert_int_equal(tasklog_replay(log, out, out, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "cut short"));
		close(log);
		close(out);
	}
}

/* ---- record fields ---- */

static struct task_record sample(void)
{
	static char *parents[] = {"a"};
	return (struct task_record){
	    .run = "r",
	    .task = "t",
	    .attempt = "1-2-3",
	    .parents = parents,
	    .n_parents = 1,
	    .status = "failed",
	    .exit_code = 0,
	    .stdout_log = "runs/r/logs/1-2-3.out",
	    .stderr_log = "runs/r/logs/1-2-3.err",
	};
}

static void test_record_keeps_exit_status_error_and_combined_log(void **state)
{
	struct fixture *f = *state;
	struct task_record w = sample();
	w.exit_status = 125;
	w.error = "task t: layer exceeds --max-layer-size (10 bytes)";
	w.combined_log = "runs/r/logs/1-2-3.log";
	struct wsbox_error err = {0};
	assert_int_equal(record_write(&f->s, &w, &err), 0);
	struct task_record r;
	assert_int_equal(record_read(&f->s, "r", "t", &r, &err), 0);
	assert_int_equal(r.exit_status, 125);
	assert_string_equal(r.error, w.error);
	assert_string_equal(r.combined_log, w.combined_log);
	record_free(&r);
}

static void
test_record_failed_attempt_never_reads_exit_status_zero(void **state)
{
	struct fixture *f = *state;
	/* A writer that sets neither (today's exec for a capture failure):
	 * the status says it did not succeed, so 125, not 0. */
	struct task_record w = sample();
	struct wsbox_error err = {0};
	assert_int_equal(record_write(&f->s, &w, &err), 0);
	struct task_record r;
	assert_int_equal(record_read(&f->s, "r", "t", &r, &err), 0);
	assert_int_equal(r.exit_status, 125);
	assert_null(r.error);
	assert_null(r.combined_log);
	record_free(&r);
}

static void test_record_of_older_version_derives_exit_status(void **state)
{
	struct fixture *f = *state;
	struct wsbox_error err = {0};
	assert_int_equal(mkdir_p(f->s.path, 0700, &err), 0);
	char *dir = xasprintf("%s/runs/old/tasks", f->s.path);
	assert_int_equal(mkdir_p(dir, 0700, &err), 0);
	free(dir);
	const char *old[] = {
	    "{\"version\": 2, \"run\": \"old\", \"task\": \"k\", \"status\": "
	    "\"failed\", \"exit_code\": 0, \"signal\": 9, \"parents\": [], "
	    "\"lowers\": []}",
	    "{\"version\": 2, \"run\": \"old\", \"task\": \"k\", \"status\": "
	    "\"timeout\", \"exit_code\": 0, \"signal\": 0, \"parents\": [], "
	    "\"lowers\": []}",
	    "{\"version\": 2, \"run\": \"old\", \"task\": \"k\", \"status\": "
	    "\"failed\", \"exit_code\": 2, \"signal\": 0, \"parents\": [], "
	    "\"lowers\": []}",
	};
	int want[] = {137, 124, 2};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(atomic_write_at(f->s.fd, "runs/old/tasks/k",
						 old[i], strlen(old[i]), 0600,
						 &err),
				 0);
		struct task_record r;
		assert_int_equal(record_read(&f->s, "old", "k", &r, &err), 0);
		assert_int_equal(r.exit_status, want[i]);
		assert_null(r.error);
		record_free(&r);
	}
}

static void test_record_missing_task_has_no_errno_text(void **state)
{
	struct fixture *f = *state;
	struct wsbox_error err = {0};
	struct task_record r;
	assert_int_equal(record_read(&f->s, "r", "nosuch", &r, &err), -ENOENT);
	assert_string_equal(err.msg, "no such task nosuch in run r");
}

/* Every attempt's own record: written once, read back with the fields
 * the task record has, never replacing another attempt's. */
static void test_record_attempt_is_kept_apart_and_written_once(void **state)
{
	struct fixture *f = *state;
	struct task_record w = sample();
	char *extra[] = {"rev=1", NULL};
	w.status = "refused";
	w.exit_status = 125;
	w.error = "parent ghost: no such task in run r";
	w.cache_key_extra = extra;
	w.n_cache_key_extra = 1;
	w.uncacheable = "stdin is a pipe";
	struct wsbox_error err = {0};
	assert_int_equal(record_write_attempt(&f->s, &w, &err), 0);
	assert_int_equal(record_write_attempt(&f->s, &w, &err), -EEXIST);
	struct task_record r;
	assert_int_equal(
	    record_read_attempt(&f->s, "r", "t", w.attempt, &r, &err), 0);
	assert_string_equal(r.status, "refused");
	assert_int_equal(r.exit_status, 125);
	assert_string_equal(r.error, w.error);
	assert_int_equal(r.n_cache_key_extra, 1);
	assert_string_equal(r.cache_key_extra[0], "rev=1");
	assert_string_equal(r.uncacheable, "stdin is a pipe");
	record_free(&r);
	/* The task's own record is another file. */
	assert_int_equal(record_read(&f->s, "r", "t", &r, &err), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_resolve_accepts_full_digest_with_and_without_prefix,
		setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(
		test_resolve_unique_prefix_gives_full_digest, setup_store,
		teardown_store),
	    cmocka_unit_test_setup_teardown(
		test_resolve_ambiguous_prefix_counts_candidates, setup_store,
		teardown_store),
	    cmocka_unit_test_setup_teardown(
		test_resolve_refuses_short_unknown_and_non_hex, setup_store,
		teardown_store),
	    cmocka_unit_test(test_tasklog_replays_chunks_in_order),
	    cmocka_unit_test(test_tasklog_splits_and_selects_streams),
	    cmocka_unit_test(test_tasklog_append_writes_the_hand_made_format),
	    cmocka_unit_test(test_tasklog_refuses_bad_stream_and_cut_chunks),
	    cmocka_unit_test_setup_teardown(
		test_record_keeps_exit_status_error_and_combined_log,
		setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(
		test_record_failed_attempt_never_reads_exit_status_zero,
		setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(
		test_record_of_older_version_derives_exit_status, setup_store,
		teardown_store),
	    cmocka_unit_test_setup_teardown(
		test_record_missing_task_has_no_errno_text, setup_store,
		teardown_store),
	    cmocka_unit_test_setup_teardown(
		test_record_attempt_is_kept_apart_and_written_once, setup_store,
		teardown_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
