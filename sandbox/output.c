/* sandbox/output.c: the tee of the task's output to the live copy and the
 * capped logs (see output.h). A sink that fails (a closed terminal, a full
 * disk) is dropped, never the task. */
#include "sandbox/output.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/util/fs.h"

/* Kept free below combined_max for the closing marker's frame. */
#define COMBINED_ROOM (OUTPUT_HEADER + LOGCAP_MARKER_MAX)

static uint64_t fd_size(int fd)
{
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

void output_init(struct output *o, const struct plan *p)
{
	for (int i = 0; i < 2; i++) {
		o->tee[i] = p->tee[i];
		o->open[i] = p->n_tee > (size_t)i;
		int log = o->open[i] ? o->tee[i].dst[1] : -1;
		logcap_init(&o->cap[i], p->log_max_bytes, fd_size(log));
	}
	o->combined = p->has_combined_log ? p->combined_log : -1;
	o->pend_stream = -1;
	o->pend_len = 0;
	o->combined_cut = false;
	o->combined_size = fd_size(o->combined);
	uint64_t max = p->log_max_bytes;
	o->combined_max =
	    max ? 2 * (max + OUTPUT_HEADER + LOGCAP_MARKER_MAX) + max / 8 : 0;
	/* Frames stop at combined_max - COMBINED_ROOM, the closing marker
	 * goes past it: an earlier step of the attempt closed a log longer
	 * than that. */
	if (o->combined >= 0 && o->combined_max &&
	    o->combined_size > o->combined_max - COMBINED_ROOM) {
		o->combined = -1;
		o->combined_cut = true;
	}
}

static void combined_write(struct output *o, const unsigned char *frame,
			   size_t n)
{
	if (write_all(o->combined, frame, n) < 0)
		o->combined = -1;
	o->combined_size += n;
}

/* The last frame, once the combined log reached combined_max: said on
 * stderr's stream, on a line of its own, then the log takes no more. */
static void combined_close_full(struct output *o)
{
	unsigned char f[OUTPUT_HEADER + LOGCAP_MARKER_MAX];
	int m = snprintf((char *)f + OUTPUT_HEADER, LOGCAP_MARKER_MAX,
			 "\n[wsbox: combined log full at %" PRIu64
			 " bytes (--max-log-size); the rest is only in the "
			 "stdout and stderr logs]\n",
			 o->combined_size);
	size_t n = m > 0 && m < LOGCAP_MARKER_MAX ? (size_t)m : 0;
	f[0] = 2;
	f[1] = f[2] = f[3] = 0;
	f[4] = (unsigned char)n;
	if (n)
		combined_write(o, f, OUTPUT_HEADER + n);
	o->combined = -1;
	o->combined_cut = true;
}

/* Write the frame being filled. Room for the closing marker is always
 * left below combined_max. */
static void combined_flush(struct output *o)
{
	size_t n = o->pend_len;
	if (o->combined < 0 || n == 0)
		return;
	o->pend_len = 0;
	uint64_t room = COMBINED_ROOM;
	bool full =
	    o->combined_max &&
	    o->combined_size + room + OUTPUT_HEADER + n > o->combined_max;
	if (full) {
		uint64_t left = o->combined_max > o->combined_size + room
				    ? o->combined_max - o->combined_size - room
				    : 0;
		n = left > OUTPUT_HEADER ? (size_t)(left - OUTPUT_HEADER) : 0;
	}
	if (n) {
		unsigned char *h = o->pend;
		h[0] = (unsigned char)(o->pend_stream + 1);
		h[1] = (unsigned char)((uint32_t)n >> 24);
		h[2] = (unsigned char)((uint32_t)n >> 16);
		h[3] = (unsigned char)((uint32_t)n >> 8);
		h[4] = (unsigned char)n;
		combined_write(o, h, OUTPUT_HEADER + n);
	}
	if (full && o->combined >= 0)
		combined_close_full(o);
}

/* `n` bytes of stream i into the combined log, joined to the frame being
 * filled when it is the same stream's and there is room. */
static void output_combined(struct output *o, int i, const char *buf, size_t n)
{
	while (o->combined >= 0 && n > 0) {
		if (o->pend_len &&
		    (o->pend_stream != i || o->pend_len == OUTPUT_CHUNK))
			combined_flush(o);
		size_t k = OUTPUT_CHUNK - o->pend_len;
		if (k > n)
			k = n;
		memcpy(o->pend + OUTPUT_HEADER + o->pend_len, buf, k);
		o->pend_stream = i;
		o->pend_len += k;
		buf += k;
		n -= k;
	}
}

/* The stored copies of what the cap admits; the marker once it is hit. */
static void output_store(struct output *o, int i, const char *buf, size_t n)
{
	struct plan_tee *t = &o->tee[i];
	bool cut_now;
	size_t keep = logcap_admit(&o->cap[i], buf, n, &cut_now);
	if (keep && t->dst[1] >= 0 && write_all(t->dst[1], buf, keep) < 0)
		t->dst[1] = -1;
	output_combined(o, i, buf, keep);
	if (!cut_now)
		return;
	char mark[LOGCAP_MARKER_MAX];
	size_t m = logcap_marker(&o->cap[i], i ? "stderr" : "stdout", mark);
	if (t->dst[1] >= 0 && write_all(t->dst[1], mark, m) < 0)
		t->dst[1] = -1;
	output_combined(o, i, mark, m);
}

/* The live copy, in full, then the stored ones. */
static void output_dispatch(struct output *o, int i, const char *buf, size_t n)
{
	struct plan_tee *t = &o->tee[i];
	if (t->dst[0] >= 0 && write_all(t->dst[0], buf, n) < 0)
		t->dst[0] = -1;
	output_store(o, i, buf, n);
}

bool output_pump(struct output *o, int i)
{
	char buf[OUTPUT_CHUNK];
	ssize_t n = read(o->tee[i].src, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	output_dispatch(o, i, buf, (size_t)n);
	return true;
}

void output_feed(struct output *o, int i, const char *buf, size_t n)
{
	output_dispatch(o, i, buf, n);
}

void output_drain(struct output *o)
{
	for (int i = 0; i < 2; i++)
		while (o->open[i] && output_pump(o, i))
			;
	o->open[0] = o->open[1] = false;
	combined_flush(o);
}

void output_result(const struct output *o, struct sandbox_result *res)
{
	for (int i = 0; i < 2; i++)
		res->log_truncated[i] = o->cap[i].cut;
	res->log_truncated[2] = o->combined_cut;
}
