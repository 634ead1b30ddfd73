/* main.c: the wsbox CLI entry. Dispatches the verb to its cmd_*() (see
 * commands.h); each verb parses its own options and returns the exit
 * status. */
#include <stdio.h>
#include <string.h>

#include "sandbox/cli/commands.h"
#include "sandbox/util/error.h"
#include "sandbox/util/trace.h"

static const struct verb {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} verbs[] = {
    {"exec", cmd_exec, "run one task in a fresh sandbox"},
    {"doctor", cmd_doctor, "probe the kernel and host"},
    {"policy", cmd_policy, "list, show and check seccomp policies"},
    {"import", cmd_import, "record a host directory or tar as a task"},
    {"restore", cmd_restore, "materialize a task's workspace into a dir"},
    {"layers", cmd_layers, "list, show, verify, export and import layers"},
    {"runs", cmd_runs, "list, show and remove runs"},
    {"logs", cmd_logs, "print a task's output"},
    {"rootfs", cmd_rootfs, "import and list root filesystems"},
    {"gc", cmd_gc, "remove dead attempts and unreferenced layers"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: wsbox VERB [OPTIONS]\n\nverbs:\n");
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].help);
	fprintf(f, "\nexec: wsbox exec [--store DIR] [--run RUN] [--task NAME] "
		   "[--parent P]... [OPTIONS] -- CMD [ARG...]\n"
		   "exit status: CMD's own; 128+N on signal N; 124 timeout; "
		   "125 wsbox error; 126 not executable; 127 not found\n");
}

int main(int argc, char **argv)
{
	trace_init();
	if (argc < 2) {
		usage(stderr);
		return WSBOX_EXIT_FAILURE;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		if (!strcmp(argv[1], verbs[i].name))
			return verbs[i].fn(argc - 1, argv + 1);
	struct wsbox_error err = {0};
	wsbox_fail(&err, 0, "unknown verb `%s` (see `wsbox help`)", argv[1]);
	wsbox_error_print(&err);
	return WSBOX_EXIT_FAILURE;
}
