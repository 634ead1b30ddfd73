/* sandbox/util/logcap.c: accounting of --max-log-size (see logcap.h). The
 * limit counts the task's bytes; the marker comes on top, so a cut log is
 * at most max + LOGCAP_MARKER_MAX bytes and is told apart from one that is
 * exactly max bytes long by its size alone. */
#include "sandbox/util/logcap.h"

#include <inttypes.h>
#include <stdio.h>

void logcap_init(struct log_cap *c, uint64_t max, uint64_t size)
{
	c->max = max;
	c->stored = size;
	c->cut = logcap_was_cut(max, size);
	/* An appended log's last byte is not known here: a marker then
	 * starts with a line break of its own. */
	c->at_bol = size == 0;
}

size_t logcap_admit(struct log_cap *c, const char *buf, size_t n, bool *cut_now)
{
	*cut_now = false;
	if (c->cut)
		return 0;
	size_t keep = n;
	if (c->max && c->stored + n > c->max) {
		keep = (size_t)(c->max - c->stored);
		c->cut = true;
		*cut_now = true;
	}
	if (keep)
		c->at_bol = buf[keep - 1] == '\n';
	c->stored += keep;
	return keep;
}

size_t logcap_marker(const struct log_cap *c, const char *stream,
		     char buf[LOGCAP_MARKER_MAX])
{
	const char *unit = "bytes";
	uint64_t v = c->max;
	if (v && v % (1ULL << 20) == 0) {
		unit = "MiB";
		v >>= 20;
	} else if (v && v % 1024 == 0) {
		unit = "KiB";
		v >>= 10;
	}
	int n = snprintf(buf, LOGCAP_MARKER_MAX,
			 "%s[wsbox: %.8s log truncated at %" PRIu64
			 " %s (--max-log-size); the rest was not stored]\n",
			 c->at_bol ? "" : "\n", stream, v, unit);
	if (n < 0)
		return 0;
	return (size_t)n < LOGCAP_MARKER_MAX ? (size_t)n
					     : LOGCAP_MARKER_MAX - 1;
}

bool logcap_was_cut(uint64_t max, uint64_t size)
{
	return max && size > max;
}
