/* sandbox/pty: the task's own terminal (docs/sandbox.md "Terminal"). When
 * wsbox's stdin is a terminal the task never gets it: the child opens a pty
 * in the sandbox's own devpts (child side, after pivot_root) and hands the
 * master to the supervisor, which relays the caller's terminal to it and
 * its output to the task's stdout or stderr copies (parent side, like
 * `podman run -t`). Whatever the task does to its terminal (modes, window
 * size, line discipline) happens to the pty, which dies with the sandbox;
 * the caller's terminal is only ever put in raw mode by wsbox and restored
 * when the sandbox ends. */
#ifndef WSBOX_SANDBOX_PTY_H
#define WSBOX_SANDBOX_PTY_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

#include "sandbox/output.h"
#include "sandbox/plan.h"
#include "sandbox/util/error.h"

/* Before clone3 (sandbox_run): the caller's window size and whether wsbox
 * may read its terminal (it is in the terminal's foreground, or the
 * terminal is not its controlling one) into the plan the child copies. */
void pty_prepare(struct plan *p);

/* Child side, after pivot_root: a pty of the sandbox's devpts (libc's
 * posix_openpt, grantpt, unlockpt, ptsname_r), the window size set, echo
 * off when no output of the task is on it. Returns the master (O_CLOEXEC)
 * and the slave in *slave (O_CLOEXEC, O_NOCTTY: task_start makes it the
 * task's controlling terminal), or a negative errno with err set. */
int pty_open(const struct plan *plan, int *slave, struct wsbox_error *err);

/* Parent side: one relay per sandbox. */
struct pty_relay {
	const struct plan *plan;
	int master; /* -1 until the child sent it, or after EIO */
	int term;   /* the caller's terminal (fd 0) to read, or -1 */
	int stream; /* the output stream the master's output counts as */
	bool raw;   /* the caller's terminal is in raw mode: restore it */
	struct termios saved;
	char in[4096]; /* read from the terminal, not yet written */
	size_t in_len, in_off;
};

void pty_relay_init(struct pty_relay *p, const struct plan *plan);
/* The master arrived: non-blocking, and the caller's terminal raw when a
 * stdout or stderr of the task is on the pty (it echoes, not the caller's
 * terminal). */
void pty_relay_attach(struct pty_relay *p, int master);
/* The two pollfds of the relay (master, terminal); fd -1 when idle. */
void pty_relay_pollfds(const struct pty_relay *p, struct pollfd fds[2]);
/* Act on what poll found on those two. */
void pty_relay_handle(struct pty_relay *p, const struct pollfd fds[2],
		      struct output *out);
/* SIGWINCH: the caller's window size onto the pty. */
void pty_relay_winch(struct pty_relay *p);
/* Every task process is gone: copy what the master still holds. */
void pty_relay_drain(struct pty_relay *p, struct output *out);
/* The caller's terminal back as it was (on every way out of supervise),
 * the master closed. */
void pty_relay_close(struct pty_relay *p);

#endif
