/* idrange_alloc.c: the range allocation file of idrange_alloc.h. Its text:
 *
 *   # comment
 *   pool FIRST COUNT        the operator's: host ids FIRST..FIRST+COUNT-1
 *   tenant NAME BASE        wsbox's: tenant NAME owns BASE..BASE+65535
 *   run BASE RUN STORE      wsbox's: run RUN of the store at STORE (the
 *                           rest of the line) owns the block at BASE
 *   once BASE               wsbox's: a one-off exec owns the block at BASE
 *
 * Every change happens under an exclusive flock of `FILE.lock` and replaces
 * FILE atomically (temp file, fsync, rename), so a crash leaves the old text
 * or the new, never half of one. A block in use is an OFD read lock on the
 * byte of FILE.lock at the block's index, held by every exec of its owner
 * until that exec exits (a crash included); a release or reclaim first
 * takes the write lock on it, so it never frees a block a task still runs
 * in. The locks live on FILE.lock, not FILE, because the replaced FILE is a
 * new inode each time. */
#include "sandbox/idrange_alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/name.h"

#define ALLOC_MAX_BYTES (1 << 20)

/* One line of the file. */
struct entry {
	size_t start, end; /* in the text, newline included */
	bool block;	   /* a tenant, run or once line */
	struct idrange_owner who;
	unsigned long index; /* the block, in the pool */
	bool drop;	     /* left out when the file is written back */
};

struct alloc {
	const char *file;
	int lock; /* FILE.lock, flocked exclusively */
	char *text;
	size_t len;
	mode_t mode;
	unsigned long first, blocks; /* the pool, in blocks */
	bool *used;		     /* per block */
	struct entry *e;
	size_t n;
};

static void alloc_free(struct alloc *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free((char *)a->e[i].who.name);
		free((char *)a->e[i].who.store);
	}
	free(a->e);
	free(a->text);
	free(a->used);
	if (a->lock >= 0)
		close(a->lock);
}

const char *idrange_alloc_file(void)
{
	const char *e = getenv("WSBOX_RANGES");
	return e && *e ? e : IDRANGE_ALLOC_FILE;
}

bool idrange_alloc_configured(void)
{
	const char *e = getenv("WSBOX_RANGES");
	struct stat st;
	return (e && *e) || lstat(IDRANGE_ALLOC_FILE, &st) == 0 ||
	       errno != ENOENT;
}

/* Only root may steer tasks onto ids: a file anyone else could change
 * could give two owners one block. */
static int alloc_check(int fd, const char *path, struct wsbox_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return wsbox_fail(err, errno, "stat `%s`", path);
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return wsbox_fail_logic(err, EPERM,
					"range allocation file `%s`: want a "
					"regular file of root's, writable by "
					"no one else",
					path);
	return (int)(st.st_mode & 07777);
}

static int alloc_open_file(struct alloc *a, struct wsbox_error *err)
{
	/* O_NONBLOCK: a FIFO put there must be refused, not waited on. */
	_cleanup_close_ int fd =
	    open(a->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT
			   ? wsbox_fail_logic(err, ENOENT,
					      "no range allocation file `%s`",
					      a->file)
			   : wsbox_fail(err, errno, "open `%s`", a->file);
	int mode = alloc_check(fd, a->file, err);
	if (mode < 0)
		return mode;
	a->mode = (mode_t)mode;
	a->text = xcalloc(ALLOC_MAX_BYTES + 1, 1);
	ssize_t got = pread(fd, a->text, ALLOC_MAX_BYTES + 1, 0);
	if (got < 0)
		return wsbox_fail(err, errno, "read `%s`", a->file);
	if (got > ALLOC_MAX_BYTES)
		return wsbox_fail(err, EFBIG, "read `%s`", a->file);
	a->len = (size_t)got;
	return 0;
}

/* The directory FILE is in, as a new string. */
static char *dir_of(const char *file)
{
	if (!strchr(file, '/'))
		return xstrdup(".");
	char *dir = xstrdup(file);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0'; /* FILE in / */
	else
		*slash = '\0';
	return dir;
}

/* FILE's directory: root's, and writable by no one else, sticky or not.
 * Whoever can write there could plant FILE.lock, or FILE's temp file, which
 * atomic_write_at truncates and renames over FILE: root's next text would
 * land in a file that user owns and can still write. */
static int alloc_check_dir(const char *file, struct wsbox_error *err)
{
	_cleanup_free_ char *dir = dir_of(file);
	struct stat st;
	if (stat(dir, &st) < 0)
		return errno == ENOENT
			   ? wsbox_fail_logic(err, ENOENT,
					      "no range allocation file `%s`",
					      file)
			   : wsbox_fail(err, errno, "stat `%s`", dir);
	if (st.st_uid != 0 || (st.st_mode & 022))
		return wsbox_fail_logic(err, EPERM,
					"range allocation file `%s`: its "
					"directory `%s` is writable by others "
					"than root",
					file, dir);
	return 0;
}

/* FILE.lock, created next to FILE on first use. flags: O_RDWR for the
 * exclusive flock and the write probes, O_RDONLY for a hold. */
static int alloc_open_lock(const char *file, int flags, struct wsbox_error *err)
{
	int r = alloc_check_dir(file, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = xasprintf("%s.lock", file);
	_cleanup_close_ int fd = open(
	    path, flags | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0)
		return wsbox_fail(err, errno, "open `%s`", path);
	r = alloc_check(fd, path, err);
	if (r < 0)
		return r;
	r = fd;
	fd = -1;
	return r;
}

static int parse_id(const char *s, unsigned long max, unsigned long *v)
{
	char *end;
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || *end || *v > max ? -1 : 0;
}

static int alloc_bad(const struct alloc *a, size_t line, const char *why,
		     struct wsbox_error *err)
{
	return wsbox_fail(err, 0, "range allocation file `%s` line %zu: %s",
			  a->file, line, why);
}

static int parse_pool(struct alloc *a, char *f1, char *f2, const char *rest,
		      size_t n, struct wsbox_error *err)
{
	unsigned long count;
	if (a->used)
		return alloc_bad(a, n, "a second pool", err);
	if (*rest || parse_id(f1, 0xfffffffeUL, &a->first) < 0 ||
	    a->first == 0 || parse_id(f2, 0xffffffffUL, &count) < 0 ||
	    count > 0xffffffffUL - a->first || count < IDRANGE_BLOCK)
		return alloc_bad(a, n,
				 "want `pool FIRST COUNT`, FIRST > 0, at least "
				 "65536 ids below 4294967295",
				 err);
	a->blocks = count / IDRANGE_BLOCK;
	a->used = xcalloc(a->blocks, sizeof *a->used);
	return 0;
}

/* A block's BASE: one of the pool's, not given twice. */
static int parse_block(struct alloc *a, const char *s, struct entry *e,
		       size_t n, const char *want, struct wsbox_error *err)
{
	unsigned long base;
	if (!a->used)
		return alloc_bad(a, n, "a block before the pool", err);
	if (parse_id(s, 0xffffffffUL, &base) < 0 || base < a->first ||
	    (base - a->first) % IDRANGE_BLOCK ||
	    (base - a->first) / IDRANGE_BLOCK >= a->blocks)
		return alloc_bad(a, n, want, err);
	e->index = (base - a->first) / IDRANGE_BLOCK;
	e->who.base = base;
	if (a->used[e->index])
		return alloc_bad(a, n, "a block given twice", err);
	a->used[e->index] = true;
	e->block = true;
	return 0;
}

/* `tenant NAME BASE`, `run BASE RUN STORE`, `once BASE`. */
static int parse_owner(struct alloc *a, const char *kind, char *w1, char *w2,
		       const char *rest, struct entry *e, size_t n,
		       struct wsbox_error *err)
{
	const char *want;
	if (!strcmp(kind, "tenant")) {
		want = "want `tenant NAME BASE`, BASE a block of the pool";
		if (!valid_name(w1) || *rest)
			return alloc_bad(a, n, want, err);
		e->who.kind = IDRANGE_TENANT;
		e->who.name = xstrdup(w1);
		return parse_block(a, w2, e, n, want, err);
	}
	if (!strcmp(kind, "run")) {
		want = "want `run BASE RUN STORE`, BASE a block of the pool";
		if (!valid_name(w2) || *rest != '/')
			return alloc_bad(a, n, want, err);
		e->who.kind = IDRANGE_RUN;
		e->who.name = xstrdup(w2);
		e->who.store = xstrdup(rest);
		return parse_block(a, w1, e, n, want, err);
	}
	want = "want `once BASE`, BASE a block of the pool";
	if (w2)
		return alloc_bad(a, n, want, err);
	e->who.kind = IDRANGE_ONCE;
	return parse_block(a, w1, e, n, want, err);
}

static int parse_line(struct alloc *a, char *line, struct entry *e, size_t n,
		      struct wsbox_error *err)
{
	char *save = NULL;
	char *kind = strtok_r(line, " \t", &save);
	if (!kind || *kind == '#')
		return 0;
	char *w1 = strtok_r(NULL, " \t", &save);
	char *w2 = strtok_r(NULL, " \t", &save);
	/* What follows the second word, as written: a run's store path may
	 * hold blanks. */
	const char *rest = save ? save + strspn(save, " \t") : "";
	if (!strcmp(kind, "pool"))
		return parse_pool(a, w1, w2, rest, n, err);
	if (!strcmp(kind, "tenant") || !strcmp(kind, "run") ||
	    !strcmp(kind, "once"))
		return parse_owner(a, kind, w1, w2, rest, e, n, err);
	return alloc_bad(a, n, "want `pool`, `tenant`, `run` or `once`", err);
}

/* Check every line; the pool and the blocks given out. */
static int alloc_parse(struct alloc *a, struct wsbox_error *err)
{
	size_t lines = 1;
	for (size_t i = 0; i < a->len; i++)
		lines += a->text[i] == '\n';
	a->e = xcalloc(lines, sizeof *a->e);
	for (size_t at = 0; at < a->len; a->n++) {
		size_t end = at + strcspn(a->text + at, "\n");
		size_t next = end < a->len ? end + 1 : end;
		_cleanup_free_ char *line = strndup(a->text + at, end - at);
		struct entry *e = &a->e[a->n];
		e->start = at;
		e->end = next;
		int r = parse_line(a, line, e, a->n + 1, err);
		if (r < 0) {
			a->n++; /* so alloc_free frees what the line took */
			return r;
		}
		at = next;
	}
	if (!a->used)
		return wsbox_fail_logic(err, ENOENT,
					"range allocation file `%s`: no pool",
					a->file);
	return 0;
}

/* Under the exclusive flock no one else is writing FILE, so a temp file of
 * its (`.NAME.tmp.PID`, atomic_write_at) is a crashed writer's: removed, or
 * they would pile up in /etc/wsbox. Best effort: a leftover harms nothing. */
static void alloc_remove_crashed_temps(const char *file)
{
	_cleanup_free_ char *dir = dir_of(file);
	const char *slash = strrchr(file, '/');
	const char *name = slash ? slash + 1 : file;
	_cleanup_free_ char *prefix = xasprintf(".%s.tmp.", name);
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		const char *pid = de->d_name + strlen(prefix);
		if (strncmp(de->d_name, prefix, strlen(prefix)) || !*pid ||
		    pid[strspn(pid, "0123456789")])
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
}

/* The preamble of every change: the lock file's exclusive flock, then
 * FILE read and checked whole. */
static int alloc_begin(const char *file, struct alloc *a,
		       struct wsbox_error *err)
{
	*a = (struct alloc){.file = file, .lock = -1};
	a->lock = alloc_open_lock(file, O_RDWR, err);
	if (a->lock < 0)
		return a->lock;
	if (flock(a->lock, LOCK_EX) < 0)
		return wsbox_fail(err, errno, "lock `%s.lock`", file);
	alloc_remove_crashed_temps(file);
	int r = alloc_open_file(a, err);
	return r < 0 ? r : alloc_parse(a, err);
}

/* The OFD lock on the block's byte of FILE.lock. */
static int lock_block(int fd, unsigned long index, short type)
{
	struct flock l = {.l_type = type,
			  .l_whence = SEEK_SET,
			  .l_start = (off_t)index,
			  .l_len = 1};
	return fcntl(fd, F_OFD_SETLK, &l) < 0 ? -errno : 0;
}

/* Does a running exec hold block `index`? Probed with the write lock and
 * let go at once: under the flock no new holder can appear meanwhile. */
static bool block_held(const struct alloc *a, unsigned long index)
{
	if (lock_block(a->lock, index, F_WRLCK) < 0)
		return true;
	lock_block(a->lock, index, F_UNLCK);
	return false;
}

static bool owner_is(const struct idrange_owner *e,
		     const struct idrange_owner *who)
{
	if (e->kind != who->kind || who->kind == IDRANGE_ONCE)
		return false;
	return !strcmp(e->name, who->name) &&
	       (who->kind != IDRANGE_RUN || !strcmp(e->store, who->store));
}

static struct entry *alloc_find(struct alloc *a,
				const struct idrange_owner *who)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].block && !a->e[i].drop &&
		    owner_is(&a->e[i].who, who))
			return &a->e[i];
	return NULL;
}

static void alloc_drop(struct alloc *a, struct entry *e)
{
	e->drop = true;
	a->used[e->index] = false;
}

/* The file's new text: every line kept, then `add` (may be NULL). */
static int alloc_write(struct alloc *a, const char *add,
		       struct wsbox_error *err)
{
	_cleanup_free_ char *out =
	    xcalloc(a->len + (add ? strlen(add) : 0) + 2, 1);
	size_t len = 0;
	for (size_t i = 0; i < a->n; i++) {
		if (a->e[i].drop)
			continue;
		size_t l = a->e[i].end - a->e[i].start;
		memcpy(out + len, a->text + a->e[i].start, l);
		len += l;
	}
	if (add && len && out[len - 1] != '\n')
		out[len++] = '\n';
	if (add) {
		memcpy(out + len, add, strlen(add));
		len += strlen(add);
	}
	return atomic_write_at(AT_FDCWD, a->file, out, len, a->mode, err);
}

static char *owner_line(const struct idrange_owner *who, unsigned long base)
{
	switch (who->kind) {
	case IDRANGE_TENANT:
		return xasprintf("tenant %s %lu\n", who->name, base);
	case IDRANGE_RUN:
		return xasprintf("run %lu %s %s\n", base, who->name,
				 who->store);
	case IDRANGE_ONCE:
	default:
		return xasprintf("once %lu\n", base);
	}
}

static int check_owner(const struct idrange_owner *who, struct wsbox_error *err)
{
	if (who->kind == IDRANGE_TENANT)
		return name_check("--tenant", who->name, err);
	if (who->kind == IDRANGE_RUN) {
		int r = name_check("--run", who->name, err);
		if (r < 0)
			return r;
		if (who->store[0] != '/' || strchr(who->store, '\n'))
			return wsbox_fail(err, 0,
					  "store `%s`: want an absolute path "
					  "without a newline for its run's id "
					  "block",
					  who->store);
	}
	return 0;
}

/* A new block for `who`: the lowest free one, appended to the file (with
 * the `once` lines of ended execs taken back first). */
static int alloc_new(struct alloc *a, const struct idrange_owner *who,
		     unsigned long *index, struct wsbox_error *err)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].block && a->e[i].who.kind == IDRANGE_ONCE &&
		    !block_held(a, a->e[i].index))
			alloc_drop(a, &a->e[i]);
	unsigned long i = 0;
	while (i < a->blocks && a->used[i])
		i++;
	if (i == a->blocks)
		return wsbox_fail(err, 0,
				  "range allocation file `%s`: all %lu blocks "
				  "of the pool are taken (free some with "
				  "`wsbox runs rm RUN` and `wsbox gc`, or "
				  "`wsbox gc --release-tenant NAME`; or grow "
				  "the pool)",
				  a->file, a->blocks);
	_cleanup_free_ char *line =
	    owner_line(who, a->first + i * IDRANGE_BLOCK);
	int r = alloc_write(a, line, err);
	if (r < 0)
		return r;
	*index = i;
	return 0;
}

/* Take the read lock on the block's byte before the flock goes, so no
 * release slips in between; the fd is never closed: the lock lasts as long
 * as this process. */
static int alloc_hold(const struct alloc *a, unsigned long index,
		      struct wsbox_error *err)
{
	int hold = alloc_open_lock(a->file, O_RDONLY, err);
	if (hold < 0)
		return hold;
	int r = lock_block(hold, index, F_RDLCK);
	if (r < 0) {
		close(hold);
		return wsbox_fail(err, -r, "hold block %lu of `%s`", index,
				  a->file);
	}
	return 0;
}

int idrange_alloc_take(const char *file, struct idrange_owner *who,
		       struct wsbox_error *err)
{
	int r = check_owner(who, err);
	if (r < 0)
		return r;
	_cleanup_(alloc_free) struct alloc a = {.lock = -1};
	r = alloc_begin(file, &a, err);
	if (r < 0)
		return r;
	struct entry *e = alloc_find(&a, who);
	unsigned long index = e ? e->index : 0;
	if (!e)
		r = alloc_new(&a, who, &index, err);
	if (r < 0)
		return r;
	r = alloc_hold(&a, index, err);
	if (r < 0)
		return r;
	who->base = a.first + index * IDRANGE_BLOCK;
	return 0;
}

static const char *owner_kind(const struct idrange_owner *who)
{
	return who->kind == IDRANGE_TENANT ? "tenant" : "run";
}

int idrange_alloc_release(const char *file, struct idrange_owner *who,
			  struct wsbox_error *err)
{
	_cleanup_(alloc_free) struct alloc a = {.lock = -1};
	int r = alloc_begin(file, &a, err);
	if (r < 0)
		return r;
	struct entry *e = alloc_find(&a, who);
	if (!e)
		return wsbox_fail_logic(err, ENOENT,
					"%s %s has no block in `%s`",
					owner_kind(who), who->name, file);
	who->base = e->who.base;
	if (block_held(&a, e->index))
		return wsbox_fail_logic(err, EBUSY,
					"%s %s: a task in its ids %lu-%lu "
					"is still running",
					owner_kind(who), who->name, who->base,
					who->base + IDRANGE_BLOCK - 1);
	alloc_drop(&a, e);
	return alloc_write(&a, NULL, err);
}

/* Is the line's owner gone: an ended one-off exec, a removed run, or a
 * run of a store that no longer exists? */
static bool owner_gone(const struct idrange_owner *who,
		       idrange_run_exists *exists, void *ctx)
{
	struct stat st;
	switch (who->kind) {
	case IDRANGE_ONCE:
		return true;
	case IDRANGE_RUN:
		if (lstat(who->store, &st) < 0 && errno == ENOENT)
			return true;
		return !exists(who->store, who->name, ctx);
	case IDRANGE_TENANT:
	default:
		return false;
	}
}

void idrange_owners_free(struct idrange_owner *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)v[i].name);
		free((char *)v[i].store);
	}
	free(v);
}

int idrange_alloc_reclaim(const char *file, idrange_run_exists *exists,
			  void *ctx, bool dry_run, struct idrange_owner **freed,
			  size_t *n, struct wsbox_error *err)
{
	*freed = NULL;
	*n = 0;
	_cleanup_(alloc_free) struct alloc a = {.lock = -1};
	int r = alloc_begin(file, &a, err);
	if (r < 0)
		return r;
	struct idrange_owner *out = xcalloc(a.n + 1, sizeof *out);
	size_t k = 0;
	for (size_t i = 0; i < a.n; i++) {
		struct entry *e = &a.e[i];
		if (!e->block || !owner_gone(&e->who, exists, ctx) ||
		    block_held(&a, e->index))
			continue;
		alloc_drop(&a, e);
		out[k] = e->who;
		out[k].name = e->who.name ? xstrdup(e->who.name) : NULL;
		out[k].store = e->who.store ? xstrdup(e->who.store) : NULL;
		k++;
	}
	r = k && !dry_run ? alloc_write(&a, NULL, err) : 0;
	if (r < 0) {
		idrange_owners_free(out, k);
		return r;
	}
	*freed = out;
	*n = k;
	return 0;
}

int idrange_alloc_inspect(const char *file, struct idrange_pool *out,
			  struct wsbox_error *err)
{
	/* The file is only ever replaced whole: a snapshot needs no lock. */
	_cleanup_(alloc_free) struct alloc a = {.file = file, .lock = -1};
	int r = alloc_check_dir(file, err);
	if (r == 0)
		r = alloc_open_file(&a, err);
	if (r == 0)
		r = alloc_parse(&a, err);
	if (r < 0)
		return r;
	*out = (struct idrange_pool){.first = a.first, .blocks = a.blocks};
	for (unsigned long i = 0; i < a.blocks; i++)
		out->taken += a.used[i];
	return 0;
}
