/* sandbox/seal.c: the workspace overlay's superblock, picked by the child
 * and made read-only by the parent once the task is gone (seal.h). */
#include "sandbox/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fdpass.h"
#include "sandbox/util/fs.h"

bool seal_wanted(const struct plan *plan)
{
	return plan->strategy == WS_OVERLAY && plan->upper;
}

int seal_send(const struct plan *plan, int sock, struct wsbox_error *err)
{
	_cleanup_free_ char *ws = xasprintf("%s/workspace", plan->root_mnt);
	/* An fs context for reconfiguration: it holds the superblock active
	 * (so the overlay and its upper dir outlive the mount namespace until
	 * the parent closes it) but gives no access to any file. */
	_cleanup_close_ int fs =
	    fspick(AT_FDCWD, ws,
		   FSPICK_CLOEXEC | FSPICK_SYMLINK_NOFOLLOW |
		       FSPICK_NO_AUTOMOUNT);
	if (fs < 0)
		return wsbox_fail(err, errno, "pick the workspace overlay");
	int r = fdpass_send(sock, fs);
	if (r < 0)
		return wsbox_fail(err, -r, "hand the workspace overlay to wsbox");
	return 0;
}

int seal_receive(int sock)
{
	return fdpass_recv(sock, MSG_DONTWAIT);
}

int seal_apply(int fs, struct wsbox_error *err)
{
	/* Reconfiguring needs CAP_SYS_ADMIN in the superblock's user
	 * namespace, the sandbox's: wsbox created it, so has every
	 * capability in it (rootless included) while the superblock lives.
	 * The kernel refuses with EBUSY, and changes nothing, while any
	 * mount of the superblock has a writer (sb_prepare_remount_readonly):
	 * then a file is open for writing through a reference that outlived
	 * the task, and what it writes could land in the layer. */
	if (fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
		return seal_fail(err, errno);
	return 0;
}

int seal_fail(struct wsbox_error *err, int errnum)
{
	const char *why = errnum == EBUSY
			      ? "a file in it is still open for writing"
			      : "cannot make it read-only";
	return wsbox_fail_logic(err, errnum, "seal the workspace: %s (%s)", why,
				strerror(errnum));
}
