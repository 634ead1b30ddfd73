/* Syscall names and numbers for the native arch: libseccomp's table, plus
 * the syscalls newer than the libseccomp wsbox builds with (2.5.4 stops at
 * futex_requeue, 456), so that a policy can name every syscall up to
 * POLICY_REVIEWED_MAX_NR (policy_int.h). */
#include "policy/policy.h"
#include "policy/policy_int.h"

#include <string.h>

struct known_syscall {
	const char *name;
	int nr;
};

/* Since Linux 5.1 (424) a new syscall gets one number on every arch but
 * alpha, ia64 and mips (POLICY_REVIEWED_MAX_NR is -1 there). */
static const struct known_syscall newer_than_libseccomp[] = {
#if POLICY_REVIEWED_MAX_NR > 0
    {"statmount", 457},		{"listmount", 458},
    {"lsm_get_self_attr", 459}, {"lsm_set_self_attr", 460},
    {"lsm_list_modules", 461},	{"mseal", 462},
    {"setxattrat", 463},	{"getxattrat", 464},
    {"listxattrat", 465},	{"removexattrat", 466},
    {"open_tree_attr", 467},	{"file_getattr", 468},
    {"file_setattr", 469},
#else
    {NULL, 0},
#endif
};

int policy_syscall_nr(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr != __NR_SCMP_ERROR)
		return nr;
	for (size_t i = 0;
	     i < sizeof newer_than_libseccomp / sizeof *newer_than_libseccomp;
	     i++) {
		const struct known_syscall *k = &newer_than_libseccomp[i];
		if (k->name && strcmp(k->name, name) == 0)
			return k->nr;
	}
	return __NR_SCMP_ERROR;
}

const char *policy_syscall_name_newer(int nr)
{
	for (size_t i = 0;
	     i < sizeof newer_than_libseccomp / sizeof *newer_than_libseccomp;
	     i++)
		if (newer_than_libseccomp[i].name &&
		    newer_than_libseccomp[i].nr == nr)
			return newer_than_libseccomp[i].name;
	return NULL;
}
