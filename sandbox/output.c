/* sandbox/output.c: the tee of the task's output to the live copy and the
 * capped logs (see output.h). A sink that fails (a closed terminal, a full
 * disk) is dropped, never the task. */
#include "sandbox/output.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/util/fs.h"

/* Room for the combined log's chunk header in front of the bytes: one
 * write per chunk (the format of layers/tasklog.h). */
#define OUTPUT_HEADER 5
#define OUTPUT_CHUNK 65536

void output_init(struct output *o, const struct plan *p)
{
	for (int i = 0; i < 2; i++) {
		o->tee[i] = p->tee[i];
		o->open[i] = p->n_tee > (size_t)i;
		struct stat st;
		int log = o->open[i] ? o->tee[i].dst[1] : -1;
		uint64_t size =
		    log >= 0 && fstat(log, &st) == 0 ? (uint64_t)st.st_size : 0;
		logcap_init(&o->cap[i], p->log_max_bytes, size);
	}
	o->combined = p->has_combined_log ? p->combined_log : -1;
}

/* One framed chunk of stream i into the combined log; the buffer has
 * OUTPUT_HEADER bytes of room in front of `n` bytes at buf. */
static void output_combined(struct output *o, int i, unsigned char *hdr,
			    size_t n)
{
	if (o->combined < 0 || n == 0)
		return;
	hdr[0] = (unsigned char)(i + 1);
	hdr[1] = (unsigned char)((uint32_t)n >> 24);
	hdr[2] = (unsigned char)((uint32_t)n >> 16);
	hdr[3] = (unsigned char)((uint32_t)n >> 8);
	hdr[4] = (unsigned char)n;
	if (write_all(o->combined, hdr, n + OUTPUT_HEADER) < 0)
		o->combined = -1;
}

/* The stored copies of what the cap admits; the marker once it is hit. */
static void output_store(struct output *o, int i, unsigned char *hdr, size_t n)
{
	struct plan_tee *t = &o->tee[i];
	bool cut_now;
	size_t keep = logcap_admit(
	    &o->cap[i], (const char *)hdr + OUTPUT_HEADER, n, &cut_now);
	if (keep && t->dst[1] >= 0 &&
	    write_all(t->dst[1], hdr + OUTPUT_HEADER, keep) < 0)
		t->dst[1] = -1;
	output_combined(o, i, hdr, keep);
	if (!cut_now)
		return;
	unsigned char mark[OUTPUT_HEADER + LOGCAP_MARKER_MAX];
	size_t m = logcap_marker(&o->cap[i], i ? "stderr" : "stdout",
				 (char *)mark + OUTPUT_HEADER);
	if (t->dst[1] >= 0 && write_all(t->dst[1], mark + OUTPUT_HEADER, m) < 0)
		t->dst[1] = -1;
	output_combined(o, i, mark, m);
}

/* The live copy, in full, then the stored ones. */
static void output_dispatch(struct output *o, int i, unsigned char *hdr,
			    size_t n)
{
	struct plan_tee *t = &o->tee[i];
	if (t->dst[0] >= 0 && write_all(t->dst[0], hdr + OUTPUT_HEADER, n) < 0)
		t->dst[0] = -1;
	output_store(o, i, hdr, n);
}

bool output_pump(struct output *o, int i)
{
	unsigned char buf[OUTPUT_HEADER + OUTPUT_CHUNK];
	ssize_t n = read(o->tee[i].src, buf + OUTPUT_HEADER, OUTPUT_CHUNK);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	output_dispatch(o, i, buf, (size_t)n);
	return true;
}

void output_feed(struct output *o, int i, const char *buf, size_t n)
{
	unsigned char chunk[OUTPUT_HEADER + OUTPUT_CHUNK];
	while (n > 0) {
		size_t k = n < OUTPUT_CHUNK ? n : OUTPUT_CHUNK;
		memcpy(chunk + OUTPUT_HEADER, buf, k);
		output_dispatch(o, i, chunk, k);
		buf += k;
		n -= k;
	}
}

void output_drain(struct output *o)
{
	for (int i = 0; i < 2; i++)
		while (o->open[i] && output_pump(o, i))
			;
	o->open[0] = o->open[1] = false;
}

void output_result(const struct output *o, struct sandbox_result *res)
{
	for (int i = 0; i < 2; i++)
		res->log_truncated[i] = o->cap[i].cut;
}
