/* cgroup_v1.c: the cgroup v1 fallback of cgroup.c, for hosts where v2 has
 * no usable controllers (a v1 or hybrid host, e.g. RHEL 8) and wsbox may
 * write the v1 hierarchies (root). Internal to cgroup.c and cgroup_v1.c;
 * everyone else uses cgroup.h. */
#ifndef WSBOX_SANDBOX_CGROUP_V1_H
#define WSBOX_SANDBOX_CGROUP_V1_H

#include "sandbox/cgroup.h"

/* Fill c with a v1 choice when every `need` controller has a v1 hierarchy
 * whose cgroup of wsbox is writable (`want` ones are taken when there);
 * else append why not to c->why and leave c->usable false. Writes
 * nothing. */
void cgroup_v1_choose(unsigned need, unsigned want, struct cgroup_choice *c);

int cgroup_v1_create(const struct cgroup_choice *c, const struct limits *l,
		     struct sandbox_cgroup *cg, struct wsbox_error *err);
void cgroup_v1_collect(const struct sandbox_cgroup *cg,
		       struct sandbox_result *res);
void cgroup_v1_destroy(struct sandbox_cgroup *cg);

/* Shared with cgroup.c. */
extern const char *const cgroup_ctrl_name[CG_N];
/* "wsbox-<pid>-<random>": the name of a sandbox's leaf. */
char *cgroup_leaf_name(void);
/* The value of "key N" in a flat-keyed cgroup file; 0 if absent. */
uint64_t cgroup_read_key(int dirfd, const char *file, const char *key);
/* rmdir a leaf, waiting out the release of exiting tasks (EBUSY). */
void cgroup_rmdir(const char *path);

#endif
