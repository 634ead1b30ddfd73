/* contain.h: the child side of sandbox_run (see contain.c). */
#ifndef WSBOX_SANDBOX_CONTAIN_H
#define WSBOX_SANDBOX_CONTAIN_H

#include <sys/types.h>

#include "sandbox/plan.h"
#include "sandbox/util/cleanup.h"

/* Runs in the clone3() child; never returns. upper_sock (-1 without
 * plan->upper_max_bytes) carries the workspace tmpfs to the parent,
 * seal_sock (-1 unless seal_wanted) the workspace overlay's superblock
 * (sandbox/seal.h), pty_sock (-1 without plan->pty_stdio) the master of
 * the task's pty. */
_Noreturn void contain_child(const struct plan *plan, int sync_fd,
			     int report_fd, int upper_sock, int seal_sock,
			     int pty_sock, pid_t parent);

#endif
