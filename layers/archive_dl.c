/* layers/archive_dl.c: dlopen of libarchive on first use (see
 * archive_dl.h). */
#define WSBOX_ARCHIVE_DL_IMPL
#include "layers/archive_dl.h"

#include <dlfcn.h>
#include <errno.h>

#ifndef WSBOX_LIBARCHIVE_SONAME
#define WSBOX_LIBARCHIVE_SONAME "libarchive.so.13"
#endif

#define WSBOX_ARCHIVE_DEF(name) __typeof__(name) *wsbox_dl_##name;
WSBOX_ARCHIVE_FUNCS(WSBOX_ARCHIVE_DEF)
#undef WSBOX_ARCHIVE_DEF

int archive_dl_load(struct wsbox_error *err)
{
	static void *lib;
	if (lib)
		return 0;
	void *h = dlopen(WSBOX_LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return wsbox_fail(err, ENOENT, "load %s: %s",
				  WSBOX_LIBARCHIVE_SONAME, dlerror());
		/* dlsym returns void *; the pointer types come from
		 * <archive.h>. */
#define WSBOX_ARCHIVE_SYM(name)                                                \
	*(void **)&wsbox_dl_##name = dlsym(h, #name);                          \
	if (!wsbox_dl_##name) {                                                \
		int r = wsbox_fail(err, ENOENT, "%s: no symbol `%s`",          \
				   WSBOX_LIBARCHIVE_SONAME, #name);            \
		dlclose(h);                                                    \
		return r;                                                      \
	}
	WSBOX_ARCHIVE_FUNCS(WSBOX_ARCHIVE_SYM)
#undef WSBOX_ARCHIVE_SYM
	lib = h;
	return 0;
}
