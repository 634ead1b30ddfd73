/* Implementation of the error contract in error.h. Messages are bounded by
 * WSBOX_ERROR_MAX and silently truncated; control characters from hostile
 * names are escaped so the message stays one line. */
#include "sandbox/util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Replace bytes that would break the one-line contract (newline, escape
 * sequences from a hostile path) with '?'. */
static void sanitize_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void vformat(struct wsbox_error *err, int errnum, const char *fmt,
		    va_list ap)
{
	int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof err->msg)
		n = sizeof err->msg - 1;
	if (errnum)
		snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s",
			 strerror(errnum));
	sanitize_line(err->msg);
	err->errnum = errnum;
}

int wsbox_fail(struct wsbox_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vformat(err, errnum, fmt, ap);
	va_end(ap);
	err->status = WSBOX_EXIT_FAILURE;
	return errnum > 0 ? -errnum : -EINVAL;
}

int wsbox_fail_logic(struct wsbox_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vformat(err, 0, fmt, ap);
	va_end(ap);
	err->errnum = errnum;
	err->status = WSBOX_EXIT_FAILURE;
	return errnum > 0 ? -errnum : -EINVAL;
}

int wsbox_fail_status(struct wsbox_error *err, int status, int errnum,
		      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vformat(err, errnum, fmt, ap);
	va_end(ap);
	err->status = status;
	return errnum > 0 ? -errnum : -EINVAL;
}

void wsbox_error_prefix(struct wsbox_error *err, const char *fmt, ...)
{
	char old[WSBOX_ERROR_MAX];
	va_list ap;

	memcpy(old, err->msg, sizeof old);
	va_start(ap, fmt);
	int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n + 2 < sizeof err->msg) {
		/* Truncation of the old text is intended; say so with a
		 * precision so the compiler need not warn about it. */
		int room = (int)(sizeof err->msg - (size_t)n - 3);
		snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %.*s",
			 room, old);
	}
	sanitize_line(err->msg);
}

void wsbox_error_print(const struct wsbox_error *err)
{
	dprintf(STDERR_FILENO, "wsbox: %s\n",
		err->msg[0] ? err->msg : "unknown error");
}

int wsbox_error_exit(const struct wsbox_error *err)
{
	wsbox_error_print(err);
	return err->status ? err->status : WSBOX_EXIT_FAILURE;
}

void wsbox_die(int status, int errnum, const char *fmt, ...)
{
	struct wsbox_error err = {0};
	va_list ap;
	va_start(ap, fmt);
	vformat(&err, errnum, fmt, ap);
	va_end(ap);
	wsbox_error_print(&err);
	_exit(status);
}
