/* env_num.c: numeric knobs from the environment (env_num.h). */
#include "sandbox/util/env_num.h"

#include <errno.h>
#include <stdlib.h>

int env_num_in(const char *name, unsigned long lo, unsigned long hi,
	       unsigned long *out, struct wsbox_error *err)
{
	const char *env = getenv(name);
	if (!env || !*env)
		return 0;
	char *end;
	errno = 0;
	unsigned long v = strtoul(env, &end, 10);
	/* strtoul takes a sign and leading spaces: want digits only. */
	if (errno || *end || *env < '0' || *env > '9' || v < lo || v > hi)
		return wsbox_fail_logic(err, EINVAL, "%s=`%s`: want %lu..%lu",
					name, env, lo, hi);
	*out = v;
	return 1;
}
