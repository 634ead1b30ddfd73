/* ns_user.c: the user namespace's id maps, written by the parent while the
 * child waits. One id inside maps to one id outside: the invoking user when
 * rootless, an unprivileged subordinate id when wsbox runs as root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

int idmap_format(char *buf, size_t size, unsigned long inside,
		 unsigned long outside)
{
	int n = snprintf(buf, size, "%lu %lu 1\n", inside, outside);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return 0;
}

static int write_proc_file(pid_t pid, const char *file, const char *content,
			   struct wsbox_error *err)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	return write_file_at(AT_FDCWD, path, content, err);
}

int ns_user_write_maps(pid_t pid, const struct plan *plan,
		       struct wsbox_error *err)
{
	char map[64];
	int r;

	/* setgroups must be denied before an unprivileged gid_map write; as
	 * root we deny it too so the task can never regain groups. */
	r = write_proc_file(pid, "setgroups", "deny", err);
	if (r < 0)
		return r;
	if (idmap_format(map, sizeof map, plan->uid, plan->host_uid) < 0)
		return wsbox_fail(err, ENOSPC, "format uid_map");
	r = write_proc_file(pid, "uid_map", map, err);
	if (r < 0)
		return r;
	if (idmap_format(map, sizeof map, plan->gid, plan->host_gid) < 0)
		return wsbox_fail(err, ENOSPC, "format gid_map");
	return write_proc_file(pid, "gid_map", map, err);
}

unsigned long ns_user_root_host_id(const char *subid_file)
{
	_cleanup_fclose_ FILE *f = fopen(subid_file, "re");
	char line[256];
	if (f) {
		while (fgets(line, sizeof line, f)) {
			char *save = NULL;
			char *name = strtok_r(line, ":", &save);
			char *start = strtok_r(NULL, ":", &save);
			if (!name || !start)
				continue;
			if (strcmp(name, "root") && strcmp(name, "0"))
				continue;
			char *end;
			errno = 0;
			unsigned long v = strtoul(start, &end, 10);
			if (!errno && end != start && v > 0 && v < 0xfffffffful)
				return v;
		}
	}
	return 100000;
}
