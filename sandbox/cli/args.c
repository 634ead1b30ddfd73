/* args.c: table-driven parsing of the store verbs' command lines (see
 * args.h); every refusal goes through usage.c, so each verb names itself
 * and its --help the same way. */
#include "sandbox/cli/args.h"

#include <string.h>

#include "sandbox/cli/usage.h"

/* `--name` alone, or `--name=VALUE` (then *inline_value points past '='). */
static bool opt_matches(const char *name, const char *arg,
			const char **inline_value)
{
	size_t n = strlen(name);
	if (strncmp(arg, name, n))
		return false;
	if (arg[n] == '\0') {
		*inline_value = NULL;
		return true;
	}
	if (arg[n] == '=') {
		*inline_value = arg + n + 1;
		return true;
	}
	return false;
}

/* The option at argv[*i]: 1 when it was one of ours, 0 when not, a
 * negative value after a refusal. */
static int take_option(struct args *a, const struct arg_opt *o, int argc,
		       char **argv, int *i)
{
	const char *inline_value;
	if (!opt_matches(o->name, argv[*i], &inline_value))
		return 0;
	if (!o->value) {
		if (inline_value)
			return -usage_refuse(a->verb, "`%s` takes no value",
					     o->name);
		*o->flag = true;
		return 1;
	}
	if (inline_value) {
		*o->value = inline_value;
		return 1;
	}
	if (*i + 1 >= argc)
		return -usage_refuse(a->verb, "option `%s` needs a value",
				     o->name);
	*o->value = argv[++*i];
	return 1;
}

int args_parse(struct args *a, int argc, char **argv)
{
	const struct arg_opt store = {"--store", &a->store, NULL};
	a->n_pos = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help"))
			return ARGS_HELP;
		int r = take_option(a, &store, argc, argv, &i);
		for (size_t k = 0; r == 0 && k < a->n_opts; k++)
			r = take_option(a, &a->opts[k], argc, argv, &i);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		if (arg[0] == '-' && arg[1])
			return -usage_unknown_option(a->verb, arg);
		if (a->n_pos == a->max_pos)
			return -usage_refuse(a->verb,
					     "unexpected argument `%s`", arg);
		a->pos[a->n_pos++] = arg;
	}
	return ARGS_OK;
}
