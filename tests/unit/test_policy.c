/* Unit tests for policy/: the text format (errors with line numbers, includes,
 * loops), the digest and the BPF cache, and the real behaviour of the shipped
 * profiles, installed in forked children that report results over a pipe. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/policy.h"
#include "policy/policy_int.h"
#include "sandbox/notify.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "tests/unit/fixture.h"

#ifndef CLONE_NEWUSER
#define CLONE_NEWUSER 0x10000000
#endif

static char tmpdir[] = "/tmp/wsbox-test-policy-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	struct wsbox_error err;
	return rm_rf_at(AT_FDCWD, tmpdir, &err);
}

/* Write `text` to tmpdir/name and return the path (static buffer). */
static const char *write_policy(const char *name, const char *text)
{
	static char path[4][512];
	static int slot;
	char *p = path[slot++ % 4];
	snprintf(p, 512, "%s/%s", tmpdir, name);
	struct wsbox_error err;
	assert_int_equal(
	    atomic_write_at(AT_FDCWD, p, text, strlen(text), 0600, &err), 0);
	return p;
}

/* Expect `text` to be refused with a message containing `want`. */
static void expect_error(const char *text, const char *want)
{
	const char *p = write_policy("bad.policy", text);
	struct wsbox_error err = {0};
	unsigned rules;
	int r = policy_check(p, NULL, &rules, &err);
	if (r == 0 || !strstr(err.msg, want))
		fail_msg("policy:\n%s\nwanted error containing `%s`, got %d "
			 "`%s`",
			 text, want, r, err.msg);
}

static void test_policy_shipped_profiles_parse(void **state)
{
	(void)state;
	size_t n;
	const struct policy_profile *p = policy_profiles(&n);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		struct wsbox_error err = {0};
		unsigned rules = 0;
		struct policy_options o = {.squash_chown = true};
		int r = policy_check(p[i].name, &o, &rules, &err);
		if (r < 0)
			fail_msg("%s: %s", p[i].name, err.msg);
		assert_true(rules > 0); /* at least the squash rules */
		assert_int_equal(p[i].text[p[i].len], '\0');
		assert_true(p[i].text[0] == '#');
		/* Syscalls above the review are never allowed by default. */
		assert_non_null(strstr(p[i].text, "\nnewer errno ENOSYS\n"));
	}
	struct wsbox_error err = {0};
	struct policy pol;
	assert_true(policy_load("nosuch", NULL, &pol, &err) < 0);
	assert_non_null(strstr(err.msg, "no such profile"));
}

static void test_policy_unknown_syscall_names_its_line(void **state)
{
	(void)state;
	const char *p = write_policy("x.policy", "# c\ndefault allow\n"
						 "deny EPERM foo\n");
	struct wsbox_error err = {0};
	unsigned rules;
	assert_true(policy_check(p, NULL, &rules, &err) < 0);
	char want[700];
	snprintf(want, sizeof want, "policy `%s` line 3: unknown syscall `foo`",
		 p);
	assert_string_equal(err.msg, want);
	/* Known to libseccomp but absent on x86_64: accepted. */
	p = write_policy("y.policy", "default allow\ndeny EPERM stime vm86\n");
	assert_int_equal(policy_check(p, NULL, &rules, &err), 0);
}

static void test_policy_bad_syntax_is_refused_with_its_line(void **state)
{
	(void)state;
	expect_error("allow read\n", "no `default` line");
	expect_error("default allow\ndefault kill\n", "line 2: second");
	expect_error("default allow\ndeny EPERM\n", "line 2: no syscall");
	expect_error("default allow\ndeny EFOO read\n",
		     "line 2: unknown errno `EFOO`");
	expect_error("default allow\nfrob read\n",
		     "line 2: unknown action `frob`");
	expect_error("default allow\ndeny EPERM read arg0 ~ 1\n",
		     "unknown operator `~`");
	expect_error("default allow\ndeny EPERM read arg0 == 1 arg0 == 2\n",
		     "two conditions on arg0");
	expect_error("default allow\ndeny EPERM read arg0 == BOGUS\n",
		     "bad value `BOGUS`");
	expect_error(
	    "default allow\ndeny EPERM read arg0 == 0x1ffffffffffffffff\n",
	    "bad value");
	expect_error("default allow\ndeny EPERM read arg0 ==\n",
		     "needs a value");
	expect_error("default allow\ndeny EPERM ioctl arg1 &0xf0 notin 1\n",
		     "mask of low bits");
	expect_error("default allow\ndeny EPERM read arg0 &0xff > 1\n",
		     "a mask needs `==`");
	expect_error(
	    "default allow\ndeny 13 openat arg5 notin 1 2 10 arg1 < 5\n",
	    "cannot be compiled in bounded time");
	expect_error("default allow\ninclude\n", "line 2: `include` needs");
	expect_error("default allow\ninclude nosuch\n",
		     "line 2: include `nosuch`: no such profile");
	expect_error("default allow\ninclude ./missing.policy\n",
		     "line 2: policy `");
	/* Conditions cannot carve an exception out of an unconditional rule
	 * (libseccomp would silently drop them). */
	expect_error("default allow\ninclude default\n"
		     "allow unshare arg0 == 0\n",
		     "cannot refine the unconditional rule for `unshare`");
	expect_error("default errno EPERM\nallow ioctl\n"
		     "deny EPERM ioctl arg1 == 1\n",
		     "cannot refine");
	expect_error("default allow\nallow read arg0 == 1\n",
		     "line 2: a conditional rule for `read` with the default");
}

static void test_policy_include_refuses_loops_and_depth(void **state)
{
	(void)state;
	write_policy("a.policy", "default allow\ninclude b.policy\n");
	write_policy("b.policy", "# b\ninclude ./a.policy\n");
	char a[600];
	snprintf(a, sizeof a, "%s/a.policy", tmpdir);
	struct wsbox_error err = {0};
	unsigned rules;
	assert_true(policy_check(a, NULL, &rules, &err) < 0);
	assert_non_null(strstr(err.msg, "b.policy` line 2: include "
					"`./a.policy`: include loop"));

	write_policy("self.policy", "default allow\ninclude self.policy\n");
	expect_error("include self.policy\n", "include loop");

	/* A chain deeper than the limit. */
	for (int i = 0; i < 12; i++) {
		char name[32], text[64];
		snprintf(name, sizeof name, "d%d.policy", i);
		snprintf(text, sizeof text, "include d%d.policy\n", i + 1);
		write_policy(name, text);
	}
	write_policy("d12.policy", "default allow\n");
	char d0[600];
	snprintf(d0, sizeof d0, "%s/d0.policy", tmpdir);
	assert_true(policy_check(d0, NULL, &rules, &err) < 0);
	assert_non_null(strstr(err.msg, "nested deeper than"));

	/* Includes of shipped profiles, later unconditional rules win. */
	const char *p =
	    write_policy("ok.policy", "include default\nallow unshare\n"
				      "deny EPERM ptrace\n");
	assert_int_equal(policy_check(p, NULL, &rules, &err), 0);
}

static void test_policy_digest_is_stable(void **state)
{
	(void)state;
	struct wsbox_error err = {0};
	struct policy a, b, c;
	assert_int_equal(policy_load("default", NULL, &a, &err), 0);
	assert_int_equal(policy_load("default", NULL, &b, &err), 0);
	assert_string_equal(a.digest, b.digest);
	assert_int_equal(strlen(a.digest), 7 + 64);
	assert_memory_equal(a.digest, "sha256:", 7);
	/* The identity is the resolved text: a file that only includes
	 * default is default; one more line (even a comment) is not. */
	const char *p = write_policy("inc.policy", "include default\n");
	assert_int_equal(policy_load(p, NULL, &c, &err), 0);
	assert_string_equal(a.digest, c.digest);
	policy_free(&c);
	p = write_policy("inc2.policy", "include default\n# mine\n");
	assert_int_equal(policy_load(p, NULL, &c, &err), 0);
	assert_string_not_equal(a.digest, c.digest);
	assert_int_equal(a.len, c.len);
	assert_memory_equal(a.filter, c.filter, a.len * sizeof *a.filter);
	policy_free(&a);
	policy_free(&b);
	policy_free(&c);
}

static void test_policy_bpf_cache_hit_equals_a_fresh_build(void **state)
{
	(void)state;
	char dir[600];
	snprintf(dir, sizeof dir, "%s/cache/bpf", tmpdir);
	struct policy_options o = {.bpf_cache_dir = dir, .squash_chown = true};
	struct policy_options nocache = {.squash_chown = true};
	struct wsbox_error err = {0};
	struct policy ref, miss, hit;
	assert_int_equal(policy_load("strict", &nocache, &ref, &err), 0);
	assert_int_equal(policy_load("strict", &o, &miss, &err), 0);
	assert_int_equal(policy_load("strict", &o, &hit, &err), 0);
	assert_int_equal(ref.len, hit.len);
	assert_memory_equal(ref.filter, hit.filter,
			    ref.len * sizeof *ref.filter);
	assert_memory_equal(miss.filter, hit.filter,
			    ref.len * sizeof *ref.filter);
	assert_string_equal(ref.digest, hit.digest);

	/* Two entries: the program and its reporting variant, under
	 * separate keys (a hit can never hand out the other one). Replace the
	 * plain one with another valid program: the next load must return
	 * that one (a real hit), then a corrupt entry must be ignored and
	 * rewritten. */
	assert_non_null(hit.notify_filter);
	assert_int_equal(ref.notify_len, hit.notify_len);
	assert_memory_equal(ref.notify_filter, hit.notify_filter,
			    ref.notify_len * sizeof *ref.notify_filter);
	assert_true(ref.notify_len != ref.len ||
		    memcmp(ref.notify_filter, ref.filter,
			   ref.len * sizeof *ref.filter) != 0);
	_cleanup_closedir_ DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	char entry[1024] = "";
	int n = 0;
	struct stat st;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			char path[1024];
			snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
			assert_int_equal(stat(path, &st), 0);
			/* Same size possible: tell them by content. */
			char buf[BPF_MAXINSNS * sizeof(struct sock_filter)];
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			assert_true(fd >= 0);
			ssize_t len = read_all(fd, buf, sizeof buf);
			close(fd);
			if (len == (ssize_t)(ref.len * sizeof *ref.filter) &&
			    !memcmp(buf, ref.filter, (size_t)len))
				snprintf(entry, sizeof entry, "%s", path);
			else
				assert_true(
				    len ==
					(ssize_t)(ref.notify_len *
						  sizeof *ref.notify_filter) &&
				    !memcmp(buf, ref.notify_filter,
					    (size_t)len));
			n++;
		}
	assert_int_equal(n, 2);
	assert_true(entry[0]);

	struct policy perm;
	assert_int_equal(policy_load("permissive", NULL, &perm, &err), 0);
	assert_int_equal(atomic_write_at(AT_FDCWD, entry, perm.filter,
					 perm.len * sizeof *perm.filter, 0600,
					 &err),
			 0);
	struct policy swapped;
	assert_int_equal(policy_load("strict", &o, &swapped, &err), 0);
	assert_int_equal(swapped.len, perm.len);

	assert_int_equal(
	    atomic_write_at(AT_FDCWD, entry, "junk", 5, 0600, &err), 0);
	struct policy fixed;
	assert_int_equal(policy_load("strict", &o, &fixed, &err), 0);
	assert_int_equal(fixed.len, ref.len);
	assert_memory_equal(fixed.filter, ref.filter,
			    ref.len * sizeof *ref.filter);
	assert_int_equal(stat(entry, &st), 0);
	assert_int_equal(st.st_size, ref.len * sizeof *ref.filter);

	/* squash_chown is part of the key: a different entry. */
	struct policy_options o2 = {.bpf_cache_dir = dir};
	struct policy plain;
	assert_int_equal(policy_load("strict", &o2, &plain, &err), 0);
	assert_int_not_equal(plain.len, ref.len);

	policy_free(&ref);
	policy_free(&miss);
	policy_free(&hit);
	policy_free(&perm);
	policy_free(&swapped);
	policy_free(&fixed);
	policy_free(&plain);
}

/* The compiler in its bounded child returns exactly what libseccomp exports
 * in process, for every shipped profile, on a cache miss and on a hit. */
static void test_policy_bounded_compile_equals_in_process(void **state)
{
	(void)state;
	char dir[600];
	snprintf(dir, sizeof dir, "%s/bounded-cache", tmpdir);
	struct policy_options o = {.bpf_cache_dir = dir, .squash_chown = true};
	static const char *const names[] = {"default", "strict", "permissive"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct wsbox_error err = {0};
		_cleanup_(policy_set_freep) struct policy_set ps = {0};
		assert_int_equal(policy_parse(names[i], &ps, &err), 0);
		assert_int_equal(policy_set_squash_chown(&ps, &err), 0);
		_cleanup_free_ struct sock_filter *ref = NULL;
		unsigned short len = 0;
		unsigned nrules = 0, checked = 0;
		assert_int_equal(policy_compile(&ps, &ref, &len, &nrules, &err),
				 0);
		struct policy miss, hit;
		assert_int_equal(policy_load(names[i], &o, &miss, &err), 0);
		assert_int_equal(policy_load(names[i], &o, &hit, &err), 0);
		assert_int_equal(miss.len, len);
		assert_memory_equal(miss.filter, ref, len * sizeof *ref);
		assert_int_equal(hit.len, len);
		assert_memory_equal(hit.filter, ref, len * sizeof *ref);
		assert_int_equal(policy_check(names[i], &o, &checked, &err), 0);
		assert_int_equal(checked, nrules);
		policy_free(&miss);
		policy_free(&hit);
	}
}

/* Two rules libseccomp 2.5.4 merges for minutes (an ordering comparison on
 * arg0 beside different comparisons on arg1): the expansion of the
 * fuzzer's `notin` finding written out by hand, which the parser's refusal
 * of that `notin` does not see. */
static const char slow_policy[] = "default allow\n"
				  "deny 13 openat arg0 < 5 arg1 <= 0\n"
				  "deny 13 openat arg0 < 5 arg1 == 3\n";

static int count_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++; /* a temp file of atomic_write_at counts too */
	return n;
}

static void
test_policy_compile_past_the_bound_fails_and_caches_nothing(void **state)
{
	(void)state;
	const char *p = write_policy("slow.policy", slow_policy);
	char dir[600], want[800];
	snprintf(dir, sizeof dir, "%s/slow-cache", tmpdir);
	snprintf(want, sizeof want,
		 "policy `%s`: compile took longer than 200 ms (libseccomp; "
		 "simplify its argument conditions)",
		 p);
	struct policy_options o = {.bpf_cache_dir = dir,
				   .compile_timeout_ms = 200};
	struct wsbox_error err = {0};
	struct policy pol;
	assert_int_equal(policy_load(p, &o, &pol, &err), -ETIMEDOUT);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.status, WSBOX_EXIT_FAILURE);
	assert_null(pol.filter);
	assert_int_equal(count_entries(dir), 0);
	/* The compiler was killed and reaped: no child of ours is left. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);

	struct wsbox_error cerr = {0};
	unsigned rules = 0;
	assert_int_equal(policy_check(p, &o, &rules, &cerr), -ETIMEDOUT);
	assert_string_equal(cerr.msg, want);
}

/* ---- Real behaviour: children report what their syscalls returned. ---- */

enum probe {
	P_UNSHARE_USER,
	P_MOUNT,
	P_CLONE3,
	P_TIOCSTI_HI,
	P_TIOCLINUX,
	P_SOCK_PACKET,
	P_SOCK_ALG,
	P_SOCK_UNIX,
	P_SOCK_INET,
	P_GETPID,
	P_KEYCTL,
	P_CLONE_NEWUSER,
	P_FORK,
	P_PERS_QUERY,
	P_PERS_RIE,
	P_CHOWN,
	P_CHOWN_UID,
	P_BPF,
	P_IO_URING,
	P_PTRACE_ME,
	P_SYSLOG,
	P_NEWER_462,
	P_NEWER_1000,
	P_FIONREAD,
	P_NR_467,
	P_NR_468,
	P_NR_469,
	P_NR_470,
	P_SOCK_UDPLITE,
	P_SOCK_TCP6,
	P_SOCK_PING,
	P_NPROBES
};

struct result {
	long ret;
	int err;
};

struct report {
	int stage; /* 0: all probes ran; else the setup step that failed */
	int stage_err;
	struct result r[P_NPROBES];
};

#define PROBE(rep, i, expr)                                                    \
	do {                                                                   \
		errno = 0;                                                     \
		long _r = (long)(expr);                                        \
		(rep)->r[i].ret = _r;                                          \
		(rep)->r[i].err = _r == -1 ? errno : 0;                        \
	} while (0)

/* Become root of a fresh user namespace (mapped to ourselves) so that
 * caps_drop_all has capabilities to drop and files can be created. */
static int enter_userns(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER) < 0)
		return -errno;
	char map[64];
	struct wsbox_error err;
	snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
	if (write_file_at(AT_FDCWD, "/proc/self/setgroups", "deny", &err) < 0 ||
	    write_file_at(AT_FDCWD, "/proc/self/uid_map", map, &err) < 0)
		return -EPERM;
	snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
	if (write_file_at(AT_FDCWD, "/proc/self/gid_map", map, &err) < 0)
		return -EPERM;
	return 0;
}

static void run_probes(struct report *rep, const char *file)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	char c = 'x';
	/* Before unshare: a nested namespace without a uid map could not
	 * create another one. */
	PROBE(rep, P_CLONE_NEWUSER,
	      syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
	if (rep->r[P_CLONE_NEWUSER].ret == 0)
		_exit(0);
	if (rep->r[P_CLONE_NEWUSER].ret > 0)
		waitpid((pid_t)rep->r[P_CLONE_NEWUSER].ret, NULL, 0);
	PROBE(rep, P_UNSHARE_USER, unshare(CLONE_NEWUSER));
	PROBE(rep, P_MOUNT, mount(NULL, NULL, NULL, 0, NULL));
	PROBE(rep, P_CLONE3, syscall(SYS_clone3, NULL, 0));
	PROBE(rep, P_TIOCSTI_HI,
	      ioctl(null, (unsigned long)TIOCSTI | (1UL << 32), &c));
	PROBE(rep, P_TIOCLINUX, ioctl(null, TIOCLINUX, &c));
	PROBE(rep, P_SOCK_PACKET,
	      socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
	PROBE(rep, P_SOCK_ALG,
	      socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
	PROBE(rep, P_SOCK_UNIX, socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	PROBE(rep, P_SOCK_INET, socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	PROBE(rep, P_GETPID, syscall(SYS_getpid));
	PROBE(rep, P_KEYCTL,
	      syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID,
		      KEY_SPEC_SESSION_KEYRING, 0));
	pid_t kid = fork();
	if (kid == 0)
		_exit(7);
	int st = 0;
	rep->r[P_FORK].ret = kid > 0 && waitpid(kid, &st, 0) == kid &&
			     WIFEXITED(st) && WEXITSTATUS(st) == 7;
	PROBE(rep, P_PERS_QUERY, personality(0xffffffff));
	PROBE(rep, P_PERS_RIE, personality(READ_IMPLIES_EXEC));
	PROBE(rep, P_CHOWN, chown(file, 1234, 1234));
	struct stat sb;
	rep->r[P_CHOWN_UID].ret = stat(file, &sb) == 0 ? (long)sb.st_uid : -2;
	PROBE(rep, P_BPF, syscall(SYS_bpf, 0, NULL, 0));
	PROBE(rep, P_IO_URING, syscall(SYS_io_uring_setup, 1, NULL));
	PROBE(rep, P_PTRACE_ME, syscall(SYS_ptrace, 0 /* TRACEME */, 0, 0, 0));
	PROBE(rep, P_SYSLOG, syscall(SYS_syslog, 10 /* SIZE_BUFFER */, 0, 0));
	PROBE(rep, P_NEWER_462, syscall(462, 0, 0, 0));
	PROBE(rep, P_NEWER_1000, syscall(1000, 0, 0, 0));
	int avail;
	PROBE(rep, P_FIONREAD, ioctl(null, FIONREAD, &avail));
	/* open_tree_attr, file_getattr, file_setattr (Linux 6.15, 6.17) with
	 * arguments their handlers refuse (ENOENT, EINVAL), and the first
	 * number above the reviewed maximum. */
	PROBE(rep, P_NR_467, syscall(467, -1, "", 0, NULL, 0));
	PROBE(rep, P_NR_468, syscall(468, -1, "", NULL, 0, 0));
	PROBE(rep, P_NR_469, syscall(469, -1, "", NULL, 0, 0));
	PROBE(rep, P_NR_470, syscall(470, 0, 0, 0));
	PROBE(rep, P_SOCK_UDPLITE,
	      socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDPLITE));
	PROBE(rep, P_SOCK_TCP6,
	      socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
	PROBE(rep, P_SOCK_PING,
	      socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP));
}

/* Fork; the child enters a user namespace, drops capabilities, installs
 * `p` (NULL: no filter, the control run) and probes. */
static void run_child(const struct policy *p, struct report *rep)
{
	char file[600];
	snprintf(file, sizeof file, "%s/owned", tmpdir);
	int fds[2];
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		struct report r;
		memset(&r, 0, sizeof r);
		int e = enter_userns();
		if (e < 0) {
			r.stage = 1;
			r.stage_err = -e;
		} else if ((e = caps_drop_all()) < 0) {
			r.stage = 2;
			r.stage_err = -e;
		} else {
			int fd =
			    open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
			if (fd >= 0)
				close(fd);
			if (p && (e = policy_install(p)) < 0) {
				r.stage = 3;
				r.stage_err = -e;
			} else {
				run_probes(&r, file);
			}
		}
		(void)!write(fds[1], &r, sizeof r);
		_exit(0);
	}
	close(fds[1]);
	memset(rep, 0, sizeof *rep);
	ssize_t n = read_all(fds[0], rep, sizeof *rep);
	close(fds[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st))
		fail_msg("probe child died with signal %d", WTERMSIG(st));
	assert_int_equal(n, sizeof *rep);
	if (rep->stage == 1)
		skip(); /* no unprivileged user namespaces here */
	if (rep->stage)
		fail_msg("child setup step %d failed: %s", rep->stage,
			 strerror(rep->stage_err));
}

static void expect_errno(const struct report *rep, enum probe i, int e)
{
	if (rep->r[i].ret != -1 || rep->r[i].err != e)
		fail_msg("probe %d: got ret %ld errno %d (%s), want errno %d "
			 "(%s)",
			 i, rep->r[i].ret, rep->r[i].err,
			 strerror(rep->r[i].err), e, strerror(e));
}

static void expect_ok(const struct report *rep, enum probe i)
{
	if (rep->r[i].ret < 0)
		fail_msg("probe %d failed: %s", i, strerror(rep->r[i].err));
}

static void test_policy_probes_succeed_without_a_filter(void **state)
{
	(void)state;
	/* Without a filter the same probes succeed or fail differently, so
	 * the results below are the filter's doing. */
	struct report rep;
	run_child(NULL, &rep);
	expect_ok(&rep, P_UNSHARE_USER);
	assert_int_not_equal(rep.r[P_MOUNT].err, EPERM);
	assert_int_not_equal(rep.r[P_CLONE3].err, ENOSYS);
	expect_errno(&rep, P_TIOCSTI_HI, ENOTTY);
	expect_ok(&rep, P_CLONE_NEWUSER);
	expect_ok(&rep, P_PERS_RIE);
	assert_int_equal(rep.r[P_CHOWN].ret, -1);
	expect_ok(&rep, P_PTRACE_ME);
	expect_ok(&rep, P_SOCK_UNIX);
}

static void test_policy_default_denies_escapes_and_allows_builds(void **state)
{
	(void)state;
	struct policy_options o = {.squash_chown = true};
	struct wsbox_error err = {0};
	struct policy p;
	assert_int_equal(policy_load("default", &o, &p, &err), 0);
	struct report rep;
	run_child(&p, &rep);
	policy_free(&p);
	expect_errno(&rep, P_UNSHARE_USER, EPERM);
	expect_errno(&rep, P_MOUNT, EPERM);
	expect_errno(&rep, P_CLONE3, ENOSYS);
	expect_errno(&rep, P_TIOCSTI_HI, EPERM);
	expect_errno(&rep, P_TIOCLINUX, EPERM);
	expect_errno(&rep, P_SOCK_PACKET, EPERM);
	expect_errno(&rep, P_SOCK_ALG, EPERM);
	expect_ok(&rep, P_SOCK_UNIX);
	expect_ok(&rep, P_SOCK_INET);
	expect_ok(&rep, P_GETPID);
	expect_errno(&rep, P_KEYCTL, EPERM);
	expect_errno(&rep, P_CLONE_NEWUSER, EPERM);
	assert_int_equal(rep.r[P_FORK].ret, 1);
	expect_ok(&rep, P_PERS_QUERY);
	expect_errno(&rep, P_PERS_RIE, EPERM);
	assert_int_equal(rep.r[P_CHOWN].ret, 0);     /* squashed ... */
	assert_int_equal(rep.r[P_CHOWN_UID].ret, 0); /* ... without effect */
	expect_errno(&rep, P_BPF, EPERM);
	expect_errno(&rep, P_IO_URING, EPERM);
	expect_ok(&rep, P_PTRACE_ME); /* debuggers work */
	expect_errno(&rep, P_SYSLOG, EPERM);
	expect_errno(&rep, P_FIONREAD,
		     ENOTTY); /* other ioctls reach the tty layer */
	expect_errno(&rep, P_NR_467, EPERM); /* open_tree_attr */
	expect_errno(&rep, P_NR_468, ENOSYS);
	expect_errno(&rep, P_NR_469, ENOSYS);
	expect_errno(&rep, P_SOCK_UDPLITE, EPROTONOSUPPORT);
	expect_ok(&rep, P_SOCK_TCP6);
	/* Ping sockets pass the filter (ping_group_range may still say
	 * no). */
	assert_int_not_equal(rep.r[P_SOCK_PING].err, EPROTONOSUPPORT);
}

/* `newer` starts above POLICY_REVIEWED_MAX_NR (469, file_setattr) even
 * when the policy names nothing that high: 469 reaches the kernel, 470
 * gets the `newer` errno. */
static void test_policy_newer_starts_above_the_reviewed_maximum(void **state)
{
	(void)state;
	const char *f =
	    write_policy("newer.policy", "default allow\n"
					 "newer errno 18\n" /* EXDEV */
					 "deny EPERM unshare\n");
	struct wsbox_error err = {0};
	struct policy p;
	if (policy_load(f, NULL, &p, &err) < 0)
		fail_msg("%s", err.msg);
	struct report rep;
	run_child(&p, &rep);
	policy_free(&p);
	expect_errno(&rep, P_UNSHARE_USER, EPERM);
	assert_int_not_equal(rep.r[P_NR_469].err, EXDEV);
	expect_errno(&rep, P_NR_470, EXDEV);
	expect_ok(&rep, P_GETPID);
}

static void test_policy_strict_denies_more_than_default(void **state)
{
	(void)state;
	struct wsbox_error err = {0};
	struct policy p;
	assert_int_equal(policy_load("strict", NULL, &p, &err), 0);
	struct report rep;
	run_child(&p, &rep);
	policy_free(&p);
	expect_errno(&rep, P_UNSHARE_USER, EPERM);
	expect_errno(&rep, P_MOUNT, EPERM);
	expect_errno(&rep, P_CLONE3, ENOSYS);
	expect_errno(&rep, P_TIOCSTI_HI, EPERM);
	expect_errno(&rep, P_TIOCLINUX, EPERM);
	expect_errno(&rep, P_FIONREAD, ENOTTY);
	expect_errno(&rep, P_SOCK_PACKET, EPERM);
	expect_ok(&rep, P_SOCK_UNIX);
	expect_ok(&rep, P_GETPID);
	expect_errno(&rep, P_KEYCTL, EPERM);
	expect_errno(&rep, P_CLONE_NEWUSER, EPERM);
	assert_int_equal(rep.r[P_FORK].ret, 1);
	expect_ok(&rep, P_PERS_QUERY);
	expect_errno(&rep, P_PERS_RIE, EPERM);
	expect_errno(&rep, P_PTRACE_ME, EPERM); /* not on the allowlist */
	expect_errno(&rep, P_SYSLOG, EPERM);
	/* Newer than every syscall the list names: ENOSYS, so libc falls
	 * back as on an older kernel. */
	expect_errno(&rep, P_NEWER_462, ENOSYS);
	expect_errno(&rep, P_NEWER_1000, ENOSYS);
	/* Without squash_chown, chown is simply allowed (and the kernel
	 * refuses the unmapped id). */
	expect_errno(&rep, P_CHOWN, EINVAL);
}

/* The build tools the strict allowlist is written for, run for real. */
static void test_policy_strict_runs_build_tools(void **state)
{
	(void)state;
	struct policy_options o = {.squash_chown = true};
	struct wsbox_error err = {0};
	struct policy p;
	assert_int_equal(policy_load("strict", &o, &p, &err), 0);
	char script[2048];
	snprintf(script, sizeof script,
		 "set -e; cd '%s'; mkdir -p tools; cd tools\n"
		 "printf 'int main(void){return 3;}\\n' > a.c\n"
		 "if command -v cc >/dev/null; then cc -o a a.c; "
		 "set +e; ./a; s=$?; set -e; [ $s = 3 ]; fi\n"
		 "mkdir -p sub; tar cf x.tar a.c; tar xf x.tar -C sub; "
		 "cmp a.c sub/a.c\n"
		 "cp -a a.c b.c; ls -l | sort | head -n 3 >/dev/null\n"
		 "printf 'all:\\n\\t@echo made\\n' > Makefile\n"
		 "if command -v make >/dev/null; then make -s | grep -q made; "
		 "fi\n"
		 "if command -v git >/dev/null; then git init -q r && cd r && "
		 "git -c user.email=a@b -c user.name=a commit -q "
		 "--allow-empty -m m && cd ..; fi\n"
		 "if command -v busybox >/dev/null; then busybox sha256sum "
		 "a.c >/dev/null; fi\n"
		 "if command -v python3 >/dev/null; then python3 -c 'import "
		 "subprocess,threading,tempfile; "
		 "subprocess.run([\"true\"],check=True)'; fi\n",
		 tmpdir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (enter_userns() < 0 || caps_drop_all() < 0 ||
		    policy_install(&p) < 0)
			_exit(99);
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(98);
	}
	policy_free(&p);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st))
		fail_msg("tools under strict: killed by signal %d",
			 WTERMSIG(st));
	if (WEXITSTATUS(st) != 0)
		fail_msg("tools under strict: exit %d", WEXITSTATUS(st));
}

#if defined(__x86_64__)
static long int80_getpid(void)
{
	long ret;
	/* i386 ABI: eax = 20 (getpid). */
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(20L)
			 : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

/* Child: install `p` (or nothing) and make a foreign-ABI syscall. */
static int foreign_abi_child(const struct policy *p, bool x32)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (p && policy_install(p) < 0)
			_exit(99);
		long r =
		    x32 ? syscall(0x40000000 | SYS_getpid) : int80_getpid();
		_exit(r == getpid() ? 0 : 1);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void test_policy_kills_foreign_abi_syscalls(void **state)
{
	(void)state;
	struct wsbox_error err = {0};
	const char *names[] = {"default", "strict", "permissive"};
	/* Control: does this kernel run i386 syscalls at all? */
	int ctl = foreign_abi_child(NULL, false);
	for (size_t i = 0; i < 3; i++) {
		struct policy p;
		assert_int_equal(policy_load(names[i], NULL, &p, &err), 0);
		if (WIFEXITED(ctl) && WEXITSTATUS(ctl) == 0) {
			int st = foreign_abi_child(&p, false);
			if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
				fail_msg("%s: int 0x80 not killed by SIGSYS "
					 "(status 0x%x)",
					 names[i], st);
		}
		int st = foreign_abi_child(&p, true);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
			fail_msg("%s: x32 syscall not killed by SIGSYS "
				 "(status 0x%x)",
				 names[i], st);
		policy_free(&p);
	}
	if (!WIFEXITED(ctl) || WEXITSTATUS(ctl) != 0)
		skip(); /* no IA32 emulation: only x32 was checked */
}
#endif

/* ---- Denied-syscall reporting (policy/report.c, sandbox/notify.c) ---- */

static void expect_variant(const char *text, bool has)
{
	const char *p = write_policy("v.policy", text);
	struct wsbox_error err = {0};
	struct policy pol;
	if (policy_load(p, NULL, &pol, &err) < 0)
		fail_msg("%s: %s", text, err.msg);
	if (!pol.notify_filter != !has)
		fail_msg("policy:\n%s\nreporting variant %s", text,
			 has ? "missing" : "unexpected");
	policy_free(&pol);
}

static void test_policy_reporting_variant_keeps_the_errnos(void **state)
{
	(void)state;
	struct wsbox_error err = {0};
	struct policy p;
	struct policy_options o = {.squash_chown = true};
	assert_int_equal(policy_load("default", &o, &p, &err), 0);
	assert_non_null(p.notify_filter);
	assert_int_equal(p.notify_default_errno, 0); /* default allow */
	assert_int_equal(policy_denied_errno(&p, SYS_unshare), EPERM);
	policy_free(&p);
	assert_int_equal(policy_load("strict", &o, &p, &err), 0);
	assert_non_null(p.notify_filter);
	assert_int_equal(p.notify_default_errno, EPERM);
	assert_int_equal(policy_denied_errno(&p, SYS_ptrace), EPERM);
	policy_free(&p);
	/* Nothing to report. */
	assert_int_equal(policy_load("permissive", &o, &p, &err), 0);
	assert_null(p.notify_filter);
	policy_free(&p);
	expect_variant("default allow\ndeny ENOSYS clone3\n", false);
	/* The listener travels by sendmsg: it must be allowed outright. */
	expect_variant("default allow\ndeny EPERM unshare sendmsg\n", false);
	expect_variant("default errno EPERM\nallow sendmsg write\n", true);
	expect_variant("default errno EPERM\nallow write\n", false);
	/* write may only be conditional when nothing of it can notify. */
	expect_variant("default errno EPERM\nallow sendmsg\n"
		       "allow write arg0 == 1\n",
		       false);
	expect_variant("default allow\ndeny EPERM unshare\n"
		       "deny EACCES write arg0 == 7\n",
		       true);
}

#define MAX_SEEN 8
struct seen {
	int n;
	char names[MAX_SEEN][32];
	pid_t pids[MAX_SEEN];
};

static void on_denied(void *ctx, pid_t pid, int nr, const char *name)
{
	struct seen *s = ctx;
	(void)nr;
	if (s->n < MAX_SEEN) {
		snprintf(s->names[s->n], sizeof s->names[0], "%s", name);
		s->pids[s->n] = pid;
	}
	s->n++;
}

enum { R_UNSHARE, R_MKDIR, R_CLONE3, R_CHOWN, R_GETPID, R_EXECVE, R_N };

/* Child side: the task's last steps (install with the listener handed
 * over), then syscalls with known outcomes under `p`. */
static void reporting_child(const struct policy *p, int sock, int out)
{
	struct result r[R_N];
	memset(r, 0, sizeof r);
	int e = policy_install_reporting(p, sock);
	if (e != 0)
		_exit(90 + (e < 0));
	char file[600];
	snprintf(file, sizeof file, "%s/reported", tmpdir);
#define RPROBE(i, expr)                                                        \
	do {                                                                   \
		errno = 0;                                                     \
		long _r = (long)(expr);                                        \
		r[i].ret = _r;                                                 \
		r[i].err = _r == -1 ? errno : 0;                               \
	} while (0)
	RPROBE(R_UNSHARE, unshare(CLONE_NEWUTS));
	RPROBE(R_MKDIR, mkdir(file, 0700));
	RPROBE(R_CLONE3, syscall(SYS_clone3, NULL, 0));
	RPROBE(R_CHOWN, chown(tmpdir, getuid(), getgid()));
	RPROBE(R_GETPID, syscall(SYS_getpid));
	RPROBE(R_EXECVE, execve("/nonexistent", (char *[]){NULL}, NULL));
#undef RPROBE
	/* Past the report cap: still answered, only counted. */
	for (int i = 0; i < NOTIFY_MAX_REPORTS + 100; i++)
		if (unshare(CLONE_NEWUTS) == 0 || errno != EPERM)
			_exit(93);
	(void)!write(out, r, sizeof r);
	_exit(0);
}

static void test_policy_reporting_answers_each_rules_errno(void **state)
{
	(void)state;
	/* default plus an errno of its own: the answer must be each rule's
	 * errno, not a generic one. */
	const char *path =
	    write_policy("r.policy", "include default\n"
				     "deny EACCES mkdir mkdirat execve\n");
	struct wsbox_error err = {0};
	struct policy pol;
	struct policy_options o = {.squash_chown = true};
	assert_int_equal(policy_load(path, &o, &pol, &err), 0);
	assert_non_null(pol.notify_filter);
	struct seen seen = {0};
	struct plan plan = {.policy = &pol,
			    .report_denied = true,
			    .on_denied = on_denied,
			    .on_denied_ctx = &seen};
	struct notify nt;
	assert_int_equal(notify_setup(&nt, &plan, &err), 0);
	int sock = notify_task_sock();
	assert_true(sock >= 0);
	int fds[2];
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		notify_after_clone(&nt, true);
		reporting_child(&pol, sock, fds[1]);
	}
	close(fds[1]);
	notify_after_clone(&nt, false);
	struct result r[R_N];
	memset(r, 0, sizeof r);
	size_t got = 0;
	for (;;) {
		struct pollfd pf[2] = {
		    {.fd = notify_pollfd(&nt), .events = POLLIN},
		    {.fd = fds[0], .events = POLLIN}};
		assert_true(poll(pf, 2, 10000) > 0);
		if (pf[0].revents)
			notify_handle(&nt, pf[0].revents);
		if (pf[1].revents) {
			ssize_t n =
			    read(fds[0], (char *)r + got, sizeof r - got);
			assert_true(n >= 0);
			if (n == 0)
				break;
			got += (size_t)n;
		}
	}
	close(fds[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) != 0)
		fail_msg("reporting child exit %d", WEXITSTATUS(st));
	assert_int_equal(got, sizeof r);
	unsigned count = nt.count;
	notify_close(&nt);
	policy_free(&pol);

	/* The task saw the policy's answers... */
	assert_int_equal(r[R_UNSHARE].err, EPERM);
	assert_int_equal(r[R_MKDIR].err, EACCES);
	assert_int_equal(r[R_EXECVE].err, EACCES);
	assert_int_equal(r[R_CLONE3].err, ENOSYS);
	assert_int_equal(r[R_CHOWN].ret, 0);
	assert_int_equal(r[R_GETPID].ret, pid);
	/* ... and the supervisor heard of exactly the denials, by name and
	 * pid: not ENOSYS (a fallback), not the squashed chown. */
	assert_int_equal(seen.n, NOTIFY_MAX_REPORTS);
	assert_int_equal(count, 3 + NOTIFY_MAX_REPORTS + 100);
	assert_string_equal(seen.names[0], "unshare");
	/* glibc may use mkdirat for mkdir */
	assert_int_equal(strncmp(seen.names[1], "mkdir", 5), 0);
	assert_string_equal(seen.names[2], "execve");
	assert_int_equal(seen.pids[0], pid);
}

int main(void)
{
	const struct CMUnitTest tests[] =
	{ cmocka_unit_test(test_policy_shipped_profiles_parse),
	  cmocka_unit_test(test_policy_unknown_syscall_names_its_line),
	  cmocka_unit_test(test_policy_bad_syntax_is_refused_with_its_line),
	  cmocka_unit_test(test_policy_include_refuses_loops_and_depth),
	  cmocka_unit_test(test_policy_digest_is_stable),
	  cmocka_unit_test(test_policy_bpf_cache_hit_equals_a_fresh_build),
	  cmocka_unit_test(test_policy_bounded_compile_equals_in_process),
	  cmocka_unit_test(
	      test_policy_compile_past_the_bound_fails_and_caches_nothing),
	  cmocka_unit_test(test_policy_probes_succeed_without_a_filter),
	  cmocka_unit_test(
	      test_policy_default_denies_escapes_and_allows_builds),
	  cmocka_unit_test(test_policy_strict_denies_more_than_default),
	  cmocka_unit_test(test_policy_newer_starts_above_the_reviewed_maximum),
	  cmocka_unit_test(test_policy_strict_runs_build_tools),
	  cmocka_unit_test(test_policy_reporting_variant_keeps_the_errnos),
	  cmocka_unit_test(test_policy_reporting_answers_each_rules_errno),
#if defined(__x86_64__)
	  cmocka_unit_test(test_policy_kills_foreign_abi_syscalls),
#endif
	};
	return FX_RUN_TESTS(tests, setup, teardown);
}
