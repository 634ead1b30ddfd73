/* layers/curl_dl.c: dlopen of libcurl on first use (see curl_dl.h). */
#define WSBOX_CURL_DL_IMPL
#include "layers/curl_dl.h"

#include <dlfcn.h>
#include <errno.h>

#ifndef WSBOX_LIBCURL_SONAME
#define WSBOX_LIBCURL_SONAME "libcurl.so.4"
#endif

#define WSBOX_CURL_DEF(name) __typeof__(name) *wsbox_dl_##name;
WSBOX_CURL_FUNCS(WSBOX_CURL_DEF)
#undef WSBOX_CURL_DEF

int curl_dl_load(struct wsbox_error *err)
{
	static void *lib;
	if (lib)
		return 0;
	void *h = dlopen(WSBOX_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return wsbox_fail(err, ENOENT, "load %s: %s",
				  WSBOX_LIBCURL_SONAME, dlerror());
		/* dlsym returns void *; the pointer types come from
		 * <curl/curl.h>. */
#define WSBOX_CURL_SYM(name)                                                   \
	*(void **)&wsbox_dl_##name = dlsym(h, #name);                          \
	if (!wsbox_dl_##name) {                                                \
		int r = wsbox_fail(err, ENOENT, "%s: no symbol `%s`",          \
				   WSBOX_LIBCURL_SONAME, #name);               \
		dlclose(h);                                                    \
		return r;                                                      \
	}
	WSBOX_CURL_FUNCS(WSBOX_CURL_SYM)
#undef WSBOX_CURL_SYM
	if (wsbox_dl_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		dlclose(h);
		return wsbox_fail(err, 0, "%s: curl_global_init failed",
				  WSBOX_LIBCURL_SONAME);
	}
	lib = h;
	return 0;
}
