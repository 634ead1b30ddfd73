/* `wsbox doctor`: probe the kernel and host for what the sandbox needs and
 * print one ok/warn/FAIL line per probe (one file per probe in this
 * directory), then the workspace strategy and the limits mechanism that will
 * be used. Exit 0 when wsbox can work here, 1 when a required probe failed
 * (FAIL), 125 on a usage error.
 *
 * Owns nothing persistent: every probe that changes namespaces runs in a
 * forked child (probe.c), and the scratch trees it creates under $TMPDIR (or
 * /tmp) are removed before it returns. */
#include "sandbox/cli/commands.h"
#include "sandbox/cli/doctor/doctor.h"
#include "sandbox/cli/usage.h"
#include "sandbox/plan.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/error.h"
#include "sandbox/util/fs.h"

/* Details may carry kernel log text or paths, hence the replacement of
 * control characters. */
void doctor_report(struct doctor *d, enum level lvl, const char *probe,
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

static void print_summary(const struct doctor *d)
{
	char fuse[PATH_MAX + 64];
	if (d->fuse_found)
		snprintf(fuse, sizeof fuse, "fuse-overlayfs at %s not needed",
			 d->fuse_path);
	else
		snprintf(fuse, sizeof fuse, "fuse-overlayfs not in PATH");

	if (d->auto_strategy == WS_COPY)
		printf("workspace strategy: copy (kernel overlay: %s; "
		       "fuse-overlayfs unavailable)\n",
		       d->strategy_why);
	else if (d->auto_strategy == WS_FUSE_OVERLAYFS)
		printf("workspace strategy: fuse-overlayfs at %s (kernel "
		       "overlay: %s)\n",
		       d->fuse_path, d->strategy_why);
	else if (d->overlay_api)
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
	else
		printf("workspace strategy: kernel overlayfs in the user "
		       "namespace (exec's probe; doctor's own: lowerdir+ "
		       "mount API: %s; mount(2): %s)\n",
		       d->api_why, d->classic_why);

	/* Only when a limit is asked for: without one no cgroup is made. */
	if (d->cgroup_usable)
		printf("limits: cgroup %s at %s\n", d->cgroup_v1 ? "v1" : "v2",
		       d->cgroup_path);
	else
		printf("limits: rlimits, memory not bounded for shmem/memfd "
		       "(%s)\n",
		       d->cgroup_why);
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
	       "Probe the kernel and host: one ok/warn/FAIL line per probe "
	       "(with the fix\nwhen one is known), then the workspace "
	       "strategy and the limits mechanism.\n"
	       "Run it as the user who will run wsbox; as root it also checks "
	       "root mode's\nid range. Options: -h, --help.\n"
	       "\nexit status: 0 wsbox can work here; 1 a required probe "
	       "failed; 125 usage error\n");
}

int cmd_doctor(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage();
			return 0;
		}
		if (argv[i][0] == '-')
			return usage_unknown_option("doctor", argv[i]);
		return usage_refuse("doctor", "unexpected argument `%s`",
				    argv[i]);
	}

	struct doctor d = {.is_root = is_real_root()};
	probe_userns(&d);
	probe_namespaces(&d);
	probe_overlay(&d);
	probe_fuse(&d);
	probe_strategies(&d);
	probe_idmap(&d);
	probe_seccomp(&d);
	probe_cgroup(&d);
	probe_default_pids(&d);
	probe_netns(&d);
	probe_kernel(&d);
	probe_landlock(&d);
	print_summary(&d);
	return d.failed ? 1 : 0;
}
