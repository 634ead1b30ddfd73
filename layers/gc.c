/* layers/gc.c: the store's garbage collector (see gc.h for the rules). */
#include "layers/gc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layers/cache.h"
#include "layers/layer.h"
#include "layers/lock.h"
#include "layers/record.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* A staging dir without an owner file whose creator (the pid in its name)
 * lives is being created (mkdir, then the owner file): leave it alone this
 * long. */
#define OWNERLESS_GRACE_SEC 600

/* ---- a set of strings: append, then sort once, then look up ---- */
struct sset {
	char **v;
	size_t n, cap;
};

static void sset_add(struct sset *s, const char *str)
{
	if (!str)
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = xreallocarray(s->v, s->cap, sizeof *s->v);
	}
	s->v[s->n++] = xstrdup(str);
}

static void sset_sort(struct sset *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof *s->v, strcmp_ptr);
}

static bool sset_has(const struct sset *s, const char *str)
{
	return s->n && bsearch(&str, s->v, s->n, sizeof *s->v, strcmp_ptr);
}

static void sset_free(struct sset *s)
{
	free_strings(s->v, s->n);
	memset(s, 0, sizeof *s);
}

struct gc {
	struct store *s;
	const struct gc_options *o;
	struct gc_stats *st;
	struct sset used;   /* layer digests still referenced */
	struct attempt bin; /* where doomed objects go before deletion */
	bool bin_ready;
	bool records_ok; /* every record was readable */
	char host[256];
};

static void logf_(struct gc *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(struct gc *g, const char *fmt, ...)
{
	if (!g->o->log)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs(g->o->dry_run ? "would remove " : "removed ", g->o->log);
	vfprintf(g->o->log, fmt, ap);
	fputc('\n', g->o->log);
	va_end(ap);
}

/* Move STORE/rel into the bin (one rename: it vanishes at once). */
static int bin_move(struct gc *g, const char *rel, const char *as,
		    struct wsbox_error *err)
{
	if (!g->bin_ready) {
		int r = attempt_create(g->s, &g->bin, err);
		if (r < 0)
			return r;
		g->bin_ready = true;
	}
	_cleanup_free_ char *dst = store_rel_join(STORE_STAGING, g->bin.id, as);
	if (renameat(g->s->fd, rel, g->s->fd, dst) < 0)
		return wsbox_fail(err, errno, "move `%s` out", rel);
	return 0;
}

/* ---- 1. staging ---- */

static bool pid_alive(pid_t pid, unsigned long long start)
{
	if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
		return false;
	return proc_starttime(pid) == start;
}

/* Is the attempt that owns staging/<name> alive? *why says why not. */
static bool staging_alive(struct gc *g, const char *name, char **why)
{
	_cleanup_free_ char *rel = store_rel_join(STORE_STAGING, name, "owner");
	_cleanup_free_ char *text = NULL;
	struct wsbox_error ignored;
	if (read_file_at(g->s->fd, rel, 4096, &text, NULL, &ignored) < 0) {
		_cleanup_free_ char *dir =
		    store_rel_join(STORE_STAGING, name, NULL);
		struct stat st;
		if (fstatat(g->s->fd, dir, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return true; /* gone already */
		/* Killed between mkdir and writing the owner file: the id
		 * itself (<time>-<pid>-<random>) names the creator. */
		const char *dash = strchr(name, '-');
		long pid = dash ? strtol(dash + 1, NULL, 10) : 0;
		bool creator_alive =
		    pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
		if (S_ISDIR(st.st_mode) && creator_alive &&
		    time(NULL) - st.st_mtime < OWNERLESS_GRACE_SEC)
			return true;
		*why = xstrdup("no owner, creator gone");
		return false;
	}
	long pid = 0;
	unsigned long long start = 0;
	char host[256] = "";
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "pid ", 4))
			pid = strtol(line + 4, NULL, 10);
		else if (!strncmp(line, "start ", 6))
			start = strtoull(line + 6, NULL, 10);
		else if (!strncmp(line, "host ", 5))
			snprintf(host, sizeof host, "%s", line + 5);
	}
	/* Another host's attempt (a store on shared storage): its pids mean
	 * nothing here, so it is never judged dead. */
	if (strcmp(host, g->host))
		return true;
	if (pid_alive((pid_t)pid, start))
		return true;
	*why = xasprintf("owner pid %ld gone", pid);
	return false;
}

/* A live attempt's `uses` pins the layers its workspace stands on. */
static void staging_pin_uses(struct gc *g, const char *name)
{
	_cleanup_free_ char *rel = store_rel_join(STORE_STAGING, name, "uses");
	_cleanup_free_ char *text = NULL;
	struct wsbox_error ignored;
	if (read_file_at(g->s->fd, rel, 64UL << 20, &text, NULL, &ignored) < 0)
		return;
	for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n"))
		if (layer_digest_hex(l))
			sset_add(&g->used, l);
}

static int sweep_staging(struct gc *g, struct wsbox_error *err)
{
	char **names;
	size_t n;
	int r = list_dir_at(g->s->fd, store_rel(STORE_STAGING), NULL, &names,
			    &n, err);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *why = NULL;
		if (staging_alive(g, names[i], &why)) {
			staging_pin_uses(g, names[i]);
			g->st->kept_staging++;
			continue;
		}
		logf_(g, "staging %s (%s)", names[i], why);
		g->st->staging++;
		if (g->o->dry_run)
			continue;
		_cleanup_free_ char *rel =
		    store_rel_join(STORE_STAGING, names[i], NULL);
		struct wsbox_error e = {0};
		/* A failure here (e.g. a tree too deep) must not stop the
		 * rest: report and go on. */
		if (rm_rf_at(g->s->fd, rel, &e) < 0)
			fprintf(stderr, "wsbox: gc: %s\n", e.msg);
	}
	free_strings(names, n);
	return 0;
}

/* ---- 2. temp files of atomic writes: ".<name>.tmp.<pid>" ---- */

static void sweep_tmp_in(struct gc *g, const char *dir)
{
	char **names;
	size_t n;
	struct wsbox_error ignored;
	if (list_dir_at(g->s->fd, dir, NULL, &names, &n, &ignored) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *t =
		    names[i][0] == '.' ? strstr(names[i], ".tmp.") : NULL;
		if (!t)
			continue;
		char *end;
		long pid = strtol(t + 5, &end, 10);
		if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 ||
		    errno == EPERM)
			continue;
		logf_(g, "temp file %s/%s", dir, names[i]);
		g->st->tmp_files++;
		if (g->o->dry_run)
			continue;
		_cleanup_free_ char *rel = xasprintf("%s/%s", dir, names[i]);
		unlinkat(g->s->fd, rel, 0);
	}
	free_strings(names, n);
}

/* ---- 3 + 4. references ---- */

static void pin_records(struct gc *g)
{
	char **runs;
	size_t nr;
	struct wsbox_error e = {0};
	g->records_ok = true;
	if (list_dir_at(g->s->fd, store_rel(STORE_RUNS), valid_name, &runs, &nr,
			&e) < 0) {
		g->records_ok = e.errnum == ENOENT;
		return;
	}
	for (size_t i = 0; i < nr; i++) {
		_cleanup_free_ char *dir =
		    store_run_rel(runs[i], "tasks", NULL);
		sweep_tmp_in(g, dir);
		char **tasks;
		size_t nt;
		if (list_dir_at(g->s->fd, dir, valid_name, &tasks, &nt, &e) < 0)
			continue; /* a run being created */
		/* Tasks share ancestry files: pin each one's layers once. */
		struct sset seen = {0};
		for (size_t k = 0; k < nt; k++) {
			struct task_record rec;
			bool dup = false;
			int r = record_read_shallow(g->s, runs[i], tasks[k],
						    &rec, &e);
			for (size_t q = 0; r == 0 && rec.ancestry && q < seen.n;
			     q++)
				dup = dup || !strcmp(seen.v[q], rec.ancestry);
			if (r == 0 && !dup && rec.ancestry) {
				sset_add(&seen, rec.ancestry);
				r = record_load_ancestry(g->s, &rec, &e);
				if (r < 0)
					record_free(&rec);
			}
			if (r < 0) {
				/* Unreadable: its references are unknown, so
				 * no layer may go this time. */
				fprintf(stderr, "wsbox: gc: %s\n", e.msg);
				g->records_ok = false;
				continue;
			}
			sset_add(&g->used, rec.layer);
			for (size_t a = 0; a < rec.n_ancestors; a++)
				sset_add(&g->used, rec.ancestors[a].layer);
			for (size_t l = 0; l < rec.n_lowers; l++)
				sset_add(&g->used, rec.lowers[l]);
			record_free(&rec);
		}
		sset_free(&seen);
		free_strings(tasks, nt);
	}
	free_strings(runs, nr);
}

struct centry {
	char *rel;   /* cache/tasks/<hex> or cache/flatten/<hex> */
	char *layer; /* digest it pins, may be NULL */
	time_t used; /* last use */
	uint64_t bytes;
	bool flatten; /* a flatten entry (one file), else a task entry */
	bool evicted;
};

static int centry_by_age(const void *a, const void *b)
{
	const struct centry *x = a, *y = b;
	return (x->used > y->used) - (x->used < y->used);
}

static uint64_t file_size_at(int dirfd, const char *rel)
{
	struct stat st;
	return fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0
		   ? (uint64_t)st.st_size
		   : 0;
}

static uint64_t layer_bytes(const struct store *s, const char *digest)
{
	struct manifest m = {0};
	struct wsbox_error ignored;
	if (!digest || layer_load_manifest(s, digest, &m, &ignored) < 0)
		return 0;
	uint64_t b = m.total_bytes;
	manifest_free(&m);
	return b;
}

/* Every cache entry (task and flatten) with what it pins and its size. */
static void collect_cache(struct gc *g, struct centry **out, size_t *n_out)
{
	struct centry *v = NULL;
	size_t n = 0;
	struct wsbox_error ignored;
	char **names;
	size_t k;
	if (list_dir_at(g->s->fd, store_rel(STORE_TASK_CACHE), layer_name_valid,
			&names, &k, &ignored) == 0) {
		v = xreallocarray(v, n + k + 1, sizeof *v);
		for (size_t i = 0; i < k; i++) {
			struct centry *c = &v[n++];
			memset(c, 0, sizeof *c);
			c->rel =
			    store_rel_join(STORE_TASK_CACHE, names[i], NULL);
			_cleanup_free_ char *entry =
			    xasprintf("%s/entry", c->rel);
			_cleanup_free_ char *text = NULL;
			struct stat st;
			if (fstatat(g->s->fd, entry, &st, 0) == 0)
				c->used = st.st_mtime;
			if (read_file_at(g->s->fd, entry, 65536, &text, NULL,
					 &ignored) == 0) {
				json_t *j = json_loads(text, 0, NULL);
				const char *l = json_string_value(
				    json_object_get(j, "layer"));
				if (l && layer_digest_hex(l))
					c->layer = xstrdup(l);
				json_int_t b = json_integer_value(
				    json_object_get(j, "bytes"));
				c->bytes = b > 0 ? (uint64_t)b : 0;
				json_decref(j);
			}
			_cleanup_free_ char *o = xasprintf("%s/stdout", c->rel);
			_cleanup_free_ char *e = xasprintf("%s/stderr", c->rel);
			_cleanup_free_ char *cb =
			    xasprintf("%s/combined", c->rel);
			c->bytes += file_size_at(g->s->fd, o) +
				    file_size_at(g->s->fd, e) +
				    file_size_at(g->s->fd, cb);
		}
		free_strings(names, k);
	}
	const char *flat = store_rel(STORE_FLATTEN_CACHE);
	sweep_tmp_in(g, flat);
	if (list_dir_at(g->s->fd, flat, layer_name_valid, &names, &k,
			&ignored) == 0) {
		v = xreallocarray(v, n + k + 1, sizeof *v);
		for (size_t i = 0; i < k; i++) {
			struct centry *c = &v[n++];
			memset(c, 0, sizeof *c);
			c->rel =
			    store_rel_join(STORE_FLATTEN_CACHE, names[i], NULL);
			c->flatten = true;
			_cleanup_free_ char *text = NULL;
			struct stat st;
			if (fstatat(g->s->fd, c->rel, &st, 0) == 0)
				c->used = st.st_mtime;
			if (read_file_at(g->s->fd, c->rel, DIGEST_STRLEN, &text,
					 NULL, &ignored) == 0) {
				text[strcspn(text, "\n")] = '\0';
				if (layer_digest_hex(text))
					c->layer = xstrdup(text);
			}
			/* Sizing a merged layer reads its manifest: only
			 * worth it when there is a budget to meet. */
			if (g->o->has_budget)
				c->bytes = layer_bytes(g->s, c->layer);
		}
		free_strings(names, k);
	}
	*out = v;
	*n_out = n;
}

static int sweep_cache(struct gc *g, struct wsbox_error *err)
{
	struct centry *v;
	size_t n;
	collect_cache(g, &v, &n);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += v[i].bytes;
	if (g->o->has_budget && total > g->o->cache_max_bytes) {
		qsort(v, n, sizeof *v, centry_by_age);
		for (size_t i = 0; i < n && total > g->o->cache_max_bytes;
		     i++) {
			v[i].evicted = true;
			total -= v[i].bytes;
			g->st->cache_entries++;
			g->st->cache_bytes += v[i].bytes;
			logf_(g, "cache entry %s (%llu bytes)", v[i].rel,
			      (unsigned long long)v[i].bytes);
			if (g->o->dry_run)
				continue;
			int r;
			if (v[i].flatten) {
				r = unlinkat(g->s->fd, v[i].rel, 0) < 0
					? wsbox_fail(err, errno, "unlink `%s`",
						     v[i].rel)
					: 0;
			} else {
				_cleanup_free_ char *as =
				    xasprintf("cache-%zu", i);
				r = bin_move(g, v[i].rel, as, err);
			}
			if (r < 0) {
				for (size_t k = 0; k < n; k++) {
					free(v[k].rel);
					free(v[k].layer);
				}
				free(v);
				return r;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!v[i].evicted)
			sset_add(&g->used, v[i].layer);
		free(v[i].rel);
		free(v[i].layer);
	}
	free(v);
	return 0;
}

static int sweep_layers(struct gc *g, struct wsbox_error *err)
{
	if (!g->records_ok) {
		fprintf(stderr, "wsbox: gc: some records are unreadable; "
				"keeping every layer\n");
		return 0;
	}
	sset_sort(&g->used);
	char **names;
	size_t n;
	int r = list_dir_at(g->s->fd, store_rel(STORE_LAYERS), layer_name_valid,
			    &names, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *dg = xasprintf("sha256:%s", names[i]);
		if (sset_has(&g->used, dg))
			continue;
		uint64_t bytes = layer_bytes(g->s, dg);
		logf_(g, "layer %s (%llu bytes)", dg,
		      (unsigned long long)bytes);
		g->st->layers++;
		g->st->layer_bytes += bytes;
		if (g->o->dry_run)
			continue;
		_cleanup_free_ char *rel =
		    store_rel_join(STORE_LAYERS, names[i], NULL);
		r = bin_move(g, rel, names[i], err);
	}
	free_strings(names, n);
	return r;
}

int gc_run(struct store *s, const struct gc_options *o, struct gc_stats *st,
	   struct wsbox_error *err)
{
	memset(st, 0, sizeof *st);
	struct gc g = {.s = s, .o = o, .st = st, .bin = {.dirfd = -1}};
	if (gethostname(g.host, sizeof g.host - 1) < 0)
		g.host[0] = '\0';
	int lock = store_lock(s, store_rel(STORE_GC_LOCK), true, err);
	if (lock < 0)
		return lock;
	int r = sweep_staging(&g, err);
	if (r == 0) {
		sweep_tmp_in(&g, ".");
		sweep_tmp_in(&g, store_rel(STORE_ROOTFS));
		pin_records(&g);
		r = sweep_cache(&g, err);
	}
	if (r == 0)
		r = sweep_layers(&g, err);
	store_unlock(&lock);
	/* The bin is out of every reader's sight already: delete it without
	 * holding up execs. */
	if (g.bin_ready) {
		struct wsbox_error e2 = {0};
		if (attempt_discard(s, &g.bin, &e2) < 0 && r == 0) {
			*err = e2;
			r = -EIO;
		}
	}
	sset_free(&g.used);
	return r;
}
