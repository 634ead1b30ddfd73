/* args.h: the command line of the store verbs (import, layers, logs,
 * restore, rootfs, runs), described by a table instead of a hand-written
 * loop in each (sandbox/cli/args.c). exec has its own table in exec_opts.c;
 * gc uses getopt_long. */
#ifndef WSBOX_CLI_ARGS_H
#define WSBOX_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

/* One option: `--name VALUE` / `--name=VALUE` sets *value; a flag (value
 * NULL) sets *flag. */
struct arg_opt {
	const char *name;
	const char **value;
	bool *flag;
};

struct args {
	const char *verb; /* names the verb in refusals */
	const struct arg_opt *opts;
	size_t n_opts;
	const char **pos; /* positional arguments, at most max_pos */
	size_t max_pos;
	size_t n_pos;	   /* out */
	const char *store; /* out: --store DIR, accepted by every store verb */
};

enum { ARGS_OK = 0, ARGS_HELP = 1 };

/* Parse argv[1..]. ARGS_HELP for -h/--help (the verb prints its usage on
 * stdout); a negative value after printing the one-line refusal (unknown
 * option, an option without its value, too many arguments), for which the
 * verb exits 125. */
int args_parse(struct args *a, int argc, char **argv);

#endif
