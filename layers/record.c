/* layers/record.c: task records as JSON via jansson (see record.h). Reading
 * treats the file as untrusted: every name is re-validated and every digest
 * checked for form before use. */
#include "layers/record.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layer.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/json.h"

#define RECORD_MAX (64UL * 1024 * 1024)

/* The ancestor list goes to runs/<run>/ancestry/<hex>, named by its
 * digest and written once: siblings (a fan-in of 100 tasks on the same
 * level) share one file, so collecting a child's ancestors parses it once
 * instead of once per parent (README "Performance"). */
static int write_ancestry(struct store *s, const struct task_record *r,
			  char digest[DIGEST_STRLEN], struct wsbox_error *err)
{
	json_t *anc = json_array();
	for (size_t i = 0; i < r->n_ancestors; i++) {
		const struct record_node *n = &r->ancestors[i];
		json_array_append_new(
		    anc, json_pack("{s:s, s:o, s:o}", "task", n->task, "layer",
				   json_str_or_null(n->layer), "parents",
				   json_strv(n->parents, n->n_parents)));
	}
	_cleanup_free_ char *text = json_dumps(anc, JSON_COMPACT);
	json_decref(anc);
	if (!text)
		return wsbox_fail(err, ENOMEM, "encode ancestors of task %s",
				  r->task);
	size_t len = strlen(text);
	manifest_digest(text, len, digest);
	_cleanup_free_ char *rel =
	    store_run_rel(r->run, "ancestry", layer_digest_hex(digest));
	if (faccessat(s->fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	_cleanup_free_ char *dir = store_run_rel(r->run, "ancestry", NULL);
	int ret = store_mkdir_rel(s, dir, err);
	if (ret == 0)
		ret = atomic_write_at(s->fd, rel, text, len, 0600, err);
	return ret;
}

/* The exit status of an attempt whose writer did not set one (records of
 * older versions; a writer leaving 0 on an attempt that did not succeed):
 * what `wsbox exec` exits with for that ending. */
static int derived_exit_status(const struct task_record *r)
{
	bool ok = r->status && !strcmp(r->status, "succeeded");
	if (r->status && !strcmp(r->status, "timeout"))
		return WSBOX_EXIT_TIMEOUT;
	if (r->signal)
		return 128 + r->signal;
	if (r->exit_code || ok)
		return r->exit_code;
	return WSBOX_EXIT_FAILURE; /* failed with exit 0: wsbox's verdict */
}

/* The record's JSON text (heap); its ancestry file is written first. */
static int record_encode(struct store *s, const struct task_record *r,
			 char **out, struct wsbox_error *err)
{
	char digest[DIGEST_STRLEN] = "";
	if (r->n_ancestors) {
		int ret = write_ancestry(s, r, digest, err);
		if (ret < 0)
			return ret;
	}
	json_t *j = json_pack(
	    "{s:i, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:i, s:i,"
	    " s:b, s:b, s:o, s:f, s:f, s:f, s:I, s:I, s:I, s:o, s:o, s:I}",
	    "version", RECORD_VERSION, "run", r->run, "task", r->task,
	    "attempt", r->attempt, "parents",
	    json_strv(r->parents, r->n_parents), "ancestry",
	    json_str_or_null(digest[0] ? digest : NULL), "lowers",
	    json_strv(r->lowers, r->n_lowers), "layer",
	    json_str_or_null(r->layer), "status", r->status, "exit_code",
	    r->exit_code, "signal", r->signal, "ro", r->ro, "cache_hit",
	    r->cache_hit, "cache_key", json_str_or_null(r->cache_key),
	    "started", r->started, "wall_sec", r->wall_sec, "cpu_sec",
	    r->cpu_sec, "bytes", (json_int_t)r->bytes, "files",
	    (json_int_t)r->files, "max_rss_kb", (json_int_t)r->max_rss_kb,
	    "stdout", json_str_or_null(r->stdout_log), "stderr",
	    json_str_or_null(r->stderr_log), "seq", (json_int_t)r->seq);
	/* New in version 3: readers of older records derive them. */
	bool ok = r->status && !strcmp(r->status, "succeeded");
	int exit_status =
	    r->exit_status || ok ? r->exit_status : derived_exit_status(r);
	if (j) {
		json_object_set_new(j, "exit_status",
				    json_integer(exit_status));
		json_object_set_new(j, "error", json_str_or_null(r->error));
		json_object_set_new(j, "combined",
				    json_str_or_null(r->combined_log));
		json_object_set_new(
		    j, "cache_key_extra",
		    json_strv(r->cache_key_extra, r->n_cache_key_extra));
		json_object_set_new(j, "uncacheable",
				    json_str_or_null(r->uncacheable));
		if (r->log_truncated[0] || r->log_truncated[1] ||
		    r->log_truncated[2])
			json_object_set_new(
			    j, "log_truncated",
			    json_log_truncated(r->log_truncated));
	}
	*out = j ? json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!*out)
		return wsbox_fail(err, ENOMEM, "encode record of task %s",
				  r->task);
	return 0;
}

int record_write(struct store *s, const struct task_record *r,
		 struct wsbox_error *err)
{
	_cleanup_free_ char *text = NULL;
	int ret = record_encode(s, r, &text, err);
	if (ret < 0)
		return ret;
	_cleanup_free_ char *dir = store_run_rel(r->run, "tasks", NULL);
	ret = store_mkdir_rel(s, dir, err);
	if (ret < 0)
		return ret;
	_cleanup_free_ char *path = store_run_rel(r->run, "tasks", r->task);
	return atomic_write_at(s->fd, path, text, strlen(text), 0600, err);
}

int record_stage(struct store *s, const struct task_record *r,
		 struct record_staged *st, struct wsbox_error *err)
{
	memset(st, 0, sizeof *st);
	_cleanup_free_ char *text = NULL;
	int ret = record_encode(s, r, &text, err);
	if (ret < 0)
		return ret;
	st->dir = store_run_rel(r->run, "tasks", NULL);
	ret = store_mkdir_rel(s, st->dir, err);
	if (ret < 0)
		return ret;
	st->path = store_run_rel(r->run, "tasks", r->task);
	/* atomic_write_at's temporary name: what listings and gc know. */
	_cleanup_free_ char *base =
	    xasprintf(".%s.tmp.%d", r->task, (int)getpid());
	st->tmp = store_run_rel(r->run, "tasks", base);
	_cleanup_close_ int fd =
	    openat(s->fd, st->tmp,
		   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return wsbox_fail(err, errno, "create `%s`", st->tmp);
	ret = write_all(fd, text, strlen(text));
	if (ret < 0)
		return wsbox_fail(err, -ret, "write `%s`", st->tmp);
	return 0;
}

int record_commit(struct store *s, struct record_staged *st, bool synced,
		  struct wsbox_error *err)
{
	if (!synced) {
		_cleanup_close_ int fd =
		    openat(s->fd, st->tmp, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || fsync(fd) < 0)
			return wsbox_fail(err, errno, "write `%s`", st->tmp);
	}
	if (renameat(s->fd, st->tmp, s->fd, st->path) < 0)
		return wsbox_fail(err, errno, "rename `%s`", st->path);
	free(st->tmp);
	st->tmp = NULL; /* committed: nothing for record_staged_free */
	return fsync_dir_at(s->fd, st->dir, err);
}

void record_staged_free(struct store *s, struct record_staged *st)
{
	if (st->tmp)
		unlinkat(s->fd, st->tmp, 0);
	free(st->tmp);
	free(st->path);
	free(st->dir);
	memset(st, 0, sizeof *st);
}

int record_write_attempt(struct store *s, const struct task_record *r,
			 struct wsbox_error *err)
{
	_cleanup_free_ char *text = NULL;
	int ret = record_encode(s, r, &text, err);
	if (ret < 0)
		return ret;
	_cleanup_free_ char *dir = store_attempt_rel(r->run, r->task, NULL);
	ret = store_mkdir_rel(s, dir, err);
	if (ret < 0)
		return ret;
	_cleanup_free_ char *path =
	    store_attempt_rel(r->run, r->task, r->attempt);
	return write_new_file_at(s->fd, path, text, strlen(text), 0600, err);
}

int record_link_attempt(struct store *s, const struct task_record *r,
			struct wsbox_error *err)
{
	_cleanup_free_ char *dir = store_attempt_rel(r->run, r->task, NULL);
	int ret = store_mkdir_rel(s, dir, err);
	if (ret < 0)
		return ret;
	_cleanup_free_ char *from = store_run_rel(r->run, "tasks", r->task);
	_cleanup_free_ char *path =
	    store_attempt_rel(r->run, r->task, r->attempt);
	if (linkat(s->fd, from, s->fd, path, 0) == 0)
		return 0;
	if (errno == EEXIST)
		return wsbox_fail(err, errno, "create `%s`", path);
	return record_write_attempt(s, r, err);
}

static char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static int jstrv(json_t *o, const char *key, bool names, char ***out, size_t *n)
{
	json_t *a = json_object_get(o, key);
	*out = NULL;
	*n = 0;
	if (!json_is_array(a))
		return -EINVAL;
	size_t cnt = json_array_size(a);
	char **v = xcalloc(cnt + 1, sizeof *v);
	for (size_t i = 0; i < cnt; i++) {
		json_t *e = json_array_get(a, i);
		const char *str = json_string_value(e);
		if (!str ||
		    (names ? !valid_name(str) : !layer_digest_hex(str))) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return -EINVAL;
		}
		v[i] = xstrdup(str);
	}
	*out = v;
	*n = cnt;
	return 0;
}

void record_node_free(struct record_node *n)
{
	free(n->task);
	free(n->layer);
	for (size_t i = 0; i < n->n_parents; i++)
		free(n->parents[i]);
	free(n->parents);
	memset(n, 0, sizeof *n);
}

void record_free(struct task_record *r)
{
	free(r->run);
	free(r->task);
	free(r->attempt);
	for (size_t i = 0; i < r->n_parents; i++)
		free(r->parents[i]);
	free(r->parents);
	for (size_t i = 0; i < r->n_ancestors; i++)
		record_node_free(&r->ancestors[i]);
	free(r->ancestors);
	for (size_t i = 0; i < r->n_lowers; i++)
		free(r->lowers[i]);
	free(r->lowers);
	free(r->layer);
	free(r->status);
	free(r->cache_key);
	free(r->stdout_log);
	free(r->stderr_log);
	free(r->combined_log);
	free(r->error);
	free(r->uncacheable);
	for (size_t i = 0; i < r->n_cache_key_extra; i++)
		free(r->cache_key_extra[i]);
	free(r->cache_key_extra);
	free(r->ancestry);
	memset(r, 0, sizeof *r);
}

static int parse_ancestors(json_t *anc, struct task_record *r)
{
	if (!json_is_array(anc))
		return -EINVAL;
	r->n_ancestors = json_array_size(anc);
	r->ancestors = xcalloc(r->n_ancestors + 1, sizeof *r->ancestors);
	for (size_t i = 0; i < r->n_ancestors; i++) {
		json_t *a = json_array_get(anc, i);
		struct record_node *n = &r->ancestors[i];
		n->task = jstr(a, "task");
		n->layer = jstr(a, "layer");
		if (!n->task || !valid_name(n->task) ||
		    (n->layer && !layer_digest_hex(n->layer)) ||
		    jstrv(a, "parents", true, &n->parents, &n->n_parents) < 0)
			return -EINVAL;
	}
	return 0;
}

int record_load_ancestry(const struct store *s, struct task_record *r,
			 struct wsbox_error *err)
{
	if (r->ancestors || !r->ancestry)
		return 0;
	const char *hex = layer_digest_hex(r->ancestry);
	_cleanup_free_ char *rel = store_run_rel(r->run, "ancestry", hex);
	_cleanup_free_ char *text = NULL;
	size_t len;
	int ret = read_file_at(s->fd, rel, RECORD_MAX, &text, &len, err);
	if (ret < 0)
		return ret;
	char got[DIGEST_STRLEN];
	manifest_digest(text, len, got);
	json_t *j =
	    strcmp(got, r->ancestry) ? NULL : json_loadb(text, len, 0, NULL);
	ret = j ? parse_ancestors(j, r) : -EINVAL;
	json_decref(j);
	if (ret < 0) {
		for (size_t i = 0; r->ancestors && i < r->n_ancestors; i++)
			record_node_free(&r->ancestors[i]);
		free(r->ancestors);
		r->ancestors = NULL;
		r->n_ancestors = 0;
		return wsbox_fail_logic(
		    err, EINVAL, "ancestors of task %s in run %s: corrupt",
		    r->task, r->run);
	}
	return 0;
}

int record_read(const struct store *s, const char *run, const char *task,
		struct task_record *r, struct wsbox_error *err)
{
	int ret = record_read_shallow(s, run, task, r, err);
	if (ret == 0 && (ret = record_load_ancestry(s, r, err)) < 0)
		record_free(r);
	return ret;
}

/* The strings of an array, any content (NULL-terminated heap array);
 * absent (older records) is empty. */
static int jstrings(json_t *o, const char *key, char ***out, size_t *n)
{
	json_t *a = json_object_get(o, key);
	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (!json_is_array(a))
		return -EINVAL;
	size_t cnt = json_array_size(a);
	char **v = xcalloc(cnt + 1, sizeof *v);
	for (size_t i = 0; i < cnt; i++) {
		const char *str = json_string_value(json_array_get(a, i));
		if (!str) {
			free_strings(v, i);
			return -EINVAL;
		}
		v[i] = xstrdup(str);
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* A record at `rel` (a task's or an attempt's), untrusted. */
static int record_parse_at(const struct store *s, const char *rel,
			   const char *run, const char *task,
			   struct task_record *r, struct wsbox_error *err)
{
	memset(r, 0, sizeof *r);
	_cleanup_free_ char *text = NULL;
	size_t len;
	int ret = read_file_at(s->fd, rel, RECORD_MAX, &text, &len, err);
	if (ret == -ENOENT)
		return wsbox_fail_logic(err, ENOENT,
					"no such task %s in run %s", task, run);
	if (ret < 0)
		return ret;
	json_error_t jerr;
	json_t *j = json_loadb(text, len, 0, &jerr);
	if (!j)
		return wsbox_fail_logic(err, EINVAL, "record of task %s: %s",
					task, jerr.text);
	r->run = jstr(j, "run");
	r->task = jstr(j, "task");
	r->attempt = jstr(j, "attempt");
	r->status = jstr(j, "status");
	r->layer = jstr(j, "layer");
	r->cache_key = jstr(j, "cache_key");
	r->stdout_log = jstr(j, "stdout");
	r->stderr_log = jstr(j, "stderr");
	r->combined_log = jstr(j, "combined");
	r->error = jstr(j, "error");
	r->uncacheable = jstr(j, "uncacheable");
	r->exit_code = (int)json_integer_value(json_object_get(j, "exit_code"));
	r->signal = (int)json_integer_value(json_object_get(j, "signal"));
	json_t *es = json_object_get(j, "exit_status");
	r->exit_status = json_is_integer(es) ? (int)json_integer_value(es)
					     : derived_exit_status(r);
	r->ro = json_is_true(json_object_get(j, "ro"));
	json_log_truncated_merge(json_object_get(j, "log_truncated"),
				 r->log_truncated);
	json_int_t seq = json_integer_value(json_object_get(j, "seq"));
	r->seq = seq > 0 ? (uint64_t)seq : 0;
	r->cache_hit = json_is_true(json_object_get(j, "cache_hit"));
	r->started = json_number_value(json_object_get(j, "started"));
	r->wall_sec = json_number_value(json_object_get(j, "wall_sec"));
	r->cpu_sec = json_number_value(json_object_get(j, "cpu_sec"));
	r->bytes = (uint64_t)json_integer_value(json_object_get(j, "bytes"));
	r->files = (uint64_t)json_integer_value(json_object_get(j, "files"));
	r->max_rss_kb =
	    (uint64_t)json_integer_value(json_object_get(j, "max_rss_kb"));
	if (!r->run || !r->task || !r->status || strcmp(r->run, run) ||
	    strcmp(r->task, task) || (r->layer && !layer_digest_hex(r->layer)))
		goto bad;
	if (jstrv(j, "parents", true, &r->parents, &r->n_parents) < 0 ||
	    jstrv(j, "lowers", false, &r->lowers, &r->n_lowers) < 0 ||
	    jstrings(j, "cache_key_extra", &r->cache_key_extra,
		     &r->n_cache_key_extra) < 0)
		goto bad;
	/* Ancestors: by reference (ancestry file, loaded on demand) or, in
	 * records of older versions, inline. No ancestors: neither. */
	r->ancestry = jstr(j, "ancestry");
	json_t *anc = json_object_get(j, "ancestors");
	if (r->ancestry && !layer_digest_hex(r->ancestry))
		goto bad;
	if (!r->ancestry && anc && parse_ancestors(anc, r) < 0)
		goto bad;
	if (!r->ancestry && !anc)
		r->ancestors = xcalloc(1, sizeof *r->ancestors);
	json_decref(j);
	return 0;
bad:
	json_decref(j);
	record_free(r);
	return wsbox_fail_logic(
	    err, EINVAL, "record of task %s in run %s: malformed", task, run);
}

int record_read_shallow(const struct store *s, const char *run,
			const char *task, struct task_record *r,
			struct wsbox_error *err)
{
	_cleanup_free_ char *rel = store_run_rel(run, "tasks", task);
	return record_parse_at(s, rel, run, task, r, err);
}

int record_read_attempt(const struct store *s, const char *run,
			const char *task, const char *attempt,
			struct task_record *r, struct wsbox_error *err)
{
	memset(r, 0, sizeof *r);
	if (!valid_name(run) || !valid_name(task) || !valid_name(attempt))
		return wsbox_fail_logic(err, EINVAL,
					"attempt `%s` of task `%s`: bad name",
					attempt, task);
	_cleanup_free_ char *rel = store_attempt_rel(run, task, attempt);
	return record_parse_at(s, rel, run, task, r, err);
}
