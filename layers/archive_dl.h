/* layers/archive_dl: libarchive, loaded on first use. Only `layers
 * export|import` and `rootfs import` need it, and linking it pulls in a dozen
 * libraries (libxml2, ICU, libstdc++, compressors: ~3 ms and ~3 MB per
 * process at start-up, README "Performance"), which every `wsbox exec` would
 * pay. import.c and export.c include this header after <archive.h>: each
 * libarchive function they call becomes a call through a pointer filled by
 * dlsym, with the exact type of the library's own declaration. */
#ifndef WSBOX_LAYERS_ARCHIVE_DL_H
#define WSBOX_LAYERS_ARCHIVE_DL_H

#include <archive.h>
#include <archive_entry.h>

#include "sandbox/util/error.h"

/* X(name) for every libarchive function import.c and export.c use. */
#define WSBOX_ARCHIVE_FUNCS(X)                                                 \
	X(archive_errno)                                                       \
	X(archive_error_string)                                                \
	X(archive_read_new)                                                    \
	X(archive_read_free)                                                   \
	X(archive_read_support_format_tar)                                     \
	X(archive_read_support_filter_gzip)                                    \
	X(archive_read_support_filter_bzip2)                                   \
	X(archive_read_support_filter_xz)                                      \
	X(archive_read_support_filter_zstd)                                    \
	X(archive_read_open_filename)                                          \
	X(archive_read_open_fd)                                                \
	X(archive_read_next_header)                                            \
	X(archive_read_data_block)                                             \
	X(archive_write_new)                                                   \
	X(archive_write_free)                                                  \
	X(archive_write_close)                                                 \
	X(archive_write_header)                                                \
	X(archive_write_data)                                                  \
	X(archive_write_open_fd)                                               \
	X(archive_write_add_filter_gzip)                                       \
	X(archive_write_add_filter_zstd)                                       \
	X(archive_write_set_filter_option)                                     \
	X(archive_write_set_format_option)                                     \
	X(archive_write_set_format_pax_restricted)                             \
	X(archive_entry_new)                                                   \
	X(archive_entry_free)                                                  \
	X(archive_entry_pathname)                                              \
	X(archive_entry_copy_pathname)                                         \
	X(archive_entry_symlink)                                               \
	X(archive_entry_copy_symlink)                                          \
	X(archive_entry_hardlink)                                              \
	X(archive_entry_filetype)                                              \
	X(archive_entry_set_filetype)                                          \
	X(archive_entry_mode)                                                  \
	X(archive_entry_set_perm)                                              \
	X(archive_entry_size)                                                  \
	X(archive_entry_set_size)                                              \
	X(archive_entry_size_is_set)                                           \
	X(archive_entry_set_uid)                                               \
	X(archive_entry_set_gid)                                               \
	X(archive_entry_set_mtime)                                             \
	X(archive_entry_sparse_add_entry)                                      \
	X(archive_entry_xattr_reset)                                           \
	X(archive_entry_xattr_next)

#define WSBOX_ARCHIVE_PTR(name) extern __typeof__(name) *wsbox_dl_##name;
WSBOX_ARCHIVE_FUNCS(WSBOX_ARCHIVE_PTR)
#undef WSBOX_ARCHIVE_PTR

/* Load libarchive once (dlopen + dlsym of every function above). Every
 * public entry of import.c and export.c calls it first. */
int archive_dl_load(struct wsbox_error *err);

#ifndef WSBOX_ARCHIVE_DL_IMPL
/* From here on, calls go through the pointers. */
#define archive_errno (*wsbox_dl_archive_errno)
#define archive_error_string (*wsbox_dl_archive_error_string)
#define archive_read_new (*wsbox_dl_archive_read_new)
#define archive_read_free (*wsbox_dl_archive_read_free)
#define archive_read_support_format_tar                                        \
	(*wsbox_dl_archive_read_support_format_tar)
#define archive_read_support_filter_gzip                                       \
	(*wsbox_dl_archive_read_support_filter_gzip)
#define archive_read_support_filter_bzip2                                      \
	(*wsbox_dl_archive_read_support_filter_bzip2)
#define archive_read_support_filter_xz                                         \
	(*wsbox_dl_archive_read_support_filter_xz)
#define archive_read_support_filter_zstd                                       \
	(*wsbox_dl_archive_read_support_filter_zstd)
#define archive_read_open_filename (*wsbox_dl_archive_read_open_filename)
#define archive_read_open_fd (*wsbox_dl_archive_read_open_fd)
#define archive_read_next_header (*wsbox_dl_archive_read_next_header)
#define archive_read_data_block (*wsbox_dl_archive_read_data_block)
#define archive_write_new (*wsbox_dl_archive_write_new)
#define archive_write_free (*wsbox_dl_archive_write_free)
#define archive_write_close (*wsbox_dl_archive_write_close)
#define archive_write_header (*wsbox_dl_archive_write_header)
#define archive_write_data (*wsbox_dl_archive_write_data)
#define archive_write_open_fd (*wsbox_dl_archive_write_open_fd)
#define archive_write_add_filter_gzip (*wsbox_dl_archive_write_add_filter_gzip)
#define archive_write_add_filter_zstd (*wsbox_dl_archive_write_add_filter_zstd)
#define archive_write_set_filter_option                                        \
	(*wsbox_dl_archive_write_set_filter_option)
#define archive_write_set_format_option                                        \
	(*wsbox_dl_archive_write_set_format_option)
#define archive_write_set_format_pax_restricted                                \
	(*wsbox_dl_archive_write_set_format_pax_restricted)
#define archive_entry_new (*wsbox_dl_archive_entry_new)
#define archive_entry_free (*wsbox_dl_archive_entry_free)
#define archive_entry_pathname (*wsbox_dl_archive_entry_pathname)
#define archive_entry_copy_pathname (*wsbox_dl_archive_entry_copy_pathname)
#define archive_entry_symlink (*wsbox_dl_archive_entry_symlink)
#define archive_entry_copy_symlink (*wsbox_dl_archive_entry_copy_symlink)
#define archive_entry_hardlink (*wsbox_dl_archive_entry_hardlink)
#define archive_entry_filetype (*wsbox_dl_archive_entry_filetype)
#define archive_entry_set_filetype (*wsbox_dl_archive_entry_set_filetype)
#define archive_entry_mode (*wsbox_dl_archive_entry_mode)
#define archive_entry_set_perm (*wsbox_dl_archive_entry_set_perm)
#define archive_entry_size (*wsbox_dl_archive_entry_size)
#define archive_entry_set_size (*wsbox_dl_archive_entry_set_size)
#define archive_entry_size_is_set (*wsbox_dl_archive_entry_size_is_set)
#define archive_entry_set_uid (*wsbox_dl_archive_entry_set_uid)
#define archive_entry_set_gid (*wsbox_dl_archive_entry_set_gid)
#define archive_entry_set_mtime (*wsbox_dl_archive_entry_set_mtime)
#define archive_entry_sparse_add_entry                                         \
	(*wsbox_dl_archive_entry_sparse_add_entry)
#define archive_entry_xattr_reset (*wsbox_dl_archive_entry_xattr_reset)
#define archive_entry_xattr_next (*wsbox_dl_archive_entry_xattr_next)
#endif

#endif
