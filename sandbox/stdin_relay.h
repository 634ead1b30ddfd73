/* sandbox/stdin_relay: a stream on wsbox's stdin (a pipe, a socket, a
 * device other than /dev/null) reaches the task through a pipe of wsbox's
 * own, copied by the supervisor, so the task never holds the caller's file
 * description: it cannot write to a socket or a read-write FIFO it was
 * given to read, reopen the caller's device through /proc/self/fd/0, nor
 * change the description's flags (O_NONBLOCK) under the caller. Like
 * `podman run -i`: what the supervisor has read and the task did not is
 * gone from the caller's stream. Parent side of monitor.c. */
#ifndef WSBOX_SANDBOX_STDIN_RELAY_H
#define WSBOX_SANDBOX_STDIN_RELAY_H

#include <poll.h>
#include <stddef.h>

#include "sandbox/plan.h"

struct stdin_relay {
	int src; /* wsbox's stdin while there is more to copy, else -1 */
	int dst; /* the write end of the task's stdin pipe, or -1 */
	char buf[65536]; /* read from src, not yet written */
	size_t len, off;
};

/* Takes plan->stdin_relay_fd when plan->relay_stdin (closed by
 * stdin_relay_close on every way out), else an idle relay. */
void stdin_relay_init(struct stdin_relay *r, const struct plan *plan);
/* The two pollfds (src, dst); fd -1 when idle. One buffer at a time: a
 * task that does not read leaves the caller's bytes in the caller's
 * stream, never piling up in wsbox. */
void stdin_relay_pollfds(const struct stdin_relay *r, struct pollfd fds[2]);
/* Act on what poll found on those two. */
void stdin_relay_handle(struct stdin_relay *r, const struct pollfd fds[2]);
/* The task's stdin at its end (the task is gone, or supervision ends). */
void stdin_relay_close(struct stdin_relay *r);

#endif
