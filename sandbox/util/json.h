/* sandbox/util/json: the two jansson constructors every JSON writer of
 * wsbox needs (records, cache entries, events). */
#ifndef WSBOX_UTIL_JSON_H
#define WSBOX_UTIL_JSON_H

#include <jansson.h>
#include <stddef.h>

/* A string, or JSON null for NULL. */
static inline json_t *json_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* An array of the n strings of v. */
static inline json_t *json_strv(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

#endif
