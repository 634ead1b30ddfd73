/* Implementation of mountinfo.h. */
#include "sandbox/util/mountinfo.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/util/fs.h"

int mountinfo_read(char **out, struct wsbox_error *err)
{
	return read_file_at(AT_FDCWD, "/proc/self/mountinfo", MOUNTINFO_MAX,
			    out, NULL, err);
}

/* Undo the kernel's \ooo escapes in place. */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' &&
		    r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 +
				      (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* The next space-separated field of *s, NUL-terminated; NULL when none. */
static char *field(char **s)
{
	char *f = *s;
	while (*f == ' ')
		f++;
	if (!*f)
		return NULL;
	char *end = strchr(f, ' ');
	if (end) {
		*end = '\0';
		*s = end + 1;
	} else {
		*s = f + strlen(f);
	}
	return f;
}

static bool parse_line(char *line, struct mount_entry *e)
{
	char *sep = strstr(line, " - ");
	if (!sep)
		return false;
	*sep = '\0';
	char *tail = sep + 3;
	char *s = line;
	char *id = field(&s), *parent = field(&s), *dev = field(&s);
	char *root = field(&s), *point = field(&s);
	char *fstype = field(&tail), *source = field(&tail);
	char *super = field(&tail);
	if (!id || !parent || !dev || !root || !point || !fstype || !source)
		return false;
	char *end;
	e->id = strtoull(id, &end, 10);
	if (*end)
		return false;
	e->parent = strtoull(parent, &end, 10);
	if (*end || sscanf(dev, "%u:%u", &e->major, &e->minor) != 2)
		return false;
	unescape_octal(root);
	unescape_octal(point);
	unescape_octal(source);
	e->root = root;
	e->point = point;
	e->fstype = fstype;
	e->source = source;
	e->super_opts = super ? super : "";
	return true;
}

bool mountinfo_next(char **cursor, struct mount_entry *e)
{
	while (**cursor) {
		char *line = *cursor;
		char *nl = strchr(line, '\n');
		if (nl) {
			*nl = '\0';
			*cursor = nl + 1;
		} else {
			*cursor = line + strlen(line);
		}
		if (parse_line(line, e))
			return true;
	}
	return false;
}

int mountinfo_find(char **buf, mountinfo_match_fn match, const void *ctx,
		   struct mount_entry *e, struct wsbox_error *err)
{
	int r = mountinfo_read(buf, err);
	if (r < 0)
		return r;
	for (char *cur = *buf; mountinfo_next(&cur, e);)
		if (match(e, ctx))
			return 1;
	return 0;
}
