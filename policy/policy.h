/* policy/: what a task may do once it runs. Owns the seccomp policies
 * (the profiles/ directory, parsed and compiled with libseccomp, BPF cached per
 * policy) and the capability drop (libcap-ng). The parent compiles; the child
 * only installs, with no allocation between fork and execve. */
#ifndef WSBOX_POLICY_H
#define WSBOX_POLICY_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>

#include "sandbox/util/error.h"

/* One entry of a reporting variant's table: notified syscall nr fails with
 * err. */
struct policy_errno {
	int nr, err;
};

struct policy {
	char *name;	 /* "default", "strict", "permissive" or a path */
	char digest[72]; /* "sha256:<hex>" of the resolved policy text:
			    its identity in cache keys and records */
	struct sock_filter *filter; /* BPF produced by libseccomp */
	unsigned short len;	    /* instructions in filter */

	/* Denied-syscall reporting (policy/report.c): the same policy with
	 * its errno denials (other than ENOSYS and errno 0) returning
	 * SECCOMP_RET_USER_NOTIF instead, so that a supervisor holding the
	 * listener learns each one and answers it with the policy's errno
	 * (policy_denied_errno). NULL when the policy denies nothing
	 * reportable or cannot be reported safely. */
	struct sock_filter *notify_filter;
	unsigned short notify_len;
	int notify_default_errno; /* for notified syscalls not in the table */
	struct policy_errno *notify_errnos;
	size_t n_notify_errnos;
};

struct policy_options {
	/* Directory for the compiled-BPF cache (e.g. STORE/cache/bpf); NULL
	 * compiles every time. */
	const char *bpf_cache_dir;
	/* Add the workspace rule: chown, fchown, lchown, fchownat succeed
	 * without effect (single-id user namespaces cannot chown). */
	bool squash_chown;
	/* The bound on compiling a policy on a cache miss, in milliseconds
	 * (0: POLICY_COMPILE_TIMEOUT_MS). */
	unsigned compile_timeout_ms;
};

/* libseccomp compiles in a forked child with this much CPU time and wall
 * time; the shipped profiles need a few milliseconds (policy/README.md
 * "Bounded compilation"). */
#define POLICY_COMPILE_TIMEOUT_MS 5000

/* Resolve NAME (a shipped profile) or FILE (contains '/' or ends in
 * .policy), parse it, compile it with libseccomp for the native arch, and fill
 * `out`. Errors name the file and line: "policy `x.policy` line 3: unknown
 * syscall `foo`". A cache hit forks nothing; a miss compiles in a child
 * bounded by opts->compile_timeout_ms and fails with ETIMEDOUT, "policy
 * `NAME`: compile took longer than 5 s ...", caching nothing. */
int policy_load(const char *name_or_file, const struct policy_options *opts,
		struct policy *out, struct wsbox_error *err);
void policy_free(struct policy *p);

/* Child side, the very last step before execve: no_new_privs, then install
 * the filter. Allocation-free. Returns 0 or -errno. */
int policy_install(const struct policy *p);

/* Child side, instead of policy_install when the denials are reported:
 * install p->notify_filter with a listener, pass the listener over the unix
 * socket `sock` (SCM_RIGHTS) to the supervisor and close it here. Falls back
 * to the plain filter (returns 1) when the kernel refuses a listener (EBUSY:
 * an outer filter already has one; EINVAL: before Linux 5.0). A variant
 * exists only for policies that allow sendmsg outright, and it never
 * notifies write, exit or exit_group: the only syscalls this and the
 * caller's error path make before the supervisor holds the listener.
 * Allocation-free. Returns 0, 1 or -errno. */
int policy_install_reporting(const struct policy *p, int sock);

/* Supervisor side: the errno a notified syscall `nr` must fail with. */
int policy_denied_errno(const struct policy *p, int nr);

/* Child side: clear every capability set (effective, permitted, inheritable,
 * bounding, ambient) with libcap-ng. Returns 0 or -errno. */
int caps_drop_all(void);

/* Directory holding the shipped *.policy profiles (source tree or install
 * prefix), used by `wsbox policy ls`. */
const char *policy_profile_dir(void);

/* Added for `wsbox policy` and tests (additions only). */

/* A profile shipped inside the binary (policy/profiles.S). */
struct policy_profile {
	const char *name;
	const char *text; /* NUL-terminated */
	size_t len;
};

/* The shipped profiles, in `wsbox policy ls` order. */
const struct policy_profile *policy_profiles(size_t *n);

/* The name of native syscall `nr` when libseccomp does not know it (newer
 * than its table, e.g. "open_tree_attr" for 467), else NULL. */
const char *policy_syscall_name_newer(int nr);

/* Parse and compile NAME or FILE like policy_load (under the same bound),
 * bypassing the cache; `rules` gets the number of rules handed to
 * libseccomp. */
int policy_check(const char *name_or_file, const struct policy_options *opts,
		 unsigned *rules, struct wsbox_error *err);

#endif
