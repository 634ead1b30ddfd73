/* tests/fuzz: the pipeline file target (sandbox/cli/pipeline.c and its
 * first pass, pipeline_bounds.c), which reads whatever a repository's
 * `wsbox run` file says. Checks beyond "no crash": a refusal names the file
 * and a line (`p.yml:N: `); what parses has at most PIPELINE_MAX_TASKS
 * tasks, each with a command or an import and a digest, every need resolved
 * to another task, at most once, and the needs form no cycle (every task
 * can be ordered). libFuzzer's -timeout and -rss_limit_mb catch a file that
 * costs far more than its size. */
#ifndef WSBOX_TESTS_FUZZ_TARGET_PIPELINE_H
#define WSBOX_TESTS_FUZZ_TARGET_PIPELINE_H

#include "sandbox/cli/pipeline.h"
#include "tests/fuzz/fuzz_common.h"

/* Kahn's algorithm over the reversed needs (who needs task k), linear in
 * tasks and needs: every task ordered, so the needs have no cycle. */
static inline int fuzz_pipeline_acyclic(const struct pipeline *p)
{
	size_t edges = 0;
	for (size_t i = 0; i < p->n; i++)
		edges += p->tasks[i].needs.n;
	_cleanup_free_ size_t *first = xcalloc(p->n + 2, sizeof *first);
	_cleanup_free_ size_t *users = xcalloc(edges + 1, sizeof *users);
	_cleanup_free_ size_t *missing = xcalloc(p->n + 1, sizeof *missing);
	_cleanup_free_ size_t *ready = xcalloc(p->n + 1, sizeof *ready);
	for (size_t i = 0; i < p->n; i++)
		for (size_t j = 0; j < p->tasks[i].needs.n; j++)
			first[p->tasks[i].need_idx[j] + 2]++;
	for (size_t k = 0; k < p->n; k++)
		first[k + 2] += first[k + 1];
	for (size_t i = 0; i < p->n; i++)
		for (size_t j = 0; j < p->tasks[i].needs.n; j++)
			users[first[p->tasks[i].need_idx[j] + 1]++] = i;
	/* first[k]..first[k + 1]: the tasks that need k. */
	size_t n_ready = 0, ordered = 0;
	for (size_t i = 0; i < p->n; i++)
		if (!(missing[i] = p->tasks[i].needs.n))
			ready[n_ready++] = i;
	while (n_ready) {
		size_t done = ready[--n_ready];
		ordered++;
		for (size_t u = first[done]; u < first[done + 1]; u++)
			if (!--missing[users[u]])
				ready[n_ready++] = users[u];
	}
	return ordered == p->n ? 0 : fuzz_bug("needs with a cycle accepted");
}

static inline int fuzz_pipeline_check(const struct pipeline *p)
{
	if (p->n > PIPELINE_MAX_TASKS)
		return fuzz_bug("%zu tasks accepted", p->n);
	/* seen[k] == i + 1: task i needs k already. */
	_cleanup_free_ size_t *seen = xcalloc(p->n + 1, sizeof *seen);
	for (size_t i = 0; i < p->n; i++) {
		const struct pipeline_task *t = &p->tasks[i];
		if (!t->name || (!t->argv.n && !t->import) || !t->digest[0])
			return fuzz_bug("task %zu without name, command or "
					"digest",
					i);
		for (size_t j = 0; j < t->needs.n; j++) {
			size_t k = t->need_idx[j];
			if (k >= p->n || k == i)
				return fuzz_bug("task `%s`: need %zu resolved "
						"to %zu",
						t->name, j, k);
			if (seen[k] == i + 1)
				return fuzz_bug(
				    "task `%s` needs one task twice", t->name);
			seen[k] = i + 1;
		}
	}
	return fuzz_pipeline_acyclic(p);
}

static inline int fuzz_pipeline_one(const uint8_t *data, size_t size)
{
	struct wsbox_error err = {0};
	struct pipeline p;
	int r = pipeline_parse("p.yml", (const char *)data, size, &p, &err);
	if (r < 0) {
		pipeline_free(&p);
		if (strncmp(err.msg, "p.yml:", 6))
			return fuzz_bug("refusal without the file: %s",
					err.msg);
		return fuzz_refused("pipeline", err.msg);
	}
	r = fuzz_pipeline_check(&p);
	pipeline_free(&p);
	return r < 0 ? r : FUZZ_ACCEPTED;
}

#endif
