/* usage.c: the one-line refusal of a bad command line (usage.h), shared by
 * the verbs so every one names itself and its --help the same way. */
#include "sandbox/cli/usage.h"

#include <stdarg.h>
#include <stdio.h>

#include "sandbox/util/error.h"
#include "sandbox/util/name.h"

int usage_refuse(const char *verb, const char *fmt, ...)
{
	char what[WSBOX_ERROR_MAX / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	struct wsbox_error err = {0};
	wsbox_fail(&err, 0, "%s: %s (see `wsbox %s --help`)", verb, what, verb);
	return wsbox_error_exit(&err);
}

int usage_unknown_option(const char *verb, const char *arg)
{
	return usage_refuse(verb, "unknown option `%s`", arg);
}

int usage_refuse_name(const char *opt, const char *value)
{
	struct wsbox_error err = {0};
	name_check(opt, value, &err);
	return wsbox_error_exit(&err);
}
