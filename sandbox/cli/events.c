/* sandbox/cli/events.c: JSON-lines events (see events.h). */
#include "sandbox/cli/events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/util/fs.h"
#include "sandbox/util/json.h"

int events_open(struct events *ev, const char *spec, struct wsbox_error *err)
{
	memset(ev, 0, sizeof *ev);
	ev->fd = -1;
	if (!spec)
		return 0;
	if (!strcmp(spec, "-")) {
		ev->fd = STDERR_FILENO;
		return 0;
	}
	if (!strncmp(spec, "fd:", 3)) {
		char *end;
		errno = 0;
		long fd = strtol(spec + 3, &end, 10);
		if (errno || end == spec + 3 || *end || fd < 0 || fd > 65535)
			return wsbox_fail(err, 0, "--events `%s`: want fd:N",
					  spec);
		int fl = fcntl((int)fd, F_GETFL);
		if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
			return wsbox_fail(err, fl < 0 ? errno : EBADF,
					  "--events `%s`: fd not writable",
					  spec);
		/* Keep it out of the sandbox: no fd of wsbox but 0, 1, 2
		 * reaches the task (the sandbox closes the rest anyway). */
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
		ev->fd = (int)fd;
		return 0;
	}
	ev->fd = open(
	    spec, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY | O_CLOEXEC, 0600);
	if (ev->fd < 0)
		return wsbox_fail(err, errno, "--events `%s`", spec);
	ev->own_fd = true;
	return 0;
}

void events_emit(struct events *ev, const char *kind, json_t *fields)
{
	if (ev->fd < 0) {
		json_decref(fields);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	json_t *o = json_pack("{s:s, s:f, s:o, s:o, s:o}", "event", kind,
			      "time", (double)ts.tv_sec + ts.tv_nsec / 1e9,
			      "run", json_str_or_null(ev->run), "task",
			      json_str_or_null(ev->task), "attempt",
			      json_str_or_null(ev->attempt));
	if (!o) {
		json_decref(fields);
		return;
	}
	if (fields) {
		json_object_update(o, fields);
		json_decref(fields);
	}
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!line)
		return;
	size_t len = strlen(line);
	char *buf = xasprintf("%s\n", line);
	free(line);
	(void)write_all(ev->fd, buf, len + 1);
	free(buf);
}

void events_close(struct events *ev)
{
	if (ev->own_fd && ev->fd >= 0)
		close(ev->fd);
	ev->fd = -1;
}
