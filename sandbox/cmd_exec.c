/* cmd_exec.c: `wsbox exec`, the lifecycle of one task (SPEC.md "Exec
 * lifecycle"): parse and validate, open the store, stage an attempt, build
 * the plan, run the sandbox, then capture or discard, record, and turn the
 * outcome into an exit status. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/store.h"
#include "policy/policy.h"
#include "sandbox/commands.h"
#include "sandbox/exec_opts.h"
#include "sandbox/sandbox.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"

extern char **environ;

static int fail_print(struct wsbox_error *err)
{
	wsbox_error_print(err);
	return err->status ? err->status : WSBOX_EXIT_FAILURE;
}

/* Resolve --rootfs to an absolute directory. */
static int resolve_rootfs(const struct exec_opts *o, char **out,
			  struct wsbox_error *err)
{
	if (!o->rootfs) {
		*out = xstrdup("/");
		return 0;
	}
	char *real = realpath(o->rootfs, NULL);
	if (!real)
		return wsbox_fail(err, errno, "--rootfs `%s`", o->rootfs);
	struct stat st;
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(real);
		return wsbox_fail(err, ENOTDIR, "--rootfs `%s`", o->rootfs);
	}
	*out = real;
	return 0;
}

int cmd_exec(int argc, char **argv)
{
	struct wsbox_error err = { 0 };
	struct exec_opts o;
	struct store store = { .fd = -1 };
	struct attempt att = { .dirfd = -1 };
	struct policy pol = { 0 };
	_cleanup_free_ char *store_path = NULL, *rootfs = NULL;
	_cleanup_free_ char *bpf_dir = NULL, *empty = NULL;
	char **envp = NULL;
	int status = WSBOX_EXIT_FAILURE;

	if (exec_opts_parse(argc, argv, &o, &err) < 0) {
		exec_opts_free(&o);
		return fail_print(&err);
	}
	/* Validate everything that needs no store before creating one. */
	if (resolve_rootfs(&o, &rootfs, &err) < 0)
		goto out;
	store_path = store_default_path(o.store);
	if (store_open(store_path, true, &store, &err) < 0)
		goto out;
	bpf_dir = xasprintf("%s/cache/bpf", store.path);
	struct policy_options popts = { .bpf_cache_dir = bpf_dir,
					.squash_chown = true };
	if (policy_load(o.policy, &popts, &pol, &err) < 0)
		goto out;
	if (attempt_create(&store, &att, &err) < 0)
		goto out;

	bool root = geteuid() == 0;
	uid_t host_uid = root ? (uid_t)ns_user_root_host_id("/etc/subuid")
			      : getuid();
	gid_t host_gid = root ? (gid_t)ns_user_root_host_id("/etc/subgid")
			      : getgid();
	if (root && (fchownat(att.dirfd, "upper", host_uid, host_gid, 0) < 0 ||
		     fchownat(att.dirfd, "work", host_uid, host_gid, 0) < 0 ||
		     fchmod(att.dirfd, 0711) < 0 ||
		     fchmodat(store.fd, ".", 0711, 0) < 0 ||
		     fchmodat(store.fd, "staging", 0711, 0) < 0)) {
		wsbox_fail(&err, errno, "prepare staging for uid %u",
			   (unsigned)host_uid);
		goto out;
	}
	envp = exec_build_env(&o, environ);
	const char *hide[] = { store.path };
	empty = xasprintf("%s/empty", store.path);
	struct plan plan = {
		.rootfs = rootfs,
		.host_root = !o.rootfs,
		.hide = hide,
		.n_hide = 1,
		.upper = o.ro ? NULL : att.upper,
		.work = o.ro ? NULL : att.work,
		.empty_lower = empty,
		.root_mnt = att.root,
		.argv = o.argv,
		.envp = envp,
		.cwd = o.cwd,
		.hostname = o.hostname,
		.uid = o.uid,
		.gid = o.gid,
		.host_uid = host_uid,
		.host_gid = host_gid,
		.net = o.net,
		.limits = { .memory_bytes = o.memory,
			    .pids = o.pids,
			    .timeout_sec = o.timeout_sec },
		.policy = &pol,
		.stdio = { -1, -1, -1 },
	};
	struct sandbox_result res;
	if (sandbox_run(&plan, &res, &err) < 0)
		goto out;
	status = sandbox_exit_status(&res);
	if (res.timed_out)
		wsbox_fail_status(&err, WSBOX_EXIT_TIMEOUT, 0,
				  "task timed out after %u s", o.timeout_sec);

out:
	if (att.id) {
		struct wsbox_error e2 = { 0 };
		if (attempt_discard(&store, &att, &e2) < 0)
			wsbox_error_print(&e2);
	}
	if (err.msg[0]) {
		wsbox_error_print(&err);
		status = err.status ? err.status : WSBOX_EXIT_FAILURE;
	}
	if (envp) {
		for (char **e = envp; *e; e++)
			free(*e);
		free(envp);
	}
	policy_free(&pol);
	store_close(&store);
	exec_opts_free(&o);
	return status;
}
