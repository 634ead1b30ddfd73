/* layers/lock.c: flock-based store locks (see lock.h). */
#include "layers/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

int store_lock(const struct store *s, const char *rel, bool exclusive,
	       struct wsbox_error *err)
{
	int fd =
	    openat(s->fd, rel, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		_cleanup_free_ char *dir = xasprintf("%s/%s", s->path, rel);
		*strrchr(dir, '/') = '\0';
		int r = mkdir_p(dir, 0700, err);
		if (r < 0)
			return r;
		fd = openat(s->fd, rel,
			    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return wsbox_fail(err, errno, "lock `%s/%s`", s->path, rel);
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(fd);
		return wsbox_fail(err, e, "lock `%s/%s`", s->path, rel);
	}
	return fd;
}

void store_unlock(int *fd)
{
	if (*fd >= 0) {
		/* close() drops the flock; explicit unlock first so a dup
		 * that might exist elsewhere does not keep it. */
		flock(*fd, LOCK_UN);
		close(*fd);
	}
	*fd = -1;
}
