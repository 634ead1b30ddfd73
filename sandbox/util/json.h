/* sandbox/util/json: the jansson constructors every JSON writer of wsbox
 * needs (records, cache entries, events). */
#ifndef WSBOX_UTIL_JSON_H
#define WSBOX_UTIL_JSON_H

#include <jansson.h>
#include <stdbool.h>
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

/* --max-log-size: which stored logs were cut (stdout, stderr, combined),
 * as records, steps and events spell it. */
static inline json_t *json_log_truncated(const bool cut[3])
{
	return json_pack("{s:b, s:b, s:b}", "stdout", cut[0], "stderr", cut[1],
			 "combined", cut[2]);
}

/* The flags of a "log_truncated" object OR-ed into cut (absent: false). */
static inline void json_log_truncated_merge(const json_t *o, bool cut[3])
{
	static const char *const key[3] = {"stdout", "stderr", "combined"};
	for (int i = 0; i < 3; i++)
		cut[i] |= json_is_true(json_object_get(o, key[i]));
}

#endif
