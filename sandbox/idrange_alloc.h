/* idrange_alloc.h: root mode's own id blocks (docs/sandbox.md "Id blocks").
 * An operator's range allocation file names a pool of host ids; wsbox gives
 * blocks of IDRANGE_BLOCK ids from it to tenants (`--tenant NAME`), and, by
 * default once the file exists, to each run and each one-off exec, under
 * a lock, until released. Parent side; a block is then checked like any
 * range (idrange.h). */
#ifndef WSBOX_SANDBOX_IDRANGE_ALLOC_H
#define WSBOX_SANDBOX_IDRANGE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/util/error.h"

#define IDRANGE_BLOCK 65536UL
/* Where the allocation file is, unless $WSBOX_RANGES names another. */
#define IDRANGE_ALLOC_FILE "/etc/wsbox/ranges"

/* Who a block is for. */
enum idrange_kind {
	IDRANGE_TENANT, /* `tenant NAME BASE`: until gc --release-tenant */
	IDRANGE_RUN,	/* `run BASE RUN STORE`: until the run is removed */
	IDRANGE_ONCE,	/* `once BASE`: while its one-off exec runs */
};

struct idrange_owner {
	enum idrange_kind kind;
	const char *name;   /* the tenant or the run; NULL for IDRANGE_ONCE */
	const char *store;  /* IDRANGE_RUN: the store's canonical path */
	unsigned long base; /* filled by take, reclaim */
};

/* $WSBOX_RANGES, else IDRANGE_ALLOC_FILE. */
const char *idrange_alloc_file(void);

/* Whether blocks are configured at all: $WSBOX_RANGES is set, or
 * IDRANGE_ALLOC_FILE exists. */
bool idrange_alloc_configured(void);

/* The first host id of `who`'s block in `file` (who->base), allocated now
 * (the lowest free block of the pool) when it has none; an IDRANGE_ONCE
 * owner always gets a new one. The block stays in use by this process
 * until it exits (a shared lock on `file`.lock), so a release meanwhile is
 * refused. Errors: no such file or no pool (-ENOENT), a file not root's or
 * writable by others, a malformed line, the pool exhausted. */
int idrange_alloc_take(const char *file, struct idrange_owner *who,
		       struct wsbox_error *err);

/* Forget the block of tenant or run `who`, so another may get it: refused
 * (-EBUSY) while a process holds it, -ENOENT when `who` has none.
 * who->base gets the block's first id. */
int idrange_alloc_release(const char *file, struct idrange_owner *who,
			  struct wsbox_error *err);

/* Is run RUN still in the store at STORE (canonical path)? */
typedef bool idrange_run_exists(const char *store, const char *run, void *ctx);

/* Take back, unless a process holds them: every `once` block (its exec
 * ended), and every `run` block whose run no longer exists (`exists`) or
 * whose store is gone. The freed owners are returned in *freed (*n; free
 * with idrange_owners_free); with `dry_run` nothing changes. */
int idrange_alloc_reclaim(const char *file, idrange_run_exists *exists,
			  void *ctx, bool dry_run, struct idrange_owner **freed,
			  size_t *n, struct wsbox_error *err);

void idrange_owners_free(struct idrange_owner *v, size_t n);

/* The pool as `file` holds it now (read and checked, nothing locked or
 * changed: for `wsbox doctor`). */
struct idrange_pool {
	unsigned long first, blocks, taken;
};
int idrange_alloc_inspect(const char *file, struct idrange_pool *out,
			  struct wsbox_error *err);

#endif
