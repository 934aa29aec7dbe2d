/* bp_link.h -- the local link between the master and one worker: a SOCK_SEQPACKET
 * socketpair made before fork, one message per send, costing Redis nothing.
 *
 * The worker's keeper sends its heartbeat (the same JSON it publishes as an echo) over it
 * every heartbeat_ms; the master reads every worker's link on each tick. Messages are
 * short text (< BP_LINK_MSG_MAX bytes); a send that would block is dropped (the next one
 * comes a period later), so a stuck master never stalls a worker. */
#ifndef BP_LINK_H
#define BP_LINK_H

#include <stddef.h>
#include <sys/types.h>

#include "bp_err.h"

#define BP_LINK_MSG_MAX 4096

/* Make a link: fds[0] stays with the master, fds[1] goes to the worker. Both ends are
 * non-blocking and close-on-exec. 0, or -1 with err. */
int bp_link_pair(int fds[2], bp_err *err);

/* Send one message without blocking. 0 sent, -1 not sent (full, peer gone): errno says. */
int bp_link_send(int fd, const char *msg, size_t len);

/* Receive one message into buf (NUL-terminated, truncated to cap - 1). Returns its length,
 * 0 when the peer closed its end, -1 when nothing is waiting (errno EAGAIN) or on error. */
ssize_t bp_link_recv(int fd, char *buf, size_t cap);

#endif /* BP_LINK_H */
