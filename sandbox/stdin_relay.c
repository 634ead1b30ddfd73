/* sandbox/stdin_relay.c: wsbox's stdin copied to the task's stdin pipe
 * (see stdin_relay.h). The caller's description is only ever read: its
 * flags are not touched (no O_NONBLOCK set on it), so a read happens only
 * after poll said there is something, or an end, to read. */
#include "sandbox/stdin_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

void stdin_relay_init(struct stdin_relay *r, const struct plan *plan)
{
	r->src = r->dst = -1;
	r->len = r->off = 0;
	if (!plan->relay_stdin || plan->stdin_relay_fd < 0)
		return;
	r->dst = plan->stdin_relay_fd;
	int fl = fcntl(r->dst, F_GETFL);
	if (fl < 0 || fcntl(r->dst, F_SETFL, fl | O_NONBLOCK) < 0) {
		/* The task then reads an empty stdin: never a blocked
		 * supervisor. */
		stdin_relay_close(r);
		return;
	}
	r->src = STDIN_FILENO;
}

void stdin_relay_pollfds(const struct stdin_relay *r, struct pollfd fds[2])
{
	bool pending = r->off < r->len;
	fds[0] = (struct pollfd){.fd = r->dst >= 0 && !pending ? r->src : -1,
				 .events = POLLIN};
	fds[1] =
	    (struct pollfd){.fd = pending ? r->dst : -1, .events = POLLOUT};
}

/* The end of the caller's stream, or of the task's interest in it. */
void stdin_relay_close(struct stdin_relay *r)
{
	r->src = -1;
	if (r->dst >= 0)
		close(r->dst);
	r->dst = -1;
	r->len = r->off = 0;
}

static void fill(struct stdin_relay *r)
{
	ssize_t n = read(r->src, r->buf, sizeof r->buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		stdin_relay_close(
		    r); /* EOF (or an error): the task reads its end */
		return;
	}
	r->off = 0;
	r->len = (size_t)n;
}

static void flush(struct stdin_relay *r)
{
	ssize_t w = write(r->dst, r->buf + r->off, r->len - r->off);
	if (w < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (w < 0) {
		stdin_relay_close(r); /* EPIPE: the task closed its stdin */
		return;
	}
	r->off += (size_t)w;
}

void stdin_relay_handle(struct stdin_relay *r, const struct pollfd fds[2])
{
	bool filled = false;
	if (fds[0].fd >= 0 && fds[0].revents) {
		fill(r);
		filled = r->len > 0;
	}
	/* Fresh bytes are tried at once (the pipe has room, mostly); a
	 * reader gone shows as POLLERR and the write's EPIPE. */
	if (r->dst >= 0 && r->off < r->len && (filled || fds[1].revents))
		flush(r);
}
