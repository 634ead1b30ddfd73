/* landlock.h: Landlock scoping of a sandbox's task (sandbox/landlock.c). */
#ifndef WSBOX_SANDBOX_LANDLOCK_H
#define WSBOX_SANDBOX_LANDLOCK_H

#include <stdbool.h>

/* LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET and LANDLOCK_SCOPE_SIGNAL. */
#define LANDLOCK_SCOPE_MIN_ABI 6

/* The kernel's Landlock ABI version, 0 when it has none (or it is off). */
int landlock_abi(void);
bool landlock_scoping_available(void);
/* Put the calling process (and all it forks) in a new Landlock domain that
 * scopes abstract unix sockets and signals to the domain. Returns 1 when
 * applied, 0 when the kernel cannot (ABI < 6), -errno on failure. Sets
 * no_new_privs. No allocation: safe in the task before execve. */
int landlock_scope_self(void);

#endif
