/* layers/remote_record.c: task records in a registry (see remote.h): a
 * record as an OCI artifact manifest tagged by (run, task), read back and
 * validated like a local one, and pulling a task's whole ancestry. */
#include "layers/remote.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layers/layer.h"
#include "layers/oci.h"
#include "layers/remote_int.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/json.h"
#include "sandbox/util/sha256.h"

static void record_freep(struct task_record *r)
{
	record_free(r);
}

static json_t *record_json(const struct task_record *r)
{
	json_t *anc = json_array();
	for (size_t i = 0; i < r->n_ancestors; i++) {
		const struct record_node *n = &r->ancestors[i];
		json_array_append_new(
		    anc, json_pack("{s:s, s:o, s:o}", "task", n->task, "layer",
				   json_str_or_null(n->layer), "parents",
				   json_strv(n->parents, n->n_parents)));
	}
	return json_pack(
	    "{s:i, s:s, s:s, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:i, s:i,"
	    " s:b, s:b, s:o, s:f, s:f, s:f, s:I, s:I, s:I}",
	    "version", RECORD_VERSION, "run", r->run, "task", r->task,
	    "attempt", json_str_or_null(r->attempt), "seq", (json_int_t)r->seq,
	    "parents", json_strv(r->parents, r->n_parents), "ancestors", anc,
	    "lowers", json_strv(r->lowers, r->n_lowers), "layer",
	    json_str_or_null(r->layer), "status", json_str_or_null(r->status),
	    "exit_code", r->exit_code, "signal", r->signal, "ro", r->ro,
	    "cache_hit", r->cache_hit, "cache_key",
	    json_str_or_null(r->cache_key), "started", r->started, "wall_sec",
	    r->wall_sec, "cpu_sec", r->cpu_sec, "bytes", (json_int_t)r->bytes,
	    "files", (json_int_t)r->files, "max_rss_kb",
	    (json_int_t)r->max_rss_kb);
}

int remote_push_record(struct remote *rm, struct store *s, const char *run,
		       const char *task, struct wsbox_error *err)
{
	_cleanup_(record_freep) struct task_record rec = {0};
	int r = record_read(s, run, task, &rec, err);
	if (r < 0)
		return r;
	struct remote_layer l = {0};
	if (rec.layer &&
	    (r = remote_push_layer(rm, s, rec.layer, &l, NULL, err)) < 0)
		return r;
	_cleanup_free_ char *text = remote_json_text(record_json(&rec));
	if (!text)
		return wsbox_fail(err, ENOMEM, "encode record of task %s",
				  task);
	_cleanup_(oci_manifest_freep) struct oci_manifest m = {
	    .artifact_type = xstrdup(REMOTE_MT_RECORD)};
	r = remote_push_json_blob(rm, text, REMOTE_MT_RECORD, &m.config, err);
	if (r < 0)
		return r;
	if (rec.layer) {
		remote_add_layer_descriptor(&m, &l);
		oci_annotate(&m.annotations, &m.n_annotations, REMOTE_ANN_LAYER,
			     rec.layer);
	}
	oci_annotate(&m.annotations, &m.n_annotations, REMOTE_ANN_RUN, run);
	oci_annotate(&m.annotations, &m.n_annotations, REMOTE_ANN_TASK, task);
	char tag[REGISTRY_TAG_MAX + 1];
	remote_record_tag(run, task, tag);
	return remote_put_manifest(rm, &m, tag, NULL, err);
}

/* A list of names (`names`) or of layer digests; false when malformed. */
static bool jlist(json_t *o, const char *key, bool names, char ***out,
		  size_t *n)
{
	json_t *a = json_object_get(o, key);
	if (!json_is_array(a))
		return false;
	*n = json_array_size(a);
	*out = xcalloc(*n + 1, sizeof **out);
	for (size_t i = 0; i < *n; i++) {
		const char *v = json_string_value(json_array_get(a, i));
		if (!v || (names ? !valid_name(v) : !layer_digest_hex(v)))
			return false;
		(*out)[i] = xstrdup(v);
	}
	return true;
}

static bool parse_node(json_t *a, struct record_node *n)
{
	n->task = remote_jdup(a, "task");
	return n->task && valid_name(n->task) &&
	       remote_null_or_digest(a, "layer", &n->layer) &&
	       jlist(a, "parents", true, &n->parents, &n->n_parents);
}

static bool parse_record(json_t *j, struct task_record *r)
{
	static const char *const statuses[] = {"succeeded", "failed",
					       "timeout"};
	r->run = remote_jdup(j, "run");
	r->task = remote_jdup(j, "task");
	r->attempt = remote_jdup(j, "attempt");
	r->status = remote_jdup(j, "status");
	bool ok = r->run && valid_name(r->run) && r->task &&
		  valid_name(r->task) && r->status &&
		  (!r->attempt || valid_name(r->attempt));
	bool known = false;
	for (size_t i = 0; ok && i < ARRAY_SIZE(statuses); i++)
		known = known || !strcmp(r->status, statuses[i]);
	ok = ok && known &&
	     jlist(j, "parents", true, &r->parents, &r->n_parents);
	ok = ok && jlist(j, "lowers", false, &r->lowers, &r->n_lowers);
	ok = ok && remote_null_or_digest(j, "layer", &r->layer) &&
	     remote_null_or_digest(j, "cache_key", &r->cache_key);
	json_t *anc = json_object_get(j, "ancestors");
	ok = ok && json_is_array(anc);
	if (ok) {
		r->n_ancestors = json_array_size(anc);
		r->ancestors =
		    xcalloc(r->n_ancestors + 1, sizeof *r->ancestors);
	}
	for (size_t i = 0; ok && i < r->n_ancestors; i++)
		ok = parse_node(json_array_get(anc, i), &r->ancestors[i]);
	json_int_t seq = json_integer_value(json_object_get(j, "seq"));
	r->seq = seq > 0 ? (uint64_t)seq : 0;
	r->exit_code = (int)json_integer_value(json_object_get(j, "exit_code"));
	r->signal = (int)json_integer_value(json_object_get(j, "signal"));
	r->ro = json_is_true(json_object_get(j, "ro"));
	r->cache_hit = json_is_true(json_object_get(j, "cache_hit"));
	r->started = json_number_value(json_object_get(j, "started"));
	r->wall_sec = json_number_value(json_object_get(j, "wall_sec"));
	r->cpu_sec = json_number_value(json_object_get(j, "cpu_sec"));
	json_int_t v = json_integer_value(json_object_get(j, "bytes"));
	r->bytes = v > 0 ? (uint64_t)v : 0;
	v = json_integer_value(json_object_get(j, "files"));
	r->files = v > 0 ? (uint64_t)v : 0;
	v = json_integer_value(json_object_get(j, "max_rss_kb"));
	r->max_rss_kb = v > 0 ? (uint64_t)v : 0;
	return ok;
}

int remote_get_record(struct remote *rm, const char *run, const char *task,
		      struct task_record *r, struct wsbox_error *err)
{
	memset(r, 0, sizeof *r);
	char tag[REGISTRY_TAG_MAX + 1];
	remote_record_tag(run, task, tag);
	_cleanup_(oci_manifest_freep) struct oci_manifest m = {0};
	int ret = remote_get_artifact(rm, tag, REMOTE_MT_RECORD, REMOTE_ANN_RUN,
				      run, REMOTE_ANN_TASK, task, &m, err);
	if (ret < 0)
		return ret;
	if (ret == 0)
		return wsbox_fail(err, ENOENT,
				  "remote %s: task %s: not in run %s",
				  remote_url(rm), task, run);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	ret = registry_blob_get_mem(&rm->reg, m.config.digest,
				    REMOTE_RECORD_MAX, &text, &len, err);
	if (ret < 0)
		return ret;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	bool ok = j && parse_record(j, r) && !strcmp(r->run, run) &&
		  !strcmp(r->task, task);
	json_decref(j);
	if (!ok) {
		record_free(r);
		return remote_bad_object(rm, tag, "malformed record", err);
	}
	return 0;
}

int remote_pull_task(struct remote *rm, struct store *s, const char *run,
		     const char *task, struct task_record *out,
		     struct wsbox_error *err)
{
	struct task_record r;
	int ret = remote_get_record(rm, run, task, &r, err);
	if (ret < 0)
		return ret;
	char **want = xcalloc(r.n_ancestors + 2, sizeof *want);
	size_t n = 0;
	if (r.layer)
		want[n++] = r.layer;
	for (size_t i = 0; i < r.n_ancestors; i++)
		if (r.ancestors[i].layer)
			want[n++] = r.ancestors[i].layer;
	ret = remote_pull_layers(rm, s, want, n, err);
	free(want);
	if (ret == 0 && out)
		*out = r;
	else
		record_free(&r);
	return ret;
}
