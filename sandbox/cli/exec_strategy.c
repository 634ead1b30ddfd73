/* exec_strategy.c: the strategy of one exec (exec_strategy.h). The probes
 * cost a fork and a mount each, so auto runs them once per store and
 * kernel; a cached fuse-overlayfs choice still checks the binary and
 * /dev/fuse each time (cheap, and they can go away). */
#include "sandbox/cli/exec_strategy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/strategy_cache.h"
#include "sandbox/strategy.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

/* Probe in order: kernel overlay, fuse-overlayfs, copy; `why` says why
 * the ones before the choice cannot work. */
static enum workspace_strategy probe_all(const struct store *s,
					 struct exec_strategy *out, char *why,
					 size_t cap)
{
	/* Not staging/: gc would take a probe tree for a dead attempt. */
	_cleanup_free_ char *dir = store_path_of(s, STORE_CACHE);
	struct wsbox_error ovl = {0}, fuse = {0};
	why[0] = '\0';
	if (strategy_probe_overlay(dir, &ovl) == 0)
		return WS_OVERLAY;
	if (strategy_probe_fuse(out->fuse_bin, sizeof out->fuse_bin, &fuse) ==
	    0) {
		snprintf(why, cap, "kernel overlay unusable: %s", ovl.msg);
		return WS_FUSE_OVERLAYFS;
	}
	snprintf(why, cap, "kernel overlay unusable: %s; fuse-overlayfs: %s",
		 ovl.msg, fuse.msg);
	return WS_COPY;
}

static int choose_auto(const struct store *s, struct exec_strategy *out,
		       struct wsbox_error *err)
{
	char key[512];
	int r = strategy_cache_key(s, key, sizeof key, err);
	if (r < 0)
		return r;
	/* The tests' switch changes the probe's answer: not the same key. */
	const char *off = getenv("WSBOX_TEST_NO_KERNEL_OVERLAY");
	if (off && !strcmp(off, "1"))
		appendf(key, sizeof key, " no-kernel-overlay");
	_cleanup_free_ char *cached = NULL, *cached_why = NULL;
	struct wsbox_error fe = {0};
	if (strategy_cache_get(s, key, &cached, &cached_why) == 1) {
		int v = strategy_parse(cached);
		if (v == WS_OVERLAY || v == WS_COPY) {
			out->s = (enum workspace_strategy)v;
			return 0;
		}
		if (v == WS_FUSE_OVERLAYFS &&
		    strategy_probe_fuse(out->fuse_bin, sizeof out->fuse_bin,
					&fe) == 0) {
			out->s = WS_FUSE_OVERLAYFS;
			return 0;
		}
	}
	char why[3 * sizeof err->msg];
	out->s = probe_all(s, out, why, sizeof why);
	if (out->s != WS_OVERLAY)
		fprintf(stderr, "wsbox: strategy auto: using %s: %s\n",
			strategy_name(out->s), why);
	/* A store we cannot write the note into probes again next time;
	 * the exec itself does not depend on it. */
	struct wsbox_error ignored = {0};
	strategy_cache_put(s, key, strategy_name(out->s), why, &ignored);
	return 0;
}

int exec_strategy_choose(const struct store *s, const char *requested,
			 struct exec_strategy *out, struct wsbox_error *err)
{
	memset(out, 0, sizeof *out);
	const char *from = "--strategy";
	const char *name = requested;
	if (!name) {
		name = getenv("WSBOX_STRATEGY");
		from = "$WSBOX_STRATEGY";
	}
	if (!name || !*name)
		name = "auto";
	int v = strategy_parse(name);
	if (v == -EINVAL)
		return wsbox_fail(err, 0,
				  "%s `%s`: not auto, overlay, fuse-overlayfs "
				  "or copy",
				  from, name);
	if (v == STRATEGY_AUTO)
		return choose_auto(s, out, err);
	out->s = (enum workspace_strategy)v;
	if (out->s != WS_FUSE_OVERLAYFS)
		return 0;
	struct wsbox_error why = {0};
	if (strategy_probe_fuse(out->fuse_bin, sizeof out->fuse_bin, &why) < 0)
		return wsbox_fail(err, 0, "%s fuse-overlayfs: %s", from,
				  why.msg);
	return 0;
}
