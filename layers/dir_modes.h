/* layers/dir_modes: deferred directory modes for the code that writes trees
 * from a list of entries (layers/apply.c for restore and flattening,
 * layers/import.c for imports). Directories are created writable so that
 * entries can go in; their own modes are applied at the end, deepest first
 * (a read-only parent would refuse its children's chmod otherwise), the last
 * mode noted for a path winning. */
#ifndef WSBOX_LAYERS_DIR_MODES_H
#define WSBOX_LAYERS_DIR_MODES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct dir_modes {
	struct dir_mode *v;
	size_t n, cap;
};

void dir_modes_note(struct dir_modes *d, const char *path, mode_t mode);

/* chmod every noted path below root (opened with open_beneath: no symlink
 * is followed) and set its atime and mtime to LAYER_MTIME (layers/layer.h;
 * done here, after the entries went in, because adding them moved it).
 * With skip_gone, a path that no longer is a directory (a later layer
 * replaced it) is skipped. Returns 0, or -errno with the path and the step
 * ("open", "chmod" or "set time of") that failed. */
int dir_modes_apply(struct dir_modes *d, int root, bool skip_gone,
		    const char **failed_path, const char **failed_step);

void dir_modes_free(struct dir_modes *d);

#endif
