/* sandbox/output: the supervisor's copy of the task's output (plan.tee):
 * every chunk read goes to the live copy in full and to the stored logs up
 * to plan.log_max_bytes, then one marker line (sandbox/util/logcap.h). The
 * sources are read to EOF whatever the logs take, so a task never blocks
 * nor sees EPIPE because its log is full. Parent side of monitor.c. */
#ifndef WSBOX_SANDBOX_OUTPUT_H
#define WSBOX_SANDBOX_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/plan.h"
#include "sandbox/sandbox.h"
#include "sandbox/util/logcap.h"

struct output {
	struct plan_tee tee[2];
	bool open[2]; /* tee[i].src not yet at EOF */
	int combined; /* the combined log, -1 when off or failed */
	struct log_cap cap[2];
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
