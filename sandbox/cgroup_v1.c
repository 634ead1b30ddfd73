/* cgroup_v1.c: per-sandbox cgroup v1 leaves for --memory, --pids, --cpus
 * (see cgroup_v1.h): one leaf per controller hierarchy, under wsbox's own
 * cgroup there. v1 has no CLONE_INTO_CGROUP, so wsbox moves into the
 * leaves before the clone (the sandbox is born inside, no window) and a
 * mover process takes it back as soon as the sandbox is in: wsbox must not
 * stay where the task's OOM kills and pid limit apply. */
#include "sandbox/cgroup_v1.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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
#include "sandbox/util/mountinfo.h"

/* The CFS period, as for v2's cpu.max (cgroup.c). */
#define CPU_PERIOD_US 100000
/* The mover looks for the sandbox in the leaf every millisecond, for at
 * most 30 s (a clone that never comes: wsbox failed before it). */
#define MOVER_POLL_NS 1000000L
#define MOVER_POLLS 30000

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
 * `name` (a cgroup mount whose super options name it). */
static bool find_v1_mount(const char *mountinfo, const char *name, char *mnt,
			  size_t mcap, char *root, size_t rcap)
{
	_cleanup_free_ char *buf = xstrdup(mountinfo);
	char *cur = buf;
	struct mount_entry e;
	while (mountinfo_next(&cur, &e)) {
		if (strcmp(e.fstype, "cgroup") != 0 ||
		    !has_item(e.super_opts, name))
			continue;
		snprintf(root, rcap, "%s", e.root);
		snprintf(mnt, mcap, "%s", e.point);
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
static bool v1_dir_of(const char *mountinfo, const char *self, const char *name,
		      char *dir, size_t cap)
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
	if (mountinfo_read(&mountinfo, &err) < 0 ||
	    read_file_at(AT_FDCWD, "/proc/self/cgroup", 64 << 10, &self, NULL,
			 &err) < 0) {
		appendf(c->why, sizeof c->why, "%scgroup v1: %s", sep, err.msg);
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
		/* wsbox counts until the mover takes it home, a millisecond
		 * or so after the clone: one more for it, which the mover
		 * takes back then. */
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

/* Move process `pid` into dir's cgroup.procs. */
static int move_process(const char *dir, pid_t pid, struct wsbox_error *err)
{
	char id[32];
	snprintf(id, sizeof id, "%d", (int)pid);
	_cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", dir);
	int r = write_file_at(AT_FDCWD, procs, id, err);
	if (r < 0)
		return wsbox_fail(err, -r, "move wsbox into `%s`", dir);
	return 0;
}

/* Does the leaf's `procs` file list a process other than `pid`? */
static bool leaf_has_other(const char *procs, pid_t pid)
{
	char buf[4096];
	int fd = open(procs, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	long t = 0;
	bool in = false;
	for (ssize_t i = 0; i <= n; i++) {
		if (buf[i] >= '0' && buf[i] <= '9') {
			t = t * 10 + (buf[i] - '0');
			in = true;
		} else if (in) {
			if (t != pid)
				return true;
			t = 0;
			in = false;
		}
	}
	return false;
}

/* The mover: a process forked before wsbox enters the leaves (so it lives
 * at home and counts against nothing), holding none of wsbox's fds. Once
 * the sandbox is born in the leaf it moves wsbox back home, so wsbox is in
 * the leaves for the clone only: the task's OOM kills and pid limit never
 * apply to it. A process, not a thread: the sandbox is cloned with a raw
 * clone3, and a thread existing at that moment would hang the child's
 * setresgid (glibc signals every thread it knows of). */
static _Noreturn void mover_main(pid_t wsbox, const char *watch,
				 char *const *home, const char *pids_dir,
				 uint64_t pids)
{
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != wsbox)
		_exit(0);
	(void)syscall(SYS_close_range, 0U, ~0U, 0U);
	for (int i = 0; i < MOVER_POLLS && !leaf_has_other(watch, wsbox); i++)
		nanosleep(&(struct timespec){0, MOVER_POLL_NS}, NULL);
	for (int i = 0; i < CG_N; i++) {
		struct wsbox_error err;
		if (home[i])
			(void)move_process(home[i], wsbox, &err);
	}
	/* wsbox is out: the task gets exactly --pids from here on. */
	if (pids_dir && pids) {
		struct wsbox_error err;
		char val[32];
		snprintf(val, sizeof val, "%" PRIu64, pids);
		_cleanup_free_ char *f = xasprintf("%s/pids.max", pids_dir);
		(void)write_file_at(AT_FDCWD, f, val, &err);
	}
	_exit(0);
}

/* Back home, and the mover gone. Idempotent. */
static void mover_stop(struct sandbox_cgroup *cg)
{
	if (cg->v1_mover > 0) {
		kill(cg->v1_mover, SIGKILL);
		while (waitpid(cg->v1_mover, NULL, 0) < 0 && errno == EINTR)
			;
		cg->v1_mover = 0;
	}
	for (int i = 0; i < CG_N; i++) {
		struct wsbox_error err;
		if (cg->v1_home[i])
			(void)move_process(cg->v1_home[i], getpid(), &err);
		free(cg->v1_home[i]);
		cg->v1_home[i] = NULL;
	}
}

/* Start the mover, then move wsbox into every leaf (in that order: a
 * child is born in its parent's cgroups). */
static int enter_leaves(const struct cgroup_choice *c, const struct limits *l,
			struct sandbox_cgroup *cg, struct wsbox_error *err)
{
	_cleanup_free_ char *watch = NULL;
	for (int i = 0; i < CG_N; i++) {
		if (!cg->v1_path[i])
			continue;
		cg->v1_home[i] = xstrdup(c->v1_dir[i]);
		if (!watch)
			watch = xasprintf("%s/cgroup.procs", cg->v1_path[i]);
	}
	pid_t self = getpid();
	pid_t m = fork();
	if (m < 0)
		return wsbox_fail(err, errno, "fork the cgroup v1 mover");
	if (m == 0)
		mover_main(self, watch, cg->v1_home, cg->v1_path[1], l->pids);
	cg->v1_mover = m;
	for (int i = 0; i < CG_N; i++) {
		if (!cg->v1_path[i])
			continue;
		int r = move_process(cg->v1_path[i], self, err);
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
		cg->v1_path[i] = cg->v1_home[i] = NULL;
	}
	cg->v1_mover = 0;
	_cleanup_free_ char *leaf = cgroup_leaf_name();
	for (int i = 0; i < CG_N; i++) {
		if (!(c->have & (1u << i)))
			continue;
		char *path = xasprintf("%s/%s", c->v1_dir[i], leaf);
		if (mkdir(path, 0755) < 0) {
			int r =
			    wsbox_fail(err, errno, "create cgroup `%s`", path);
			free(path);
			cgroup_v1_destroy(cg);
			return r;
		}
		cg->v1_path[i] = path;
		cg->have |= 1u << i;
		cg->v1_fd[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cg->v1_fd[i] < 0) {
			int r =
			    wsbox_fail(err, errno, "open cgroup `%s`", path);
			cgroup_v1_destroy(cg);
			return r;
		}
	}
	int r = write_limits(cg, l, err);
	if (r == 0)
		r = enter_leaves(c, l, cg, err);
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
		res->oom_killed =
		    cgroup_read_key(cg->v1_fd[0], "memory.oom_control",
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
