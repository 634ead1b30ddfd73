/* sandbox/cli/exec_discard.c: a plain exec's staging dir removed by a second
 * thread while publication waits for the disk (README "Performance"). On
 * ext4 every removal of a directory frees a block, 0.1-3 ms here while
 * other jobs write; the record's two fsyncs wait about as long. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "sandbox/cli/exec_ctx.h"
#include "sandbox/util/fs.h"

/* Started once the sandbox is gone (no fork or clone follows while the
 * thread lives): overlayfs's work dir is garbage from then on. The rest of
 * staging (owner, uses, upper/, the dir itself) goes once the layer, the
 * logs and the cache entry are out (exec_discard_release). The thread also
 * makes the run's attempts/<task>/ dir, which record_link_attempt then
 * finds. */
struct exec_discard {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool go;
	const struct store *s;
	char *work, *dir, *attempts;
	int r;
	struct wsbox_error err;
};

static void *discard_main(void *arg)
{
	struct exec_discard *d = arg;
	struct wsbox_error ignored; /* record_link_attempt retries and says */
	(void)store_mkdir_rel(d->s, d->attempts, &ignored);
	d->r = rm_rf_at(d->s->fd, d->work, &d->err);
	pthread_mutex_lock(&d->mu);
	while (!d->go)
		pthread_cond_wait(&d->cv, &d->mu);
	pthread_mutex_unlock(&d->mu);
	if (d->r >= 0 || d->r == -ENOENT)
		d->r = rm_rf_at(d->s->fd, d->dir, &d->err);
	return NULL;
}

static void discard_free(struct exec_discard *d)
{
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d->work);
	free(d->dir);
	free(d->attempts);
	free(d);
}

/* Only for the kernel overlay's own work dir: with --max-layer-size it is
 * the mount point of the task's tmpfs, and the other strategies use it
 * otherwise; --keep-failed may keep the whole dir. */
void exec_discard_start(struct exec_ctx *c)
{
	if (c->o.keep_failed || c->o.ro || c->o.max_layer_size ||
	    c->strat.s != WS_OVERLAY || c->att.dirfd < 0 || c->discard)
		return;
	struct exec_discard *d = xcalloc(1, sizeof *d);
	d->s = &c->store;
	d->work = store_rel_join(STORE_STAGING, c->att.id, "work");
	d->dir = store_rel_join(STORE_STAGING, c->att.id, NULL);
	d->attempts = store_attempt_rel(c->run, c->task, NULL);
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if (pthread_create(&d->th, NULL, discard_main, d) != 0) {
		/* No thread: settle_attempt removes staging as before. */
		discard_free(d);
		return;
	}
	c->discard = d;
}

void exec_discard_release(struct exec_ctx *c)
{
	struct exec_discard *d = c->discard;
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->go = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

void exec_discard_finish(struct exec_ctx *c)
{
	struct exec_discard *d = c->discard;
	if (!d)
		return;
	exec_discard_release(c);
	pthread_join(d->th, NULL);
	if (d->r < 0)
		wsbox_error_print(&d->err);
	c->staging_gone = true;
	discard_free(d);
	c->discard = NULL;
}
