/* idrange_alloc.c: the range allocation file of idrange_alloc.h. Its text:
 *
 *   # comment
 *   pool FIRST COUNT        the operator's: host ids FIRST..FIRST+COUNT-1
 *   tenant NAME BASE        wsbox's: NAME owns BASE..BASE+65535
 *
 * Changed only under an exclusive flock of the file. A tenant's block in use
 * is an OFD read lock on the byte at the block's index (held by every exec
 * of that tenant until it exits); a release takes the write lock on it
 * first, so it never frees a block a task still runs in. */
#include "sandbox/idrange_alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

#define ALLOC_MAX_BYTES (1 << 20)

struct alloc {
	const char *file;
	char *text; /* the whole file, NUL-terminated */
	size_t len;
	unsigned long first, blocks; /* the pool, in blocks */
	bool *used;		     /* per block */
	/* The tenant asked for, when it has a block. */
	bool found;
	unsigned long index;
	size_t line_start, line_end; /* its line, newline included */
};

static void alloc_free(struct alloc *a)
{
	free(a->text);
	free(a->used);
}

const char *idrange_alloc_file(void)
{
	const char *e = getenv("WSBOX_RANGES");
	return e && *e ? e : IDRANGE_ALLOC_FILE;
}

/* Only root may steer tenants onto ids: a file anyone else could change
 * could give two tenants one block. */
static int alloc_open(const char *file, int flags, struct wsbox_error *err)
{
	_cleanup_close_ int fd = open(file, flags | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT
			   ? wsbox_fail_logic(err, ENOENT,
					      "no range allocation file `%s`",
					      file)
			   : wsbox_fail(err, errno, "open `%s`", file);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return wsbox_fail(err, errno, "stat `%s`", file);
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return wsbox_fail_logic(err, EPERM,
					"range allocation file `%s`: want a "
					"regular file of root's, writable by "
					"no one else",
					file);
	int r = fd;
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

static int parse_pool(struct alloc *a, char *f1, char *f2, size_t n,
		      struct wsbox_error *err)
{
	unsigned long count;
	if (a->used)
		return alloc_bad(a, n, "a second pool", err);
	if (parse_id(f1, 0xfffffffeUL, &a->first) < 0 || a->first == 0 ||
	    parse_id(f2, 0xffffffffUL, &count) < 0 ||
	    count > 0xffffffffUL - a->first || count < IDRANGE_BLOCK)
		return alloc_bad(a, n,
				 "want `pool FIRST COUNT`, FIRST > 0, at least "
				 "65536 ids below 4294967295",
				 err);
	a->blocks = count / IDRANGE_BLOCK;
	a->used = xcalloc(a->blocks, sizeof *a->used);
	return 0;
}

static int parse_tenant(struct alloc *a, const char *name, char *f1, char *f2,
			const char *want, size_t n, struct wsbox_error *err)
{
	unsigned long base;
	if (!a->used)
		return alloc_bad(a, n, "a tenant before the pool", err);
	if (!name || !valid_name(name) || f2 ||
	    parse_id(f1, 0xffffffffUL, &base) < 0 || base < a->first ||
	    (base - a->first) % IDRANGE_BLOCK ||
	    (base - a->first) / IDRANGE_BLOCK >= a->blocks)
		return alloc_bad(a, n,
				 "want `tenant NAME BASE`, BASE a block of "
				 "the pool",
				 err);
	unsigned long i = (base - a->first) / IDRANGE_BLOCK;
	if (a->used[i])
		return alloc_bad(a, n, "a block given twice", err);
	a->used[i] = true;
	if (!strcmp(name, want)) {
		if (a->found)
			return alloc_bad(a, n, "a tenant given twice", err);
		a->found = true;
		a->index = i;
	}
	return 0;
}

/* Read and check the whole file; find tenant `want`. */
static int alloc_load(int fd, const char *want, struct alloc *a,
		      struct wsbox_error *err)
{
	a->text = xcalloc(ALLOC_MAX_BYTES + 1, 1);
	ssize_t got = pread(fd, a->text, ALLOC_MAX_BYTES + 1, 0);
	if (got < 0)
		return wsbox_fail(err, errno, "read `%s`", a->file);
	if (got > ALLOC_MAX_BYTES)
		return wsbox_fail(err, EFBIG, "read `%s`", a->file);
	a->len = (size_t)got;
	size_t n = 0;
	for (size_t at = 0; at < a->len;) {
		size_t end = at + strcspn(a->text + at, "\n");
		size_t next = end < a->len ? end + 1 : end;
		_cleanup_free_ char *line = strndup(a->text + at, end - at);
		n++;
		char *save = NULL;
		char *kind = strtok_r(line, " \t", &save);
		char *w1 = strtok_r(NULL, " \t", &save);
		char *w2 = strtok_r(NULL, " \t", &save);
		char *w3 = strtok_r(NULL, " \t", &save);
		int r = 0;
		if (!kind || *kind == '#')
			r = 0;
		else if (!strcmp(kind, "pool") && !w3)
			r = parse_pool(a, w1, w2, n, err);
		else if (!strcmp(kind, "tenant"))
			r = parse_tenant(a, w1, w2, w3, want, n, err);
		else
			r = alloc_bad(a, n, "want `pool` or `tenant`", err);
		if (r < 0)
			return r;
		if (a->found && a->line_end == 0) {
			a->line_start = at;
			a->line_end = next;
		}
		at = next;
	}
	if (!a->used)
		return wsbox_fail_logic(err, ENOENT,
					"range allocation file `%s`: no pool",
					a->file);
	return 0;
}

/* The OFD lock on the block's byte: shared while a tenant's task runs,
 * exclusive for a release. */
static int alloc_lock_block(int fd, unsigned long index, short type)
{
	struct flock l = {.l_type = type,
			  .l_whence = SEEK_SET,
			  .l_start = (off_t)index,
			  .l_len = 1};
	return fcntl(fd, F_OFD_SETLK, &l) < 0 ? -errno : 0;
}

static int alloc_append(int fd, struct alloc *a, const char *name,
			struct wsbox_error *err)
{
	unsigned long i = 0;
	while (i < a->blocks && a->used[i])
		i++;
	if (i == a->blocks)
		return wsbox_fail(err, 0,
				  "range allocation file `%s`: all %lu blocks "
				  "of the pool are taken (release one with "
				  "`wsbox gc --release-tenant NAME`)",
				  a->file, a->blocks);
	_cleanup_free_ char *line =
	    xasprintf("%stenant %s %lu\n",
		      a->len && a->text[a->len - 1] != '\n' ? "\n" : "", name,
		      a->first + i * IDRANGE_BLOCK);
	if (pwrite(fd, line, strlen(line), (off_t)a->len) !=
		(ssize_t)strlen(line) ||
	    fsync(fd) < 0)
		return wsbox_fail(err, errno ? errno : EIO, "write `%s`",
				  a->file);
	a->found = true;
	a->index = i;
	return 0;
}

int idrange_alloc_take(const char *file, const char *name, unsigned long *base,
		       struct wsbox_error *err)
{
	if (!valid_name(name))
		return wsbox_fail(err, 0,
				  "--tenant `%s`: invalid name (want "
				  "[A-Za-z0-9][A-Za-z0-9._-]{0,127})",
				  name);
	_cleanup_close_ int fd = alloc_open(file, O_RDWR, err);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX) < 0)
		return wsbox_fail(err, errno, "lock `%s`", file);
	_cleanup_(alloc_free) struct alloc a = {.file = file};
	int r = alloc_load(fd, name, &a, err);
	if (r == 0 && !a.found)
		r = alloc_append(fd, &a, name, err);
	if (r < 0)
		return r;
	/* Taken before the flock goes, so no release slips in between; the
	 * fd is never closed: the lock lasts as long as this process. */
	int hold = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (hold < 0)
		return wsbox_fail(err, errno, "open `%s`", file);
	r = alloc_lock_block(hold, a.index, F_RDLCK);
	if (r < 0) {
		close(hold);
		return wsbox_fail(err, -r, "hold tenant %s's block in `%s`",
				  name, file);
	}
	*base = a.first + a.index * IDRANGE_BLOCK;
	return 0;
}

int idrange_alloc_release(const char *file, const char *name,
			  unsigned long *base, struct wsbox_error *err)
{
	_cleanup_close_ int fd = alloc_open(file, O_RDWR, err);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX) < 0)
		return wsbox_fail(err, errno, "lock `%s`", file);
	_cleanup_(alloc_free) struct alloc a = {.file = file};
	int r = alloc_load(fd, name, &a, err);
	if (r < 0)
		return r;
	if (!a.found) {
		return wsbox_fail_logic(
		    err, ENOENT, "tenant %s has no block in `%s`", name, file);
	}
	*base = a.first + a.index * IDRANGE_BLOCK;
	r = alloc_lock_block(fd, a.index, F_WRLCK);
	if (r == -EAGAIN || r == -EACCES) {
		return wsbox_fail_logic(err, EBUSY,
					"tenant %s: a task in its ids %lu-%lu "
					"is still running",
					name, *base, *base + IDRANGE_BLOCK - 1);
	}
	if (r < 0)
		return wsbox_fail(err, -r, "lock tenant %s's block", name);
	/* Rewritten in place (the flock is on this inode): the rest of the
	 * text, then the length. */
	memmove(a.text + a.line_start, a.text + a.line_end, a.len - a.line_end);
	size_t len = a.len - (a.line_end - a.line_start);
	if (pwrite(fd, a.text, len, 0) != (ssize_t)len ||
	    ftruncate(fd, (off_t)len) < 0 || fsync(fd) < 0)
		return wsbox_fail(err, errno ? errno : EIO, "write `%s`", file);
	return 0;
}
