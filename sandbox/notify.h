/* notify.h: denied-syscall reporting, supervisor side (see notify.c). The
 * monitor (monitor.c) creates the channel before clone3, polls one fd, and
 * calls notify_handle when it is ready; the task side is
 * policy_install_reporting (policy/install.c), called from task_start
 * (contain.c) with notify_task_sock(). */
#ifndef WSBOX_SANDBOX_NOTIFY_H
#define WSBOX_SANDBOX_NOTIFY_H

#include <stdbool.h>

#include "sandbox/plan.h"
#include "sandbox/util/error.h"

/* on_denied is called for the first NOTIFY_MAX_REPORTS denials of a
 * sandbox; sandbox_result.denied_count counts them all. */
#define NOTIFY_MAX_REPORTS 1000

struct notify {
	const struct plan *plan;
	int sock;     /* our end of the socketpair until the listener came */
	int listener; /* seccomp user-notification fd, -1 until received */
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	unsigned count; /* notifications answered */
};

/* Before clone3: when the plan asks for reporting and the policy has a
 * reporting variant, create the socketpair; the child's end is what
 * notify_task_sock() returns in the clone child. Otherwise a no-op. */
int notify_setup(struct notify *n, const struct plan *plan,
		 struct wsbox_error *err);
/* After clone3, in both processes: each drops the other's end. */
void notify_after_clone(struct notify *n, bool in_child);
/* The fd to poll for POLLIN (the socket, then the listener), or -1. */
int notify_pollfd(const struct notify *n);
/* Handle readiness of notify_pollfd(); never blocks. */
void notify_handle(struct notify *n, short revents);
void notify_close(struct notify *n);

/* In the clone child: the socket to pass the listener over, or -1 when the
 * task installs the plain filter. */
int notify_task_sock(void);

#endif
