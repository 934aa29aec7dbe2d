/* bp_topology.h -- where Redis is: the one address of redis.url, the master the sentinels of
 * redis.sentinel name now, or (Cluster) the node serving a slot.
 *
 * Part of the connection layer: bp_conn_open() asks this module which node to dial, so
 * nothing above common/bp_conn* knows which mode is on. In Sentinel mode every process
 * runs one watcher thread, started with its first connection, that keeps a subscription to
 * +switch-master on one sentinel; when the master moves it shuts down the sockets of every
 * connection still open to the old one, so each role's own reconnect path (with the one
 * backoff) asks the sentinels again. The watcher and the registry of open connections
 * survive fork() correctly: a child starts with an empty registry and its own watcher. */
#ifndef BP_TOPOLOGY_H
#define BP_TOPOLOGY_H

#include <stdio.h>

#include "bp_config.h"
#include "bp_conn.h"
#include "bp_err.h"

/* The topology mode of rc, for messages: "single", "sentinel" or "cluster". */
const char *bp_topology_mode(const bp_redis_config *rc);

/* Where rc points, for messages, into buf (returned): the redacted redis.url for one Redis;
 * "Sentinel master 'mymaster' (sentinels 10.0.0.1:26379, 10.0.0.2:26379)" or "Redis Cluster
 * (seeds 10.0.0.1:6379, ...)", whose redis.url host is not used. */
const char *bp_topology_describe(const bp_redis_config *rc, char *buf, size_t len);
/* The same in a buffer that lives until the end of the enclosing block, for a log call. */
#define BP_TOPOLOGY_DESC(rc) bp_topology_describe((rc), (char[600]){0}, 600)

/* For `bullpen check`: on Cluster, the slot map (bp_topology_cluster_check()); on Sentinel, ask
 * every sentinel for the master of redis.sentinel.master_name and print what each said, whether
 * they agree, and the master's replicas (ROLE), one line each ("ok      ...", "warning ...",
 * "refused ..."). Returns 0, or -1 with err set to the worst problem (kind BP_ERR_CONFIG: fix the
 * configuration; BP_ERR_IO: unreachable). Does nothing and returns 0 outside Sentinel mode. */
int bp_topology_check(const bp_redis_config *rc, SSL_CTX *tls, FILE *out, bp_err *err);

/* Cluster part of bp_topology_check(): the slot map, the masters serving it, and for each
 * of the n routes (a queue's key, "{bull}:emails:id"; labels[i] names it) its slot and
 * master. */
int bp_topology_cluster_check(const bp_redis_config *rc, SSL_CTX *tls, const char *const *routes,
                              const char *const *labels, size_t n, FILE *out, bp_err *err);

/* Around a fork whose child goes on running this program (the master spawning workers):
 * pause stops this process's Sentinel watcher thread (woken, joined, its subscription
 * closed) and resume starts it again. A thread's OpenSSL state (its error queue, its
 * random generators) is reachable only from that thread's thread-local storage, which a
 * forked child has no thread for: without the pause, every worker carried the master
 * watcher's as unreachable memory (9.6 kB, reported as a leak at exit). Between the two
 * the master learns of a failover from its own connection's errors only. pause waits for a
 * connection attempt of the thread in progress (at most redis.connect_timeout_ms, when a
 * sentinel does not answer). Both do nothing outside Sentinel mode, or when no watcher
 * runs. Not for fork + exec. */
void bp_topology_watch_pause(void);
void bp_topology_watch_resume(void);

/* The Redis Cluster hash slot of a key (its {hash tag} when it has one): 0..16383. */
int bp_cluster_key_slot(const char *key, size_t len);

#endif /* BP_TOPOLOGY_H */
