/* fdpass.h: one file descriptor over a unix socket (SCM_RIGHTS), the way
 * the sandbox's child hands the supervisor its seccomp listener and its
 * workspace tmpfs. Stack buffers only: the sender runs between clone and
 * execve. */
#ifndef WSBOX_UTIL_FDPASS_H
#define WSBOX_UTIL_FDPASS_H

/* Send `fd` with a one-byte message `tag`. Returns 0 or -errno (-EIO on a
 * short send). */
int fdpass_send(int sock, int fd, char tag);

/* Receive one fd without blocking, O_CLOEXEC. Returns it, -EAGAIN when
 * nothing is waiting, -EPROTO when a message came without exactly one fd
 * (e.g. the sender closed its end), or another -errno. */
int fdpass_recv(int sock);

#endif
