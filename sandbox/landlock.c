/* landlock.c: the task's Landlock domain, used for scoping only: no process
 * of a sandbox may connect to an abstract unix socket or signal a process
 * outside its own domain (kernel >= 6.12, Landlock ABI 6). Installed by the
 * task in contain.c just before its seccomp filter; a no-op on older
 * kernels, which `wsbox doctor` reports. */
#include "sandbox/landlock.h"

#include <errno.h>
#include <linux/types.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

/* The uapi struct as of ABI 6; the system headers may predate it. The
 * kernel takes the size, so the older fields stay zero (nothing of the
 * filesystem or network is handled: those stay allowed). */
struct landlock_attr {
	__u64 handled_access_fs;
	__u64 handled_access_net;
	__u64 scoped;
};
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)

int landlock_abi(void)
{
	long v = syscall(SYS_landlock_create_ruleset, NULL, (size_t)0,
			 LL_CREATE_RULESET_VERSION);
	return v < 0 ? 0 : (int)v; /* ENOSYS, EOPNOTSUPP: no Landlock */
}

bool landlock_scoping_available(void)
{
	return landlock_abi() >= LANDLOCK_SCOPE_MIN_ABI;
}

int landlock_scope_self(void)
{
	if (!landlock_scoping_available())
		return 0;
	struct landlock_attr attr = {
	    .scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL,
	};
	int fd =
	    (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0U);
	if (fd < 0)
		return -errno;
	/* Without a capability, restricting oneself needs no_new_privs; the
	 * task sets it for seccomp anyway, a moment later. */
	int r = 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_landlock_restrict_self, fd, 0U) < 0)
		r = -errno;
	close(fd);
	return r < 0 ? r : 1;
}
