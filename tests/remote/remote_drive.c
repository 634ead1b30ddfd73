/* tests/remote/remote_drive: drives layers/remote and layers/registry for
 * tests/integration/t_remote.sh until the CLI verbs (push, pull, exec
 * --remote) exist. One command per invocation; failures print the one
 * `wsbox: ...` line and exit 125, like the binary.
 *   ping URL | tags URL | find-layer URL DIGEST
 *   push-layer STORE URL DIGEST          prints "sent N blob D"
 *   pull-layer STORE URL DIGEST...
 *   push-record STORE URL RUN TASK       get-record URL RUN TASK
 *   pull-task STORE URL RUN TASK         prints the task's layer
 *   push-cache STORE URL KEY             lookup-cache STORE URL KEY
 *   push-file URL FILE                   a raw blob (chunked when large)
 *   get-blob URL DIGEST FILE             a raw blob, verified
 *   get-blobs URL DIR DIGEST...          in parallel, into DIR/<n>
 * Env: REMOTE_INSECURE=1, REMOTE_COMPRESSION=gzip, REMOTE_PARALLEL=N,
 * REMOTE_MOUNT_FROM=REPO. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/remote.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"

struct drive {
	int argc;
	char **argv;
	struct store s;
	bool has_store;
	struct remote rm;
	struct wsbox_error err;
};

static int open_remote(struct drive *d, const char *url)
{
	const char *c = getenv("REMOTE_COMPRESSION");
	const char *p = getenv("REMOTE_PARALLEL");
	struct remote_options o = {
	    .insecure = getenv("REMOTE_INSECURE") != NULL,
	    .compression = c && !strcmp(c, "gzip") ? REMOTE_GZIP : REMOTE_ZSTD,
	    .parallel = p ? (unsigned)atoi(p) : 0,
	    .mount_from = getenv("REMOTE_MOUNT_FROM"),
	};
	return remote_open(&d->rm, url, &o, &d->err);
}

static int open_store(struct drive *d, const char *path)
{
	int r = store_open(path, true, &d->s, &d->err);
	d->has_store = r == 0;
	return r;
}

static int cmd_tags(struct drive *d)
{
	char **tags;
	size_t n;
	int r = registry_tags_list(&d->rm.reg, &tags, &n, &d->err);
	for (size_t i = 0; r == 0 && i < n; i++)
		puts(tags[i]);
	if (r == 0)
		free_strings(tags, n);
	return r;
}

static int cmd_find_layer(struct drive *d)
{
	struct remote_layer l;
	int r = remote_find_layer(&d->rm, d->argv[3], &l, &d->err);
	if (r == 0)
		return wsbox_fail(&d->err, ENOENT, "layer %s", d->argv[3]);
	if (r > 0)
		printf("blob %s size %llu manifest %s\n", l.blob,
		       (unsigned long long)l.size, l.manifest);
	return r < 0 ? r : 0;
}

static int cmd_push_layer(struct drive *d)
{
	struct remote_layer l;
	uint64_t sent = 0;
	int r =
	    remote_push_layer(&d->rm, &d->s, d->argv[4], &l, &sent, &d->err);
	if (r == 0)
		printf("sent %llu blob %s\n", (unsigned long long)sent, l.blob);
	return r;
}

static int cmd_get_record(struct drive *d)
{
	struct task_record rec;
	int r =
	    remote_get_record(&d->rm, d->argv[3], d->argv[4], &rec, &d->err);
	if (r < 0)
		return r;
	printf("layer %s status %s ancestors %zu\n",
	       rec.layer ? rec.layer : "-", rec.status, rec.n_ancestors);
	record_free(&rec);
	return 0;
}

static int cmd_pull_task(struct drive *d)
{
	struct task_record rec;
	int r = remote_pull_task(&d->rm, &d->s, d->argv[4], d->argv[5], &rec,
				 &d->err);
	if (r < 0)
		return r;
	printf("%s\n", rec.layer ? rec.layer : "-");
	for (size_t i = 0; i < rec.n_ancestors; i++)
		printf("%s %s\n", rec.ancestors[i].task,
		       rec.ancestors[i].layer ? rec.ancestors[i].layer : "-");
	record_free(&rec);
	return 0;
}

static int cmd_lookup_cache(struct drive *d)
{
	struct cache_entry e;
	int r = remote_lookup_cache(&d->rm, &d->s, d->argv[4], &e, &d->err);
	if (r < 0)
		return r;
	printf(r ? "hit %s\n" : "miss\n", e.layer ? e.layer : "-");
	cache_entry_free(&e);
	return 0;
}

static int cmd_push_file(struct drive *d)
{
	_cleanup_close_ int fd = open(d->argv[3], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(&d->err, errno, "open `%s`", d->argv[3]);
	static char buf[1 << 20];
	unsigned char md[32];
	unsigned long long size = 0;
	char digest[DIGEST_STRLEN];
	int r = sha256_fd(fd, buf, sizeof buf, md, &size);
	if (r < 0)
		return wsbox_fail(&d->err, -r, "read `%s`", d->argv[3]);
	sha256_format(md, digest);
	uint64_t sent = 0;
	r = registry_blob_push(&d->rm.reg, digest, fd, size, NULL, &sent,
			       &d->err);
	if (r == 0)
		printf("sent %llu blob %s\n", (unsigned long long)sent, digest);
	return r;
}

static int cmd_get_blob(struct drive *d)
{
	_cleanup_close_ int fd =
	    open(d->argv[4], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return wsbox_fail(&d->err, errno, "create `%s`", d->argv[4]);
	return registry_blob_get_fd(&d->rm.reg, d->argv[3], 1 << 20, fd,
				    &d->err);
}

static int cmd_get_blobs(struct drive *d)
{
	size_t n = (size_t)(d->argc - 4);
	struct registry_xfer *x = xcalloc(n, sizeof *x);
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *p = xasprintf("%s/%zu", d->argv[3], i);
		x[i] = (struct registry_xfer){.digest = d->argv[4 + i],
					      .max = 1 << 20};
		x[i].fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (x[i].fd < 0 && r == 0)
			r = wsbox_fail(&d->err, errno, "create `%s`", p);
	}
	if (r == 0)
		r = registry_blob_get_many(&d->rm.reg, x, n, d->rm.parallel,
					   &d->err);
	for (size_t i = 0; i < n; i++)
		if (x[i].fd >= 0)
			close(x[i].fd);
	free(x);
	return r;
}

static int run(struct drive *d)
{
	const char *cmd = d->argv[1];
	int a = d->argc;
	/* Commands with a store: STORE URL ARGS. */
	bool stored = !strncmp(cmd, "push-", 5) || !strncmp(cmd, "pull-", 5) ||
		      !strcmp(cmd, "lookup-cache");
	if (!strcmp(cmd, "push-file"))
		stored = false;
	if (a < (stored ? 4 : 3))
		return wsbox_fail(&d->err, 0,
				  "usage: see tests/remote/remote_drive.c");
	if (stored && open_store(d, d->argv[2]) < 0)
		return -1;
	if (open_remote(d, d->argv[stored ? 3 : 2]) < 0)
		return -1;
	if (!strcmp(cmd, "ping"))
		return registry_ping(&d->rm.reg, &d->err);
	if (!strcmp(cmd, "tags"))
		return cmd_tags(d);
	if (!strcmp(cmd, "find-layer") && a == 4)
		return cmd_find_layer(d);
	if (!strcmp(cmd, "push-layer") && a == 5)
		return cmd_push_layer(d);
	if (!strcmp(cmd, "pull-layer") && a >= 5)
		return remote_pull_layers(&d->rm, &d->s, d->argv + 4,
					  (size_t)(a - 4), &d->err);
	if (!strcmp(cmd, "push-record") && a == 6)
		return remote_push_record(&d->rm, &d->s, d->argv[4], d->argv[5],
					  &d->err);
	if (!strcmp(cmd, "get-record") && a == 5)
		return cmd_get_record(d);
	if (!strcmp(cmd, "pull-task") && a == 6)
		return cmd_pull_task(d);
	if (!strcmp(cmd, "push-cache") && a == 5)
		return remote_push_cache_entry(&d->rm, &d->s, d->argv[4],
					       &d->err);
	if (!strcmp(cmd, "lookup-cache") && a == 5)
		return cmd_lookup_cache(d);
	if (!strcmp(cmd, "push-file") && a == 4)
		return cmd_push_file(d);
	if (!strcmp(cmd, "get-blob") && a == 5)
		return cmd_get_blob(d);
	if (!strcmp(cmd, "get-blobs") && a >= 5)
		return cmd_get_blobs(d);
	return wsbox_fail(&d->err, 0, "unknown command or arguments: %s", cmd);
}

int main(int argc, char **argv)
{
	struct drive d = {.argc = argc, .argv = argv};
	if (argc < 2) {
		fputs("usage: remote_drive COMMAND ARGS (see its source)\n",
		      stderr);
		return 2;
	}
	int r = run(&d);
	remote_close(&d.rm);
	if (d.has_store)
		store_close(&d.s);
	return r < 0 ? wsbox_error_exit(&d.err) : 0;
}
