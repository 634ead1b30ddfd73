/* fuse_overlay.c: start and stop the fuse-overlayfs daemon of one sandbox
 * (fuse_overlay.h). Where the daemon lives, and why: it must mount inside
 * the sandbox's user and mount namespaces (so the task's ids and the mount
 * are the sandbox's) but must not be a process of the task's PID namespace
 * (the task could signal or ptrace it). The sandbox's first process is
 * already PID 1 of that namespace when it is cloned, so the daemon cannot
 * descend from it; instead wsbox forks a helper that joins only the user
 * namespace (setns), makes a mount namespace of its own, mounts fuse with
 * the new mount API on a /dev/fuse fd it opened there, hands the mount to
 * the child's mount namespace (setns there and back) and execs the daemon
 * on the fd (`/dev/fd/N`, so libfuse mounts nothing itself). */
#include "sandbox/fuse_overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/ns.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* fuse-overlayfs's -o syntax: ',' separates options and ':' lowers. */
static bool opt_safe(const char *p)
{
	return p && !strpbrk(p, ",:\\");
}

/* -o lowerdir=TOP:...:BOTTOM[,upperdir=U,workdir=W]: the same dirs the
 * kernel overlay would get (the empty lower when there is none). */
static int daemon_options(const struct plan *plan, char **out,
			  struct wsbox_error *err)
{
	size_t n = plan->n_lowers;
	const char *const *l = plan->lowers;
	const char *pad[] = {plan->empty_lower};
	if (n == 0) {
		l = pad;
		n = 1;
	}
	size_t len = 64;
	for (size_t i = 0; i < n; i++) {
		if (!opt_safe(l[i]))
			return wsbox_fail(err, EINVAL,
					  "lower `%s` cannot be passed to "
					  "fuse-overlayfs",
					  l[i] ? l[i] : "");
		len += strlen(l[i]) + 1;
	}
	if (plan->upper) {
		if (!opt_safe(plan->upper) || !opt_safe(plan->work))
			return wsbox_fail(err, EINVAL,
					  "upper `%s` cannot be passed to "
					  "fuse-overlayfs",
					  plan->upper);
		len += strlen(plan->upper) + strlen(plan->work) + 32;
	}
	char *o = xcalloc(1, len);
	appendf(o, len, "lowerdir=");
	for (size_t i = 0; i < n; i++)
		appendf(o, len, "%s%s", i ? ":" : "", l[i]);
	if (plan->upper)
		appendf(o, len, ",upperdir=%s,workdir=%s", plan->upper,
			plan->work);
	*out = o;
	return 0;
}

/* The helper: everything up to the exec, in order. */
static int helper_mount(const struct plan *plan, int user_ns, int child_mnt,
			int *fuse_fd, struct wsbox_error *err)
{
	if (setns(user_ns, CLONE_NEWUSER) < 0)
		return wsbox_fail(err, errno,
				  "join the sandbox's user namespace");
	/* Still host root here: the mount point in the child's namespace is
	 * taken as an fd, and the store's dirs of this run cloned for the
	 * daemon's view (root mode's 0700 store, sandbox/ns_view.c), before
	 * the task's ids could no longer reach them. */
	if (setns(child_mnt, CLONE_NEWNS) < 0)
		return wsbox_fail(err, errno,
				  "join the sandbox's mount namespace");
	_cleanup_close_ int target =
	    open(plan->root_mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (target < 0)
		return wsbox_fail(err, errno, "open `%s`", plan->root_mnt);
	/* A mount namespace owned by the sandbox's user namespace (so fuse
	 * can be mounted) that the child's pivot_root does not touch: the
	 * daemon reaches the lowers and upper by their host paths here. */
	if (unshare(CLONE_NEWNS) < 0)
		return wsbox_fail(err, errno, "unshare mount namespace");
	_cleanup_(ns_view_close) struct ns_view view = {.base = -1};
	int r = ns_view_take(plan, &view, err);
	if (r < 0)
		return r;
	/* The task's ids, so what the daemon creates is the task's (as with
	 * the kernel overlay, which remembers its mounter), keeping the
	 * capabilities to mount until the exec. */
	if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) < 0)
		return wsbox_fail(err, errno, "set securebits");
	if (setresgid(plan->gid, plan->gid, plan->gid) < 0 ||
	    setresuid(plan->uid, plan->uid, plan->uid) < 0)
		return wsbox_fail(err, errno, "take the task's ids");
	r = ns_view_show(&view, err);
	if (r < 0)
		return r;
	_cleanup_close_ int own =
	    open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (own < 0)
		return wsbox_fail(err, errno, "open own mount namespace");
	/* Opened in the sandbox's user namespace: fuse refuses a device
	 * opened in another one. */
	*fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (*fuse_fd < 0)
		return wsbox_fail(err, errno, "open `/dev/fuse`");
	_cleanup_close_ int fs = fsopen("fuse", FSOPEN_CLOEXEC);
	if (fs < 0)
		return wsbox_fail(err, errno, "fsopen fuse");
	char fd_s[16], uid_s[16], gid_s[16];
	snprintf(fd_s, sizeof fd_s, "%d", *fuse_fd);
	snprintf(uid_s, sizeof uid_s, "%u", (unsigned)plan->uid);
	snprintf(gid_s, sizeof gid_s, "%u", (unsigned)plan->gid);
	/* Only the task's ids may use it (no allow_other), and the kernel
	 * checks permissions from the modes the daemon reports. */
	if (fsconfig(fs, FSCONFIG_SET_STRING, "source", "fuse-overlayfs", 0) <
		0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "subtype", "fuse-overlayfs", 0) <
		0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "fd", fd_s, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "rootmode", "40000", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "user_id", uid_s, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "group_id", gid_s, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_FLAG, "default_permissions", NULL, 0) <
		0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return wsbox_fail(err, errno, "create the fuse filesystem");
	unsigned attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	if (!plan->upper)
		attrs |= MOUNT_ATTR_RDONLY;
	_cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		return wsbox_fail(err, errno, "fsmount fuse");
	if (setns(child_mnt, CLONE_NEWNS) < 0)
		return wsbox_fail(err, errno,
				  "join the sandbox's mount namespace");
	r = move_mount(mnt, "", target, "",
		       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	int e = errno;
	if (setns(own, CLONE_NEWNS) < 0)
		return wsbox_fail(err, errno,
				  "leave the sandbox's mount namespace");
	if (r < 0)
		return wsbox_fail(err, e, "attach fuse on `%s`",
				  plan->root_mnt);
	return 0;
}

static _Noreturn void helper(const struct plan *plan, int user_ns,
			     int child_mnt, int status_fd)
{
	struct wsbox_error err = {0};
	int fuse_fd = -1;
	_cleanup_free_ char *opts = NULL;
	if (daemon_options(plan, &opts, &err) < 0 ||
	    helper_mount(plan, user_ns, child_mnt, &fuse_fd, &err) < 0) {
		write_all(status_fd, err.msg, strlen(err.msg));
		_exit(1);
	}
	/* The daemon dies with wsbox; set after the id change, which
	 * clears it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int flags = fcntl(fuse_fd, F_GETFD);
	if (flags < 0 || fcntl(fuse_fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
		wsbox_fail(&err, errno, "keep `/dev/fuse` open");
		write_all(status_fd, err.msg, strlen(err.msg));
		_exit(1);
	}
	_cleanup_free_ char *mp = xasprintf("/dev/fd/%d", fuse_fd);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	/* Its notes ("unknown argument ignored") are not the task's
	 * output; a daemon that fails shows as ENOTCONN in the task. */
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	char *const argv[] = {
	    (char *)plan->fuse_bin, "-f", "-o", opts, mp, NULL};
	char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	execve(plan->fuse_bin, argv, envp);
	wsbox_fail(&err, errno, "exec `%s`", plan->fuse_bin);
	write_all(status_fd, err.msg, strlen(err.msg));
	_exit(1);
}

int fuse_overlay_start(const struct plan *plan, pid_t child, pid_t *daemon,
		       struct wsbox_error *err)
{
	*daemon = -1;
	_cleanup_free_ char *up = xasprintf("/proc/%d/ns/user", (int)child);
	_cleanup_free_ char *mp = xasprintf("/proc/%d/ns/mnt", (int)child);
	_cleanup_close_ int user_ns = open(up, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int child_mnt = open(mp, O_RDONLY | O_CLOEXEC);
	if (user_ns < 0 || child_mnt < 0)
		return wsbox_fail(err, errno, "open the sandbox's namespaces");
	int st[2];
	if (pipe2(st, O_CLOEXEC) < 0)
		return wsbox_fail(err, errno, "pipe");
	pid_t pid = fork();
	if (pid == 0) {
		close(st[0]);
		helper(plan, user_ns, child_mnt, st[1]);
	}
	close(st[1]);
	if (pid < 0) {
		close(st[0]);
		return wsbox_fail(err, errno, "fork fuse-overlayfs");
	}
	/* EOF without a word: the exec happened (the pipe is close-on-exec). */
	char msg[sizeof err->msg] = "";
	ssize_t n = read_all(st[0], msg, sizeof msg - 1);
	close(st[0]);
	if (n > 0) {
		msg[n] = '\0';
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return wsbox_fail(err, 0, "fuse-overlayfs: %s", msg);
	}
	*daemon = pid;
	return 0;
}

void fuse_overlay_stop(pid_t *daemon)
{
	if (*daemon <= 0)
		return;
	kill(*daemon, SIGKILL);
	while (waitpid(*daemon, NULL, 0) < 0 && errno == EINTR)
		;
	*daemon = -1;
}
