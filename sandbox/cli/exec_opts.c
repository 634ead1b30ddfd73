/* exec_opts.c: parsing and validation of `wsbox exec` options and their
 * --help text (see exec_opts.h). Pure: no I/O besides reading argv and the
 * environment (and printing the usage it is asked for), so it is unit-tested
 * directly. */
#include "sandbox/cli/exec_opts.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/sandbox.h"
#include "sandbox/strategy.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/logcap.h"
#include "sandbox/util/name.h"

void strv_push(struct strv *s, const char *item)
{
	s->v = xreallocarray(s->v, s->n + 2, sizeof *s->v);
	s->v[s->n++] = xstrdup(item);
	s->v[s->n] = NULL;
}

void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-')
		return -EINVAL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		return -EINVAL;
	if (shift && v > (ULLONG_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

int parse_cpus(const char *s, uint32_t *milli)
{
	uint64_t whole = 0, frac = 0;
	size_t i = 0, nd = 0;

	if (!s)
		return -EINVAL;
	/* Digits only: strtod would take "1e3", "inf", " 2" and locale
	 * commas, none of which an operator means. */
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		whole = whole * 10 + (uint64_t)(s[i] - '0');
		if (whole > 4096)
			return -ERANGE;
	}
	if (i == 0)
		return -EINVAL;
	if (s[i] == '.') {
		for (i++; s[i] >= '0' && s[i] <= '9'; i++, nd++) {
			if (nd == 3)
				return -EINVAL;
			frac = frac * 10 + (uint64_t)(s[i] - '0');
		}
		if (!nd)
			return -EINVAL;
	}
	if (s[i])
		return -EINVAL;
	for (; nd < 3; nd++)
		frac *= 10;
	uint64_t v = whole * 1000 + frac;
	if (v > 4096 * 1000)
		return -ERANGE;
	if (v < 10)
		return -ERANGE;
	*milli = (uint32_t)v;
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A relative path with no "..", "." or empty components and no leading
 * slash: what --save accepts (it names paths inside /workspace). */
static bool valid_rel_path(const char *p)
{
	if (!*p || *p == '/' || strlen(p) > 4096)
		return false;
	_cleanup_free_ char *copy = xstrdup(p);
	char *save = NULL;
	size_t trimmed = strlen(copy);
	while (trimmed > 1 && copy[trimmed - 1] == '/')
		copy[--trimmed] = '\0';
	if (strstr(copy, "//"))
		return false;
	for (char *c = strtok_r(copy, "/", &save); c;
	     c = strtok_r(NULL, "/", &save))
		if (!strcmp(c, "..") || !strcmp(c, "."))
			return false;
	return true;
}

/* Does the path have a ".." component? */
static bool has_dotdot(const char *p)
{
	for (const char *c = p; (c = strstr(c, "..")); c += 2)
		if ((c == p || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
			return true;
	return false;
}

static bool valid_env_name(const char *k, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (k[i] == '=' || k[i] == '\0')
			return false;
	return true;
}

enum {
	OPT_STORE = 256,
	OPT_RUN,
	OPT_TASK,
	OPT_PARENT,
	OPT_ROOTFS,
	OPT_RO,
	OPT_SAVE,
	OPT_ENV,
	OPT_ENV_PASS,
	OPT_CWD,
	OPT_UID,
	OPT_GID,
	OPT_NET,
	OPT_TIMEOUT,
	OPT_MEMORY,
	OPT_PIDS,
	OPT_POLICY,
	OPT_NO_CACHE,
	OPT_EVENTS,
	OPT_KEEP_FAILED,
	OPT_HOSTNAME,
	OPT_MAX_LAYER,
	OPT_MAX_LOG,
	OPT_MUTEX,
	OPT_IDMAP_BASE,
	OPT_TENANT,
	OPT_QUOTA,
	OPT_STRATEGY,
	OPT_CPUS,
	OPT_CGROUP_PARENT,
	OPT_CACHE_KEY_EXTRA,
	OPT_REMOTE,
	OPT_REMOTE_INSECURE,
	OPT_REMOTE_COMPRESSION,
	OPT_HELP,
};

/* The option table: what getopt parses and what `wsbox exec --help` prints,
 * one line each, so the two cannot drift apart. */
static const struct exec_option {
	const char *name;
	int val;
	const char *arg; /* the value's placeholder; NULL: a flag */
	const char *help;
} exec_options[] = {
    {"store", OPT_STORE, "DIR",
     "the store (default: $WSBOX_STORE, else below)"},
    {"run", OPT_RUN, "RUN", "the task's run (default: a new run id)"},
    {"task", OPT_TASK, "NAME", "the task's name in the run (default: main)"},
    {"parent", OPT_PARENT, "TASK",
     "start from this task's workspace (repeatable)"},
    {"rootfs", OPT_ROOTFS, "DIR|NAME",
     "root filesystem, read-only (default: the host's /)"},
    {"ro", OPT_RO, NULL, "read-only workspace; no layer is captured"},
    {"save", OPT_SAVE, "PATH",
     "capture only this path of /workspace (repeatable)"},
    {"env", OPT_ENV, "K=V", "set a variable (the environment starts clean)"},
    {"env-pass", OPT_ENV_PASS, "K", "pass the caller's variable K through"},
    {"cwd", OPT_CWD, "DIR", "working directory inside (default: /workspace)"},
    {"uid", OPT_UID, "N", "user id inside, 0..65533 (default: 0)"},
    {"gid", OPT_GID, "N", "group id inside, 0..65533 (default: 0)"},
    {"hostname", OPT_HOSTNAME, "H", "host name inside (default: wsbox)"},
    {"net", OPT_NET, "none|host",
     "none (default): only lo; host: the host's network"},
    {"timeout", OPT_TIMEOUT, "SEC",
     "kill the sandbox after SEC seconds (exit 124)"},
    {"memory", OPT_MEMORY, "SIZE", "memory limit, e.g. 512M"},
    {"pids", OPT_PIDS, "N", "limit on processes and threads"},
    {"quota", OPT_QUOTA, "NAME=N",
     "inotify/fanotify quota (default: 1/8 host's)"},
    {"cpus", OPT_CPUS, "N", "CPU limit, e.g. 2 or 0.5 (cgroup only)"},
    {"cgroup-parent", OPT_CGROUP_PARENT, "DIR",
     "delegated cgroup v2 dir for the task's leaf"},
    {"max-layer-size", OPT_MAX_LAYER, "SIZE",
     "fail the task if its layer exceeds SIZE"},
    {"max-log-size", OPT_MAX_LOG, "SIZE",
     "store at most SIZE per output stream (default: 64M)"},
    {"policy", OPT_POLICY, "NAME|FILE",
     "seccomp policy (default: default; `wsbox policy ls`)"},
    {"no-cache", OPT_NO_CACHE, NULL,
     "run even on a cache hit; refresh the entry"},
    {"cache-key-extra", OPT_CACHE_KEY_EXTRA, "K=V",
     "key the cache on an input wsbox cannot see"},
    {"events", OPT_EVENTS, "FILE|-|fd:N", "JSON-lines events for an engine"},
    {"mutex", OPT_MUTEX, "NAME",
     "never run together with another task holding NAME"},
    {"keep-failed", OPT_KEEP_FAILED, NULL,
     "keep a failed attempt's files for debugging"},
    {"strategy", OPT_STRATEGY, "S",
     "auto|overlay|fuse-overlayfs|copy (env WSBOX_STRATEGY)"},
    {"idmap-base", OPT_IDMAP_BASE, "N",
     "root mode: first of the 65536 host ids tasks map to"},
    {"tenant", OPT_TENANT, "NAME",
     "root mode: map to NAME's own block of the range file"},
    {"remote", OPT_REMOTE, "URL",
     "share through this registry (default: $WSBOX_REMOTE)"},
    {"remote-insecure", OPT_REMOTE_INSECURE, NULL,
     "allow plain http to a non-loopback remote"},
    {"remote-compression", OPT_REMOTE_COMPRESSION, "zstd|gzip",
     "pushed layers' compression (default: zstd)"},
    {"help", OPT_HELP, NULL, "print this help and exit"},
};

void exec_opts_usage(FILE *f)
{
	fputs("usage: wsbox exec [OPTIONS] -- CMD [ARG...]\n"
	      "Run CMD in a fresh sandbox on the workspace of its parents and "
	      "capture\nwhat it leaves as the task's layer (README \"Exec\").\n"
	      "\noptions:\n",
	      f);
	for (size_t i = 0; i < ARRAY_SIZE(exec_options); i++) {
		const struct exec_option *x = &exec_options[i];
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", x->name,
			 x->arg ? " " : "", x->arg ? x->arg : "");
		fprintf(f, "  %-24s %s\n", left, x->help);
	}
	fputs("\nThe default store is $XDG_DATA_HOME/wsbox or "
	      "~/.local/share/wsbox; root's\nis /var/lib/wsbox.\n",
	      f);
	fputs("\nexit status: CMD's own; 128+N when killed by signal N; 124 "
	      "timeout;\n125 wsbox failed or refused; 126 CMD not executable; "
	      "127 CMD not found\n",
	      f);
}

/* Insert K=V into the sorted list; refuse a K given twice. */
static int add_key_extra(struct strv *x, const char *kv,
			 struct wsbox_error *err)
{
	size_t klen = (size_t)(strchr(kv, '=') - kv);
	size_t at = 0;
	for (; at < x->n; at++) {
		size_t olen = strcspn(x->v[at], "=");
		int c = strncmp(x->v[at], kv, klen < olen ? klen : olen);
		if (!c && olen == klen)
			return wsbox_fail(
			    err, 0, "--cache-key-extra `%.*s`: given twice",
			    (int)klen, kv);
		if (c > 0 || (!c && olen > klen))
			break;
	}
	strv_push(x, kv);
	char *last = x->v[x->n - 1];
	memmove(&x->v[at + 1], &x->v[at], (x->n - 1 - at) * sizeof *x->v);
	x->v[at] = last;
	return 0;
}

/* Names: the store, the run, the task, its parents, --mutex. */
static int set_name_option(struct exec_opts *o, int c, const char *arg,
			   struct wsbox_error *err)
{
	switch (c) {
	case OPT_STORE:
		o->store = arg;
		break;
	case OPT_RUN:
		if (name_check("--run", arg, err) < 0)
			return -EINVAL;
		o->run = arg;
		break;
	case OPT_TASK:
		if (name_check("--task", arg, err) < 0)
			return -EINVAL;
		o->task = arg;
		break;
	case OPT_PARENT:
		if (name_check("--parent", arg, err) < 0)
			return -EINVAL;
		for (size_t i = 0; i < o->parents.n; i++)
			if (!strcmp(o->parents.v[i], arg))
				return wsbox_fail(
				    err, 0, "--parent `%s`: given twice", arg);
		strv_push(&o->parents, arg);
		break;
	case OPT_MUTEX:
		if (!valid_name(arg))
			return wsbox_fail(err, 0, "--mutex `%s`: invalid name",
					  arg);
		o->mutex = arg;
		break;
	default:
		return 0;
	}
	return 1;
}

/* What the task sees: root, workspace, environment, ids, network,
 * hostname, policy, strategy. */
static int set_view_option(struct exec_opts *o, int c, const char *arg,
			   struct wsbox_error *err)
{
	unsigned long v;

	switch (c) {
	case OPT_ROOTFS:
		if (!*arg)
			return wsbox_fail(err, 0, "--rootfs: empty");
		o->rootfs = arg;
		break;
	case OPT_RO:
		o->ro = true;
		break;
	case OPT_SAVE:
		if (!valid_rel_path(arg))
			return wsbox_fail(err, 0,
					  "--save `%s`: must be a relative "
					  "path inside /workspace without `..`",
					  arg);
		strv_push(&o->save, arg);
		break;
	case OPT_ENV: {
		const char *eq = strchr(arg, '=');
		if (!eq || !valid_env_name(arg, (size_t)(eq - arg)))
			return wsbox_fail(err, 0, "--env `%s`: want NAME=VALUE",
					  arg);
		strv_push(&o->env, arg);
		break;
	}
	case OPT_ENV_PASS:
		if (!valid_env_name(arg, strlen(arg)))
			return wsbox_fail(err, 0, "--env-pass `%s`: want NAME",
					  arg);
		strv_push(&o->env_pass, arg);
		break;
	case OPT_CWD:
		if (arg[0] != '/')
			return wsbox_fail(err, 0,
					  "--cwd `%s`: must be absolute", arg);
		o->cwd = arg;
		break;
	case OPT_UID:
	case OPT_GID:
		/* 65534 and above are reserved (overflow ids). */
		if (parse_uint(arg, 65533, &v) < 0)
			return wsbox_fail(err, 0, "--%s `%s`: want 0..65533",
					  c == OPT_UID ? "uid" : "gid", arg);
		if (c == OPT_UID)
			o->uid = (uid_t)v;
		else
			o->gid = (gid_t)v;
		break;
	case OPT_NET:
		if (!strcmp(arg, "none"))
			o->net = NET_NONE;
		else if (!strcmp(arg, "host"))
			o->net = NET_HOST;
		else
			return wsbox_fail(err, 0,
					  "--net `%s`: want none or host", arg);
		break;
	case OPT_POLICY:
		o->policy = arg;
		break;
	case OPT_STRATEGY:
		if (strategy_parse(arg) == -EINVAL)
			return wsbox_fail(err, 0,
					  "--strategy `%s`: not auto, "
					  "overlay, fuse-overlayfs or "
					  "copy",
					  arg);
		o->strategy = arg;
		break;
	case OPT_HOSTNAME:
		if (!*arg || strlen(arg) > 64 ||
		    strspn(arg, "abcdefghijklmnopqrstuvwxyz"
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"0123456789.-") != strlen(arg))
			return wsbox_fail(err, 0,
					  "--hostname `%s`: want 1-64 of "
					  "[A-Za-z0-9.-]",
					  arg);
		o->hostname = arg;
		break;
	default:
		return 0;
	}
	return 1;
}

/* --quota NAME=N: one of the sandbox's per-user-namespace quotas, from 0 up
 * to the host's own limit (ns_limits.c gives the names and the host's). */
static int set_quota(struct exec_opts *o, const char *arg,
		     struct wsbox_error *err)
{
	_cleanup_free_ char *name = xstrdup(arg);
	char *eq = strchr(name, '=');
	if (eq)
		*eq = '\0';
	uint64_t host = 0;
	int q = eq ? ns_limits_quota(name, &host) : -1;
	unsigned long v;
	if (q < 0)
		return wsbox_fail(err, 0,
				  "--quota `%s`: want NAME=N, NAME one of "
				  "inotify-instances, inotify-watches, "
				  "fanotify-groups, fanotify-marks",
				  arg);
	if (!host)
		return wsbox_fail(err, 0,
				  "--quota `%s`: this kernel has no %s quota",
				  arg, name);
	if (parse_uint(eq + 1, ULONG_MAX, &v) < 0 || v > host)
		return wsbox_fail(err, 0,
				  "--quota `%s`: want 0..%" PRIu64
				  " (the host's own limit)",
				  arg, host);
	if (o->quota_set[q])
		return wsbox_fail(err, 0, "--quota %s: given twice", name);
	o->quota_set[q] = true;
	o->quota[q] = v;
	return 0;
}

/* Limits and root mode's id range. */
static int set_limit_option(struct exec_opts *o, int c, const char *arg,
			    struct wsbox_error *err)
{
	unsigned long v;

	switch (c) {
	case OPT_TIMEOUT:
		if (parse_uint(arg, 7 * 24 * 3600, &v) < 0 || !v)
			return wsbox_fail(err, 0,
					  "--timeout `%s`: want seconds "
					  "(1..604800)",
					  arg);
		o->timeout_sec = (unsigned)v;
		break;
	case OPT_MEMORY:
	case OPT_MAX_LAYER:
	case OPT_MAX_LOG: {
		uint64_t *dst = c == OPT_MEMORY	     ? &o->memory
				: c == OPT_MAX_LAYER ? &o->max_layer_size
						     : &o->max_log_size;
		if (parse_size(arg, dst) < 0 || !*dst)
			return wsbox_fail(
			    err, 0, "--%s `%s`: want a size like 512M",
			    c == OPT_MEMORY	 ? "memory"
			    : c == OPT_MAX_LAYER ? "max-layer-size"
						 : "max-log-size",
			    arg);
		break;
	}
	case OPT_QUOTA:
		if (set_quota(o, arg, err) < 0)
			return -EINVAL;
		break;
	case OPT_PIDS:
		if (parse_uint(arg, 4194304, &v) < 0 || !v)
			return wsbox_fail(
			    err, 0, "--pids `%s`: want a positive count", arg);
		o->pids = v;
		break;
	case OPT_CPUS:
		if (parse_cpus(arg, &o->cpu_milli) < 0)
			return wsbox_fail(err, 0,
					  "--cpus `%s`: want a CPU count "
					  "like 2 or 0.5 (0.01..4096)",
					  arg);
		break;
	case OPT_CGROUP_PARENT:
		/* Only the shape here; whether it is a usable cgroup
		 * is the sandbox's check (cgroup.c), also exit 125. */
		if (arg[0] != '/' || strlen(arg) >= PATH_MAX || has_dotdot(arg))
			return wsbox_fail(err, 0,
					  "--cgroup-parent `%s`: want an "
					  "absolute path without `..`",
					  arg);
		o->cgroup_parent = arg;
		break;
	case OPT_IDMAP_BASE:
		/* Root mode only (checked by cmd_exec): the first host
		 * id of the range tasks map to. Never 0: a task must
		 * not be host root. */
		if (parse_uint(arg, 0xfffeffffUL, &v) < 0 || v == 0)
			return wsbox_fail(err, 0,
					  "--idmap-base `%s`: want a host "
					  "id in 1..4294901759",
					  arg);
		o->idmap_base = v;
		break;
	case OPT_TENANT:
		/* Root mode only; the block comes from the range
		 * allocation file (sandbox/idrange_alloc.h). */
		if (name_check("--tenant", arg, err) < 0)
			return -EINVAL;
		o->tenant = arg;
		break;
	default:
		return 0;
	}
	return 1;
}

/* Caching, reporting, the remote, --keep-failed. */
static int set_result_option(struct exec_opts *o, int c, const char *arg,
			     struct wsbox_error *err)
{
	switch (c) {
	case OPT_CACHE_KEY_EXTRA: {
		const char *eq = strchr(arg, '=');
		if (!eq || !valid_env_name(arg, (size_t)(eq - arg)))
			return wsbox_fail(
			    err, 0, "--cache-key-extra `%s`: want K=V", arg);
		if (add_key_extra(&o->cache_key_extra, arg, err) < 0)
			return -EINVAL;
		break;
	}
	case OPT_NO_CACHE:
		o->no_cache = true;
		break;
	case OPT_EVENTS:
		o->events = arg;
		break;
	case OPT_KEEP_FAILED:
		o->keep_failed = true;
		break;
	case OPT_REMOTE:
		if (!*arg)
			return wsbox_fail(err, 0, "--remote: empty");
		o->remote = arg;
		break;
	case OPT_REMOTE_INSECURE:
		o->remote_insecure = true;
		break;
	case OPT_REMOTE_COMPRESSION:
		if (strcmp(arg, "zstd") && strcmp(arg, "gzip"))
			return wsbox_fail(err, 0,
					  "--remote-compression `%s`: "
					  "want zstd or gzip",
					  arg);
		o->remote_compression = arg;
		break;
	default:
		return 0;
	}
	return 1;
}

/* One option: 1 when it is exec's and valid, 0 when it is no option of
 * exec's, a negative errno with err set when its value is refused. */
static int set_option(struct exec_opts *o, int c, const char *arg,
		      struct wsbox_error *err)
{
	int r = set_name_option(o, c, arg, err);
	if (r == 0)
		r = set_view_option(o, c, arg, err);
	if (r == 0)
		r = set_limit_option(o, c, arg, err);
	if (r == 0)
		r = set_result_option(o, c, arg, err);
	return r;
}

/* want_cmd: exec's CMD must follow the options; without it (attempt
 * begin) nothing may. */
static int parse_opts(int argc, char **argv, bool want_cmd, struct exec_opts *o,
		      struct wsbox_error *err)
{
	size_t n_opts = ARRAY_SIZE(exec_options);
	struct option long_opts[ARRAY_SIZE(exec_options) + 1];
	int c;

	for (size_t i = 0; i < n_opts; i++)
		long_opts[i] = (struct option){
		    exec_options[i].name,
		    exec_options[i].arg ? required_argument : no_argument, NULL,
		    exec_options[i].val};
	long_opts[n_opts] = (struct option){NULL, 0, NULL, 0};

	memset(o, 0, sizeof *o);
	o->net = NET_NONE;
	o->hostname = "wsbox";
	o->cwd = "/workspace";
	o->policy = "default";
	o->max_log_size = LOGCAP_DEFAULT_MAX;
	optind = 1;
	opterr = 0;
	/* "+" stops at the first non-option: CMD's own flags are not ours. */
	while ((c = getopt_long(argc, argv, "+:h", long_opts, NULL)) != -1) {
		if (c == 'h' || c == OPT_HELP)
			return 1;
		if (c == ':')
			return wsbox_fail(
			    err, 0,
			    "exec: option `%s` needs a value (see "
			    "`wsbox exec --help`)",
			    argv[optind - 1]);
		int r = set_option(o, c, optarg, err);
		if (r < 0)
			return r;
		if (r == 0)
			return wsbox_fail(err, 0,
					  "exec: unknown option `%s` (see "
					  "`wsbox exec --help`)",
					  argv[optind - 1]);
	}
	if (o->ro && o->save.n)
		return wsbox_fail(err, 0, "--ro and --save exclude each other");
	if (!want_cmd && optind < argc)
		return wsbox_fail(err, 0, "unexpected argument `%s`",
				  argv[optind]);
	if (!want_cmd)
		return 0;
	if (optind >= argc)
		return wsbox_fail(err, 0,
				  "exec: no command given (usage: wsbox exec "
				  "[OPTIONS] -- CMD [ARG...]; see `wsbox exec "
				  "--help`)");
	if (!*argv[optind])
		return wsbox_fail(err, 0, "empty command");
	o->argv = argv + optind;
	o->argc = argc - optind;
	return 0;
}

int exec_opts_parse(int argc, char **argv, struct exec_opts *o,
		    struct wsbox_error *err)
{
	return parse_opts(argc, argv, true, o, err);
}

int exec_opts_parse_workspace(int argc, char **argv, struct exec_opts *o,
			      struct wsbox_error *err)
{
	return parse_opts(argc, argv, false, o, err);
}

void exec_opts_free(struct exec_opts *o)
{
	strv_free(&o->parents);
	strv_free(&o->save);
	strv_free(&o->env);
	strv_free(&o->env_pass);
	strv_free(&o->cache_key_extra);
}

/* Set NAME=VALUE in env (replacing an existing NAME). */
static void env_set(struct strv *env, const char *kv)
{
	size_t klen = strcspn(kv, "=");
	for (size_t i = 0; i < env->n; i++) {
		if (!strncmp(env->v[i], kv, klen) && env->v[i][klen] == '=') {
			free(env->v[i]);
			env->v[i] = xstrdup(kv);
			return;
		}
	}
	strv_push(env, kv);
}

char **exec_build_env(const struct exec_opts *o, char **host_env)
{
	struct strv env = {0};
	const char *term = NULL;
	for (char **e = host_env; e && *e; e++)
		if (!strncmp(*e, "TERM=", 5))
			term = *e + 5;
	env_set(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/"
		      "sbin:/bin");
	/* HOME on the fresh /tmp: dotfiles tools drop there are not captured
	 * into the workspace layer. */
	env_set(&env, "HOME=/tmp");
	_cleanup_free_ char *t = xasprintf("TERM=%s", term ? term : "dumb");
	env_set(&env, t);
	for (size_t i = 0; i < o->env_pass.n; i++) {
		size_t klen = strlen(o->env_pass.v[i]);
		for (char **e = host_env; e && *e; e++)
			if (!strncmp(*e, o->env_pass.v[i], klen) &&
			    (*e)[klen] == '=')
				env_set(&env, *e);
	}
	for (size_t i = 0; i < o->env.n; i++)
		env_set(&env, o->env.v[i]);
	if (!env.v)
		strv_push(&env, "PATH=/bin");
	return env.v;
}

struct limits exec_opts_limits(const struct exec_opts *o)
{
	struct limits l = {.memory_bytes = o->memory,
			   .pids = o->pids,
			   .cpu_milli = o->cpu_milli,
			   .timeout_sec = o->timeout_sec,
			   .cgroup_parent = o->cgroup_parent};
	memcpy(l.quota_set, o->quota_set, sizeof l.quota_set);
	memcpy(l.quota, o->quota, sizeof l.quota);
	return l;
}
