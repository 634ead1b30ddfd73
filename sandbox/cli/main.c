/* main.c: the wsbox CLI entry. Dispatches the verb to its cmd_*() (see
 * commands.h); each verb parses its own options (and its --help) and returns
 * the exit status. Also `wsbox --version` and `wsbox help [VERB]`. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/cli/commands.h"
#include "sandbox/cli/exec_opts.h"
#include "sandbox/util/error.h"
#include "sandbox/util/trace.h"

/* Set by the Makefile from `git describe`, else its VERSION. */
#ifndef WSBOX_VERSION
#define WSBOX_VERSION "unknown"
#endif

static const struct verb {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} verbs[] = {
    {"exec", cmd_exec, "run one task in a fresh sandbox"},
    {"run", cmd_run, "run a pipeline file on this machine"},
    {"attempt", cmd_attempt, "one task in several steps: begin, step, commit"},
    {"doctor", cmd_doctor, "probe the kernel and host"},
    {"policy", cmd_policy, "list, show and check seccomp policies"},
    {"import", cmd_import, "record a host directory or tar as a task"},
    {"restore", cmd_restore, "materialize a task's workspace into a dir"},
    {"layers", cmd_layers, "list, show, verify, export and import layers"},
    {"runs", cmd_runs, "list, show and remove runs"},
    {"logs", cmd_logs, "print a task's output"},
    {"rootfs", cmd_rootfs, "import and list root filesystems"},
    {"gc", cmd_gc, "remove dead attempts and unreferenced layers"},
    {"push", cmd_push, "push a run's results to a remote registry"},
    {"pull", cmd_pull, "pull a task's ancestry from a remote registry"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: wsbox VERB [OPTIONS]\n\nverbs:\n");
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
		fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].help);
	fprintf(f, "\n`wsbox VERB --help` (or `wsbox help VERB`) describes a "
		   "verb's options;\n`wsbox --version` prints the version.\n"
		   "\nexec: wsbox exec [--store DIR] [--run RUN] [--task NAME] "
		   "[--parent P]... [OPTIONS] -- CMD [ARG...]\n"
		   "exit status: CMD's own; 128+N on signal N; 124 timeout; "
		   "125 wsbox error; 126 not executable; 127 not found\n");
}

static int unknown_verb(const char *name)
{
	struct wsbox_error err = {0};
	wsbox_fail(&err, 0, "unknown verb `%s` (see `wsbox help`)", name);
	return wsbox_error_exit(&err);
}

/* exec's options are parsed in exec_opts.c, whose --help stops the parse
 * (returns 1); answer it here so cmd_exec only ever sees a real task. */
static bool exec_wants_help(int argc, char **argv)
{
	struct exec_opts o;
	struct wsbox_error ignored = {0};
	int r = exec_opts_parse(argc, argv, &o, &ignored);
	exec_opts_free(&o);
	return r > 0;
}

static int dispatch(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) {
		if (strcmp(argv[0], verbs[i].name))
			continue;
		if (verbs[i].fn == cmd_exec && exec_wants_help(argc, argv)) {
			exec_opts_usage(stdout);
			return fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
		}
		return verbs[i].fn(argc, argv);
	}
	return unknown_verb(argv[0]);
}

int main(int argc, char **argv)
{
	trace_init();
	if (argc < 2) {
		usage(stderr);
		return WSBOX_EXIT_FAILURE;
	}
	const char *a = argv[1];
	if (!strcmp(a, "--version") || !strcmp(a, "version")) {
		printf("wsbox %s\n", WSBOX_VERSION);
		return fflush(stdout) == 0 ? 0 : WSBOX_EXIT_FAILURE;
	}
	if (!strcmp(a, "help") && argc > 2 && strcmp(argv[2], "help")) {
		/* `wsbox help VERB` is `wsbox VERB --help`. */
		char *help_argv[] = {argv[2], "--help", NULL};
		return dispatch(2, help_argv);
	}
	if (!strcmp(a, "help") || !strcmp(a, "--help") || !strcmp(a, "-h")) {
		usage(stdout);
		return 0;
	}
	return dispatch(argc - 1, argv + 1);
}
