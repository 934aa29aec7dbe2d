/* bp_link.c -- the master <-> worker local link (see bp_link.h): a non-blocking
 * SOCK_SEQPACKET socketpair, so message boundaries survive and EOF shows a dead peer. */
#include "bp_link.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

int bp_link_pair(int fds[2], bp_err *err)
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
        bp_err_set(err, BP_ERR_IO, errno, "socketpair for a worker's local link: %s",
                   strerror(errno));
        return -1;
    }
    return 0;
}

int bp_link_send(int fd, const char *msg, size_t len)
{
    ssize_t n;

    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    do
        n = send(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)len ? 0 : -1;
}

ssize_t bp_link_recv(int fd, char *buf, size_t cap)
{
    ssize_t n;

    if (fd < 0 || cap == 0) {
        errno = EBADF;
        return -1;
    }
    do
        n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}
