/* bp_worker_link.c -- the master <-> worker local channel (see bp_worker_link.h): a
 * SOCK_SEQPACKET socketpair, so message boundaries survive and one send is one message, with
 * no framing to get wrong and nothing to parse across reads. It owns the two fds only. */
#include "bp_worker_link.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int bp_worker_link_open(bp_worker_link *l, bp_err *err)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        bp_err_set(err, BP_ERR_IO, errno, "cannot create the master-worker link: %s",
                   strerror(errno));
        l->master_fd = l->worker_fd = -1;
        return -1;
    }
    l->master_fd = sv[0];
    l->worker_fd = sv[1];
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void bp_worker_link_keep_master(bp_worker_link *l)
{
    close_fd(&l->worker_fd);
}

void bp_worker_link_keep_worker(bp_worker_link *l)
{
    close_fd(&l->master_fd);
}

void bp_worker_link_close(bp_worker_link *l)
{
    close_fd(&l->master_fd);
    close_fd(&l->worker_fd);
}

int bp_worker_link_send(int fd, const char *kind, const char *fmt, ...)
{
    char buf[BP_LINK_MSG_MAX + 1];
    va_list ap;
    int n, m;
    ssize_t sent;

    if (fd < 0)
        return -1;
    n = snprintf(buf, sizeof(buf), "%s ", kind);
    if (n <= 0 || (size_t)n >= sizeof(buf))
        return -1;
    va_start(ap, fmt);
    m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0 || (size_t)(n + m) > BP_LINK_MSG_MAX)
        return -1;
    do {
        sent = send(fd, buf, (size_t)(n + m), MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    return sent == (ssize_t)(n + m) ? 0 : -1;
}

int bp_worker_link_recv(int fd, bp_link_msg *out)
{
    char buf[BP_LINK_MSG_MAX + 1];
    const char *sp;
    ssize_t n;
    size_t klen;

    if (fd < 0)
        return -1;
    do {
        n = recv(fd, buf, BP_LINK_MSG_MAX, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    if (n == 0)
        return -1; /* SEQPACKET: a zero-length read is the peer's close */
    buf[n] = '\0';
    sp = memchr(buf, ' ', (size_t)n);
    klen = sp != NULL ? (size_t)(sp - buf) : (size_t)n;
    if (klen == 0 || klen >= sizeof(out->kind)) {
        out->kind[0] = '\0'; /* malformed: the reader skips it */
        snprintf(out->payload, sizeof(out->payload), "%s", buf);
        return 1;
    }
    memcpy(out->kind, buf, klen);
    out->kind[klen] = '\0';
    snprintf(out->payload, sizeof(out->payload), "%s", sp != NULL ? sp + 1 : "");
    return 1;
}
