/* doctor/strategy.c: the three workspace strategies (README "Strategies"),
 * each available or not with the reason, probed on the filesystem of the
 * store exec would use (else $TMPDIR) with exec's own probes
 * (sandbox/strategy.c), and which one `auto` picks. */
#include "sandbox/cli/doctor/doctor.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "layers/store.h"
#include "sandbox/strategy.h"
#include "sandbox/util/cleanup.h"

void probe_strategies(struct doctor *d)
{
	_cleanup_free_ char *store = store_default_path(NULL);
	struct stat st;
	const char *dir = store && stat(store, &st) == 0 && S_ISDIR(st.st_mode)
			      ? store
			      : probe_tmpdir();
	struct wsbox_error ovl = {0}, fuse = {0}, ref = {0};
	bool ovl_ok = strategy_probe_overlay(dir, &ovl) == 0;
	char bin[PATH_MAX] = "";
	bool fuse_ok = strategy_probe_fuse(bin, sizeof bin, &fuse) == 0;
	int reflink = strategy_probe_reflink(dir, &ref);

	if (ovl_ok)
		doctor_report(d, LVL_OK, "strategy overlay",
			      "available: kernel overlayfs in a user namespace "
			      "with its upper on `%s`'s filesystem",
			      dir);
	else
		doctor_report(d, LVL_WARN, "strategy overlay",
			      "unavailable: %s", ovl.msg);
	if (fuse_ok)
		doctor_report(d, LVL_OK, "strategy fuse-overlayfs",
			      "available: %s, /dev/fuse usable", bin);
	else
		doctor_report(d, LVL_WARN, "strategy fuse-overlayfs",
			      "unavailable: %s", fuse.msg);
	struct statfs sf;
	unsigned long type =
	    statfs(dir, &sf) == 0 ? (unsigned long)sf.f_type : 0;
	if (reflink > 0)
		doctor_report(d, LVL_OK, "strategy copy",
			      "available, with reflinks (FICLONE) on `%s`'s "
			      "filesystem: populating costs O(files)",
			      dir);
	else
		doctor_report(
		    d, reflink < 0 ? LVL_WARN : LVL_OK, "strategy copy",
		    "available, plain copies: %s (filesystem 0x%lx); "
		    "populating costs O(bytes)",
		    reflink < 0 ? ref.msg : "no reflink support", type);
	snprintf(d->strategy_why, sizeof d->strategy_why, "%s", ovl.msg);
	d->auto_strategy = ovl_ok    ? WS_OVERLAY
			   : fuse_ok ? WS_FUSE_OVERLAYFS
				     : WS_COPY;
}
