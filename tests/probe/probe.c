/*
 * probe: a small static program run *inside* a wsbox sandbox to assert its
 * isolation from the inside (PID/net/UTS namespaces, capabilities, seccomp,
 * read-only rootfs, /dev, /proc masking, leaked fds). Usage: see usage().
 *
 * Every check must be harmless when run on the host as root (where most of
 * them are expected to FAIL): calls that would change something if allowed
 * use bad pointers or invalid flags, or run in a throw-away child process.
 *
 * `probe attack NAME` runs the hostile attempts of the adversarial suite
 * (tests/security) and prints each outcome for the test to assert.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <mqueue.h>
#include <sched.h>

#define UNUSED __attribute__((unused))
/* A pointer (as a syscall argument) the kernel rejects with EFAULT, so an
 * allowed call does nothing. */
#define BAD 1L
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Syscall numbers unknown to older headers: rows using -1 are skipped. */
#ifndef SYS_open_tree
#define SYS_open_tree -1
#endif
#ifndef SYS_move_mount
#define SYS_move_mount -1
#endif
#ifndef SYS_fsopen
#define SYS_fsopen -1
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr -1
#endif
#ifndef SYS_clone3
#define SYS_clone3 -1
#endif
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup -1
#endif
#ifndef SYS_userfaultfd
#define SYS_userfaultfd -1
#endif
#ifndef SYS_bpf
#define SYS_bpf -1
#endif
#ifndef SYS_finit_module
#define SYS_finit_module -1
#endif
#ifndef SYS_kexec_load
#define SYS_kexec_load -1
#endif
#ifndef SYS_open_by_handle_at
#define SYS_open_by_handle_at -1
#endif
#ifndef SYS_name_to_handle_at
#define SYS_name_to_handle_at -1
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif
#ifndef DEVPTS_SUPER_MAGIC
#define DEVPTS_SUPER_MAGIC 0x1cd1
#endif
/* x32 syscalls are native numbers with this bit set (x86_64 only). */
#define X32_SYSCALL_BIT 0x40000000L
#define PERSONA_QUERY 0xffffffffUL
#define PERSONA_ADDR_NO_RANDOMIZE 0x0040000UL

/* Outcome of one check: ok (with an optional note) or failed with details. */
struct result {
	bool failed;
	size_t len;
	char msg[1536];
	char note[128];
};

static void fail(struct result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Appends one detail to r; several details are joined with "; " and the
 * whole message is truncated with "..." so a host run stays readable. */
static void fail(struct result *r, const char *fmt, ...)
{
	const size_t cap = sizeof(r->msg);
	va_list ap;
	int n;

	if (r->failed && r->len + 2 < cap - 1) {
		memcpy(r->msg + r->len, "; ", 3);
		r->len += 2;
	}
	r->failed = true;
	if (r->len >= cap - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->msg + r->len, cap - r->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	r->len += (size_t)n;
	if (r->len >= cap - 1) {
		r->len = cap - 1;
		memcpy(r->msg + cap - 4, "...", 4);
	}
}

/* "EPERM" rather than a locale-dependent sentence; negative values are the
 * "killed by signal" outcomes of in_child(). Uses a static buffer only for
 * unusual values, so never call it twice in one printf. */
static const char *ename(int e)
{
	static char buf[32];
	const char *s = e > 0 ? strerrorname_np(e) : NULL;

	if (s)
		return s;
	if (e < 0)
		snprintf(buf, sizeof(buf), "killed by signal %d", -e);
	else
		snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

static bool err_in(int e, int a, int b, int c)
{
	return e == a || e == b || e == c;
}

/* Reads at most size-1 bytes of path into buf and NUL-terminates it; returns
 * the length, or -1 with errno set. */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Finds "key:<blanks>value" in a /proc status-like text; copies the value. */
static bool find_field(const char *text, const char *key, char *out,
		       size_t outsize)
{
	size_t klen = strlen(key);
	const char *line = text;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			const char *v = line + klen + 1;
			size_t vlen;
			while (*v == ' ' || *v == '\t')
				v++;
			vlen = nl ? (size_t)(nl - v) : strlen(v);
			if (vlen >= outsize)
				vlen = outsize - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return true;
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* Checks that /proc/self/status has key set to want. */
static void expect_status(struct result *r, const char *key, const char *want)
{
	char buf[8192], val[64];

	if (read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		fail(r, "read /proc/self/status: %s", ename(errno));
	else if (!find_field(buf, key, val, sizeof(val)))
		fail(r, "no %s in /proc/self/status", key);
	else if (strcmp(val, want) != 0)
		fail(r, "%s is %s, want %s", key, val, want);
}

static DIR *open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Counts the entries of path (only numeric ones if asked), listing their
 * names into names (comma separated, truncated). Returns -1 with errno set
 * if the directory cannot be read. */
static int list_dir(const char *path, bool numeric_only, char *names,
		    size_t size)
{
	struct dirent *e;
	size_t len = 0;
	int count = 0;
	DIR *d = open_dir(path);

	if (names && size)
		names[0] = '\0';
	if (!d)
		return -1;
	errno = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (numeric_only && !all_digits(e->d_name))
			continue;
		count++;
		if (names && len + 1 < size) {
			int n = snprintf(names + len, size - len, "%s%s",
					 len ? ", " : "", e->d_name);
			if (n > 0)
				len += (size_t)n;
		}
	}
	if (errno) {
		int err = errno;
		closedir(d);
		errno = err;
		return -1;
	}
	closedir(d);
	return count;
}

/* ---- checks ---------------------------------------------------------- */

static void check_pid1(struct result *r, char **args UNUSED)
{
	char buf[4096], name1[64], self_name[64] = "";
	pid_t self = getpid();
	int n;

	if (self == 1)
		fail(r, "the probe itself is PID 1");
	else if (self >= 100)
		fail(r, "own pid is %d, want < 100 (host PID namespace?)",
		     (int)self);
	if (read_file("/proc/self/status", buf, sizeof(buf)) >= 0)
		find_field(buf, "Name", self_name, sizeof(self_name));
	if (read_file("/proc/1/status", buf, sizeof(buf)) < 0)
		fail(r, "read /proc/1/status: %s", ename(errno));
	else if (!find_field(buf, "Name", name1, sizeof(name1)))
		fail(r, "/proc/1/status has no Name");
	else if (self != 1 && !strcmp(name1, self_name))
		fail(r, "PID 1 is another '%s'", name1);
	n = list_dir("/proc", true, NULL, 0);
	if (n < 0)
		fail(r, "list /proc: %s", ename(errno));
	else if (n >= 20)
		fail(r, "%d pids visible in /proc, want < 20 (host pids?)", n);
}

static void check_caps(struct result *r, char **args UNUSED)
{
	static const char *const sets[] = {"CapInh", "CapPrm", "CapEff",
					   "CapBnd", "CapAmb"};

	for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
		expect_status(r, sets[i], "0000000000000000");
}

static void check_nonewprivs(struct result *r, char **args UNUSED)
{
	expect_status(r, "NoNewPrivs", "1");
}

static void check_seccomp(struct result *r, char **args UNUSED)
{
	expect_status(r, "Seccomp", "2"); /* 2 = SECCOMP_MODE_FILTER */
}

/* Creating path must fail with EROFS: EACCES would only mean the test ran
 * as the wrong user, not that the mount is read-only. */
static void expect_erofs_create(struct result *r, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd >= 0) {
		close(fd);
		unlink(path);
		fail(r, "created %s", path);
	} else if (errno != EROFS) {
		fail(r, "create %s: %s, want EROFS", path, ename(errno));
	}
}

static void expect_rootfs_ro(struct result *r)
{
	static const char dir[] = "/etc/probe-mkdir-test";

	expect_erofs_create(r, "/probe-write-test");
	expect_erofs_create(r, "/bin/probe-write-test");
	if (mkdir(dir, 0700) == 0) {
		rmdir(dir);
		fail(r, "created %s", dir);
	} else if (errno != EROFS) {
		fail(r, "mkdir %s: %s, want EROFS", dir, ename(errno));
	}
}

static void expect_writable(struct result *r, const char *dir)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/.probe-%d", dir, (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fail(r, "%s not writable: create: %s", dir, ename(errno));
		return;
	}
	if (write(fd, "x", 1) != 1)
		fail(r, "%s not writable: write: %s", dir, ename(errno));
	close(fd);
	if (unlink(path) < 0)
		fail(r, "unlink %s: %s", path, ename(errno));
}

static void check_rorootfs(struct result *r, char **args UNUSED)
{
	expect_rootfs_ro(r);
	expect_writable(r, "/tmp");
	expect_writable(r, "/workspace");
}

/* For sandboxes without a writable /workspace (e.g. a read-only bind). */
static void check_rorootfs_root(struct result *r, char **args UNUSED)
{
	expect_rootfs_ro(r);
}

/* Mount flags of a statvfs() result as MS_* flags, so a bind remount can
 * keep every flag except the one being tested. */
static unsigned long ms_flags(unsigned long f)
{
	unsigned long ms = 0;

	if (f & ST_NOSUID)
		ms |= MS_NOSUID;
	if (f & ST_NODEV)
		ms |= MS_NODEV;
	if (f & ST_NOEXEC)
		ms |= MS_NOEXEC;
	if (f & ST_NOATIME)
		ms |= MS_NOATIME;
	if (f & ST_NODIRATIME)
		ms |= MS_NODIRATIME;
	if (f & ST_RELATIME)
		ms |= MS_RELATIME;
	return ms;
}

static void check_remount(struct result *r, char **args UNUSED)
{
	struct statvfs sv;

	/* Only try when / is read-only: on a writable host root the remount
	 * would be a no-op at best, so there is nothing to prove. */
	if (statvfs("/", &sv) < 0) {
		fail(r, "statvfs /: %s", ename(errno));
	} else if (!(sv.f_flag & ST_RDONLY)) {
		fail(r, "/ is not mounted read-only");
	} else {
		unsigned long keep = ms_flags(sv.f_flag);
		if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | keep, NULL) ==
		    0) {
			fail(r, "remounted / read-write");
			/* Best effort: put the read-only flag back. */
			mount(NULL, "/", NULL,
			      MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL);
		} else if (errno != EPERM) {
			fail(r, "remount / rw: %s, want EPERM", ename(errno));
		}
	}

	/* MNT_EXPIRE|MNT_DETACH passes the permission check and then fails
	 * with EINVAL, so this asks "may we unmount /proc?" without doing it
	 * (a host run must not lose /proc). Only on EPERM is the real
	 * MNT_DETACH tried, which then fails for the same reason. */
	if (umount2("/proc", MNT_EXPIRE | MNT_DETACH) == 0) {
		fail(r, "umount2(/proc, MNT_EXPIRE|MNT_DETACH) succeeded");
	} else if (errno != EPERM) {
		fail(r, "umount2 /proc passes the permission check (%s)",
		     ename(errno));
	} else if (umount2("/proc", MNT_DETACH) == 0) {
		fail(r, "unmounted /proc");
	}
}

/* Interfaces of the probe's network namespace, from /proc/net/dev so no
 * netlink socket is needed. Returns the count or -1 with errno set. */
static int net_ifaces(char *names, size_t size, bool *has_lo)
{
	char buf[16384];
	char *line, *save = NULL;
	int count = 0, skip = 2; /* two header lines */
	size_t len = 0;

	*has_lo = false;
	names[0] = '\0';
	if (read_file("/proc/net/dev", buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (skip > 0) {
			skip--;
			continue;
		}
		if (!colon)
			continue;
		*colon = '\0';
		while (*line == ' ')
			line++;
		count++;
		if (!strcmp(line, "lo"))
			*has_lo = true;
		if (len + 1 < size) {
			int n = snprintf(names + len, size - len, "%s%s",
					 len ? ", " : "", line);
			if (n > 0)
				len += (size_t)n;
		}
	}
	return count;
}

static void expect_lo_up(struct result *r)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0) {
		fail(r, "socket(AF_INET): %s", ename(errno));
		return;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		fail(r, "SIOCGIFFLAGS lo: %s", ename(errno));
	else if (!(ifr.ifr_flags & IFF_UP))
		fail(r, "lo is down");
	close(s);
}

/* A TCP connect to a bound but not listening port on 127.0.0.1 must be
 * refused: proves loopback routes, without racing for a "free" port. */
static void expect_loopback_refused(struct result *r)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int l, c;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0) {
		fail(r, "socket(AF_INET): %s", ename(errno));
		return;
	}
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
		fail(r, "bind 127.0.0.1: %s", ename(errno));
		close(l);
		return;
	}
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0) {
		fail(r, "socket(AF_INET): %s", ename(errno));
	} else {
		if (connect(c, (struct sockaddr *)&a, sizeof(a)) == 0)
			fail(r, "connect to a closed port on 127.0.0.1 worked");
		else if (errno != ECONNREFUSED)
			fail(r, "connect 127.0.0.1:%u: %s, want ECONNREFUSED",
			     ntohs(a.sin_port), ename(errno));
		close(c);
	}
	close(l);
}

static void check_netnone(struct result *r, char **args UNUSED)
{
	char names[512];
	bool has_lo;
	int n = net_ifaces(names, sizeof(names), &has_lo);

	if (n < 0) {
		fail(r, "read /proc/net/dev: %s", ename(errno));
		return;
	}
	if (n != 1 || !has_lo)
		fail(r, "interfaces are [%s], want only lo", names);
	if (has_lo) {
		expect_lo_up(r);
		expect_loopback_refused(r);
	}
}

static void check_nethost(struct result *r, char **args UNUSED)
{
	char names[512];
	bool has_lo;
	int n = net_ifaces(names, sizeof(names), &has_lo);

	if (n < 0)
		fail(r, "read /proc/net/dev: %s", ename(errno));
	else if (n < 2)
		fail(r, "interfaces are [%s], want more than lo", names);
}

static void check_hostname(struct result *r, char **args UNUSED)
{
	const char *want = getenv("PROBE_HOSTNAME");
	struct utsname u;

	if (!want)
		want = "wsbox";
	if (uname(&u) < 0)
		fail(r, "uname: %s", ename(errno));
	else if (strcmp(u.nodename, want) != 0)
		fail(r, "hostname is '%s', want '%s'", u.nodename, want);
}

static void check_fds(struct result *r, char **args UNUSED)
{
	struct dirent *e;
	DIR *d = open_dir("/proc/self/fd");

	if (!d) {
		fail(r, "open /proc/self/fd: %s", ename(errno));
		return;
	}
	while ((e = readdir(d))) {
		char target[256];
		ssize_t n;
		int fd;

		if (!all_digits(e->d_name))
			continue;
		fd = atoi(e->d_name);
		if (fd <= 2 || fd == dirfd(d))
			continue;
		n = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
		if (n < 0)
			n = 0;
		target[n] = '\0';
		fail(r, "fd %d is open (%s)", fd, target);
	}
	closedir(d);
}

static void check_homehidden(struct result *r, char **args UNUSED)
{
	static const char *const dirs[] = {"/home", "/root", "/run"};

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char names[256];
		int n = list_dir(dirs[i], false, names, sizeof(names));
		if (n < 0 && errno != ENOENT)
			fail(r, "list %s: %s", dirs[i], ename(errno));
		else if (n > 0)
			fail(r, "%s is not empty: %s", dirs[i], names);
	}
}

struct devnode {
	const char *path;
	unsigned int major, minor;
};

/* The device nodes a minimal /dev may hold (numbers from devices.txt), so a
 * "null" that is really a disk is caught too. */
static const struct devnode dev_allowed[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},	    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9},  {"/dev/tty", 5, 0},
    {"/dev/ptmx", 5, 2},   {"/dev/pts/ptmx", 5, 2},
};

static bool dev_is_allowed(const char *path, const struct stat *st)
{
	unsigned int ma = major(st->st_rdev), mi = minor(st->st_rdev);

	if (!S_ISCHR(st->st_mode))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(dev_allowed); i++)
		if (!strcmp(path, dev_allowed[i].path))
			return ma == dev_allowed[i].major &&
			       mi == dev_allowed[i].minor;
	/* Pty slaves of the sandbox's own devpts instance (majors 136-143). */
	return !strncmp(path, "/dev/pts/", 9) && ma >= 136 && ma <= 143;
}

struct dev_walk {
	struct result *r;
	int unexpected;
};

/* Walks a /dev subtree (takes ownership of fd), reporting device nodes not
 * in dev_allowed; lists the first few and counts the rest. */
static void dev_walk(struct dev_walk *w, int fd, const char *path, int depth)
{
	struct dirent *e;
	DIR *d = fdopendir(fd);

	if (!d) {
		fail(w->r, "fdopendir %s: %s", path, ename(errno));
		close(fd);
		return;
	}
	while ((e = readdir(d))) {
		char child[PATH_MAX];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) <
		    0) {
			fail(w->r, "stat %s: %s", child, ename(errno));
		} else if (S_ISDIR(st.st_mode) && depth < 4) {
			int sub = openat(dirfd(d), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);
			if (sub < 0)
				fail(w->r, "open %s: %s", child, ename(errno));
			else
				dev_walk(w, sub, child, depth + 1);
		} else if ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) &&
			   !dev_is_allowed(child, &st)) {
			if (w->unexpected++ < 8)
				fail(w->r, "unexpected %s device %s (%u:%u)",
				     S_ISBLK(st.st_mode) ? "block" : "char",
				     child, major(st.st_rdev),
				     minor(st.st_rdev));
		}
	}
	closedir(d);
}

static void expect_chardev(struct result *r, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		fail(r, "stat %s: %s", path, ename(errno));
	else if (!dev_is_allowed(path, &st))
		fail(r, "%s is not the expected char device", path);
}

static void check_dev_io(struct result *r)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "test", 4) != 4)
		fail(r, "write /dev/null: %s", ename(errno));
	if (fd >= 0)
		close(fd);

	fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	if (n != (ssize_t)sizeof(buf))
		fail(r, "read /dev/zero: %s", n < 0 ? ename(errno) : "short");
	else
		for (size_t i = 0; i < sizeof(buf); i++)
			if (buf[i] != 0) {
				fail(r, "/dev/zero gave non-zero bytes");
				break;
			}
	if (fd >= 0)
		close(fd);

	fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fail(r, "open /dev/full: %s", ename(errno));
	else if (write(fd, "x", 1) >= 0 || errno != ENOSPC)
		fail(r, "write /dev/full: %s, want ENOSPC", ename(errno));
	if (fd >= 0)
		close(fd);
}

static void check_dev(struct result *r, char **args UNUSED)
{
	struct dev_walk w = {r, 0};
	struct statfs sf;
	int fd;

	for (size_t i = 0; i < 6; i++) /* null .. tty */
		expect_chardev(r, dev_allowed[i].path);
	expect_chardev(r, "/dev/ptmx"); /* stat follows a pts/ptmx link */
	check_dev_io(r);
	if (statfs("/dev/pts", &sf) < 0)
		fail(r, "statfs /dev/pts: %s", ename(errno));
	else if (sf.f_type != DEVPTS_SUPER_MAGIC)
		fail(r, "/dev/pts is not a devpts (0x%lx)",
		     (unsigned long)sf.f_type);
	expect_writable(r, "/dev/shm");

	fd = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fail(r, "open /dev: %s", ename(errno));
		return;
	}
	dev_walk(&w, fd, "/dev", 0);
	if (w.unexpected > 8)
		fail(r, "and %d more unexpected devices", w.unexpected - 8);
}

/* A masked /proc file either cannot be opened, is /dev/null bound over it,
 * or reads as empty. */
static void expect_masked(struct result *r, const char *path)
{
	struct stat st;
	char c;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	    major(st.st_rdev) == 1 && minor(st.st_rdev) == 3) {
		close(fd);
		return;
	}
	n = read(fd, &c, 1);
	close(fd);
	if (n > 0)
		fail(r, "%s is readable", path);
}

static void check_proc(struct result *r, char **args UNUSED)
{
	static const char *const masked[] = {"/proc/kcore", "/proc/keys",
					     "/proc/timer_list"};
	struct utsname u;
	int fd;

	/* Writes back the current hostname, so even a host run that is
	 * allowed to write changes nothing. */
	fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		if (!err_in(errno, EROFS, EACCES, EPERM))
			fail(r, "open /proc/sys/kernel/hostname: %s",
			     ename(errno));
	} else {
		ssize_t n = -1;
		int e = EPERM;
		if (uname(&u) == 0) {
			n = write(fd, u.nodename, strlen(u.nodename));
			e = errno;
		}
		close(fd);
		if (n >= 0)
			fail(r, "/proc/sys/kernel/hostname is writable");
		else if (!err_in(e, EROFS, EACCES, EPERM))
			fail(r, "write /proc/sys/kernel/hostname: %s",
			     ename(e));
	}

	/* Never write to it: on the host that would trigger a sysrq. */
	fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		fail(r, "/proc/sysrq-trigger opens for writing");
	}

	for (size_t i = 0; i < ARRAY_SIZE(masked); i++)
		expect_masked(r, masked[i]);
}

/* ---- syscall matrix -------------------------------------------------- */

enum sc_want {
	DENY,	    /* must fail with EPERM */
	DENY_NOSYS, /* must fail with ENOSYS (so libc falls back) */
	DENY_ABI,   /* killed by SIGSYS (SIGSEGV when the kernel lacks ia32) */
	ALLOW,	    /* must not fail with EPERM or ENOSYS */
};

enum {
	ISOLATE = 1, /* success would change the probe: run in a child */
	RET_FD = 2,  /* success returns an fd to close */
};

struct sc_case {
	const char *name;
	enum sc_want want;
	int flags;
	long nr;	    /* -1: unknown to these headers, skipped */
	long (*call)(void); /* instead of syscall(nr, a...) */
	long a[6];
};

/* A row calling syscall(nr, args...), or a row calling fn(). Kept out of
 * clang-format, which would spread the braces over eight lines. */
/* clang-format off */
#define SC(name, want, flags, nr, ...) {name, want, flags, nr, NULL, {__VA_ARGS__}}
#define SCF(name, want, flags, nr, fn) {name, want, flags, nr, fn, {0}}
/* clang-format on */

static long sc_clone_newns(void)
{
	/* Raw clone without a new stack behaves like fork(). */
	long pid = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, NULL, NULL, 0);

	if (pid == 0)
		_exit(0);
	if (pid > 0) {
		while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
			;
		return 0;
	}
	return -1;
}

static long sc_i386_getpid(void)
{
#if defined(__x86_64__)
	long ret = 20; /* __NR_getpid of the i386 table */

	__asm__ volatile("int $0x80"
			 : "+a"(ret)
			 :
			 : "memory", "r8", "r9", "r10", "r11");
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
#else
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * Each call uses a bad fd, pointer or flag, so that where the policy allows
 * it the kernel rejects it harmlessly (EBADF, EFAULT, EINVAL) even as host
 * root; a seccomp denial shows as EPERM before any argument is looked at.
 */
static const struct sc_case sc_cases[] = {
    SC("mount", DENY, 0, SYS_mount, BAD, BAD, BAD, 0, BAD),
    SC("umount2", DENY, 0, SYS_umount2, BAD, 0),
    SC("pivot_root", DENY, 0, SYS_pivot_root, BAD, BAD),
    SC("chroot", DENY, 0, SYS_chroot, BAD),
    /* Valid flags: a policy may filter on them. */
    SC("unshare", DENY, ISOLATE, SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS),
    SC("setns", DENY, 0, SYS_setns, -1, 0),
    SC("keyctl", DENY, 0, SYS_keyctl, 0xffff), /* no such operation */
    SC("add_key", DENY, 0, SYS_add_key, BAD, BAD, 0, 0, 0),
    SC("bpf", DENY, 0, SYS_bpf, 0x7fff, 0, 0), /* no such command */
    SC("perf_event_open", DENY, 0, SYS_perf_event_open, BAD, 0, -1, -1, 0),
    /* UFFD_USER_MODE_ONLY passes the sysctl gate; bit 30 is invalid. */
    SC("userfaultfd", DENY, 0, SYS_userfaultfd, 0x40000001),
    SC("io_uring_setup", DENY, 0, SYS_io_uring_setup, 1, BAD),
    SC("init_module", DENY, 0, SYS_init_module, BAD, 0, BAD),
    SC("finit_module", DENY, 0, SYS_finit_module, -1, BAD, 0),
    /* Flag 0x100 is undefined: EINVAL, never an unload. */
    SC("kexec_load", DENY, 0, SYS_kexec_load, 0, -1, 0, 0x100),
    SC("reboot", DENY, 0, SYS_reboot, 0, 0, 0, 0), /* bad magic */
    SC("swapon", DENY, 0, SYS_swapon, BAD, 0),
    SC("settimeofday", DENY, 0, SYS_settimeofday, BAD, BAD),
    SC("clock_settime", DENY, 0, SYS_clock_settime, CLOCK_REALTIME, BAD),
    SC("open_by_handle_at", DENY, 0, SYS_open_by_handle_at, -1, BAD, 0),
    SC("name_to_handle_at", DENY, 0, SYS_name_to_handle_at, AT_FDCWD, BAD, BAD,
       BAD, 0),
    SC("open_tree", DENY, 0, SYS_open_tree, -1, BAD, 0),
    SC("move_mount", DENY, 0, SYS_move_mount, -1, BAD, -1, BAD, 0),
    SC("fsopen", DENY, 0, SYS_fsopen, BAD, 0),
    SC("mount_setattr", DENY, 0, SYS_mount_setattr, -1, BAD, 0, 0, 0),
    /* Size 0: EINVAL if allowed. */
    SC("clone3", DENY_NOSYS, 0, SYS_clone3, 0, 0),
    SCF("clone(CLONE_NEWNS)", DENY, 0, SYS_clone, sc_clone_newns),
    SC("socket(AF_PACKET)", DENY, RET_FD, SYS_socket, AF_PACKET,
       SOCK_RAW | SOCK_CLOEXEC),
    SC("socket(AF_ALG)", DENY, RET_FD, SYS_socket, AF_ALG,
       SOCK_SEQPACKET | SOCK_CLOEXEC),
    SC("socket(AF_VSOCK)", DENY, RET_FD, SYS_socket, AF_VSOCK,
       SOCK_STREAM | SOCK_CLOEXEC),
    SC("ioctl(TIOCSTI)", DENY, 0, SYS_ioctl, -1, TIOCSTI, BAD),
    /* The kernel truncates the request to 32 bits; a filter comparing all
     * 64 would let this through (CVE-2019-10063 class). */
    SC("ioctl(TIOCSTI|1<<32)", DENY, 0, SYS_ioctl, -1, TIOCSTI | (1L << 32),
       BAD),
    SC("ioctl(TIOCLINUX)", DENY, 0, SYS_ioctl, -1, TIOCLINUX, BAD),
    SC("personality(ADDR_NO_RANDOMIZE)", DENY, ISOLATE, SYS_personality,
       PERSONA_ADDR_NO_RANDOMIZE),
    SC("x32 getpid", DENY_ABI, ISOLATE, X32_SYSCALL_BIT | SYS_getpid, 0),
    /* In a child: with ia32 emulation disabled int 0x80 raises SIGSEGV. */
    SCF("i386 getpid", DENY_ABI, ISOLATE, SYS_getpid, sc_i386_getpid),
    SC("read", ALLOW, 0, SYS_read, -1, BAD, 1),
    SC("write", ALLOW, 0, SYS_write, -1, BAD, 1),
    SC("openat", ALLOW, 0, SYS_openat, AT_FDCWD, BAD, O_RDONLY),
    SC("getpid", ALLOW, 0, SYS_getpid, 0),
    SC("socket(AF_UNIX)", ALLOW, RET_FD, SYS_socket, AF_UNIX,
       SOCK_STREAM | SOCK_CLOEXEC),
    SC("socket(AF_INET)", ALLOW, RET_FD, SYS_socket, AF_INET,
       SOCK_STREAM | SOCK_CLOEXEC),
    SC("personality(query)", ALLOW, 0, SYS_personality, PERSONA_QUERY),
};

/* Makes the call of c; returns its result, -1 with errno set on failure. */
static long sc_invoke(const struct sc_case *c)
{
	long ret;

	if (c->call)
		return c->call();
	ret = syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4],
		      c->a[5]);
	if (ret >= 0 && (c->flags & RET_FD))
		close((int)ret);
	return ret;
}

/*
 * Runs c in a forked child, so that a call which unexpectedly succeeds
 * (unshare on the host, personality) cannot change the probe itself. Sets
 * *outcome to 0 if the call succeeded, its errno if it failed, or -SIGNAL if
 * the child was killed. Returns -1 with errno set if fork/wait failed.
 */
static int in_child(const struct sc_case *c, int *outcome)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		long ret = sc_invoke(c);
		int e = errno;
		_exit(ret >= 0 ? 0 : (e > 0 && e < 255 ? e : 255));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status))
		*outcome = -WTERMSIG(status);
	else
		*outcome = WEXITSTATUS(status);
	return 0;
}

static const struct sc_case unshare_user =
    SC("unshare(CLONE_NEWUSER)", DENY, ISOLATE, SYS_unshare, CLONE_NEWUSER);

static void check_userns(struct result *r, char **args UNUSED)
{
	int out;

	if (in_child(&unshare_user, &out) < 0)
		fail(r, "fork: %s", ename(errno));
	else if (out == 0)
		fail(r, "unshare(CLONE_NEWUSER) succeeded");
	else if (out != EPERM)
		fail(r, "unshare(CLONE_NEWUSER): %s, want EPERM", ename(out));
}

static void check_userns_limit(struct result *r, char **args UNUSED)
{
	char val[32] = "?";
	int out;

	if (read_file("/proc/sys/user/max_user_namespaces", val, sizeof(val)) <
	    0)
		fail(r, "read max_user_namespaces: %s", ename(errno));
	val[strcspn(val, "\n")] = '\0';
	snprintf(r->note, sizeof(r->note), "max_user_namespaces=%s", val);
	if (strcmp(val, "0") != 0)
		fail(r, "max_user_namespaces=%s, want 0", val);
	if (in_child(&unshare_user, &out) < 0)
		fail(r, "fork: %s", ename(errno));
	else if (out == 0)
		fail(r, "unshare(CLONE_NEWUSER) succeeded");
	else if (out != ENOSPC)
		fail(r, "unshare(CLONE_NEWUSER): %s, want ENOSPC", ename(out));
}

static bool sc_as_expected(enum sc_want want, int out)
{
	switch (want) {
	case DENY:
		return out == EPERM;
	case DENY_NOSYS:
		return out == ENOSYS;
	case DENY_ABI:
		/* SPEC: a foreign syscall ABI kills the process (SIGSYS);
		 * SIGSEGV is what int 0x80 gets when the kernel has no ia32
		 * emulation, before seccomp is even consulted. */
		return out == -SIGSYS || out == -SIGSEGV;
	case ALLOW:
		return out >= 0 && out != EPERM && out != ENOSYS;
	}
	return false;
}

static const char *sc_want_text(enum sc_want want)
{
	switch (want) {
	case DENY:
		return "EPERM";
	case DENY_NOSYS:
		return "ENOSYS";
	case DENY_ABI:
		return "killed by SIGSYS";
	case ALLOW:
		return "allowed";
	}
	return "?";
}

static void check_syscalls(struct result *r, char **args UNUSED)
{
	int denied = 0, allowed = 0, skipped = 0, wrong = 0;

	for (size_t i = 0; i < ARRAY_SIZE(sc_cases); i++) {
		const struct sc_case *c = &sc_cases[i];
		int out;

		if (c->nr < 0) {
			skipped++;
			continue;
		}
		if (c->flags & ISOLATE) {
			if (in_child(c, &out) < 0) {
				fail(r, "fork: %s", ename(errno));
				return;
			}
		} else {
			errno = 0;
			out = sc_invoke(c) < 0 ? errno : 0;
		}
		if (sc_as_expected(c->want, out)) {
			if (c->want == ALLOW)
				allowed++;
			else
				denied++;
			continue;
		}
		wrong++;
		/* One line per wrong row; not "ok"/"FAIL" so the one-line-
		 * per-check contract of the output holds. */
		printf("  syscalls: %s: %s, want %s\n", c->name,
		       out == 0 ? "succeeded" : ename(out),
		       sc_want_text(c->want));
	}
	if (wrong)
		fail(r, "%d of %zu syscalls not as expected", wrong,
		     ARRAY_SIZE(sc_cases) - (size_t)skipped);
	snprintf(r->note, sizeof(r->note), "%d denied, %d allowed%s", denied,
		 allowed, skipped ? ", some skipped" : "");
}

static void check_exe(struct result *r, char **args UNUSED)
{
	const char *want = getenv("PROBE_EXE");
	char buf[PATH_MAX];
	ssize_t n;
	int fd;

	if (!want)
		want = "/probe";
	/* init is non-dumpable: a task that could open its exe could write
	 * through it to the wsbox binary on the host (CVE-2019-5736). */
	n = readlink("/proc/1/exe", buf, sizeof(buf) - 1);
	if (n >= 0) {
		buf[n] = '\0';
		fail(r, "readlink /proc/1/exe works (%s)", buf);
	} else if (!err_in(errno, EACCES, EPERM, ENOENT)) {
		fail(r, "readlink /proc/1/exe: %s", ename(errno));
	}
	fd = open("/proc/1/exe", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		fail(r, "/proc/1/exe opens");
	} else if (!err_in(errno, EACCES, EPERM, ENOENT)) {
		fail(r, "open /proc/1/exe: %s", ename(errno));
	}
	n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n < 0) {
		fail(r, "readlink /proc/self/exe: %s", ename(errno));
	} else {
		buf[n] = '\0';
		if (strcmp(buf, want) != 0)
			fail(r, "/proc/self/exe is %s, want %s", buf, want);
	}
}

static bool parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (!all_digits(s))
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= 0xfffffffeUL;
}

static void check_ids(struct result *r, char **args)
{
	unsigned long uid = 0, gid = 0;
	struct stat st;

	parse_id(args[0], &uid); /* validated by args_ids() */
	parse_id(args[1], &gid);
	if (getuid() != uid || getgid() != gid)
		fail(r, "ids are %u:%u, want %lu:%lu", (unsigned)getuid(),
		     (unsigned)getgid(), uid, gid);
	if (stat("/workspace", &st) < 0)
		fail(r, "stat /workspace: %s", ename(errno));
	else if (st.st_uid != uid || st.st_gid != gid)
		fail(r, "/workspace is owned by %u:%u, want %lu:%lu",
		     (unsigned)st.st_uid, (unsigned)st.st_gid, uid, gid);
}

static void check_cwd(struct result *r, char **args)
{
	const char *want = args[0] ? args[0] : "/workspace";
	char buf[PATH_MAX];

	if (!getcwd(buf, sizeof(buf)))
		fail(r, "getcwd: %s", ename(errno));
	else if (strcmp(buf, want) != 0)
		fail(r, "cwd is %s, want %s", buf, want);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_env(struct result *r, char **args UNUSED)
{
	extern char **environ;
	size_t n = 0;
	char **v;

	while (environ && environ[n])
		n++;
	v = calloc(n + 1, sizeof(*v));
	if (!v) {
		fail(r, "out of memory");
		return;
	}
	memcpy(v, environ, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++)
		printf("%s\n", v[i]);
	free(v);
}

/* ---- driver ---------------------------------------------------------- */

static bool args_ids(char **args, int n)
{
	unsigned long id;

	return n == 2 && parse_id(args[0], &id) && parse_id(args[1], &id);
}

static bool args_cwd(char **args, int n)
{
	return n == 0 || args[0][0] == '/';
}

struct check {
	const char *name;
	void (*run)(struct result *r, char **args);
	bool in_all;  /* part of "all", the default-sandbox expectation */
	int max_args; /* words after the name that belong to it */
	bool (*valid)(char **args, int n); /* NULL: no arguments */
	const char *help;
};

static const struct check checks[] = {
    {"pid1", check_pid1, true, 0, NULL, "own PID namespace, init is PID 1"},
    {"caps", check_caps, true, 0, NULL, "every capability set is empty"},
    {"nonewprivs", check_nonewprivs, true, 0, NULL, "no_new_privs is set"},
    {"seccomp", check_seccomp, true, 0, NULL, "a seccomp filter is on"},
    {"rorootfs", check_rorootfs, true, 0, NULL,
     "/ read-only (EROFS); /tmp and /workspace writable"},
    {"rorootfs_root", check_rorootfs_root, false, 0, NULL,
     "only: / read-only (EROFS)"},
    {"remount", check_remount, true, 0, NULL,
     "/ cannot be remounted rw, /proc cannot be unmounted"},
    {"netnone", check_netnone, true, 0, NULL, "only lo, up, 127.0.0.1 refuses"},
    {"nethost", check_nethost, false, 0, NULL, "more than lo exists"},
    {"hostname", check_hostname, true, 0, NULL,
     "nodename is $PROBE_HOSTNAME or wsbox"},
    {"fds", check_fds, true, 0, NULL, "only fds 0, 1, 2 are open"},
    {"homehidden", check_homehidden, true, 0, NULL,
     "/home, /root, /run are empty"},
    {"dev", check_dev, true, 0, NULL, "minimal /dev, no other devices"},
    {"proc", check_proc, true, 0, NULL, "/proc/sys ro, sensitive files masked"},
    {"userns", check_userns, true, 0, NULL,
     "unshare(CLONE_NEWUSER) fails with EPERM"},
    {"userns_limit", check_userns_limit, false, 0, NULL,
     "max_user_namespaces is 0, unshare gives ENOSPC"},
    {"syscalls", check_syscalls, true, 0, NULL,
     "seccomp matrix: denied give EPERM, allowed do not"},
    {"exe", check_exe, true, 0, NULL,
     "/proc/1/exe hidden, /proc/self/exe is $PROBE_EXE or /probe"},
    {"cwd", check_cwd, true, 1, args_cwd,
     "[PATH] cwd is PATH (default /workspace)"},
    {"ids", check_ids, false, 2, args_ids,
     "UID GID: getuid/getgid and /workspace owner"},
    {"env", check_env, false, 0, NULL, "print the environment, sorted"},
};

static const struct check *find_check(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++)
		if (!strcmp(checks[i].name, name))
			return &checks[i];
	return NULL;
}

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "probe: %s\n", why);
	fprintf(stderr,
		"usage: probe CHECK [ARGS]... | probe all | probe attack NAME\n"
		"prints 'ok CHECK' or 'FAIL CHECK: why' per check; exit "
		"0 if all passed, 1 if not, 2 on usage errors\n");
	for (size_t i = 0; i < ARRAY_SIZE(checks); i++)
		fprintf(stderr, "  %-14s %s%s\n", checks[i].name,
			checks[i].help, checks[i].in_all ? "" : " (opt-in)");
	return 2;
}

/* Prints s with control characters replaced, so that one check always
 * gives exactly one line whatever a path or link target contains. */
static void put_clean(const char *s)
{
	for (; *s; s++)
		putchar(iscntrl((unsigned char)*s) ? '?' : *s);
}

#define MAX_RUNS 256

struct run {
	const struct check *check;
	char *args[3]; /* NULL-terminated */
};

/* ---- attacks --------------------------------------------------------- */

/*
 * `probe attack NAME [ARGS]...` runs one hostile attempt for the adversarial
 * suite (tests/security). Unlike a check, an attack does not judge: it
 * prints one line per step, "WHAT: RESULT", RESULT being "succeeded",
 * "errno=ENAME" or "killed=SIGNAME", and the shell test asserts the exact
 * result. The same probe thus also shows what happens with a defence turned
 * off (e.g. --policy permissive), which is how the suite proves each test
 * would catch a regression.
 *
 * Harmless on a host as root like the checks: nothing is ever written to
 * sysrq-trigger, sysctls get their current value written back, ptrace uses
 * PTRACE_SEIZE (the tracee is never stopped), signals are signal 0, and
 * anything that would change the probe runs in a throw-away child.
 */

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_io_uring_enter
#define SYS_io_uring_enter 426
#endif
#ifndef SYS_io_uring_register
#define SYS_io_uring_register 427
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER 0x5441
#endif
#define I386_GETPID 20L
#define I386_UNSHARE 310L
#define PERSONA_READ_IMPLIES_EXEC 0x0400000UL
#define HIGH_BIT (1UL << 32)

/* outcome: 0 success, > 0 errno, < 0 -signal (as in_child()). */
static void say(const char *what, int outcome)
{
	const char *sig;

	if (outcome == 0) {
		printf("%s: succeeded\n", what);
	} else if (outcome > 0) {
		printf("%s: errno=%s\n", what, ename(outcome));
	} else {
		sig = sigabbrev_np(-outcome);
		if (sig)
			printf("%s: killed=SIG%s\n", what, sig);
		else
			printf("%s: killed=%d\n", what, -outcome);
	}
}

static int outcome_of(long ret)
{
	return ret < 0 ? errno : 0;
}

/* Closes fd when a call that returns one unexpectedly worked. */
static int fd_outcome(long ret)
{
	if (ret < 0)
		return errno;
	close((int)ret);
	return 0;
}

/* Runs fn(arg) in a child and returns its outcome (see say()); the child
 * may print lines of its own. */
static int child_outcome(int (*fn)(long), long arg)
{
	int status, out;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		out = fn(arg);
		fflush(stdout);
		_exit(out > 0 && out < 255 ? out : (out == 0 ? 0 : 255));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return errno;
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int c_unshare(long flags)
{
	return outcome_of(syscall(SYS_unshare, flags));
}

static int c_clone(long flags)
{
	long pid = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);

	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return errno;
	while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* Writes text to a /proc file; returns the outcome. */
static int write_proc(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), out;

	if (fd < 0)
		return errno;
	out = write(fd, text, strlen(text)) < 0 ? errno : 0;
	close(fd);
	return out;
}

/* Nested user namespace, even after raising max_user_namespaces. */
static void atk_userns(char **args UNUSED)
{
	static const char path[] = "/proc/sys/user/max_user_namespaces";
	char cur[32];

	if (read_file(path, cur, sizeof(cur)) < 0) {
		say("read max_user_namespaces", errno);
	} else {
		/* Raise it only where it is 0 (a sandbox); elsewhere write
		 * the current value back, which changes nothing. */
		say("write max_user_namespaces",
		    write_proc(path, strcmp(cur, "0\n") ? cur : "10000\n"));
	}
	say("unshare(CLONE_NEWUSER)", child_outcome(c_unshare, CLONE_NEWUSER));
	say("clone(CLONE_NEWUSER)", child_outcome(c_clone, CLONE_NEWUSER));
}

/* `unshare -mrfp` then a fresh proc: is sysrq-trigger reachable? Runs in
 * a child; prints each step it gets to. */
static int c_mrfp(long arg UNUSED)
{
	char dir[] = "/tmp/probe-proc.XXXXXX", map[64], path[PATH_MAX];
	uid_t uid = getuid();
	gid_t gid = getgid();
	int out;
	pid_t pid;

	out = c_unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID);
	say("unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWPID)", out);
	if (out)
		return 0;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	say("write uid_map", write_proc("/proc/self/uid_map", map));
	write_proc("/proc/self/setgroups", "deny\n");
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
	say("write gid_map", write_proc("/proc/self/gid_map", map));
	fflush(stdout);
	pid = fork(); /* PID 1 of the new namespace */
	if (pid < 0)
		return errno;
	if (pid == 0) {
		say("make mounts private",
		    outcome_of(
			mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)));
		if (!mkdtemp(dir)) {
			say("mkdtemp", errno);
			_exit(0);
		}
		out = outcome_of(mount("proc", dir, "proc", MS_NOSUID, NULL));
		say("mount proc", out);
		if (!out) {
			/* Open only: never write to a sysrq-trigger. */
			snprintf(path, sizeof(path), "%s/sysrq-trigger", dir);
			say("open new proc's sysrq-trigger for writing",
			    fd_outcome(open(path, O_WRONLY | O_CLOEXEC)));
			umount2(dir, MNT_DETACH);
		}
		rmdir(dir);
		fflush(stdout);
		_exit(0);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return 0;
}

static void atk_unshare_sysrq(char **args UNUSED)
{
	int out;

	say("open /proc/sysrq-trigger for writing",
	    fd_outcome(open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC)));
	out = child_outcome(c_mrfp, 0);
	if (out) /* c_mrfp reports its own steps; only a crash is news */
		say("unshare -mrfp attack", out);
}

/* core_pattern names a helper the kernel runs as host root on a crash. */
static void atk_core_pattern(char **args UNUSED)
{
	static const char path[] = "/proc/sys/kernel/core_pattern";
	char cur[256];

	if (read_file(path, cur, sizeof(cur)) < 0)
		say("read core_pattern", errno);
	else /* The current value: a host run changes nothing. */
		say("write core_pattern", write_proc(path, cur));
	say("remount /proc/sys read-write",
	    outcome_of(
		mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND, NULL)));
	/* EINVAL here would mean the permission check passed. */
	say("umount /proc/sys",
	    outcome_of(umount2("/proc/sys", MNT_EXPIRE | MNT_DETACH)));
}

/* Mounts a cgroup v1 hierarchy in dir and tries its release_agent (run by
 * the kernel as host root when a cgroup empties: CVE-2022-0492). */
static void cgroup_v1_try(const char *dir)
{
	char path[PATH_MAX];
	int out = outcome_of(mount("cgroup", dir, "cgroup",
				   MS_NOSUID | MS_NODEV | MS_NOEXEC, "rdma"));

	say("mount -t cgroup -o rdma", out);
	if (out)
		return;
	snprintf(path, sizeof(path), "%s/release_agent", dir);
	say("open release_agent for writing",
	    fd_outcome(open(path, O_WRONLY | O_CLOEXEC)));
	umount2(dir, MNT_DETACH);
}

static int c_cgroupns(long arg)
{
	const char *dir = (const char *)arg;
	int out = c_unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP);

	say("unshare(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWCGROUP)", out);
	if (out)
		return 0;
	mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	cgroup_v1_try(dir);
	return 0;
}

static void atk_cgroup(char **args UNUSED)
{
	char dir[] = "/tmp/probe-cg.XXXXXX";
	int out;

	if (!mkdtemp(dir)) {
		say("mkdtemp", errno);
		return;
	}
	cgroup_v1_try(dir);
	out = outcome_of(mount("cgroup2", dir, "cgroup2",
			       MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
	say("mount -t cgroup2", out);
	if (!out)
		umount2(dir, MNT_DETACH);
	say("open /sys/fs/cgroup/release_agent for writing",
	    fd_outcome(
		open("/sys/fs/cgroup/release_agent", O_WRONLY | O_CLOEXEC)));
	child_outcome(c_cgroupns, (long)dir);
	rmdir(dir);
}

/* "shocker": guess a file handle (inode 2, the root of ext*) and open it
 * relative to any fd, bypassing the mount namespace (CVE-2014-3519 class). */
static void atk_shocker(char **args UNUSED)
{
	const size_t cap = 128;
	struct file_handle *h = calloc(1, sizeof(*h) + cap);
	uint32_t guess[2] = {2, 0}; /* FILEID_INO32_GEN: inode, generation */
	int mid, rfd;

	if (!h) {
		say("calloc", ENOMEM);
		return;
	}
	h->handle_bytes = cap;
	say("name_to_handle_at(/)",
	    outcome_of(
		syscall(SYS_name_to_handle_at, AT_FDCWD, "/", h, &mid, 0)));
	rfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	h->handle_bytes = sizeof(guess);
	h->handle_type = 1;
	memcpy(h->f_handle, guess, sizeof(guess));
	say("open_by_handle_at(inode 2)",
	    fd_outcome(
		syscall(SYS_open_by_handle_at, rfd, h, O_RDONLY | O_CLOEXEC)));
	if (rfd >= 0)
		close(rfd);
	free(h);
}

/* A fresh pty pair; the slave made the controlling terminal when ctty (the
 * caller must be a session leader). Returns the slave fd or -1. */
static int open_pty(int *master, bool ctty)
{
	int unlock = 0, slave;

	*master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0) {
		say("open /dev/ptmx", errno);
		return -1;
	}
	if (ioctl(*master, TIOCSPTLCK, &unlock) < 0) {
		say("unlock pty", errno);
		return -1;
	}
	slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		say("open pty slave", errno);
		return -1;
	}
	if (ctty && ioctl(slave, TIOCSCTTY, 0) < 0) {
		say("make the pty the controlling terminal", errno);
		return -1;
	}
	return slave;
}

/* Reports whether anything is waiting in fd's input queue. */
static void say_queue(int fd)
{
	int n = 0;

	if (ioctl(fd, FIONREAD, &n) < 0)
		say("FIONREAD", errno);
	else if (n == 0)
		printf("tty input queue: empty\n");
	else
		printf("tty input queue: %d bytes\n", n);
}

/* TIOCSTI/TIOCLINUX on fd, plain and with bits above 32 set in the request
 * (the kernel truncates it: CVE-2019-10063). */
static void tty_ioctls(int fd, const char *which)
{
	char what[96], c = 'x';
	char sub[2] = {12, 0}; /* TIOCL_GETKMSGREDIRECT: only reads */

	snprintf(what, sizeof(what), "ioctl(TIOCSTI) on %s", which);
	say(what, outcome_of(syscall(SYS_ioctl, fd, TIOCSTI, &c)));
	snprintf(what, sizeof(what), "ioctl(TIOCSTI|1<<32) on %s", which);
	say(what, outcome_of(syscall(SYS_ioctl, fd,
				     (unsigned long)TIOCSTI | HIGH_BIT, &c)));
	snprintf(what, sizeof(what), "ioctl(TIOCLINUX) on %s", which);
	say(what, outcome_of(syscall(SYS_ioctl, fd, TIOCLINUX, sub)));
	snprintf(what, sizeof(what), "ioctl(TIOCLINUX|1<<32) on %s", which);
	say(what,
	    outcome_of(syscall(SYS_ioctl, fd,
			       (unsigned long)TIOCLINUX | HIGH_BIT, sub)));
}

/* On a pty that is our own controlling terminal the kernel allows TIOCSTI
 * (when dev.tty.legacy_tiocsti=1): only seccomp stands in the way. */
static int c_tiocsti_own(long arg UNUSED)
{
	struct termios raw;
	int master, slave;

	if (setsid() < 0)
		return errno;

	slave = open_pty(&master, true);
	if (slave < 0)
		return 0;
	/* Raw mode, so an injected byte is counted without a newline. */
	if (tcgetattr(slave, &raw) < 0)
		return errno;
	cfmakeraw(&raw);
	if (tcsetattr(slave, TCSANOW, &raw) < 0)
		return errno;
	tty_ioctls(slave, "own tty");
	say_queue(slave);
	return 0;
}

static void atk_tiocsti(char **args UNUSED)
{
	child_outcome(c_tiocsti_own, 0);
}

/* TIOCSTI into stdin, the caller's terminal when wsbox runs on one. */
static void atk_tiocsti_stdin(char **args UNUSED)
{
	tty_ioctls(0, "stdin");
}

/* What a task given the caller's terminal did to it (issue 19 item 11):
 * window size, echo and canonical mode off, and a line discipline that
 * never delivers input again (N_NULL), all on fd 0. */
static void atk_tty_settings(char **args UNUSED)
{
	struct winsize ws = {.ws_row = 1, .ws_col = 1};
	struct termios t;
	int nnull = 27; /* N_NULL */

	say("ioctl(TIOCSWINSZ 1x1) on stdin",
	    outcome_of(ioctl(0, TIOCSWINSZ, &ws)));
	if (tcgetattr(0, &t) == 0) {
		t.c_lflag &= ~(tcflag_t)(ECHO | ICANON | ISIG);
		say("tcsetattr(-echo -icanon -isig) on stdin",
		    outcome_of(tcsetattr(0, TCSANOW, &t)));
	} else {
		say("tcgetattr on stdin", outcome_of(-1));
	}
	say("ioctl(TIOCSETD N_NULL) on stdin",
	    outcome_of(ioctl(0, TIOCSETD, &nnull)));
}

static void atk_io_uring(char **args UNUSED)
{
	/* struct io_uring_params, zeroed: a valid request for one entry. */
	unsigned long params[15];

	memset(params, 0, sizeof(params));
	say("io_uring_setup",
	    fd_outcome(syscall(SYS_io_uring_setup, 1, params)));
	say("io_uring_enter",
	    outcome_of(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0)));
	say("io_uring_register",
	    outcome_of(syscall(SYS_io_uring_register, -1, 0, NULL, 0)));
}

static void atk_sockets(char **args UNUSED)
{
	static const struct {
		const char *name;
		unsigned long family;
		int type, proto;
	} s[] = {
	    {"socket(AF_VSOCK)", AF_VSOCK, SOCK_STREAM, 0},
	    {"socket(AF_ALG)", AF_ALG, SOCK_SEQPACKET, 0},
	    {"socket(AF_PACKET, SOCK_RAW)", AF_PACKET, SOCK_RAW, 0x0300},
	    {"socket(AF_PACKET, SOCK_DGRAM)", AF_PACKET, SOCK_DGRAM, 0x0300},
	    /* The kernel takes the family as an int. */
	    {"socket(AF_ALG|1<<32)", AF_ALG | HIGH_BIT, SOCK_SEQPACKET, 0},
	    {"socket(AF_VSOCK|1<<32)", AF_VSOCK | HIGH_BIT, SOCK_STREAM, 0},
	    {"socket(AF_PACKET|1<<32)", AF_PACKET | HIGH_BIT, SOCK_RAW, 0x0300},
	};

	for (size_t i = 0; i < ARRAY_SIZE(s); i++)
		say(s[i].name,
		    fd_outcome(syscall(SYS_socket, s[i].family,
				       s[i].type | SOCK_CLOEXEC, s[i].proto)));
}

/* socket(AF_INET/AF_INET6, type, protocol) for protocols the kernel would
 * load a module for (SCTP, DCCP, L2TP, UDP-Lite), and the ones builds use. */
static void atk_socket_protocols(char **args UNUSED)
{
	static const struct {
		const char *name;
		int family, type;
		unsigned long proto;
	} s[] = {
	    {"socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP)", AF_INET, SOCK_STREAM,
	     IPPROTO_SCTP},
	    {"socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP)", AF_INET,
	     SOCK_SEQPACKET, IPPROTO_SCTP},
	    {"socket(AF_INET6, SOCK_STREAM, IPPROTO_SCTP)", AF_INET6,
	     SOCK_STREAM, IPPROTO_SCTP},
	    {"socket(AF_INET, SOCK_DCCP, IPPROTO_DCCP)", AF_INET, 6,
	     IPPROTO_DCCP},
	    {"socket(AF_INET, SOCK_DGRAM, IPPROTO_L2TP)", AF_INET, SOCK_DGRAM,
	     115},
	    {"socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE)", AF_INET,
	     SOCK_DGRAM, IPPROTO_UDPLITE},
	    {"socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDPLITE)", AF_INET6,
	     SOCK_DGRAM, IPPROTO_UDPLITE},
	    /* The kernel takes the protocol as an int. */
	    {"socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE|1<<32)", AF_INET,
	     SOCK_DGRAM, IPPROTO_UDPLITE | HIGH_BIT},
	    {"socket(AF_INET, SOCK_STREAM, 0)", AF_INET, SOCK_STREAM, 0},
	    {"socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)", AF_INET, SOCK_STREAM,
	     IPPROTO_TCP},
	    {"socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP)", AF_INET, SOCK_DGRAM,
	     IPPROTO_UDP},
	    {"socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP)", AF_INET6,
	     SOCK_STREAM, IPPROTO_TCP},
	    {"socket(AF_INET6, SOCK_DGRAM, 0)", AF_INET6, SOCK_DGRAM, 0},
	};

	for (size_t i = 0; i < ARRAY_SIZE(s); i++)
		say(s[i].name,
		    fd_outcome(syscall(SYS_socket, s[i].family,
				       s[i].type | SOCK_CLOEXEC, s[i].proto)));
}

/* socketpair(2) creates both sockets of the family and protocol asked for
 * before the family's socketpair op refuses: the kernel answering
 * EOPNOTSUPP means the create code (and a module autoload) ran. */
static void atk_socketpair_families(char **args UNUSED)
{
	static const struct {
		const char *name;
		unsigned long family;
		int type;
		unsigned long proto;
	} s[] = {
	    {"socketpair(AF_VSOCK, SOCK_STREAM, 0)", AF_VSOCK, SOCK_STREAM, 0},
	    {"socketpair(AF_PACKET, SOCK_DGRAM, 0)", AF_PACKET, SOCK_DGRAM, 0},
	    {"socketpair(AF_TIPC, SOCK_RDM, 0)", 30, SOCK_RDM, 0},
	    {"socketpair(AF_INET, SOCK_STREAM, IPPROTO_MPTCP)", AF_INET,
	     SOCK_STREAM, 262},
	    {"socketpair(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE)", AF_INET,
	     SOCK_DGRAM, IPPROTO_UDPLITE},
	    {"socketpair(AF_INET6, SOCK_STREAM, IPPROTO_SCTP)", AF_INET6,
	     SOCK_STREAM, IPPROTO_SCTP},
	    {"socketpair(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT)", AF_NETLINK,
	     SOCK_RAW, 9},
	    {"socketpair(AF_UNIX|1<<32, SOCK_STREAM, 0)", AF_UNIX | HIGH_BIT,
	     SOCK_STREAM, 0},
	    {"socketpair(AF_UNIX, SOCK_STREAM, 0)", AF_UNIX, SOCK_STREAM, 0},
	    {"socketpair(AF_UNIX, SOCK_DGRAM, 0)", AF_UNIX, SOCK_DGRAM, 0},
	};

	for (size_t i = 0; i < ARRAY_SIZE(s); i++) {
		int sv[2];
		long r = syscall(SYS_socketpair, s[i].family,
				 s[i].type | SOCK_CLOEXEC, s[i].proto, sv);
		if (r == 0) {
			close(sv[0]);
			close(sv[1]);
		}
		say(s[i].name, r < 0 ? errno : 0);
	}
}

/* Syscalls newer than libseccomp 2.5.4 and above the number the policy was
 * reviewed for, called raw with arguments the kernel's own handler refuses
 * with another errno (EBADF, EINVAL, ENOENT, EFAULT), and the ones Docker
 * denies a container without capabilities. */
static void atk_new_syscalls(char **args UNUSED)
{
	say("open_tree_attr (467)",
	    fd_outcome(syscall(467, -1, "", 0, NULL, 0)));
	say("file_getattr (468)", outcome_of(syscall(468, -1, "", NULL, 0, 0)));
	say("file_setattr (469)", outcome_of(syscall(469, -1, "", NULL, 0, 0)));
	say("syscall 470", outcome_of(syscall(470, 0, 0, 0)));
	say("syscall 1000", outcome_of(syscall(1000, 0, 0, 0)));
	say("lsm_list_modules (461)", outcome_of(syscall(461, NULL, NULL, 0)));
	say("lsm_get_self_attr (459)",
	    outcome_of(syscall(459, 0, NULL, NULL, 0)));
	say("pidfd_getfd", outcome_of(syscall(SYS_pidfd_getfd, -1, -1, 0)));
	say("process_madvise",
	    outcome_of(syscall(SYS_process_madvise, -1, NULL, 0, 0, 0)));
	say("migrate_pages",
	    outcome_of(syscall(SYS_migrate_pages, 0, 0, NULL, NULL)));
	say("sethostname", outcome_of(syscall(SYS_sethostname, "x", 1)));
	say("setdomainname", outcome_of(syscall(SYS_setdomainname, "x", 1)));
}

/* 256 MiB into a memfd in 1 MiB writes: shmem, which RLIMIT_AS does not
 * see; only a memory cgroup bounds it. In a child, so the outcome (killed,
 * ENOMEM, ENOSPC) is printed by the probe. */
static int c_memfd_hog(long mib)
{
	static char chunk[1 << 20];
	int fd = (int)syscall(SYS_memfd_create, "hog", 1U /* CLOEXEC */);

	if (fd < 0)
		return errno;
	memset(chunk, 'x', sizeof(chunk));
	for (long i = 0; i < mib; i++)
		if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
			return errno ? errno : EIO;
	return 0;
}

static void atk_memfd_hog(char **args UNUSED)
{
	say("memfd write 256 MiB", child_outcome(c_memfd_hog, 256));
}

/* Take inotify instances until the kernel refuses (the task's per-user
 * quota, charged up to the host user that owns the sandbox), bounded at
 * 4096; with "hold", keep them until stdin reaches EOF, so the test can try
 * the host and another task meanwhile. */
static void atk_inotify_hog(char **args)
{
	int n = 0, e = 0;
	char c;

	for (; n < 4096; n++) {
		if (inotify_init1(IN_CLOEXEC) < 0) {
			e = errno;
			break;
		}
	}
	say("inotify_init1 until refused", e);
	printf("inotify instances: %d\n", n);
	for (ssize_t r = 1; args[0] && r != 0;) {
		r = read(0, &c, 1);
		if (r < 0 && errno != EINTR)
			break;
	}
}

/* POSIX message queues (RLIMIT_MSGQUEUE) and queued signals
 * (RLIMIT_SIGPENDING) until refused: both are counted per user of each user
 * namespace and charged up to the host user owning the sandbox. Holds them
 * until stdin's EOF with "hold". */
static void atk_rlimit_ucounts_hog(char **args)
{
	struct mq_attr a = {.mq_maxmsg = 10, .mq_msgsize = 8192};
	char name[32];
	sigset_t set;
	int n = 0, e = 0;
	char c;

	for (; n < 4096; n++) {
		snprintf(name, sizeof name, "probe-hog-%d", n);
		if (syscall(SYS_mq_open, name, O_CREAT | O_RDWR | O_CLOEXEC,
			    0600, &a) < 0) {
			e = errno;
			break;
		}
	}
	say("mq_open until refused", e);
	printf("message queues: %d\n", n);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &set, NULL);
	union sigval v = {0};
	for (n = 0, e = 0; n < 1 << 20; n++) {
		if (sigqueue(getpid(), SIGRTMIN, v) < 0) {
			e = errno;
			break;
		}
	}
	say("sigqueue until refused", e);
	printf("queued signals: %s\n",
	       n < 65536 ? "under 65536" : "65536 or more");
	fflush(stdout);
	for (ssize_t r = 1; args[0] && r != 0;) {
		r = read(0, &c, 1);
		if (r < 0 && errno != EINTR)
			break;
	}
}

static bool args_hold(char **args, int n)
{
	return n == 0 || (n == 1 && !strcmp(args[0], "hold"));
}

/* Fork children that wait on a pipe until refused (RLIMIT_NPROC, a pids
 * cgroup, the host's pid_max), bounded at args[0]; the count, then with
 * "hold" keep them until stdin's EOF. The children end when the pipe's
 * write end closes: here, or when the probe dies. */
static void atk_pid_hog(char **args)
{
	long max = strtol(args[0], NULL, 10);
	int gate[2], e = 0;
	long n = 0;
	char c;

	if (pipe2(gate, O_CLOEXEC) < 0) {
		say("pipe", errno);
		return;
	}
	fflush(stdout);
	for (; n < max; n++) {
		pid_t pid = fork();
		if (pid < 0) {
			e = errno;
			break;
		}
		if (pid == 0) {
			close(gate[1]);
			while (read(gate[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
	}
	say("fork until refused", e);
	printf("processes: %ld\n", n);
	fflush(stdout);
	for (ssize_t r = 1; args[1] && r != 0;) {
		r = read(0, &c, 1);
		if (r < 0 && errno != EINTR)
			break;
	}
	close(gate[1]);
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

static bool args_count_hold(char **args, int n)
{
	char *end;
	if (n < 1 || n > 2 || (n == 2 && strcmp(args[1], "hold")))
		return false;
	long v = strtol(args[0], &end, 10);
	return *args[0] && !*end && v > 0 && v <= 1 << 20;
}

static long i386_call(long nr, long a1)
{
#if defined(__x86_64__)
	long ret = nr;

	__asm__ volatile("int $0x80"
			 : "+a"(ret)
			 : "b"(a1)
			 : "memory", "r8", "r9", "r10", "r11");
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
#else
	(void)nr;
	(void)a1;
	errno = ENOSYS;
	return -1;
#endif
}

static int c_x32(long nr)
{
	long arg = nr == SYS_unshare ? CLONE_NEWUSER : 0;

	return outcome_of(syscall(X32_SYSCALL_BIT | nr, arg));
}

static int c_i386(long nr)
{
	return outcome_of(
	    i386_call(nr, nr == I386_UNSHARE ? CLONE_NEWUSER : 0));
}

static void atk_abi(char **args UNUSED)
{
	say("x32 getpid", child_outcome(c_x32, SYS_getpid));
	say("x32 unshare(CLONE_NEWUSER)", child_outcome(c_x32, SYS_unshare));
	say("int 0x80 getpid", child_outcome(c_i386, I386_GETPID));
	say("int 0x80 unshare(CLONE_NEWUSER)",
	    child_outcome(c_i386, I386_UNSHARE));
}

static int c_personality(long persona)
{
	return outcome_of(syscall(SYS_personality, persona));
}

static void atk_personality(char **args UNUSED)
{
	say("personality(ADDR_NO_RANDOMIZE)",
	    child_outcome(c_personality, (long)PERSONA_ADDR_NO_RANDOMIZE));
	say("personality(ADDR_NO_RANDOMIZE|1<<32)",
	    child_outcome(c_personality,
			  (long)(PERSONA_ADDR_NO_RANDOMIZE | HIGH_BIT)));
	say("personality(READ_IMPLIES_EXEC)",
	    child_outcome(c_personality, (long)PERSONA_READ_IMPLIES_EXEC));
}

static int c_ptrace(long pid)
{
	if (syscall(SYS_ptrace, 0x4206 /* PTRACE_SEIZE */, pid, 0, 0) < 0)
		return errno;
	syscall(SYS_ptrace, 17 /* PTRACE_DETACH */, pid, 0, 0);
	return 0;
}

/* Everything a task could do to a process given by number. */
static void attack_pid(long pid)
{
	char what[96], path[64], byte;
	struct iovec local = {&byte, 1}, remote = {(void *)BAD, 1};

	snprintf(what, sizeof(what), "kill(%ld, 0)", pid);
	say(what, outcome_of(kill((pid_t)pid, 0)));
	snprintf(what, sizeof(what), "pidfd_open(%ld)", pid);
	say(what, fd_outcome(syscall(SYS_pidfd_open, pid, 0)));
	snprintf(what, sizeof(what), "ptrace(PTRACE_SEIZE, %ld)", pid);
	say(what, child_outcome(c_ptrace, pid));
	snprintf(what, sizeof(what), "process_vm_readv(%ld)", pid);
	say(what, outcome_of(syscall(SYS_process_vm_readv, pid, &local, 1,
				     &remote, 1, 0)));
	snprintf(path, sizeof(path), "/proc/%ld/mem", pid);
	snprintf(what, sizeof(what), "open %s", path);
	say(what, fd_outcome(open(path, O_RDONLY | O_CLOEXEC)));
}

static bool args_pids(char **args, int n)
{
	unsigned long id;

	for (int i = 0; i < n; i++)
		if (!parse_id(args[i], &id) || id == 0 || id > INT_MAX)
			return false;
	return n > 0;
}

static void atk_pid(char **args)
{
	for (; *args; args++)
		attack_pid(atol(*args));
}

static bool args_connect(char **args, int n)
{
	unsigned long port;

	if (n == 2 && !strcmp(args[0], "abstract"))
		return strlen(args[1]) <
		       sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	return n == 3 && !strcmp(args[0], "tcp") && parse_id(args[2], &port) &&
	       port > 0 && port < 65536;
}

/* connect tcp ADDR PORT | connect abstract NAME */
static void atk_connect(char **args)
{
	char what[160];
	int fd, out;

	if (!strcmp(args[0], "tcp")) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		a.sin_port = htons((uint16_t)atoi(args[2]));
		if (inet_pton(AF_INET, args[1], &a.sin_addr) != 1) {
			say("inet_pton", EINVAL);
			return;
		}
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		out = fd < 0 ? errno
			     : outcome_of(connect(fd, (struct sockaddr *)&a,
						  sizeof(a)));
		snprintf(what, sizeof(what), "connect tcp %s:%s", args[1],
			 args[2]);
	} else {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		size_t len = strlen(args[1]);
		memcpy(a.sun_path + 1, args[1], len); /* sun_path[0] = 0 */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		out = fd < 0 ? errno
			     : outcome_of(connect(
				   fd, (struct sockaddr *)&a,
				   (socklen_t)(offsetof(struct sockaddr_un,
							sun_path) +
					       1 + len)));
		snprintf(what, sizeof(what), "connect abstract @%s", args[1]);
	}
	if (fd >= 0)
		close(fd);
	say(what, out);
}

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* signal_pidfd PATH: receive a pidfd of a host process over the unix
 * socket PATH (a host process listening there hands it over), then signal
 * it with SIGTERM through the pidfd: the PID namespace is no bound then,
 * only the uid and Landlock's signal scoping are. */
static void atk_signal_pidfd(char **args)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c;
	int fd, pidfd = -1;

	if (strlen(args[0]) >= sizeof(a.sun_path)) {
		say("socket path", ENAMETOOLONG);
		return;
	}
	strcpy(a.sun_path, args[0]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		say("connect to the host's socket", errno);
		return;
	}
	errno = 0;
	if (recvmsg(fd, &msg, MSG_CMSG_CLOEXEC) < 1) {
		say("receive pidfd", errno ? errno : EPROTO);
		return;
	}
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&pidfd, CMSG_DATA(c), sizeof(pidfd));
	say("receive pidfd", pidfd >= 0 ? 0 : EPROTO);
	if (pidfd >= 0)
		say("pidfd_send_signal(host pid, SIGTERM)",
		    outcome_of(syscall(SYS_pidfd_send_signal, pidfd, SIGTERM,
				       NULL, 0)));
	close(fd);
}

/* Leaked fds and a cwd outside the root (CVE-2024-21626: a host directory
 * fd left open, then cwd /proc/self/fd/N/../../..). */
static void atk_fds(char **args UNUSED)
{
	struct stat root, cur, up;
	struct dirent *e;
	char buf[PATH_MAX];
	DIR *d = open_dir("/proc/self/fd");
	int n = 0, fd, steps;

	if (!d) {
		say("open /proc/self/fd", errno);
		return;
	}
	while ((e = readdir(d))) {
		ssize_t len;
		if (!all_digits(e->d_name))
			continue;
		fd = atoi(e->d_name);
		if (fd <= 2 || fd == dirfd(d))
			continue;
		len = readlinkat(dirfd(d), e->d_name, buf, sizeof(buf) - 1);
		buf[len < 0 ? 0 : len] = '\0';
		printf("fd %d open: ", fd);
		put_clean(buf);
		putchar('\n');
		n++;
	}
	closedir(d);
	printf("extra fds: %d\n", n);

	if (!getcwd(buf, sizeof(buf)))
		say("getcwd", errno);
	else
		printf("cwd: %s\n", buf);
	/* Walk up from cwd: inside the root, ".." reaches "/" itself. */
	if (stat("/", &root) < 0 || stat(".", &cur) < 0) {
		say("stat", errno);
		return;
	}
	fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (steps = 0; fd >= 0 && steps < 256; steps++) {
		int up_fd;
		if (cur.st_dev == root.st_dev && cur.st_ino == root.st_ino)
			break;
		up_fd = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = up_fd;
		if (fd < 0 || fstat(fd, &up) < 0)
			break;
		if (up.st_dev == cur.st_dev && up.st_ino == cur.st_ino)
			break; /* a root that is not ours */
		cur = up;
	}
	if (fd >= 0)
		close(fd);
	printf("cwd under /: %s\n",
	       cur.st_dev == root.st_dev && cur.st_ino == root.st_ino ? "yes"
								      : "no");
	say("list /proc/1/fd",
	    list_dir("/proc/1/fd", true, NULL, 0) < 0 ? errno : 0);
	say("readlink /proc/1/cwd",
	    outcome_of(readlink("/proc/1/cwd", buf, sizeof(buf))));
	say("readlink /proc/1/root",
	    outcome_of(readlink("/proc/1/root", buf, sizeof(buf))));
}

/* CVE-2019-5736: PID 1 is the wsbox binary (forked, not exec'd); a task
 * that could open /proc/1/exe could write to it once wsbox exits. */
static void atk_exe(char **args UNUSED)
{
	char buf[PATH_MAX];
	int fd;

	say("open /proc/self/exe for writing",
	    fd_outcome(open("/proc/self/exe", O_WRONLY | O_CLOEXEC)));
	/* A rootfs binary that is not running: no ETXTBSY to hide behind. */
	say("open /bin/busybox for writing",
	    fd_outcome(open("/bin/busybox", O_WRONLY | O_CLOEXEC)));
	say("readlink /proc/1/exe",
	    outcome_of(readlink("/proc/1/exe", buf, sizeof(buf))));
	fd = open("/proc/1/exe", O_RDONLY | O_CLOEXEC);
	say("open /proc/1/exe", fd < 0 ? errno : 0);
	if (fd >= 0) {
		/* The runc exploit: reopen the O_RDONLY fd for writing. */
		snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
		say("reopen /proc/1/exe for writing",
		    fd_outcome(open(buf, O_WRONLY | O_CLOEXEC)));
		close(fd);
	}
	say("open /proc/1/exe for writing",
	    fd_outcome(open("/proc/1/exe", O_WRONLY | O_CLOEXEC)));
	say("open /proc/1/mem",
	    fd_outcome(open("/proc/1/mem", O_RDONLY | O_CLOEXEC)));
	say("list /proc/1/map_files",
	    list_dir("/proc/1/map_files", false, NULL, 0) < 0 ? errno : 0);
	say("ptrace(PTRACE_SEIZE, 1)", child_outcome(c_ptrace, 1));
}

/* Overlay's own xattrs set through the workspace could make a layer hide
 * or redirect its parents' files (whiteouts, opaque dirs, redirects). */
static void atk_xattr(char **args)
{
	static const char *const names[] = {
	    "user.overlay.opaque",    "user.overlay.redirect",
	    "user.overlay.origin",    "user.overlay.metacopy",
	    "user.overlay.whiteout",  "user.overlay.overlay.opaque",
	    "trusted.overlay.opaque", "trusted.overlay.redirect",
	    "security.capability",    "user.wsbox-probe",
	};
	char what[128];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(what, sizeof(what), "setxattr %s", names[i]);
		say(what, outcome_of(setxattr(args[0], names[i], "y", 1, 0)));
	}
}

/* Device nodes in the workspace (in cwd); a block device that got made is
 * removed again. */
static void atk_mknod(char **args UNUSED)
{
	say("mknod char 1:3",
	    outcome_of(mknod("dev-null", S_IFCHR | 0666, makedev(1, 3))));
	say("mknod char 0:0",
	    outcome_of(mknod("dev-whiteout", S_IFCHR | 0666, makedev(0, 0))));
	if (mknod("dev-loop0", S_IFBLK | 0600, makedev(7, 0)) == 0) {
		say("mknod block 7:0", 0);
		unlink("dev-loop0");
	} else {
		say("mknod block 7:0", errno);
	}
}

static bool args_one(char **args UNUSED, int n)
{
	return n == 1;
}

/* deep_tree N: N nested directories `d` below the cwd, made one level at a
 * time through the parent's fd (a path of 2N bytes, past PATH_MAX for
 * N > 2048, which no single path-taking call could reach), with a file at
 * the bottom (issue 19 item 7). */
static void atk_deep_tree(char **args)
{
	long n = strtol(args[0], NULL, 10);
	int cur = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = cur < 0 ? errno : 0;
	for (long i = 0; !err && i < n; i++) {
		int next = -1;
		if (mkdirat(cur, "d", 0755) < 0 ||
		    (next = openat(cur, "d",
				   O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			err = errno;
		close(cur);
		cur = next;
	}
	if (!err) {
		int f =
		    openat(cur, "bottom", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (f < 0 || write(f, "deep\n", 5) != 5)
			err = errno ? errno : EIO;
		if (f >= 0)
			close(f);
	}
	if (cur >= 0)
		close(cur);
	char what[64];
	snprintf(what, sizeof what, "mkdir %ld nested dirs", n);
	say(what, err);
}

struct attack {
	const char *name;
	void (*run)(char **args);
	bool (*valid)(char **args, int n); /* NULL: no arguments */
	const char *help;
};

static const struct attack attacks[] = {
    {"userns", atk_userns, NULL,
     "raise max_user_namespaces, then unshare/clone a user namespace"},
    {"unshare_sysrq", atk_unshare_sysrq, NULL,
     "unshare -mrfp, mount proc, open sysrq-trigger (never written)"},
    {"core_pattern", atk_core_pattern, NULL,
     "write core_pattern (its own value), remount/umount /proc/sys"},
    {"cgroup", atk_cgroup, NULL, "mount cgroup v1/v2, release_agent"},
    {"shocker", atk_shocker, NULL, "name_to_handle_at, open_by_handle_at"},
    {"tiocsti", atk_tiocsti, NULL,
     "TIOCSTI/TIOCLINUX on an own controlling pty"},
    {"tiocsti_stdin", atk_tiocsti_stdin, NULL, "TIOCSTI/TIOCLINUX on fd 0"},
    {"tty_settings", atk_tty_settings, NULL,
     "window size, -echo -icanon, TIOCSETD N_NULL on fd 0"},
    {"io_uring", atk_io_uring, NULL, "io_uring_setup/enter/register"},
    {"sockets", atk_sockets, NULL, "AF_VSOCK, AF_ALG, AF_PACKET sockets"},
    {"socket_protocols", atk_socket_protocols, NULL,
     "SCTP, DCCP, L2TP, UDP-Lite sockets; TCP and UDP"},
    {"socketpair_families", atk_socketpair_families, NULL,
     "socketpair of AF_VSOCK, AF_PACKET, MPTCP, UDP-Lite...; AF_UNIX"},
    {"memfd_hog", atk_memfd_hog, NULL,
     "write 256 MiB into a memfd (shmem: not in RLIMIT_AS)"},
    {"rlimit_ucounts_hog", atk_rlimit_ucounts_hog, args_hold,
     "[hold]: mq_open and sigqueue until refused; hold until stdin EOF"},
    {"inotify_hog", atk_inotify_hog, args_hold,
     "[hold]: inotify_init1 until refused, count; hold until stdin EOF"},
    {"pid_hog", atk_pid_hog, args_count_hold,
     "N [hold]: fork up to N waiting children, count; hold until stdin EOF"},
    {"new_syscalls", atk_new_syscalls, NULL,
     "syscalls 459-470 and 1000 raw; the ones Docker denies"},
    {"abi", atk_abi, NULL, "x32 and int 0x80 syscalls"},
    {"personality", atk_personality, NULL,
     "ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC"},
    {"pid", atk_pid, args_pids,
     "PID...: kill/pidfd_open/ptrace/process_vm_readv/mem"},
    {"connect", atk_connect, args_connect,
     "tcp ADDR PORT | abstract NAME: connect"},
    {"signal_pidfd", atk_signal_pidfd, args_one,
     "PATH: receive a host pidfd over a unix socket, SIGTERM it"},
    {"fds", atk_fds, NULL, "list leaked fds, cwd outside /, init's fds"},
    {"exe", atk_exe, NULL, "/proc/self/exe, /proc/1/exe (CVE-2019-5736)"},
    {"xattr", atk_xattr, args_one, "PATH: set overlay/trusted xattrs"},
    {"mknod", atk_mknod, NULL, "device nodes in cwd"},
    {"deep_tree", atk_deep_tree, args_one,
     "N: N nested dirs below the cwd, fd by fd, a file at the bottom"},
};

static int attack_main(int argc, char **argv)
{
	for (size_t i = 0; argc > 0 && i < ARRAY_SIZE(attacks); i++) {
		const struct attack *a = &attacks[i];
		if (strcmp(a->name, argv[0]) != 0)
			continue;
		if (a->valid ? !a->valid(argv + 1, argc - 1) : argc != 1) {
			fprintf(stderr,
				"probe: bad arguments for attack '%s'\n",
				a->name);
			return 2;
		}
		a->run(argv + 1);
		return 0;
	}
	fprintf(stderr,
		"usage: probe attack NAME [ARGS]...\n"
		"prints 'WHAT: succeeded|errno=E|killed=SIG' per step\n");
	for (size_t i = 0; i < ARRAY_SIZE(attacks); i++)
		fprintf(stderr, "  %-14s %s\n", attacks[i].name,
			attacks[i].help);
	return 2;
}

int main(int argc, char **argv)
{
	static struct run plan[MAX_RUNS];
	int nplan = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage(NULL);
	if (!strcmp(argv[1], "attack"))
		return attack_main(argc - 2, argv + 2);
	for (int i = 1; i < argc; i++) {
		const struct check *c;
		int n = 0;

		if (!strcmp(argv[i], "all")) {
			for (size_t k = 0; k < ARRAY_SIZE(checks); k++) {
				if (!checks[k].in_all)
					continue;
				if (nplan == MAX_RUNS)
					return usage("too many checks");
				plan[nplan++] =
				    (struct run){.check = &checks[k]};
			}
			continue;
		}
		c = find_check(argv[i]);
		if (!c) {
			fprintf(stderr, "probe: unknown check '%s'\n", argv[i]);
			return usage(NULL);
		}
		if (nplan == MAX_RUNS)
			return usage("too many checks");
		plan[nplan] = (struct run){.check = c};
		/* A check takes the following words until the next check
		 * name, up to max_args. */
		while (n < c->max_args && i + 1 < argc &&
		       strcmp(argv[i + 1], "all") != 0 &&
		       !find_check(argv[i + 1]))
			plan[nplan].args[n++] = argv[++i];
		if (c->valid && !c->valid(plan[nplan].args, n)) {
			fprintf(stderr, "probe: bad arguments for '%s'\n",
				c->name);
			return usage(NULL);
		}
		nplan++;
	}

	for (int i = 0; i < nplan; i++) {
		struct result r;

		memset(&r, 0, sizeof(r));
		plan[i].check->run(&r, plan[i].args);
		if (r.failed) {
			failed++;
			printf("FAIL %s: ", plan[i].check->name);
			put_clean(r.msg);
		} else {
			printf("ok %s", plan[i].check->name);
			if (r.note[0]) {
				printf(" (");
				put_clean(r.note);
				putchar(')');
			}
		}
		putchar('\n');
	}
	return failed ? 1 : 0;
}
