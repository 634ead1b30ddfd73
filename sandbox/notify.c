/* notify.c: denied-syscall reporting, supervisor side. The policy's
 * reporting variant (policy/report.c) makes every reportable denial a
 * SECCOMP_RET_USER_NOTIF; the task installs it with a listener as its last
 * step before execve and passes the listener over a socketpair created here
 * before clone3. The monitor polls our fd: first the socket (the listener
 * arriving), then the listener (one notification per readiness). Each
 * notification is answered with the policy's errno, never CONTINUE: the
 * supervisor only observes, the kernel's answer stays the policy's. */
#include "sandbox/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/util/fdpass.h"
#include "sandbox/util/fs.h"

/* Linux 6.6 (older uapi headers lack them): wake the supervisor on the
 * notifying task's CPU, a synchronous hand-off instead of a scheduler round
 * trip per denial. Older kernels refuse the ioctl; it is only speed. */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

/* The child's end of the socketpair. A file-scope variable because it must
 * reach task_start through clone3 and init without changing
 * contain_child()'s signature: set in the parent right before clone3, read
 * in the clone child's copy of memory, reset after. */
static int task_sock = -1;

static size_t req_size, resp_size;

int notify_task_sock(void)
{
	return task_sock;
}

int notify_setup(struct notify *n, const struct plan *plan,
		 struct wsbox_error *err)
{
	*n = (struct notify){.plan = plan, .sock = -1, .listener = -1};
	task_sock = -1;
	if (!plan->report_denied || !plan->policy ||
	    !plan->policy->notify_filter)
		return 0;
	/* The kernel's structs may be larger than our headers' (it checks
	 * that the whole buffer is zeroed): ask for its sizes. */
	struct seccomp_notif_sizes sizes;
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		return 0; /* no user notification: the task falls back too */
	req_size = sizes.seccomp_notif > sizeof *n->req ? sizes.seccomp_notif
							: sizeof *n->req;
	resp_size = sizes.seccomp_notif_resp > sizeof *n->resp
			? sizes.seccomp_notif_resp
			: sizeof *n->resp;
	int sv[2];
	/* SEQPACKET: the listener arrives with its one-byte message, never
	 * split or merged. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return wsbox_fail(err, errno,
				  "socketpair for seccomp listener");
	/* Only our end: the monitor's poll loop must never block on it. */
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return wsbox_fail(err, e, "seccomp listener socket");
	}
	n->req = xcalloc(1, req_size);
	n->resp = xcalloc(1, resp_size);
	n->sock = sv[0];
	task_sock = sv[1];
	return 0;
}

void notify_after_clone(struct notify *n, bool in_child)
{
	if (in_child) {
		/* init must not hold the supervisor's end. */
		if (n->sock >= 0)
			close(n->sock);
		n->sock = -1;
	} else {
		if (task_sock >= 0)
			close(task_sock);
		task_sock = -1;
	}
}

int notify_pollfd(const struct notify *n)
{
	return n->listener >= 0 ? n->listener : n->sock;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The listener arriving from the task. Anything unexpected ends reporting,
 * never the task: it keeps its filter, and without a reader the kernel
 * fails notified syscalls with ENOSYS once the last listener fd is gone. */
static void receive_listener(struct notify *n)
{
	int fd = fdpass_recv(n->sock, MSG_DONTWAIT);
	if (fd == -EAGAIN || fd == -EINTR)
		return;
	if (fd >= 0)
		n->listener = fd;
	close_fd(&n->sock);
	if (n->listener >= 0)
		(void)ioctl(n->listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
			    SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
}

static void answer_one(struct notify *n)
{
	memset(n->req, 0, req_size);
	if (ioctl(n->listener, SECCOMP_IOCTL_NOTIF_RECV, n->req) < 0) {
		/* ENOENT: the task died (or was killed) after the poll;
		 * EINTR: a signal for the monitor. Both: poll again. */
		if (errno != ENOENT && errno != EINTR)
			close_fd(&n->listener);
		return;
	}
	const struct policy *p = n->plan->policy;
	int nr = n->req->data.nr;
	memset(n->resp, 0, resp_size);
	n->resp->id = n->req->id;
	n->resp->error = -policy_denied_errno(p, nr);
	/* Answer before reporting, so a slow event sink never delays the
	 * task. ENOENT: it died meanwhile; the denial still happened. */
	(void)ioctl(n->listener, SECCOMP_IOCTL_NOTIF_SEND, n->resp);
	/* A task can deny itself in a loop: past the cap only the count
	 * grows, so it cannot flood the event log through us. */
	if (n->count++ < NOTIFY_MAX_REPORTS && n->plan->on_denied) {
		char *name =
		    seccomp_syscall_resolve_num_arch(n->req->data.arch, nr);
		const char *shown = name ? name : policy_syscall_name_newer(nr);
		n->plan->on_denied(n->plan->on_denied_ctx, (pid_t)n->req->pid,
				   nr, shown ? shown : "?");
		free(name);
	}
}

void notify_handle(struct notify *n, short revents)
{
	if (n->listener < 0) {
		if (n->sock >= 0 && revents)
			receive_listener(n);
		return;
	}
	if (revents & POLLIN)
		answer_one(n);
	else if (revents & (POLLHUP | POLLERR | POLLNVAL))
		/* Every process of the filter is gone. */
		close_fd(&n->listener);
}

void notify_close(struct notify *n)
{
	close_fd(&n->sock);
	close_fd(&n->listener);
	free(n->req);
	free(n->resp);
	n->req = NULL;
	n->resp = NULL;
	if (task_sock >= 0)
		close(task_sock);
	task_sock = -1;
}
