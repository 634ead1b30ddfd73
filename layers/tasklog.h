/* layers/tasklog: reading (and appending to) a task's logs as the store
 * keeps them (runs/<run>/logs/). Besides one plain file per stream, an
 * attempt may keep a combined log that holds both streams in the order the
 * task wrote them, as chunks:
 *
 *   [1 byte stream: 1 stdout, 2 stderr][4 byte big-endian length][bytes]
 *
 * repeated to the end of the file. Mechanism only: callers print. */
#ifndef WSBOX_LAYERS_TASKLOG_H
#define WSBOX_LAYERS_TASKLOG_H

#include <stddef.h>
#include <stdint.h>

#include "sandbox/util/error.h"

enum tasklog_stream {
	TASKLOG_STDOUT = 1,
	TASKLOG_STDERR = 2,
};

#define TASKLOG_HEADER 5 /* stream byte + 32-bit length */

/* Append one chunk (header and bytes in one writev, so concurrent writers
 * of whole chunks never interleave inside one). len must fit in 32 bits
 * (-EFBIG otherwise). 0 or -errno. */
int tasklog_append(int fd, enum tasklog_stream stream, const void *buf,
		   size_t len);

/* Replay the combined log open at `fd` from its current offset: stdout
 * chunks to out_fd, stderr chunks to err_fd, in file order; a stream whose
 * fd is -1 is skipped (read over). Both fds may be the same. -EINVAL with
 * a message for an unknown stream byte or a chunk cut short (after
 * replaying every whole chunk before it); -errno for read or write errors. */
int tasklog_replay(int fd, int out_fd, int err_fd, struct wsbox_error *err);

/* Copy a plain log (the rest of the file at `fd`) to out_fd. */
int tasklog_copy(int fd, int out_fd, struct wsbox_error *err);

#endif
