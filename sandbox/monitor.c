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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "init/init.h"
#include "sandbox/cgroup.h"
#include "sandbox/contain.h"
#include "sandbox/notify.h"
#include "sandbox/ns.h"
#include "sandbox/sandbox.h"
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

/* Copy what is available on a tee source to its sinks; returns false at
 * EOF. A sink that fails (closed terminal) is dropped, never the task. */
static bool pump(struct plan_tee *t)
{
	char buf[65536];
	ssize_t n = read(t->src, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	for (int i = 0; i < 2; i++)
		if (t->dst[i] >= 0 && write_all(t->dst[i], buf, (size_t)n) < 0)
			t->dst[i] = -1;
	return true;
}

/* Read init's report; returns 1 when a full report arrived, 0 on EOF. */
static int read_report(int fd, struct init_report *rep)
{
	ssize_t n = read_all(fd, rep, sizeof *rep);
	return n == (ssize_t)sizeof *rep ? 1 : 0;
}

/* Run the sandbox of `plan` (its limits already in place) to the end. */
static int supervise(const struct plan *plan, int cgroup_fd,
		     struct sandbox_result *res, struct wsbox_error *err)
{
	int sync_pipe[2], report_pipe[2];
	memset(res, 0, sizeof *res);

	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (int i = 0; i < init_n_forwarded_signals; i++)
		sigaddset(&set, init_forwarded_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
		return wsbox_fail(err, errno, "block signals");
	_cleanup_close_ int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		return wsbox_fail(err, errno, "signalfd");
	/* Denied-syscall reporting: the listener's channel exists before
	 * clone3 so the task can hand the listener back (notify.c). */
	_cleanup_(notify_close) struct notify nt;
	int nrc = notify_setup(&nt, plan, err);
	if (nrc < 0)
		return nrc;
	if (pipe2(sync_pipe, O_CLOEXEC) < 0)
		return wsbox_fail(err, errno, "pipe");
	if (pipe2(report_pipe, O_CLOEXEC) < 0) {
		close(sync_pipe[0]);
		close(sync_pipe[1]);
		return wsbox_fail(err, errno, "pipe");
	}
	_cleanup_close_ int sync_w = sync_pipe[1];
	_cleanup_close_ int report_r = report_pipe[0];

	double t0 = now_sec();
	pid_t parent = getpid();
	pid_t child = clone_sandbox(plan, cgroup_fd);
	if (child < 0) {
		int e = errno;
		close(sync_pipe[0]);
		close(report_pipe[1]);
		return wsbox_fail(err, e,
				  "create namespaces (try `wsbox doctor`)");
	}
	if (child == 0) {
		close(sync_pipe[1]);
		close(report_pipe[0]);
		notify_after_clone(&nt, true);
		sigprocmask(SIG_SETMASK, &old, NULL);
		contain_child(plan, sync_pipe[0], report_pipe[1], parent);
	}
	close(sync_pipe[0]);
	close(report_pipe[1]);
	notify_after_clone(&nt, false);
	trace_phase("cloned");
	if (plan->close_stdio)
		for (int i = 0; i < 3; i++)
			if (plan->stdio[i] >= 0)
				close(plan->stdio[i]);

	int r = ns_user_write_maps(child, plan, err);
	if (r < 0 || write_all(sync_w, "G", 1) < 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		return r < 0 ? r : wsbox_fail(err, EPIPE, "start sandbox");
	}

	trace_phase("maps written");
	struct init_report rep = {0};
	bool have_report = false, exited = false, term_sent = false;
	double deadline =
	    plan->limits.timeout_sec ? t0 + plan->limits.timeout_sec : 0;
	double kill_at = 0;
	int wstatus = 0;
	struct rusage ru = {0};

	struct plan_tee tee[2];
	size_t n_tee = plan->n_tee;
	memcpy(tee, plan->tee, sizeof tee);
	bool tee_open[2] = {n_tee > 0, n_tee > 1};
	while (!exited) {
		struct pollfd fds[5] = {
		    {.fd = sfd, .events = POLLIN},
		    {.fd = have_report ? -1 : report_r, .events = POLLIN},
		    {.fd = tee_open[0] ? tee[0].src : -1, .events = POLLIN},
		    {.fd = tee_open[1] ? tee[1].src : -1, .events = POLLIN},
		    {.fd = notify_pollfd(&nt), .events = POLLIN},
		};
		int timeout_ms = -1;
		double next = kill_at ? kill_at : deadline;
		if (next) {
			double left = next - now_sec();
			timeout_ms = left > 0 ? (int)(left * 1000) + 1 : 0;
		}
		int n = poll(fds, 5, timeout_ms);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && fds[4].revents)
			notify_handle(&nt, fds[4].revents);
		for (int i = 0; i < 2; i++)
			if (fds[2 + i].revents && !pump(&tee[i]))
				tee_open[i] = false;
		if (fds[1].revents) {
			have_report = read_report(report_r, &rep) == 1;
			if (!have_report) {
				close(report_r);
				report_r = -1;
			}
		}
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si &&
			    si.ssi_signo != SIGCHLD)
				kill(child, (int)si.ssi_signo);
		}
		pid_t p = wait4(child, &wstatus, WNOHANG, &ru);
		if (p == child) {
			exited = true;
			break;
		}
		double t = now_sec();
		if (kill_at && t >= kill_at) {
			kill(child, SIGKILL);
			kill_at = 0;
		} else if (deadline && t >= deadline && !term_sent) {
			/* Ask nicely through init, then take the whole PID
			 * namespace down with its init. */
			res->timed_out = true;
			term_sent = true;
			kill(child, SIGTERM);
			kill_at = t + (plan->limits.kill_grace_ms
					   ? plan->limits.kill_grace_ms
					   : 2000) /
					  1000.0;
			deadline = 0;
		}
	}
	if (!exited) {
		kill(child, SIGKILL);
		wait4(child, &wstatus, 0, &ru);
	}
	trace_phase("reaped");
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* Every writer is dead now: drain what is left in the pipes. */
	for (int i = 0; i < 2; i++)
		while (tee_open[i] && pump(&tee[i]))
			;
	if (!have_report && report_r >= 0)
		have_report = read_report(report_r, &rep) == 1;

	res->wall_sec = now_sec() - t0;
	res->cpu_sec = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	res->max_rss_kb = (uint64_t)ru.ru_maxrss;
	res->denied_count = nt.count;
	if (res->timed_out)
		return 0;
	if (!have_report)
		return wsbox_fail(err, 0, "sandbox died before reporting (%s)",
				  WIFSIGNALED(wstatus)
				      ? strsignal(WTERMSIG(wstatus))
				      : "no report");
	switch (rep.kind) {
	case INIT_REPORT_EXITED:
		res->code = rep.code;
		return 0;
	case INIT_REPORT_SIGNALED:
		res->signaled = true;
		res->code = rep.code;
		return 0;
	default:
		rep.msg[sizeof rep.msg - 1] = '\0';
		return wsbox_fail_status(
		    err, rep.code ? rep.code : WSBOX_EXIT_FAILURE, 0,
		    "sandbox setup: %s", rep.msg);
	}
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
	int r = cgroup_create(&c, l, cg, err);
	if (r < 0)
		return r;
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
	int r = limits_prepare(&p, &cg, &via, err);
	if (r < 0)
		return r;
	r = supervise(&p, cg.fd, res, err);
	res->limits_via = via;
	/* init is reaped: the PID namespace and every task process are gone,
	 * so the cgroup's counters are final. */
	cgroup_collect(&cg, res);
	cgroup_destroy(&cg);
	char note[256];
	if (r == 0 && !err->msg[0] &&
	    sandbox_limits_note(res, &p.limits, note, sizeof note))
		wsbox_fail_status(err, 0, 0, "%s", note);
	return r;
}
