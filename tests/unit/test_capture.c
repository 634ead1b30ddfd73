/* Unit tests for layers/capture on real temp trees: symlinks never followed,
 * deep trees with bounded fds, hostile names, sanitizing (setuid, xattrs,
 * FIFOs, sockets, devices), real overlay whiteouts, --save, size limit,
 * determinism and read-only layers, and the copy mode of --max-layer-size. Run
 * as root and as a plain user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "layers/capture.h"
#include "layers/layer.h"
#include "layers/manifest.h"
#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "tests/unit/fixture.h"

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static struct capture_options owner_opts(void)
{
	return (struct capture_options){.owner_uid = getuid(),
					.owner_gid = getgid()};
}

/* Capture root and check that no fd leaked. */
static int capture(const char *root, const struct capture_options *o,
		   struct manifest *m, struct capture_stats *s,
		   struct wsbox_error *err)
{
	int before = count_fds();
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	int r = capture_tree(fd, o, m, s, err);
	close(fd);
	assert_int_equal(count_fds(), before);
	return r;
}

/* Capture the copy of src into a fresh dir; no fd leaks. */
static int capture_copy(const char *src, const char *dst,
			const struct capture_options *o, struct manifest *m,
			struct capture_stats *s, struct wsbox_error *err)
{
	int before = count_fds();
	int sfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(sfd >= 0 && dfd >= 0);
	int r = capture_tree_copy(sfd, dfd, o, m, s, err);
	close(sfd);
	close(dfd);
	assert_int_equal(count_fds(), before);
	return r;
}

static void digest_of(const struct manifest *m, char d[DIGEST_STRLEN])
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	struct wsbox_error err = {0};
	assert_int_equal(manifest_serialize(m, &text, &len, &err), 0);
	/* Whatever capture produces is canonical: parse accepts it. */
	struct manifest p = {0};
	assert_int_equal(manifest_parse(text, len, &p, &err), 0);
	assert_int_equal(p.n, m->n);
	manifest_free(&p);
	manifest_digest(text, len, d);
}

static const struct mf_entry *need(const struct manifest *m, const char *path,
				   char type)
{
	const struct mf_entry *e = manifest_find(m, path);
	if (!e)
		fail_msg("missing entry `%s`", path);
	assert_int_equal(e->type, type);
	return e;
}

static void test_capture_records_symlinks_without_following_them(void **state)
{
	(void)state;
	_cleanup_free_ char *host = fx_tree_new();
	_cleanup_free_ char *root = fx_tree_new();
	fx_file(host, "secret", "host data", 04755);
	fx_dir(host, "hdir", 0755);
	fx_file(host, "hdir/f", "x", 0644);
	_cleanup_free_ char *secret = fx_path(host, "secret");
	_cleanup_free_ char *hdir = fx_path(host, "hdir");
	fx_symlink(root, "link", secret);
	fx_symlink(root, "dlink", hdir);
	fx_symlink(root, "loop1", "loop2");
	fx_symlink(root, "loop2", "loop1");
	fx_symlink(root, "self", ".");
	fx_symlink(root, "up", "../../../..");

	struct capture_options o = owner_opts();
	o.make_readonly = true;
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	assert_int_equal(capture(root, &o, &m, &s, &err), 0);
	assert_int_equal(m.n, 6);
	assert_int_equal(s.symlinks, 6);
	assert_int_equal(s.files, 0);
	assert_string_equal(need(&m, "link", MF_SYMLINK)->target, secret);
	assert_string_equal(need(&m, "dlink", MF_SYMLINK)->target, hdir);
	assert_string_equal(need(&m, "loop1", MF_SYMLINK)->target, "loop2");
	assert_string_equal(need(&m, "self", MF_SYMLINK)->target, ".");
	assert_int_equal(need(&m, "up", MF_SYMLINK)->mode, 0777);
	/* The host file kept its setuid and write bits: never touched. */
	assert_int_equal(fx_mode_of(host, "secret"), 04755);
	assert_int_equal(fx_mode_of(host, "hdir/f"), 0644);
	char d[DIGEST_STRLEN];
	digest_of(&m, d);
	manifest_free(&m);
	fx_tree_remove(root);
	fx_tree_remove(host);
}

/* mkdir a chain of `depth` dirs named `name` below dir fd, one fd at a time. */
static void make_chain(int dfd, const char *name, int depth)
{
	int cur = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	for (int i = 0; i < depth; i++) {
		assert_int_equal(mkdirat(cur, name, 0755), 0);
		int next =
		    openat(cur, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(next >= 0);
		close(cur);
		cur = next;
	}
	int f = openat(cur, "bottom", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(f >= 0);
	assert_int_equal(write_all(f, "deep", 4), 0);
	close(f);
	close(cur);
}

static void test_capture_walks_a_10000_deep_tree(void **state)
{
	(void)state;
	/* Kept: as deep as a layer path may be (4 + 2 * 2040 + 7 bytes,
	 * under PATH_MAX); removed (outside --save): 10,000 deep. */
	enum { KEPT = 2040, DEPTH = 10000 };
	_cleanup_free_ char *root = fx_tree_new();
	int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rfd >= 0);
	assert_int_equal(mkdirat(rfd, "keep", 0755), 0);
	int kfd = openat(rfd, "keep", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	make_chain(kfd, "d", KEPT);
	close(kfd);
	assert_int_equal(mkdirat(rfd, "junk", 0755), 0);
	int jfd = openat(rfd, "junk", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	make_chain(jfd, "j", DEPTH);
	close(jfd);
	close(rfd);

	/* Far fewer fds than levels: the walk must stay within a window. */
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 128;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);

	static const char *const save[] = {"keep", NULL};
	struct capture_options o = owner_opts();
	o.save = save;
	o.make_readonly = true;
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	int r = capture(root, &o, &m, &s, &err);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (r)
		fail_msg("capture: %s", err.msg);
	assert_int_equal(s.dirs, KEPT + 1);
	assert_int_equal(s.files, 1);
	assert_int_equal(s.dropped, 1);
	assert_int_equal(m.n, KEPT + 2);
	assert_false(fx_exists(root, "junk"));
	/* Pre-order: keep, keep/d, keep/d/d, ..., then the file last. */
	assert_string_equal(m.e[0].path, "keep");
	const struct mf_entry *last = &m.e[m.n - 1];
	assert_int_equal(last->type, MF_FILE);
	assert_int_equal(strlen(last->path), 4 + 2 * KEPT + 7);
	assert_ptr_equal(manifest_find(&m, last->path), last);
	char d[DIGEST_STRLEN];
	digest_of(&m, d);
	manifest_free(&m);
	fx_tree_remove(root);
}

/* Issue 19 item 7: a kept path longer than PATH_MAX could be published
 * but never opened again by verify, restore, export or a descendant's
 * flattening. The walk itself (fd-relative) gets there; the capture
 * refuses, naming the path's beginning, in place and in copy mode. */
static void test_capture_refuses_paths_longer_than_path_max(void **state)
{
	(void)state;
	enum { DEPTH = 10000 };
	_cleanup_free_ char *root = fx_tree_new();
	_cleanup_free_ char *dst = fx_tree_new();
	int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rfd >= 0);
	make_chain(rfd, "d", DEPTH);
	close(rfd);
	fx_file(root, "z", "z", 0644);
	struct capture_options o = owner_opts();
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	assert_int_equal(capture_copy(root, dst, &o, &m, &s, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "`d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/"
					"d/d/d/d/d/d/d/d/d/d/d/d/d/d/…`: path "
					"longer than 4095 bytes"));
	assert_int_equal(m.n, 0);
	assert_false(fx_exists(dst, "d"));
	memset(&err, 0, sizeof err);
	assert_int_equal(capture(root, &o, &m, &s, &err), -EINVAL);
	assert_non_null(
	    strstr(err.msg, "path longer than 4095 bytes (PATH_MAX)"));
	assert_int_equal(strlen(err.msg),
			 strlen("`") + 64 + strlen("…`: ") +
			     strlen("path longer than 4095 "
				    "bytes (PATH_MAX): no reader "
				    "of the layer could open it"));
	assert_int_equal(m.n, 0);
	fx_tree_remove(root);
	fx_tree_remove(dst);
}

static void test_capture_escapes_hostile_names(void **state)
{
	(void)state;
	_cleanup_free_ char *root = fx_tree_new();
	fx_file(root, "new\nline", "1", 0644);
	fx_file(root, "\xff\xfe", "2", 0644);
	fx_file(root, "sp ace", "3", 0644);
	fx_file(root, "per%cent", "4", 0644);
	fx_dir(root, "d\n", 0755);
	fx_file(root, "d\n/x", "5", 0644);
	fx_symlink(root, "l\n", "t\narget");

	struct capture_options o = owner_opts();
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	assert_int_equal(capture(root, &o, &m, &s, &err), 0);
	assert_int_equal(m.n, 7);
	need(&m, "new\nline", MF_FILE);
	need(&m, "\xff\xfe", MF_FILE);
	need(&m, "d\n/x", MF_FILE);
	assert_string_equal(need(&m, "l\n", MF_SYMLINK)->target, "t\narget");
	_cleanup_free_ char *text = NULL;
	size_t len;
	assert_int_equal(manifest_serialize(&m, &text, &len, &err), 0);
	assert_non_null(strstr(text, " new%0Aline\n"));
	assert_non_null(strstr(text, " %FF%FE\n"));
	assert_non_null(strstr(text, " sp%20ace\n"));
	assert_non_null(strstr(text, " per%25cent\n"));
	assert_non_null(strstr(text, " d%0A/x\n"));
	assert_non_null(strstr(text, " l%0A t%0Aarget\n"));
	/* Exactly one line per entry plus the header. */
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	assert_int_equal(lines, m.n + 1);
	manifest_free(&m);
	fx_tree_remove(root);
}

static void
test_capture_keeps_special_modes_and_unreadable_entries(void **state)
{
	(void)state;
	_cleanup_free_ char *root = fx_tree_new();
	fx_file(root, "suid", "s", 04755);
	fx_file(root, "sgid", "g", 02755);
	fx_file(root, "sticky", "t", 01644);
	fx_dir(root, "sgdir", 02775);
	fx_dir(root, "tmp", 01777);
	/* Left unreadable / unwritable by the task: still captured. */
	fx_file(root, "noread", "n", 0);
	fx_dir(root, "closed", 0755);
	fx_file(root, "closed/inner", "i", 0644);
	_cleanup_free_ char *fifo = fx_path(root, "closed/fifo");
	assert_int_equal(mkfifo(fifo, 0644), 0);
	assert_int_equal(chmod(fifo, 0644), 0);
	_cleanup_free_ char *closed = fx_path(root, "closed");
	assert_int_equal(chmod(closed, 0), 0);
	/* A socket, a FIFO: dropped. */
	_cleanup_free_ char *sockp = fx_path(root, "sock");
	int sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sockp);
	assert_int_equal(bind(sfd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(sfd);
	_cleanup_free_ char *fifo2 = fx_path(root, "fifo");
	assert_int_equal(mkfifo(fifo2, 0644), 0);
	/* Hard links stay two independent files with the same content. */
	fx_file(root, "h1", "linked", 0644);
	_cleanup_free_ char *h1 = fx_path(root, "h1");
	_cleanup_free_ char *h2 = fx_path(root, "h2");
	assert_int_equal(link(h1, h2), 0);

	struct capture_options o = owner_opts();
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	int r = capture(root, &o, &m, &s, &err);
	if (r)
		fail_msg("capture: %s", err.msg);
	assert_int_equal(s.dropped, 3);
	assert_false(fx_exists(root, "sock"));
	assert_false(fx_exists(root, "fifo"));
	assert_int_equal(need(&m, "suid", MF_FILE)->mode, 0755);
	assert_int_equal(need(&m, "sgid", MF_FILE)->mode, 0755);
	assert_int_equal(need(&m, "sticky", MF_FILE)->mode, 0644);
	assert_int_equal(need(&m, "sgdir", MF_DIR)->mode, 0775);
	assert_int_equal(need(&m, "tmp", MF_DIR)->mode, 01777);
	assert_int_equal(need(&m, "noread", MF_FILE)->mode, 0);
	assert_int_equal(need(&m, "closed", MF_DIR)->mode, 0);
	need(&m, "closed/inner", MF_FILE);
	assert_null(manifest_find(&m, "closed/fifo"));
	assert_int_equal(fx_mode_of(root, "suid"), 0755);
	assert_int_equal(fx_mode_of(root, "sgid"), 0755);
	assert_int_equal(fx_mode_of(root, "sticky"), 0644);
	assert_int_equal(fx_mode_of(root, "sgdir"), 0775);
	assert_int_equal(fx_mode_of(root, "tmp"), 01777);
	assert_int_equal(fx_mode_of(root, "noread"), 0);
	assert_int_equal(fx_mode_of(root, "closed"), 0); /* restored */
	const struct mf_entry *a = need(&m, "h1", MF_FILE);
	const struct mf_entry *b = need(&m, "h2", MF_FILE);
	assert_memory_equal(a->sha256, b->sha256, 32);
	assert_int_equal(a->size, 6);
	assert_int_equal(s.files, 7);
	manifest_free(&m);
	fx_tree_remove(root);
}

/* Returns false when the case cannot run here; the caller skips
 * (skip() longjmps past the cleanup attributes). */
static bool device_refused(void)
{
	_cleanup_free_ char *root = fx_tree_new();
	_cleanup_free_ char *p = fx_path(root, "dev\nnull");
	if (mknod(p, S_IFCHR | 0666, makedev(1, 3)) < 0) {
		fx_tree_remove(root);
		return false;
	}
	struct capture_options o = owner_opts();
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	assert_int_equal(capture(root, &o, &m, &s, &err), -EPERM);
	assert_non_null(strstr(err.msg, "`dev%0Anull`"));
	assert_int_equal(m.n, 0);
	fx_tree_remove(root);
	return true;
}

static void test_capture_refuses_device_nodes(void **state)
{
	(void)state;
	if (!device_refused())
		skip(); /* needs CAP_MKNOD: covered when run as root */
}

static bool has_xattr(const char *path, const char *name)
{
	return lgetxattr(path, name, NULL, 0) >= 0;
}

static bool xattrs(void)
{
	_cleanup_free_ char *root = fx_tree_new();
	fx_file(root, "f", "x", 0644);
	fx_dir(root, "op", 0755);
	fx_dir(root, "notop", 0755);
	fx_symlink(root, "l", "f");
	_cleanup_free_ char *f = fx_path(root, "f");
	_cleanup_free_ char *op = fx_path(root, "op");
	_cleanup_free_ char *notop = fx_path(root, "notop");
	_cleanup_free_ char *l = fx_path(root, "l");
	if (setxattr(f, "user.foo", "bar", 3, 0) < 0) {
		fx_tree_remove(root);
		return false;
	}
	assert_int_equal(setxattr(f, "user.overlay.origin", "o", 1, 0), 0);
	/* Read-only file and dir: removing user.* needs write permission. */
	fx_file(root, "ro", "r", 0644);
	fx_dir(root, "rodir", 0755);
	_cleanup_free_ char *ro = fx_path(root, "ro");
	_cleanup_free_ char *rodir = fx_path(root, "rodir");
	assert_int_equal(setxattr(ro, "user.foo", "bar", 3, 0), 0);
	assert_int_equal(setxattr(rodir, "user.foo", "bar", 3, 0), 0);
	assert_int_equal(chmod(ro, 0444), 0);
	assert_int_equal(chmod(rodir, 0555), 0);
	assert_int_equal(setxattr(f, "user.overlay.opaque", "y", 1, 0), 0);
	assert_int_equal(setxattr(op, "user.overlay.opaque", "y", 1, 0), 0);
	assert_int_equal(setxattr(op, "user.foo", "bar", 3, 0), 0);
	assert_int_equal(setxattr(notop, "user.overlay.opaque", "n", 1, 0), 0);
	assert_int_equal(setxattr(root, "user.overlay.opaque", "y", 1, 0), 0);
	assert_int_equal(setxattr(root, "user.foo", "bar", 3, 0), 0);
	bool priv =
	    geteuid() == 0 && lsetxattr(l, "trusted.foo", "bar", 3, 0) == 0;

	struct capture_options o = owner_opts();
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	int r = capture(root, &o, &m, &s, &err);
	if (r)
		fail_msg("capture: %s", err.msg);
	need(&m, "f", MF_FILE);
	need(&m, "op", MF_OPAQUE_DIR);
	need(&m, "notop", MF_DIR);
	assert_false(has_xattr(f, "user.foo"));
	assert_false(has_xattr(f, "user.overlay.origin"));
	assert_false(has_xattr(f, "user.overlay.opaque"));
	assert_true(has_xattr(op, "user.overlay.opaque"));
	assert_false(has_xattr(op, "user.foo"));
	assert_false(has_xattr(notop, "user.overlay.opaque"));
	assert_false(has_xattr(root, "user.overlay.opaque"));
	assert_false(has_xattr(root, "user.foo"));
	assert_false(has_xattr(ro, "user.foo"));
	assert_false(has_xattr(rodir, "user.foo"));
	assert_int_equal(fx_mode_of(root, "ro"), 0444);
	assert_int_equal(fx_mode_of(root, "rodir"), 0555);
	if (priv)
		assert_false(has_xattr(l, "trusted.foo"));
	manifest_free(&m);
	fx_tree_remove(root);
	return true;
}

static void test_capture_strips_overlay_xattrs(void **state)
{
	(void)state;
	if (!xattrs())
		skip(); /* filesystem without user xattrs */
}

static void write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write_all(fd, s, strlen(s)) < 0)
		_exit(77);
	close(fd);
}

/* Produce a real whiteout and opaque dir: in a new user+mount namespace,
 * mount an overlay with userxattr and delete through it. */
static int overlay_delete(const char *lower, const char *upper,
			  const char *work, const char *merged)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
			_exit(77);
		char map[64];
		write_str("/proc/self/setgroups", "deny");
		snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
		write_str("/proc/self/uid_map", map);
		snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
		write_str("/proc/self/gid_map", map);
		char opt[4096];
		snprintf(opt, sizeof opt,
			 "lowerdir=%s,upperdir=%s,workdir=%s,userxattr", lower,
			 upper, work);
		if (mount("overlay", merged, "overlay", 0, opt) < 0)
			_exit(77);
		char p[4096];
		snprintf(p, sizeof p, "%s/gone", merged);
		if (unlink(p) < 0)
			_exit(1);
		snprintf(p, sizeof p, "%s/dir/x", merged);
		if (unlink(p) < 0)
			_exit(1);
		snprintf(p, sizeof p, "%s/dir", merged);
		if (rmdir(p) < 0 || mkdir(p, 0755) < 0)
			_exit(1);
		snprintf(p, sizeof p, "%s/dir/new", merged);
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			_exit(1);
		close(fd);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static bool whiteout_and_opaque(void)
{
	_cleanup_free_ char *base = fx_tree_new();
	fx_dir(base, "lower", 0755);
	fx_dir(base, "upper", 0755);
	fx_dir(base, "work", 0755);
	fx_dir(base, "merged", 0755);
	fx_file(base, "lower/gone", "g", 0644);
	fx_dir(base, "lower/dir", 0755);
	fx_file(base, "lower/dir/x", "x", 0644);
	_cleanup_free_ char *lower = fx_path(base, "lower");
	_cleanup_free_ char *upper = fx_path(base, "upper");
	_cleanup_free_ char *work = fx_path(base, "work");
	_cleanup_free_ char *merged = fx_path(base, "merged");
	int st = overlay_delete(lower, upper, work, merged);
	if (st == 77) {
		fx_tree_remove(base);
		return false;
	}
	assert_int_equal(st, 0);

	struct capture_options o = owner_opts();
	o.make_readonly = true;
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	int r = capture(upper, &o, &m, &s, &err);
	if (r)
		fail_msg("capture: %s", err.msg);
	assert_int_equal(need(&m, "gone", MF_WHITEOUT)->mode, 0);
	need(&m, "dir", MF_OPAQUE_DIR);
	need(&m, "dir/new", MF_FILE);
	assert_int_equal(s.whiteouts, 1);
	assert_int_equal(m.n, 3);
	_cleanup_free_ char *dir = fx_path(upper, "dir");
	assert_true(has_xattr(dir, "user.overlay.opaque"));
	/* Still a real whiteout on disk. */
	_cleanup_free_ char *gone = fx_path(upper, "gone");
	struct stat gst;
	assert_int_equal(lstat(gone, &gst), 0);
	assert_true(S_ISCHR(gst.st_mode) && gst.st_rdev == makedev(0, 0));
	manifest_free(&m);
	fx_tree_remove(base);
	return true;
}

static void test_capture_records_whiteouts_and_opaque_dirs(void **state)
{
	(void)state;
	if (!whiteout_and_opaque())
		skip(); /* no overlay in a user namespace here */
}

static void test_capture_refuses_trees_over_max_bytes(void **state)
{
	(void)state;
	_cleanup_free_ char *root = fx_tree_new();
	char k[1001];
	memset(k, 'k', 1000);
	k[1000] = '\0';
	fx_file(root, "a", k, 0644);
	fx_file(root, "b", k, 0644);
	fx_file(root, "c", k, 0644);
	struct capture_options o = owner_opts();
	o.max_bytes = 2500;
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	assert_int_equal(capture(root, &o, &m, &s, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "layer exceeds --max-layer-size "
					"(2500 bytes)"));
	assert_int_equal(m.n, 0);
	o.max_bytes = 3000;
	assert_int_equal(capture(root, &o, &m, &s, &err), 0);
	assert_int_equal(s.bytes, 3000);
	assert_int_equal(m.total_bytes, 3000);
	manifest_free(&m);
	fx_tree_remove(root);
}

static void test_capture_save_keeps_only_the_listed_paths(void **state)
{
	(void)state;
	_cleanup_free_ char *root = fx_tree_new();
	fx_dir(root, "keep", 0755);
	fx_file(root, "keep/a", "a", 0644);
	fx_dir(root, "keep/sub", 0755);
	fx_symlink(root, "keep/sub/l", "/etc/passwd");
	fx_dir(root, "other", 0755);
	fx_file(root, "other/c", "c", 0644);
	fx_file(root, "top.txt", "t", 0644);
	fx_dir(root, "deep", 0700);
	fx_dir(root, "deep/x", 0755);
	fx_dir(root, "deep/x/y", 0755);
	fx_file(root, "deep/x/y/z", "z", 0644);
	fx_file(root, "deep/x/sibling", "s", 0644);
	fx_file(root, "deep/x/y2", "s", 0644);
	fx_symlink(root, "lead",
		   "keep"); /* a symlink where a save path leads */
	_cleanup_free_ char *dx = fx_path(root, "deep/x");
	bool ux = setxattr(dx, "user.overlay.opaque", "y", 1, 0) == 0;

	static const char *const save[] = {"keep/", "deep//x/y", "missing/q",
					   "lead/a", NULL};
	struct capture_options o = owner_opts();
	o.save = save;
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	int r = capture(root, &o, &m, &s, &err);
	if (r)
		fail_msg("capture: %s", err.msg);
	static const char *const expect[] = {
	    "deep", "deep/x", "deep/x/y", "deep/x/y/z",
	    "keep", "keep/a", "keep/sub", "keep/sub/l",
	};
	assert_int_equal(m.n, sizeof expect / sizeof *expect);
	for (size_t i = 0; i < m.n; i++)
		assert_string_equal(m.e[i].path, expect[i]);
	/* Ancestors are plain dirs, even if the task made one opaque. */
	assert_int_equal(m.e[1].type, MF_DIR);
	if (ux)
		assert_false(has_xattr(dx, "user.overlay.opaque"));
	assert_int_equal(m.e[0].mode, 0700);
	assert_int_equal(s.dropped, 5); /* other top.txt sibling y2 lead */
	assert_false(fx_exists(root, "other"));
	assert_false(fx_exists(root, "top.txt"));
	assert_false(fx_exists(root, "lead"));
	assert_false(fx_exists(root, "deep/x/sibling"));
	assert_true(fx_exists(root, "keep/sub/l"));
	manifest_free(&m);

	static const char *const bad1[] = {"../x", NULL};
	static const char *const bad2[] = {"/etc", NULL};
	static const char *const bad3[] = {"a/./b", NULL};
	static const char *const bad4[] = {"", NULL};
	const char *const *bads[] = {bad1, bad2, bad3, bad4};
	for (size_t i = 0; i < 4; i++) {
		o.save = bads[i];
		assert_int_equal(capture(root, &o, &m, &s, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "--save"));
	}
	fx_tree_remove(root);
}

static void build_sample(const char *root)
{
	fx_dir(root, "src", 0755);
	fx_file(root, "src/main.c", "int main(void) { return 0; }\n", 0644);
	fx_file(root, "src/run.sh", "#!/bin/sh\n", 0755);
	fx_dir(root, "src/empty", 0750);
	fx_dir(root, "out", 0755);
	fx_file(root, "out/bin",
		"\x7f"
		"ELF",
		0755);
	fx_symlink(root, "out/latest", "bin");
	fx_file(root, "README", "", 0600);
}

static int no_write_bits(const char *p, const struct stat *st, int type,
			 struct FTW *ftw)
{
	(void)p;
	if (ftw->level > 0 && type != FTW_SL && (st->st_mode & 0222))
		return 1;
	return 0;
}

static void test_capture_is_deterministic_and_read_only(void **state)
{
	(void)state;
	_cleanup_free_ char *r1 = fx_tree_new();
	_cleanup_free_ char *r2 = fx_tree_new();
	build_sample(r1);
	build_sample(r2);
	/* Different mtimes (and a different umask history) do not matter. */
	_cleanup_free_ char *f = fx_path(r2, "src/main.c");
	struct timespec ts[2] = {{12345, 0}, {12345, 0}};
	assert_int_equal(utimensat(AT_FDCWD, f, ts, 0), 0);

	struct capture_options o = owner_opts();
	struct manifest m1 = {0}, m2 = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	assert_int_equal(capture(r1, &o, &m1, &s, &err), 0);
	o.make_readonly = true;
	assert_int_equal(capture(r2, &o, &m2, &s, &err), 0);
	char d1[DIGEST_STRLEN], d2[DIGEST_STRLEN];
	digest_of(&m1, d1);
	digest_of(&m2, d2);
	assert_string_equal(d1, d2);
	/* Manifest modes are the task's, before make_readonly. */
	assert_int_equal(need(&m2, "src/main.c", MF_FILE)->mode, 0644);
	assert_int_equal(nftw(r2, no_write_bits, 16, FTW_PHYS), 0);
	assert_int_equal(fx_mode_of(r2, "src/main.c"), 0444);
	assert_int_equal(fx_mode_of(r2, "src"), 0555);
	assert_int_equal(fx_mode_of(r1, "src/main.c"), 0644);
	/* Capturing again an already captured tree changes nothing. */
	struct manifest m3 = {0};
	o.make_readonly = false;
	assert_int_equal(capture(r1, &o, &m3, &s, &err), 0);
	char d3[DIGEST_STRLEN];
	digest_of(&m3, d3);
	assert_string_equal(d1, d3);
	assert_int_equal(s.files, 4);
	assert_int_equal(s.dirs, 3);
	assert_int_equal(s.symlinks, 1);
	manifest_free(&m1);
	manifest_free(&m2);
	manifest_free(&m3);
	fx_tree_remove(r1);
	fx_tree_remove(r2);
}

static void test_capture_chowns_to_the_owner_and_drops_setuid(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* only root can create files owned by others */
	_cleanup_free_ char *root = fx_tree_new();
	fx_file(root, "f", "x", 04755);
	fx_dir(root, "d", 0755);
	fx_symlink(root, "l", "f");
	_cleanup_free_ char *f = fx_path(root, "f");
	_cleanup_free_ char *d = fx_path(root, "d");
	_cleanup_free_ char *l = fx_path(root, "l");
	assert_int_equal(chown(f, 1234, 1234), 0);
	assert_int_equal(chmod(f, 04755), 0);
	assert_int_equal(chown(d, 1234, 1234), 0);
	assert_int_equal(lchown(l, 1234, 1234), 0);
	struct capture_options o = {.owner_uid = 4321, .owner_gid = 4322};
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	assert_int_equal(capture(root, &o, &m, &s, &err), 0);
	struct stat st;
	const char *paths[] = {f, d, l};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(lstat(paths[i], &st), 0);
		assert_int_equal(st.st_uid, 4321);
		assert_int_equal(st.st_gid, 4322);
	}
	assert_int_equal(fx_mode_of(root, "f"), 0755);
	manifest_free(&m);
	fx_tree_remove(root);
}

static void assert_layer_times(const char *root, const char *rel)
{
	_cleanup_free_ char *p = fx_path(root, rel);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	if (st.st_mtime != LAYER_MTIME || st.st_atime != LAYER_MTIME)
		fail_msg("`%s`: mtime %lld atime %lld", rel,
			 (long long)st.st_mtime, (long long)st.st_atime);
}

/* README "Time stamps": every kept entry, directories after their
 * children were sanitized or dropped (which moves a dir's mtime), and the
 * root; times are not content, so the digest does not change with them. */
static void test_capture_stamps_every_entry_with_layer_mtime(void **state)
{
	(void)state;
	char d1[DIGEST_STRLEN], d2[DIGEST_STRLEN];
	for (int round = 0; round < 2; round++) {
		char *root = fx_tree_new();
		fx_dir(root, "d", 0755);
		fx_dir(root, "d/e", 0555);
		fx_file(root, "d/f", "x", 0644);
		fx_symlink(root, "d/l", "f");
		_cleanup_free_ char *fifo = fx_path(root, "d/fifo");
		assert_int_equal(mkfifo(fifo, 0600), 0);
		if (round == 1) { /* other times, same content */
			_cleanup_free_ char *f = fx_path(root, "d/f");
			struct timespec t[2] = {{.tv_sec = 12345},
						{.tv_sec = 12345}};
			assert_int_equal(utimensat(AT_FDCWD, f, t, 0), 0);
		}
		struct capture_options o = owner_opts();
		o.make_readonly = round == 1;
		struct manifest m = {0};
		struct capture_stats s = {0};
		struct wsbox_error err = {0};
		assert_int_equal(capture(root, &o, &m, &s, &err), 0);
		assert_false(fx_exists(root, "d/fifo"));
		const char *rels[] = {".", "d", "d/e", "d/f", "d/l"};
		for (size_t i = 0; i < ARRAY_SIZE(rels); i++)
			assert_layer_times(root, rels[i]);
		digest_of(&m, round ? d2 : d1);
		manifest_free(&m);
		fx_tree_remove(root);
		free(root);
	}
	assert_string_equal(d1, d2);
}

/* The source tree for copy mode: files with odd modes and time stamps,
 * setuid, a symlink, a FIFO, a whiteout (unprivileged since Linux 5.8), an
 * opaque dir and a chain deeper than the walk's fd window. */
static void build_copy_sample(const char *root)
{
	build_sample(root);
	fx_file(root, "suid", "s", 04755);
	_cleanup_free_ char *suid = fx_path(root, "suid");
	struct timespec ts[2] = {{1000000000, 5}, {1000000000, 5}};
	assert_int_equal(utimensat(AT_FDCWD, suid, ts, 0), 0);
	_cleanup_free_ char *fifo = fx_path(root, "fifo");
	assert_int_equal(mkfifo(fifo, 0644), 0);
	_cleanup_free_ char *wh = fx_path(root, "gone");
	assert_int_equal(mknod(wh, S_IFCHR, makedev(0, 0)), 0);
	fx_dir(root, "opq", 0755);
	fx_file(root, "opq/in", "i", 0644);
	_cleanup_free_ char *opq = fx_path(root, "opq");
	assert_int_equal(setxattr(opq, "user.overlay.opaque", "y", 1, 0), 0);
	fx_dir(root, "locked", 0500);
	_cleanup_free_ char *holes = fx_path(root, "holes");
	int hfd = open(holes, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(hfd >= 0);
	assert_int_equal(pwrite(hfd, "end", 3, 2 << 20), 3);
	close(hfd);
	int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rfd >= 0);
	make_chain(rfd, "c", 200);
	close(rfd);
}

static void test_capture_copy_matches_in_place(void **state)
{
	(void)state;
	_cleanup_free_ char *inplace = fx_tree_new();
	_cleanup_free_ char *src = fx_tree_new();
	_cleanup_free_ char *dst = fx_tree_new();
	build_copy_sample(inplace);
	build_copy_sample(src);

	struct capture_options o = owner_opts();
	struct manifest m1 = {0}, m2 = {0};
	struct capture_stats s1, s2;
	struct wsbox_error err = {0};
	if (capture(inplace, &o, &m1, &s1, &err))
		fail_msg("capture: %s", err.msg);
	/* Few fds: the copy keeps a window of them open, like the walk. */
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 128;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int r = capture_copy(src, dst, &o, &m2, &s2, &err);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (r)
		fail_msg("capture copy: %s", err.msg);
	char d1[DIGEST_STRLEN], d2[DIGEST_STRLEN];
	digest_of(&m1, d1);
	digest_of(&m2, d2);
	assert_string_equal(d2, d1);
	assert_int_equal(s2.dropped, s1.dropped);
	assert_int_equal(s2.whiteouts, 1);

	/* The copy is the sanitized layer tree... */
	assert_int_equal(fx_mode_of(dst, "suid"), 0755);
	assert_int_equal(fx_mode_of(dst, "locked"), 0500);
	assert_int_equal(fx_mode_of(dst, "src/empty"), 0750);
	assert_false(fx_exists(dst, "fifo"));
	_cleanup_free_ char *gone = fx_path(dst, "gone");
	struct stat st;
	assert_int_equal(lstat(gone, &st), 0);
	assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	_cleanup_free_ char *suid = fx_path(dst, "suid");
	assert_int_equal(lstat(suid, &st), 0);
	/* Copies carry LAYER_MTIME like every layer entry. */
	assert_int_equal(st.st_mtim.tv_sec, LAYER_MTIME);
	assert_int_equal(st.st_mtim.tv_nsec, 0);
	/* Zeros are copied as holes. */
	_cleanup_free_ char *holes = fx_path(dst, "holes");
	assert_int_equal(lstat(holes, &st), 0);
	assert_int_equal(st.st_size, (2 << 20) + 3);
	assert_true(st.st_blocks * 512 < (1 << 20));
	_cleanup_free_ char *opq = fx_path(dst, "opq");
	assert_true(has_xattr(opq, "user.overlay.opaque"));
	_cleanup_free_ char *latest = fx_path(dst, "out/latest");
	char target[16] = "";
	assert_int_equal(readlink(latest, target, sizeof target - 1), 3);
	assert_string_equal(target, "bin");
	/* ...and the source is left as the task made it. */
	assert_true(fx_exists(src, "fifo"));
	assert_int_equal(fx_mode_of(src, "suid"), 04755);
	manifest_free(&m1);
	manifest_free(&m2);
	fx_tree_remove(inplace);
	fx_tree_remove(src);
	fx_tree_remove(dst);
}

/* A copy that fails half-way (here at the limit) takes back what it wrote:
 * on a full disk the record must still fit. */
static void test_capture_copy_failure_leaves_dst_empty(void **state)
{
	(void)state;
	_cleanup_free_ char *src = fx_tree_new();
	_cleanup_free_ char *dst = fx_tree_new();
	fx_dir(src, "a", 0755);
	fx_file(src, "a/small", "1234", 0644);
	fx_file(src, "b", "123456789", 0644);
	struct capture_options o = owner_opts();
	o.max_bytes = 8;
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	assert_int_equal(capture_copy(src, dst, &o, &m, &s, &err), -EFBIG);
	assert_non_null(strstr(err.msg, "--max-layer-size"));
	assert_int_equal(m.n, 0);
	assert_false(fx_exists(dst, "a"));
	assert_false(fx_exists(dst, "b"));
	fx_tree_remove(src);
	fx_tree_remove(dst);
}

/* fuse-overlayfs's upper dir (README "Strategies"): `.wh.NAME` files,
 * `.wh..wh..opq`, its opaque xattr on every directory it made, whiteouts
 * of `.wh.` names. With fuse_upper the capture is the kernel overlay's for
 * the same work: same manifest, same digest. */
static void fuse_tree(const char *root)
{
	fx_file(root, ".wh.gone", "", 0700);
	fx_dir(root, "d", 0755);
	fx_file(root, "d/.wh..wh..opq", "", 0700);
	fx_file(root, "d/f", "f", 0644);
	fx_dir(root, "new", 0755);
	fx_file(root, "new/.wh..wh..opq", "", 0700);
	fx_file(root, "new/x", "x", 0644);
	_cleanup_free_ char *d = fx_path(root, "d");
	_cleanup_free_ char *n = fx_path(root, "new");
	assert_int_equal(setxattr(d, "user.fuseoverlayfs.opaque", "y", 1, 0),
			 0);
	assert_int_equal(setxattr(n, "user.fuseoverlayfs.opaque", "y", 1, 0),
			 0);
}

static bool kernel_tree(const char *root)
{
	if (fx_whiteout(root, "gone") < 0)
		return false;
	fx_dir(root, "d", 0755);
	fx_file(root, "d/f", "f", 0644);
	fx_dir(root, "new", 0755);
	fx_file(root, "new/x", "x", 0644);
	_cleanup_free_ char *d = fx_path(root, "d");
	assert_int_equal(setxattr(d, "user.overlay.opaque", "y", 1, 0), 0);
	return true;
}

static void test_capture_converts_fuse_overlayfs_markers(void **state)
{
	(void)state;
	/* The lowers had `gone` and a dir `d`, never `new`. */
	struct manifest lower = {0};
	manifest_add(&lower, &(struct mf_entry){
				 .path = "d", .type = MF_DIR, .mode = 0755});
	manifest_add(
	    &lower,
	    &(struct mf_entry){.path = "d/old", .type = MF_FILE, .mode = 0644});
	manifest_add(
	    &lower,
	    &(struct mf_entry){.path = "gone", .type = MF_FILE, .mode = 0644});
	const struct manifest *lowers[] = {&lower};
	_cleanup_free_ char *fuse = fx_tree_new();
	_cleanup_free_ char *kern = fx_tree_new();
	fuse_tree(fuse);
	if (!kernel_tree(kern)) {
		fx_tree_remove(fuse);
		fx_tree_remove(kern);
		manifest_free(&lower);
		skip(); /* no whiteouts for this process */
	}
	/* fuse-overlayfs's whiteout of its own marker name. */
	assert_int_equal(fx_whiteout(fuse, "d/.wh..opq"), 0);
	struct capture_options fo = owner_opts();
	fo.fuse_upper = true;
	fo.lowers = lowers;
	fo.n_lowers = 1;
	struct capture_options ko = owner_opts();
	struct manifest fm = {0}, km = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	if (capture(fuse, &fo, &fm, &s, &err))
		fail_msg("capture fuse: %s", err.msg);
	if (capture(kern, &ko, &km, &s, &err))
		fail_msg("capture kernel: %s", err.msg);
	need(&fm, "gone", MF_WHITEOUT);
	need(&fm, "d", MF_OPAQUE_DIR);
	need(&fm, "new", MF_DIR);
	assert_null(manifest_find(&fm, "d/.wh..wh..opq"));
	assert_null(manifest_find(&fm, ".wh.gone"));
	assert_int_equal(fm.n, 5);
	char fd[DIGEST_STRLEN], kd[DIGEST_STRLEN];
	digest_of(&fm, fd);
	digest_of(&km, kd);
	assert_string_equal(fd, kd);
	/* On disk too it is overlay's form now: a lower for the kernel. */
	_cleanup_free_ char *gone = fx_path(fuse, "gone");
	struct stat gst;
	assert_int_equal(lstat(gone, &gst), 0);
	assert_true(S_ISCHR(gst.st_mode) && gst.st_rdev == makedev(0, 0));
	_cleanup_free_ char *d = fx_path(fuse, "d");
	_cleanup_free_ char *n = fx_path(fuse, "new");
	assert_true(has_xattr(d, "user.overlay.opaque"));
	assert_false(has_xattr(d, "user.fuseoverlayfs.opaque"));
	assert_false(has_xattr(n, "user.overlay.opaque"));
	assert_false(fx_exists(fuse, "d/.wh..wh..opq"));
	manifest_free(&fm);
	manifest_free(&km);
	manifest_free(&lower);
	fx_tree_remove(fuse);
	fx_tree_remove(kern);
}

/* Issue 19 item 7: the kernel overlay lets a task create `.wh.` names,
 * which an OCI layer tar reads as whiteouts and opaque markers, so export
 * refuses them: so does capture (the same rule, oci_tar_refusal), for a
 * file, a directory, a symlink and a whiteout of such a name. */
static void test_capture_refuses_wh_names_export_cannot_carry(void **state)
{
	(void)state;
	static const char *const names[] = {".wh..wh..opq", ".wh.x",
					    "d/.wh.",	    ".wh.dir",
					    ".wh.link",	    ".wh.gone"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *root = fx_tree_new();
		fx_file(root, "a", "a", 0644);
		fx_dir(root, "d", 0755);
		if (!strcmp(names[i], ".wh.dir"))
			fx_dir(root, names[i], 0755);
		else if (!strcmp(names[i], ".wh.link"))
			fx_symlink(root, names[i], "a");
		else if (!strcmp(names[i], ".wh.gone")) {
			if (fx_whiteout(root, names[i]) < 0) {
				fx_tree_remove(root);
				continue; /* no whiteouts for this process */
			}
		} else
			fx_file(root, names[i], "x", 0644);
		struct capture_options o = owner_opts();
		struct manifest m = {0};
		struct capture_stats s;
		struct wsbox_error err = {0};
		assert_int_equal(capture(root, &o, &m, &s, &err), -EINVAL);
		_cleanup_free_ char *want = xasprintf(
		    "`%s`: a name starting with `.wh.` cannot be represented "
		    "in an OCI layer",
		    names[i]);
		assert_string_equal(err.msg, want);
		assert_int_equal(m.n, 0);
		fx_tree_remove(root);
	}
}

/* Issue 19 item 8: holes are hashed as the zeros they read as, without
 * reading them: a sparse file and a dense one with the same bytes have the
 * same digest, in place and in copy mode (whose copy stays sparse). */
static void sparse_and_dense(const char *root, bool sparse)
{
	_cleanup_free_ char *p = fx_path(root, "f");
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	static const char zeros[1 << 16];
	/* data at 0, a 3 MiB + 5 hole, data, a hole to the end */
	assert_int_equal(pwrite(fd, "head", 4, 0), 4);
	off_t at = 4 + 3 * (1 << 20) + 5;
	for (off_t o = 4; !sparse && o < at; o += (off_t)sizeof zeros) {
		size_t n = (size_t)(at - o) < sizeof zeros ? (size_t)(at - o)
							   : sizeof zeros;
		assert_int_equal(pwrite(fd, zeros, n, o), (ssize_t)n);
	}
	assert_int_equal(pwrite(fd, "mid", 3, at), 3);
	off_t end = at + 3 + 2 * (1 << 20) + 1;
	if (sparse) {
		assert_int_equal(ftruncate(fd, end), 0);
	} else {
		for (off_t o = at + 3; o < end; o += (off_t)sizeof zeros) {
			size_t n = (size_t)(end - o) < sizeof zeros
				       ? (size_t)(end - o)
				       : sizeof zeros;
			assert_int_equal(pwrite(fd, zeros, n, o), (ssize_t)n);
		}
	}
	close(fd);
}

static off_t blocks_of(const char *root, const char *rel)
{
	_cleanup_free_ char *p = fx_path(root, rel);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	return (off_t)st.st_blocks;
}

static void test_capture_hashes_holes_as_zeros_whatever_the_layout(void **state)
{
	(void)state;
	_cleanup_free_ char *sp = fx_tree_new();
	_cleanup_free_ char *dn = fx_tree_new();
	_cleanup_free_ char *cp = fx_tree_new();
	sparse_and_dense(sp, true);
	sparse_and_dense(dn, false);
	assert_true(blocks_of(sp, "f") < blocks_of(dn, "f"));
	struct capture_options o = owner_opts();
	struct manifest ms = {0}, md = {0}, mc = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	if (capture_copy(sp, cp, &o, &mc, &s, &err))
		fail_msg("capture copy: %s", err.msg);
	if (capture(sp, &o, &ms, &s, &err))
		fail_msg("capture sparse: %s", err.msg);
	if (capture(dn, &o, &md, &s, &err))
		fail_msg("capture dense: %s", err.msg);
	assert_int_equal(ms.n, 1);
	assert_int_equal(ms.e[0].size,
			 4 + 3 * (1 << 20) + 5 + 3 + 2 * (1 << 20) + 1);
	assert_memory_equal(ms.e[0].sha256, md.e[0].sha256, 32);
	assert_memory_equal(mc.e[0].sha256, md.e[0].sha256, 32);
	char a[DIGEST_STRLEN], b[DIGEST_STRLEN], c[DIGEST_STRLEN];
	digest_of(&ms, a);
	digest_of(&md, b);
	digest_of(&mc, c);
	assert_string_equal(a, b);
	assert_string_equal(c, b);
	/* The copy is sparse too, and holds the same bytes. */
	assert_true(blocks_of(cp, "f") < blocks_of(dn, "f"));
	_cleanup_free_ char *cmd = xasprintf("cmp -s '%s/f' '%s/f'", cp, dn);
	assert_int_equal(system(cmd), 0);
	manifest_free(&ms);
	manifest_free(&md);
	manifest_free(&mc);
	fx_tree_remove(sp);
	fx_tree_remove(dn);
	fx_tree_remove(cp);
}

/* Issue 19 item 8: the deadline (exec's --timeout) stops the hash of a
 * 1 TiB sparse file, and the walk between entries, with -ETIMEDOUT. */
static void test_capture_stops_at_the_deadline(void **state)
{
	(void)state;
	_cleanup_free_ char *root = fx_tree_new();
	_cleanup_free_ char *p = fx_path(root, "huge");
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)1 << 40), 0);
	close(fd);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	struct capture_options o = owner_opts();
	o.deadline = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + 0.2;
	struct manifest m = {0};
	struct capture_stats s;
	struct wsbox_error err = {0};
	assert_int_equal(capture(root, &o, &m, &s, &err), -ETIMEDOUT);
	assert_string_equal(err.msg, "--timeout expired");
	assert_int_equal(m.n, 0);
	/* Already past: not one entry more. */
	o.deadline = 1;
	memset(&err, 0, sizeof err);
	assert_int_equal(capture(root, &o, &m, &s, &err), -ETIMEDOUT);
	assert_int_equal(s.files, 0);
	fx_tree_remove(root);
}
int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		test_capture_records_symlinks_without_following_them),
	    cmocka_unit_test(test_capture_walks_a_10000_deep_tree),
	    cmocka_unit_test(test_capture_escapes_hostile_names),
	    cmocka_unit_test(
		test_capture_keeps_special_modes_and_unreadable_entries),
	    cmocka_unit_test(test_capture_refuses_device_nodes),
	    cmocka_unit_test(test_capture_strips_overlay_xattrs),
	    cmocka_unit_test(test_capture_records_whiteouts_and_opaque_dirs),
	    cmocka_unit_test(test_capture_refuses_trees_over_max_bytes),
	    cmocka_unit_test(test_capture_save_keeps_only_the_listed_paths),
	    cmocka_unit_test(test_capture_is_deterministic_and_read_only),
	    cmocka_unit_test(test_capture_chowns_to_the_owner_and_drops_setuid),
	    cmocka_unit_test(test_capture_stamps_every_entry_with_layer_mtime),
	    cmocka_unit_test(test_capture_copy_matches_in_place),
	    cmocka_unit_test(test_capture_copy_failure_leaves_dst_empty),
	    cmocka_unit_test(test_capture_converts_fuse_overlayfs_markers),
	    cmocka_unit_test(test_capture_refuses_wh_names_export_cannot_carry),
	    cmocka_unit_test(test_capture_refuses_paths_longer_than_path_max),
	    cmocka_unit_test(
		test_capture_hashes_holes_as_zeros_whatever_the_layout),
	    cmocka_unit_test(test_capture_stops_at_the_deadline),
	};
	return FX_RUN_TESTS(tests, NULL, NULL);
}
