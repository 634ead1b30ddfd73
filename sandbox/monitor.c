/* monitor.c: the parent side of sandbox_run. Creates every namespace with
 * one clone3(), writes the child's id maps, lets it go, then supervises:
 * forwards signals to init, enforces --timeout (SIGTERM, grace, SIGKILL of
 * the whole PID namespace), and collects init's report and resource usage. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "init/init.h"
#include "sandbox/cgroup.h"
#include "sandbox/contain.h"
#include "sandbox/fuse_overlay.h"
#include "sandbox/notify.h"
#include "sandbox/ns.h"
#include "sandbox/output.h"
#include "sandbox/pty.h"
#include "sandbox/stdin_relay.h"
#include "sandbox/sandbox.h"
#include "sandbox/seal.h"
#include "sandbox/util/fdpass.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/trace.h"

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* cgroup_fd >= 0: born inside the sandbox's cgroup leaf, so no process of
 * the sandbox ever runs outside its limits (no window between fork and a
 * write to cgroup.procs), and its cgroup namespace is rooted there. */
static pid_t clone_sandbox(const struct plan *plan, int cgroup_fd)
{
	struct clone_args args = {
	    .flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
		     CLONE_NEWUTS | CLONE_NEWCGROUP,
	    .exit_signal = SIGCHLD,
	};
	if (plan->net == NET_NONE)
		args.flags |= CLONE_NEWNET;
	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
	}
	return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}

int sandbox_exit_status(const struct sandbox_result *res)
{
	if (res->timed_out)
		return WSBOX_EXIT_TIMEOUT;
	if (res->signaled)
		return 128 + res->code;
	return res->code;
}

/* "64M" for a size that is a whole number of K/M/G/T, else bytes. */
static void human_size(uint64_t v, char *buf, size_t cap)
{
	static const char units[] = "KMGT";
	int u = -1;
	while (u < 3 && v && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	if (u < 0)
		snprintf(buf, cap, "%" PRIu64 " bytes", v);
	else
		snprintf(buf, cap, "%" PRIu64 "%c", v, units[u]);
}

bool sandbox_limits_note(const struct sandbox_result *res,
			 const struct limits *l, char *buf, size_t cap)
{
	char mem[32];
	int n = 0;

	if (!cap)
		return false;
	buf[0] = '\0';
	if (res->oom_killed) {
		human_size(l->memory_bytes, mem, sizeof mem);
		/* The task itself was the victim, or one of its processes
		 * (then the task's status is whatever it made of that). */
		n = snprintf(buf, cap,
			     res->signaled && res->code == SIGKILL
				 ? "killed: memory limit %s reached (oom)"
				 : "memory limit %s reached (oom): a task "
				   "process was killed",
			     mem);
	}
	if (res->pids_max_hit && n >= 0 && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n,
			 "%spids limit %" PRIu64 " reached (a fork failed)",
			 n ? "; " : "", l->pids);
	return buf[0] != '\0';
}

/* Appended to the note: the task's writes hit the workspace tmpfs's size. */
static void upper_full_note(struct sandbox_result *res, uint64_t max)
{
	char size[32];
	human_size(max, size, sizeof size);
	size_t n = strlen(res->note);
	snprintf(res->note + n, sizeof res->note - n,
		 "%sworkspace size limit %s reached (writes failed with "
		 "ENOSPC)",
		 n ? "; " : "", size);
}

/* Read init's report; returns 1 when a full report arrived, 0 on EOF. */
static int read_report(int fd, struct init_report *rep)
{
	ssize_t n = read_all(fd, rep, sizeof *rep);
	return n == (ssize_t)sizeof *rep ? 1 : 0;
}

/* One sandbox under supervision: what the steps of supervise share. */
struct supervision {
	const struct plan *plan;
	struct sandbox_result *res;
	sigset_t old;	    /* the signal mask to restore */
	int sfd;	    /* signalfd: SIGCHLD and the forwarded signals */
	struct notify nt;   /* denied-syscall reports */
	int sync_r, sync_w; /* "go" to the child */
	int report_r, report_w; /* init's report */
	int upper_r, upper_w;	/* the workspace tmpfs (plan.upper_max_bytes) */
	int seal_r, seal_w;	/* the workspace overlay (SEAL_SUPERBLOCK) */
	struct seal seal;	/* the workspace, read-only after the task */
	pid_t child;
	pid_t fuse; /* the fuse-overlayfs daemon (WS_FUSE_OVERLAYFS), or -1 */
	double t0, deadline, kill_at; /* CLOCK_MONOTONIC; 0: none */
	bool term_sent, exited, have_report;
	struct init_report rep;
	int wstatus;
	struct rusage ru;
	struct output out;    /* the task's output to the caller and the logs */
	int pty_r, pty_w;     /* the task's pty master, from the child */
	struct pty_relay pty; /* its relay to the caller's terminal */
	struct stdin_relay in; /* wsbox's stdin to the task's (a stream) */
};

static void drop_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void supervision_close(struct supervision *s)
{
	/* First: the caller's terminal back as it was, on every way out. */
	pty_relay_close(&s->pty);
	stdin_relay_close(&s->in);
	int *fds[] = {&s->sfd,	    &s->sync_r,	 &s->sync_w,  &s->report_r,
		      &s->report_w, &s->upper_r, &s->upper_w, &s->seal_r,
		      &s->seal_w,   &s->pty_r,	 &s->pty_w};
	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
		drop_fd(fds[i]);
	notify_close(&s->nt);
	fuse_overlay_stop(&s->fuse);
	seal_close(&s->seal);
}

/* SIGCHLD and the signals init forwards arrive on a signalfd. */
static int block_signals(struct supervision *s, struct wsbox_error *err)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (int i = 0; i < init_n_forwarded_signals; i++)
		sigaddset(&set, init_forwarded_signals[i]);
	if (s->plan->pty_stdio)
		sigaddset(&set, SIGWINCH); /* the caller's window: the pty's */
	if (sigprocmask(SIG_BLOCK, &set, &s->old) < 0)
		return wsbox_fail(err, errno, "block signals");
	s->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (s->sfd < 0)
		return wsbox_fail(err, errno, "signalfd");
	return 0;
}

/* clone3 the sandbox; the child becomes the container (contain_child). */
static int start_child(struct supervision *s, int cgroup_fd,
		       struct wsbox_error *err)
{
	int sync_pipe[2], report_pipe[2];
	if (pipe2(sync_pipe, O_CLOEXEC) < 0)
		return wsbox_fail(err, errno, "pipe");
	s->sync_r = sync_pipe[0];
	s->sync_w = sync_pipe[1];
	if (pipe2(report_pipe, O_CLOEXEC) < 0)
		return wsbox_fail(err, errno, "pipe");
	s->report_r = report_pipe[0];
	s->report_w = report_pipe[1];
	int upper_sv[2];
	if (s->plan->upper && s->plan->upper_max_bytes) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
			       upper_sv) < 0)
			return wsbox_fail(err, errno, "socketpair");
		s->upper_r = upper_sv[0];
		s->upper_w = upper_sv[1];
	}
	int seal_sv[2];
	if (seal_kind_of(s->plan) == SEAL_SUPERBLOCK) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
			       seal_sv) < 0)
			return wsbox_fail(err, errno, "socketpair");
		s->seal_r = seal_sv[0];
		s->seal_w = seal_sv[1];
	}
	int pty_sv[2];
	if (s->plan->pty_stdio) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
			       pty_sv) < 0)
			return wsbox_fail(err, errno, "socketpair");
		s->pty_r = pty_sv[0];
		s->pty_w = pty_sv[1];
	}

	s->t0 = now_sec();
	pid_t parent = getpid();
	s->child = clone_sandbox(s->plan, cgroup_fd);
	if (s->child < 0)
		return wsbox_fail(err, errno,
				  "create namespaces (try `wsbox doctor`)");
	if (s->child == 0) {
		close(s->sync_w);
		close(s->report_r);
		if (s->upper_r >= 0)
			close(s->upper_r);
		if (s->seal_r >= 0)
			close(s->seal_r);
		if (s->pty_r >= 0)
			close(s->pty_r);
		/* The task's stdin ends when the relay closes this: no
		 * other copy may stay in the sandbox (init). */
		if (s->in.dst >= 0)
			close(s->in.dst);
		notify_after_clone(&s->nt, true);
		sigprocmask(SIG_SETMASK, &s->old, NULL);
		contain_child(s->plan, s->sync_r, s->report_w, s->upper_w,
			      s->seal_w, s->pty_w, parent);
	}
	drop_fd(&s->sync_r);
	drop_fd(&s->report_w);
	int r = seal_hold(&s->seal, s->plan, s->child, err);
	if (r < 0) {
		kill(s->child, SIGKILL);
		waitpid(s->child, NULL, 0);
		return r;
	}
	drop_fd(&s->upper_w);
	drop_fd(&s->seal_w);
	drop_fd(&s->pty_w);
	notify_after_clone(&s->nt, false);
	if (s->plan->close_stdio)
		for (int i = 0; i < 3; i++)
			if (s->plan->stdio[i] >= 0)
				close(s->plan->stdio[i]);
	return 0;
}

/* Write the child's id maps, then let it go. */
static int let_go(struct supervision *s, struct wsbox_error *err)
{
	int r = ns_user_write_maps(s->child, s->plan, err);
	/* fuse-overlayfs needs the maps (it takes the task's ids) and must
	 * have attached its mount before the child builds the root. */
	if (r == 0 && s->plan->strategy == WS_FUSE_OVERLAYFS)
		r = fuse_overlay_start(s->plan, s->child, &s->fuse, err);
	if (r < 0 || write_all(s->sync_w, "G", 1) < 0) {
		kill(s->child, SIGKILL);
		waitpid(s->child, NULL, 0);
		return r < 0 ? r : wsbox_fail(err, EPIPE, "start sandbox");
	}
	return 0;
}

/* --timeout: ask nicely through init, then, after the grace, take the
 * whole PID namespace down with its init. */
static void enforce_timeout(struct supervision *s)
{
	double t = now_sec();
	if (s->kill_at && t >= s->kill_at) {
		kill(s->child, SIGKILL);
		s->kill_at = 0;
	} else if (s->deadline && t >= s->deadline && !s->term_sent) {
		s->res->timed_out = true;
		s->term_sent = true;
		kill(s->child, SIGTERM);
		unsigned grace_ms = s->plan->limits.kill_grace_ms
					? s->plan->limits.kill_grace_ms
					: 2000;
		s->kill_at = t + grace_ms / 1000.0;
		s->deadline = 0;
	}
}

/* Milliseconds until the next timeout action, -1 for none. */
static int poll_timeout_ms(const struct supervision *s)
{
	double next = s->kill_at ? s->kill_at : s->deadline;
	if (!next)
		return -1;
	double left = next - now_sec();
	return left > 0 ? (int)(left * 1000) + 1 : 0;
}

/* Handle what poll found ready: denied syscalls, output, init's report,
 * signals to forward. */
static void handle_ready(struct supervision *s, const struct pollfd *fds, int n)
{
	if (n > 0 && fds[4].revents)
		notify_handle(&s->nt, fds[4].revents);
	for (int i = 0; i < 2; i++)
		if (fds[2 + i].revents && !output_pump(&s->out, i))
			s->out.open[i] = false;
	if (fds[1].revents) {
		s->have_report = read_report(s->report_r, &s->rep) == 1;
		if (!s->have_report)
			drop_fd(&s->report_r);
	}
	if (fds[5].revents) {
		/* The child's pty master, once; EOF: setup failed first. */
		int m = fdpass_recv(s->pty_r, MSG_DONTWAIT);
		if (m != -EAGAIN)
			drop_fd(&s->pty_r);
		if (m >= 0)
			pty_relay_attach(&s->pty, m);
	}
	pty_relay_handle(&s->pty, &fds[6], &s->out);
	stdin_relay_handle(&s->in, &fds[8]);
	if (fds[0].revents & POLLIN) {
		struct signalfd_siginfo si;
		if (read(s->sfd, &si, sizeof si) != (ssize_t)sizeof si ||
		    si.ssi_signo == SIGCHLD)
			return;
		if (si.ssi_signo == SIGWINCH)
			pty_relay_winch(&s->pty);
		else
			kill(s->child, (int)si.ssi_signo);
	}
}

/* The pump loop: until init is gone (or poll fails). */
static void watch(struct supervision *s)
{
	s->deadline = s->plan->limits.timeout_sec
			  ? s->t0 + s->plan->limits.timeout_sec
			  : 0;
	output_init(&s->out, s->plan);
	while (!s->exited) {
		struct pollfd fds[10] = {
		    {.fd = s->sfd, .events = POLLIN},
		    {.fd = s->have_report ? -1 : s->report_r, .events = POLLIN},
		    {.fd = s->out.open[0] ? s->out.tee[0].src : -1,
		     .events = POLLIN},
		    {.fd = s->out.open[1] ? s->out.tee[1].src : -1,
		     .events = POLLIN},
		    {.fd = notify_pollfd(&s->nt), .events = POLLIN},
		    {.fd = s->pty_r, .events = POLLIN},
		};
		pty_relay_pollfds(&s->pty, &fds[6]);
		stdin_relay_pollfds(&s->in, &fds[8]);
		int n = poll(fds, 10, poll_timeout_ms(s));
		if (n < 0 && errno != EINTR)
			break;
		handle_ready(s, fds, n);
		if (wait4(s->child, &s->wstatus, WNOHANG, &s->ru) == s->child) {
			s->exited = true;
			break;
		}
		enforce_timeout(s);
	}
}

/* Init is gone (killed here if the loop broke off). */
static void reap(struct supervision *s)
{
	if (!s->exited) {
		kill(s->child, SIGKILL);
		wait4(s->child, &s->wstatus, 0, &s->ru);
	}
}

/* Every writer is dead now: drain what is left in the pipes, read a report
 * not yet read, and total the resources. */
static void collect(struct supervision *s)
{
	sigprocmask(SIG_SETMASK, &s->old, NULL);
	pty_relay_drain(&s->pty, &s->out);
	output_drain(&s->out);
	output_result(&s->out, s->res);
	if (!s->have_report && s->report_r >= 0)
		s->have_report = read_report(s->report_r, &s->rep) == 1;

	struct sandbox_result *res = s->res;
	const struct rusage *ru = &s->ru;
	res->wall_sec = now_sec() - s->t0;
	res->cpu_sec = (double)ru->ru_utime.tv_sec +
		       ru->ru_utime.tv_usec / 1e6 +
		       (double)ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6;
	res->max_rss_kb = (uint64_t)ru->ru_maxrss;
	res->denied_count = s->nt.count;
}

/* The workspace tmpfs the child sent before the task started (the message
 * outlives its sender), and whether the task filled it. */
static void receive_upper_fs(struct supervision *s)
{
	if (s->upper_r < 0)
		return;
	int fs = fdpass_recv(s->upper_r, MSG_DONTWAIT);
	if (fs < 0)
		return; /* fell back to the host dirs, or setup failed */
	s->res->upper_fs = fs;
	struct statfs sf;
	s->res->upper_full = fstatfs(s->res->upper_fs, &sf) == 0 &&
			     (sf.f_bavail == 0 || sf.f_ffree == 0);
}

/* Every process of the sandbox is gone: the workspace turns read-only
 * before anyone captures it (sandbox/seal.h). A task that failed or timed
 * out has nothing to publish, so a refused seal does not replace its own
 * status (a copy workspace cut by --timeout before pivot_root has no
 * /workspace to seal either): it is only noted in seal_refused, which an
 * attempt's commit heeds, since its later steps share the upper dir. */
static int seal_workspace(struct supervision *s, struct wsbox_error *err)
{
	if (s->seal_r >= 0)
		seal_receive(&s->seal, s->seal_r);
	int r = seal_apply(&s->seal, err);
	if (r == 0)
		return 0;
	s->res->seal_refused = true;
	if (sandbox_exit_status(s->res) == 0)
		return r;
	*err = (struct wsbox_error){0};
	return 0;
}

/* How the task ended, from init's report: 0 when it ran (whatever its
 * status), else the sandbox's setup failure. */
static int judge_report(struct supervision *s, struct wsbox_error *err)
{
	struct sandbox_result *res = s->res;
	if (res->timed_out)
		return 0;
	if (!s->have_report)
		return wsbox_fail(err, 0, "sandbox died before reporting (%s)",
				  WIFSIGNALED(s->wstatus)
				      ? strsignal(WTERMSIG(s->wstatus))
				      : "no report");
	switch (s->rep.kind) {
	case INIT_REPORT_EXITED:
		res->code = s->rep.code;
		return 0;
	case INIT_REPORT_SIGNALED:
		res->signaled = true;
		res->code = s->rep.code;
		return 0;
	default:
		s->rep.msg[sizeof s->rep.msg - 1] = '\0';
		return wsbox_fail_status(
		    err, s->rep.code ? s->rep.code : WSBOX_EXIT_FAILURE, 0,
		    "sandbox setup: %s", s->rep.msg);
	}
}

/* Run the sandbox of `plan` (its limits already in place) to the end. */
static int supervise(const struct plan *plan, int cgroup_fd,
		     struct sandbox_result *res, struct wsbox_error *err)
{
	_cleanup_(supervision_close) struct supervision s = {
	    .plan = plan,
	    .res = res,
	    .sfd = -1,
	    .nt = {.sock = -1, .listener = -1},
	    .sync_r = -1,
	    .sync_w = -1,
	    .report_r = -1,
	    .report_w = -1,
	    .upper_r = -1,
	    .upper_w = -1,
	    .seal_r = -1,
	    .seal_w = -1,
	    .seal = SEAL_INIT,
	    .fuse = -1,
	    .pty_r = -1,
	    .pty_w = -1,
	};
	pty_relay_init(&s.pty, plan);
	stdin_relay_init(&s.in, plan);
	memset(res, 0, sizeof *res);
	res->upper_fs = -1;
	int r = block_signals(&s, err);
	if (r < 0)
		return r;
	/* Denied-syscall reporting: the listener's channel exists before
	 * clone3 so the task can hand the listener back (notify.c). */
	r = notify_setup(&s.nt, plan, err);
	if (r < 0)
		return r;
	r = start_child(&s, cgroup_fd, err);
	if (r < 0)
		return r;
	trace_phase("cloned");
	r = let_go(&s, err);
	if (r < 0)
		return r;
	trace_phase("maps written");
	watch(&s);
	stdin_relay_close(&s.in); /* the task is gone: nothing to copy */
	reap(&s);
	/* Init's exit dropped the last mount of the fuse workspace, which
	 * flushed it: the upper dir is complete before capture. */
	fuse_overlay_stop(&s.fuse);
	trace_phase("reaped");
	collect(&s);
	receive_upper_fs(&s);
	r = judge_report(&s, err);
	if (r == 0)
		r = seal_workspace(&s, err);
	trace_phase("sealed");
	if (r < 0 && res->upper_fs >= 0)
		drop_fd(&res->upper_fs);
	return r;
}

/* Where the limits go: a cgroup leaf when one fits (cgroup.c decides, the
 * same call as `wsbox doctor`), else the rlimits the child sets. A
 * --cgroup-parent that does not fit is an error, not a silent fallback. */
static int limits_prepare(struct plan *p, struct sandbox_cgroup *cg,
			  const char **via, struct wsbox_error *err)
{
	const struct limits *l = &p->limits;
	unsigned need = cgroup_need(l), want = cgroup_want(l);
	struct cgroup_choice c;

	if (!l->pids)
		p->limits.default_nproc = ns_limits_default_nproc();
	if (!need && !want && !l->cgroup_parent)
		return 0; /* nothing to limit: no cgroup cost either */
	cgroup_choose(l->cgroup_parent, need, want, false, &c);
	if (!c.usable) {
		if (l->cgroup_parent)
			return wsbox_fail_status(err, WSBOX_EXIT_FAILURE, 0,
						 "--cgroup-parent `%s`: %s",
						 l->cgroup_parent, c.why);
		*via = "rlimit";
		/* A rate has no rlimit (RLIMIT_CPU is total CPU seconds and
		 * kills): say so once rather than pretend. */
		if (want)
			fprintf(stderr,
				"wsbox: --cpus not enforced: no usable cgroup "
				"(%s)\n",
				c.why);
		return 0;
	}
	if (want & ~c.have)
		fprintf(stderr, "wsbox: --cpus not enforced: %s\n", c.why);
	/* Its own error: cgroup_create may leave the text of a tolerated
	 * failure (no memory.swap.max without swap accounting) behind on
	 * success, and err carries failures only. */
	struct wsbox_error cerr = {0};
	int r = cgroup_create(&c, l, cg, &cerr);
	if (r < 0) {
		*err = cerr;
		return r;
	}
	*via = "cgroup";
	p->limits.via_cgroup = true;
	return 0;
}

int sandbox_run(const struct plan *plan, struct sandbox_result *res,
		struct wsbox_error *err)
{
	struct plan p = *plan;
	struct sandbox_cgroup cg = {.fd = -1};
	const char *via = NULL;

	memset(res, 0, sizeof *res);
	res->upper_fs = -1;
	int r = limits_prepare(&p, &cg, &via, err);
	if (r < 0)
		return r;
	pty_prepare(&p);
	r = supervise(&p, cg.fd, res, err);
	res->limits_via = via;
	/* init is reaped: the PID namespace and every task process are gone,
	 * so the cgroup's counters are final. */
	cgroup_collect(&cg, res);
	cgroup_destroy(&cg);
	if (r == 0)
		sandbox_limits_note(res, &p.limits, res->note,
				    sizeof res->note);
	if (r == 0 && res->upper_full)
		upper_full_note(res, p.upper_max_bytes);
	return r;
}
