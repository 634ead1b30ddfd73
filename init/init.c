/* init/init.c: the sandbox's PID 1 (see init.h). Signals arrive through a
 * signalfd so forwarding and reaping happen in one loop without async
 * handlers; as PID 1 of a PID namespace we only receive signals that are
 * blocked or handled, so every forwarded signal is blocked before fork. */
#include "init/init.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/util/fs.h"
#include "sandbox/util/trace.h"

const int init_forwarded_signals[] = {SIGTERM, SIGINT,	SIGHUP,
				      SIGQUIT, SIGUSR1, SIGUSR2};
const int init_n_forwarded_signals =
    sizeof init_forwarded_signals / sizeof *init_forwarded_signals;

void init_send_report(int fd, int kind, int code, const char *msg)
{
	struct init_report rep = {.kind = kind, .code = code};
	if (msg)
		snprintf(rep.msg, sizeof rep.msg, "%s", msg);
	(void)write_all(fd, &rep, sizeof rep);
}

/* The task and everything it forks are the OOM killer's first choice,
 * ahead of init: a memory hog whose memory is in no process's RSS (a memfd,
 * tmpfs files) would otherwise get init killed and the whole sandbox lost
 * without a report. Raising one's own value needs no privilege; the task
 * may lower it again, down to init's 0, which only harms its own run. */
#define TASK_OOM_SCORE_ADJ "500"

static void task_oom_first(void)
{
	struct wsbox_error err;
	/* A non-dumpable process's /proc files belong to (unmapped) host
	 * root: dumpable for this one write, before any other task process
	 * exists (execve makes the task dumpable anyway). */
	if (prctl(PR_SET_DUMPABLE, 1) < 0)
		return;
	(void)write_file_at(AT_FDCWD, "/proc/self/oom_score_adj",
			    TASK_OOM_SCORE_ADJ, &err);
	(void)prctl(PR_SET_DUMPABLE, 0);
}

static bool is_forwarded(int sig)
{
	for (int i = 0; i < init_n_forwarded_signals; i++)
		if (init_forwarded_signals[i] == sig)
			return true;
	return false;
}

/* Reap every child that has exited; note the task's status. */
static void reap(pid_t task, bool *task_done, int *task_status)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p <= 0)
			return;
		if (p == task) {
			*task_done = true;
			*task_status = st;
		}
	}
}

void init_main(int report_fd, void (*start_task)(void *), void *arg)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (int i = 0; i < init_n_forwarded_signals; i++)
		sigaddset(&set, init_forwarded_signals[i]);
	sigset_t old;
	if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
		wsbox_die(WSBOX_EXIT_FAILURE, errno, "init: block signals");
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		wsbox_die(WSBOX_EXIT_FAILURE, errno, "init: signalfd");

	pid_t task = fork();
	if (task < 0) {
		init_send_report(report_fd, INIT_REPORT_SETUP_FAILED,
				 WSBOX_EXIT_FAILURE, "init: fork task failed");
		_exit(WSBOX_EXIT_FAILURE);
	}
	if (task == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		task_oom_first();
		start_task(arg);
		_exit(WSBOX_EXIT_FAILURE);
	}

	bool done = false;
	int status = 0;
	while (!done) {
		struct signalfd_siginfo si;
		ssize_t n = read(sfd, &si, sizeof si);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof si)
			break;
		if (si.ssi_signo == SIGCHLD) {
			reap(task, &done, &status);
			if (done)
				trace_phase("init task reaped");
		} else if (is_forwarded((int)si.ssi_signo))
			kill(task, (int)si.ssi_signo);
	}

	/* The task is gone: end everything it left behind. kill(-1) from PID
	 * 1 reaches every other process of the namespace. */
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	if (!done)
		init_send_report(report_fd, INIT_REPORT_SETUP_FAILED,
				 WSBOX_EXIT_FAILURE,
				 "init: lost track of the task");
	else if (WIFSIGNALED(status))
		init_send_report(report_fd, INIT_REPORT_SIGNALED,
				 WTERMSIG(status), NULL);
	else
		init_send_report(report_fd, INIT_REPORT_EXITED,
				 WEXITSTATUS(status), NULL);
	trace_phase("init reported");
	_exit(0);
}
