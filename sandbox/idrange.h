/* idrange.h: which host ids root mode must never map tasks to (parent side,
 * used by ns_user.c's range selection and doctor): every /etc/subuid and
 * /etc/subgid entry of a user other than root, and every id in /etc/passwd
 * and /etc/group (docs/sandbox.md "Root mode"). */
#ifndef WSBOX_SANDBOX_IDRANGE_H
#define WSBOX_SANDBOX_IDRANGE_H

#include "sandbox/util/error.h"

/* The id databases to read; tests point them at their own files. */
struct idrange_files {
	const char *subuid, *subgid, *passwd, *group;
};
#define IDRANGE_FILES_HOST                                                     \
	((struct idrange_files){"/etc/subuid", "/etc/subgid", "/etc/passwd",   \
				"/etc/group"})

/* Refuse (0, or -EINVAL / -errno with err set) when host uids
 * [ub, ub + count) or gids [gb, gb + count) meet any of those ids; `hint`
 * ends the message (how to pick another range). A missing file holds no
 * ids; an unreadable one is an error. */
int idrange_check(const struct idrange_files *f, unsigned long ub,
		  unsigned long gb, unsigned long count, const char *hint,
		  struct wsbox_error *err);

#endif
