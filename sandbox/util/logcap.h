/* sandbox/util/logcap: the size limit of a stored task log (--max-log-size,
 * docs/exec.md "Output and logs"). Accounting only: the supervisor asks how
 * much of each chunk it may still store and, once, writes the marker line;
 * the task's output is read (drained) either way, so a task never blocks on
 * a full log. Shared by the supervisor (sandbox/monitor.c) and the verbs. */
#ifndef WSBOX_UTIL_LOGCAP_H
#define WSBOX_UTIL_LOGCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 64 MiB per stream when --max-log-size is not given. */
#define LOGCAP_DEFAULT_MAX (64ULL << 20)
/* Longer than any marker logcap_marker writes. */
#define LOGCAP_MARKER_MAX 160

struct log_cap {
	uint64_t max;	 /* bytes of output kept at most; 0: no limit */
	uint64_t stored; /* bytes of output kept so far */
	bool cut;	 /* the limit was hit and the marker written */
	bool at_bol;	 /* the last byte kept ended a line (or none kept) */
};

/* A log that already holds `size` bytes (a multi-step attempt appends to
 * one log per stream): more than max means an earlier step cut it and
 * wrote the marker, so nothing more is kept nor marked. */
void logcap_init(struct log_cap *c, uint64_t max, uint64_t size);

/* How many of the `n` bytes at buf to keep; *cut_now is set when this
 * chunk reached the limit (the caller writes logcap_marker after the kept
 * part, once). */
size_t logcap_admit(struct log_cap *c, const char *buf, size_t n,
		    bool *cut_now);

/* The marker line for `stream` ("stdout"), starting a line of its own;
 * its length. */
size_t logcap_marker(const struct log_cap *c, const char *stream,
		     char buf[LOGCAP_MARKER_MAX]);

/* Whether a finished log of `size` bytes was cut at `max` (the marker
 * makes it longer than the limit). */
bool logcap_was_cut(uint64_t max, uint64_t size);

#endif
