/* layers/result.c: attempt sequence numbers and the publication
 * compare-and-swap (see result.h). */
#include "layers/result.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layers/lock.h"
#include "layers/record.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

static char *lock_rel(const char *run, const char *task)
{
	return store_run_rel(run, "locks", task);
}

/* The sequence number of the published record, 0 when there is none. A
 * record that cannot be read counts as 0: it is about to be replaced. */
static uint64_t record_seq(const struct store *s, const char *run,
			   const char *task, char **attempt)
{
	struct task_record r;
	struct wsbox_error ignored;
	if (record_read_shallow(s, run, task, &r, &ignored) < 0)
		return 0;
	uint64_t seq = r.seq;
	if (attempt)
		*attempt = r.attempt ? xstrdup(r.attempt) : NULL;
	record_free(&r);
	return seq;
}

int result_begin(const struct store *s, const char *run, const char *task,
		 uint64_t *seq, struct wsbox_error *err)
{
	_cleanup_free_ char *rel = lock_rel(run, task);
	int fd = store_lock(s, rel, true, err);
	if (fd < 0)
		return fd;
	char buf[32] = "";
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	uint64_t last = 0;
	if (n > 0) {
		buf[n] = '\0';
		char *end;
		errno = 0;
		unsigned long long v = strtoull(buf, &end, 10);
		if (!errno && end != buf && *end == '\n')
			last = v;
	}
	uint64_t floor = record_seq(s, run, task, NULL);
	if (floor > last)
		last = floor;
	*seq = last + 1;
	/* Fixed width, written in place: the file is the lock, so it is
	 * never replaced. Not fsynced: after a power cut no attempt of
	 * before survives, and the record is the floor. */
	int len = snprintf(buf, sizeof buf, "%020" PRIu64 "\n", *seq);
	int r = 0;
	if (pwrite(fd, buf, (size_t)len, 0) != len)
		r = wsbox_fail(err, errno ? errno : EIO,
			       "task %s: write attempt counter", task);
	store_unlock(&fd);
	return r;
}

int result_lock(const struct store *s, const char *run, const char *task,
		uint64_t seq, struct wsbox_error *err)
{
	_cleanup_free_ char *rel = lock_rel(run, task);
	int fd = store_lock(s, rel, true, err);
	if (fd < 0)
		return fd;
	_cleanup_free_ char *winner = NULL;
	uint64_t published = record_seq(s, run, task, &winner);
	if (published > seq) {
		store_unlock(&fd);
		wsbox_fail_status(err, WSBOX_EXIT_FAILURE, 0,
				  "task %s: superseded by attempt %s", task,
				  winner ? winner : "?");
		return -ESTALE;
	}
	return fd;
}
