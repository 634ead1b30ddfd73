/* sandbox/util/env_num: a tuning knob read from the environment, such as
 * $WSBOX_MAX_LOWERS or $WSBOX_POLICY_COMPILE_MS: a decimal number in a
 * closed range, refused with one line naming the variable and the range. */
#ifndef WSBOX_UTIL_ENV_NUM_H
#define WSBOX_UTIL_ENV_NUM_H

#include "sandbox/util/error.h"

/* 0 when `name` is unset or empty (*out untouched), 1 when it holds a
 * number in lo..hi (in *out); else err gets "NAME=`VALUE`: want LO..HI"
 * and -EINVAL. */
int env_num_in(const char *name, unsigned long lo, unsigned long hi,
	       unsigned long *out, struct wsbox_error *err);

#endif
