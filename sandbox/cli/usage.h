/* usage.h: the one-line refusal every verb prints for a bad command line,
 * pointing at the verb's own --help (sandbox/cli/usage.c). */
#ifndef WSBOX_CLI_USAGE_H
#define WSBOX_CLI_USAGE_H

/* Print `wsbox: VERB: <message> (see `wsbox VERB --help`)` and return 125. */
int usage_refuse(const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The same for the common case: `unknown option `ARG``. */
int usage_unknown_option(const char *verb, const char *arg);

/* `wsbox: OPT `V`: invalid name (want ...)`, the name rule of runs, tasks
 * and parents; returns 125. */
int usage_refuse_name(const char *opt, const char *value);

#endif
