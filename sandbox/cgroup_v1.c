/* cgroup_v1.c: per-sandbox cgroup v1 leaves for --memory, --pids, --cpus
 * (see cgroup_v1.h): one leaf per controller hierarchy, under wsbox's own
 * cgroup there. v1 has no CLONE_INTO_CGROUP, so wsbox's calling thread
 * moves into the leaves before the clone (the sandbox is born inside, no
 * window) and a helper thread moves it back as soon as the sandbox is in:
 * wsbox must not stay where the task's OOM kills and pid limit apply. */
#include "sandbox/cgroup_v1.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* The CFS period, as for v2's cpu.max (cgroup.c). */
#define CPU_PERIOD_US 100000
/* The mover looks for the sandbox in the leaf every millisecond, for at
 * most 30 s (a clone that never comes: wsbox failed before it). */
#define MOVER_POLL_NS 1000000L
#define MOVER_POLLS 30000

struct cgroup_v1_mover {
	pthread_t thread;
	atomic_bool stop;
	pid_t tid;	  /* wsbox's thread in the leaves */
	int leaf_fd;	  /* a leaf to watch (any: the clone joins all) */
	char *home[CG_N]; /* where `tid` goes back to */
};

/* Is `word` one of the comma-separated items of `list`? */
static bool has_item(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ',' || p[-1] == ':') &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ':' ||
		     p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

/* The mount point and mount root of the v1 hierarchy holding controller
 * `name` (mountinfo: "... root mountpoint ... - cgroup src superopts"). */
static bool find_v1_mount(const char *mountinfo, const char *name, char *mnt,
			  size_t mcap, char *root, size_t rcap)
{
	_cleanup_free_ char *buf = xstrdup(mountinfo);
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(line, " - ");
		if (!sep || strncmp(sep + 3, "cgroup ", 7) != 0)
			continue;
		const char *super = strrchr(sep + 3, ' ');
		if (!super || !has_item(super + 1, name))
			continue;
		*sep = '\0';
		char *f[5] = {0};
		char *s2 = NULL;
		char *tok = strtok_r(line, " ", &s2);
		for (int i = 0; tok && i < 5; i++) {
			f[i] = tok;
			tok = strtok_r(NULL, " ", &s2);
		}
		/* Paths with blanks are escaped (\040): not ours to use. */
		if (!f[4] || strchr(f[3], '\\') || strchr(f[4], '\\'))
			continue;
		snprintf(root, rcap, "%s", f[3]);
		snprintf(mnt, mcap, "%s", f[4]);
		return true;
	}
	return false;
}

/* wsbox's cgroup in the hierarchy of `name`: "N:list:/path" of
 * /proc/self/cgroup, list naming the controller. */
static bool own_v1_cgroup(const char *self, const char *name, char *out,
			  size_t cap)
{
	_cleanup_free_ char *buf = xstrdup(self);
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		if (!has_item(c1 + 1, name))
			continue;
		snprintf(out, cap, "%s", c2 + 1);
		return true;
	}
	return false;
}

/* The directory of wsbox's cgroup of controller `name`, or false. */
static bool v1_dir_of(const char *mountinfo, const char *self,
		      const char *name, char *dir, size_t cap)
{
	char mnt[PATH_MAX], root[PATH_MAX], cg[PATH_MAX];
	if (!find_v1_mount(mountinfo, name, mnt, sizeof mnt, root,
			   sizeof root) ||
	    !own_v1_cgroup(self, name, cg, sizeof cg))
		return false;
	/* A mount of a subtree (a cgroup namespace) stands for its root. */
	const char *rel = cg;
	size_t rl = strlen(root);
	if (strcmp(root, "/") != 0 && strncmp(cg, root, rl) == 0 &&
	    (cg[rl] == '/' || cg[rl] == '\0'))
		rel = cg + rl;
	int n = snprintf(dir, cap, "%s%s", mnt, strcmp(rel, "/") ? rel : "");
	return n > 0 && (size_t)n < cap;
}

void cgroup_v1_choose(unsigned need, unsigned want, struct cgroup_choice *c)
{
	struct wsbox_error err;
	_cleanup_free_ char *mountinfo = NULL, *self = NULL;
	const char *sep = c->why[0] ? "; " : "";
	if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", 4 << 20,
			 &mountinfo, NULL, &err) < 0 ||
	    read_file_at(AT_FDCWD, "/proc/self/cgroup", 64 << 10, &self, NULL,
			 &err) < 0) {
		appendf(c->why, sizeof c->why, "%scgroup v1: %s", sep,
			err.msg);
		return;
	}
	unsigned have = 0;
	char dirs[CG_N][PATH_MAX];
	for (int i = 0; i < CG_N; i++) {
		dirs[i][0] = '\0';
		unsigned bit = 1u << i;
		if (!((need | want) & bit))
			continue;
		if (!v1_dir_of(mountinfo, self, cgroup_ctrl_name[i], dirs[i],
			       sizeof dirs[i])) {
			if (need & bit) {
				appendf(c->why, sizeof c->why,
					"%sno cgroup v1 %s hierarchy", sep,
					cgroup_ctrl_name[i]);
				return;
			}
			continue;
		}
		if (access(dirs[i], W_OK | X_OK) < 0) {
			if (need & bit) {
				appendf(c->why, sizeof c->why,
					"%scgroup v1 %s not writable by uid "
					"%lu: %s",
					sep, dirs[i], (unsigned long)geteuid(),
					strerror(errno));
				return;
			}
			dirs[i][0] = '\0';
			continue;
		}
		have |= bit;
	}
	if (!have) {
		appendf(c->why, sizeof c->why,
			"%scgroup v1: none of the controllers", sep);
		return;
	}
	c->usable = true;
	c->v1 = true;
	c->have = have;
	c->parent[0] = '\0';
	for (int i = 0; i < CG_N; i++) {
		memcpy(c->v1_dir[i], dirs[i], sizeof c->v1_dir[i]);
		if (dirs[i][0])
			appendf(c->parent, sizeof c->parent, "%s%s",
				c->parent[0] ? ", " : "", dirs[i]);
	}
	c->why[0] = '\0';
	if (want & ~have) {
		char names[64];
		cgroup_ctrl_names(want & ~have, names, sizeof names);
		appendf(c->why, sizeof c->why, "no cgroup v1 %s hierarchy",
			names);
	}
}

static int write_leaf(struct sandbox_cgroup *cg, int i, const char *file,
		      const char *val, struct wsbox_error *err)
{
	int r = write_file_at(cg->v1_fd[i], file, val, err);
	if (r < 0)
		wsbox_fail(err, -r, "set %s/%s to %s", cg->v1_path[i], file,
			   val);
	return r;
}

static int write_limits(struct sandbox_cgroup *cg, const struct limits *l,
			struct wsbox_error *err)
{
	char val[64];
	int r;
	if (l->memory_bytes && (cg->have & CG_MEMORY)) {
		snprintf(val, sizeof val, "%" PRIu64, l->memory_bytes);
		r = write_leaf(cg, 0, "memory.limit_in_bytes", val, err);
		if (r < 0)
			return r;
		/* memory+swap: the same bound, so swap cannot extend it.
		 * Absent without swap accounting (nothing to bound then).
		 * Kernel memory is charged to the same counter on every
		 * kernel wsbox runs on (memory.kmem.* limits are gone). */
		r = write_file_at(cg->v1_fd[0], "memory.memsw.limit_in_bytes",
				  val, err);
		if (r < 0 && r != -ENOENT)
			return wsbox_fail(err, -r,
					  "set %s/memory.memsw.limit_in_bytes",
					  cg->v1_path[0]);
	}
	if (l->pids && (cg->have & CG_PIDS)) {
		/* wsbox's thread counts until the mover takes it home, a
		 * millisecond or so after the clone: one more for it. */
		snprintf(val, sizeof val, "%" PRIu64, l->pids + 1);
		r = write_leaf(cg, 1, "pids.max", val, err);
		if (r < 0)
			return r;
	}
	if (l->cpu_milli && (cg->have & CG_CPU)) {
		uint64_t quota = (uint64_t)l->cpu_milli * CPU_PERIOD_US / 1000;
		if (quota < 1000)
			quota = 1000;
		snprintf(val, sizeof val, "%d", CPU_PERIOD_US);
		r = write_leaf(cg, 2, "cpu.cfs_period_us", val, err);
		if (r < 0)
			return r;
		snprintf(val, sizeof val, "%" PRIu64, quota);
		r = write_leaf(cg, 2, "cpu.cfs_quota_us", val, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Move thread `tid` alone into dir (v1 `tasks`: per thread). */
static int move_thread(const char *dir, pid_t tid, struct wsbox_error *err)
{
	char id[32];
	snprintf(id, sizeof id, "%d", (int)tid);
	_cleanup_free_ char *tasks = xasprintf("%s/tasks", dir);
	int r = write_file_at(AT_FDCWD, tasks, id, err);
	if (r < 0)
		return wsbox_fail(err, -r, "move wsbox into `%s`", dir);
	return 0;
}

/* Does the leaf hold a task other than `tid`? */
static bool leaf_has_other(int leaf_fd, pid_t tid)
{
	struct wsbox_error err;
	_cleanup_free_ char *s = NULL;
	if (read_file_at(leaf_fd, "tasks", 1 << 20, &s, NULL, &err) < 0)
		return false;
	for (char *p = s; *p;) {
		char *end;
		long t = strtol(p, &end, 10);
		if (end == p)
			break;
		if (t != tid)
			return true;
		p = end + strspn(end, "\n");
	}
	return false;
}

static void mover_go_home(struct cgroup_v1_mover *m)
{
	for (int i = 0; i < CG_N; i++) {
		struct wsbox_error err;
		if (m->home[i])
			(void)move_thread(m->home[i], m->tid, &err);
	}
}

/* Wait for the sandbox to be born in the leaf, then take wsbox home. */
static void *mover_run(void *arg)
{
	struct cgroup_v1_mover *m = arg;
	for (int i = 0; i < MOVER_POLLS && !atomic_load(&m->stop); i++) {
		if (leaf_has_other(m->leaf_fd, m->tid))
			break;
		nanosleep(&(struct timespec){0, MOVER_POLL_NS}, NULL);
	}
	mover_go_home(m);
	return NULL;
}

static void mover_stop(struct sandbox_cgroup *cg)
{
	struct cgroup_v1_mover *m = cg->v1_mover;
	if (!m)
		return;
	atomic_store(&m->stop, true);
	pthread_join(m->thread, NULL);
	mover_go_home(m); /* idempotent; in case the thread gave up early */
	for (int i = 0; i < CG_N; i++)
		free(m->home[i]);
	free(m);
	cg->v1_mover = NULL;
}

/* Start the mover, then move the calling thread into every leaf (in that
 * order: a thread is born in its creator's cgroups, and the mover must not
 * count against --pids or --memory). */
static int enter_leaves(const struct cgroup_choice *c,
			struct sandbox_cgroup *cg, struct wsbox_error *err)
{
	struct cgroup_v1_mover *m = xcalloc(1, sizeof *m);
	m->tid = gettid();
	m->leaf_fd = -1;
	for (int i = 0; i < CG_N; i++) {
		if (!cg->v1_path[i])
			continue;
		m->home[i] = xstrdup(c->v1_dir[i]);
		if (m->leaf_fd < 0)
			m->leaf_fd = cg->v1_fd[i];
	}
	int e = pthread_create(&m->thread, NULL, mover_run, m);
	if (e) {
		for (int i = 0; i < CG_N; i++)
			free(m->home[i]);
		free(m);
		return wsbox_fail(err, e, "start the cgroup v1 mover");
	}
	cg->v1_mover = m;
	for (int i = 0; i < CG_N; i++) {
		if (!cg->v1_path[i])
			continue;
		int r = move_thread(cg->v1_path[i], m->tid, err);
		if (r < 0)
			return r; /* the caller's destroy takes it home */
	}
	return 0;
}

int cgroup_v1_create(const struct cgroup_choice *c, const struct limits *l,
		     struct sandbox_cgroup *cg, struct wsbox_error *err)
{
	cg->fd = -1;
	cg->path = NULL;
	cg->v1 = true;
	cg->have = 0;
	for (int i = 0; i < CG_N; i++) {
		cg->v1_fd[i] = -1;
		cg->v1_path[i] = NULL;
	}
	cg->v1_mover = NULL;
	_cleanup_free_ char *leaf = cgroup_leaf_name();
	for (int i = 0; i < CG_N; i++) {
		if (!(c->have & (1u << i)))
			continue;
		char *path = xasprintf("%s/%s", c->v1_dir[i], leaf);
		if (mkdir(path, 0755) < 0) {
			int r = wsbox_fail(err, errno, "create cgroup `%s`",
					   path);
			free(path);
			cgroup_v1_destroy(cg);
			return r;
		}
		cg->v1_path[i] = path;
		cg->have |= 1u << i;
		cg->v1_fd[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg->v1_fd[i] < 0) {
			int r = wsbox_fail(err, errno, "open cgroup `%s`",
					   path);
			cgroup_v1_destroy(cg);
			return r;
		}
	}
	int r = write_limits(cg, l, err);
	if (r == 0)
		r = enter_leaves(c, cg, err);
	if (r < 0)
		cgroup_v1_destroy(cg);
	return r;
}

void cgroup_v1_collect(const struct sandbox_cgroup *cg,
		       struct sandbox_result *res)
{
	if (!cg->v1)
		return;
	res->limits_via = "cgroup-v1";
	if (cg->have & CG_MEMORY) {
		/* memory.oom_control's oom_kill (Linux >= 4.13) counts the
		 * OOM kills in the leaf. */
		res->oom_killed = cgroup_read_key(cg->v1_fd[0],
						  "memory.oom_control",
						  "oom_kill") > 0;
		struct wsbox_error err;
		_cleanup_free_ char *peak = NULL;
		if (read_file_at(cg->v1_fd[0], "memory.max_usage_in_bytes", 64,
				 &peak, NULL, &err) == 0)
			res->mem_peak_bytes = strtoull(peak, NULL, 10);
	}
	if (cg->have & CG_PIDS)
		res->pids_max_hit =
		    cgroup_read_key(cg->v1_fd[1], "pids.events", "max") > 0;
}

void cgroup_v1_destroy(struct sandbox_cgroup *cg)
{
	if (!cg->v1)
		return;
	/* wsbox back where it came from; if that failed, the rmdir below
	 * fails too and the leaf stays (named wsbox-<pid>-*, for the
	 * operator). */
	mover_stop(cg);
	for (int i = 0; i < CG_N; i++) {
		if (cg->v1_fd[i] >= 0) {
			close(cg->v1_fd[i]);
			cg->v1_fd[i] = -1;
		}
		if (cg->v1_path[i]) {
			cgroup_rmdir(cg->v1_path[i]);
			free(cg->v1_path[i]);
			cg->v1_path[i] = NULL;
		}
	}
	cg->have = 0;
}
