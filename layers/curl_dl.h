/* layers/curl_dl: libcurl, loaded on first use, as layers/archive_dl does
 * for libarchive. Only a remote needs it, and linking it would load two
 * dozen libraries (nghttp2, ssh2, ldap, gssapi, idn2, ...) into every
 * `wsbox exec` (README "Performance"). The registry_*.c files include this
 * header (through registry_int.h) instead of <curl/curl.h>: each libcurl
 * function they call becomes a call through a pointer filled by dlsym,
 * typed from the library's own declaration. */
#ifndef WSBOX_LAYERS_CURL_DL_H
#define WSBOX_LAYERS_CURL_DL_H

/* curl.h's type-checking wrappers are macros named like the functions. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include "sandbox/util/error.h"

/* X(name) for every libcurl function the registry_*.c files use. */
#define WSBOX_CURL_FUNCS(X)                                                    \
	X(curl_global_init)                                                    \
	X(curl_easy_init)                                                      \
	X(curl_easy_cleanup)                                                   \
	X(curl_easy_reset)                                                     \
	X(curl_easy_setopt)                                                    \
	X(curl_easy_perform)                                                   \
	X(curl_easy_getinfo)                                                   \
	X(curl_easy_strerror)                                                  \
	X(curl_easy_escape)                                                    \
	X(curl_free)                                                           \
	X(curl_slist_append)                                                   \
	X(curl_slist_free_all)                                                 \
	X(curl_multi_init)                                                     \
	X(curl_multi_cleanup)                                                  \
	X(curl_multi_add_handle)                                               \
	X(curl_multi_remove_handle)                                            \
	X(curl_multi_perform)                                                  \
	X(curl_multi_poll)                                                     \
	X(curl_multi_info_read)                                                \
	X(curl_multi_strerror)

#define WSBOX_CURL_PTR(name) extern __typeof__(name) *wsbox_dl_##name;
WSBOX_CURL_FUNCS(WSBOX_CURL_PTR)
#undef WSBOX_CURL_PTR

/* Load libcurl once (dlopen + dlsym of every function above) and run its
 * global init. registry_open calls it first. */
int curl_dl_load(struct wsbox_error *err);

#ifndef WSBOX_CURL_DL_IMPL
/* curl.h keeps these two as argument-counting macros. The pointers are
 * called without `(*p)`: cppcheck's value flow never ends on
 * registry_http_setup's 30 setopt calls spelled that way. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init wsbox_dl_curl_global_init
#define curl_easy_init wsbox_dl_curl_easy_init
#define curl_easy_cleanup wsbox_dl_curl_easy_cleanup
#define curl_easy_reset wsbox_dl_curl_easy_reset
#define curl_easy_setopt wsbox_dl_curl_easy_setopt
#define curl_easy_perform wsbox_dl_curl_easy_perform
#define curl_easy_getinfo wsbox_dl_curl_easy_getinfo
#define curl_easy_strerror wsbox_dl_curl_easy_strerror
#define curl_easy_escape wsbox_dl_curl_easy_escape
#define curl_free wsbox_dl_curl_free
#define curl_slist_append wsbox_dl_curl_slist_append
#define curl_slist_free_all wsbox_dl_curl_slist_free_all
#define curl_multi_init wsbox_dl_curl_multi_init
#define curl_multi_cleanup wsbox_dl_curl_multi_cleanup
#define curl_multi_add_handle wsbox_dl_curl_multi_add_handle
#define curl_multi_remove_handle wsbox_dl_curl_multi_remove_handle
#define curl_multi_perform wsbox_dl_curl_multi_perform
#define curl_multi_poll wsbox_dl_curl_multi_poll
#define curl_multi_info_read wsbox_dl_curl_multi_info_read
#define curl_multi_strerror wsbox_dl_curl_multi_strerror
#endif

#endif
