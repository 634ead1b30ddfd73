/* layers/dir_modes.c: deferred directory modes (see dir_modes.h). */
#include "layers/dir_modes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layer.h"
#include "sandbox/util/fs.h"

struct dir_mode {
	char *path;
	mode_t mode;
	size_t seq, depth;
};

void dir_modes_note(struct dir_modes *d, const char *path, mode_t mode)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->v = xreallocarray(d->v, d->cap, sizeof *d->v);
	}
	size_t depth = 0;
	for (const char *p = path; *p; p++)
		depth += *p == '/';
	d->v[d->n] = (struct dir_mode){
	    .path = xstrdup(path), .mode = mode, .seq = d->n, .depth = depth};
	d->n++;
}

/* Deepest first; for one path, the last noted first. */
static int dir_mode_cmp(const void *pa, const void *pb)
{
	const struct dir_mode *a = pa, *b = pb;
	if (a->depth != b->depth)
		return a->depth > b->depth ? -1 : 1;
	int c = strcmp(a->path, b->path);
	if (c)
		return c;
	return a->seq > b->seq ? -1 : 1;
}

int dir_modes_apply(struct dir_modes *d, int root, bool skip_gone,
		    const char **failed_path, const char **failed_step)
{
	if (d->n > 1) /* qsort must not get NULL, even for 0 elements */
		qsort(d->v, d->n, sizeof *d->v, dir_mode_cmp);
	for (size_t i = 0; i < d->n; i++) {
		const struct dir_mode *m = &d->v[i];
		if (i > 0 && !strcmp(m->path, d->v[i - 1].path))
			continue;
		*failed_path = m->path;
		*failed_step = "open";
		int fd = open_beneath(root, m->path, O_RDONLY | O_DIRECTORY);
		if (skip_gone &&
		    (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP))
			continue;
		if (fd < 0)
			return fd;
		*failed_step = "chmod";
		int r = fchmod(fd, m->mode) < 0 ? -errno : 0;
		if (r == 0) {
			*failed_step = "set time of";
			r = layer_stamp_at(fd, NULL);
		}
		close(fd);
		if (r < 0)
			return r;
	}
	return 0;
}

void dir_modes_free(struct dir_modes *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].path);
	free(d->v);
	*d = (struct dir_modes){0};
}
