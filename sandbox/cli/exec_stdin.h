/* sandbox/cli/exec_stdin: what `wsbox exec` hands the task as stdin and how
 * that enters the cache key (docs/exec.md "Stdin"). A regular file is
 * copied into a sealed memfd while it is hashed: the task reads the same
 * bytes but never holds the caller's file description (through
 * /proc/self/fd/0 it could reopen the host file for writing). /dev/null or
 * a closed fd 0 is "empty". A pipe, socket or other device is a stream
 * the task reads through a pipe the supervisor fills from it
 * (sandbox/stdin_relay.h), a terminal through a pty of its own
 * (sandbox/pty.h): the task never holds the caller's description. A stream
 * is not hashed: the task is uncacheable unless the caller names its input
 * with --cache-key-extra. */
#ifndef WSBOX_SANDBOX_CLI_EXEC_STDIN_H
#define WSBOX_SANDBOX_CLI_EXEC_STDIN_H

#include <stdbool.h>

#include "layers/manifest.h"
#include "sandbox/util/error.h"

enum exec_stdin_kind {
	EXEC_STDIN_EMPTY,
	EXEC_STDIN_FILE,
	EXEC_STDIN_PIPE,
	EXEC_STDIN_SOCKET,
	EXEC_STDIN_TERMINAL,
	EXEC_STDIN_DEVICE,
};

/* "file:" + a digest */
#define EXEC_STDIN_ID_MAX (5 + DIGEST_STRLEN)

struct exec_stdin {
	enum exec_stdin_kind kind;
	/* The task's stdin: a sealed memfd, the read end of the relay's
	 * pipe, or -1 (/dev/null, wsbox's own; a terminal: the pty). */
	int fd;
	int relay; /* the relay pipe's write end (sandbox_run takes it), -1 */
	/* The cache key's stdin_id (layers/cache.h), once known: "empty",
	 * "file:sha256:<hex>", or "stream" for a named stream. */
	char id[EXEC_STDIN_ID_MAX];
};

#define EXEC_STDIN_INIT                                                        \
	{                                                                      \
		.kind = EXEC_STDIN_EMPTY, .fd = -1, .relay = -1                \
	}

/* Look at fd 0 (fstat only). A directory is refused: it would hand the
 * task a handle on the host tree (CVE-2024-21626 class). A closed fd 0 is
 * reopened on /dev/null, so no file wsbox opens later lands there and
 * reaches the task as its stdin. */
int exec_stdin_classify(struct exec_stdin *in, struct wsbox_error *err);

/* Settle the input: a regular file is copied from its current offset to
 * its end into a sealed memfd (in->fd, rewound) and hashed; the caller's
 * offset does not move. A stream other than a terminal gets the relay's
 * pipe (in->fd, in->relay). `named`: the caller gave --cache-key-extra,
 * so a stream is keyed as "stream". */
int exec_stdin_snapshot(struct exec_stdin *in, bool named,
			struct wsbox_error *err);

/* Why the task cannot be cached: "stdin is a pipe" (socket, terminal,
 * device), or NULL when stdin is empty or a file. */
const char *exec_stdin_stream_reason(const struct exec_stdin *in);

void exec_stdin_close(struct exec_stdin *in);

#endif
