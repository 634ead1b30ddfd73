/* layers/oci_tar: the OCI layer tar syntax that import.c reads and export.c
 * writes: whiteouts are empty files `.wh.<name>`, an opaque directory holds
 * `.wh..wh..opq`. Also what such a tar cannot carry, which capture refuses
 * so that every published layer can be exported and read back. */
#ifndef WSBOX_LAYERS_OCI_TAR_H
#define WSBOX_LAYERS_OCI_TAR_H

#include <limits.h>
#include <stdbool.h>
#include <string.h>

#define OCI_WH_PREFIX ".wh."
#define OCI_WH_OPAQUE ".wh..wh..opq"

/* The longest layer path: every reader of a layer (verify, restore,
 * export, flatten, apply) opens an entry by its path relative to the tree
 * in one openat2 call, and the kernel takes at most PATH_MAX bytes with
 * the NUL. */
#define OCI_TAR_PATH_MAX (PATH_MAX - 1)

/* The last component of a '/'-separated path (the path itself if none). */
static inline const char *oci_tar_last_component(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* A name the tar syntax reserves: as a plain file or directory it would
 * read back as a whiteout or an opaque marker. */
static inline bool oci_tar_reserved_name(const char *name)
{
	return !strncmp(name, OCI_WH_PREFIX, strlen(OCI_WH_PREFIX));
}

/* Why the layer path `path` (any entry type: the whiteout of a reserved
 * name is as inexpressible as the file) cannot go into an OCI layer tar
 * and come back as itself; NULL when it can. The one rule shared by
 * export (which refuses it) and capture (which refuses to publish it). */
static inline const char *oci_tar_refusal(const char *path)
{
	if (strlen(path) > OCI_TAR_PATH_MAX)
		return "path longer than 4095 bytes (PATH_MAX): no reader "
		       "of the layer could open it";
	if (oci_tar_reserved_name(oci_tar_last_component(path)))
		return "a name starting with `.wh.` cannot be represented in "
		       "an OCI layer";
	return NULL;
}

#endif
