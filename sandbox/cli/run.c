/* sandbox/cli/run.c: `wsbox run PIPELINE.yml`, a whole pipeline on this
 * machine (README "Local runs", docs/run.md). The file becomes tasks
 * (pipeline.c), the scheduler picks what starts (schedule.c), and each task
 * is one real `wsbox exec`, spawned as our own binary: a sandbox, a crash
 * and a record per task, exactly as an engine driving exec gets. Its
 * output and events come back on pipes read by one poll loop; view.c shows
 * them. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "layers/pipeline_state.h"
#include "layers/record.h"
#include "layers/store.h"
#include "sandbox/cli/commands.h"
#include "sandbox/cli/events.h"
#include "sandbox/cli/pipeline.h"
#include "sandbox/cli/schedule.h"
#include "sandbox/cli/usage.h"
#include "sandbox/cli/view.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

#define RUN_EXIT_FAILED 1
#define RUN_EXIT_INTERRUPTED 130
/* Ctrl-C: running execs get SIGTERM (they stop their sandbox and clean up),
 * then SIGKILL after this grace. */
#define RUN_KILL_GRACE 5.0
/* The fd a task's exec writes its events to (`--events fd:3`). */
#define RUN_EVENTS_FD 3
#define RUN_EVENT_LINE_MAX (64u << 10)

enum { OUT, ERR, EVENTS, N_PIPES };

/* One spawned exec. */
struct run_proc {
	pid_t pid;	 /* 0: not running */
	int fd[N_PIPES]; /* read ends, -1 once closed */
	char *ev;	 /* partial event line (RUN_EVENT_LINE_MAX) */
	size_t ev_len;
	bool ev_overflow; /* dropping an over-long line up to its newline */
	bool cache_hit;
	int status; /* exit status once reaped */
};

struct run_ctx {
	/* Options. */
	const char *file, *run_opt, *restart, *store_opt, *events_opt;
	/* --remote URL, given to every exec (README "Many executors"). */
	const char *remote;
	/* --tenant NAME, given to every exec (docs/sandbox.md "Id blocks"). */
	const char *tenant;
	unsigned jobs;
	bool keep_going;
	/* State. */
	struct pipeline p;
	struct store store;
	char *run;
	struct sched_task *st;
	struct schedule sch;
	struct run_proc *proc;
	struct view view;
	struct events ev;
	int sigfd;
	bool interrupted, killed;
	double kill_at;
	/* A digest --restart could not store: the task still succeeded. */
	char note[WSBOX_ERROR_MAX];
};

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_ctx_free(struct run_ctx *c)
{
	for (size_t i = 0; c->proc && i < c->p.n; i++) {
		for (int k = 0; k < N_PIPES; k++)
			if (c->proc[i].fd[k] >= 0)
				close(c->proc[i].fd[k]);
		free(c->proc[i].ev);
	}
	free(c->proc);
	schedule_free(&c->sch);
	free(c->st);
	view_free(&c->view);
	events_close(&c->ev);
	if (c->sigfd >= 0)
		close(c->sigfd);
	free(c->run);
	store_close(&c->store);
	pipeline_free(&c->p);
}

static int parse_jobs(const char *s, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < 1 || v > 1024)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int usage(FILE *f, int status)
{
	fputs(
	    "usage: wsbox run PIPELINE.yml [-j N] [--run NAME] [--keep-going] "
	    "[--restart RUN]\n"
	    "                 [--store DIR] [--events FILE|-|fd:N] [--remote "
	    "URL]\n"
	    "                 [--tenant NAME]\n"
	    "\n"
	    "Run every task of the pipeline file, each as one `wsbox exec` "
	    "in one run,\n"
	    "as soon as the tasks it needs have succeeded (docs/run.md).\n"
	    "  -j, --jobs N     at most N tasks at once (default: the online "
	    "CPUs)\n"
	    "  --run NAME       the run (default: run-<date>-<time>-<pid>)\n"
	    "  --keep-going     after a failure, run all that does not "
	    "depend on it\n"
	    "  --restart RUN    continue RUN: keep its unchanged successes, "
	    "run the rest\n"
	    "  --store DIR      the store\n"
	    "  --events SPEC    the run's events and every task's\n"
	    "  --remote URL     every exec shares through this registry\n"
	    "  --tenant NAME    root mode: every exec runs as tenant NAME "
	    "(its own id block)\n"
	    "exit status: 0 every task succeeded; 1 a task failed or was "
	    "skipped;\n"
	    "130 interrupted; 125 a bad pipeline file or a wsbox error\n",
	    f);
	return status;
}

/* 0, 1 for --help, or the exit status of a refused command line (< 0 is
 * never returned: refusals are printed here, as every verb does). */
static int parse_options(int argc, char **argv, struct run_ctx *c)
{
	enum {
		OPT_RUN = 256,
		OPT_KEEP,
		OPT_RESTART,
		OPT_STORE,
		OPT_EVENTS,
		OPT_REMOTE,
		OPT_TENANT
	};
	static const struct option opts[] = {
	    {"jobs", required_argument, NULL, 'j'},
	    {"run", required_argument, NULL, OPT_RUN},
	    {"keep-going", no_argument, NULL, OPT_KEEP},
	    {"restart", required_argument, NULL, OPT_RESTART},
	    {"store", required_argument, NULL, OPT_STORE},
	    {"events", required_argument, NULL, OPT_EVENTS},
	    {"remote", required_argument, NULL, OPT_REMOTE},
	    {"tenant", required_argument, NULL, OPT_TENANT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	c->jobs = cpus > 0 ? (unsigned)cpus : 1;
	optind = 1;
	opterr = 0;
	for (int o; (o = getopt_long(argc, argv, ":j:h", opts, NULL)) != -1;) {
		switch (o) {
		case 'h':
			return 1;
		case 'j':
			if (parse_jobs(optarg, &c->jobs) < 0)
				return usage_refuse(
				    "run", "-j `%s`: want 1..1024", optarg);
			break;
		case OPT_RUN:
			c->run_opt = optarg;
			break;
		case OPT_KEEP:
			c->keep_going = true;
			break;
		case OPT_RESTART:
			c->restart = optarg;
			break;
		case OPT_STORE:
			c->store_opt = optarg;
			break;
		case OPT_EVENTS:
			c->events_opt = optarg;
			break;
		case OPT_REMOTE:
			c->remote = optarg;
			break;
		case OPT_TENANT:
			if (!valid_name(optarg))
				return usage_refuse_name("--tenant", optarg);
			c->tenant = optarg;
			break;
		case ':':
			return usage_refuse("run", "option `%s` needs a value",
					    argv[optind - 1]);
		default:
			return usage_unknown_option("run", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return usage_refuse("run", "want one pipeline file");
	c->file = argv[optind];
	/* --restart continues that run: its kept tasks' records are the
	 * parents the re-run tasks stand on. */
	if (c->restart && c->run_opt && strcmp(c->restart, c->run_opt))
		return usage_refuse("run",
				    "--restart `%s` continues that run; "
				    "--run `%s` names another",
				    c->restart, c->run_opt);
	const char *name = c->restart ? c->restart : c->run_opt;
	if (name && !valid_name(name))
		return usage_refuse("run", "run `%s`: invalid name", name);
	return 0;
}

/* Step 1: the file, and the scheduler over its tasks. */
static int load_pipeline(struct run_ctx *c, struct wsbox_error *err)
{
	int r = pipeline_load(c->file, &c->p, err);
	if (r < 0)
		return r;
	c->st = xcalloc(c->p.n + 1, sizeof *c->st);
	c->proc = xcalloc(c->p.n + 1, sizeof *c->proc);
	for (size_t i = 0; i < c->p.n; i++) {
		const struct pipeline_task *t = &c->p.tasks[i];
		c->st[i] = (struct sched_task){.name = t->name,
					       .needs = t->need_idx,
					       .n_needs = t->needs.n,
					       .mutex = t->mutex};
		for (int k = 0; k < N_PIPES; k++)
			c->proc[i].fd[k] = -1;
	}
	r = schedule_init(&c->sch, c->st, c->p.n, c->jobs, c->keep_going);
	if (r < 0)
		return wsbox_fail(err, 0, "%s: cycle in needs", c->file);
	return 0;
}

/* Step 2: the store, the run's name, run-level events, the signals the
 * loop takes from a signalfd (blocked here, unblocked in each task). */
static int open_run(struct run_ctx *c, struct wsbox_error *err)
{
	_cleanup_free_ char *path = store_default_path(c->store_opt);
	int r = store_open(path, true, &c->store, err);
	if (r < 0)
		return r;
	if (c->restart) {
		_cleanup_free_ char *rel =
		    store_run_rel(c->restart, NULL, NULL);
		if (faccessat(c->store.fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			return wsbox_fail(err, 0,
					  "--restart `%s`: no such run "
					  "in `%s`",
					  c->restart, c->store.path);
	}
	const char *name = c->restart ? c->restart : c->run_opt;
	if (name) {
		c->run = xstrdup(name);
	} else {
		char stamp[32];
		time_t t = time(NULL);
		struct tm tm;
		strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S",
			 localtime_r(&t, &tm));
		c->run = xasprintf("run-%s-%d", stamp, (int)getpid());
	}
	r = events_open(&c->ev, c->events_opt, err);
	if (r < 0)
		return r;
	c->ev.run = c->run;
	/* A shell starts background jobs with SIGINT ignored, and an ignored
	 * signal never reaches a signalfd: wsbox run always takes it. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return wsbox_fail(err, errno, "block signals");
	c->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (c->sigfd < 0)
		return wsbox_fail(err, errno, "signalfd");
	return 0;
}

/* Did task i succeed in the run being restarted, as defined now? */
static bool reusable(struct run_ctx *c, size_t i)
{
	const struct pipeline_task *t = &c->p.tasks[i];
	struct task_record rec = {0};
	struct wsbox_error e = {0};
	if (record_read_shallow(&c->store, c->run, t->name, &rec, &e) < 0)
		return false;
	bool ok = rec.status && !strcmp(rec.status, "succeeded");
	record_free(&rec);
	char digest[DIGEST_STRLEN];
	if (!ok ||
	    pipeline_state_read(&c->store, c->run, t->name, digest, &e) < 0)
		return false;
	return !strcmp(digest, t->digest);
}

/* Step 3: --restart keeps the unchanged successes whose needs are kept. */
static void plan_restart(struct run_ctx *c)
{
	if (!c->restart)
		return;
	_cleanup_free_ bool *keep = xcalloc(c->p.n + 1, sizeof *keep);
	for (size_t i = 0; i < c->p.n; i++)
		keep[i] = reusable(c, i);
	schedule_keep(&c->sch, keep);
}

/* Step 4: the view, and the run_started event. */
static void begin_view(struct run_ctx *c)
{
	_cleanup_free_ const char **names = xcalloc(c->p.n + 1, sizeof *names);
	for (size_t i = 0; i < c->p.n; i++)
		names[i] = c->p.tasks[i].name;
	const char *ci = getenv("CI");
	const char *term = getenv("TERM");
	bool tty = isatty(STDOUT_FILENO) && !(ci && *ci) &&
		   !(term && !strcmp(term, "dumb"));
	view_init(&c->view, tty, names, c->p.n, now_sec());
	c->view.run = c->run;
	c->view.store = c->store_opt ? c->store.path : NULL;
	events_emit(&c->ev, "run_started",
		    json_pack("{s:s, s:I, s:I, s:b, s:b}", "pipeline", c->file,
			      "tasks", (json_int_t)c->p.n, "jobs",
			      (json_int_t)c->jobs, "keep_going", c->keep_going,
			      "restart", c->restart != NULL));
}

/* A source task: `wsbox import` of its path, taken relative to the
 * pipeline file's directory. */
static struct strv import_argv(const struct run_ctx *c,
			       const struct pipeline_task *t)
{
	struct strv a = {0};
	strv_push(&a, "wsbox");
	strv_push(&a, "import");
	strv_push(&a, "--store");
	strv_push(&a, c->store.path);
	strv_push(&a, "--run");
	strv_push(&a, c->run);
	strv_push(&a, "--task");
	strv_push(&a, t->name);
	_cleanup_free_ char *file = xstrdup(c->p.file);
	char *slash = strrchr(file, '/');
	if (t->import[0] == '/' || !slash) {
		strv_push(&a, t->import);
	} else {
		*slash = '\0';
		_cleanup_free_ char *path = xasprintf("%s/%s", file, t->import);
		strv_push(&a, path);
	}
	return a;
}

/* The exec (or import) command line of task i. */
static struct strv exec_argv(const struct run_ctx *c, size_t i)
{
	const struct pipeline_task *t = &c->p.tasks[i];
	if (t->import)
		return import_argv(c, t);
	struct strv a = {0};
	strv_push(&a, "wsbox");
	strv_push(&a, "exec");
	strv_push(&a, "--store");
	strv_push(&a, c->store.path);
	strv_push(&a, "--run");
	strv_push(&a, c->run);
	strv_push(&a, "--task");
	strv_push(&a, t->name);
	for (size_t j = 0; j < t->needs.n; j++) {
		strv_push(&a, "--parent");
		strv_push(&a, t->needs.v[j]);
	}
	if (c->remote) {
		strv_push(&a, "--remote");
		strv_push(&a, c->remote);
	}
	/* The command line's, never the pipeline file's: the file may come
	 * from the tenant, who must not name another. */
	if (c->tenant) {
		strv_push(&a, "--tenant");
		strv_push(&a, c->tenant);
	}
	for (size_t j = 0; j < t->opts.n; j++)
		strv_push(&a, t->opts.v[j]);
	for (size_t j = 0; j < t->extra.n; j++) {
		strv_push(&a, "--cache-key-extra");
		strv_push(&a, t->extra.v[j]);
	}
	strv_push(&a, "--events");
	strv_push(&a, "fd:3");
	strv_push(&a, "--");
	for (size_t j = 0; j < t->argv.n; j++)
		strv_push(&a, t->argv.v[j]);
	return a;
}

/* A pipe whose write end is above fd 3, so the child's dup2 onto 1, 2, 3
 * always copies (and so clears close-on-exec); the read end non-blocking. */
static int task_pipe(int fds[2], struct wsbox_error *err)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return wsbox_fail(err, errno, "pipe");
	if (fds[1] <= RUN_EVENTS_FD) {
		int hi = fcntl(fds[1], F_DUPFD_CLOEXEC, RUN_EVENTS_FD + 1);
		close(fds[1]);
		fds[1] = hi;
		if (hi < 0) {
			close(fds[0]);
			return wsbox_fail(err, errno, "dup pipe");
		}
	}
	(void)fcntl(fds[0], F_SETFL, O_NONBLOCK);
	return 0;
}

/* The child between fork and execve: its own process group (a terminal's
 * Ctrl-C reaches wsbox run alone, which stops tasks in order), SIGTERM if
 * wsbox run dies, default signals, the pipes on 1, 2, 3. */
static _Noreturn void task_child(pid_t parent, const int w[N_PIPES],
				 char **argv)
{
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(WSBOX_EXIT_FAILURE);
	sigset_t none;
	sigemptyset(&none);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
	    dup2(w[OUT], STDOUT_FILENO) < 0 ||
	    dup2(w[ERR], STDERR_FILENO) < 0 ||
	    dup2(w[EVENTS], RUN_EVENTS_FD) < 0)
		_exit(WSBOX_EXIT_FAILURE);
	execve("/proc/self/exe", argv, environ);
	_exit(WSBOX_EXIT_FAILURE);
}

static int spawn_task(struct run_ctx *c, size_t i, struct wsbox_error *err)
{
	struct run_proc *pr = &c->proc[i];
	int r =
	    pipeline_state_clear(&c->store, c->run, c->p.tasks[i].name, err);
	if (r < 0)
		return r;
	int fds[N_PIPES][2];
	for (int k = 0; k < N_PIPES; k++) {
		r = task_pipe(fds[k], err);
		if (r < 0) {
			for (int j = 0; j < k; j++)
				close(fds[j][0]), close(fds[j][1]);
			return r;
		}
	}
	struct strv argv = exec_argv(c, i);
	int w[N_PIPES] = {fds[OUT][1], fds[ERR][1], fds[EVENTS][1]};
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0)
		task_child(parent, w, argv.v);
	int saved = errno;
	strv_free(&argv);
	for (int k = 0; k < N_PIPES; k++) {
		close(fds[k][1]);
		pr->fd[k] = fds[k][0];
	}
	if (pid < 0) {
		for (int k = 0; k < N_PIPES; k++)
			close(pr->fd[k]), pr->fd[k] = -1;
		return wsbox_fail(err, saved, "fork task %s",
				  c->p.tasks[i].name);
	}
	pr->pid = pid;
	pr->ev = xcalloc(RUN_EVENT_LINE_MAX, 1);
	pr->ev_len = 0;
	pr->cache_hit = false;
	return 0;
}

/* One event line of task i's exec: forwarded to the run's events, and the
 * cache hit noted from its task_finished. */
static void task_event(struct run_ctx *c, size_t i, const char *line,
		       size_t len)
{
	if (c->ev.fd >= 0) {
		_cleanup_free_ char *out = xasprintf("%.*s\n", (int)len, line);
		(void)write_all(c->ev.fd, out, len + 1);
	}
	json_t *j = json_loadb(line, len, 0, NULL);
	if (!j)
		return;
	const char *kind = json_string_value(json_object_get(j, "event"));
	if (kind && !strcmp(kind, "task_finished"))
		c->proc[i].cache_hit =
		    json_is_true(json_object_get(j, "cache_hit"));
	json_decref(j);
}

static void events_input(struct run_ctx *c, size_t i, const char *buf,
			 size_t len)
{
	struct run_proc *pr = &c->proc[i];
	for (size_t k = 0; k < len; k++) {
		if (buf[k] == '\n') {
			if (!pr->ev_overflow)
				task_event(c, i, pr->ev, pr->ev_len);
			pr->ev_len = 0;
			pr->ev_overflow = false;
			continue;
		}
		if (pr->ev_len == RUN_EVENT_LINE_MAX) {
			pr->ev_overflow = true;
			continue;
		}
		pr->ev[pr->ev_len++] = buf[k];
	}
}

/* Read what task i's pipe k has now; close it at EOF. */
static void read_pipe(struct run_ctx *c, size_t i, int k)
{
	struct run_proc *pr = &c->proc[i];
	char buf[16384];
	for (int rounds = 0; rounds < 64 && pr->fd[k] >= 0; rounds++) {
		ssize_t n = read(pr->fd[k], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(pr->fd[k]);
			pr->fd[k] = -1;
			return;
		}
		if (k == EVENTS)
			events_input(c, i, buf, (size_t)n);
		else
			view_output(&c->view, i, k == OUT ? 1 : 2, buf,
				    (size_t)n);
	}
}

/* Task i's exec exited: take the rest of its output, judge it, tell the
 * scheduler, the view and the store. */
static void complete_task(struct run_ctx *c, size_t i, int wstatus)
{
	struct run_proc *pr = &c->proc[i];
	for (int k = 0; k < N_PIPES; k++) {
		read_pipe(c, i, k);
		if (pr->fd[k] >= 0)
			close(pr->fd[k]);
		pr->fd[k] = -1;
	}
	free(pr->ev);
	pr->ev = NULL;
	pr->pid = 0;
	pr->status =
	    WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	enum sched_state outcome = pr->status	   ? SCHED_FAILED
				   : pr->cache_hit ? SCHED_CACHED
						   : SCHED_SUCCEEDED;
	const struct pipeline_task *t = &c->p.tasks[i];
	struct wsbox_error e = {0};
	if (!pr->status &&
	    pipeline_state_write(&c->store, c->run, t->name, t->digest, &e) < 0)
		snprintf(c->note, sizeof c->note, "%s", e.msg);
	schedule_finish(&c->sch, i, outcome);
	view_finished(&c->view, i, outcome, pr->status, now_sec());
}

static void reap(struct run_ctx *c)
{
	for (;;) {
		int ws;
		pid_t pid = waitpid(-1, &ws, WNOHANG);
		if (pid <= 0)
			return;
		for (size_t i = 0; i < c->p.n; i++)
			if (c->proc[i].pid == pid)
				complete_task(c, i, ws);
	}
}

static void signal_running(struct run_ctx *c, int sig)
{
	for (size_t i = 0; c->proc && i < c->p.n; i++) {
		pid_t pid = c->proc[i].pid;
		if (pid <= 0)
			continue;
		/* SIGTERM to the exec, which stops its sandbox; SIGKILL to
		 * its whole process group. */
		(void)kill(sig == SIGKILL ? -pid : pid, sig);
	}
}

static void interrupt(struct run_ctx *c)
{
	if (c->interrupted) {
		/* A second Ctrl-C does not wait for the grace. */
		signal_running(c, SIGKILL);
		c->killed = true;
		return;
	}
	c->interrupted = true;
	c->view.interrupted = true;
	schedule_stop(&c->sch);
	signal_running(c, SIGTERM);
	c->kill_at = now_sec() + RUN_KILL_GRACE;
}

static void take_signals(struct run_ctx *c)
{
	struct signalfd_siginfo si;
	while (read(c->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD)
			reap(c);
		else
			interrupt(c);
	}
	/* A SIGCHLD merged into one already pending is not queued twice. */
	reap(c);
}

/* Start what the scheduler allows; a task that cannot even be spawned
 * fails (exit 125) like an exec that refused. */
static void start_ready(struct run_ctx *c)
{
	for (ssize_t i; (i = schedule_next(&c->sch)) >= 0;) {
		view_started(&c->view, (size_t)i, now_sec());
		struct wsbox_error e = {0};
		if (spawn_task(c, (size_t)i, &e) == 0)
			continue;
		view_output(&c->view, (size_t)i, 2, "wsbox: ", 7);
		view_output(&c->view, (size_t)i, 2, e.msg, strlen(e.msg));
		view_output(&c->view, (size_t)i, 2, "\n", 1);
		c->proc[i].status = WSBOX_EXIT_FAILURE;
		schedule_finish(&c->sch, (size_t)i, SCHED_FAILED);
		view_finished(&c->view, (size_t)i, SCHED_FAILED,
			      WSBOX_EXIT_FAILURE, now_sec());
	}
}

/* Skipped and kept tasks reach the view in canonical order. */
static void report_settled(struct run_ctx *c)
{
	for (size_t k = 0; k < c->p.n; k++) {
		size_t i = c->sch.order[k];
		enum sched_state st = c->st[i].state;
		if (st == SCHED_SKIPPED || st == SCHED_KEPT)
			view_finished(&c->view, i, st, 0, now_sec());
	}
}

/* The poll set: the signalfd, then every open pipe; who[k] names the
 * task and pipe of pfd[k]. */
static nfds_t poll_set(struct run_ctx *c, struct pollfd *pfd, size_t *who)
{
	nfds_t n = 0;
	pfd[n++] = (struct pollfd){.fd = c->sigfd, .events = POLLIN};
	for (size_t i = 0; i < c->p.n; i++)
		for (int k = 0; k < N_PIPES; k++)
			if (c->proc[i].fd[k] >= 0) {
				who[n] = i * N_PIPES + (size_t)k;
				pfd[n++] = (struct pollfd){
				    .fd = c->proc[i].fd[k], .events = POLLIN};
			}
	return n;
}

static int poll_timeout(const struct run_ctx *c)
{
	int ms = c->view.tty ? 100 : -1;
	if (c->interrupted && !c->killed) {
		double left = c->kill_at - now_sec();
		int kill_ms = left > 0 ? (int)(left * 1000) + 1 : 0;
		if (ms < 0 || kill_ms < ms)
			ms = kill_ms;
	}
	return ms;
}

/* Step 5: run the schedule to its end. */
static int drive(struct run_ctx *c, struct wsbox_error *err)
{
	size_t cap = 1 + c->p.n * N_PIPES;
	_cleanup_free_ struct pollfd *pfd = xcalloc(cap, sizeof *pfd);
	_cleanup_free_ size_t *who = xcalloc(cap, sizeof *who);
	for (;;) {
		start_ready(c);
		report_settled(c);
		if (schedule_done(&c->sch)) {
			report_settled(c);
			return 0;
		}
		view_tick(&c->view, now_sec(), false);
		nfds_t n = poll_set(c, pfd, who);
		if (poll(pfd, n, poll_timeout(c)) < 0 && errno != EINTR)
			return wsbox_fail(err, errno, "poll");
		for (nfds_t k = 1; k < n; k++)
			if (pfd[k].revents)
				read_pipe(c, who[k] / N_PIPES,
					  (int)(who[k] % N_PIPES));
		if (pfd[0].revents)
			take_signals(c);
		if (c->interrupted && !c->killed && now_sec() >= c->kill_at) {
			signal_running(c, SIGKILL);
			c->killed = true;
		}
	}
}

/* Step 6: the tally, run_finished, the exit status. */
static int run_status(const struct run_ctx *c, struct sched_tally y)
{
	if (c->interrupted)
		return RUN_EXIT_INTERRUPTED;
	return y.failed || y.skipped ? RUN_EXIT_FAILED : 0;
}

static int finish_run(struct run_ctx *c)
{
	struct sched_tally y = schedule_tally(&c->sch);
	double t = now_sec();
	int status = run_status(c, y);
	view_close(&c->view, y, t, c->interrupted);
	if (c->note[0])
		fprintf(stderr, "wsbox: %s (a --restart re-runs the task)\n",
			c->note);
	if (status == RUN_EXIT_FAILED)
		fprintf(stderr,
			"wsbox: run %s: restart with `wsbox run %s "
			"--restart %s`\n",
			c->run, c->file, c->run);
	events_emit(&c->ev, "run_finished",
		    json_pack("{s:I, s:I, s:I, s:I, s:f, s:b, s:i}", "ran",
			      (json_int_t)y.ran, "cached", (json_int_t)y.cached,
			      "failed", (json_int_t)y.failed, "skipped",
			      (json_int_t)y.skipped, "wall_sec", t - c->view.t0,
			      "interrupted", c->interrupted, "exit_status",
			      status));
	return status;
}

static int run_pipeline(struct run_ctx *c, struct wsbox_error *err)
{
	int r = load_pipeline(c, err); /* file → tasks → canonical order */
	if (r < 0)
		return r;
	r = open_run(c, err); /* store, run name, events, signals */
	if (r < 0)
		return r;
	plan_restart(c);   /* --restart: keep unchanged successes */
	begin_view(c);	   /* view, run_started */
	r = drive(c, err); /* spawn, read, reap until done */
	if (r < 0)
		return r;
	return finish_run(c); /* tally, run_finished */
}

int cmd_run(int argc, char **argv)
{
	struct run_ctx c = {.sigfd = -1, .store = {.fd = -1}};
	struct wsbox_error err = {0};
	/* A reader that goes away (`wsbox run ... | head`) gets EPIPE, and
	 * the tasks still end in order. */
	signal(SIGPIPE, SIG_IGN);
	int r = parse_options(argc, argv, &c);
	if (r == 1)
		return usage(stdout, 0);
	if (r)
		return r;
	r = run_pipeline(&c, &err);
	if (r < 0)
		signal_running(&c, SIGKILL); /* only after a failed poll */
	run_ctx_free(&c);
	return r < 0 ? wsbox_error_exit(&err) : r;
}
