/* trace.h: WSBOX_TRACE_PHASES=1 prints, on stderr, the milliseconds since
 * the exec started at each named phase, from the parent, the sandbox's
 * init and the task alike (clone copies the clock's origin), tagged with
 * the pid. It is how tests/bench/PROFILE.md splits the start-up; off, each
 * call is one branch. */
#ifndef WSBOX_UTIL_TRACE_H
#define WSBOX_UTIL_TRACE_H

/* Read the environment and start the clock; call once, early, in the
 * process that later forks (the children inherit both). */
void trace_init(void);
void trace_phase(const char *what);

#endif
