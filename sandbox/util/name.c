/* sandbox/util/name.c: the refusal of an invalid name (name.h). */
#include "sandbox/util/name.h"

#include "sandbox/util/fs.h"

int name_check(const char *opt, const char *value, struct wsbox_error *err)
{
	if (valid_name(value))
		return 0;
	return wsbox_fail(err, 0, "%s `%s`: invalid name (want " NAME_RULE ")",
			  opt, value ? value : "");
}
