/* init/: PID 1 of the sandbox. It forks the task, forwards the usual
 * termination and user signals to it, reaps every orphan, and when the task
 * exits kills whatever is left and reports how the task ended. Generic: it
 * knows nothing about mounts or policies (the caller's start_task does). */
#ifndef WSBOX_INIT_H
#define WSBOX_INIT_H

#include <stdint.h>

/* Message from the sandbox to the parent over the report pipe. */
enum init_report_kind {
	INIT_REPORT_EXITED = 1,
	INIT_REPORT_SIGNALED = 2,
	INIT_REPORT_SETUP_FAILED = 3, /* msg says why; status in code */
};

struct init_report {
	int32_t kind;
	int32_t code;
	char msg[1024];
};

/* Signals init forwards to the task (and the parent forwards to init). */
extern const int init_forwarded_signals[];
extern const int init_n_forwarded_signals;

/* Become the sandbox's init: fork; the child calls start_task(arg), which
 * must not return. Init then loops until the task exits, kills the rest of
 * the PID namespace, writes one report to report_fd and exits. */
_Noreturn void init_main(int report_fd, void (*start_task)(void *), void *arg);

/* Write a report (used for setup failures before init_main). */
void init_send_report(int fd, int kind, int code, const char *msg);

#endif
