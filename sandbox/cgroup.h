/* cgroup.c: the cgroup side of --memory, --pids and --cpus (v2, else v1).
 * Decides where a sandbox's cgroup can live (a delegated, writable parent with
 * the controllers, found next to wsbox's own cgroup or given by
 * --cgroup-parent), creates a leaf `wsbox-<pid>-<rand>` there with the
 * limits written before any task process exists (monitor.c clones init
 * straight into it with CLONE_INTO_CGROUP), reads which limits were hit
 * after the sandbox is gone, and removes the leaf. `wsbox doctor` calls the
 * same decision function, so what it prints is what exec does. When v2
 * does not fit but writable v1 hierarchies have the controllers (root on a
 * v1 or hybrid host), v1 leaves do the same (cgroup_v1.c). When no cgroup
 * fits, the limits fall back to rlimits (contain.c), which do not bound
 * shmem or memfd memory. */
#ifndef WSBOX_SANDBOX_CGROUP_H
#define WSBOX_SANDBOX_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/plan.h"
#include "sandbox/util/error.h"

struct sandbox_result;

enum cg_ctrl {
	CG_MEMORY = 1,
	CG_PIDS = 2,
	CG_CPU = 4,
};

/* Controllers by index (memory, pids, cpu: the order of the CG_* bits). */
#define CG_N 3

/* Where the sandbox's cgroup goes, and why (not). */
struct cgroup_choice {
	bool usable;   /* a leaf under `parent` gets every `need` controller */
	unsigned have; /* controllers (CG_*) the leaf will have */
	char parent[PATH_MAX];
	/* cgroup v1 (v2 unusable: a v1 or hybrid host, root mode): one leaf
	 * per controller in `have`, under wsbox's own cgroup of that
	 * controller's hierarchy, v1_dir[i] ("" when not used); `parent`
	 * then lists them for messages. */
	bool v1;
	char v1_dir[CG_N][PATH_MAX];
	/* Why not usable (or, when usable, notes such as a wanted
	 * controller that is missing). One line. */
	char why[PATH_MAX + 512];
	/* What was seen: own cgroup, hybrid host, controllers. One line. */
	char facts[PATH_MAX + 512];
};

/* The controllers a set of limits needs (memory, pids) and would like
 * (cpu: a rate, best effort: without it --cpus is not enforced). */
unsigned cgroup_need(const struct limits *l);
unsigned cgroup_want(const struct limits *l);

/* Decide. `explicit_parent` (--cgroup-parent) is the only candidate when
 * given; else wsbox's own cgroup, then its parent (a sibling leaf, the
 * layout of a systemd user slice). A candidate fits when it is writable,
 * has every `need` controller available (enabled in cgroup.subtree_control
 * or enable-able: we may write it and it holds no process unless it is the
 * root) and the common ancestor of wsbox's cgroup and the leaf lets us move
 * a process (its cgroup.procs is writable). With probe_only (doctor)
 * nothing is written; otherwise missing controllers are enabled in the
 * parent's subtree_control. Never fails: the answer is in `c`. */
void cgroup_choose(const char *explicit_parent, unsigned need, unsigned want,
		   bool probe_only, struct cgroup_choice *c);

/* The leaf of one sandbox. */
struct sandbox_cgroup {
	int fd; /* leaf directory (for CLONE_INTO_CGROUP), -1 if none */
	char *path;
	unsigned have;
	/* cgroup v1 (fd stays -1): a leaf per controller in `have`, and the
	 * cgroup wsbox came from in that hierarchy. v1 hierarchies have no
	 * CLONE_INTO_CGROUP, so cgroup_create moves wsbox into the leaves,
	 * the sandbox is born there, and a mover process takes wsbox back
	 * home (v1_home) as soon as the sandbox shows up in the leaf.
	 * Valid only when v1 is set. */
	bool v1;
	int v1_fd[CG_N];
	char *v1_path[CG_N];
	char *v1_home[CG_N];
	pid_t v1_mover; /* cgroup_v1.c's mover process, 0 when none */
};

/* Create the leaf under c->parent and write the limits into it (memory.max
 * with memory.swap.max 0, pids.max, cpu.max); for a v1 choice the v1
 * leaves (memory.limit_in_bytes and memory.memsw.limit_in_bytes, pids.max,
 * cpu.cfs_quota_us/cfs_period_us), with wsbox moved into them until the
 * next process it creates is in. On failure nothing is left and wsbox is
 * back home. */
int cgroup_create(const struct cgroup_choice *c, const struct limits *l,
		  struct sandbox_cgroup *cg, struct wsbox_error *err);

/* After the last process of the sandbox is gone: record the limits hit
 * (memory.events oom_kill, pids.events max) and memory.peak in res; for v1
 * leaves memory.oom_control oom_kill, pids.events max and
 * memory.max_usage_in_bytes, and res->limits_via becomes "cgroup-v1". */
void cgroup_collect(const struct sandbox_cgroup *cg,
		    struct sandbox_result *res);

/* Kill whatever is left (cgroup.kill) and remove the leaf (v1: make sure
 * wsbox is back home first). Idempotent. */
void cgroup_destroy(struct sandbox_cgroup *cg);

/* "memory pids cpu" for a CG_* mask (static buffer-free: into buf). */
void cgroup_ctrl_names(unsigned mask, char *buf, size_t cap);

#endif
