/* bp_conn_int.h -- private to common/bp_conn.c and common/bp_conn_open.c: the connection
 * record and the transport primitives opening a connection shares with running commands.
 * Nothing outside those files and common/bp_topology.c (which decides which node a
 * connection dials) includes this: sockets, SSL objects and the reader stay inside the
 * connection module (STYLE.md section 1). */
#ifndef BP_CONN_INT_H
#define BP_CONN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis.h>
#include <openssl/ssl.h>

#include "bp_conn.h"

#define BP_CONN_READ_BUF      (64 * 1024) /* one recv() takes a whole burst of pipelined replies */
#define BP_CONN_OBUF_KEEP     (64 * 1024) /* shrink the output buffer back after a big pipeline */
#define BP_CONN_KEEPCNT       3           /* keepalive probes before the kernel gives up */
#define BP_CONN_OPEN_MAX_CMDS 4           /* AUTH, SELECT, CLIENT SETNAME or PING */

struct bp_conn {
    int fd;                      /* non-blocking, close-on-exec socket */
    SSL *ssl;                    /* NULL for plain TCP and unix sockets */
    redisReader *reader;         /* hiredis RESP parser; its errors are sticky */
    bool broken;                 /* a transport/protocol error happened: close and reopen */
    bool verified;               /* TLS peer certificate and name were verified */
    int first_byte;              /* first byte the server sent, -1 before any (TLS-vs-plain hint) */
    int command_timeout_ms;      /* from bp_redis_config */
    long pending;                /* replies appended but not read yet */
    char *obuf;                  /* formatted commands not written yet */
    size_t olen;                 /* bytes in obuf */
    size_t osent;                /* bytes of obuf already written */
    size_t ocap;                 /* allocated size of obuf */
    char url[300];               /* "rediss://localhost:6380", for messages */
    char host[256];              /* the node dialled (no brackets), "" for unix sockets */
    int port;                    /* its port */
    bool watched;                /* in bp_topology's registry: shut down when the master moves */
    bool in_cluster;             /* a member of a cluster router: MOVED/ASK/TRYAGAIN are its */
    struct bp_cluster *cluster;  /* non-NULL: this is a cluster router (no socket of its own) */
    int replica_acks;            /* redis.replica_acks: bp_conn_wait_replicas() waits for these */
    int replica_ack_timeout_ms;  /* redis.replica_ack_timeout_ms */
    char desc[768];              /* bp_conn_describe() text */
    char ibuf[BP_CONN_READ_BUF]; /* read buffer, fed to the reader */
};

/* Open a connection to exactly the node of rc->host/port (or unix socket): what
 * bp_conn_open() does once bp_topology has chosen the node. Same contract. */
int bp_conn_open_node(bp_conn **out, const bp_redis_config *rc, SSL_CTX *tls_ctx, const char *name,
                      bp_err *err);

/* bp_topology.c: open a connection to the node serving rc now (Sentinel or Cluster mode).
 * Same contract as bp_conn_open_route(). */
int bp_topology_open(bp_conn **out, const bp_redis_config *rc, SSL_CTX *tls_ctx, const char *name,
                     const char *route, bp_err *err);

/* ---- bp_topology_cluster.c: the cluster router ---- */
typedef struct bp_cluster bp_cluster;

/* A router over the masters of the cluster of rc (seeds rc->cluster.nodes); keyless and
 * pipelined commands go to the master of route's slot (NULL: slot 0). */
int bp_cluster_open(bp_conn **out, const bp_redis_config *rc, SSL_CTX *tls, const char *name,
                    const char *route, bp_err *err);

/* One command routed by its key, following MOVED/ASK/TRYAGAIN; block_s >= 0 for a blocking
 * command (then wake_fd as in bp_conn_blocking_argv()). Contract of bp_conn_command_argv(). */
redisReply *bp_cluster_command(bp_conn *router, int argc, const char **argv, const size_t *argvlen,
                               int block_s, int wake_fd, bp_err *err);

/* bp_conn_command_at() on a router: one command on the member at node ("host:port"). */
redisReply *bp_cluster_command_node(bp_conn *router, const char *node, int argc, const char **argv,
                                    const size_t *argvlen, bp_err *err);

/* "host:port" of known node i (-1: the home) into buf; returns the number of known nodes. */
int bp_cluster_node_addr(const bp_conn *router, int i, char *buf, size_t len);

/* The home member (pub/sub, pipelines, fd to poll), or NULL when the router is broken. */
bp_conn *bp_cluster_home(bp_conn *router);

/* Close (or, after fork, abandon) every member and free the router's state. */
void bp_cluster_free(bp_cluster *cl, bool abandon);

/* bp_topology.c: drop c from the registry of connections to shut down on a failover; called
 * by bp_conn_io_free() before the fd is closed, so the fd number cannot be reused while the
 * watcher may still shut it down. */
void bp_topology_forget(bp_conn *c);

/* Mark c unusable: a transport/protocol error or an abandoned reply. */
void bp_conn_io_break(bp_conn *c);

/* Wait until c's fd is ready for events (POLLIN/POLLOUT) or deadline (monotonic ms, < 0 =
 * none) passes; wake_fd >= 0 interrupts (BP_ERR_WOKEN). what and timeout_ms word the
 * timeout message. Returns 0 when ready, else -1 with err set and c broken. */
int bp_conn_io_wait(bp_conn *c, short events, int wake_fd, int64_t deadline, const char *what,
                    int timeout_ms, bp_err *err);

/* A "; what to do" hint for an OpenSSL error code; *config tells whether the reason means
 * "fix the configuration". Returns "" when there is nothing to add. */
const char *bp_conn_io_ssl_hint(unsigned long e, bool *config);

/* Read what is available into the reader: 1 bytes fed, 0 would block (*want = poll events
 * to wait for), -1 error (err set, c broken). */
int bp_conn_io_read(bp_conn *c, short *want, bp_err *err);

/* Write the whole output buffer before deadline. 0 or -1 (err set, c broken). */
int bp_conn_io_flush(bp_conn *c, int64_t deadline, int timeout_ms, bp_err *err);

/* The next reply, reading until deadline or wake_fd. 0 with *out set, or -1. */
int bp_conn_io_reply(bp_conn *c, redisReply **out, int wake_fd, int64_t deadline, int timeout_ms,
                     bp_err *err);

/* Format a command into the output buffer (argvlen NULL: strlen). 0 or -1 (out of memory). */
int bp_conn_io_append(bp_conn *c, int argc, const char **argv, const size_t *argvlen, bp_err *err);

/* Close the fd (when still open) and free everything; sends nothing itself. */
void bp_conn_io_free(bp_conn *c);

#endif /* BP_CONN_INT_H */
