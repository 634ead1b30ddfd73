/* The plan: everything the sandbox needs to run one task, and nothing about
 * runs, caches or layers. The CLI and the store build it (cmd_exec.c); the
 * sandbox (monitor.c parent side, contain.c child side) only reads it. Data
 * flows one way through this struct. */
#ifndef WSBOX_SANDBOX_PLAN_H
#define WSBOX_SANDBOX_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy/policy.h"

enum net_mode { NET_NONE, NET_HOST };

struct limits {
	uint64_t memory_bytes; /* 0 = unlimited */
	uint64_t pids;	       /* 0 = unlimited */
	unsigned timeout_sec;  /* 0 = none */
	unsigned kill_grace_ms;
};

struct plan {
	/* Root filesystem: a host directory bound read-only. host_root means
	 * the host's "/" with /home, /root, /run, /tmp, /var/tmp hidden. */
	const char *rootfs;
	bool host_root;
	/* Host paths to hide (tmpfs over them) if they are visible inside the
	 * rootfs, e.g. the store itself when it lives under the host root. */
	const char *const *hide;
	size_t n_hide;

	/* Workspace overlay at /workspace: lower dirs topmost first (the
	 * order overlayfs wants), an upper and work dir private to this
	 * attempt (both NULL for a read-only workspace). */
	const char *const *lowers;
	size_t n_lowers;
	const char *upper;
	const char *work;
	/* An empty directory on the host to mount as the only lower when the
	 * task has no ancestors (overlay needs at least one lower). */
	const char *empty_lower;
	/* Scratch directory on the host where the new root is assembled. */
	const char *root_mnt;

	char *const *argv; /* CMD [ARG...] */
	char *const *envp; /* complete environment for CMD */
	const char *cwd;   /* inside; default /workspace */
	const char *hostname;

	uid_t uid; /* identity inside */
	gid_t gid;
	uid_t host_uid; /* the one host id the task maps to */
	gid_t host_gid;

	enum net_mode net;
	struct limits limits;
	const struct policy *policy;

	/* fds the task gets as 0, 1, 2 (-1 keeps wsbox's own). With
	 * close_stdio the parent closes them once the sandbox holds them, so
	 * pipes reach EOF when the last task process dies. */
	int stdio[3];
	bool close_stdio;
	/* Output to copy while the task runs: everything read from src is
	 * written to every dst (e.g. the task's stdout pipe to wsbox's stdout
	 * and to the log in the store). The monitor drains src until EOF. */
	struct plan_tee {
		int src;
		int dst[2];
	} tee[2];
	size_t n_tee;
};

#endif
