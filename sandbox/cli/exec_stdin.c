/* sandbox/cli/exec_stdin.c: the task's stdin, classified, copied and hashed
 * (see exec_stdin.h). */
#include "sandbox/cli/exec_stdin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sandbox/util/cleanup.h"
#include "sandbox/util/fs.h"
#include "sandbox/util/sha256.h"

int exec_stdin_classify(struct exec_stdin *in, struct wsbox_error *err)
{
	struct stat st;
	in->fd = in->relay = -1;
	in->kind = EXEC_STDIN_EMPTY;
	if (fstat(STDIN_FILENO, &st) < 0) {
		if (errno != EBADF)
			return wsbox_fail(err, errno, "stdin");
		/* Closed: fd 0 would be the next fd wsbox opens (the store,
		 * a log), which the task would then inherit as stdin. Not
		 * close-on-exec: it is the standard input. */
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			return wsbox_fail(err, errno, "open `/dev/null`");
		if (fd != STDIN_FILENO)
			close(fd);
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return wsbox_fail(err, 0,
				  "stdin is a directory: refusing to hand a "
				  "host directory to the task");
	if (S_ISREG(st.st_mode))
		in->kind = EXEC_STDIN_FILE;
	else if (S_ISFIFO(st.st_mode))
		in->kind = EXEC_STDIN_PIPE;
	else if (S_ISSOCK(st.st_mode))
		in->kind = EXEC_STDIN_SOCKET;
	else if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 &&
		 minor(st.st_rdev) == 3)
		in->kind = EXEC_STDIN_EMPTY; /* /dev/null */
	else if (isatty(STDIN_FILENO))
		in->kind = EXEC_STDIN_TERMINAL;
	else
		in->kind = EXEC_STDIN_DEVICE;
	return 0;
}

/* Copy fd 0 from `off` to its end into `out` while hashing it. pread:
 * the caller's file offset stays where it was, on a hit as on a miss. */
static int copy_hashing(int out, off_t off, unsigned char md[32],
			struct wsbox_error *err)
{
	struct sha256 h;
	sha256_init(&h);
	char buf[65536];
	for (;;) {
		ssize_t n = pread(STDIN_FILENO, buf, sizeof buf, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wsbox_fail(err, errno, "read stdin");
		if (n == 0)
			break;
		sha256_update(&h, buf, (size_t)n);
		int r = write_all(out, buf, (size_t)n);
		if (r < 0)
			return wsbox_fail(err, -r, "copy stdin");
		off += n;
	}
	sha256_final(&h, md);
	return 0;
}

/* The task's private copy: a memfd sealed against every change and not
 * writable by mode either, so reopening /proc/self/fd/0 for writing gets
 * nowhere. */
static int snapshot_file(struct exec_stdin *in, struct wsbox_error *err)
{
	off_t off = lseek(STDIN_FILENO, 0, SEEK_CUR);
	if (off < 0)
		off = 0;
	_cleanup_close_ int fd =
	    memfd_create("wsbox-stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return wsbox_fail(err, errno, "memfd for stdin");
	unsigned char md[32];
	int r = copy_hashing(fd, off, md, err);
	if (r < 0)
		return r;
	if (fchmod(fd, 0400) < 0 ||
	    fcntl(fd, F_ADD_SEALS,
		  F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) <
		0 ||
	    lseek(fd, 0, SEEK_SET) < 0)
		return wsbox_fail(err, errno, "seal the copy of stdin");
	char digest[DIGEST_STRLEN];
	sha256_format(md, digest);
	snprintf(in->id, sizeof in->id, "file:%s", digest);
	in->fd = fd;
	fd = -1;
	return 0;
}

int exec_stdin_snapshot(struct exec_stdin *in, bool named,
			struct wsbox_error *err)
{
	switch (in->kind) {
	case EXEC_STDIN_EMPTY:
		snprintf(in->id, sizeof in->id, "empty");
		return 0;
	case EXEC_STDIN_FILE:
		return snapshot_file(in, err);
	case EXEC_STDIN_TERMINAL:
		break; /* the task's own pty (sandbox/pty.h) */
	default: {
		/* Never read here: a stream's bytes are the task's to
		 * consume, through the relay. */
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return wsbox_fail(err, errno, "pipe for stdin");
		in->fd = p[0];
		in->relay = p[1];
		break;
	}
	}
	if (named)
		snprintf(in->id, sizeof in->id, "stream");
	return 0;
}

const char *exec_stdin_stream_reason(const struct exec_stdin *in)
{
	switch (in->kind) {
	case EXEC_STDIN_PIPE:
		return "stdin is a pipe";
	case EXEC_STDIN_SOCKET:
		return "stdin is a socket";
	case EXEC_STDIN_TERMINAL:
		return "stdin is a terminal";
	case EXEC_STDIN_DEVICE:
		return "stdin is a device";
	default:
		return NULL;
	}
}

void exec_stdin_close(struct exec_stdin *in)
{
	if (in->fd >= 0)
		close(in->fd);
	if (in->relay >= 0)
		close(in->relay);
	in->fd = in->relay = -1;
}
