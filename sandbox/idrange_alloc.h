/* idrange_alloc.h: root mode's per-tenant id ranges (docs/sandbox.md
 * "Tenant ranges"). An operator's range allocation file names a pool of host
 * ids; `wsbox exec --tenant NAME` gets a block of IDRANGE_BLOCK ids of its own
 * from it, allocated under a lock and kept until released
 * (`wsbox gc --release-tenant NAME`). Parent side; the block is then checked
 * like any range (idrange.h). */
#ifndef WSBOX_SANDBOX_IDRANGE_ALLOC_H
#define WSBOX_SANDBOX_IDRANGE_ALLOC_H

#include "sandbox/util/error.h"

#define IDRANGE_BLOCK 65536UL
/* Where the allocation file is, unless $WSBOX_RANGES names another. */
#define IDRANGE_ALLOC_FILE "/etc/wsbox/ranges"

/* $WSBOX_RANGES, else IDRANGE_ALLOC_FILE. */
const char *idrange_alloc_file(void);

/* The first host id of tenant `name`'s block in `file`, allocated now (the
 * lowest free block of the pool) when it has none. The block stays in use
 * by this process until it exits (a shared lock on the file), so a release
 * meanwhile is refused. Errors: no such file or no pool (-ENOENT), a file
 * not root's or writable by others, a malformed line, the pool exhausted. */
int idrange_alloc_take(const char *file, const char *name, unsigned long *base,
		       struct wsbox_error *err);

/* Forget tenant `name`'s block, so a later tenant may get it: refused
 * (-EBUSY) while a process of that tenant holds it, -ENOENT when the tenant
 * has none. *base gets the block's first id. */
int idrange_alloc_release(const char *file, const char *name,
			  unsigned long *base, struct wsbox_error *err);

#endif
