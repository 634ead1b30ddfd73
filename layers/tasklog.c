/* layers/tasklog.c: the combined log's chunk format and plain log copies
 * (see tasklog.h). The file comes from the store, which a task never
 * reaches, but is read defensively: every length is checked against what
 * is really there. */
#include "layers/tasklog.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

#define COPY_BUF (64u * 1024)

int tasklog_append(int fd, enum tasklog_stream stream, const void *buf,
		   size_t len)
{
	if (len > UINT32_MAX)
		return -EFBIG;
	unsigned char h[TASKLOG_HEADER] = {
	    (unsigned char)stream,	(unsigned char)(len >> 24),
	    (unsigned char)(len >> 16), (unsigned char)(len >> 8),
	    (unsigned char)len,
	};
	struct iovec iov[2] = {{h, sizeof h}, {(void *)buf, len}};
	ssize_t n;
	do
		n = writev(fd, iov, 2);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n == sizeof h + len)
		return 0;
	/* A short write (a full disk, a signal): finish it in order. */
	size_t done = (size_t)n;
	if (done < sizeof h) {
		int r = write_all(fd, h + done, sizeof h - done);
		if (r < 0)
			return r;
		done = sizeof h;
	}
	return write_all(fd, (const char *)buf + (done - sizeof h),
			 len - (done - sizeof h));
}

/* Read exactly `len` bytes unless EOF comes first: bytes read or -errno. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Move `len` bytes from in to out (out -1: read and drop them). */
static int pass(int in, int out, uint64_t len, char *buf, bool *short_read)
{
	while (len > 0) {
		size_t want = len < COPY_BUF ? (size_t)len : COPY_BUF;
		ssize_t n = read_full(in, buf, want);
		if (n < 0)
			return (int)n;
		if (out >= 0 && n > 0) {
			int r = write_all(out, buf, (size_t)n);
			if (r < 0)
				return r;
		}
		if ((size_t)n < want) {
			*short_read = true;
			return 0;
		}
		len -= (uint64_t)n;
	}
	return 0;
}

int tasklog_replay(int fd, int out_fd, int err_fd, struct wsbox_error *err)
{
	_cleanup_free_ char *buf = xcalloc(1, COPY_BUF);
	for (uint64_t chunk = 0;; chunk++) {
		unsigned char h[TASKLOG_HEADER];
		ssize_t n = read_full(fd, h, sizeof h);
		if (n < 0)
			return wsbox_fail(err, (int)-n, "read combined log");
		if (n == 0)
			return 0;
		if ((size_t)n < sizeof h)
			return wsbox_fail(err, 0,
					  "combined log: chunk %llu cut short",
					  (unsigned long long)chunk);
		if (h[0] != TASKLOG_STDOUT && h[0] != TASKLOG_STDERR)
			return wsbox_fail(
			    err, 0, "combined log: chunk %llu: bad stream %u",
			    (unsigned long long)chunk, (unsigned)h[0]);
		uint64_t len = (uint64_t)h[1] << 24 | (uint64_t)h[2] << 16 |
			       (uint64_t)h[3] << 8 | h[4];
		bool short_read = false;
		int r = pass(fd, h[0] == TASKLOG_STDOUT ? out_fd : err_fd, len,
			     buf, &short_read);
		if (r < 0)
			return wsbox_fail(err, -r, "replay combined log");
		if (short_read)
			return wsbox_fail(err, 0,
					  "combined log: chunk %llu cut short",
					  (unsigned long long)chunk);
	}
}

int tasklog_copy(int fd, int out_fd, struct wsbox_error *err)
{
	_cleanup_free_ char *buf = xcalloc(1, COPY_BUF);
	for (;;) {
		ssize_t n = read(fd, buf, COPY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wsbox_fail(err, errno, "read log");
		if (n == 0)
			return 0;
		int r = write_all(out_fd, buf, (size_t)n);
		if (r < 0)
			return wsbox_fail(err, -r, "write log");
	}
}
