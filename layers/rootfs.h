/* layers/rootfs: imported root filesystems. `wsbox rootfs import` extracts a
 * tar (e.g. `docker export`) into STORE/rootfs/<name>, which `--rootfs NAME`
 * then names; STORE/rootfs/<name>.digest holds the sha256 of the tar file. */
#ifndef WSBOX_LAYERS_ROOTFS_H
#define WSBOX_LAYERS_ROOTFS_H

#include "layers/store.h"
#include "sandbox/util/error.h"

/* Extract the tar `file` (plain, gzip, zstd, xz or bzip2; a regular file)
 * into staging with import_extract's IMPORT_ROOTFS rules, then publish it
 * as STORE/rootfs/<name>, atomically replacing an earlier one, and record
 * `sha256:<hex of the file's bytes>` in <name>.digest. On failure the store
 * is unchanged. Writes one note to stderr when entries were skipped or
 * setuid/setgid bits stripped. */
int rootfs_import(struct store *s, const char *file, const char *name,
		  struct wsbox_error *err);

/* The directory `--rootfs arg` means: a path when `arg` contains '/' or
 * starts with '.', else the imported rootfs of that name (`s` may be NULL:
 * then only paths). Returns a heap realpath in *out_dir. Refused (exit
 * 125): a directory on procfs, sysfs, devtmpfs or another kernel
 * filesystem. */
int rootfs_resolve(const struct store *s, const char *arg, char **out_dir,
		   struct wsbox_error *err);

/* Refuses a rootfs directory `dir` (a realpath) that is the store or one
 * of its ancestors, or below the store other than an imported rootfs
 * (rootfs/<name>), compared by device and inode; "/" (the host root,
 * where the store is covered) passes. 1: `dir` is an imported rootfs of
 * the store, 0: outside it. */
int rootfs_check_store(const struct store *s, const char *dir,
		       struct wsbox_error *err);

/* Identity of imported rootfs `name`: "sha256:<hex>" (heap), from its
 * .digest file; -ENOENT when it has none (e.g. a crash mid-replace). */
int rootfs_digest(const struct store *s, const char *name, char **out,
		  struct wsbox_error *err);

#endif
