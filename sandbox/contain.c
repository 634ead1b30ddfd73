/* contain.c: the child side of sandbox_run, in order. After clone3() the
 * child waits for its id maps, builds the filesystem, names the host, brings
 * up lo, locks down user namespaces, and becomes init; init forks the task,
 * which drops everything and execs CMD. The whole sequence reads top to
 * bottom in contain_child() and task_start(). */
#include "sandbox/contain.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/securebits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init/init.h"
#include "sandbox/landlock.h"
#include "sandbox/notify.h"
#include "sandbox/ns.h"
#include "sandbox/pty.h"
#include "sandbox/seal.h"
#include "sandbox/util/fdpass.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/trace.h"

/* The slave of the task's own pty (plan->pty_stdio), opened by the child
 * before it becomes init, for task_start; -1 without. */
static int task_pty_slave = -1;

static _Noreturn void setup_failed(int report_fd, const struct wsbox_error *err)
{
	init_send_report(report_fd, INIT_REPORT_SETUP_FAILED,
			 err->status ? err->status : WSBOX_EXIT_FAILURE,
			 err->msg);
	_exit(WSBOX_EXIT_FAILURE);
}

/* Become the task's identity while keeping this process's capabilities in
 * the new user namespace: files the overlay creates on our behalf (it
 * remembers the mounter's credentials) must belong to the task's id. */
static int become_task_ids(const struct plan *plan, struct wsbox_error *err)
{
	if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) < 0)
		return wsbox_fail(err, errno, "set securebits");
	if (setresgid(plan->gid, plan->gid, plan->gid) < 0)
		return wsbox_fail(err, errno, "setresgid %u", plan->gid);
	if (setresuid(plan->uid, plan->uid, plan->uid) < 0)
		return wsbox_fail(err, errno, "setresuid %u", plan->uid);
	return 0;
}

static int apply_rlimits(const struct plan *plan, struct wsbox_error *err)
{
	/* Without a usable cgroup (sandbox/cgroup.c) these are the nearest
	 * bounds, per process and weaker: RLIMIT_AS counts address space,
	 * not memory, and a hit is ENOMEM for the task, not a kill. The
	 * kernel (>= 5.14) counts RLIMIT_NPROC per user namespace, so it is
	 * this sandbox's process count. --cpus has no rlimit: RLIMIT_CPU is
	 * total CPU seconds with a kill, not a rate (monitor.c warns). */
	if (plan->limits.via_cgroup)
		return 0; /* the cgroup leaf holds them, with real accounting */
	if (plan->limits.memory_bytes) {
		struct rlimit rl = {plan->limits.memory_bytes,
				    plan->limits.memory_bytes};
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			return wsbox_fail(err, errno, "setrlimit memory");
	}
	if (plan->limits.pids) {
		struct rlimit rl = {plan->limits.pids, plan->limits.pids};
		if (setrlimit(RLIMIT_NPROC, &rl) < 0)
			return wsbox_fail(err, errno, "setrlimit pids");
	}
	return 0;
}

/* The task, PID 2: last steps before execve. Errors here go to the task's
 * stderr (the user's), with the exit status a shell would use. */
static void task_start(void *arg)
{
	const struct plan *plan = arg;

	/* A new session: no controlling terminal to push input into
	 * (TIOCSTI), and its own process group for signals. */
	/* Traced before stdio becomes the task's (and its logs'). */
	trace_phase("task forked");
	setsid();
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL);
	for (int i = 0; i < 3; i++) {
		int fd = plan->pty_stdio & (1u << i) ? task_pty_slave
						     : plan->stdio[i];
		if (fd >= 0 && dup2(fd, i) < 0)
			wsbox_die(WSBOX_EXIT_FAILURE, errno, "dup2 stdio");
	}
	/* Its own pty is the task's controlling terminal (job control, ^C
	 * as SIGINT, /dev/tty), never the caller's. */
	if (task_pty_slave >= 0 && ioctl(task_pty_slave, TIOCSCTTY, 0) < 0)
		wsbox_die(WSBOX_EXIT_FAILURE, errno, "controlling terminal");
	/* Denied-syscall reporting: the socket to the supervisor stays, as
	 * fd 3 and close-on-exec, until the listener is sent over it. */
	int sock = notify_task_sock();
	if (sock >= 0 && sock != 3 && dup3(sock, 3, O_CLOEXEC) < 0)
		wsbox_die(WSBOX_EXIT_FAILURE, errno, "dup3 listener socket");
	/* Only 0, 1, 2 cross into the task (CVE-2024-21626 class), and they
	 * are closed before chdir so that `--cwd /proc/self/fd/N` cannot
	 * name a directory init inherited from outside the root. */
	if (syscall(SYS_close_range, sock >= 0 ? 4 : 3, ~0U, 0) < 0)
		wsbox_die(WSBOX_EXIT_FAILURE, errno, "close_range");
	if (chdir(plan->cwd) < 0)
		wsbox_die(WSBOX_EXIT_FAILURE, errno, "chdir `%s`", plan->cwd);
	/* A directory passed as stdio could still lead outside: the cwd must
	 * be reachable from the root (runc's check for the same CVE; getcwd
	 * fails with ENOENT for an unreachable cwd). */
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	if (!cwd || cwd[0] != '/')
		wsbox_die(WSBOX_EXIT_FAILURE, cwd ? ENOENT : errno,
			  "cwd `%s` is outside the root", plan->cwd);
	/* The task's rlimits, set here rather than in init: they bound the
	 * task and its children, and wsbox's own init (which may need more
	 * address space, e.g. under ASan) keeps working to report. */
	struct wsbox_error lerr = {0};
	int r;
	if (apply_rlimits(plan, &lerr) < 0)
		wsbox_die(WSBOX_EXIT_FAILURE, 0, "%s", lerr.msg);
	/* Landlock scoping (sandbox/landlock.c): no abstract unix socket and
	 * no signal reaches outside this task's domain, so tasks of other
	 * runs cannot meet over an abstract socket with --net host (and pass
	 * fds into each other's workspaces, issue 19 item 6) nor signal what
	 * a pidfd or a shared uid would let them. Silently absent before
	 * Landlock ABI 6 (`wsbox doctor` says so). */
	r = landlock_scope_self();
	if (r < 0)
		wsbox_die(WSBOX_EXIT_FAILURE, -r, "landlock scoping");
	/* execvp() searches the caller's PATH: switch environments first. */
	environ = (char **)plan->envp;
	r = sock >= 0 ? policy_install_reporting(plan->policy, 3)
		      : policy_install(plan->policy);
	if (r < 0)
		wsbox_die(WSBOX_EXIT_FAILURE, -r, "install seccomp policy");
	if (sock >= 0)
		close(3); /* after sendmsg: a notified close is answered */
	execvp(plan->argv[0], plan->argv);
	int e = errno;
	wsbox_die(e == ENOENT ? WSBOX_EXIT_NOTFOUND : WSBOX_EXIT_NOEXEC, e,
		  "exec `%s`", plan->argv[0]);
}

/* The size-limited tmpfs of the upper dir goes to the parent before any task
 * process exists (so what it receives is the tmpfs this child made): the
 * parent captures from it after the sandbox is gone. */
static int send_upper_fs(int sock, int fs, struct wsbox_error *err)
{
	int r = fdpass_send(sock, fs);
	if (r < 0)
		return wsbox_fail(err, -r, "hand the workspace tmpfs to wsbox");
	return 0;
}

/* The task's own terminal (sandbox/pty.h): opened in the sandbox's devpts,
 * its master handed to the parent to relay. */
static int open_task_pty(const struct plan *plan, int sock,
			 struct wsbox_error *err)
{
	if (!plan->pty_stdio)
		return 0;
	_cleanup_close_ int master = pty_open(plan, &task_pty_slave, err);
	if (master < 0)
		return master;
	int r = fdpass_send(sock, master);
	if (r < 0)
		return wsbox_fail(err, -r, "hand the task's pty to wsbox");
	close(sock);
	return 0;
}

void contain_child(const struct plan *plan, int sync_fd, int report_fd,
		   int upper_sock, int seal_sock, int pty_sock, pid_t parent)
{
	struct wsbox_error err = {0};
	char go;

	(void)parent;
	if (read(sync_fd, &go, 1) != 1)
		_exit(WSBOX_EXIT_FAILURE); /* parent died or failed to map us */
	/* Open the rootfs while our host ids are still the caller's: as root,
	 * become_task_ids() moves them into the subordinate range, which
	 * cannot search a 0700 parent such as /root, where root keeps its
	 * checkout (and rootfs) on Debian. The fd carries the access; it is
	 * closed before init runs so no task can reach it via /proc/1/fd. */
	int rootfs_fd = open(plan->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfs_fd < 0) {
		wsbox_fail(&err, errno, "open rootfs `%s`", plan->rootfs);
		setup_failed(report_fd, &err);
	}
	/* The store as its filesystem knows it, to find it wherever else a
	 * mount shows it (sandbox/ns_alias.c), taken for the same reason. */
	struct hide_target hidden[PLAN_MAX_HIDE];
	if (plan->n_hide > PLAN_MAX_HIDE) {
		wsbox_fail(&err, E2BIG, "%zu paths to hide", plan->n_hide);
		setup_failed(report_fd, &err);
	}
	for (size_t i = 0; i < plan->n_hide; i++)
		if (ns_alias_take(plan->hide[i], &hidden[i], &err) < 0)
			setup_failed(report_fd, &err);
	/* Root mode: this run's dirs below the 0700 store, taken while we can
	 * still reach them and shown on a view once we are the task's ids
	 * (sandbox/ns_view.c). */
	struct ns_view view;
	if (ns_view_take(plan, &view, &err) < 0 ||
	    become_task_ids(plan, &err) < 0 || ns_view_show(&view, &err) < 0)
		setup_failed(report_fd, &err);
	ns_view_close(&view);
	/* Nothing outlives wsbox: if the parent dies, so does init and with
	 * it the whole PID namespace. Set only now because a change of uid
	 * clears it. getppid() is 0 in a new PID namespace, so a parent that
	 * died before this prctl shows as a hang-up on the sync pipe, whose
	 * write end the parent holds until the sandbox is gone. */
	struct pollfd pfd = {.fd = sync_fd, .events = POLLIN};
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || poll(&pfd, 1, 0) != 0)
		_exit(WSBOX_EXIT_FAILURE);
	close(sync_fd);
	trace_phase("child go");

	int upper_fs;
	if (ns_mount_build_root(plan, rootfs_fd, hidden, &upper_fs, &err) < 0)
		setup_failed(report_fd, &err);
	close(rootfs_fd);
	for (size_t i = 0; i < plan->n_hide; i++)
		ns_alias_free(&hidden[i]);
	if (upper_fs >= 0 && send_upper_fs(upper_sock, upper_fs, &err) < 0)
		setup_failed(report_fd, &err);
	if (upper_fs >= 0)
		close(upper_fs);
	if (upper_sock >= 0)
		close(upper_sock);
	/* The overlay's superblock, for the parent to make read-only once
	 * the task is gone (sandbox/seal.h), before any task process exists. */
	if (seal_sock >= 0 && seal_send(plan, seal_sock, &err) < 0)
		setup_failed(report_fd, &err);
	if (seal_sock >= 0)
		close(seal_sock);
	trace_phase("child mounts");
	/* Bound this namespace's quotas before /proc/sys turns read-only:
	 * max_user_namespaces 0 (a nested user namespace stays impossible
	 * even if a seccomp policy has a gap), inotify/fanotify and, without
	 * --pids, the process count, so no task can take the host user's
	 * share (sandbox/ns_limits.c). */
	/* Same moment, same reason: SysV shared memory no process holds is
	 * removed at once in this IPC namespace, so none outlives the task
	 * even while the namespace lives (and /proc/sys is still writable).
	 * The kernel lets only the namespace's uid 0 write IPC sysctls; with
	 * --uid N uid 0 is unmapped, and the fresh IPC namespace, which dies
	 * with the sandbox, is the bound. */
	_cleanup_free_ char *shmrm =
	    xasprintf("%s/proc/sys/kernel/shm_rmid_forced", plan->root_mnt);
	if (ns_limits_apply(plan, &err) < 0 ||
	    (plan->uid == 0 && write_file_at(AT_FDCWD, shmrm, "1", &err) < 0) ||
	    ns_mount_mask_proc(plan, &err) < 0 ||
	    ns_mount_enter_root(plan, &err) < 0 ||
	    open_task_pty(plan, pty_sock, &err) < 0)
		setup_failed(report_fd, &err);
	trace_phase("child pivot");
	if (sethostname(plan->hostname, strlen(plan->hostname)) < 0) {
		wsbox_fail(&err, errno, "sethostname `%s`", plan->hostname);
		setup_failed(report_fd, &err);
	}
	if (plan->net == NET_NONE && ns_net_loopback_up(&err) < 0)
		setup_failed(report_fd, &err);

	/* init and the task hold no capability from here on, and init cannot
	 * be ptraced or have its /proc/1/exe opened (CVE-2019-5736 class). */
	int r = caps_drop_all();
	if (r < 0) {
		wsbox_fail(&err, -r, "drop capabilities");
		setup_failed(report_fd, &err);
	}
	if (prctl(PR_SET_DUMPABLE, 0) < 0) {
		wsbox_fail(&err, errno, "make init non-dumpable");
		setup_failed(report_fd, &err);
	}
	trace_phase("child init");
	init_main(report_fd, task_start, (void *)plan);
}
