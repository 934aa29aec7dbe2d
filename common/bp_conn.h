/* bp_conn.h -- one Redis connection: TCP, TLS or Unix socket transport plus the hiredis
 * RESP reader and formatter. The only place that touches sockets and SSL objects.
 *
 * A bp_conn owns its socket, its SSL object (TLS only) and its redisReader. Every
 * connection of every process and role goes through bp_conn_open(). Never carry one across
 * fork(): a child calls bp_conn_abandon() on what it inherited (close the fd, send nothing,
 * no TLS close_notify) and opens its own. A reader error is sticky: after any error other
 * than BP_ERR_REPLY the connection is unusable (bp_conn_ok() is false); close it and open a
 * new one. Not thread-safe: callers that share one connection hold their own lock. */
#ifndef BP_CONN_H
#define BP_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis.h>

#include "bp_config.h"
#include "bp_err.h"

typedef struct bp_conn bp_conn;    /* opaque: defined in bp_conn.c */
typedef struct ssl_ctx_st SSL_CTX; /* forward-declared; no <openssl/ssl.h> here */

/* Connect to the Redis of rc: non-blocking connect bounded by connect_timeout_ms (every
 * address getaddrinfo gives, IPv4 and IPv6), TCP_NODELAY, keepalive and TCP_USER_TIMEOUT;
 * for TLS a handshake with tls_ctx, SNI and host (or IP) verification; then AUTH (user and
 * password), SELECT db and CLIENT SETNAME name (name may be NULL; an "unknown command" reply
 * to CLIENT is ignored). On success stores a new connection in *out and returns 0. On
 * failure returns -1 with err set: kind BP_ERR_CONFIG for TLS verification and AUTH
 * failures, BP_ERR_IO / BP_ERR_TIMEOUT for unreachable servers. */
int bp_conn_open(bp_conn **out, const bp_redis_config *rc, SSL_CTX *tls_ctx, const char *name,
                 bp_err *err);

/* As bp_conn_open(), for a connection that works on keys near route (a queue's key prefix,
 * "{bull}:emails:"): on Redis Cluster its keyless and pub/sub commands (CLIENT ID,
 * SUBSCRIBE...) go to the master serving route's slot. Elsewhere route is ignored. */
int bp_conn_open_route(bp_conn **out, const bp_redis_config *rc, SSL_CTX *tls_ctx, const char *name,
                       const char *route, bp_err *err);

void bp_conn_close(bp_conn *c);   /* orderly close (TLS close_notify); NULL is a no-op */
void bp_conn_abandon(bp_conn *c); /* after fork: close the fd and free, send nothing */

bool bp_conn_ok(const bp_conn *c); /* false once a transport or protocol error happened */
int bp_conn_fd(const bp_conn *c);

/* "rediss://host:6380 — TLSv1.3, verified CN=host" (or "unverified"), for start-up logs. */
const char *bp_conn_describe(const bp_conn *c);

/* The server c's keyless commands reach, as "host:port" in buf (on Redis Cluster the home
 * master; elsewhere the node dialled, which after a Sentinel failover is the new master;
 * "unix://PATH" for a unix socket). CLIENT IDs are numbered per server: an id means something only
 * together with this. */
void bp_conn_node(const bp_conn *c, char *buf, size_t len);
#define BP_CONN_NODE_MAX 300 /* a buffer for bp_conn_node() (a 253-byte host name fits) */

/* Redis Cluster: "host:port" of server i of those c's slot map has named (its masters, and
 * masters since demoted by a failover), for commands every server must run (CLIENT LIST).
 * Returns how many there are; on any other connection 1, server 0 being bp_conn_node(c).
 * i out of range leaves buf "". */
int bp_conn_servers(const bp_conn *c, int i, char *buf, size_t len);

/* As bp_conn_command(), run on the server named node ("host:port" from bp_conn_node() or
 * bp_conn_servers()). On Redis Cluster the member connection to node is opened on first
 * use; a node that cannot be reached fails with kind BP_ERR_IO and leaves c usable (unless
 * node is c's home: then c is broken, as for any command). On any other connection, node
 * must be c's own server: else it fails with kind BP_ERR_NONE (not sent: that server is
 * not the one c talks to, e.g. the master before a Sentinel failover). */
redisReply *bp_conn_command_at(bp_conn *c, const char *node, bp_err *err, const char *fmt, ...);

/* Run one command and wait for its reply within command_timeout_ms. Returns the reply
 * (caller frees with freeReplyObject()), or NULL with err set. A Redis error reply is
 * returned as NULL with kind BP_ERR_REPLY and the error text in err (the connection stays
 * usable). */
redisReply *bp_conn_command(bp_conn *c, bp_err *err, const char *fmt, ...);
redisReply *bp_conn_command_argv(bp_conn *c, int argc, const char **argv, const size_t *argvlen,
                                 bp_err *err);

/* Pipelining: queue commands in the output buffer, then send them and read the replies
 * one by one with bp_conn_read_reply(). */
int bp_conn_append(bp_conn *c, bp_err *err, const char *fmt, ...);
int bp_conn_append_argv(bp_conn *c, int argc, const char **argv, const size_t *argvlen,
                        bp_err *err);
int bp_conn_flush(bp_conn *c, bp_err *err); /* write everything queued (command timeout) */

/* Read the next reply, waiting up to timeout_ms (< 0: command_timeout_ms). Flushes pending
 * output first. When wake_fd >= 0 and becomes readable before a reply arrives, returns -1
 * with kind BP_ERR_WOKEN (the connection then has an unread reply: close it). Error replies
 * are returned as replies here (type REDIS_REPLY_ERROR), not as failures. Returns 0 and
 * stores the reply in *out, or -1 with err set. Exception to "every error breaks the
 * connection": a BP_ERR_TIMEOUT or BP_ERR_WOKEN while no reply is outstanding (every
 * appended command answered: a subscriber waiting for messages) leaves it usable. */
int bp_conn_read_reply(bp_conn *c, redisReply **out, int timeout_ms, int wake_fd, bp_err *err);

/* A blocking command (BRPOPLPUSH, BLMOVE...) whose own timeout is block_s seconds: waits
 * block_s * 1000 + command_timeout_ms, and can be woken through wake_fd as above. A nil
 * reply (timeout) is returned as a reply of type REDIS_REPLY_NIL. */
redisReply *bp_conn_blocking_argv(bp_conn *c, int argc, const char **argv, const size_t *argvlen,
                                  int block_s, int wake_fd, bp_err *err);

/* With redis.replica_acks = N > 0: WAIT until N replicas acknowledged every write made so
 * far on c's master (at most redis.replica_ack_timeout_ms). Returns 0 when they did (or N
 * is 0); -1 with kind BP_ERR_IO when fewer did or the master went away: the write is then
 * not to be counted as durable, and c is broken so its role reopens (finding the master
 * again) and retries, as after an outage. */
int bp_conn_wait_replicas(bp_conn *c, bp_err *err);

/* True when a reply is already buffered (decrypted TLS bytes or reader data), so a caller
 * that poll()s the fd must not wait. */
bool bp_conn_has_pending(const bp_conn *c);

/* Commands this process has sent so far, on all its connections (handshakes included). */
unsigned long long bp_conn_commands_sent(void);

#endif /* BP_CONN_H */
