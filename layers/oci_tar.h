/* layers/oci_tar: the OCI layer tar syntax that import.c reads and export.c
 * writes: whiteouts are empty files `.wh.<name>`, an opaque directory holds
 * `.wh..wh..opq`. */
#ifndef WSBOX_LAYERS_OCI_TAR_H
#define WSBOX_LAYERS_OCI_TAR_H

#include <string.h>

#define OCI_WH_PREFIX ".wh."
#define OCI_WH_OPAQUE ".wh..wh..opq"

/* The last component of a '/'-separated path (the path itself if none). */
static inline const char *oci_tar_last_component(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

#endif
