/* mountinfo.h: the lines of /proc/self/mountinfo as fields (proc(5)):
 * "ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS...] - FSTYPE SOURCE SUPER".
 * Paths come unescaped (the kernel writes space, tab, newline and
 * backslash as \ooo). */
#ifndef WSBOX_UTIL_MOUNTINFO_H
#define WSBOX_UTIL_MOUNTINFO_H

#include <stdbool.h>
#include <stdint.h>

#include "sandbox/util/error.h"

/* Pointers into the buffer mountinfo_next() was given. */
struct mount_entry {
	uint64_t id, parent;
	unsigned major, minor;
	const char *root;  /* the mounted tree's path in its filesystem */
	const char *point; /* where it is mounted, in this namespace */
	const char *fstype;
	const char *source;
	const char *super_opts;
};

/* The mount table of this process's mount namespace, NUL-terminated, on
 * the heap. A namespace of more than MOUNTINFO_MAX bytes is refused
 * (EFBIG) rather than read in part: a missing line could be the one a
 * caller looks for. */
#define MOUNTINFO_MAX (16u << 20)
int mountinfo_read(char **out, struct wsbox_error *err);

/* The next well-formed line at *cursor into *e, splitting the buffer in
 * place; *cursor moves past it. Malformed lines are skipped. False at the
 * end of the buffer. */
bool mountinfo_next(char **cursor, struct mount_entry *e);

/* Read the table into *buf (the caller frees it; *e points into it) and
 * find its first line that match(e, ctx) accepts: 1 when found, 0 when
 * none is, or a negative errno. */
typedef bool (*mountinfo_match_fn)(const struct mount_entry *e,
				   const void *ctx);
int mountinfo_find(char **buf, mountinfo_match_fn match, const void *ctx,
		   struct mount_entry *e, struct wsbox_error *err);

#endif
