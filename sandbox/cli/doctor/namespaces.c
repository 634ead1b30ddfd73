/* doctor/namespaces.c: the other namespaces a task gets, created inside
 * the user namespace, and how long a network namespace takes (every task
 * pays it). */
#include "sandbox/cli/doctor/doctor.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "sandbox/util/fs.h"

/* Network namespace creation slower than this is worth a warning: every
 * task pays it (old kernels took tens of ms in synchronize_net). */
#define NETNS_SLOW_MS 50.0

static const struct {
	int flag;
	const char *name;
} ns_kinds[] = {
    {CLONE_NEWNS, "mount"}, {CLONE_NEWPID, "pid"}, {CLONE_NEWIPC, "ipc"},
    {CLONE_NEWUTS, "uts"},  {CLONE_NEWNET, "net"}, {CLONE_NEWCGROUP, "cgroup"},
};
#define N_NS_KINDS (sizeof ns_kinds / sizeof *ns_kinds)

/* bits: one per ns_kinds entry that could NOT be created. */
static int child_namespaces(void *arg, struct child_reply *rep)
{
	(void)arg;
	int r = probe_enter_userns(&rep->err);
	if (r < 0)
		return r;
	int all = 0;
	for (size_t i = 0; i < N_NS_KINDS; i++)
		all |= ns_kinds[i].flag;
	if (unshare(all) == 0)
		return 0;
	/* Find the culprit(s): try each kind on its own. */
	int first = errno;
	for (size_t i = 0; i < N_NS_KINDS; i++) {
		if (unshare(ns_kinds[i].flag) < 0) {
			rep->bits |= UINT64_C(1) << i;
			appendf(rep->info, sizeof rep->info, "%s%s: %s",
				rep->info[0] ? ", " : "", ns_kinds[i].name,
				strerror(errno));
		}
	}
	return wsbox_fail(&rep->err, first, "unshare(all namespaces)");
}

void probe_namespaces(struct doctor *d)
{
	struct child_reply rep;
	int r = probe_run_child(child_namespaces, NULL, &rep);
	if (r == 0) {
		doctor_report(
		    d, LVL_OK, "namespaces",
		    "mount, pid, ipc, uts, net, cgroup created in one "
		    "unshare inside the user namespace");
		return;
	}
	if (rep.bits == 0) {
		doctor_report(d, LVL_FAIL, "namespaces", "%s", rep.err.msg);
		return;
	}
	/* The cgroup namespace is optional (SPEC: "where available"). */
	uint64_t cgroup_bit = UINT64_C(1) << (N_NS_KINDS - 1);
	doctor_report(d, rep.bits == cgroup_bit ? LVL_WARN : LVL_FAIL,
		      "namespaces", "cannot create: %s%s", rep.info,
		      rep.bits == cgroup_bit ? " (tasks run without a cgroup "
					       "namespace)"
					     : "");
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int child_netns(void *arg, struct child_reply *rep)
{
	(void)arg;
	int r = probe_enter_userns(&rep->err);
	if (r < 0)
		return r;
	double t0 = now_ms();
	if (unshare(CLONE_NEWNET) < 0)
		return wsbox_fail(&rep->err, errno, "unshare(CLONE_NEWNET)");
	rep->value = now_ms() - t0;
	return 0;
}

void probe_netns(struct doctor *d)
{
	struct child_reply rep;
	int r = probe_run_child(child_netns, NULL, &rep);
	if (r < 0)
		/* `namespaces` already FAILs when net is missing. */
		doctor_report(d, LVL_WARN, "network namespace", "%s",
			      rep.err.msg);
	else
		doctor_report(d, rep.value > NETNS_SLOW_MS ? LVL_WARN : LVL_OK,
			      "network namespace", "created in %.2f ms%s",
			      rep.value,
			      rep.value > NETNS_SLOW_MS
				  ? " (slow: every task pays this; old kernel?)"
				  : "");
}
