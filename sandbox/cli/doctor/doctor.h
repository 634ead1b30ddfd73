/* doctor.h: what the probes of `wsbox doctor` share (internal to
 * sandbox/cli/doctor/). doctor.c runs the probes in order and prints the
 * summary; each <probe>.c prints its own ok/warn/FAIL line through
 * doctor_report(); probe.c runs probes that alter namespaces in a child. */
#ifndef WSBOX_CLI_DOCTOR_H
#define WSBOX_CLI_DOCTOR_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/util/error.h"

enum level { LVL_OK, LVL_WARN, LVL_FAIL };

/* What the probes learned, for the summary lines and the exit status. */
struct doctor {
	bool failed; /* a required probe FAILed: exit 1 */
	bool is_root;
	bool overlay_api;     /* exec's overlay (lowerdir+ API) in a userns */
	bool overlay_classic; /* mount(2) overlay works in a userns */
	char api_why[WSBOX_ERROR_MAX];
	char classic_why[WSBOX_ERROR_MAX];
	bool fuse_found;
	char fuse_path[PATH_MAX];
	int auto_strategy; /* what exec's --strategy auto picks (WS_*) */
	char strategy_why[WSBOX_ERROR_MAX]; /* why not the kernel overlay */
	bool cgroup_usable;
	bool cgroup_v1; /* the leaves are cgroup v1 (cgroup_path lists them) */
	char cgroup_path[PATH_MAX];
	char cgroup_why[PATH_MAX + 512];
};

/* Print one probe line "<tag> <probe>: <detail>"; a FAIL marks d->failed.
 * Control characters in the detail are replaced (one line per probe). */
void doctor_report(struct doctor *d, enum level lvl, const char *probe,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- probe.c: probe children ---- */

/* What a probe child sends back over its pipe: one write, well below
 * PIPE_BUF, so the parent gets all of it or (child died) nothing. */
struct child_reply {
	int rc;			/* 0 or -errno */
	struct wsbox_error err; /* why, when rc < 0 */
	char info[512];		/* free-form detail on success */
	uint64_t bits;		/* probe-specific flags */
	double value;		/* probe-specific measurement */
};

typedef int (*probe_fn)(void *arg, struct child_reply *rep);

/* Run fn in a forked child (killed after a timeout) and collect its reply.
 * Returns the child's rc, or -EIO if it died silently, with the reason in
 * rep->err. */
int probe_run_child(probe_fn fn, void *arg, struct child_reply *rep);
/* Child side: become uid/gid 0 in a fresh user namespace, mapped to the
 * caller's own ids only (the map an unprivileged user may write itself). */
int probe_enter_userns(struct wsbox_error *err);
/* Its second half, in a namespace just made: map uid/gid (the caller's
 * ids before the unshare) to 0:0. */
int probe_map_self(uid_t uid, gid_t gid, struct wsbox_error *err);
/* The same plus a private mount namespace (nothing propagates back). */
int probe_enter_mountns(struct wsbox_error *err);
/* Where scratch trees go: $TMPDIR, else /tmp. */
const char *probe_tmpdir(void);

/* ---- userns.c: what the user-namespace probe learned, and its verdict
 * (pure, unit-tested) ---- */
struct userns_facts {
	long max_userns;  /* user.max_user_namespaces; -1: no such knob */
	long clone_ok;	  /* kernel.unprivileged_userns_clone; -1: none */
	long aa_restrict; /* kernel.apparmor_restrict_unprivileged_userns */
	bool is_root;
	bool probe_ok;	 /* unshare + single-id maps worked */
	bool created;	 /* unshare worked (whatever came after) */
	int errnum;	 /* why the probe failed, 0 if it did not */
	const char *why; /* the probe's error message */
};
/* The line's level and text ("<detail>; fix: ..."), without the probe
 * name. */
enum level userns_verdict(const struct userns_facts *f, char *buf, size_t size);

/* ---- the probes, in the order doctor runs them ---- */
void probe_userns(struct doctor *d);	   /* userns.c */
void probe_namespaces(struct doctor *d);   /* namespaces.c */
void probe_overlay(struct doctor *d);	   /* overlay.c */
void probe_fuse(struct doctor *d);	   /* overlay.c */
void probe_strategies(struct doctor *d);   /* strategy.c */
void probe_idmap(struct doctor *d);	   /* idmap.c */
void probe_seccomp(struct doctor *d);	   /* seccomp.c */
void probe_cgroup(struct doctor *d);	   /* cgroup.c */
void probe_default_pids(struct doctor *d); /* cgroup.c */
void probe_netns(struct doctor *d);	   /* namespaces.c */
void probe_kernel(struct doctor *d);	   /* kernel.c */
void probe_landlock(struct doctor *d);	   /* landlock.c */

#endif
