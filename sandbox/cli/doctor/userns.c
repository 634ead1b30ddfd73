/* doctor/userns.c: can this user create a user namespace with a single-id
 * map; if not, which knob forbids it and the fix (user.max_user_namespaces,
 * Debian's kernel.unprivileged_userns_clone, Ubuntu's AppArmor restriction);
 * and which host ids root-mode tasks will map to.
 *
 * The sysctls are read under $WSBOX_TEST_PROCSYS instead of /proc/sys when
 * it is set. That is for tests only (tests/integration/t_doctor_userns.sh
 * shows every message on any host); it changes what doctor says, never what
 * exec does. */
#include "sandbox/cli/doctor/doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* Read the integer sysctl REL ("user/max_user_namespaces"). Returns it, or
 * -1 when the knob does not exist on this kernel or cannot be read. */
static long read_sysctl(const char *rel)
{
	const char *base = getenv("WSBOX_TEST_PROCSYS");
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", base && *base ? base : "/proc/sys",
		 rel);
	struct wsbox_error err;
	_cleanup_free_ char *buf = NULL;
	if (read_file_at(AT_FDCWD, path, 64, &buf, NULL, &err) < 0)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (errno || end == buf || v < 0)
		return -1;
	return v;
}

/* The two ways out of Ubuntu's restriction: a profile granting `userns,`
 * to the installed binary, or lifting the restriction for everyone. */
static void apparmor_fix(char *buf, size_t size, const char *sudo)
{
	appendf(
	    buf, size,
	    "; fix: install wsbox's AppArmor profile (contrib/apparmor/wsbox;"
	    " `make install` puts it in /etc/apparmor.d/wsbox, for the "
	    "installed binary) and load it: `%sapparmor_parser -r "
	    "/etc/apparmor.d/wsbox`; or lift the restriction for all "
	    "programs: `%ssysctl -w "
	    "kernel.apparmor_restrict_unprivileged_userns=0`",
	    sudo, sudo);
}

enum level userns_verdict(const struct userns_facts *f, char *buf, size_t size)
{
	const char *sudo = f->is_root ? "" : "sudo ";
	char facts[256] = "";
	if (f->max_userns >= 0)
		appendf(facts, sizeof facts, "user.max_user_namespaces=%ld",
			f->max_userns);
	if (f->clone_ok >= 0)
		appendf(facts, sizeof facts,
			"%skernel.unprivileged_userns_clone=%ld",
			facts[0] ? ", " : "", f->clone_ok);
	if (f->aa_restrict >= 0)
		appendf(facts, sizeof facts,
			"%skernel.apparmor_restrict_unprivileged_userns=%ld",
			facts[0] ? ", " : "", f->aa_restrict);
	buf[0] = '\0';

	/* These two knobs bind every process of the host: their value alone
	 * decides, whatever the probe saw. */
	if (f->max_userns == 0) {
		appendf(buf, size,
			"user.max_user_namespaces=0 disables user namespaces; "
			"fix: `%ssysctl -w user.max_user_namespaces=15000`",
			sudo);
		return LVL_FAIL;
	}
	if (f->clone_ok == 0 && !f->is_root) {
		appendf(buf, size,
			"kernel.unprivileged_userns_clone=0 allows user "
			"namespaces to root only; fix: `%ssysctl -w "
			"kernel.unprivileged_userns_clone=1`",
			sudo);
		return LVL_FAIL;
	}
	/* Ubuntu's restriction (23.10 and later) lets unshare succeed but
	 * denies every capability in the new namespace, so the first write
	 * that needs one, the uid_map, fails. An AppArmor profile granting
	 * `userns,` exempts a binary, so the knob alone does not decide. */
	bool denied_map = !f->probe_ok && f->created &&
			  (f->errnum == EPERM || f->errnum == EACCES);
	if (denied_map && f->aa_restrict == 1) {
		appendf(buf, size,
			"AppArmor restricts unprivileged user namespaces "
			"(kernel.apparmor_restrict_unprivileged_userns=1): "
			"unshare(CLONE_NEWUSER) works but the namespace has no "
			"capabilities (%s)",
			f->why);
		apparmor_fix(buf, size, sudo);
		return LVL_FAIL;
	}
	if (denied_map) {
		appendf(buf, size,
			"unshare(CLONE_NEWUSER) works but the namespace has no "
			"capabilities (%s), as under AppArmor's restriction of "
			"unprivileged user namespaces%s%s%s",
			f->why, facts[0] ? " (" : "", facts,
			facts[0] ? ")" : "");
		apparmor_fix(buf, size, sudo);
		return LVL_FAIL;
	}
	if (!f->probe_ok) {
		appendf(buf, size, "%s%s%s%s", f->why, facts[0] ? " (" : "",
			facts, facts[0] ? ")" : "");
		return LVL_FAIL;
	}
	appendf(
	    buf, size,
	    "unshare(CLONE_NEWUSER) with a single-id uid/gid map works%s%s%s",
	    facts[0] ? " (" : "", facts, facts[0] ? ")" : "");
	if (f->aa_restrict == 1 && f->is_root) {
		appendf(buf, size,
			"; AppArmor restricts unprivileged users, not root");
		apparmor_fix(buf, size, sudo);
	} else if (f->aa_restrict == 1) {
		appendf(
		    buf, size,
		    "; AppArmor restricts unprivileged user namespaces, but "
		    "not this binary (a profile such as "
		    "/etc/apparmor.d/wsbox allows it)");
	}
	return LVL_OK;
}

static int child_userns(void *arg, struct child_reply *rep)
{
	(void)arg;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER) < 0)
		return wsbox_fail(&rep->err, errno, "unshare(CLONE_NEWUSER)");
	rep->bits = 1; /* created */
	return probe_map_self(uid, gid, &rep->err);
}

void probe_userns(struct doctor *d)
{
	struct userns_facts f = {
	    .max_userns = read_sysctl("user/max_user_namespaces"),
	    .clone_ok = read_sysctl("kernel/unprivileged_userns_clone"),
	    .aa_restrict =
		read_sysctl("kernel/apparmor_restrict_unprivileged_userns"),
	    .is_root = d->is_root,
	};
	struct child_reply rep;
	f.probe_ok = probe_run_child(child_userns, NULL, &rep) == 0;
	f.created = rep.bits & 1;
	f.errnum = rep.err.errnum;
	f.why = rep.err.msg;

	char line[1024];
	enum level lvl = userns_verdict(&f, line, sizeof line);
	if (lvl == LVL_OK && d->is_root) {
		unsigned long u = ns_user_root_host_id("/etc/subuid");
		unsigned long g = ns_user_root_host_id("/etc/subgid");
		appendf(line, sizeof line,
			"; as root, tasks run mapped to unprivileged host "
			"uid %lu gid %lu (%s)",
			u, g,
			u == NS_USER_DEFAULT_BASE && g == NS_USER_DEFAULT_BASE
			    ? "default; no range for root in "
			      "/etc/subuid, /etc/subgid"
			    : "first id of root's /etc/subuid, "
			      "/etc/subgid range");
	}
	doctor_report(d, lvl, "user namespaces", "%s", line);
}
