/* layers/cache.c: cache keys, lookup, store and replay (see cache.h). */
#include "layers/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layers/layer.h"
#include "layers/tasklog.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/json.h"
#include "sandbox/util/sha256.h"

#define ENTRY_MAX (64 * 1024)
/* Chunks are one read of a pipe each (64 KiB): a longer one is corrupt. */
#define CHUNK_MAX (1U << 20)

/* ---- key encoding: tag byte, then u64 length (or count) + bytes ---- */

static void put_u64(struct sha256 *h, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * (7 - i)));
	sha256_update(h, b, sizeof b);
}

static void put_tag(struct sha256 *h, char tag)
{
	sha256_update(h, &tag, 1);
}

/* NULL is length 2^64-1, which no real string has. */
static void put_str(struct sha256 *h, const char *s)
{
	if (!s) {
		put_u64(h, UINT64_MAX);
		return;
	}
	size_t n = strlen(s);
	put_u64(h, n);
	sha256_update(h, s, n);
}

static void put_list(struct sha256 *h, char tag, char *const *v, size_t n)
{
	put_tag(h, tag);
	put_u64(h, n);
	for (size_t i = 0; i < n; i++)
		put_str(h, v[i]);
}

static size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void cache_key(const struct cache_key_input *in, char out[DIGEST_STRLEN])
{
	struct sha256 ctx, *h = &ctx;
	sha256_init(h);
	put_str(h, "wsbox-cache-key");
	put_u64(h, CACHE_KEY_VERSION);
	put_tag(h, 'M');
	put_u64(h, MANIFEST_VERSION); /* the layer format */
	put_tag(h, 'R');
	put_str(h, in->rootfs_id);
	put_list(h, 'L', in->lowers, in->n_lowers);
	put_list(h, 'A', in->argv, strv_len(in->argv));
	put_list(h, 'E', in->envp, strv_len(in->envp));
	put_tag(h, 'P');
	put_u64(h, in->n_env_pass);
	for (size_t i = 0; i < in->n_env_pass; i++) {
		put_str(h, in->env_pass[i]);
		put_str(h, in->env_pass_values[i]);
	}
	put_tag(h, 'U');
	put_u64(h, in->uid);
	put_u64(h, in->gid);
	put_tag(h, 'C');
	put_str(h, in->cwd);
	put_tag(h, 'H');
	put_str(h, in->hostname);
	put_tag(h, 'N');
	put_u64(h, (uint64_t)in->net);
	put_tag(h, 'Y');
	put_str(h, in->policy);
	put_list(h, 'S', in->save, in->n_save);
	put_tag(h, 'O');
	put_u64(h, in->ro);
	put_u64(h, in->max_layer_size);
	put_tag(h, 'I');
	put_str(h, in->stdin_id);
	put_list(h, 'X', in->extra, in->n_extra);
	/* Last and only when given, so keys without a tenant stay what they
	 * were. */
	if (in->tenant) {
		put_tag(h, 'T');
		put_str(h, in->tenant);
	}
	unsigned char md[32];
	sha256_final(h, md);
	sha256_format(md, out);
}

/* ---- entries ---- */

char *cache_file(const char *key, const char *name)
{
	return store_rel_join(STORE_TASK_CACHE, layer_digest_hex(key), name);
}

void cache_entry_free(struct cache_entry *e)
{
	free(e->layer);
	memset(e, 0, sizeof *e);
}

/* The layer is whole: its manifest hashes to its digest and its tree is
 * there. (The deep check of every file is `wsbox layers verify`.) */
static bool layer_intact(const struct store *s, const char *digest)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	struct wsbox_error ignored;
	return layer_exists(s, digest) &&
	       layer_read_manifest(s, digest, &text, &len, &ignored) == 0;
}

int cache_lookup(const struct store *s, const char *key, struct cache_entry *e)
{
	memset(e, 0, sizeof *e);
	if (!layer_digest_hex(key))
		return 0;
	_cleanup_free_ char *rel = cache_file(key, "entry");
	_cleanup_free_ char *text = NULL;
	size_t len;
	struct wsbox_error ignored;
	if (read_file_at(s->fd, rel, ENTRY_MAX, &text, &len, &ignored) < 0)
		return 0;
	json_t *j = json_loadb(text, len, 0, NULL);
	if (!j)
		return 0;
	json_t *layer = json_object_get(j, "layer");
	const char *k = json_string_value(json_object_get(j, "key"));
	bool ok = json_integer_value(json_object_get(j, "version")) ==
		      CACHE_KEY_VERSION &&
		  k && !strcmp(k, key) &&
		  (json_is_null(layer) ||
		   (json_is_string(layer) &&
		    layer_digest_hex(json_string_value(layer))));
	if (ok && json_is_string(layer)) {
		e->layer = xstrdup(json_string_value(layer));
		ok = layer_intact(s, e->layer);
	}
	/* Logs must be there, whole: the sizes recorded at store time. */
	_cleanup_free_ char *out = cache_file(key, "stdout");
	_cleanup_free_ char *errf = cache_file(key, "stderr");
	struct stat so, se;
	json_t *ob = json_object_get(j, "stdout_bytes");
	json_t *eb = json_object_get(j, "stderr_bytes");
	ok = ok && json_is_integer(ob) && json_is_integer(eb) &&
	     fstatat(s->fd, out, &so, AT_SYMLINK_NOFOLLOW) == 0 &&
	     fstatat(s->fd, errf, &se, AT_SYMLINK_NOFOLLOW) == 0 &&
	     S_ISREG(so.st_mode) && S_ISREG(se.st_mode) &&
	     so.st_size == json_integer_value(ob) &&
	     se.st_size == json_integer_value(eb);
	/* The combined log is optional (an entry whose one did not add up
	 * has none), but when named it must be whole too. */
	json_t *cb = json_object_get(j, "combined_bytes");
	if (ok && cb) {
		_cleanup_free_ char *comb = cache_file(key, "combined");
		struct stat sc;
		ok = json_is_integer(cb) &&
		     fstatat(s->fd, comb, &sc, AT_SYMLINK_NOFOLLOW) == 0 &&
		     S_ISREG(sc.st_mode) &&
		     sc.st_size == json_integer_value(cb);
	}
	json_int_t bytes = json_integer_value(json_object_get(j, "bytes"));
	json_int_t files = json_integer_value(json_object_get(j, "files"));
	e->bytes = bytes > 0 ? (uint64_t)bytes : 0;
	e->files = files > 0 ? (uint64_t)files : 0;
	e->wall_sec = json_number_value(json_object_get(j, "wall_sec"));
	json_decref(j);
	if (!ok) {
		cache_entry_free(e);
		return 0;
	}
	/* Last use, for gc's least-recently-used eviction. */
	utimensat(s->fd, rel, NULL, AT_SYMLINK_NOFOLLOW);
	return 1;
}

/* Read one chunk header of a combined log: 1 with *stream and *len set, 0
 * at a clean end, -1 on a short or malformed header. */
static int chunk_header(int fd, int *stream, uint32_t *len)
{
	unsigned char h[TASKLOG_HEADER];
	ssize_t n = read_all(fd, h, sizeof h);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof h)
		return -1;
	*stream = h[0];
	*len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 |
	       (uint32_t)h[3] << 8 | (uint32_t)h[4];
	if ((*stream != TASKLOG_STDOUT && *stream != TASKLOG_STDERR) ||
	    *len > CHUNK_MAX)
		return -1;
	return 1;
}

/* The size of the attempt's `combined` log when it is well formed and its
 * chunks add up to exactly `out` and `err` bytes (no write of it was
 * lost), else -1. Only the headers are read. */
static off_t combined_whole(int dirfd, off_t out, off_t err)
{
	_cleanup_close_ int fd =
	    openat(dirfd, "combined", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	off_t sum[3] = {0, 0, 0};
	int stream, r;
	uint32_t len;
	while ((r = chunk_header(fd, &stream, &len)) == 1) {
		sum[stream] += len;
		if (lseek(fd, len, SEEK_CUR) < 0)
			return -1;
	}
	struct stat st;
	if (r < 0 || fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_CUR) != st.st_size)
		return -1;
	if (sum[TASKLOG_STDOUT] != out || sum[TASKLOG_STDERR] != err)
		return -1;
	return st.st_size;
}

int cache_store(const struct store *s, const struct attempt *a, const char *key,
		const struct cache_entry *e, struct wsbox_error *err)
{
	const char *hex = layer_digest_hex(key);
	if (!hex)
		return wsbox_fail(err, EINVAL, "cache key `%s`", key);
	/* The logs' sizes let a lookup reject logs a power cut truncated:
	 * entries are not fsynced (a lost one is a miss). */
	struct stat so, se;
	if (fstatat(a->dirfd, "stdout", &so, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fstatat(a->dirfd, "stderr", &se, AT_SYMLINK_NOFOLLOW) < 0)
		return wsbox_fail(err, errno, "stat logs of `%s`", a->dir);
	json_t *j = json_pack(
	    "{s:i, s:s, s:o, s:I, s:I, s:f, s:I, s:I, s:I}", "version",
	    CACHE_KEY_VERSION, "key", key, "layer", json_str_or_null(e->layer),
	    "bytes", (json_int_t)e->bytes, "files", (json_int_t)e->files,
	    "wall_sec", e->wall_sec, "created", (json_int_t)time(NULL),
	    "stdout_bytes", (json_int_t)so.st_size, "stderr_bytes",
	    (json_int_t)se.st_size);
	off_t comb = combined_whole(a->dirfd, so.st_size, se.st_size);
	if (j && comb >= 0)
		json_object_set_new(j, "combined_bytes",
				    json_integer((json_int_t)comb));
	_cleanup_free_ char *text = j ? json_dumps(j, JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!text)
		return wsbox_fail(err, ENOMEM, "encode cache entry");

	/* Build in staging: staging/<attempt>/cache-entry/. */
	const char *tmp = "cache-entry";
	if (mkdirat(a->dirfd, tmp, 0700) < 0)
		return wsbox_fail(err, errno, "mkdir `%s/%s`", a->dir, tmp);
	if (linkat(a->dirfd, "stdout", a->dirfd, "cache-entry/stdout", 0) < 0 ||
	    linkat(a->dirfd, "stderr", a->dirfd, "cache-entry/stderr", 0) < 0 ||
	    (comb >= 0 && linkat(a->dirfd, "combined", a->dirfd,
				 "cache-entry/combined", 0) < 0))
		return wsbox_fail(err, errno, "link logs into cache entry");
	int r = write_new_file_at(a->dirfd, "cache-entry/entry", text,
				  strlen(text), 0600, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *src = store_rel_join(STORE_STAGING, a->id, tmp);
	_cleanup_free_ char *dst = store_rel_join(STORE_TASK_CACHE, hex, NULL);
	const char *dir = store_rel(STORE_TASK_CACHE);
	if (mkdirat(s->fd, dir, 0700) < 0 && errno != EEXIST)
		return wsbox_fail(err, errno, "mkdir `%s/%s`", s->path, dir);
	if (renameat(s->fd, src, s->fd, dst) < 0) {
		if (errno != EEXIST && errno != ENOTEMPTY)
			return wsbox_fail(err, errno, "store cache entry");
		/* Refresh (--no-cache, or a stale entry): swap the new one
		 * in atomically; the old one lands in staging and goes with
		 * it. */
		if (renameat2(s->fd, src, s->fd, dst, RENAME_EXCHANGE) < 0)
			return wsbox_fail(err, errno, "replace cache entry");
	}
	return 0;
}

static int copy_to_fd(const struct store *s, const char *rel, int out,
		      struct wsbox_error *err)
{
	_cleanup_close_ int fd =
	    openat(s->fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "open `%s/%s`", s->path, rel);
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wsbox_fail(err, errno, "read `%s/%s`", s->path,
					  rel);
		if (n == 0)
			return 0;
		int r = write_all(out, buf, (size_t)n);
		/* A closed reader (EPIPE) is the caller's business, as with
		 * a real run; keep going so the record is still written. */
		if (r < 0 && r != -EPIPE)
			return wsbox_fail(err, -r, "replay `%s`", rel);
		if (r == -EPIPE)
			return 0;
	}
}

/* Copy `len` bytes of `fd` to `out` (-1: read and drop them). A closed
 * reader (EPIPE) stops only that stream: *out becomes -1. */
static int copy_chunk(int fd, uint32_t len, int *out)
{
	char buf[65536];
	while (len) {
		size_t want = len < sizeof buf ? len : sizeof buf;
		ssize_t n = read_all(fd, buf, want);
		if (n < 0)
			return (int)n;
		if ((size_t)n != want)
			return -EINVAL;
		len -= (uint32_t)n;
		int r = *out >= 0 ? write_all(*out, buf, (size_t)n) : 0;
		if (r == -EPIPE)
			*out = -1;
		else if (r < 0)
			return r;
	}
	return 0;
}

/* tasklog_replay's loop, but a reader that went away (EPIPE) stops only its
 * stream, as in a live run: the record is already written. */
static int replay_combined(const struct store *s, const char *rel, int out_fd,
			   int err_fd, struct wsbox_error *err)
{
	_cleanup_close_ int fd =
	    openat(s->fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "open `%s/%s`", s->path, rel);
	int to[3] = {-1, out_fd, err_fd};
	int stream, r;
	uint32_t len;
	while ((r = chunk_header(fd, &stream, &len)) == 1) {
		r = copy_chunk(fd, len, &to[stream]);
		if (r == -EINVAL)
			break;
		if (r < 0)
			return wsbox_fail(err, -r, "replay `%s`", rel);
	}
	if (r != 0)
		return wsbox_fail_logic(err, EINVAL, "replay `%s`: malformed",
					rel);
	return 0;
}

int cache_replay(const struct store *s, const char *key, int out_fd, int err_fd,
		 struct wsbox_error *err)
{
	_cleanup_free_ char *comb = cache_file(key, "combined");
	if (faccessat(s->fd, comb, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return replay_combined(s, comb, out_fd, err_fd, err);
	_cleanup_free_ char *out = cache_file(key, "stdout");
	_cleanup_free_ char *errf = cache_file(key, "stderr");
	int r = copy_to_fd(s, out, out_fd, err);
	if (r == 0)
		r = copy_to_fd(s, errf, err_fd, err);
	return r;
}
