/* doctor/userns.c: can this user create a user namespace with a
 * single-id map (the sysctls and AppArmor knobs that forbid it, with the
 * fix), and which host ids root-mode tasks will map to. */
#include "sandbox/cli/doctor/doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* Read an integer sysctl. Returns 0, or -errno (-ENOENT when the knob does
 * not exist on this kernel/distribution). */
static int read_sysctl(const char *path, long *out)
{
	struct wsbox_error err;
	_cleanup_free_ char *buf = NULL;
	int r = read_file_at(AT_FDCWD, path, 64, &buf, NULL, &err);
	if (r < 0)
		return r;
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (errno || end == buf)
		return -EINVAL;
	*out = v;
	return 0;
}

static int child_userns(void *arg, struct child_reply *rep)
{
	(void)arg;
	return probe_enter_userns(&rep->err);
}

void probe_userns(struct doctor *d)
{
	static const char *const restrict_knob =
	    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";
	long max = -1, clone_ok = -1, aa = -1;
	char facts[256] = "";
	char fix[256] = "";

	if (read_sysctl("/proc/sys/user/max_user_namespaces", &max) == 0) {
		appendf(facts, sizeof facts, "max_user_namespaces=%ld", max);
		if (max == 0)
			appendf(fix, sizeof fix,
				"; fix: sudo sysctl user.max_user_namespaces="
				"15000");
	}
	if (read_sysctl("/proc/sys/kernel/unprivileged_userns_clone",
			&clone_ok) == 0) {
		appendf(facts, sizeof facts,
			", kernel.unprivileged_userns_clone=%ld", clone_ok);
		if (clone_ok == 0 && !d->is_root)
			appendf(fix, sizeof fix,
				"; fix: sudo sysctl "
				"kernel.unprivileged_userns_clone=1");
	}
	if (read_sysctl(restrict_knob, &aa) == 0) {
		appendf(facts, sizeof facts,
			", kernel.apparmor_restrict_unprivileged_userns=%ld",
			aa);
		if (aa == 1)
			appendf(fix, sizeof fix,
				"; fix: sudo sysctl "
				"kernel.apparmor_restrict_unprivileged_userns="
				"0, or an AppArmor profile for wsbox with "
				"`userns,`");
	}

	struct child_reply rep;
	int r = probe_run_child(child_userns, NULL, &rep);
	if (r < 0) {
		doctor_report(d, LVL_FAIL, "user namespaces", "%s (%s)%s",
			      rep.err.msg, facts, fix);
		return;
	}
	/* Under Ubuntu's restriction unshare still succeeds for unprivileged
	 * users but the namespace gets no capabilities, so mounts fail later:
	 * the sysctl, not the unshare, is the reliable signal. Real root is
	 * exempt. */
	if (aa == 1 && !d->is_root) {
		doctor_report(d, LVL_FAIL, "user namespaces",
			      "AppArmor restricts unprivileged user namespaces "
			      "(%s)%s",
			      facts, fix);
		return;
	}
	char note[256] = "";
	if (aa == 1)
		appendf(note, sizeof note,
			"; unprivileged users are restricted by AppArmor%s",
			fix);
	if (d->is_root) {
		unsigned long u = ns_user_root_host_id("/etc/subuid");
		unsigned long g = ns_user_root_host_id("/etc/subgid");
		appendf(note, sizeof note,
			"; as root, tasks run mapped to unprivileged host "
			"uid %lu gid %lu (%s)",
			u, g,
			u == NS_USER_DEFAULT_BASE && g == NS_USER_DEFAULT_BASE
			    ? "default; no range for root in "
			      "/etc/subuid, /etc/subgid"
			    : "first id of root's /etc/subuid, "
			      "/etc/subgid range");
	}
	doctor_report(
	    d, LVL_OK, "user namespaces",
	    "unshare(CLONE_NEWUSER) with a single-id uid/gid map works "
	    "(%s)%s",
	    facts, note);
}
