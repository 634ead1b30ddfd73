/* sandbox/pty.c: the task's own terminal, child side (the pty opened in the
 * sandbox's devpts) and parent side (the relay, the caller's terminal in raw
 * mode and back). See pty.h and docs/sandbox.md "Terminal". */
#include "sandbox/pty.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

void pty_prepare(struct plan *p)
{
	if (!p->pty_stdio)
		return;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &p->pty_winsize) < 0)
		p->pty_winsize = (struct winsize){.ws_row = 24, .ws_col = 80};
	/* A background job reading or setting its controlling terminal is
	 * stopped (SIGTTIN, SIGTTOU), and with it the supervisor that drains
	 * the task's output: then the task gets a pty with no input and the
	 * caller's terminal is not touched at all. A terminal that is not
	 * wsbox's controlling one (tcgetpgrp fails) has no job control. */
	pid_t fg = tcgetpgrp(STDIN_FILENO);
	p->pty_input = fg < 0 || fg == getpgrp();
	/* Raw mode only over a terminal in canonical mode: one already raw
	 * belongs to someone else (an editor running wsbox, or another wsbox
	 * of a `make -j` on the same terminal), and saving and restoring it
	 * here could leave it raw when the two end in the other order. */
	struct termios t;
	bool cooked =
	    tcgetattr(STDIN_FILENO, &t) == 0 && (t.c_lflag & ICANON) != 0;
	p->pty_raw = p->pty_input && (p->pty_stdio & 6u) && cooked;
}

int pty_open(const struct plan *plan, int *slave, struct wsbox_error *err)
{
	*slave = -1;
	/* /dev/ptmx is the sandbox's own devpts instance now (ns_mount.c
	 * mount_dev): the slave's name resolves inside, so ttyname() and
	 * `tty` work for the task. */
	_cleanup_close_ int master =
	    posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return wsbox_fail(err, errno, "open /dev/ptmx");
	char name[PATH_MAX];
	if (grantpt(master) < 0 || unlockpt(master) < 0 ||
	    ptsname_r(master, name, sizeof name) != 0)
		return wsbox_fail(err, errno, "unlock the task's pty");
	_cleanup_close_ int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return wsbox_fail(err, errno, "open `%s`", name);
	if (ioctl(s, TIOCSWINSZ, &plan->pty_winsize) < 0)
		return wsbox_fail(err, errno, "window size of `%s`", name);
	if (!plan->pty_raw) {
		/* The caller's terminal stays as it was, echoing what is
		 * typed itself: the pty must not echo it a second time. */
		struct termios t;
		if (tcgetattr(s, &t) < 0)
			return wsbox_fail(err, errno, "tcgetattr `%s`", name);
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		if (tcsetattr(s, TCSANOW, &t) < 0)
			return wsbox_fail(err, errno, "tcsetattr `%s`", name);
	}
	*slave = steal_fd(&s);
	return steal_fd(&master);
}

void pty_relay_init(struct pty_relay *p, const struct plan *plan)
{
	*p = (struct pty_relay){.plan = plan, .master = -1, .term = -1};
	p->stream = (plan->pty_stdio & 2u) || !(plan->pty_stdio & 4u) ? 0 : 1;
}

void pty_relay_attach(struct pty_relay *p, int master)
{
	int fl = fcntl(master, F_GETFL);
	if (fl < 0 || fcntl(master, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(master);
		return; /* no relay: the task sees a terminal with no input */
	}
	p->master = master;
	if (!p->plan->pty_input)
		return;
	p->term = STDIN_FILENO;
	if (!p->plan->pty_raw || tcgetattr(p->term, &p->saved) < 0)
		return;
	/* Raw: every key goes to the task's pty, whose line discipline
	 * echoes, edits lines and turns ^C into SIGINT for the task, as on
	 * a terminal of its own. */
	struct termios raw = p->saved;
	cfmakeraw(&raw);
	p->raw = tcsetattr(p->term, TCSADRAIN, &raw) == 0;
}

void pty_relay_pollfds(const struct pty_relay *p, struct pollfd fds[2])
{
	bool pending = p->in_off < p->in_len;
	fds[0] = (struct pollfd){.fd = p->master,
				 .events =
				     (short)(POLLIN | (pending ? POLLOUT : 0))};
	/* One buffer of input at a time: a task that reads nothing fills
	 * its pty and then the caller's keys wait in the caller's terminal,
	 * never in wsbox nor blocking it. */
	fds[1] = (struct pollfd){
	    .fd = p->master >= 0 && !pending ? p->term : -1, .events = POLLIN};
}

/* Output of the task on its pty: into the stream it stands for. */
static bool relay_out(struct pty_relay *p, struct output *out)
{
	char buf[65536];
	ssize_t n = read(p->master, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return false;
	if (n <= 0) {
		/* EIO: no slave is open any more (every task process is
		 * gone). */
		close(p->master);
		p->master = -1;
		return false;
	}
	output_feed(out, p->stream, buf, (size_t)n);
	return true;
}

/* The caller's keys, in order, to the pty. */
static void relay_in(struct pty_relay *p)
{
	if (p->in_off == p->in_len) {
		ssize_t n = read(p->term, p->in, sizeof p->in);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		if (n <= 0) {
			/* The end of the caller's input: the task reads end of
			 * file once (VEOF on an empty line, canonical mode). */
			p->term = -1;
			p->in[0] = 4;
			n = 1;
		}
		p->in_off = 0;
		p->in_len = (size_t)n;
	}
	ssize_t w = write(p->master, p->in + p->in_off, p->in_len - p->in_off);
	if (w > 0)
		p->in_off += (size_t)w;
}

void pty_relay_handle(struct pty_relay *p, const struct pollfd fds[2],
		      struct output *out)
{
	if (p->master >= 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
		relay_out(p, out);
	if (p->master >= 0 &&
	    ((fds[0].revents & POLLOUT) || (fds[1].revents & POLLIN) ||
	     (fds[1].revents & POLLHUP)))
		relay_in(p);
}

void pty_relay_winch(struct pty_relay *p)
{
	struct winsize ws;
	if (p->master >= 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(p->master, TIOCSWINSZ, &ws); /* best effort: cosmetic */
}

void pty_relay_drain(struct pty_relay *p, struct output *out)
{
	while (p->master >= 0 && relay_out(p, out))
		;
}

void pty_relay_close(struct pty_relay *p)
{
	if (p->raw && tcsetattr(p->term >= 0 ? p->term : STDIN_FILENO,
				TCSADRAIN, &p->saved) == 0)
		p->raw = false;
	if (p->master >= 0)
		close(p->master);
	p->master = -1;
	p->term = -1;
}
