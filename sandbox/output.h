/* sandbox/output: the supervisor's copy of the task's output (plan.tee):
 * every chunk read goes to the live copy in full and to the stored logs up
 * to plan.log_max_bytes, then one marker line (sandbox/util/logcap.h). The
 * sources are read to EOF whatever the logs take, so a task never blocks
 * nor sees EPIPE because its log is full. Parent side of monitor.c. */
#ifndef WSBOX_SANDBOX_OUTPUT_H
#define WSBOX_SANDBOX_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/plan.h"
#include "sandbox/sandbox.h"
#include "sandbox/util/logcap.h"

/* Bytes of one read, and at most in one frame of the combined log. */
#define OUTPUT_CHUNK 65536
/* A combined log frame's header: [stream][4 bytes big-endian length]. */
#define OUTPUT_HEADER 5

struct output {
	struct plan_tee tee[2];
	bool open[2]; /* tee[i].src not yet at EOF */
	int combined; /* the combined log, -1 when off, failed or full */
	struct log_cap cap[2];
	/* The combined log's frame being filled: consecutive reads of one
	 * stream go into one frame, so a task writing a byte at a time does
	 * not cost a header per byte. */
	int pend_stream;
	size_t pend_len;
	unsigned char pend[OUTPUT_HEADER + OUTPUT_CHUNK];
	/* What the combined log holds and may hold (0: no bound): both
	 * streams' caps, their markers and an eighth of a cap for headers,
	 * which only a task alternating streams byte by byte reaches. */
	uint64_t combined_size, combined_max;
	bool combined_cut; /* combined_max reached, the marker written */
};

/* From the plan; the caps start from what the logs already hold. */
void output_init(struct output *o, const struct plan *p);
/* Copy what is available on tee[i].src; false at EOF (or a read error). */
bool output_pump(struct output *o, int i);
/* Copy `n` bytes of stream i (0 stdout, 1 stderr) read elsewhere (the
 * task's pty, sandbox/pty.c) as if they came from tee[i].src. */
void output_feed(struct output *o, int i, const char *buf, size_t n);
/* Every writer is gone: copy what is left, to EOF. */
void output_drain(struct output *o);
/* Which logs were cut, into res->log_truncated. */
void output_result(const struct output *o, struct sandbox_result *res);

#endif
