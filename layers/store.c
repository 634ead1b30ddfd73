/* layers/store.c: store location, layout creation and attempt staging (see
 * store.h for the layout). */
#include "layers/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

#define STORE_VERSION "wsbox-store 1\n"

char *store_default_path(const char *opt)
{
	const char *e;
	if (opt && *opt)
		return xstrdup(opt);
	if ((e = getenv("WSBOX_STORE")) && *e)
		return xstrdup(e);
	if ((e = getenv("XDG_DATA_HOME")) && *e == '/')
		return xasprintf("%s/wsbox", e);
	if (getuid() == 0)
		return xstrdup("/var/lib/wsbox");
	e = getenv("HOME");
	if (!e || *e != '/') {
		struct passwd *pw = getpwuid(getuid());
		e = pw ? pw->pw_dir : "/";
	}
	return xasprintf("%s/.local/share/wsbox", e);
}

static const char *const places[] = {
    [STORE_LAYERS] = "layers",
    [STORE_RUNS] = "runs",
    [STORE_STAGING] = "staging",
    [STORE_CACHE] = "cache",
    [STORE_TASK_CACHE] = "cache/tasks",
    [STORE_BPF_CACHE] = "cache/bpf",
    [STORE_FLATTEN_CACHE] = "cache/flatten",
    [STORE_EMPTY] = "empty",
    [STORE_LOCKS] = "locks",
    [STORE_GC_LOCK] = "locks/gc",
    [STORE_MUTEX_LOCKS] = "locks/mutex",
    [STORE_ROOTFS] = "rootfs",
    [STORE_STRATEGY] = "cache/strategy",
    [STORE_ROOT_MNT] = "mnt",
};

const char *store_rel(enum store_place p)
{
	if ((size_t)p >= (sizeof places / sizeof *places) || !places[p])
		abort(); /* a caller's bug, not an input */
	return places[p];
}

char *store_rel_join(enum store_place p, const char *name, const char *sub)
{
	return sub ? xasprintf("%s/%s/%s", store_rel(p), name, sub)
		   : xasprintf("%s/%s", store_rel(p), name);
}

char *store_path_of(const struct store *s, enum store_place p)
{
	return xasprintf("%s/%s", s->path, store_rel(p));
}

char *store_path_join(const struct store *s, enum store_place p,
		      const char *name, const char *sub)
{
	_cleanup_free_ char *rel = store_rel_join(p, name, sub);
	return xasprintf("%s/%s", s->path, rel);
}

char *store_run_rel(const char *run, const char *sub, const char *name)
{
	if (!sub)
		return store_rel_join(STORE_RUNS, run, NULL);
	_cleanup_free_ char *tail =
	    name ? xasprintf("%s/%s", sub, name) : xstrdup(sub);
	return store_rel_join(STORE_RUNS, run, tail);
}

char *store_attempt_rel(const char *run, const char *task, const char *attempt)
{
	_cleanup_free_ char *name =
	    attempt ? xasprintf("%s/%s", task, attempt) : xstrdup(task);
	return store_run_rel(run, "attempts", name);
}

char *store_run_path(const struct store *s, const char *run, const char *sub)
{
	return store_path_join(s, STORE_RUNS, run, sub);
}

/* Created by store_open; the rest appear on first use. */
static const enum store_place layout[] = {
    STORE_LAYERS,     STORE_RUNS,  STORE_STAGING, STORE_CACHE,	STORE_BPF_CACHE,
    STORE_TASK_CACHE, STORE_EMPTY, STORE_LOCKS,	  STORE_ROOTFS,
};

int store_open(const char *path, bool create, struct store *s,
	       struct wsbox_error *err)
{
	int r;
	memset(s, 0, sizeof *s);
	s->fd = -1;
	_cleanup_free_ char *abs = NULL;
	if (path[0] != '/') {
		char cwd[4096];
		if (!getcwd(cwd, sizeof cwd))
			return wsbox_fail(err, errno, "getcwd");
		abs = xasprintf("%s/%s", cwd, path);
	} else {
		abs = xstrdup(path);
	}
	if (create) {
		r = mkdir_p(abs, 0700, err);
		if (r < 0)
			return r;
	}
	int fd = open(abs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return wsbox_fail(err, errno, "store `%s`", abs);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return wsbox_fail(err, errno, "store `%s`", abs);
	}
	/* A store shared with another user would let them swap layers under
	 * our feet. */
	if (st.st_uid != geteuid()) {
		close(fd);
		return wsbox_fail(err, EPERM, "store `%s` is owned by uid %u",
				  abs, (unsigned)st.st_uid);
	}
	s->fd = fd;
	s->path = steal_pointer(&abs);
	s->owner_uid = st.st_uid;
	s->owner_gid = st.st_gid;
	if (!create)
		return 0;
	for (size_t i = 0; i < sizeof layout / sizeof *layout; i++) {
		const char *rel = store_rel(layout[i]);
		if (mkdirat(fd, rel, 0700) < 0 && errno != EEXIST) {
			r = wsbox_fail(err, errno, "mkdir `%s/%s`", s->path,
				       rel);
			store_close(s);
			return r;
		}
	}
	/* The empty lower and staging must be traversable by the task's id
	 * when that differs from the store owner (root mode). */
	if (fchmodat(fd, store_rel(STORE_EMPTY), 0755, 0) < 0) {
		r = wsbox_fail(err, errno, "chmod `%s/%s`", s->path,
			       store_rel(STORE_EMPTY));
		store_close(s);
		return r;
	}
	if (faccessat(fd, "VERSION", F_OK, 0) < 0) {
		r = atomic_write_at(fd, "VERSION", STORE_VERSION,
				    strlen(STORE_VERSION), 0644, err);
		if (r < 0) {
			store_close(s);
			return r;
		}
	}
	return 0;
}

void store_close(struct store *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	s->path = NULL;
	s->fd = -1;
}

void attempt_free(struct attempt *a)
{
	free(a->id);
	free(a->dir);
	free(a->upper);
	free(a->work);
	free(a->root);
	free(a->copy);
	if (a->dirfd >= 0)
		close(a->dirfd);
	memset(a, 0, sizeof *a);
	a->dirfd = -1;
}

unsigned long long proc_starttime(pid_t pid)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid);
	_cleanup_free_ char *buf = NULL;
	struct wsbox_error e;
	if (read_file_at(AT_FDCWD, path, 4096, &buf, NULL, &e) < 0)
		return 0;
	/* The command name may hold spaces and ')': fields resume after
	 * the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	unsigned long long v = 0;
	/* after ") " come fields 3..; starttime is field 22 */
	int field = 2;
	for (char *tok = p + 1; *tok; tok++) {
		if (*tok == ' ') {
			field++;
			if (field == 22) {
				v = strtoull(tok + 1, NULL, 10);
				break;
			}
		}
	}
	return v;
}

void attempt_new_id(struct attempt *a)
{
	unsigned char rnd[6];
	memset(a, 0, sizeof *a);
	a->dirfd = -1;
	/* getrandom on a booted system does not fail for 6 bytes; fall back
	 * to the clock's nanoseconds rather than abort. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		for (size_t i = 0; i < sizeof rnd; i++)
			rnd[i] = (unsigned char)(ts.tv_nsec >> (8 * (i % 4)));
	a->id =
	    xasprintf("%lld%03ld-%d-%02x%02x%02x%02x%02x%02x",
		      (long long)ts.tv_sec, ts.tv_nsec / 1000000, (int)getpid(),
		      rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
}

/* The owner marker gc reads (layers/gc.c staging_alive). */
static char *owner_text(pid_t pid, unsigned long long start)
{
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	return xasprintf("pid %d\nstart %llu\nhost %s\n", (int)pid, start,
			 host);
}

int attempt_set_owner(struct attempt *a, pid_t pid, unsigned long long start,
		      struct wsbox_error *err)
{
	_cleanup_free_ char *owner = owner_text(pid, start);
	return atomic_write_at(a->dirfd, "owner", owner, strlen(owner), 0600,
			       err);
}

int attempt_open(struct store *s, const char *id, struct attempt *a,
		 struct wsbox_error *err)
{
	memset(a, 0, sizeof *a);
	a->dirfd = -1;
	if (!valid_name(id))
		return wsbox_fail(err, 0, "attempt `%s`: not an attempt id",
				  id);
	_cleanup_free_ char *rel = store_rel_join(STORE_STAGING, id, NULL);
	int fd =
	    openat(s->fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT
			   ? -ENOENT
			   : wsbox_fail(err, errno, "open `%s`", rel);
	a->id = xstrdup(id);
	a->dir = store_path_join(s, STORE_STAGING, id, NULL);
	a->upper = xasprintf("%s/upper", a->dir);
	a->work = xasprintf("%s/work", a->dir);
	a->dirfd = fd;
	return attempt_root_mnt(s, a, err);
}

int attempt_create(struct store *s, struct attempt *a, struct wsbox_error *err)
{
	attempt_new_id(a);
	return attempt_stage(s, a, err);
}

int attempt_stage(struct store *s, struct attempt *a, struct wsbox_error *err)
{
	a->dir = store_path_join(s, STORE_STAGING, a->id, NULL);
	a->upper = xasprintf("%s/upper", a->dir);
	a->work = xasprintf("%s/work", a->dir);
	a->copy = xasprintf("%s/workspace", a->dir);
	if (mkdir(a->dir, 0700) < 0) {
		int r = wsbox_fail(err, errno, "mkdir `%s`", a->dir);
		attempt_free(a);
		return r;
	}
	a->dirfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->dirfd < 0) {
		int r = wsbox_fail(err, errno, "open `%s`", a->dir);
		attempt_free(a);
		return r;
	}
	_cleanup_free_ char *owner =
	    owner_text(getpid(), proc_starttime(getpid()));
	int r = write_new_file_at(a->dirfd, "owner", owner, strlen(owner), 0600,
				  err);
	if (r == 0 && (mkdirat(a->dirfd, "upper", 0755) < 0 ||
		       mkdirat(a->dirfd, "work", 0700) < 0))
		r = wsbox_fail(err, errno, "populate `%s`", a->dir);
	if (r < 0) {
		struct wsbox_error ignored;
		attempt_discard(s, a, &ignored);
	}
	return r;
}

int store_mkdir_rel(const struct store *s, const char *rel,
		    struct wsbox_error *err)
{
	if (mkdirat(s->fd, rel, 0700) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return wsbox_fail(err, errno, "mkdir `%s/%s`", s->path, rel);
	_cleanup_free_ char *dir = xasprintf("%s/%s", s->path, rel);
	return mkdir_p(dir, 0700, err);
}

/* One mount point for every sandbox's root: each mounts its root tmpfs
 * there in its own mount namespace (slave of the host's: nothing goes
 * back), so nothing is made and removed per attempt on the store's disk
 * (README "Performance"). Made on first use, not by store_open: imports
 * leave the store's top as it was. */
int attempt_root_mnt(struct store *s, struct attempt *a,
		     struct wsbox_error *err)
{
	if (mkdirat(s->fd, store_rel(STORE_ROOT_MNT), 0700) < 0 &&
	    errno != EEXIST)
		return wsbox_fail(err, errno, "mkdir `%s/%s`", s->path,
				  store_rel(STORE_ROOT_MNT));
	free(a->root);
	a->root = store_path_of(s, STORE_ROOT_MNT);
	return 0;
}

int attempt_discard(struct store *s, struct attempt *a, struct wsbox_error *err)
{
	int r = 0;
	if (a->id) {
		_cleanup_free_ char *rel =
		    store_rel_join(STORE_STAGING, a->id, NULL);
		r = rm_rf_at(s->fd, rel, err);
	}
	attempt_free(a);
	return r;
}

int attempt_write_uses(struct attempt *a, char *const *digests, size_t n,
		       struct wsbox_error *err)
{
	/* A file less on the store's disk for the common parentless task. */
	if (n == 0)
		return 0;
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += strlen(digests[i]) + 1;
	_cleanup_free_ char *text = xcalloc(len + 1, 1);
	char *p = text;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s\n", digests[i]);
	/* Not durable: after a power cut no attempt lives to need it. */
	return write_new_file_at(a->dirfd, "uses", text, len, 0600, err);
}
