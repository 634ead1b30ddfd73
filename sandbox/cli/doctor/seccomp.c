/* doctor/seccomp.c: the seccomp filter actions a policy needs
 * (KILL_PROCESS, ERRNO) and the ones denied-syscall reporting uses. */
#include "sandbox/cli/doctor/doctor.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/util/fs.h"

void probe_seccomp(struct doctor *d)
{
	int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
	if (mode < 0) {
		doctor_report(d, LVL_FAIL, "seccomp",
			      "prctl(PR_GET_SECCOMP): %s (kernel without "
			      "CONFIG_SECCOMP?)",
			      strerror(errno));
		return;
	}
	static const struct {
		uint32_t action;
		const char *name;
		bool required;
	} acts[] = {
	    {SECCOMP_RET_KILL_PROCESS, "KILL_PROCESS", true},
	    {SECCOMP_RET_ERRNO, "ERRNO", true},
	    {SECCOMP_RET_USER_NOTIF, "USER_NOTIF", false},
	    {SECCOMP_RET_LOG, "LOG", false},
	};
	char have[128] = "", missing[128] = "";
	bool fail = false;
	for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) {
		uint32_t a = acts[i].action;
		if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a) ==
		    0) {
			appendf(have, sizeof have, "%s%s", have[0] ? " " : "",
				acts[i].name);
			continue;
		}
		appendf(missing, sizeof missing, "%s%s (%s)",
			missing[0] ? " " : "", acts[i].name, strerror(errno));
		if (acts[i].required)
			fail = true;
	}
	const char *cur = mode == 0 ? "none" : mode == 2 ? "filter" : "strict";
	if (fail)
		doctor_report(d, LVL_FAIL, "seccomp",
			      "missing actions: %s (have: %s; current mode %s)",
			      missing, have[0] ? have : "none", cur);
	else
		doctor_report(
		    d, missing[0] ? LVL_WARN : LVL_OK, "seccomp",
		    "filter actions %s available%s%s; current mode %s%s", have,
		    missing[0] ? "; missing " : "", missing, cur,
		    mode == 2 ? " (wsbox already runs under a filter: "
				"its policy stacks on top)"
			      : "");
}
