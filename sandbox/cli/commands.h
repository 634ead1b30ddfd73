/* The verbs of the wsbox CLI. main.c dispatches argv[1] to one of these; each
 * lives in its own sandbox/cli/<verb>.c and
 * returns the process exit status. argv[0] is the verb itself. */
#ifndef WSBOX_COMMANDS_H
#define WSBOX_COMMANDS_H

int cmd_exec(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_layers(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_rootfs(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_attempt(int argc, char **argv);

#endif
