/* strategy.c: names of the workspace strategies and their probes
 * (strategy.h). The overlay probe mounts exactly what exec mounts
 * (sandbox/overlay.c) in a throw-away user and mount namespace, with its
 * upper on the filesystem that will hold the real one. */
#include "sandbox/strategy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/overlay.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

static const char *const names[] = {
    [WS_OVERLAY] = "overlay",
    [WS_FUSE_OVERLAYFS] = "fuse-overlayfs",
    [WS_COPY] = "copy",
};

const char *strategy_name(enum workspace_strategy s)
{
	return (size_t)s < ARRAY_SIZE(names) ? names[s] : "?";
}

int strategy_parse(const char *name)
{
	if (!strcmp(name, "auto"))
		return STRATEGY_AUTO;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -EINVAL;
}

/* A scratch tree below dir: l (lower), u (upper), w (work), m (mount). */
static char *probe_tree(const char *dir, struct wsbox_error *err)
{
	char *root = xasprintf("%s/strategy-probe.XXXXXX", dir);
	if (!mkdtemp(root)) {
		wsbox_fail(err, errno, "mkdtemp in `%s`", dir);
		free(root);
		return NULL;
	}
	static const char *const sub[] = {"l", "u", "w", "m"};
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", root, sub[i]);
		if (mkdir(p, 0700) < 0) {
			wsbox_fail(err, errno, "mkdir `%s`", p);
			rm_rf_at(AT_FDCWD, root, &(struct wsbox_error){0});
			free(root);
			return NULL;
		}
	}
	return root;
}

static int map_self(uid_t uid, gid_t gid, struct wsbox_error *err)
{
	char map[64];
	snprintf(map, sizeof map, "0 %lu 1\n", (unsigned long)uid);
	int r = write_file_at(AT_FDCWD, "/proc/self/uid_map", map, err);
	if (r < 0)
		return r;
	r = write_file_at(AT_FDCWD, "/proc/self/setgroups", "deny", err);
	if (r < 0)
		return r;
	snprintf(map, sizeof map, "0 %lu 1\n", (unsigned long)gid);
	return write_file_at(AT_FDCWD, "/proc/self/gid_map", map, err);
}

/* The probe's child: a user and mount namespace like the sandbox's, and
 * exec's overlay with an upper in the scratch tree. */
static int overlay_child(const char *root, struct wsbox_error *err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return wsbox_fail(err, errno, "unshare user+mount namespace");
	int r = map_self(uid, gid, err);
	if (r < 0)
		return r;
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return wsbox_fail(err, errno, "make / a slave mount");
	_cleanup_free_ char *l = xasprintf("%s/l", root);
	_cleanup_free_ char *u = xasprintf("%s/u", root);
	_cleanup_free_ char *w = xasprintf("%s/w", root);
	_cleanup_free_ char *m = xasprintf("%s/m", root);
	const char *const lowers[] = {l};
	struct overlay_spec spec = {
	    .lowers = lowers,
	    .n_lowers = 1,
	    .upper = u,
	    .work = w,
	    .kernel_log = true,
	};
	_cleanup_close_ int mnt =
	    overlay_mount(&spec, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
	if (mnt < 0)
		return mnt;
	if (move_mount(mnt, "", AT_FDCWD, m, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return wsbox_fail(err, errno, "attach overlay");
	return 0;
}

int strategy_probe_overlay(const char *dir, struct wsbox_error *why)
{
	const char *off = getenv("WSBOX_TEST_NO_KERNEL_OVERLAY");
	if (off && !strcmp(off, "1"))
		return wsbox_fail(why, 0,
				  "disabled by WSBOX_TEST_NO_KERNEL_OVERLAY=1 "
				  "(tests only)");
	_cleanup_free_ char *root = probe_tree(dir, why);
	if (!root)
		return -EIO;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		int e = errno;
		rm_rf_at(AT_FDCWD, root, &(struct wsbox_error){0});
		return wsbox_fail(why, e, "pipe");
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		struct wsbox_error e = {0};
		if (overlay_child(root, &e) < 0) {
			write_all(p[1], e.msg, strlen(e.msg));
			_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	int r = 0;
	if (pid < 0) {
		r = wsbox_fail(why, errno, "fork");
	} else {
		char msg[sizeof why->msg] = "";
		ssize_t n = read_all(p[0], msg, sizeof msg - 1);
		msg[n > 0 ? n : 0] = '\0';
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			r = wsbox_fail(why, 0, "%s",
				       msg[0] ? msg : "probe died");
	}
	close(p[0]);
	/* The work dir overlay leaves behind may be mode 000: rm_rf_at
	 * makes directories writable as it goes. */
	rm_rf_at(AT_FDCWD, root, &(struct wsbox_error){0});
	return r;
}

/* An absolute path to an executable file named `name` on $PATH. */
static bool find_exec(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		struct stat st;
		int n = snprintf(out, cap, "%.*s/%s", (int)len, path, name);
		if (len && path[0] == '/' && n > 0 && (size_t)n < cap &&
		    stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return true;
		path += len;
		if (*path == ':')
			path++;
	}
	return false;
}

int strategy_probe_fuse(char *bin, size_t cap, struct wsbox_error *why)
{
	const char *env = getenv("WSBOX_FUSE_OVERLAYFS");
	if (env && *env) {
		if (env[0] != '/' || access(env, X_OK) < 0)
			return wsbox_fail(why, env[0] == '/' ? errno : EINVAL,
					  "$WSBOX_FUSE_OVERLAYFS `%s`", env);
		snprintf(bin, cap, "%s", env);
	} else if (!find_exec("fuse-overlayfs", bin, cap)) {
		return wsbox_fail(why, 0,
				  "fuse-overlayfs not found in PATH (Debian "
				  "package fuse-overlayfs)");
	}
	struct stat st;
	if (stat("/dev/fuse", &st) < 0)
		return wsbox_fail(why, errno, "`/dev/fuse`");
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 10 ||
	    minor(st.st_rdev) != 229)
		return wsbox_fail(why, 0, "`/dev/fuse` is not the fuse device");
	/* The sandbox opens it as the task's ids inside its user namespace,
	 * where the device's owner is unmapped: only "other" bits count. */
	if ((st.st_mode & 0006) != 0006)
		return wsbox_fail(why, 0,
				  "`/dev/fuse` is not usable (mode %04o; stock "
				  "hosts have 0666)",
				  (unsigned)(st.st_mode & 07777));
	return 0;
}

int strategy_probe_reflink(const char *dir, struct wsbox_error *why)
{
	_cleanup_free_ char *a = xasprintf("%s/reflink-probe.XXXXXX", dir);
	_cleanup_free_ char *b = xasprintf("%s/reflink-probe.XXXXXX", dir);
	_cleanup_close_ int src = mkostemp(a, O_CLOEXEC);
	if (src < 0)
		return wsbox_fail(why, errno, "mkstemp in `%s`", dir);
	unlink(a);
	_cleanup_close_ int dst = mkostemp(b, O_CLOEXEC);
	if (dst < 0)
		return wsbox_fail(why, errno, "mkstemp in `%s`", dir);
	unlink(b);
	static const char block[4096];
	if (write_all(src, block, sizeof block) < 0)
		return wsbox_fail(why, errno, "write in `%s`", dir);
	if (ioctl(dst, FICLONE, src) == 0)
		return 1;
	if (errno == EOPNOTSUPP || errno == EXDEV || errno == EINVAL ||
	    errno == ENOTTY)
		return 0;
	return wsbox_fail(why, errno, "FICLONE in `%s`", dir);
}
