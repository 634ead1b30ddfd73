/* `wsbox doctor`: probe the kernel and host for what the sandbox needs and
 * print one ok/warn/FAIL line per probe, then the workspace strategy and the
 * limits mechanism that will be used. Exit 0 when wsbox can work here, 1 when
 * a required probe failed (FAIL), 125 on a usage error.
 *
 * Owns nothing persistent: every probe that changes namespaces runs in a
 * forked child (the doctor process itself is never altered), and the scratch
 * trees it creates under $TMPDIR (or /tmp) are removed before it returns. */
#include "sandbox/cli/commands.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/cgroup.h"
#include "sandbox/sandbox.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/error.h"
#include "sandbox/util/fs.h"

/* A probe child that neither answers nor dies within this is killed by
 * SIGALRM and reported as hung (e.g. a stuck FUSE or NFS temp dir). */
#define PROBE_TIMEOUT_SEC 20
/* Network namespace creation slower than this is worth a warning: every
 * task pays it (old kernels took tens of ms in synchronize_net). */
#define NETNS_SLOW_MS 50.0
/* mount(2) passes overlay options in one page. */
#define MOUNT_OPTS_MAX 4096

enum level { LVL_OK, LVL_WARN, LVL_FAIL };

/* What the probes learned, for the summary lines and the exit status. */
struct doctor {
	bool failed; /* a required probe FAILed: exit 1 */
	bool is_root;
	bool overlay_api;     /* lowerdir+ mount API works in a userns */
	bool overlay_classic; /* mount(2) overlay works in a userns */
	char api_why[WSBOX_ERROR_MAX];
	char classic_why[WSBOX_ERROR_MAX];
	bool fuse_found;
	char fuse_path[PATH_MAX];
	bool cgroup_usable;
	char cgroup_path[PATH_MAX];
	char cgroup_why[PATH_MAX + 512];
};

/* Print one probe line. Details may carry kernel log text or paths, so
 * control characters are replaced to keep the one-line-per-probe format. */
static void report(struct doctor *d, enum level lvl, const char *probe,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void report(struct doctor *d, enum level lvl, const char *probe,
		   const char *fmt, ...)
{
	static const char *const tag[] = {"ok  ", "warn", "FAIL"};
	char detail[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	for (char *p = detail; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	printf("%s %s: %s\n", tag[lvl], probe, detail);
	fflush(stdout);
	if (lvl == LVL_FAIL)
		d->failed = true;
}

/* ---- probe children ---------------------------------------------------- */

/* What a probe child sends back over its pipe: one write, well below
 * PIPE_BUF, so the parent gets all of it or (child died) nothing. */
struct child_reply {
	int rc;			/* 0 or -errno */
	struct wsbox_error err; /* why, when rc < 0 */
	char info[512];		/* free-form detail on success */
	uint64_t bits;		/* probe-specific flags */
	double value;		/* probe-specific measurement */
};
_Static_assert(sizeof(struct child_reply) <= PIPE_BUF,
	       "reply must be written atomically");

typedef int (*probe_fn)(void *arg, struct child_reply *rep);

/* Run fn in a forked child and collect its reply. The child may unshare
 * anything; it ends with _exit so no stdio buffer or atexit handler of the
 * doctor runs twice. Returns the child's rc (or -EIO if it died silently,
 * with the reason in rep->err). */
static int run_probe_child(probe_fn fn, void *arg, struct child_reply *rep)
{
	int p[2];

	memset(rep, 0, sizeof *rep);
	if (pipe2(p, O_CLOEXEC) < 0)
		return rep->rc = wsbox_fail(&rep->err, errno, "pipe2");
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return rep->rc = wsbox_fail(&rep->err, e, "fork");
	}
	if (pid == 0) {
		struct child_reply out;
		close(p[0]);
		memset(&out, 0, sizeof out);
		/* SIG_IGN may be inherited across our exec; the alarm must
		 * kill a hung probe. */
		signal(SIGALRM, SIG_DFL);
		alarm(PROBE_TIMEOUT_SEC);
		out.rc = fn(arg, &out);
		(void)write_all(p[1], &out, sizeof out);
		_exit(0);
	}
	close(p[1]);
	ssize_t n = read_all(p[0], rep, sizeof *rep);
	int read_errno = n < 0 ? (int)-n : 0;
	close(p[0]);

	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = 0;
			break;
		}
	}
	if (n == (ssize_t)sizeof *rep)
		return rep->rc;
	memset(rep, 0, sizeof *rep);
	if (read_errno)
		wsbox_fail(&rep->err, read_errno, "read probe reply");
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		wsbox_fail(&rep->err, 0, "probe hung for %d s and was killed",
			   PROBE_TIMEOUT_SEC);
	else if (WIFSIGNALED(status))
		wsbox_fail(&rep->err, 0, "probe process killed by signal %d",
			   WTERMSIG(status));
	else
		wsbox_fail(&rep->err, 0, "probe process exited without reply");
	return rep->rc = -EIO;
}

/* Child side: become uid/gid 0 in a fresh user namespace, mapped to the
 * caller's own ids only (the map an unprivileged user may write itself). */
static int enter_userns(struct wsbox_error *err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	int r;

	if (unshare(CLONE_NEWUSER) < 0)
		return wsbox_fail(err, errno, "unshare(CLONE_NEWUSER)");
	snprintf(map, sizeof map, "0 %lu 1\n", (unsigned long)uid);
	r = write_file_at(AT_FDCWD, "/proc/self/uid_map", map, err);
	if (r < 0)
		return r;
	/* Absent before Linux 3.19, where gid_map needs no setgroups deny. */
	if (access("/proc/self/setgroups", F_OK) == 0) {
		r = write_file_at(AT_FDCWD, "/proc/self/setgroups", "deny",
				  err);
		if (r < 0)
			return r;
	}
	snprintf(map, sizeof map, "0 %lu 1\n", (unsigned long)gid);
	r = write_file_at(AT_FDCWD, "/proc/self/gid_map", map, err);
	if (r < 0)
		return r;
	if (getuid() != 0 || getgid() != 0)
		return wsbox_fail(err, 0, "ids inside are %lu:%lu, not 0:0",
				  (unsigned long)getuid(),
				  (unsigned long)getgid());
	return 0;
}

/* ---- user namespaces --------------------------------------------------- */

/* Read an integer sysctl. Returns 0, or -errno (-ENOENT when the knob does
 * not exist on this kernel/distribution). */
static int read_sysctl(const char *path, long *out)
{
	struct wsbox_error err;
	_cleanup_free_ char *buf = NULL;
	int r = read_file_at(AT_FDCWD, path, 64, &buf, NULL, &err);
	if (r < 0)
		return r;
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (errno || end == buf)
		return -EINVAL;
	*out = v;
	return 0;
}

static int child_userns(void *arg, struct child_reply *rep)
{
	(void)arg;
	return enter_userns(&rep->err);
}

static void probe_userns(struct doctor *d)
{
	static const char *const restrict_knob =
	    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";
	long max = -1, clone_ok = -1, aa = -1;
	char facts[256] = "";
	char fix[256] = "";

	if (read_sysctl("/proc/sys/user/max_user_namespaces", &max) == 0) {
		appendf(facts, sizeof facts, "max_user_namespaces=%ld", max);
		if (max == 0)
			appendf(fix, sizeof fix,
				"; fix: sudo sysctl user.max_user_namespaces="
				"15000");
	}
	if (read_sysctl("/proc/sys/kernel/unprivileged_userns_clone",
			&clone_ok) == 0) {
		appendf(facts, sizeof facts,
			", kernel.unprivileged_userns_clone=%ld", clone_ok);
		if (clone_ok == 0 && !d->is_root)
			appendf(fix, sizeof fix,
				"; fix: sudo sysctl "
				"kernel.unprivileged_userns_clone=1");
	}
	if (read_sysctl(restrict_knob, &aa) == 0) {
		appendf(facts, sizeof facts,
			", kernel.apparmor_restrict_unprivileged_userns=%ld",
			aa);
		if (aa == 1)
			appendf(fix, sizeof fix,
				"; fix: sudo sysctl "
				"kernel.apparmor_restrict_unprivileged_userns="
				"0, or an AppArmor profile for wsbox with "
				"`userns,`");
	}

	struct child_reply rep;
	int r = run_probe_child(child_userns, NULL, &rep);
	if (r < 0) {
		report(d, LVL_FAIL, "user namespaces", "%s (%s)%s", rep.err.msg,
		       facts, fix);
		return;
	}
	/* Under Ubuntu's restriction unshare still succeeds for unprivileged
	 * users but the namespace gets no capabilities, so mounts fail later:
	 * the sysctl, not the unshare, is the reliable signal. Real root is
	 * exempt. */
	if (aa == 1 && !d->is_root) {
		report(d, LVL_FAIL, "user namespaces",
		       "AppArmor restricts unprivileged user namespaces "
		       "(%s)%s",
		       facts, fix);
		return;
	}
	char note[256] = "";
	if (aa == 1)
		appendf(note, sizeof note,
			"; unprivileged users are restricted by AppArmor%s",
			fix);
	if (d->is_root) {
		unsigned long u = ns_user_root_host_id("/etc/subuid");
		unsigned long g = ns_user_root_host_id("/etc/subgid");
		appendf(note, sizeof note,
			"; as root, tasks run mapped to unprivileged host "
			"uid %lu gid %lu (%s)",
			u, g,
			u == 100000 && g == 100000
			    ? "default; no range for root in "
			      "/etc/subuid, /etc/subgid"
			    : "first id of root's /etc/subuid, "
			      "/etc/subgid range");
	}
	report(d, LVL_OK, "user namespaces",
	       "unshare(CLONE_NEWUSER) with a single-id uid/gid map works "
	       "(%s)%s",
	       facts, note);
}

/* ---- namespaces inside the user namespace ----------------------------- */

static const struct {
	int flag;
	const char *name;
} ns_kinds[] = {
    {CLONE_NEWNS, "mount"}, {CLONE_NEWPID, "pid"}, {CLONE_NEWIPC, "ipc"},
    {CLONE_NEWUTS, "uts"},  {CLONE_NEWNET, "net"}, {CLONE_NEWCGROUP, "cgroup"},
};
#define N_NS_KINDS (sizeof ns_kinds / sizeof *ns_kinds)

/* bits: one per ns_kinds entry that could NOT be created. */
static int child_namespaces(void *arg, struct child_reply *rep)
{
	(void)arg;
	int r = enter_userns(&rep->err);
	if (r < 0)
		return r;
	int all = 0;
	for (size_t i = 0; i < N_NS_KINDS; i++)
		all |= ns_kinds[i].flag;
	if (unshare(all) == 0)
		return 0;
	/* Find the culprit(s): try each kind on its own. */
	int first = errno;
	for (size_t i = 0; i < N_NS_KINDS; i++) {
		if (unshare(ns_kinds[i].flag) < 0) {
			rep->bits |= UINT64_C(1) << i;
			appendf(rep->info, sizeof rep->info, "%s%s: %s",
				rep->info[0] ? ", " : "", ns_kinds[i].name,
				strerror(errno));
		}
	}
	return wsbox_fail(&rep->err, first, "unshare(all namespaces)");
}

static void probe_namespaces(struct doctor *d)
{
	struct child_reply rep;
	int r = run_probe_child(child_namespaces, NULL, &rep);
	if (r == 0) {
		report(d, LVL_OK, "namespaces",
		       "mount, pid, ipc, uts, net, cgroup created in one "
		       "unshare inside the user namespace");
		return;
	}
	if (rep.bits == 0) {
		report(d, LVL_FAIL, "namespaces", "%s", rep.err.msg);
		return;
	}
	/* The cgroup namespace is optional (SPEC: "where available"). */
	uint64_t cgroup_bit = UINT64_C(1) << (N_NS_KINDS - 1);
	report(d, rep.bits == cgroup_bit ? LVL_WARN : LVL_FAIL, "namespaces",
	       "cannot create: %s%s", rep.info,
	       rep.bits == cgroup_bit ? " (tasks run without a cgroup "
					"namespace)"
				      : "");
}

/* ---- overlay in a user namespace -------------------------------------- */

/* A scratch tree: lower1/{a,same=1} lower2/{b,same=2} upper work merged. */
struct ovl_tree {
	char *root;
	char *lower1, *lower2, *upper, *work, *merged;
};

static int write_new_file(const char *path, const char *content,
			  struct wsbox_error *err)
{
	_cleanup_close_ int fd = open(
	    path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return wsbox_fail(err, errno, "create `%s`", path);
	int r = write_all(fd, content, strlen(content));
	if (r < 0)
		return wsbox_fail(err, -r, "write `%s`", path);
	return 0;
}

static void ovl_tree_free(struct ovl_tree *t)
{
	if (t->root) {
		struct wsbox_error err;
		/* overlayfs creates work/work (and work/index) with mode 000;
		 * as non-root we could not even open them to empty them. */
		_cleanup_free_ char *ww = xasprintf("%s/work", t->work);
		_cleanup_free_ char *wi = xasprintf("%s/index", t->work);
		(void)chmod(ww, 0700);
		(void)chmod(wi, 0700);
		(void)rm_rf_at(AT_FDCWD, t->root, &err);
	}
	free(t->root);
	free(t->lower1);
	free(t->lower2);
	free(t->upper);
	free(t->work);
	free(t->merged);
	memset(t, 0, sizeof *t);
}

static int ovl_tree_make(struct ovl_tree *t, struct wsbox_error *err)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	memset(t, 0, sizeof *t);
	char *tmpl = xasprintf("%s/wsbox-doctor.XXXXXX", base);
	if (!mkdtemp(tmpl)) {
		int e = errno;
		free(tmpl);
		return wsbox_fail(err, e, "mkdtemp in `%s`", base);
	}
	t->root = tmpl;
	t->lower1 = xasprintf("%s/lower1", t->root);
	t->lower2 = xasprintf("%s/lower2", t->root);
	t->upper = xasprintf("%s/upper", t->root);
	t->work = xasprintf("%s/work", t->root);
	t->merged = xasprintf("%s/merged", t->root);
	const char *dirs[] = {t->lower1, t->lower2, t->upper, t->work,
			      t->merged};
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
		if (mkdir(dirs[i], 0755) < 0)
			return wsbox_fail(err, errno, "mkdir `%s`", dirs[i]);
	_cleanup_free_ char *a = xasprintf("%s/a", t->lower1);
	_cleanup_free_ char *s1 = xasprintf("%s/same", t->lower1);
	_cleanup_free_ char *b = xasprintf("%s/b", t->lower2);
	_cleanup_free_ char *s2 = xasprintf("%s/same", t->lower2);
	int r;
	if ((r = write_new_file(a, "a", err)) < 0 ||
	    (r = write_new_file(s1, "1", err)) < 0 ||
	    (r = write_new_file(b, "b", err)) < 0 ||
	    (r = write_new_file(s2, "2", err)) < 0)
		return r;
	return 0;
}

/* Child side, after the mount: both lowers visible with lower1 on top, and
 * a write through the merged dir lands in upper (not in a lower). */
static int ovl_verify(const struct ovl_tree *t, struct wsbox_error *err)
{
	_cleanup_close_ int m =
	    open(t->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m < 0)
		return wsbox_fail(err, errno, "open merged dir");
	if (faccessat(m, "a", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return wsbox_fail(err, errno, "file of lower 1 not visible");
	if (faccessat(m, "b", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return wsbox_fail(err, errno, "file of lower 2 not visible");

	char buf[8] = "";
	_cleanup_close_ int s =
	    openat(m, "same", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s < 0)
		return wsbox_fail(err, errno, "open merged `same`");
	ssize_t n = read_all(s, buf, sizeof buf - 1);
	if (n < 0)
		return wsbox_fail(err, (int)-n, "read merged `same`");
	buf[n] = '\0';
	if (strcmp(buf, "1") != 0)
		return wsbox_fail(err, 0,
				  "wrong layer order: `same` reads \"%s\", "
				  "expected the first lower's \"1\"",
				  buf);

	_cleanup_close_ int c =
	    openat(m, "c", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (c < 0)
		return wsbox_fail(err, errno, "write through overlay");
	int r = write_all(c, "c", 1);
	if (r < 0)
		return wsbox_fail(err, -r, "write through overlay");
	_cleanup_free_ char *up = xasprintf("%s/c", t->upper);
	_cleanup_free_ char *low = xasprintf("%s/c", t->lower1);
	struct stat st;
	if (stat(up, &st) < 0)
		return wsbox_fail(err, errno, "written file not in upper dir");
	if (stat(low, &st) == 0)
		return wsbox_fail(err, 0, "written file landed in a lower");
	return 0;
}

/* Child side: user + mount namespace, with no propagation back to the host
 * even if the caller's root mount is shared. */
static int enter_userns_mountns(struct wsbox_error *err)
{
	int r = enter_userns(err);
	if (r < 0)
		return r;
	if (unshare(CLONE_NEWNS) < 0)
		return wsbox_fail(err, errno, "unshare(CLONE_NEWNS)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return wsbox_fail(err, errno, "make / private");
	return 0;
}

/* Append the messages the kernel logged on an fs_context (one per read;
 * ENODATA when drained), e.g. "e overlay: ...". */
static void append_fs_log(int fsfd, struct wsbox_error *err)
{
	char line[256];
	for (int i = 0; i < 4; i++) {
		ssize_t n = read(fsfd, line, sizeof line - 1);
		if (n <= 0)
			break;
		line[n] = '\0';
		line[strcspn(line, "\n")] = '\0';
		wsbox_error_prefix(err, "[%s]", line);
	}
}

/* The options a portable workspace wants on top of userxattr (needed in a
 * user namespace): no redirects, metacopy, index or xino, so layers carry no
 * file handles or redirect xattrs. With userxattr the kernel insists on
 * redirect_dir=nofollow: "off" means "follow" on kernels built with
 * CONFIG_OVERLAY_FS_REDIRECT_ALWAYS_FOLLOW and is then rejected. */
static const char *const ovl_opts[][2] = {
    {"redirect_dir", "nofollow"},
    {"metacopy", "off"},
    {"index", "off"},
    {"xino", "off"},
    {"redirect_dir", "off"}, /* informational, see above */
};
#define N_OVL_OPTS (sizeof ovl_opts / sizeof *ovl_opts)
#define N_OVL_WANTED (N_OVL_OPTS - 1)
#define OVL_ALL_REJECTED ((UINT64_C(1) << N_OVL_OPTS) - 1)

struct ovl_arg {
	const struct ovl_tree *t;
	uint64_t rejected; /* ovl_opts entries not to use */
};

/* Can a (read-only, two-lower) overlay superblock be created with
 * userxattr plus key=val? The classic "lowerdir" key works through fsconfig
 * on kernels before and after lowerdir+, so this does not depend on it. */
static int ovl_try_option(const struct ovl_tree *t, const char *key,
			  const char *val)
{
	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	_cleanup_free_ char *lower = xasprintf("%s:%s", t->lower1, t->lower2);
	if (fs < 0)
		return -errno;
	if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir", lower, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, key, val, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* bits: one per rejected ovl_opts entry. */
static int child_overlay_options(void *arg, struct child_reply *rep)
{
	const struct ovl_arg *oa = arg;
	int r = enter_userns_mountns(&rep->err);
	if (r < 0)
		return r;
	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return wsbox_fail(&rep->err, errno, "fsopen(\"overlay\")");
	for (size_t i = 0; i < N_OVL_OPTS; i++)
		if (ovl_try_option(oa->t, ovl_opts[i][0], ovl_opts[i][1]) < 0)
			rep->bits |= UINT64_C(1) << i;
	return 0;
}

static int child_overlay_api(void *arg, struct child_reply *rep)
{
	const struct ovl_arg *oa = arg;
	const struct ovl_tree *t = oa->t;
	struct wsbox_error *err = &rep->err;
	int r = enter_userns_mountns(err);
	if (r < 0)
		return r;

	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return wsbox_fail(err, errno, "fsopen(\"overlay\")");
	if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", t->lower1, 0) < 0) {
		int e = errno;
		wsbox_fail(err, e, "fsconfig lowerdir+");
		append_fs_log(fs, err);
		if (e == EINVAL)
			wsbox_error_prefix(err, "needs Linux >= 6.8");
		return -e;
	}
	const char *kv[][2] = {{"lowerdir+", t->lower2},
			       {"upperdir", t->upper},
			       {"workdir", t->work}};
	for (size_t i = 0; i < sizeof kv / sizeof *kv; i++) {
		if (fsconfig(fs, FSCONFIG_SET_STRING, kv[i][0], kv[i][1], 0) <
		    0) {
			r = wsbox_fail(err, errno, "fsconfig %s", kv[i][0]);
			append_fs_log(fs, err);
			return r;
		}
	}
	if (fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0) {
		r = wsbox_fail(err, errno, "fsconfig userxattr");
		append_fs_log(fs, err);
		return r;
	}
	for (size_t i = 0; i < N_OVL_WANTED; i++) {
		if (oa->rejected & (UINT64_C(1) << i))
			continue;
		if (fsconfig(fs, FSCONFIG_SET_STRING, ovl_opts[i][0],
			     ovl_opts[i][1], 0) < 0) {
			r = wsbox_fail(err, errno, "fsconfig %s=%s",
				       ovl_opts[i][0], ovl_opts[i][1]);
			append_fs_log(fs, err);
			return r;
		}
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		r = wsbox_fail(err, errno, "fsconfig CMD_CREATE");
		append_fs_log(fs, err);
		return r;
	}
	_cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		return wsbox_fail(err, errno, "fsmount");
	if (move_mount(mnt, "", AT_FDCWD, t->merged, MOVE_MOUNT_F_EMPTY_PATH) <
	    0)
		return wsbox_fail(err, errno, "move_mount");
	return ovl_verify(t, err);
}

static int child_overlay_classic(void *arg, struct child_reply *rep)
{
	const struct ovl_arg *oa = arg;
	const struct ovl_tree *t = oa->t;
	struct wsbox_error *err = &rep->err;
	int r = enter_userns_mountns(err);
	if (r < 0)
		return r;

	char opts[MOUNT_OPTS_MAX] = "";
	appendf(opts, sizeof opts,
		"lowerdir=%s:%s,upperdir=%s,workdir=%s,userxattr", t->lower1,
		t->lower2, t->upper, t->work);
	for (size_t i = 0; i < N_OVL_WANTED; i++)
		if (!(oa->rejected & (UINT64_C(1) << i)))
			appendf(opts, sizeof opts, ",%s=%s", ovl_opts[i][0],
				ovl_opts[i][1]);
	if (strlen(opts) + 1 >= sizeof opts)
		return wsbox_fail(err, E2BIG, "overlay option string");
	if (mount("overlay", t->merged, "overlay", 0, opts) < 0)
		return wsbox_fail(err, errno, "mount(2) overlay");
	return ovl_verify(t, err);
}

/* Run one overlay child on a fresh scratch tree (a used upper/work cannot
 * be reused), removed afterwards. */
static int overlay_run(probe_fn fn, uint64_t rejected, struct child_reply *rep)
{
	struct ovl_tree t;
	struct ovl_arg oa = {.t = &t, .rejected = rejected};
	int r = ovl_tree_make(&t, &rep->err);
	if (r == 0)
		r = run_probe_child(fn, &oa, rep);
	else
		rep->rc = r;
	ovl_tree_free(&t);
	return r;
}

/* Look for an executable `name` in $PATH (no exec: informational only). */
static bool find_in_path(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		int n = snprintf(out, cap, "%.*s/%s", (int)(len ? len : 1),
				 len ? path : ".", name);
		struct stat st;
		if (n > 0 && (size_t)n < cap && stat(out, &st) == 0 &&
		    S_ISREG(st.st_mode) && access(out, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	out[0] = '\0';
	return false;
}

static void probe_overlay(struct doctor *d)
{
	struct child_reply rep;

	/* Which portability options does this kernel take with userxattr? */
	uint64_t rejected = OVL_ALL_REJECTED;
	if (overlay_run(child_overlay_options, 0, &rep) == 0)
		rejected = rep.bits;
	char ok_opts[256] = "", bad_opts[256] = "";
	for (size_t i = 0; i < N_OVL_WANTED; i++)
		appendf(rejected & (UINT64_C(1) << i) ? bad_opts : ok_opts, 256,
			" %s=%s", ovl_opts[i][0], ovl_opts[i][1]);
	bool off_rejected = rejected & (UINT64_C(1) << (N_OVL_OPTS - 1));

	d->overlay_api = overlay_run(child_overlay_api, rejected, &rep) == 0;
	snprintf(d->api_why, sizeof d->api_why, "%s", rep.err.msg);
	d->overlay_classic =
	    overlay_run(child_overlay_classic, rejected, &rep) == 0;
	snprintf(d->classic_why, sizeof d->classic_why, "%s", rep.err.msg);
	d->fuse_found =
	    find_in_path("fuse-overlayfs", d->fuse_path, sizeof d->fuse_path);

	if (d->overlay_api || d->overlay_classic)
		report(d, bad_opts[0] ? LVL_WARN : LVL_OK, "overlay in userns",
		       "two lowers visible in order, writes land in upper; "
		       "accepted with userxattr:%s%s%s%s",
		       ok_opts[0] ? ok_opts : " (none)",
		       bad_opts[0] ? "; rejected (layers less portable):" : "",
		       bad_opts,
		       off_rejected ? "; redirect_dir=off is rejected with "
				      "userxattr here (means follow), use "
				      "nofollow"
				    : "");
	else
		report(d, d->fuse_found ? LVL_WARN : LVL_FAIL,
		       "overlay in userns",
		       "kernel overlayfs unusable in a user namespace: %s%s",
		       d->classic_why,
		       d->fuse_found ? "; falling back to fuse-overlayfs" : "");

	if (d->overlay_api)
		report(d, LVL_OK, "lowerdir+ mount API",
		       "fsopen/fsconfig(lowerdir+ x2)/fsmount/move_mount work; "
		       "layer count not bounded by the mount(2) option page");
	else
		report(d, LVL_WARN, "lowerdir+ mount API", "%s", d->api_why);

	if (d->overlay_classic)
		report(d, LVL_OK, "mount(2) overlay",
		       "classic lowerdir=a:b mount works (fallback; option "
		       "string limited to %d bytes, so few layers)",
		       MOUNT_OPTS_MAX);
	else
		report(d, LVL_WARN, "mount(2) overlay", "%s", d->classic_why);
}

static void probe_fuse(struct doctor *d)
{
	bool dev = access("/dev/fuse", R_OK | W_OK) == 0;
	if (d->fuse_found)
		report(d, dev ? LVL_OK : LVL_WARN, "fuse-overlayfs",
		       "%s%s (informational)", d->fuse_path,
		       dev ? "" : "; /dev/fuse not accessible");
	else
		report(d, LVL_WARN, "fuse-overlayfs",
		       "not found in PATH (informational; only a fallback when "
		       "kernel overlay is unusable in a user namespace)");
}

/* ---- idmapped mounts (root mode) -------------------------------------- */

/* Child side (root only): clone a detached copy of `dir` and idmap it to a
 * fresh user namespace, as root mode would. The namespace comes from a
 * helper born in it (clone(CLONE_NEWUSER) like fork, no race) whose maps we
 * write from outside. */
static int child_idmap(void *arg, struct child_reply *rep)
{
	const char *dir = arg;
	struct wsbox_error *err = &rep->err;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return wsbox_fail(err, errno, "pipe2");
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL,
				   NULL, NULL, 0);
	if (pid < 0)
		return wsbox_fail(err, errno, "clone(CLONE_NEWUSER)");
	if (pid == 0) {
		char c;
		close(p[1]);
		/* Hold the namespace until the parent closes the pipe. */
		(void)!read(p[0], &c, 1);
		_exit(0);
	}
	close(p[0]);
	int r = 0;
	char path[64];
	static const char *const maps[] = {"uid_map", "gid_map"};
	for (size_t i = 0; r == 0 && i < 2; i++) {
		snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, maps[i]);
		r = write_file_at(AT_FDCWD, path, "0 100000 65536\n", err);
	}
	_cleanup_close_ int ns = -1;
	if (r == 0) {
		snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
		ns = open(path, O_RDONLY | O_CLOEXEC);
		if (ns < 0)
			r = wsbox_fail(err, errno, "open `%s`", path);
	}
	close(p[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return r;

	_cleanup_close_ int tree =
	    open_tree(AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return wsbox_fail(err, errno, "open_tree `%s`", dir);
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP,
				  .userns_fd = (uint64_t)ns};
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		return wsbox_fail(err, errno,
				  "mount_setattr(MOUNT_ATTR_IDMAP)");
	return 0;
}

static void probe_idmap(struct doctor *d)
{
	/* usize 0 is rejected with EINVAL before anything happens. */
	if (mount_setattr(-1, "", 0, NULL, 0) < 0 && errno == ENOSYS) {
		report(d, LVL_WARN, "idmapped mounts",
		       "mount_setattr unavailable (Linux < 5.12; "
		       "informational, root mode only)");
		return;
	}
	if (!d->is_root) {
		report(d, LVL_OK, "idmapped mounts",
		       "mount_setattr available; MOUNT_ATTR_IDMAP needs real "
		       "root (used in root mode only, not tested as uid %lu)",
		       (unsigned long)geteuid());
		return;
	}
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	struct child_reply rep;
	int r = run_probe_child(child_idmap, (void *)base, &rep);
	if (r == 0)
		report(d, LVL_OK, "idmapped mounts",
		       "MOUNT_ATTR_IDMAP mount of `%s` works (root mode)",
		       base);
	else
		report(d, LVL_WARN, "idmapped mounts",
		       "%s (informational, root mode)", rep.err.msg);

	/* What root mode will do: the id range and whether layers can stay
	 * root's (the same functions exec uses). */
	struct ns_user_ids ids;
	struct wsbox_error e = {0};
	if (ns_user_root_ids(0, 0, 0, &ids, &e) < 0) {
		report(d, LVL_FAIL, "root mode", "%s", e.msg);
		return;
	}
	const char *store = getenv("WSBOX_STORE");
	const char *dir =
	    store && *store && access(store, F_OK) == 0 ? store : "/var/lib";
	int ns = ns_user_open_userns(&ids, &e);
	bool idmap = ns >= 0 && ns_mount_idmap_probe(dir, ns, &e) == 0;
	if (ns >= 0)
		close(ns);
	if (idmap)
		report(d, LVL_OK, "root mode",
		       "tasks map inside ids 0..%u to host uid %u.., gid %u..; "
		       "layers stay root's and reach tasks through read-only "
		       "idmapped mounts (probed on `%s`)",
		       (unsigned)ids.count - 1, (unsigned)ids.host_uid,
		       (unsigned)ids.host_gid, dir);
	else
		report(
		    d, LVL_WARN, "root mode",
		    "tasks map to the single host id %u (gid %u), which also "
		    "owns the layers (fallback: %s)",
		    (unsigned)ids.host_uid, (unsigned)ids.host_gid, e.msg);
}

/* ---- seccomp ----------------------------------------------------------- */

static void probe_seccomp(struct doctor *d)
{
	int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
	if (mode < 0) {
		report(d, LVL_FAIL, "seccomp",
		       "prctl(PR_GET_SECCOMP): %s (kernel without "
		       "CONFIG_SECCOMP?)",
		       strerror(errno));
		return;
	}
	static const struct {
		uint32_t action;
		const char *name;
		bool required;
	} acts[] = {
	    {SECCOMP_RET_KILL_PROCESS, "KILL_PROCESS", true},
	    {SECCOMP_RET_ERRNO, "ERRNO", true},
	    {SECCOMP_RET_USER_NOTIF, "USER_NOTIF", false},
	    {SECCOMP_RET_LOG, "LOG", false},
	};
	char have[128] = "", missing[128] = "";
	bool fail = false;
	for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) {
		uint32_t a = acts[i].action;
		if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &a) ==
		    0) {
			appendf(have, sizeof have, "%s%s", have[0] ? " " : "",
				acts[i].name);
			continue;
		}
		appendf(missing, sizeof missing, "%s%s (%s)",
			missing[0] ? " " : "", acts[i].name, strerror(errno));
		if (acts[i].required)
			fail = true;
	}
	const char *cur = mode == 0 ? "none" : mode == 2 ? "filter" : "strict";
	if (fail)
		report(d, LVL_FAIL, "seccomp",
		       "missing actions: %s (have: %s; current mode %s)",
		       missing, have[0] ? have : "none", cur);
	else
		report(d, missing[0] ? LVL_WARN : LVL_OK, "seccomp",
		       "filter actions %s available%s%s; current mode %s%s",
		       have, missing[0] ? "; missing " : "", missing, cur,
		       mode == 2 ? " (wsbox already runs under a filter: "
				   "its policy stacks on top)"
				 : "");
}

/* ---- cgroup v2 --------------------------------------------------------- */

/* The very decision `wsbox exec --memory/--pids` makes (cgroup.c), in
 * probe-only mode: nothing is created or enabled. */
static void probe_cgroup(struct doctor *d)
{
	struct cgroup_choice c;
	char names[64];
	/* RLIMIT_CPU bounds CPU seconds, not a rate, so --cpus has none. */
	const char *why_rl = "rlimits: --memory as RLIMIT_AS (address space; "
			     "the task gets ENOMEM), --pids as RLIMIT_NPROC "
			     "(counted per user namespace), --cpus not "
			     "enforced; --timeout is wall-clock either way";

	cgroup_choose(NULL, CG_MEMORY | CG_PIDS, CG_CPU, true, &c);
	if (!c.usable) {
		snprintf(d->cgroup_why, sizeof d->cgroup_why, "%s", c.why);
		report(d, LVL_WARN, "cgroup v2",
		       "%s (%s); limits fall back to %s", c.why,
		       c.facts[0] ? c.facts : "no cgroup v2", why_rl);
		return;
	}
	d->cgroup_usable = true;
	snprintf(d->cgroup_path, sizeof d->cgroup_path, "%s", c.parent);
	cgroup_ctrl_names(c.have, names, sizeof names);
	report(d, LVL_OK, "cgroup v2",
	       "each task gets a leaf cgroup under %s with %s (%s)%s%s%s",
	       c.parent, names, c.facts, c.why[0] ? "; " : "", c.why,
	       c.have & CG_CPU ? "" : ": --cpus not enforced");
}

/* ---- network namespace -------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int child_netns(void *arg, struct child_reply *rep)
{
	(void)arg;
	int r = enter_userns(&rep->err);
	if (r < 0)
		return r;
	double t0 = now_ms();
	if (unshare(CLONE_NEWNET) < 0)
		return wsbox_fail(&rep->err, errno, "unshare(CLONE_NEWNET)");
	rep->value = now_ms() - t0;
	return 0;
}

static void probe_netns(struct doctor *d)
{
	struct child_reply rep;
	int r = run_probe_child(child_netns, NULL, &rep);
	if (r < 0)
		/* `namespaces` already FAILs when net is missing. */
		report(d, LVL_WARN, "network namespace", "%s", rep.err.msg);
	else
		report(d, rep.value > NETNS_SLOW_MS ? LVL_WARN : LVL_OK,
		       "network namespace", "created in %.2f ms%s", rep.value,
		       rep.value > NETNS_SLOW_MS
			   ? " (slow: every task pays this; old kernel?)"
			   : "");
}

/* ---- kernel ------------------------------------------------------------- */

/* Is the syscall there? Called with arguments the kernel rejects before
 * doing anything, so any error but ENOSYS means present. */
static bool syscall_present(long ret)
{
	return ret >= 0 || errno != ENOSYS;
}

static void probe_kernel(struct doctor *d)
{
	struct utsname u;
	char rel[sizeof u.release + 1] = "?";
	if (uname(&u) == 0)
		snprintf(rel, sizeof rel, "%s", u.release);

	struct open_how how = {0};
	const struct {
		const char *name;
		bool present;
		bool required;
	} sc[] = {
	    /* sandbox_run() creates the namespaces with one clone3(). */
	    {"clone3", syscall_present(syscall(SYS_clone3, NULL, 0)), true},
	    {"pidfd_open", syscall_present(syscall(SYS_pidfd_open, 0, 0)),
	     false},
	    {"close_range",
	     syscall_present(syscall(SYS_close_range, 2U, 1U, 0)), false},
	    {"openat2",
	     syscall_present(syscall(SYS_openat2, -1, "", &how, (size_t)0)),
	     false},
	};
	char have[128] = "", missing[128] = "";
	bool fail = false;
	for (size_t i = 0; i < sizeof sc / sizeof *sc; i++) {
		char *b = sc[i].present ? have : missing;
		appendf(b, 128, "%s%s", b[0] ? " " : "", sc[i].name);
		if (!sc[i].present && sc[i].required)
			fail = true;
	}
	if (missing[0])
		report(d, fail ? LVL_FAIL : LVL_WARN, "kernel",
		       "Linux %s; missing (ENOSYS): %s%s%s", rel, missing,
		       have[0] ? "; present: " : "", have);
	else
		report(d, LVL_OK, "kernel", "Linux %s; %s available", rel,
		       have);
}

/* ---- summary and entry point ------------------------------------------- */

static void print_summary(const struct doctor *d)
{
	char fuse[PATH_MAX + 64];
	if (d->fuse_found)
		snprintf(fuse, sizeof fuse, "fuse-overlayfs at %s not needed",
			 d->fuse_path);
	else
		snprintf(fuse, sizeof fuse, "fuse-overlayfs not in PATH");

	if (d->overlay_api)
		printf("workspace strategy: kernel overlayfs in the user "
		       "namespace via the lowerdir+ mount API (mount(2) "
		       "overlay: %s; %s)\n",
		       d->overlay_classic ? "works but caps the layer list "
					    "at one page of options"
					  : d->classic_why,
		       fuse);
	else if (d->overlay_classic)
		printf("workspace strategy: kernel overlayfs in the user "
		       "namespace via mount(2) (lowerdir+ mount API: %s; "
		       "%s)\n",
		       d->api_why, fuse);
	else if (d->fuse_found)
		printf("workspace strategy: fuse-overlayfs at %s (kernel "
		       "overlay in a user namespace: lowerdir+ API: %s; "
		       "mount(2): %s)\n",
		       d->fuse_path, d->api_why, d->classic_why);
	else
		printf("workspace strategy: none (lowerdir+ mount API: %s; "
		       "mount(2): %s; fuse-overlayfs not in PATH)\n",
		       d->api_why, d->classic_why);

	/* Only when a limit is asked for: without one no cgroup is made. */
	if (d->cgroup_usable)
		printf("limits: cgroup v2 at %s\n", d->cgroup_path);
	else
		printf("limits: rlimits (%s)\n", d->cgroup_why);
	fflush(stdout);
}

/* Real root: uid 0 in the initial user namespace (identity map of the whole
 * id space), not root of a container's user namespace, which cannot use
 * /etc/subuid ranges or idmapped mounts of host filesystems. */
static bool is_real_root(void)
{
	struct wsbox_error err;
	_cleanup_free_ char *map = NULL;
	unsigned long in, out, count;

	if (geteuid() != 0)
		return false;
	if (read_file_at(AT_FDCWD, "/proc/self/uid_map", 4096, &map, NULL,
			 &err) < 0)
		return true; /* no user namespaces at all: the initial one */
	return sscanf(map, "%lu %lu %lu", &in, &out, &count) == 3 && in == 0 &&
	       out == 0 && count == 4294967295UL;
}

static void usage(void)
{
	printf("usage: wsbox doctor\n"
	       "Probe the kernel and host; print one ok/warn/FAIL line per "
	       "probe,\nthe workspace strategy and the limits mechanism. "
	       "Exit 0 when wsbox\ncan work here, 1 when a required probe "
	       "failed.\n");
}

int cmd_doctor(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct wsbox_error err = {0};
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage();
			return 0;
		}
		if (argv[i][0] == '-')
			wsbox_fail(&err, 0, "doctor: unknown option `%s`",
				   argv[i]);
		else
			wsbox_fail(&err, 0, "doctor: unexpected argument `%s`",
				   argv[i]);
		wsbox_error_print(&err);
		return err.status;
	}

	struct doctor d = {.is_root = is_real_root()};
	probe_userns(&d);
	probe_namespaces(&d);
	probe_overlay(&d);
	probe_fuse(&d);
	probe_idmap(&d);
	probe_seccomp(&d);
	probe_cgroup(&d);
	probe_netns(&d);
	probe_kernel(&d);
	print_summary(&d);
	if (!d.overlay_api && !d.overlay_classic && !d.fuse_found)
		d.failed = true;
	return d.failed ? 1 : 0;
}
