/* tests/bench/dag_bench.c: scenario 5 of `make bench` (tests/bench/README.md).
 * Builds a synthetic run of TASKS task records in a fresh store through the
 * real layers/ APIs, then times what `wsbox exec --parent ...` does before it
 * mounts anything: dag_collect over FANIN parents, loading every ancestor's
 * manifest (layer_load_manifest, which re-hashes it), and dag_conflicts.
 *
 * Shape (FANIN = f, TASKS = n, n/f stages): stages 0..n/f-2 each have f-1
 * workers and one join whose parents are those workers; every worker of
 * stage s > 0 has the previous join as its parent; the last stage has f
 * workers. The timed task has the last stage's f workers as parents, so all
 * n tasks are its ancestors. Every task wrote FILES files in its own
 * directory (no conflicts; the shared stage directories are identical dirs,
 * which the conflict check must compare).
 *
 * Usage: dag_bench STORE [TASKS [FANIN [REPS [FILES]]]]
 * Prints one line per repetition, times in ms:
 *   dag_bench total_ms collect_ms manifests_ms conflicts_ms ancestors entries
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layers/dag.h"
#include "layers/layer.h"
#include "layers/manifest.h"
#include "layers/record.h"
#include "layers/store.h"
#include "sandbox/util/fs.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die_err(struct wsbox_error *err)
{
	wsbox_error_print(err);
	exit(1);
}

static long arg(int argc, char **argv, int i, long def)
{
	if (argc <= i)
		return def;
	char *end;
	errno = 0;
	long v = strtol(argv[i], &end, 10);
	if (errno || *end || v < 1 || v > 1000000) {
		fprintf(stderr, "dag_bench: `%s`: want a count\n", argv[i]);
		exit(2);
	}
	return v;
}

/* Write the task's manifest as a published layer (layers/<hex>/{manifest,
 * tree}; the tree stays empty: only the manifest is read on this path). */
static char *publish_manifest(struct store *s, int stage, const char *task,
			      long files)
{
	struct manifest m = {0};
	struct mf_entry e = {.type = MF_DIR, .mode = 0755};
	char path[64];
	snprintf(path, sizeof path, "s%03d", stage);
	e.path = path;
	manifest_add(&m, &e);
	snprintf(path, sizeof path, "s%03d/%s", stage, task);
	manifest_add(&m, &e);
	for (long k = 0; k < files; k++) {
		struct mf_entry f = {
		    .type = MF_FILE, .mode = 0644, .size = 1000 + (uint64_t)k};
		snprintf(path, sizeof path, "s%03d/%s/f%06ld", stage, task, k);
		f.path = path;
		memset(f.sha256, (int)(k & 0xff), sizeof f.sha256);
		memcpy(f.sha256, task, strlen(task) < 32 ? strlen(task) : 32);
		manifest_add(&m, &f);
	}
	struct wsbox_error err = {0};
	char *text;
	size_t len;
	if (manifest_serialize(&m, &text, &len, &err) < 0)
		die_err(&err);
	manifest_free(&m);
	char digest[DIGEST_STRLEN];
	manifest_digest(text, len, digest);
	const char *hex = layer_digest_hex(digest);
	char *dir = xasprintf("%s/layers/%s", s->path, hex);
	char *tree = xasprintf("%s/tree", dir);
	char *mf = xasprintf("%s/manifest", dir);
	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(tree, 0755) < 0 && errno != EEXIST)) {
		fprintf(stderr, "dag_bench: mkdir `%s`: %s\n", dir,
			strerror(errno));
		exit(1);
	}
	int fd = open(mf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) < 0) {
		fprintf(stderr, "dag_bench: write `%s`: %s\n", mf,
			strerror(errno));
		exit(1);
	}
	free(text);
	free(dir);
	free(tree);
	free(mf);
	return xstrdup(digest);
}

/* One task: its layer, then its record with the ancestors exactly as
 * `wsbox exec` computes them (dag_collect over its parents). PRE: the
 * ancestors already collected for these parents (the workers of a stage
 * share their one parent; collecting once per stage keeps the setup of
 * 10,000 tasks in seconds), or NULL. */
static void make_task(struct store *s, const char *run, int stage,
		      const char *task, char **parents, size_t n_parents,
		      long files, const struct dag *pre)
{
	struct wsbox_error err = {0};
	struct dag d = {0};
	if (!pre && n_parents &&
	    dag_collect(s, run, parents, n_parents, &d, &err) < 0)
		die_err(&err);
	const struct dag *use = pre ? pre : &d;
	struct task_record r = {
	    .run = (char *)run,
	    .task = (char *)task,
	    .attempt = (char *)"bench",
	    .parents = parents,
	    .n_parents = n_parents,
	    .ancestors = use->nodes,
	    .n_ancestors = use->n,
	    .status = (char *)"succeeded",
	};
	r.layer = publish_manifest(s, stage, task, files);
	if (record_write(s, &r, &err) < 0)
		die_err(&err);
	free(r.layer);
	dag_free(&d);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
			"usage: %s STORE [TASKS [FANIN [REPS [FILES]]]]\n",
			argv[0]);
		return 2;
	}
	long tasks = arg(argc, argv, 2, 1000), fanin = arg(argc, argv, 3, 100);
	long reps = arg(argc, argv, 4, 10), files = arg(argc, argv, 5, 10);
	if (fanin < 2 || tasks % fanin || tasks / fanin > 999 || fanin > 999) {
		fprintf(stderr, "dag_bench: TASKS must be a multiple of FANIN "
				"(2..999), at most 999 stages\n");
		return 2;
	}
	long stages = tasks / fanin;
	struct wsbox_error err = {0};
	struct store s;
	if (store_open(argv[1], true, &s, &err) < 0)
		die_err(&err);
	const char *run = "dagbench";

	char **cur = xcalloc((size_t)fanin + 1, sizeof *cur);
	char *join = NULL;
	double t0 = now_ms();
	for (long st = 0; st < stages; st++) {
		bool last = st == stages - 1;
		long nw = last ? fanin : fanin - 1;
		struct dag wd = {0};
		if (join && dag_collect(&s, run, &join, 1, &wd, &err) < 0)
			die_err(&err);
		for (long w = 0; w < nw; w++) {
			free(cur[w]);
			cur[w] = xasprintf("s%02ldw%03ld", st, w);
			make_task(&s, run, (int)st, cur[w], join ? &join : NULL,
				  join ? 1 : 0, files, join ? &wd : NULL);
		}
		dag_free(&wd);
		if (!last) {
			free(join);
			join = xasprintf("s%02ldz", st);
			make_task(&s, run, (int)st, join, cur, (size_t)nw,
				  files, NULL);
		}
	}
	fprintf(stderr,
		"dag_bench: %ld tasks (fan-in %ld, %ld files each) "
		"written in %.0f ms\n",
		tasks, fanin, files, now_ms() - t0);

	for (long rep = 0; rep < reps; rep++) {
		struct dag d = {0};
		double a = now_ms();
		if (dag_collect(&s, run, cur, (size_t)fanin, &d, &err) < 0)
			die_err(&err);
		double b = now_ms();
		struct manifest **mf = xcalloc(d.n + 1, sizeof *mf);
		size_t entries = 0;
		for (size_t i = 0; i < d.n; i++) {
			if (!d.nodes[i].layer)
				continue;
			mf[i] = xcalloc(1, sizeof **mf);
			if (layer_load_manifest(&s, d.nodes[i].layer, mf[i],
						&err) < 0)
				die_err(&err);
			entries += mf[i]->n;
		}
		double c = now_ms();
		char **msgs = NULL;
		size_t n_msgs = 0;
		size_t total = dag_conflicts(&d, mf, &msgs, &n_msgs, 20);
		double e = now_ms();
		if (total) {
			fprintf(stderr, "dag_bench: unexpected conflict: %s\n",
				msgs[0]);
			return 1;
		}
		if (d.n != (size_t)tasks) {
			fprintf(stderr, "dag_bench: %zu ancestors, want %ld\n",
				d.n, tasks);
			return 1;
		}
		printf("dag_bench %.3f %.3f %.3f %.3f %zu %zu\n", e - a, b - a,
		       c - b, e - c, d.n, entries);
		for (size_t i = 0; i < d.n; i++)
			if (mf[i]) {
				manifest_free(mf[i]);
				free(mf[i]);
			}
		free(mf);
		free(msgs);
		dag_free(&d);
	}
	for (long w = 0; w < fanin; w++)
		free(cur[w]);
	free(cur);
	free(join);
	store_close(&s);
	return 0;
}
