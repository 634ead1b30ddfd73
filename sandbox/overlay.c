/* overlay.c: the workspace overlay superblock and its options (overlay.h).
 * Built with the new mount API (fsopen/fsconfig/fsmount) so the number of
 * layers is not bounded by the one-page option string of mount(2). Used by
 * the sandbox child in its user namespace and by doctor's probe. */
#include "sandbox/overlay.h"

#include <errno.h>
#include <linux/mount.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"

/* Layers stay portable and leak no file handles: no redirects, no metacopy,
 * no index, no xino. With userxattr the kernel insists on
 * redirect_dir=nofollow ("off" would still follow lower redirects, which
 * userxattr forbids, and is rejected where it means "follow"). */
const struct overlay_option overlay_options[] = {
    {"redirect_dir", "nofollow"},
    {"metacopy", "off"},
    {"index", "off"},
    {"xino", "off"},
};
const size_t overlay_n_options =
    sizeof overlay_options / sizeof *overlay_options;

/* One message per read; ENODATA when drained. */
void overlay_kernel_log(int fs, struct wsbox_error *err)
{
	char line[256];
	for (int i = 0; i < 4; i++) {
		ssize_t n = read(fs, line, sizeof line - 1);
		if (n <= 0)
			break;
		line[n] = '\0';
		line[strcspn(line, "\n")] = '\0';
		wsbox_error_prefix(err, "[%s]", line);
	}
}

static int overlay_set_lower(int fs, const char *dir, struct wsbox_error *err)
{
	if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", dir, 0) < 0)
		return wsbox_fail(err, errno, "overlay lower `%s`", dir);
	return 0;
}

/* Every fsconfig of the workspace, in the order exec has always set them. */
static int overlay_configure(int fs, const struct overlay_spec *spec,
			     struct wsbox_error *err)
{
	/* userxattr because we are in a user namespace (whiteouts are 0:0
	 * char devices, opaque is user.*). */
	if (fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
		return wsbox_fail(err, errno, "overlay option userxattr");
	for (size_t i = 0; i < overlay_n_options; i++)
		if (fsconfig(fs, FSCONFIG_SET_STRING, overlay_options[i].key,
			     overlay_options[i].val, 0) < 0)
			return wsbox_fail(err, errno, "overlay option %s=%s",
					  overlay_options[i].key,
					  overlay_options[i].val);
	/* lowerdir+ appends one layer per call (topmost first). */
	int r;
	for (size_t i = 0; i < spec->n_lowers; i++)
		if ((r = overlay_set_lower(fs, spec->lowers[i], err)) < 0)
			return r;
	/* Overlay needs one lower, and two when there is no upper. */
	size_t need = spec->upper ? 1 : 2;
	for (size_t i = spec->n_lowers; i < need; i++)
		if ((r = overlay_set_lower(fs, spec->pad_lower, err)) < 0)
			return r;
	if (!spec->upper)
		return 0;
	/* No sync of the whole upper filesystem at unmount: on a busy disk
	 * that cost up to a second per task. Safe because every attempt has
	 * a fresh workdir, and layer_publish() flushes before a layer becomes
	 * visible. */
	if (fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0) < 0)
		return wsbox_fail(err, errno, "overlay option volatile");
	if (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", spec->upper, 0) < 0)
		return wsbox_fail(err, errno, "overlay upper `%s`",
				  spec->upper);
	if (fsconfig(fs, FSCONFIG_SET_STRING, "workdir", spec->work, 0) < 0)
		return wsbox_fail(err, errno, "overlay work `%s`", spec->work);
	return 0;
}

int overlay_mount(const struct overlay_spec *spec, unsigned attrs,
		  struct wsbox_error *err)
{
	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return wsbox_fail(err, errno, "fsopen overlay");
	int r = overlay_configure(fs, spec, err);
	if (r == 0 && fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		r = wsbox_fail(err, errno, "create workspace overlay");
	if (r < 0) {
		if (spec->kernel_log)
			overlay_kernel_log(fs, err);
		return r;
	}
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		return wsbox_fail(err, errno, "fsmount workspace overlay");
	return mnt;
}
