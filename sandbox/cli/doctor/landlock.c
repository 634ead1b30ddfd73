/* doctor/landlock.c: whether every task is put in a Landlock domain that
 * scopes abstract unix sockets and signals (sandbox/landlock.c), or why
 * not (kernel before 6.12, Landlock not enabled). */
#include "sandbox/cli/doctor/doctor.h"

#include "sandbox/landlock.h"

void probe_landlock(struct doctor *d)
{
	int abi = landlock_abi();
	if (abi >= LANDLOCK_SCOPE_MIN_ABI)
		doctor_report(d, LVL_OK, "landlock",
			      "ABI %d: tasks scoped (no abstract unix socket "
			      "or signal reaches outside the sandbox, also "
			      "with --net host)",
			      abi);
	else if (abi > 0)
		doctor_report(d, LVL_WARN, "landlock",
			      "ABI %d (scoping needs %d, Linux 6.12): tasks "
			      "not scoped; with --net host a task can reach "
			      "host abstract unix sockets",
			      abi, LANDLOCK_SCOPE_MIN_ABI);
	else
		doctor_report(d, LVL_WARN, "landlock",
			      "not available (not in the kernel's lsm= "
			      "list, or before Linux 5.13): tasks not "
			      "scoped; with --net host a task can reach host "
			      "abstract unix sockets");
}
