/* ns_user.c: the user namespace's id maps, written by the parent while the
 * child waits. Rootless, one id inside maps to the invoking user. As real
 * root, inside ids 0..N-1 map to an unprivileged subordinate range of the
 * host (root's /etc/subuid range, --idmap-base or the default), so chown
 * works inside and no task id is ever a host id that owns anything. This
 * file also resolves that range (refusing ids of other users, idrange.c)
 * and makes a user namespace carrying the same map for idmapped mounts
 * (idmap.c). */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/idrange.h"
#include "sandbox/ns.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

int idmap_format_range(char *buf, size_t size, unsigned long inside,
		       unsigned long outside, unsigned long count)
{
	int n = snprintf(buf, size, "%lu %lu %lu\n", inside, outside, count);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return 0;
}

int idmap_format(char *buf, size_t size, unsigned long inside,
		 unsigned long outside)
{
	return idmap_format_range(buf, size, inside, outside, 1);
}

static int write_proc_file(pid_t pid, const char *file, const char *content,
			   struct wsbox_error *err)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	return write_file_at(AT_FDCWD, path, content, err);
}

/* A range map starts at inside id 0 (the whole range is the task's to
 * chown into); a single-id map puts the one id where the task runs. */
static int write_maps(pid_t pid, uid_t uid, uid_t host_uid, gid_t gid,
		      gid_t host_gid, uid_t count, struct wsbox_error *err)
{
	char map[96];
	int r;

	/* setgroups must be denied before an unprivileged gid_map write; as
	 * root we deny it too so the task can never regain groups. */
	r = write_proc_file(pid, "setgroups", "deny", err);
	if (r < 0)
		return r;
	bool range = count > 1;
	if (idmap_format_range(map, sizeof map, range ? 0 : uid, host_uid,
			       range ? count : 1) < 0)
		return wsbox_fail(err, ENOSPC, "format uid_map");
	r = write_proc_file(pid, "uid_map", map, err);
	if (r < 0)
		return r;
	if (idmap_format_range(map, sizeof map, range ? 0 : gid, host_gid,
			       range ? count : 1) < 0)
		return wsbox_fail(err, ENOSPC, "format gid_map");
	return write_proc_file(pid, "gid_map", map, err);
}

int ns_user_write_maps(pid_t pid, const struct plan *plan,
		       struct wsbox_error *err)
{
	return write_maps(pid, plan->uid, plan->host_uid, plan->gid,
			  plan->host_gid, plan->id_count, err);
}

int ns_user_subid_range(const char *subid_file, unsigned long *start,
			unsigned long *count)
{
	_cleanup_fclose_ FILE *f = fopen(subid_file, "re");
	char line[256];
	if (!f)
		return -errno;
	while (fgets(line, sizeof line, f)) {
		char *save = NULL;
		char *name = strtok_r(line, ":", &save);
		char *first = strtok_r(NULL, ":", &save);
		char *len = strtok_r(NULL, ":\n", &save);
		if (!name || !first || !len)
			continue;
		if (strcmp(name, "root") && strcmp(name, "0"))
			continue;
		char *end1, *end2;
		errno = 0;
		/* Base 0, as shadow-utils reads it (idrange.c). */
		unsigned long v = strtoul(first, &end1, 0);
		unsigned long n = strtoul(len, &end2, 0);
		/* The first usable entry wins, as shadow-utils does; ranges
		 * that include 0 or run past the 32-bit id space are not
		 * usable at all. */
		if (errno || end1 == first || end2 == len || *first == '-' ||
		    *len == '-' || v == 0 || !n || v > 0xfffffffeUL ||
		    n > 0xffffffffUL - v)
			continue;
		*start = v;
		*count = n;
		return 0;
	}
	return -ENOENT;
}

unsigned long ns_user_root_host_id(const char *subid_file)
{
	unsigned long start, count;
	if (ns_user_subid_range(subid_file, &start, &count) == 0)
		return start;
	return NS_USER_DEFAULT_BASE;
}

/* Does [base, base + count) contain id? */
static bool range_has(unsigned long base, unsigned long count, unsigned long id)
{
	return id >= base && id - base < count;
}

int ns_user_root_ids(unsigned long base_opt, uid_t owner_uid, gid_t owner_gid,
		     struct ns_user_ids *ids, struct wsbox_error *err)
{
	return ns_user_root_ids_from(&IDRANGE_FILES_HOST, base_opt, owner_uid,
				     owner_gid, ids, err);
}

int ns_user_root_ids_from(const struct idrange_files *files,
			  unsigned long base_opt, uid_t owner_uid,
			  gid_t owner_gid, struct ns_user_ids *ids,
			  struct wsbox_error *err)
{
	unsigned long ub = NS_USER_DEFAULT_BASE, gb = NS_USER_DEFAULT_BASE;
	unsigned long uc = NS_USER_MIN_RANGE, gc = NS_USER_MIN_RANGE;
	const char *src = "the default range";
	bool from_root_entry = false;
	if (base_opt) {
		ub = gb = base_opt;
		src = "--idmap-base";
	} else {
		int ru = ns_user_subid_range(files->subuid, &ub, &uc);
		int rg = ns_user_subid_range(files->subgid, &gb, &gc);
		if ((ru == 0) != (rg == 0))
			return wsbox_fail(
			    err, 0,
			    "root has a range in %s but not in "
			    "%s: add both or pass --idmap-base",
			    ru == 0 ? "/etc/subuid" : "/etc/subgid",
			    ru == 0 ? "/etc/subgid" : "/etc/subuid");
		if (ru == 0) {
			src = "root's /etc/subuid, /etc/subgid range";
			from_root_entry = true;
			if (uc < NS_USER_MIN_RANGE || gc < NS_USER_MIN_RANGE)
				return wsbox_fail(
				    err, 0,
				    "root's range in %s has %lu ids; want at "
				    "least %lu (or pass --idmap-base)",
				    uc < NS_USER_MIN_RANGE ? "/etc/subuid"
							   : "/etc/subgid",
				    uc < NS_USER_MIN_RANGE ? uc : gc,
				    (unsigned long)NS_USER_MIN_RANGE);
		}
	}
	unsigned long count = uc < gc ? uc : gc;
	if (count > 0xffffffffUL - ub || count > 0xffffffffUL - gb)
		return wsbox_fail(err, 0,
				  "id range at %lu (%s): %lu ids run past the "
				  "last host id",
				  ub, src, count);
	/* A task must never map onto host root or onto whoever owns the
	 * store: either would give it the store's files. */
	if (range_has(ub, count, 0) || range_has(gb, count, 0) ||
	    range_has(ub, count, owner_uid) || range_has(gb, count, owner_gid))
		return wsbox_fail(err, 0,
				  "id range %lu..%lu (%s) contains host root "
				  "or the store owner (uid %u gid %u)",
				  ub, ub + count - 1, src, (unsigned)owner_uid,
				  (unsigned)owner_gid);
	/* Root mode is multi-tenant: no task may become an id some other
	 * user can enter (their subordinate range) or already is. */
	int r = idrange_check(
	    files, ub, gb, count,
	    from_root_entry ? "move root's /etc/subuid, /etc/subgid entry "
			      "or pick another range with --idmap-base"
			    : "pick another with --idmap-base or give "
			      "root its own /etc/subuid entry",
	    err);
	if (r < 0)
		return r;
	ids->host_uid = (uid_t)ub;
	ids->host_gid = (gid_t)gb;
	ids->count = (uid_t)count;
	return 0;
}

int ns_user_open_userns(const struct ns_user_ids *ids, struct wsbox_error *err)
{
	int hold[2];
	if (pipe2(hold, O_CLOEXEC) < 0)
		return wsbox_fail(err, errno, "pipe");
	/* A child that only exists to own a user namespace with the task's
	 * map: it waits for EOF on `hold`, which also ends it if we die. */
	struct clone_args args = {
	    .flags = CLONE_NEWUSER,
	    .exit_signal = SIGCHLD,
	};
	pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
	if (pid < 0) {
		int e = errno;
		close(hold[0]);
		close(hold[1]);
		return wsbox_fail(err, e, "create a user namespace for idmaps");
	}
	if (pid == 0) {
		char c;
		close(hold[1]);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(hold[0]);
	int fd = -1;
	int r = write_maps(pid, 0, ids->host_uid, 0, ids->host_gid, ids->count,
			   err);
	if (r == 0) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = wsbox_fail(err, errno, "open `%s`", path);
	}
	close(hold[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return r < 0 ? r : fd;
}
