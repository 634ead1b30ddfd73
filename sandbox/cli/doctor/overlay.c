/* doctor/overlay.c: the workspace overlay in a user namespace. Which
 * portability options the kernel takes, whether exec's own overlay
 * (sandbox/overlay.c) mounts and behaves (lowers in order, writes in upper),
 * the mount(2) fallback, and fuse-overlayfs. Scratch trees live under
 * $TMPDIR and are removed after each probe. */
#include "sandbox/cli/doctor/doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/overlay.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* mount(2) passes overlay options in one page. */
#define MOUNT_OPTS_MAX 4096

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
	const char *base = probe_tmpdir();
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

/* The options probed one by one with userxattr (needed in a user
 * namespace): exec's (overlay_options), then redirect_dir=off, which is
 * informational: "off" means "follow" on kernels built with
 * CONFIG_OVERLAY_FS_REDIRECT_ALWAYS_FOLLOW and is then rejected with
 * userxattr, hence exec's nofollow. Bit i of a reply is option i. */
static const struct overlay_option ovl_redirect_off = {"redirect_dir", "off"};
#define N_OVL_OPTS (overlay_n_options + 1)
#define OVL_REDIRECT_OFF_BIT (UINT64_C(1) << overlay_n_options)
#define OVL_ALL_REJECTED ((OVL_REDIRECT_OFF_BIT << 1) - 1)

static const struct overlay_option *ovl_opt(size_t i)
{
	return i < overlay_n_options ? &overlay_options[i] : &ovl_redirect_off;
}

struct ovl_arg {
	const struct ovl_tree *t;
	uint64_t rejected; /* ovl_opt() bits not to use (mount(2) probe) */
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

/* bits: one per rejected ovl_opt(). */
static int child_overlay_options(void *arg, struct child_reply *rep)
{
	const struct ovl_arg *oa = arg;
	int r = probe_enter_mountns(&rep->err);
	if (r < 0)
		return r;
	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return wsbox_fail(&rep->err, errno, "fsopen(\"overlay\")");
	for (size_t i = 0; i < N_OVL_OPTS; i++)
		if (ovl_try_option(oa->t, ovl_opt(i)->key, ovl_opt(i)->val) < 0)
			rep->bits |= UINT64_C(1) << i;
	return 0;
}

/* Exec's own overlay (sandbox/overlay.c: the same options, volatile
 * included, and mount attributes) on two lowers with an upper, attached and
 * checked. lowerdir+ is tried alone first to name the kernel it needs. */
static int child_overlay_api(void *arg, struct child_reply *rep)
{
	const struct ovl_arg *oa = arg;
	const struct ovl_tree *t = oa->t;
	struct wsbox_error *err = &rep->err;
	int r = probe_enter_mountns(err);
	if (r < 0)
		return r;

	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return wsbox_fail(err, errno, "fsopen(\"overlay\")");
	if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", t->lower1, 0) < 0) {
		int e = errno;
		wsbox_fail(err, e, "fsconfig lowerdir+");
		overlay_kernel_log(fs, err);
		if (e == EINVAL)
			wsbox_error_prefix(err, "needs Linux >= 6.8");
		return -e;
	}
	const char *const lowers[] = {t->lower1, t->lower2};
	const struct overlay_spec spec = {
	    .lowers = lowers,
	    .n_lowers = 2,
	    .upper = t->upper,
	    .work = t->work,
	    .kernel_log = true,
	};
	_cleanup_close_ int mnt =
	    overlay_mount(&spec, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
	if (mnt < 0)
		return mnt;
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
	int r = probe_enter_mountns(err);
	if (r < 0)
		return r;

	char opts[MOUNT_OPTS_MAX] = "";
	appendf(opts, sizeof opts,
		"lowerdir=%s:%s,upperdir=%s,workdir=%s,userxattr", t->lower1,
		t->lower2, t->upper, t->work);
	for (size_t i = 0; i < overlay_n_options; i++)
		if (!(oa->rejected & (UINT64_C(1) << i)))
			appendf(opts, sizeof opts, ",%s=%s", ovl_opt(i)->key,
				ovl_opt(i)->val);
	if (strlen(opts) + 1 >= sizeof opts)
		return wsbox_fail(err, E2BIG, "overlay option string");
	if (mount("overlay", t->merged, "overlay", 0, opts) < 0)
		return wsbox_fail(err, errno, "mount(2) overlay");
	return ovl_verify(t, err);
}

/* Run one overlay child on a fresh scratch tree (a used upper/work cannot
 * be reused), removed afterwards. */
static int ovl_run(probe_fn fn, uint64_t rejected, struct child_reply *rep)
{
	struct ovl_tree t;
	struct ovl_arg oa = {.t = &t, .rejected = rejected};
	int r = ovl_tree_make(&t, &rep->err);
	if (r == 0)
		r = probe_run_child(fn, &oa, rep);
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

void probe_overlay(struct doctor *d)
{
	struct child_reply rep;

	/* Which portability options does this kernel take with userxattr? */
	uint64_t rejected = OVL_ALL_REJECTED;
	if (ovl_run(child_overlay_options, 0, &rep) == 0)
		rejected = rep.bits;
	char ok_opts[256] = "", bad_opts[256] = "";
	for (size_t i = 0; i < overlay_n_options; i++)
		appendf(rejected & (UINT64_C(1) << i) ? bad_opts : ok_opts, 256,
			" %s=%s", ovl_opt(i)->key, ovl_opt(i)->val);
	bool off_rejected = rejected & OVL_REDIRECT_OFF_BIT;

	char exec_opts[256] = "";
	for (size_t i = 0; i < overlay_n_options; i++)
		appendf(exec_opts, sizeof exec_opts, " %s=%s",
			overlay_options[i].key, overlay_options[i].val);
	d->overlay_api = ovl_run(child_overlay_api, 0, &rep) == 0;
	snprintf(d->api_why, sizeof d->api_why, "%s", rep.err.msg);
	d->overlay_classic =
	    ovl_run(child_overlay_classic, rejected, &rep) == 0;
	snprintf(d->classic_why, sizeof d->classic_why, "%s", rep.err.msg);
	d->fuse_found =
	    find_in_path("fuse-overlayfs", d->fuse_path, sizeof d->fuse_path);

	if (d->overlay_api || d->overlay_classic)
		doctor_report(
		    d, bad_opts[0] ? LVL_WARN : LVL_OK, "overlay in userns",
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
		doctor_report(
		    d, LVL_WARN, "overlay in userns",
		    "kernel overlayfs unusable in a user namespace: %s%s",
		    d->classic_why,
		    d->fuse_found ? "; falling back to fuse-overlayfs"
				  : "; falling back to copy");

	if (d->overlay_api)
		doctor_report(
		    d, LVL_OK, "lowerdir+ mount API",
		    "fsopen/fsconfig(lowerdir+ x2)/fsmount/move_mount "
		    "work with exec's options (userxattr%s volatile); "
		    "layer count not bounded by the mount(2) option "
		    "page",
		    exec_opts);
	else
		doctor_report(d, LVL_WARN, "lowerdir+ mount API", "%s",
			      d->api_why);

	if (d->overlay_classic)
		doctor_report(
		    d, LVL_OK, "mount(2) overlay",
		    "classic lowerdir=a:b mount works (fallback; option "
		    "string limited to %d bytes, so few layers)",
		    MOUNT_OPTS_MAX);
	else
		doctor_report(d, LVL_WARN, "mount(2) overlay", "%s",
			      d->classic_why);
}

void probe_fuse(struct doctor *d)
{
	bool dev = access("/dev/fuse", R_OK | W_OK) == 0;
	if (d->fuse_found)
		doctor_report(d, dev ? LVL_OK : LVL_WARN, "fuse-overlayfs",
			      "%s%s (informational)", d->fuse_path,
			      dev ? "" : "; /dev/fuse not accessible");
	else
		doctor_report(
		    d, LVL_WARN, "fuse-overlayfs",
		    "not found in PATH (informational; only a fallback when "
		    "kernel overlay is unusable in a user namespace)");
}
