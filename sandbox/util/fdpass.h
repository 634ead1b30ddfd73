/* sandbox/util/fdpass: one fd over a unix socket (SCM_RIGHTS) with a one
 * byte message, how the sandbox's child hands the parent what it made in
 * its own namespaces (the workspace tmpfs, the task's pty master). */
#ifndef WSBOX_UTIL_FDPASS_H
#define WSBOX_UTIL_FDPASS_H

/* 0 or -errno (MSG_NOSIGNAL: a parent that is gone is EPIPE). */
int fdpass_send(int sock, int fd);
/* The fd received (close-on-exec), or -errno; -ENOMSG when the message
 * carried no fd or the peer closed without sending. recvmsg `flags` (e.g.
 * MSG_DONTWAIT). */
int fdpass_recv(int sock, int flags);

#endif
