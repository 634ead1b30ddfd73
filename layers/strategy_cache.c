/* layers/strategy_cache.c: read and write cache/strategy
 * (strategy_cache.h). A malformed file is a miss: the probe runs again and
 * rewrites it. */
#include "layers/strategy_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

#define STRATEGY_CACHE_MAX 4096

int strategy_cache_key(const struct store *s, char *buf, size_t cap,
		       struct wsbox_error *err)
{
	struct utsname u;
	struct statfs sf;
	struct stat st;
	if (uname(&u) < 0)
		return wsbox_fail(err, errno, "uname");
	if (fstatfs(s->fd, &sf) < 0 || fstat(s->fd, &st) < 0)
		return wsbox_fail(err, errno, "stat store `%s`", s->path);
	snprintf(buf, cap, "%s fs=%lx dev=%u:%u", u.release,
		 (unsigned long)sf.f_type, major(st.st_dev), minor(st.st_dev));
	return 0;
}

int strategy_cache_get(const struct store *s, const char *key, char **choice,
		       char **why)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	struct wsbox_error e = {0};
	if (read_file_at(s->fd, store_rel(STORE_STRATEGY), STRATEGY_CACHE_MAX,
			 &text, &len, &e) < 0)
		return 0;
	char *nl = memchr(text, '\n', len);
	if (!nl)
		return 0;
	*nl = '\0';
	char *t1 = strchr(text, '\t');
	char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
	if (!t2)
		return 0;
	*t1 = *t2 = '\0';
	if (strcmp(text, key) || !t1[1])
		return 0;
	*choice = xstrdup(t1 + 1);
	*why = xstrdup(t2 + 1);
	return 1;
}

int strategy_cache_put(const struct store *s, const char *key,
		       const char *choice, const char *why,
		       struct wsbox_error *err)
{
	_cleanup_free_ char *line = xasprintf("%s\t%s\t%s\n", key, choice, why);
	/* Tabs and newlines in `why` would make the line unreadable: it is
	 * a kernel message, so flatten them. */
	for (char *p = line + strlen(key) + 1; p[1]; p++)
		if (*p == '\n')
			*p = ' ';
	return atomic_write_at(s->fd, store_rel(STORE_STRATEGY), line,
			       strlen(line), 0600, err);
}
