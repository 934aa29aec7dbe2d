/* bp_topology_cluster.c -- Redis Cluster for bp_conn: one bp_conn that is a router over
 * connections to the cluster's masters.
 *
 * A cluster bp_conn (c->cluster != NULL) has no socket of its own. It holds the slot map
 * (CLUSTER SLOTS, learnt from the seeds of redis.cluster.nodes or any node that answers)
 * and one member connection per master it has talked to. A command with a key goes to the
 * master of the key's hash slot (hash tags honoured: Bull's keys of a queue whose prefix
 * is "{bull}" share one slot, so its multi-key scripts run on one node); a command without
 * a key (SUBSCRIBE, PUBLISH, CLIENT, INFO, SCRIPT, PING) and every pipelined or pub/sub
 * call go to the "home" member: the master serving the route key given at open (a
 * worker's queue), so CLIENT ID / CLIENT UNBLOCK reach the node where its pull blocks.
 * Classic pub/sub is broadcast over the cluster bus, so a subscriber on any node hears
 * the control channel and Bull's event channels published on any other.
 *
 * Redirections: MOVED refreshes the whole map from the node named (a failover moves many
 * slots at once) and retries; ASK sends ASKING then the command to the node named, once;
 * TRYAGAIN is retried with the one backoff a few times. CLUSTERDOWN, READONLY, LOADING and
 * any transport error on a member mark the router broken (bp_conn_ok() false, kind
 * BP_ERR_IO): the caller reopens it with its own backoff, which learns the map again --
 * the path every role already takes after an outage. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ssl.h>

#include "bp_conn_int.h"
#include "bp_log.h"
#include "bp_time.h"
#include "bp_topology.h"

#define BP_CLUSTER_SLOTS       16384 /* Redis Cluster's fixed number of hash slots */
#define BP_CLUSTER_MAX_NODES   128   /* masters we can address: far above real clusters */
#define BP_CLUSTER_MAX_REDIRS  5     /* MOVED/ASK/TRYAGAIN hops for one command */
#define BP_CLUSTER_TRYAGAIN_MS 50    /* first TRYAGAIN pause (doubling, full jitter) */

typedef struct cluster_node {
    char host[256]; /* as CLUSTER SLOTS names it */
    int port;       /* its (TLS) client port */
    bp_conn *conn;  /* member connection, NULL until first used or after an error */
} cluster_node;

struct bp_cluster {
    bp_redis_config rc;               /* copy; the strings below are its own */
    SSL_CTX *tls;                     /* our own reference, or NULL */
    char *name;                       /* CLIENT SETNAME of every member, or NULL */
    uint16_t slots[BP_CLUSTER_SLOTS]; /* node index + 1 of each slot's master, 0 = unknown */
    cluster_node nodes[BP_CLUSTER_MAX_NODES]; /* masters seen */
    int n_nodes;                              /* entries used in nodes */
    int home;                                 /* node of the route key */
    int last;                                 /* node of the last keyed command (WAIT goes there) */
    bp_backoff tryagain;                      /* TRYAGAIN pacing */
};

/* ---- hash slots --------------------------------------------------------------------- */

/* CRC16-CCITT (XMODEM), the checksum Redis Cluster hashes keys with. */
static uint16_t crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

int bp_cluster_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);

    if (open != NULL) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);

        if (close != NULL && close > open + 1) /* "{}" is no tag: hash the whole key */
            return crc16(open + 1, (size_t)(close - open - 1)) & (BP_CLUSTER_SLOTS - 1);
    }
    return crc16(key, len) & (BP_CLUSTER_SLOTS - 1);
}

/* The key argument of a command, or -1 when it has none that routes it. */
static int command_key_index(int argc, const char **argv, const size_t *argvlen)
{
    static const char *const keyless[] = {
        "PING", "INFO", "CLIENT",      "SCRIPT",  "PUBLISH", "SUBSCRIBE", "PSUBSCRIBE",
        "ROLE", "WAIT", "UNSUBSCRIBE", "CLUSTER", "TIME",    "CONFIG",    "DBSIZE",
        "SCAN", "ECHO", "SELECT",      "AUTH",    "HELLO",   "READONLY"};
    size_t n = argvlen != NULL ? argvlen[0] : strlen(argv[0]);

    for (size_t i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++)
        if (strlen(keyless[i]) == n && strncasecmp(argv[0], keyless[i], n) == 0)
            return -1;
    if ((n == 4 && strncasecmp(argv[0], "EVAL", 4) == 0) ||
        (n == 7 && strncasecmp(argv[0], "EVALSHA", 7) == 0))
        return argc > 3 && atoi(argv[2]) > 0 ? 3 : -1;
    return argc > 1 ? 1 : -1;
}

/* ---- nodes and the slot map --------------------------------------------------------- */

static int cluster_node_index(bp_cluster *cl, const char *host, int port)
{
    for (int i = 0; i < cl->n_nodes; i++)
        if (cl->nodes[i].port == port && strcmp(cl->nodes[i].host, host) == 0)
            return i;
    if (cl->n_nodes == BP_CLUSTER_MAX_NODES || strlen(host) >= sizeof(cl->nodes[0].host))
        return -1;
    snprintf(cl->nodes[cl->n_nodes].host, sizeof(cl->nodes[0].host), "%s", host);
    cl->nodes[cl->n_nodes].port = port;
    cl->nodes[cl->n_nodes].conn = NULL;
    return cl->n_nodes++;
}

static int cluster_open_member(bp_cluster *cl, const char *host, int port, bp_conn **out,
                               bp_err *err)
{
    bp_redis_config nrc = cl->rc;

    nrc.host = (char *)(uintptr_t)host;
    nrc.port = port;
    if (bp_conn_open_node(out, &nrc, cl->tls, cl->name, err) != 0)
        return -1;
    (*out)->in_cluster = true;
    return 0;
}

/* Load the map from CLUSTER SLOTS on c: [[start, end, [host, port, id], replicas...], ...]. */
static int cluster_load_map(bp_cluster *cl, bp_conn *c, bp_err *err)
{
    redisReply *r = bp_conn_command(c, err, "CLUSTER SLOTS");
    size_t covered = 0;

    if (r == NULL) {
        if (err->kind == BP_ERR_REPLY)
            bp_err_set(err, BP_ERR_CONFIG, 0,
                       "'%s' refused CLUSTER SLOTS: %s; is it a cluster node? check "
                       "redis.cluster.nodes (or remove redis.cluster for a single Redis)",
                       bp_conn_describe(c), err->msg);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        bp_err_set(err, BP_ERR_IO, 0, "'%s' answered CLUSTER SLOTS with an unexpected reply",
                   bp_conn_describe(c));
        return -1;
    }
    memset(cl->slots, 0, sizeof(cl->slots));
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        const redisReply *m;
        long long start, end;
        int idx;

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY)
            continue;
        m = e->element[2];
        if (m->elements < 2 || m->element[0]->type != REDIS_REPLY_STRING ||
            m->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        start = e->element[0]->integer;
        end = e->element[1]->integer;
        if (start < 0 || end >= BP_CLUSTER_SLOTS || start > end)
            continue;
        /* an empty host means "the node you asked" (cluster-preferred-endpoint-type) */
        idx = cluster_node_index(cl, m->element[0]->len > 0 ? m->element[0]->str : c->host,
                                 (int)m->element[1]->integer);
        if (idx < 0)
            continue;
        for (long long s = start; s <= end; s++)
            cl->slots[s] = (uint16_t)(idx + 1);
        covered += (size_t)(end - start + 1);
    }
    freeReplyObject(r);
    if (covered < BP_CLUSTER_SLOTS) {
        bp_err_set(err, BP_ERR_IO, 0,
                   "the cluster seen from '%s' serves %zu of %d slots (a failover or "
                   "resharding under way?); retrying",
                   bp_conn_describe(c), covered, BP_CLUSTER_SLOTS);
        return -1;
    }
    return 0;
}

/* The map from the first seed (or known node) that gives a complete one. */
static int cluster_learn(bp_cluster *cl, bp_err *err)
{
    bp_err worst = {0};
    size_t n = cl->rc.cluster.n_nodes;

    for (size_t i = 0; i < n; i++) {
        bp_conn *c = NULL;
        bp_err e = {0};

        if (cluster_open_member(cl, cl->rc.cluster.nodes[i].host, cl->rc.cluster.nodes[i].port, &c,
                                &e) == 0 &&
            cluster_load_map(cl, c, &e) == 0) {
            bp_conn_close(c);
            return 0;
        }
        bp_conn_close(c);
        if (worst.kind == BP_ERR_NONE || (e.kind == BP_ERR_CONFIG && worst.kind != BP_ERR_CONFIG))
            worst = e;
    }
    *err = worst;
    if (n > 1)
        bp_err_prefix(err, "no seed of redis.cluster.nodes gave the slot map (%zu tried)", n);
    return -1;
}

/* The member connection of node i, opened on first use. */
static bp_conn *cluster_member(bp_conn *router, int i, bp_err *err)
{
    bp_cluster *cl = router->cluster;
    cluster_node *nd = &cl->nodes[i];

    if (nd->conn != NULL && bp_conn_ok(nd->conn))
        return nd->conn;
    if (nd->conn != NULL && i == cl->home) {
        /* the home carries pub/sub and pipelines: its loss is the router's */
        bp_err_set(err, BP_ERR_IO, 0, "connection to cluster node '%s' is broken",
                   bp_conn_describe(nd->conn));
        router->broken = true;
        return NULL;
    }
    bp_conn_close(nd->conn);
    nd->conn = NULL;
    if (cluster_open_member(cl, nd->host, nd->port, &nd->conn, err) != 0) {
        router->broken = true;
        return NULL;
    }
    return nd->conn;
}

/* "MOVED 3999 127.0.0.1:6381" / "ASK ...": the node index, or -1. */
static int cluster_redirect_node(bp_cluster *cl, const char *msg, int *slot)
{
    char host[256];
    const char *sp = strchr(msg, ' ');
    const char *addr = sp != NULL ? strchr(sp + 1, ' ') : NULL;
    const char *colon = addr != NULL ? strrchr(addr, ':') : NULL;

    if (colon == NULL || (size_t)(colon - addr - 1) >= sizeof(host))
        return -1;
    *slot = atoi(sp + 1);
    memcpy(host, addr + 1, (size_t)(colon - addr - 1));
    host[colon - addr - 1] = '\0';
    if (*slot < 0 || *slot >= BP_CLUSTER_SLOTS)
        return -1;
    return cluster_node_index(cl, host, atoi(colon + 1));
}

/* ---- public (through bp_conn.c) ----------------------------------------------------- */

bp_conn *bp_cluster_home(bp_conn *router)
{
    bp_cluster *cl = router->cluster;
    bp_err err;

    if (router->broken)
        return NULL;
    return cluster_member(router, cl->home, &err);
}

redisReply *bp_cluster_command(bp_conn *router, int argc, const char **argv, const size_t *argvlen,
                               int block_s, int wake_fd, bp_err *err)
{
    bp_cluster *cl = router->cluster;
    int ki = command_key_index(argc, argv, argvlen);
    int node = cl->home, asking = -1;

    if (router->broken) {
        bp_err_set(err, BP_ERR_IO, 0,
                   "cluster connection '%s' is broken by an earlier error; close and reopen it",
                   router->desc);
        return NULL;
    }
    if (ki >= 0) {
        int slot = bp_cluster_key_slot(argv[ki], argvlen != NULL ? argvlen[ki] : strlen(argv[ki]));

        if (cl->slots[slot] != 0)
            node = cl->slots[slot] - 1;
        cl->last = node;
    } else if ((argvlen != NULL ? argvlen[0] : strlen(argv[0])) == 4 &&
               strncasecmp(argv[0], "WAIT", 4) == 0) {
        node = cl->last; /* replication of what we just wrote, on the node we wrote to */
    }
    bp_backoff_reset(&cl->tryagain);
    for (int hop = 0; hop <= BP_CLUSTER_MAX_REDIRS; hop++) {
        bp_conn *m = cluster_member(router, asking >= 0 ? asking : node, err);
        redisReply *r;
        int slot, to;

        if (m == NULL)
            return NULL;
        if (asking >= 0) {
            const char *a[] = {"ASKING"};
            redisReply *ok = bp_conn_command_argv(m, 1, a, NULL, err);

            if (ok == NULL) {
                router->broken = !bp_conn_ok(m);
                return NULL;
            }
            freeReplyObject(ok);
        }
        r = block_s >= 0 ? bp_conn_blocking_argv(m, argc, argv, argvlen, block_s, wake_fd, err)
                         : bp_conn_command_argv(m, argc, argv, argvlen, err);
        asking = -1;
        if (r != NULL)
            return r;
        if (err->kind != BP_ERR_REPLY) {
            if (err->kind != BP_ERR_WOKEN)
                router->broken = true; /* a member went away: learn the map again */
            return NULL;
        }
        if (strncmp(err->msg, "MOVED ", 6) == 0 &&
            (to = cluster_redirect_node(cl, err->msg, &slot)) >= 0) {
            bp_conn *t = cluster_member(router, to, err);
            bp_err e = {0};

            if (t == NULL)
                return NULL;
            if (cluster_load_map(cl, t, &e) != 0)
                cl->slots[slot] = (uint16_t)(to + 1); /* at least this slot */
            node = to;
            continue;
        }
        if (strncmp(err->msg, "ASK ", 4) == 0 &&
            (to = cluster_redirect_node(cl, err->msg, &slot)) >= 0) {
            asking = to;
            continue;
        }
        if (strncmp(err->msg, "TRYAGAIN", 8) == 0) {
            bp_sleep_ms(bp_backoff_next(&cl->tryagain));
            continue;
        }
        return NULL; /* the command's own error reply */
    }
    bp_err_set(err, BP_ERR_IO, 0,
               "cluster: more than %d redirections for '%.*s'; the slot map is changing, "
               "retrying later",
               BP_CLUSTER_MAX_REDIRS, (int)(argvlen != NULL ? argvlen[0] : strlen(argv[0])),
               argv[0]);
    router->broken = true;
    return NULL;
}

redisReply *bp_cluster_command_node(bp_conn *router, const char *node, int argc, const char **argv,
                                    const size_t *argvlen, bp_err *err)
{
    bp_cluster *cl = router->cluster;
    const char *colon = strrchr(node, ':');
    char host[256];
    cluster_node *nd;
    int i;

    if (router->broken) {
        bp_err_set(err, BP_ERR_IO, 0,
                   "cluster connection '%s' is broken by an earlier error; close and reopen it",
                   router->desc);
        return NULL;
    }
    if (colon == NULL || colon == node || (size_t)(colon - node) >= sizeof(host)) {
        bp_err_set(err, BP_ERR_IO, 0, "cluster: '%s' is not a node address (host:port)", node);
        return NULL;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - node), node);
    i = cluster_node_index(cl, host, atoi(colon + 1));
    if (i < 0) {
        bp_err_set(err, BP_ERR_IO, 0, "cluster: cannot address node %s (too many nodes)", node);
        return NULL;
    }
    if (i == cl->home) {
        bp_conn *m = cluster_member(router, i, err);
        return m != NULL ? bp_conn_command_argv(m, argc, argv, argvlen, err) : NULL;
    }
    /* another node: its loss (a master killed in a failover) is not the router's */
    nd = &cl->nodes[i];
    if (nd->conn != NULL && !bp_conn_ok(nd->conn)) {
        bp_conn_close(nd->conn);
        nd->conn = NULL;
    }
    if (nd->conn == NULL && cluster_open_member(cl, nd->host, nd->port, &nd->conn, err) != 0) {
        nd->conn = NULL;
        return NULL;
    }
    return bp_conn_command_argv(nd->conn, argc, argv, argvlen, err);
}

int bp_cluster_node_addr(const bp_conn *router, int i, char *buf, size_t len)
{
    const bp_cluster *cl = router->cluster;

    if (i < 0)
        i = cl->home;
    if (i < cl->n_nodes)
        snprintf(buf, len, "%s:%d", cl->nodes[i].host, cl->nodes[i].port);
    else if (len > 0)
        buf[0] = '\0';
    return cl->n_nodes;
}

void bp_cluster_free(bp_cluster *cl, bool abandon)
{
    if (cl == NULL)
        return;
    for (int i = 0; i < cl->n_nodes; i++) {
        if (abandon)
            bp_conn_abandon(cl->nodes[i].conn);
        else
            bp_conn_close(cl->nodes[i].conn);
    }
    free(cl->rc.username);
    free(cl->rc.password);
    free(cl->rc.tls.server_name);
    free(cl->name);
    if (cl->tls != NULL)
        SSL_CTX_free(cl->tls);
    free(cl);
}

static char *dup_or_null(const char *s, bool *oom)
{
    char *d = s != NULL ? strdup(s) : NULL;

    if (s != NULL && d == NULL)
        *oom = true;
    return d;
}

int bp_cluster_open(bp_conn **out, const bp_redis_config *rc, SSL_CTX *tls, const char *name,
                    const char *route, bp_err *err)
{
    bp_cluster *cl = calloc(1, sizeof(*cl));
    bp_conn *router = calloc(1, sizeof(*router));
    bool oom = cl == NULL || router == NULL;
    int slot;

    if (!oom) {
        cl->rc = *rc; /* seeds stay borrowed: only read here, while rc is alive */
        cl->rc.username = dup_or_null(rc->username, &oom);
        cl->rc.password = dup_or_null(rc->password, &oom);
        cl->rc.tls.server_name = dup_or_null(rc->tls.server_name, &oom);
        cl->rc.db = 0;
        cl->name = dup_or_null(name, &oom);
        if (!oom && tls != NULL && SSL_CTX_up_ref(tls) == 1)
            cl->tls = tls;
        else if (tls != NULL)
            oom = true;
    }
    if (oom) {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "out of memory opening a cluster connection");
        bp_cluster_free(cl, false);
        free(router);
        return -1;
    }
    bp_backoff_init(&cl->tryagain, BP_CLUSTER_TRYAGAIN_MS, 1000, 0);
    if (cluster_learn(cl, err) != 0)
        goto out_free;
    slot = route != NULL ? bp_cluster_key_slot(route, strlen(route)) : 0;
    cl->home = cl->slots[slot] - 1;
    router->fd = -1;
    router->first_byte = -1;
    router->command_timeout_ms = rc->command_timeout_ms;
    router->replica_acks = rc->replica_acks;
    router->replica_ack_timeout_ms =
        rc->replica_ack_timeout_ms > 0 ? rc->replica_ack_timeout_ms : 1000;
    cl->last = cl->home;
    router->cluster = cl;
    if (cluster_member(router, cl->home, err) == NULL)
        goto out_free;
    snprintf(router->url, sizeof(router->url), "%s", cl->nodes[cl->home].conn->url);
    snprintf(router->desc, sizeof(router->desc), "cluster of %d masters, home %.600s", cl->n_nodes,
             bp_conn_describe(cl->nodes[cl->home].conn));
    *out = router; /* caller owns it: bp_conn_close() */
    return 0;

out_free:
    bp_cluster_free(cl, false);
    free(router);
    return -1;
}

/* ---- bullpen check ------------------------------------------------------------------ */

int bp_topology_cluster_check(const bp_redis_config *rc, SSL_CTX *tls, const char *const *routes,
                              const char *const *labels, size_t n, FILE *out, bp_err *err)
{
    bp_conn *router = NULL;
    bp_cluster *cl;
    int counts[BP_CLUSTER_MAX_NODES] = {0};

    if (bp_cluster_open(&router, rc, tls, NULL, NULL, err) != 0)
        return -1;
    cl = router->cluster;
    for (int s = 0; s < BP_CLUSTER_SLOTS; s++)
        if (cl->slots[s] != 0)
            counts[cl->slots[s] - 1]++;
    fprintf(out, "ok      cluster: all %d slots served by %d masters\n", BP_CLUSTER_SLOTS,
            cl->n_nodes);
    for (int i = 0; i < cl->n_nodes; i++)
        fprintf(out, "ok      master %s:%d serves %d slots\n", cl->nodes[i].host, cl->nodes[i].port,
                counts[i]);
    for (size_t i = 0; i < n; i++) {
        int slot = bp_cluster_key_slot(routes[i], strlen(routes[i]));
        int node = cl->slots[slot] - 1;

        fprintf(out, "ok      %s: keys like '%s' in slot %d, on master %s:%d\n", labels[i],
                routes[i], slot, cl->nodes[node].host, cl->nodes[node].port);
    }
    bp_conn_close(router);
    return 0;
}
