/* sandbox/seal.c: the workspace made read-only once the task is gone
 * (seal.h): the overlay's superblock picked by the child and reconfigured
 * by the parent, or the copy workspace's mount changed by a helper that
 * joins the sandbox's namespaces. */
#include "sandbox/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fdpass.h"
#include "sandbox/util/fs.h"

enum seal_kind seal_kind_of(const struct plan *plan)
{
	if (!plan->upper)
		return SEAL_NONE;
	switch (plan->strategy) {
	case WS_OVERLAY:
		return SEAL_SUPERBLOCK;
	case WS_COPY:
		return SEAL_MOUNT;
	case WS_FUSE_OVERLAYFS:
		break;
	}
	return SEAL_NONE;
}

int seal_send(const struct plan *plan, int sock, struct wsbox_error *err)
{
	_cleanup_free_ char *ws = xasprintf("%s/workspace", plan->root_mnt);
	/* A context for reconfiguration: it holds the superblock active (so
	 * the overlay outlives the mount namespace until the parent closes
	 * it) but gives no access to any file. */
	_cleanup_close_ int fs = fspick(
	    AT_FDCWD, ws,
	    FSPICK_CLOEXEC | FSPICK_SYMLINK_NOFOLLOW | FSPICK_NO_AUTOMOUNT);
	if (fs < 0)
		return wsbox_fail(err, errno, "pick the workspace overlay");
	int r = fdpass_send(sock, fs);
	if (r < 0)
		return wsbox_fail(err, -r,
				  "hand the workspace overlay to wsbox");
	return 0;
}

int seal_hold(struct seal *s, const struct plan *plan, pid_t child,
	      struct wsbox_error *err)
{
	s->kind = seal_kind_of(plan);
	if (s->kind != SEAL_MOUNT)
		return 0;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/user", (int)child);
	s->user_ns = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)child);
	s->mnt_ns = open(path, O_RDONLY | O_CLOEXEC);
	if (s->user_ns < 0 || s->mnt_ns < 0)
		return wsbox_fail(err, errno, "open the sandbox's namespaces");
	return 0;
}

void seal_receive(struct seal *s, int sock)
{
	int fs = fdpass_recv(sock, MSG_DONTWAIT);
	if (fs >= 0)
		s->fs = fs;
}

/* Reconfiguring needs CAP_SYS_ADMIN in the superblock's user namespace,
 * the sandbox's: wsbox created it, so has every capability in it (rootless
 * included) while the superblock lives. The kernel checks every mount of
 * the superblock for a writer first (sb_prepare_remount_readonly). */
static int seal_superblock(int fs)
{
	if (fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* The helper: in the sandbox's user namespace (full capabilities there,
 * as its creator's child) and then its mount namespace, where the root is
 * the sandbox's own after pivot_root, so /workspace is the workspace. A
 * mount with a writer (a file open for writing through it) is EBUSY. */
static _Noreturn void seal_mount_helper(const struct seal *s)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	if (setns(s->user_ns, CLONE_NEWUSER) < 0 ||
	    setns(s->mnt_ns, CLONE_NEWNS) < 0 ||
	    mount_setattr(AT_FDCWD, "/workspace", AT_SYMLINK_NOFOLLOW, &attr,
			  sizeof attr) < 0)
		_exit(errno > 0 && errno < 256 ? errno : EIO);
	_exit(0);
}

static int seal_mount(const struct seal *s)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		seal_mount_helper(s);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(st))
		return -EIO;
	return -WEXITSTATUS(st);
}

int seal_apply(struct seal *s, struct wsbox_error *err)
{
	int r = 0;
	if (s->kind == SEAL_SUPERBLOCK && s->fs >= 0)
		r = seal_superblock(s->fs);
	else if (s->kind == SEAL_MOUNT)
		r = seal_mount(s);
	seal_close(s);
	return r < 0 ? seal_fail(err, -r) : 0;
}

void seal_close(struct seal *s)
{
	int *fds[] = {&s->fs, &s->user_ns, &s->mnt_ns};
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int seal_fail(struct wsbox_error *err, int errnum)
{
	const char *why = errnum == EBUSY
			      ? "a file in it is still open for writing"
			      : "cannot make it read-only";
	return wsbox_fail_logic(err, errnum, "seal the workspace: %s (%s)", why,
				strerror(errnum));
}
