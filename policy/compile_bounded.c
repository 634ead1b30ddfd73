/* The bound on compilation: libseccomp 2.5 can spend minutes on two lines of
 * argument conditions (policy/README.md "Bounded compilation"), and a policy
 * file is a tenant's input, so compile.c runs in a forked child with a CPU
 * limit and a wall-clock deadline. The child sends the exported program back
 * over a pipe; the parent reads at most one program's worth and checks its
 * size before load.c caches or hands it out. */
#include "policy/policy_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* What the child writes: this header, then (r == 0) the program, whose
 * length is whatever follows the header. */
struct reply {
	int r; /* 0 or -errno */
	unsigned nrules;
	struct wsbox_error err; /* r < 0: the compiler's refusal */
};

/* The largest honest reply; one byte more is read to see a longer one. */
#define REPLY_MAX                                                              \
	(sizeof(struct reply) + BPF_MAXINSNS * sizeof(struct sock_filter))

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void policy_budget_start(struct policy_budget *b, const char *name, unsigned ms)
{
	b->name = name;
	b->ms = ms;
	b->deadline_ns = now_ns() + (uint64_t)ms * 1000000u;
}

/* The child: limits, the compilation, one reply, _exit (no atexit handler
 * or stdio buffer of the parent runs twice). */
static _Noreturn void compile_child(pid_t parent, int fd,
				    const struct policy_set *ps,
				    const struct policy_variant *v, unsigned ms)
{
	/* A parent gone (killed between fork and here, too) must not leave
	 * the compiler running. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	/* The backstop if the parent cannot kill us at the deadline (it is
	 * stopped, say). Soft == hard: the kernel sends SIGKILL, not SIGXCPU,
	 * whose default action would dump core. */
	rlim_t secs = (ms + 999) / 1000;
	struct rlimit cpu = {.rlim_cur = secs, .rlim_max = secs};
	if (setrlimit(RLIMIT_CPU, &cpu) < 0)
		_exit(1);
	struct reply rep = {0};
	struct sock_filter *prog = NULL; /* freed with the process */
	unsigned short len = 0;
	rep.r = v ? policy_compile_variant(ps, v, &prog, &len, &rep.nrules,
					   &rep.err)
		  : policy_compile(ps, &prog, &len, &rep.nrules, &rep.err);
	if (write_all(fd, &rep, sizeof rep) < 0)
		_exit(1);
	if (rep.r == 0 && write_all(fd, prog, len * sizeof *prog) < 0)
		_exit(1);
	_exit(0);
}

/* Read the reply until EOF, the deadline (-ETIMEDOUT) or `cap` bytes
 * (-E2BIG). Bounded: every pass reads a byte or waits out the deadline. */
static int read_reply(int fd, uint64_t deadline, unsigned char *buf, size_t cap,
		      size_t *n)
{
	*n = 0;
	for (;;) {
		uint64_t now = now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		uint64_t wait_ms = (deadline - now + 999999) / 1000000;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int k =
		    poll(&pfd, 1, wait_ms > INT_MAX ? INT_MAX : (int)wait_ms);
		if (k < 0 && errno != EINTR)
			return -errno;
		if (k <= 0)
			continue;
		ssize_t got = read(fd, buf + *n, cap - *n);
		if (got < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (got == 0)
			return 0;
		if (got > 0)
			*n += (size_t)got;
		if (*n == cap)
			return -E2BIG;
	}
}

/* Kill (a no-op on a child that has exited: its status stays) and reap, so
 * no compiler outlives the call. Returns whether `ru` and `status` are the
 * child's (not when SIGCHLD is ignored: the kernel reaped it). */
static bool reap(pid_t pid, int *status, struct rusage *ru)
{
	(void)kill(pid, SIGKILL);
	for (;;) {
		if (wait4(pid, status, 0, ru) == pid)
			return true;
		if (errno != EINTR)
			return false;
	}
}

static int fail_timeout(const struct policy_budget *b, struct wsbox_error *err)
{
	char bound[32];
	if (b->ms % 1000 == 0)
		snprintf(bound, sizeof bound, "%u s", b->ms / 1000);
	else
		snprintf(bound, sizeof bound, "%u ms", b->ms);
	return wsbox_fail_logic(err, ETIMEDOUT,
				"policy `%s`: compile took longer than %s "
				"(libseccomp; simplify its argument "
				"conditions)",
				b->name, bound);
}

static uint64_t cpu_ms(const struct rusage *ru)
{
	return (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000 +
	       (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1000;
}

/* Why a child that sent no complete reply ended. */
static int fail_child(const struct policy_budget *b, bool reaped, int status,
		      const struct rusage *ru, struct wsbox_error *err)
{
	if (!reaped)
		return wsbox_fail_logic(err, EIO,
					"policy `%s`: the compiler ended "
					"without a result",
					b->name);
	/* SIGKILL after its whole CPU allowance: RLIMIT_CPU's. */
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
	    cpu_ms(ru) >= (b->ms + 999) / 1000 * 1000)
		return fail_timeout(b, err);
	if (WIFSIGNALED(status))
		return wsbox_fail_logic(err, EIO,
					"policy `%s`: the compiler was killed "
					"by signal %d",
					b->name, WTERMSIG(status));
	return wsbox_fail_logic(err, EIO,
				"policy `%s`: the compiler exited with status "
				"%d without a result",
				b->name, WEXITSTATUS(status));
}

/* Take the program out of a complete reply. */
static int take_program(const struct policy_budget *b, const unsigned char *buf,
			size_t n, struct sock_filter **out, unsigned short *len,
			struct wsbox_error *err)
{
	size_t bytes = n - sizeof(struct reply);
	if (bytes == 0 || bytes % sizeof(struct sock_filter) ||
	    bytes / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return wsbox_fail_logic(err, EPROTO,
					"policy `%s`: the compiler returned "
					"%zu bytes, not a program",
					b->name, bytes);
	struct sock_filter *prog = xcalloc(1, bytes);
	memcpy(prog, buf + sizeof(struct reply), bytes);
	*out = prog;
	*len = (unsigned short)(bytes / sizeof(struct sock_filter));
	return 0;
}

int policy_compile_bounded(const struct policy_set *ps,
			   const struct policy_variant *v,
			   const struct policy_budget *b,
			   struct sock_filter **out, unsigned short *len,
			   unsigned *nrules, struct wsbox_error *err)
{
	if (now_ns() >= b->deadline_ns)
		return fail_timeout(b, err);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return wsbox_fail(err, errno, "policy `%s`: pipe", b->name);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		compile_child(parent, p[1], ps, v, b->ms);
	}
	int fork_errno = errno;
	close(p[1]);
	_cleanup_close_ int fd = p[0];
	if (pid < 0)
		return wsbox_fail(err, fork_errno, "policy `%s`: fork compiler",
				  b->name);

	_cleanup_free_ unsigned char *buf = xcalloc(1, REPLY_MAX + 1);
	size_t n = 0;
	int r = read_reply(fd, b->deadline_ns, buf, REPLY_MAX + 1, &n);
	int status = 0;
	struct rusage ru = {0};
	bool reaped = reap(pid, &status, &ru);
	if (r == -ETIMEDOUT)
		return fail_timeout(b, err);
	if (r == -E2BIG)
		return wsbox_fail_logic(err, E2BIG,
					"policy `%s`: the compiler returned "
					"more than %d instructions",
					b->name, BPF_MAXINSNS);
	if (r < 0)
		return wsbox_fail(
		    err, -r, "policy `%s`: read from the compiler", b->name);
	if (n < sizeof(struct reply))
		return fail_child(b, reaped, status, &ru, err);

	struct reply rep;
	memcpy(&rep, buf, sizeof rep);
	if (rep.r < 0) {
		*err = rep.err;
		err->msg[sizeof err->msg - 1] = '\0';
		return rep.r;
	}
	if (rep.r > 0)
		return wsbox_fail_logic(err, EPROTO,
					"policy `%s`: the compiler returned %d",
					b->name, rep.r);
	r = take_program(b, buf, n, out, len, err);
	if (r < 0)
		return r;
	if (nrules)
		*nrules = rep.nrules;
	return 0;
}
