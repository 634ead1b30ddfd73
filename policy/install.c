/* The child-side steps of policy/: clearing every capability set with
 * libcap-ng, then no_new_privs and the seccomp filter. These run between fork
 * and execve: policy_install performs no allocation at all. */
#include "policy/policy.h"

#include <cap-ng.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/util/fdpass.h"

int policy_install(const struct policy *p)
{
	if (!p || !p->filter || p->len == 0)
		return -EINVAL;
	struct sock_fprog prog = {.len = p->len, .filter = p->filter};
	/* Required for an unprivileged filter, and it stops setuid/file
	 * capabilities from undoing caps_drop_all across execve. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	/* Kernels before 3.17 only have the prctl interface. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return -errno;
	return 0;
}

int policy_install_reporting(const struct policy *p, int sock)
{
	if (!p || !p->notify_filter || p->notify_len == 0) {
		int r = policy_install(p);
		return r < 0 ? r : 1;
	}
	struct sock_fprog prog = {.len = p->notify_len,
				  .filter = p->notify_filter};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* The kernel creates the listener O_CLOEXEC: even if the close below
	 * failed, it would not cross execve. */
	int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				    SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (listener < 0) {
		/* EBUSY: a filter above us already has a listener (one per
		 * chain); EINVAL/ENOSYS: a kernel without the flag. Enforce
		 * the same policy, unreported. */
		if (errno != EBUSY && errno != EINVAL && errno != ENOSYS)
			return -errno;
		int r = policy_install(p);
		return r < 0 ? r : 1;
	}
	/* Past this point the filter is live: only sendmsg, write, exit and
	 * exit_group are sure not to notify (report.c). */
	int r = fdpass_send(sock, listener);
	if (r < 0)
		return r; /* the caller dies through write + exit_group */
	/* The supervisor holds it now and answers any notification. */
	close(listener);
	return 0;
}

/* Ask the kernel, not libcap-ng's cached state, whether anything is left. */
static int verify_no_caps(void)
{
	struct __user_cap_header_struct hdr = {
	    .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (data[i].effective || data[i].permitted ||
		    data[i].inheritable)
			return -EPERM;
	for (unsigned long cap = 0; cap < 64; cap++) {
		int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (r < 0)
			break; /* EINVAL past the last capability */
		if (r > 0)
			return -EPERM;
		r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
		if (r > 0)
			return -EPERM;
	}
	return 0;
}

int caps_drop_all(void)
{
	/* The bounding set matters most: the task may be uid 0 in its user
	 * namespace, and execve as root grants (inheritable | bounding). It
	 * can only be cleared while CAP_SETPCAP is still effective, which
	 * capng_apply handles by applying the bounding set first. */
	capng_clear(CAPNG_SELECT_ALL);
	errno = 0;
	if (capng_apply(CAPNG_SELECT_ALL) < 0)
		return errno ? -errno : -EPERM;
	/* Ambient capabilities survive execve; clear them even if
	 * libcap-ng was built without ambient support. EINVAL: the kernel
	 * predates ambient capabilities (< 4.3), nothing to clear. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return -errno;
	return verify_no_caps();
}
