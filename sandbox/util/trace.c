/* trace.c: phase timing for profiling (see trace.h). */
#include "sandbox/util/trace.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static bool trace_on;
static struct timespec trace_t0;

void trace_init(void)
{
	trace_on = getenv("WSBOX_TRACE_PHASES") != NULL;
	clock_gettime(CLOCK_MONOTONIC, &trace_t0);
}

void trace_phase(const char *what)
{
	if (!trace_on)
		return;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	double ms = (double)(t.tv_sec - trace_t0.tv_sec) * 1e3 +
		    (double)(t.tv_nsec - trace_t0.tv_nsec) / 1e6;
	/* One write per line: the three processes share the stream. */
	fprintf(stderr, "wsbox[%d]: phase %-14s %7.2f ms\n", (int)getpid(),
		what, ms);
}
