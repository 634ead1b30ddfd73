/* cgroup.c: per-sandbox cgroup v2 leaf for --memory, --pids, --cpus (see
 * cgroup.h), handing over to cgroup_v1.c when v2 does not fit. Parent side
 * only: monitor.c decides and creates before the clone, collects and
 * destroys after the sandbox is gone; doctor calls the decision in
 * probe-only mode. */
#include "sandbox/cgroup.h"
#include "sandbox/cgroup_v1.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/mountinfo.h"

/* CFS period for cpu.max: the kernel default, so --cpus 0.5 means 50 ms of
 * CPU time per 100 ms, spread over any number of CPUs. */
#define CPU_PERIOD_US 100000
/* rmdir of the leaf may race the last exiting task's release. */
#define RMDIR_TRIES 200
#define RMDIR_WAIT_NS 10000000L

static const struct {
	unsigned bit;
	const char *name;
} ctrls[] = {
    {CG_MEMORY, "memory"},
    {CG_PIDS, "pids"},
    {CG_CPU, "cpu"},
};
#define N_CTRLS (sizeof ctrls / sizeof *ctrls)

const char *const cgroup_ctrl_name[CG_N] = {"memory", "pids", "cpu"};

unsigned cgroup_need(const struct limits *l)
{
	return (l->memory_bytes ? CG_MEMORY : 0) | (l->pids ? CG_PIDS : 0);
}

unsigned cgroup_want(const struct limits *l)
{
	return l->cpu_milli ? CG_CPU : 0;
}

void cgroup_ctrl_names(unsigned mask, char *buf, size_t cap)
{
	size_t len = 0;
	if (cap)
		buf[0] = '\0';
	for (size_t i = 0; i < N_CTRLS; i++) {
		if (!(mask & ctrls[i].bit) || len >= cap)
			continue;
		int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "",
				 ctrls[i].name);
		if (n < 0)
			return;
		len += (size_t)n;
	}
}

static bool is_cgroup2(const struct mount_entry *e, const void *ctx)
{
	(void)ctx;
	return !strcmp(e->fstype, "cgroup2");
}

/* The first cgroup2 mount: its mount point and the cgroup path at its root
 * (not "/" inside a cgroup namespace or a bind of a subtree). */
static int find_cgroup2_mount(char *mnt, size_t mcap, char *root, size_t rcap,
			      struct wsbox_error *err)
{
	_cleanup_free_ char *buf = NULL;
	struct mount_entry e;
	int r = mountinfo_find(&buf, is_cgroup2, NULL, &e, err);
	if (r < 0)
		return r;
	if (!r)
		return wsbox_fail(err, ENOENT, "no cgroup2 mount");
	snprintf(root, rcap, "%s", e.root);
	snprintf(mnt, mcap, "%s", e.point);
	return 0;
}

/* This process's v2 cgroup: the "0::/path" line of /proc/self/cgroup. */
static int own_cgroup(char *out, size_t cap, struct wsbox_error *err)
{
	_cleanup_free_ char *buf = NULL;
	int r = read_file_at(AT_FDCWD, "/proc/self/cgroup", 64 << 10, &buf,
			     NULL, err);
	if (r < 0)
		return r;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(out, cap, "%s", line + 3);
			return 0;
		}
	}
	return wsbox_fail(err, ENOENT, "no `0::` line in /proc/self/cgroup");
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

/* Controller mask of a "cpu memory pids" list file; 0 if unreadable. */
static unsigned read_ctrl_mask(const char *dir, const char *name)
{
	struct wsbox_error err;
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	_cleanup_free_ char *s = NULL;
	unsigned mask = 0;
	if (read_file_at(AT_FDCWD, path, 4096, &s, NULL, &err) < 0)
		return 0;
	for (size_t i = 0; i < N_CTRLS; i++)
		if (has_word(s, ctrls[i].name))
			mask |= ctrls[i].bit;
	return mask;
}

/* Does the cgroup hold processes of its own? (Then, unless it is the root,
 * the kernel refuses to enable domain controllers for its children.) */
static bool has_procs(const char *dir)
{
	struct wsbox_error err;
	_cleanup_free_ char *path = xasprintf("%s/cgroup.procs", dir);
	_cleanup_free_ char *s = NULL;
	if (read_file_at(AT_FDCWD, path, 1 << 20, &s, NULL, &err) < 0)
		return true; /* unknown: assume the worst */
	return s[strspn(s, " \n")] != '\0';
}

/* Longest common ancestor of two absolute paths, on component bounds. */
static char *common_ancestor(const char *a, const char *b)
{
	size_t last = 0, i = 0;
	for (; a[i] && a[i] == b[i]; i++)
		if (a[i] == '/')
			last = i;
	if ((a[i] == '\0' || a[i] == '/') && (b[i] == '\0' || b[i] == '/'))
		last = i;
	return last ? xasprintf("%.*s", (int)last, a) : xstrdup("/");
}

/* One candidate parent; on success fills c and returns true, else appends
 * the reason to c->why. */
static bool try_parent(const char *p, const char *mnt, const char *own,
		       unsigned need, unsigned want, bool probe_only,
		       struct cgroup_choice *c)
{
	char names[64];
	const char *sep = c->why[0] ? "; " : "";

	if (access(p, W_OK | X_OK) < 0) {
		appendf(c->why, sizeof c->why,
			"%s%s not writable by uid %lu: %s", sep, p,
			(unsigned long)geteuid(), strerror(errno));
		return false;
	}
	unsigned avail = read_ctrl_mask(p, "cgroup.controllers");
	unsigned enabled = read_ctrl_mask(p, "cgroup.subtree_control");
	if (need & ~avail) {
		bool hybrid = strcmp(mnt, "/sys/fs/cgroup") != 0;
		cgroup_ctrl_names(need & ~avail, names, sizeof names);
		appendf(c->why, sizeof c->why,
			"%s%s lacks the %s controller%s%s", sep, p, names,
			strchr(names, ',') ? "s" : "",
			hybrid ? (strchr(names, ',')
				      ? " (a hybrid host: cgroup v1 owns them)"
				      : " (a hybrid host: cgroup v1 owns it)")
			       : "");
		return false;
	}
	unsigned add = (need | want) & avail & ~enabled;
	if (add) {
		bool is_root = strcmp(p, mnt) == 0;
		_cleanup_free_ char *sc =
		    xasprintf("%s/cgroup.subtree_control", p);
		const char *cant = NULL;
		if (access(sc, W_OK) < 0)
			cant = "its cgroup.subtree_control is not writable";
		else if (!is_root && has_procs(p))
			cant = "it holds processes (no internal processes "
			       "rule)";
		for (size_t i = 0; i < N_CTRLS; i++) {
			if (!(add & ctrls[i].bit))
				continue;
			int e = 0;
			if (cant) {
				e = -1;
			} else if (!probe_only) {
				struct wsbox_error werr;
				_cleanup_free_ char *plus =
				    xasprintf("+%s", ctrls[i].name);
				if (write_file_at(AT_FDCWD, sc, plus, &werr) <
				    0)
					e = werr.errnum ? werr.errnum : EIO;
			}
			if (!e) {
				enabled |= ctrls[i].bit;
				continue;
			}
			if (!(need & ctrls[i].bit))
				continue; /* wanted only: reported below */
			appendf(c->why, sizeof c->why,
				"%scannot enable %s for children of %s: %s",
				sep, ctrls[i].name, p,
				cant ? cant : strerror(e));
			return false;
		}
	}
	unsigned have = (need | want) & enabled;
	if (!need && !have && want) {
		cgroup_ctrl_names(want, names, sizeof names);
		appendf(c->why, sizeof c->why, "%s%s has no %s controller", sep,
			p, names);
		return false;
	}
	/* Moving a process between cgroups (clone3 CLONE_INTO_CGROUP is a
	 * move) needs write access to the common ancestor's cgroup.procs:
	 * the delegation boundary. */
	_cleanup_free_ char *anc = common_ancestor(own, p);
	_cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", anc);
	if (access(procs, W_OK) < 0) {
		appendf(c->why, sizeof c->why,
			"%scannot move processes under %s: %s not writable by "
			"uid %lu",
			sep, p, procs, (unsigned long)geteuid());
		return false;
	}
	c->usable = true;
	c->have = have;
	snprintf(c->parent, sizeof c->parent, "%s", p);
	c->why[0] = '\0';
	if (want & ~have) {
		cgroup_ctrl_names(want & ~have, names, sizeof names);
		appendf(c->why, sizeof c->why, "no %s controller in %s", names,
			p);
	}
	return true;
}

void cgroup_choose(const char *explicit_parent, unsigned need, unsigned want,
		   bool probe_only, struct cgroup_choice *c)
{
	struct wsbox_error err;
	char mnt[PATH_MAX], root[PATH_MAX], cg[PATH_MAX], own[PATH_MAX];

	memset(c, 0, sizeof *c);
	if (find_cgroup2_mount(mnt, sizeof mnt, root, sizeof root, &err) < 0 ||
	    own_cgroup(cg, sizeof cg, &err) < 0) {
		appendf(c->why, sizeof c->why, "%s", err.msg);
		if (!explicit_parent)
			cgroup_v1_choose(need, want, c);
		return;
	}
	/* Inside a cgroup namespace or a bind of a subtree, the mount's root
	 * is a prefix of our path that the mount point stands for. */
	const char *rel = cg;
	size_t rl = strlen(root);
	if (strcmp(root, "/") != 0 && strncmp(cg, root, rl) == 0 &&
	    (cg[rl] == '/' || cg[rl] == '\0'))
		rel = cg + rl;
	int n = snprintf(own, sizeof own, "%s%s", mnt,
			 strcmp(rel, "/") == 0 ? "" : rel);
	if (n < 0 || (size_t)n >= sizeof own) {
		appendf(c->why, sizeof c->why, "cgroup path too long");
		return;
	}
	char have[64];
	cgroup_ctrl_names(read_ctrl_mask(own, "cgroup.controllers"), have,
			  sizeof have);
	appendf(c->facts, sizeof c->facts,
		"wsbox runs in cgroup %s on the cgroup2 mount %s%s; "
		"controllers there: %s",
		cg, mnt,
		strcmp(mnt, "/sys/fs/cgroup") ? " (hybrid v1/v2 host)" : "",
		have[0] ? have : "none of memory, pids, cpu");

	if (explicit_parent) {
		struct statfs sfs;
		char real[PATH_MAX];
		size_t ml = strlen(mnt);
		if (!realpath(explicit_parent, real)) {
			appendf(c->why, sizeof c->why, "%s: %s",
				explicit_parent, strerror(errno));
			return;
		}
		if (statfs(real, &sfs) < 0 ||
		    (unsigned long)sfs.f_type != CGROUP2_SUPER_MAGIC) {
			appendf(c->why, sizeof c->why,
				"%s is not a cgroup v2 directory", real);
			return;
		}
		if (strncmp(real, mnt, ml) != 0 ||
		    (real[ml] != '/' && real[ml] != '\0')) {
			appendf(c->why, sizeof c->why,
				"%s is not under the cgroup2 mount %s", real,
				mnt);
			return;
		}
		try_parent(real, mnt, own, need, want, probe_only, c);
		return;
	}
	if (try_parent(own, mnt, own, need, want, probe_only, c))
		return;
	if (strcmp(own, mnt) != 0) {
		/* A sibling of our own cgroup: where a systemd user service or
		 * scope lives, its slice delegated to the user. */
		_cleanup_free_ char *up = xstrdup(own);
		*strrchr(up, '/') = '\0';
		if (try_parent(up, mnt, own, need, want, probe_only, c))
			return;
	}
	/* v2 has no usable controllers here: a hybrid or v1 host. */
	cgroup_v1_choose(need, want, c);
}

static int write_at(int dirfd, const char *name, const char *val,
		    const char *path, struct wsbox_error *err)
{
	int r = write_file_at(dirfd, name, val, err);
	if (r < 0)
		wsbox_fail(err, -r, "set %s/%s to %s", path, name, val);
	return r;
}

char *cgroup_leaf_name(void)
{
	uint32_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		rnd = (uint32_t)time(NULL) ^ (uint32_t)clock();
	return xasprintf("wsbox-%d-%08" PRIx32, (int)getpid(), rnd);
}

int cgroup_create(const struct cgroup_choice *c, const struct limits *l,
		  struct sandbox_cgroup *cg, struct wsbox_error *err)
{
	char val[64];
	int r;

	if (c->v1)
		return cgroup_v1_create(c, l, cg, err);
	cg->fd = -1;
	cg->path = NULL;
	cg->v1 = false;
	cg->have = c->have;
	_cleanup_free_ char *leaf = cgroup_leaf_name();
	cg->path = xasprintf("%s/%s", c->parent, leaf);
	if (mkdir(cg->path, 0755) < 0) {
		r = wsbox_fail(err, errno, "create cgroup `%s`", cg->path);
		free(cg->path);
		cg->path = NULL;
		return r;
	}
	cg->fd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg->fd < 0) {
		r = wsbox_fail(err, errno, "open cgroup `%s`", cg->path);
		goto fail;
	}
	if (l->memory_bytes && (c->have & CG_MEMORY)) {
		snprintf(val, sizeof val, "%" PRIu64, l->memory_bytes);
		if ((r = write_at(cg->fd, "memory.max", val, cg->path, err)) <
		    0)
			goto fail;
		/* Swap would let a hog exceed the limit by the swap size and
		 * take the host's disk I/O with it. Absent without swap
		 * accounting: then there is nothing to bound. */
		r = write_file_at(cg->fd, "memory.swap.max", "0", err);
		if (r < 0 && r != -ENOENT) {
			wsbox_fail(err, -r, "set %s/memory.swap.max", cg->path);
			goto fail;
		}
	}
	if (l->pids && (c->have & CG_PIDS)) {
		snprintf(val, sizeof val, "%" PRIu64, l->pids);
		if ((r = write_at(cg->fd, "pids.max", val, cg->path, err)) < 0)
			goto fail;
	}
	if (l->cpu_milli && (c->have & CG_CPU)) {
		/* milli-CPUs * period / 1000; at least the kernel's 1 ms. */
		uint64_t quota = (uint64_t)l->cpu_milli * CPU_PERIOD_US / 1000;
		if (quota < 1000)
			quota = 1000;
		snprintf(val, sizeof val, "%" PRIu64 " %d", quota,
			 CPU_PERIOD_US);
		if ((r = write_at(cg->fd, "cpu.max", val, cg->path, err)) < 0)
			goto fail;
	}
	return 0;
fail:
	cgroup_destroy(cg);
	return r;
}

uint64_t cgroup_read_key(int fd, const char *file, const char *key)
{
	struct wsbox_error err;
	_cleanup_free_ char *s = NULL;
	size_t kl = strlen(key);
	if (read_file_at(fd, file, 8192, &s, NULL, &err) < 0)
		return 0;
	for (char *line = s; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (!strncmp(line, key, kl) && line[kl] == ' ')
			return strtoull(line + kl + 1, NULL, 10);
	}
	return 0;
}

void cgroup_collect(const struct sandbox_cgroup *cg, struct sandbox_result *res)
{
	struct wsbox_error err;
	_cleanup_free_ char *peak = NULL;

	if (cg->v1) {
		cgroup_v1_collect(cg, res);
		return;
	}
	if (cg->fd < 0)
		return;
	if (cg->have & CG_MEMORY) {
		/* memory.events counts in this cgroup and below: the task
		 * cannot make sub-cgroups (no cgroupfs inside), so it is
		 * exactly the sandbox. */
		res->oom_killed =
		    cgroup_read_key(cg->fd, "memory.events", "oom_kill") > 0;
		/* memory.peak: Linux >= 5.19; absent is "unknown" (0). */
		if (read_file_at(cg->fd, "memory.peak", 64, &peak, NULL,
				 &err) == 0)
			res->mem_peak_bytes = strtoull(peak, NULL, 10);
	}
	if (cg->have & CG_PIDS)
		res->pids_max_hit =
		    cgroup_read_key(cg->fd, "pids.events", "max") > 0;
}

void cgroup_rmdir(const char *path)
{
	/* Exiting tasks leave the cgroup asynchronously (EBUSY until the last
	 * one is released). */
	for (int i = 0; rmdir(path) < 0 && errno == EBUSY && i < RMDIR_TRIES;
	     i++)
		nanosleep(&(struct timespec){0, RMDIR_WAIT_NS}, NULL);
}

void cgroup_destroy(struct sandbox_cgroup *cg)
{
	struct wsbox_error err;

	if (cg->v1) {
		cgroup_v1_destroy(cg);
		return;
	}
	if (cg->fd >= 0) {
		/* Normally empty already (init's death ends the PID
		 * namespace); cgroup.kill (Linux >= 5.14) makes sure. */
		(void)write_file_at(cg->fd, "cgroup.kill", "1", &err);
		close(cg->fd);
		cg->fd = -1;
	}
	if (cg->path) {
		cgroup_rmdir(cg->path);
		free(cg->path);
		cg->path = NULL;
	}
}
