/* run_ids.c: runs' id blocks given back by `runs rm` and `gc` (run_ids.h). */
#include "sandbox/cli/run_ids.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/idrange_alloc.h"
#include "sandbox/util/cleanup.h"

static bool blocks_apply(void)
{
	return geteuid() == 0 && idrange_alloc_configured();
}

struct this_store {
	const struct store *s;
	const char *path; /* canonical */
};

/* Runs of another store are that store's gc's business (a store gone
 * entirely is the allocator's: owner_gone). */
static bool run_exists(const char *store, const char *run, void *ctx)
{
	const struct this_store *t = ctx;
	if (strcmp(store, t->path))
		return true;
	_cleanup_free_ char *rel = store_run_rel(run, NULL, NULL);
	return faccessat(t->s->fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	       errno != ENOENT;
}

void run_ids_release(const struct store *s, const char *run, FILE *out)
{
	if (!blocks_apply())
		return;
	struct wsbox_error err = {0};
	_cleanup_free_ char *path = realpath(s->path, NULL);
	struct idrange_owner who = {
	    .kind = IDRANGE_RUN, .name = run, .store = path};
	int r = path ? idrange_alloc_release(idrange_alloc_file(), &who, &err)
		     : wsbox_fail(&err, errno, "resolve `%s`", s->path);
	if (r == 0)
		fprintf(out, "runs rm: released run %s's ids %lu-%lu\n", run,
			who.base, who.base + IDRANGE_BLOCK - 1);
	else if (r == -EBUSY)
		fprintf(out,
			"runs rm: run %s's ids %lu-%lu kept: a task in them "
			"still runs (`wsbox gc` frees them once it ends)\n",
			run, who.base, who.base + IDRANGE_BLOCK - 1);
	else if (r != -ENOENT)
		wsbox_error_print(&err);
}

int run_ids_reclaim(const struct store *s, bool dry_run, FILE *log,
		    struct wsbox_error *err)
{
	if (!blocks_apply())
		return 0;
	_cleanup_free_ char *path = realpath(s->path, NULL);
	if (!path)
		return wsbox_fail(err, errno, "resolve `%s`", s->path);
	struct this_store t = {.s = s, .path = path};
	struct idrange_owner *v;
	size_t n;
	int r = idrange_alloc_reclaim(idrange_alloc_file(), run_exists, &t,
				      dry_run, &v, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		unsigned long b = v[i].base, e = b + IDRANGE_BLOCK - 1;
		if (v[i].kind == IDRANGE_RUN)
			fprintf(log,
				"gc: %s ids %lu-%lu of run %s (store %s)\n",
				dry_run ? "would free" : "freed", b, e,
				v[i].name, v[i].store);
		else
			fprintf(log,
				"gc: %s ids %lu-%lu of an ended one-off "
				"exec\n",
				dry_run ? "would free" : "freed", b, e);
	}
	idrange_owners_free(v, n);
	return 0;
}
