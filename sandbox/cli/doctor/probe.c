/* doctor/probe.c: the child processes doctor probes run in (doctor.h).
 * Every probe that changes namespaces runs in a forked child, so the doctor
 * process itself is never altered; a hung child is killed by SIGALRM. */
#include "sandbox/cli/doctor/doctor.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/util/fs.h"

/* A probe child that neither answers nor dies within this is killed by
 * SIGALRM and reported as hung (e.g. a stuck FUSE or NFS temp dir). */
#define PROBE_TIMEOUT_SEC 20

_Static_assert(sizeof(struct child_reply) <= PIPE_BUF,
	       "reply must be written atomically");

/* Run fn in a forked child and collect its reply. The child may unshare
 * anything; it ends with _exit so no stdio buffer or atexit handler of the
 * doctor runs twice. Returns the child's rc (or -EIO if it died silently,
 * with the reason in rep->err). */
int probe_run_child(probe_fn fn, void *arg, struct child_reply *rep)
{
	int p[2];

	memset(rep, 0, sizeof *rep);
	if (pipe2(p, O_CLOEXEC) < 0)
		return rep->rc = wsbox_fail(&rep->err, errno, "pipe2");
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return rep->rc = wsbox_fail(&rep->err, e, "fork");
	}
	if (pid == 0) {
		struct child_reply out;
		close(p[0]);
		memset(&out, 0, sizeof out);
		/* SIG_IGN may be inherited across our exec; the alarm must
		 * kill a hung probe. */
		signal(SIGALRM, SIG_DFL);
		alarm(PROBE_TIMEOUT_SEC);
		out.rc = fn(arg, &out);
		(void)write_all(p[1], &out, sizeof out);
		_exit(0);
	}
	close(p[1]);
	ssize_t n = read_all(p[0], rep, sizeof *rep);
	int read_errno = n < 0 ? (int)-n : 0;
	close(p[0]);

	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			status = 0;
			break;
		}
	}
	if (n == (ssize_t)sizeof *rep)
		return rep->rc;
	memset(rep, 0, sizeof *rep);
	if (read_errno)
		wsbox_fail(&rep->err, read_errno, "read probe reply");
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		wsbox_fail(&rep->err, 0, "probe hung for %d s and was killed",
			   PROBE_TIMEOUT_SEC);
	else if (WIFSIGNALED(status))
		wsbox_fail(&rep->err, 0, "probe process killed by signal %d",
			   WTERMSIG(status));
	else
		wsbox_fail(&rep->err, 0, "probe process exited without reply");
	return rep->rc = -EIO;
}

/* Child side: become uid/gid 0 in a fresh user namespace, mapped to the
 * caller's own ids only (the map an unprivileged user may write itself). */
int probe_enter_userns(struct wsbox_error *err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER) < 0)
		return wsbox_fail(err, errno, "unshare(CLONE_NEWUSER)");
	return probe_map_self(uid, gid, err);
}

int probe_map_self(uid_t uid, gid_t gid, struct wsbox_error *err)
{
	char map[64];
	int r;

	snprintf(map, sizeof map, "0 %lu 1\n", (unsigned long)uid);
	r = write_file_at(AT_FDCWD, "/proc/self/uid_map", map, err);
	if (r < 0)
		return r;
	/* Absent before Linux 3.19, where gid_map needs no setgroups deny. */
	if (access("/proc/self/setgroups", F_OK) == 0) {
		r = write_file_at(AT_FDCWD, "/proc/self/setgroups", "deny",
				  err);
		if (r < 0)
			return r;
	}
	snprintf(map, sizeof map, "0 %lu 1\n", (unsigned long)gid);
	r = write_file_at(AT_FDCWD, "/proc/self/gid_map", map, err);
	if (r < 0)
		return r;
	if (getuid() != 0 || getgid() != 0)
		return wsbox_fail(err, 0, "ids inside are %lu:%lu, not 0:0",
				  (unsigned long)getuid(),
				  (unsigned long)getgid());
	return 0;
}

/* Child side: user + mount namespace, with no propagation back to the host
 * even if the caller's root mount is shared. */
int probe_enter_mountns(struct wsbox_error *err)
{
	int r = probe_enter_userns(err);
	if (r < 0)
		return r;
	if (unshare(CLONE_NEWNS) < 0)
		return wsbox_fail(err, errno, "unshare(CLONE_NEWNS)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return wsbox_fail(err, errno, "make / private");
	return 0;
}

const char *probe_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	return base && *base ? base : "/tmp";
}
