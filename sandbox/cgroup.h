/* cgroup.c: the cgroup v2 side of --memory, --pids and --cpus. Decides
 * where a sandbox's cgroup can live (a delegated, writable parent with the
 * controllers, found next to wsbox's own cgroup or given by
 * --cgroup-parent), creates a leaf `wsbox-<pid>-<rand>` there with the
 * limits written before any task process exists (monitor.c clones init
 * straight into it with CLONE_INTO_CGROUP), reads which limits were hit
 * after the sandbox is gone, and removes the leaf. `wsbox doctor` calls the
 * same decision function, so what it prints is what exec does. When no
 * cgroup fits, the limits fall back to rlimits (contain.c). */
#ifndef WSBOX_SANDBOX_CGROUP_H
#define WSBOX_SANDBOX_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "sandbox/plan.h"
#include "sandbox/util/error.h"

struct sandbox_result;

enum cg_ctrl {
	CG_MEMORY = 1,
	CG_PIDS = 2,
	CG_CPU = 4,
};

/* Where the sandbox's cgroup goes, and why (not). */
struct cgroup_choice {
	bool usable;   /* a leaf under `parent` gets every `need` controller */
	unsigned have; /* controllers (CG_*) the leaf will have */
	char parent[PATH_MAX];
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
};

/* Create the leaf under c->parent and write the limits into it (memory.max
 * with memory.swap.max 0, pids.max, cpu.max). On failure nothing is left. */
int cgroup_create(const struct cgroup_choice *c, const struct limits *l,
		  struct sandbox_cgroup *cg, struct wsbox_error *err);

/* After the last process of the sandbox is gone: record the limits hit
 * (memory.events oom_kill, pids.events max) and memory.peak in res. */
void cgroup_collect(const struct sandbox_cgroup *cg,
		    struct sandbox_result *res);

/* Kill whatever is left (cgroup.kill) and remove the leaf. Idempotent. */
void cgroup_destroy(struct sandbox_cgroup *cg);

/* "memory pids cpu" for a CG_* mask (static buffer-free: into buf). */
void cgroup_ctrl_names(unsigned mask, char *buf, size_t cap);

#endif
