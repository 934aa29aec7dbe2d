/* bp_worker_link.h -- the local channel between the master and one of its workers: an
 * AF_UNIX SOCK_SEQPACKET socketpair made by the master before fork(), so it never touches
 * Redis and costs Redis nothing.
 *
 * One datagram is one message: "<kind> <payload>" in text, at most BP_LINK_MSG_MAX bytes,
 * kind a short lower-case word. Kinds in use (add new ones here, one line each):
 *
 *   conn <role> <client id> <node>
 *                             a worker opened a Redis connection (role client, subscriber or
 *                             bclient) whose CLIENT ID is <client id> on server <node>
 *                             ("host:port", bp_conn_node(); ids are numbered per server); sent
 *                             at every (re)open, so the master can CLIENT KILL a dead worker's
 *                             connections on their server before it moves the worker's jobs
 *                             (exact recovery)
 *   hb <json>                 the worker's heartbeat every heartbeat_ms (bp_keeper.c,
 *                             read by bp_health.c): state, job, last ping seen, loop and
 *                             pull times, counters; its absence for hung_after_ms is the
 *                             "no heartbeat" verdict
 *
 * Both ends are non-blocking. A send that would block is dropped (the master reads every
 * loop, so that means it is gone or stuck): messages are hints the master can live without,
 * never the only record of a job. The worker end may be written by any of the worker's
 * threads (a SEQPACKET send is atomic). The master reads its ends each loop and once more
 * when it reaps a worker, before recovering its jobs. */
#ifndef BP_WORKER_LINK_H
#define BP_WORKER_LINK_H

#include <stddef.h>

#include "bp_err.h"

#define BP_LINK_MSG_MAX  512 /* one datagram; a message never needs more */
#define BP_LINK_KIND_MAX 16  /* "conn", ... */

/* The two ends of one worker's link. -1 = closed. */
typedef struct bp_worker_link {
    int master_fd; /* kept by the master */
    int worker_fd; /* kept by the worker */
} bp_worker_link;

/* One received message, NUL-terminated. */
typedef struct bp_link_msg {
    char kind[BP_LINK_KIND_MAX];       /* "conn" */
    char payload[BP_LINK_MSG_MAX + 1]; /* "bclient 812" (may be empty) */
} bp_link_msg;

/* Make the socketpair (non-blocking, close-on-exec). 0, or -1 with err. */
int bp_worker_link_open(bp_worker_link *l, bp_err *err);

/* After fork: the master keeps master_fd and closes worker_fd; the worker the reverse. */
void bp_worker_link_keep_master(bp_worker_link *l);
void bp_worker_link_keep_worker(bp_worker_link *l);

/* Close both ends that are still open (-1 afterwards). */
void bp_worker_link_close(bp_worker_link *l);

/* Send one message on fd (either end): kind, a space, then the formatted payload. fd < 0 is a
 * no-op. 0, or -1 when it could not be sent (full, closed, too long): the caller goes on. */
int bp_worker_link_send(int fd, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Receive one message from fd without waiting. 1 with *out filled, 0 when none is queued,
 * -1 when the other end is closed (EOF) or the socket failed. A malformed datagram (no kind)
 * is returned with an empty kind, so the reader can count and skip it. */
int bp_worker_link_recv(int fd, bp_link_msg *out);

#endif /* BP_WORKER_LINK_H */
