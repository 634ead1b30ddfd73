/* doctor/cgroup.c: whether --memory/--pids/--cpus get a cgroup v2 leaf, v1
 * leaves or fall back to rlimits, decided by the same code exec uses; and
 * the process bound a sandbox gets without --pids. */
#include "sandbox/cli/doctor/doctor.h"

#include <inttypes.h>
#include <stdio.h>

#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"

/* The very decision `wsbox exec --memory/--pids` makes (cgroup.c), in
 * probe-only mode: nothing is created or enabled. */
void probe_cgroup(struct doctor *d)
{
	struct cgroup_choice c;
	char names[64];
	/* RLIMIT_CPU bounds CPU seconds, not a rate, so --cpus has none. */
	const char *why_rl = "rlimits: --memory as RLIMIT_AS (address space; "
			     "the task gets ENOMEM; memory NOT bounded for "
			     "shmem, memfd and tmpfs files), --pids as "
			     "RLIMIT_NPROC (counted per user namespace), "
			     "--cpus not enforced; --timeout is wall-clock "
			     "either way";

	cgroup_choose(NULL, CG_MEMORY | CG_PIDS, CG_CPU, true, &c);
	if (!c.usable) {
		snprintf(d->cgroup_why, sizeof d->cgroup_why, "%s", c.why);
		doctor_report(d, LVL_WARN, "cgroup v2",
			      "%s (%s); limits fall back to %s", c.why,
			      c.facts[0] ? c.facts : "no cgroup v2", why_rl);
		return;
	}
	d->cgroup_usable = true;
	d->cgroup_v1 = c.v1;
	snprintf(d->cgroup_path, sizeof d->cgroup_path, "%s", c.parent);
	cgroup_ctrl_names(c.have, names, sizeof names);
	if (c.v1) {
		doctor_report(d, LVL_OK, "cgroup v1",
			      "no usable cgroup v2 (%s); each task gets cgroup "
			      "v1 leaves under %s with %s%s%s%s",
			      c.facts[0] ? c.facts : "no cgroup v2 mount",
			      c.parent, names, c.why[0] ? "; " : "", c.why,
			      c.have & CG_CPU ? "" : ": --cpus not enforced");
		return;
	}
	doctor_report(
	    d, LVL_OK, "cgroup v2",
	    "each task gets a leaf cgroup under %s with %s (%s)%s%s%s",
	    c.parent, names, c.facts, c.why[0] ? "; " : "", c.why,
	    c.have & CG_CPU ? "" : ": --cpus not enforced");
}

/* The same number sandbox_run gives the child (ns_limits.c). */
void probe_default_pids(struct doctor *d)
{
	uint64_t n = ns_limits_default_nproc();
	if (!n) {
		doctor_report(d, LVL_WARN, "processes",
			      "neither kernel.pid_max nor kernel.threads-max "
			      "is readable: without --pids a task may take "
			      "every pid of the host");
		return;
	}
	doctor_report(d, LVL_OK, "processes",
		      "without --pids each sandbox may run %" PRIu64
		      " processes and threads (RLIMIT_NPROC, 1/8 of the "
		      "host's pid_max or threads-max)",
		      n);
}
