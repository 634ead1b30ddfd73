/* sandbox/cli/events: the machine-readable side of `wsbox exec` for pipeline
 * engines (`--events FILE|-|fd:N`, docs/cache.md "Events"). One JSON
 * object per line, each with "event", "time" (Unix seconds), "run", "task"
 * and "attempt"; the kinds and their fields are documented in README
 * "Events" and docs/cache.md "Events".
 * Each line is written with one write() to an O_APPEND file, so engines may
 * point many concurrent execs at one file. */
#ifndef WSBOX_SANDBOX_EVENTS_H
#define WSBOX_SANDBOX_EVENTS_H

#include <jansson.h>
#include <stdbool.h>

#include "sandbox/util/error.h"

struct events {
	int fd; /* -1: events off */
	bool own_fd;
	const char *run, *task, *attempt; /* borrowed, set once known */
};

/* `spec`: NULL (off), "-" (stderr), "fd:N" (an fd inherited from the
 * engine), else a file path, created 0600 or appended to. */
int events_open(struct events *ev, const char *spec, struct wsbox_error *err);

/* Emit one event of `kind` with the members of `fields` (stolen; may be
 * NULL). Errors are ignored: events never change a task's outcome. */
void events_emit(struct events *ev, const char *kind, json_t *fields);

void events_close(struct events *ev);

#endif
