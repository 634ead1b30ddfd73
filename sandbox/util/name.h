/* sandbox/util/name: the one spelling of a refused name (runs, tasks,
 * parents, tenants, mutexes; docs/model.md "Names"), so the cli and the
 * mechanism below it say the same words. The rule itself is valid_name
 * (fs.h). */
#ifndef WSBOX_UTIL_NAME_H
#define WSBOX_UTIL_NAME_H

#include "sandbox/util/error.h"

/* The rule, for messages. */
#define NAME_RULE "[A-Za-z0-9][A-Za-z0-9._-]{0,127}"

/* 0 when `value` is a valid name; else err gets
 * "OPT `VALUE`: invalid name (want NAME_RULE)" and -EINVAL. */
int name_check(const char *opt, const char *value, struct wsbox_error *err);

#endif
