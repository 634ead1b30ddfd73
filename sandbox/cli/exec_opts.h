/* exec_opts: the command line of `wsbox exec`, parsed and validated into a
 * plain struct before anything touches the store or the kernel, so bad input
 * is refused (exit 125) without side effects. */
#ifndef WSBOX_SANDBOX_EXEC_OPTS_H
#define WSBOX_SANDBOX_EXEC_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "sandbox/plan.h"
#include "sandbox/util/error.h"

struct strv {
	char **v; /* NULL-terminated */
	size_t n;
};

struct exec_opts {
	const char *store;
	const char *run;  /* NULL: a fresh run id is generated */
	const char *task; /* NULL: "main" */
	struct strv parents;
	const char *rootfs; /* NULL: host root */
	bool ro;
	struct strv save;
	struct strv env;      /* K=V */
	struct strv env_pass; /* K */
	const char *cwd;
	uid_t uid;
	gid_t gid;
	enum net_mode net;
	unsigned timeout_sec;
	uint64_t memory;
	uint64_t pids;
	/* --quota NAME=N (docs/sandbox.md "Namespaces"). */
	bool quota_set[QUOTA_COUNT];
	uint64_t quota[QUOTA_COUNT];
	uint32_t cpu_milli;	   /* --cpus in 1/1000 CPUs, 0 = none */
	const char *cgroup_parent; /* --cgroup-parent, NULL = auto */
	uint64_t max_layer_size;
	/* --max-log-size: bytes each stream keeps in the stored logs
	 * (default LOGCAP_DEFAULT_MAX, sandbox/util/logcap.h). */
	uint64_t max_log_size;
	const char *policy;
	bool no_cache;
	/* --cache-key-extra K=V: names inputs wsbox cannot see (a stream on
	 * stdin, a fetch over --net host); sorted by K, no K twice. */
	struct strv cache_key_extra;
	const char *events;
	bool keep_failed;
	const char *hostname;
	const char *mutex;
	unsigned long idmap_base; /* root mode: host id base, 0 = /etc/subuid */
	const char *tenant;	  /* root mode: --tenant NAME's own block */
	const char *strategy;	  /* --strategy, NULL = $WSBOX_STRATEGY/auto */
	/* --remote URL (NULL: $WSBOX_REMOTE), --remote-insecure,
	 * --remote-compression zstd|gzip (NULL: zstd); README "Many
	 * executors". */
	const char *remote;
	bool remote_insecure;
	const char *remote_compression;
	char **argv; /* CMD [ARG...], points into the caller's argv */
	int argc;
};

void strv_push(struct strv *s, const char *item);
void strv_free(struct strv *s);

/* Parse `wsbox exec ...` (argv[0] is "exec"). On error returns < 0 with a
 * message naming the option; `err->status` is 125. Returns 1, with nothing
 * after it parsed, when --help/-h came before CMD: the caller prints
 * exec_opts_usage() and exits 0. */
int exec_opts_parse(int argc, char **argv, struct exec_opts *o,
		    struct wsbox_error *err);
/* The same options with no CMD after them (`wsbox attempt begin`): a word
 * after the options is refused. */
int exec_opts_parse_workspace(int argc, char **argv, struct exec_opts *o,
			      struct wsbox_error *err);
/* `wsbox exec --help`: every option with one line each, and the exit
 * statuses. */
void exec_opts_usage(FILE *f);
void exec_opts_free(struct exec_opts *o);

/* The resource limits of the plan, from --memory, --pids, --timeout... */
struct limits exec_opts_limits(const struct exec_opts *o);

/* "512M", "2G", "100k", "123" -> bytes. */
int parse_size(const char *s, uint64_t *out);

/* --cpus: "2", "0.5", "1.25" (at most 3 decimals) -> thousandths of a CPU,
 * 0.01..4096 (cgroup cpu.max cannot express less than 1% of a CPU). */
int parse_cpus(const char *s, uint32_t *milli);

/* The clean environment of the task: PATH, HOME, TERM, then --env-pass
 * values present in `host_env`, then --env (later wins). */
char **exec_build_env(const struct exec_opts *o, char **host_env);

#endif
