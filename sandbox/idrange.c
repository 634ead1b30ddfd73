/* idrange.c: the overlap check of root mode's id range against the host's
 * id databases (idrange.h). Another user's subordinate range is theirs to
 * enter with newuidmap, and a passwd or group id is a real identity: a task
 * mapped onto either could read, write or signal what that user owns (the
 * multi-tenant rule of docs/sandbox.md "Root mode"). */
#include "sandbox/idrange.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/util/cleanup.h"

/* Do [a, a + n) and [b, b + m) meet? (64-bit: no overflow for 32-bit ids.) */
static bool meets(unsigned long a, unsigned long n, unsigned long b,
		  unsigned long m)
{
	return a < b + m && b < a + n;
}

static void range_label(char *buf, size_t size, const char *what,
			unsigned long base, unsigned long count)
{
	snprintf(buf, size, "%s range %lu-%lu", what, base, base + count - 1);
}

static FILE *open_db(const char *path, struct wsbox_error *err, int *r)
{
	FILE *f = fopen(path, "re");
	*r = 0;
	if (!f && errno != ENOENT)
		*r = wsbox_fail(err, errno, "open `%s`", path);
	return f;
}

/* Root's own entries ("root:" or "0:") are where its range comes from. */
static bool is_root_name(const char *name)
{
	return !strcmp(name, "root") || !strcmp(name, "0");
}

static int check_subid(const char *path, const char *label, unsigned long base,
		       unsigned long count, const char *hint,
		       struct wsbox_error *err)
{
	int r;
	_cleanup_fclose_ FILE *f = open_db(path, err, &r);
	if (!f)
		return r;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	/* Whole lines, however long: a split one would hide its entry. */
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *e1, *e2;
		char *name = strtok_r(line, ":", &save);
		char *first = strtok_r(NULL, ":", &save);
		char *len = strtok_r(NULL, ":\n", &save);
		if (!name || !first || !len || is_root_name(name) ||
		    *first == '-' || *len == '-')
			continue;
		/* Base 0, as shadow-utils' getulong reads these fields:
		 * newuidmap grants "alice:0x70000000:0x10000" (hex) and
		 * "alice:0100000:65536" (octal, 32768-98303). */
		errno = 0;
		unsigned long v = strtoul(first, &e1, 0);
		unsigned long n = strtoul(len, &e2, 0);
		if (errno || *e1 || *e2 || !n || v > 0xffffffffUL ||
		    n > 0x100000000UL)
			continue;
		if (!meets(base, count, v, n))
			continue;
		/* A numeric name is a uid (shadow-utils accepts both). */
		bool numeric = name[strspn(name, "0123456789")] == '\0';
		return wsbox_fail(
		    err, 0, "%s: overlaps %s entry of %s %s (%lu-%lu); %s",
		    label, path, numeric ? "uid" : "user", name, v, v + n - 1,
		    hint);
	}
	if (ferror(f))
		return wsbox_fail(err, EIO, "read `%s`", path);
	return 0;
}

/* The lowest id of `f`'s entries (uids, or primary gids) in [base, base +
 * count), with its user's name; false when none is. */
static bool lowest_in_passwd(FILE *f, bool gids, unsigned long base,
			     unsigned long count, unsigned long *id, char *name,
			     size_t size)
{
	bool found = false;
	struct passwd *pw;
	rewind(f);
	while ((pw = fgetpwent(f))) {
		unsigned long v = gids ? pw->pw_gid : pw->pw_uid;
		if (!meets(base, count, v, 1) || (found && v >= *id))
			continue;
		found = true;
		*id = v;
		snprintf(name, size, "%s", pw->pw_name);
	}
	return found;
}

/* Users' own uids first (the likelier mistake: --idmap-base set to a
 * user's uid), then their primary gids; the lowest id is named. */
static int check_passwd(const char *path, const char *ulabel, unsigned long ub,
			const char *glabel, unsigned long gb,
			unsigned long count, const char *hint,
			struct wsbox_error *err)
{
	int r;
	_cleanup_fclose_ FILE *f = open_db(path, err, &r);
	if (!f)
		return r;
	unsigned long id;
	char name[256];
	if (lowest_in_passwd(f, false, ub, count, &id, name, sizeof name))
		return wsbox_fail(err, 0,
				  "%s: overlaps uid %lu of user %s in %s; %s",
				  ulabel, id, name, path, hint);
	if (lowest_in_passwd(f, true, gb, count, &id, name, sizeof name))
		return wsbox_fail(err, 0,
				  "%s: overlaps gid %lu of user %s in %s; %s",
				  glabel, id, name, path, hint);
	return 0;
}

static int check_group(const char *path, const char *label, unsigned long gb,
		       unsigned long count, const char *hint,
		       struct wsbox_error *err)
{
	int r;
	_cleanup_fclose_ FILE *f = open_db(path, err, &r);
	if (!f)
		return r;
	struct group *gr;
	while ((gr = fgetgrent(f)))
		if (meets(gb, count, gr->gr_gid, 1))
			return wsbox_fail(
			    err, 0,
			    "%s: overlaps gid %lu of group %s in %s; %s", label,
			    (unsigned long)gr->gr_gid, gr->gr_name, path, hint);
	return 0;
}

int idrange_check(const struct idrange_files *f, unsigned long ub,
		  unsigned long gb, unsigned long count, const char *hint,
		  struct wsbox_error *err)
{
	char ulabel[64], glabel[64];
	range_label(ulabel, sizeof ulabel, "id", ub, count);
	range_label(glabel, sizeof glabel, ub == gb ? "id" : "gid", gb, count);
	int r = check_subid(f->subuid, ulabel, ub, count, hint, err);
	if (r < 0)
		return r;
	r = check_subid(f->subgid, glabel, gb, count, hint, err);
	if (r < 0)
		return r;
	r = check_passwd(f->passwd, ulabel, ub, glabel, gb, count, hint, err);
	if (r < 0)
		return r;
	return check_group(f->group, glabel, gb, count, hint, err);
}
