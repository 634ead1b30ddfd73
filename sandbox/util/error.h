/* The error contract shared by every module (after crun's libcrun_error_t):
 * functions return 0 or a negative errno-like value and fill a caller-owned
 * struct wsbox_error naming the object that failed. Only main() prints it, as
 * the single line `wsbox: <what>: <why>`, and turns it into an exit status. */
#ifndef WSBOX_UTIL_ERROR_H
#define WSBOX_UTIL_ERROR_H

#include <stddef.h>

/* Exit statuses of `wsbox exec` (docs/exec.md "Exit status"). */
enum wsbox_exit {
	WSBOX_EXIT_TIMEOUT = 124,
	WSBOX_EXIT_FAILURE = 125, /* wsbox itself failed or refused */
	WSBOX_EXIT_NOEXEC = 126,
	WSBOX_EXIT_NOTFOUND = 127,
};

#define WSBOX_ERROR_MAX 1024

struct wsbox_error {
	int errnum; /* errno behind the failure, 0 if none */
	int status; /* exit status main() should use (default 125) */
	char msg[WSBOX_ERROR_MAX]; /* "<what>: <why>", no trailing newline */
};

/* Record a failure; `errnum` (an errno, may be 0) supplies the "why" as
 * strerror when non-zero. Returns -errnum, or -EINVAL when errnum is 0, so
 * callers can write `return wsbox_fail(err, errno, "open `%s`", p);`. */
int wsbox_fail(struct wsbox_error *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A logical failure (no such task, a malformed record, a conflict): the
 * message carries no errno text, yet err->errnum and the return value are
 * -errnum, so callers can still tell e.g. ENOENT apart. */
int wsbox_fail_logic(struct wsbox_error *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like wsbox_fail but with an explicit exit status (e.g. 127 for a missing
 * command, 124 for a timeout). */
int wsbox_fail_status(struct wsbox_error *err, int status, int errnum,
		      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefix the existing message with more context: "ctx: old message". */
void wsbox_error_prefix(struct wsbox_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print `wsbox: <msg>` to stderr (one line). */
void wsbox_error_print(const struct wsbox_error *err);

/* Print the error and return the exit status it carries (125 by default):
 * the last line of every verb's failure path. */
int wsbox_error_exit(const struct wsbox_error *err);

/* Last resort for the child between clone() and execve(): print and _exit. */
_Noreturn void wsbox_die(int status, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
