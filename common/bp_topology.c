/* bp_topology.c -- where Redis is, for bp_conn_open(): the master the sentinels name now
 * (Sentinel mode), and the watcher that follows +switch-master. Cluster routing lives in
 * bp_topology_cluster.c.
 *
 * Sentinel. To open a connection we ask the sentinels in turn, starting with the one that
 * answered last, SENTINEL GET-MASTER-ADDR-BY-NAME; a sentinel that is down, refuses us or
 * does not know the name is skipped (its reason kept for the message). We then dial the
 * address with the data nodes' credentials (user, password, db and TLS of redis.url /
 * redis.tls) and send ROLE: a node that is not a master (a failover under way, a stale
 * sentinel) is refused with BP_ERR_IO, which every caller already treats as "Redis away:
 * retry with the backoff". So a failover never looks like a configuration error and never
 * makes a crash loop. Sentinels are reached with redis.tls too; they AUTH with
 * redis.sentinel.password_file's password only, and get no SELECT.
 *
 * The watcher. Connections opened in Sentinel mode are put in a registry (fd, node). One
 * thread per process, started with the first such connection, subscribes to
 * +switch-master on a sentinel; when our master moves it shutdown()s the socket of every
 * registered connection that is not on the new master, under the registry lock. Each
 * role's blocked read then ends with an EOF and its own reconnect path runs (the bclient's
 * pull, the keeper's subscriber, the master's loop), with no knowledge of Sentinel. A
 * connection leaves the registry in bp_conn_io_free() before its fd is closed, so the
 * watcher can never shut down a reused fd number. fork(): the registry lock is taken
 * around fork (pthread_atfork); a child starts with an empty registry and no watcher, and
 * starts its own with its first connection. The watcher's settings are copied (strings,
 * a reference on the SSL_CTX), so a reload that frees the old configuration cannot pull
 * them from under it. At exit the watcher is woken through its pipe and joined before
 * OpenSSL cleans up (an atexit handler registered after OpenSSL's own), so a short-lived
 * command never exits under a thread in the middle of a TLS read. */
#include "bp_topology.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "bp_conn_int.h"
#include "bp_log.h"
#include "bp_time.h"

#define BP_TOPO_REGISTRY_MAX  64   /* open connections per process: 3 per worker, 2 master */
#define BP_TOPO_WATCH_BASE_MS 200  /* watcher reconnects within 0.2 s ... */
#define BP_TOPO_WATCH_MAX_MS  5000 /* ... and at most every 5 s while no sentinel answers */
#define BP_TOPO_WATCH_READ_MS 1000 /* a read of the subscription at most this long */
#define BP_TOPO_HOST_MAX      256  /* host names and IP literals */

/* ---- registry of connections to shut down on a failover ----------------------------- */

typedef struct topo_entry {
    bp_conn *c; /* registered connection (its fd and node are read under the lock) */
} topo_entry;

static pthread_mutex_t topo_lock = PTHREAD_MUTEX_INITIALIZER;
static topo_entry topo_registry[BP_TOPO_REGISTRY_MAX]; /* guarded by topo_lock */
static pthread_once_t topo_atfork_once = PTHREAD_ONCE_INIT;
static int topo_last_sentinel;   /* index of the sentinel that answered last */
static unsigned long topo_moves; /* +switch-master events seen by this process */

/* The watcher's own copy of what it needs (the config may be freed by a reload). */
typedef struct topo_watch {
    bp_redis_config rc;   /* shallow copy; the strings below are its own */
    SSL_CTX *tls;         /* a reference of its own, or NULL */
    char *master_name;    /* copied */
    bp_redis_node *nodes; /* copied, hosts too */
    size_t n_nodes;       /* entries */
    bp_conn *sub;         /* its subscription, NULL while down */
    int wake[2];          /* pipe: a byte written at exit ends every wait of the thread */
    pthread_t thread;     /* joined at exit */
    pid_t pid;            /* the process it runs in */
    bool paused;          /* no thread: stopped by bp_topology_watch_pause() */
} topo_watch;

static topo_watch *topo_watcher;        /* this process's watcher, NULL = none started */
static topo_watch *topo_watcher_parent; /* inherited through fork: never touched again */

static void topo_prepare(void)
{
    pthread_mutex_lock(&topo_lock);
}

static void topo_parent(void)
{
    pthread_mutex_unlock(&topo_lock);
}

static void topo_child(void)
{
    /* the child owns none of the parent's connections (it abandons them) and has no
     * watcher thread: forget both, keep the parent's watcher memory reachable */
    memset(topo_registry, 0, sizeof(topo_registry));
    if (topo_watcher != NULL)
        topo_watcher_parent = topo_watcher;
    topo_watcher = NULL;
    pthread_mutex_unlock(&topo_lock);
}

static void watch_free_copy(topo_watch *w);

/* Wake this process's watcher thread and join it; its subscription is closed here. */
static void watch_stop(topo_watch *w)
{
    char drain[16];

    (void)!write(w->wake[1], "x", 1);
    pthread_join(w->thread, NULL);
    bp_conn_close(w->sub);
    w->sub = NULL;
    while (read(w->wake[0], drain, sizeof(drain)) > 0) /* the pipe is non-blocking */
        ;
}

/* At exit, before OpenSSL's own atexit cleanup (registered earlier, so run later): stop
 * and join this process's watcher, so it never touches a TLS object being torn down. */
static void topo_at_exit(void)
{
    topo_watch *w = topo_watcher;

    if (w == NULL || w->pid != getpid())
        return;
    topo_watcher = NULL;
    if (!w->paused)
        watch_stop(w);
    watch_free_copy(w);
}

static void *watch_main(void *arg);

void bp_topology_watch_pause(void)
{
    topo_watch *w;

    pthread_mutex_lock(&topo_lock);
    w = topo_watcher;
    if (w == NULL || w->pid != getpid() || w->paused) {
        pthread_mutex_unlock(&topo_lock);
        return;
    }
    w->paused = true; /* still this process's watcher: no second one starts meanwhile */
    pthread_mutex_unlock(&topo_lock);
    watch_stop(w); /* not under topo_lock: the thread takes it on +switch-master */
}

void bp_topology_watch_resume(void)
{
    topo_watch *w, *failed = NULL;

    pthread_mutex_lock(&topo_lock);
    w = topo_watcher;
    if (w != NULL && w->pid == getpid() && w->paused) {
        w->paused = false;
        if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
            bp_log_warn("sentinel watcher: cannot start a thread again: %s; failovers are "
                        "noticed by errors only",
                        strerror(errno));
            topo_watcher = NULL;
            failed = w;
        }
    }
    pthread_mutex_unlock(&topo_lock);
    watch_free_copy(failed);
}

static void topo_init_atfork(void)
{
    pthread_atfork(topo_prepare, topo_parent, topo_child);
    atexit(topo_at_exit);
}

static void topo_register(bp_conn *c)
{
    pthread_mutex_lock(&topo_lock);
    for (size_t i = 0; i < BP_TOPO_REGISTRY_MAX; i++) {
        if (topo_registry[i].c == NULL) {
            topo_registry[i].c = c;
            c->watched = true;
            break;
        }
    }
    pthread_mutex_unlock(&topo_lock);
    /* a full registry only means this connection learns of a failover by its own error */
}

void bp_topology_forget(bp_conn *c)
{
    pthread_mutex_lock(&topo_lock);
    for (size_t i = 0; i < BP_TOPO_REGISTRY_MAX; i++)
        if (topo_registry[i].c == c)
            topo_registry[i].c = NULL;
    c->watched = false;
    pthread_mutex_unlock(&topo_lock);
}

/* Shut down every registered connection not on host:port. Returns how many. */
static int topo_shutdown_stale(const char *host, int port)
{
    int n = 0;

    pthread_mutex_lock(&topo_lock);
    topo_moves++;
    for (size_t i = 0; i < BP_TOPO_REGISTRY_MAX; i++) {
        bp_conn *c = topo_registry[i].c;

        if (c == NULL || c->fd < 0 || (c->port == port && strcmp(c->host, host) == 0))
            continue;
        shutdown(c->fd, SHUT_RDWR); /* its owner sees EOF and reconnects */
        n++;
    }
    pthread_mutex_unlock(&topo_lock);
    return n;
}

/* ---- asking the sentinels ----------------------------------------------------------- */

const char *bp_topology_mode(const bp_redis_config *rc)
{
    if (rc->sentinel.master_name != NULL)
        return "sentinel";
    if (rc->cluster.n_nodes > 0)
        return "cluster";
    return "single";
}

const char *bp_topology_describe(const bp_redis_config *rc, char *buf, size_t len)
{
    const bp_redis_node *nodes =
        rc->sentinel.master_name != NULL ? rc->sentinel.nodes : rc->cluster.nodes;
    size_t n = rc->sentinel.master_name != NULL ? rc->sentinel.n_nodes : rc->cluster.n_nodes;
    size_t used;
    int w;

    if (len == 0)
        return buf;
    if (n == 0) {
        snprintf(buf, len, "%s", rc->url_redacted != NULL ? rc->url_redacted : "(no redis.url)");
        return buf;
    }
    if (rc->sentinel.master_name != NULL)
        w = snprintf(buf, len, "Sentinel master '%s' (sentinels", rc->sentinel.master_name);
    else
        w = snprintf(buf, len, "Redis Cluster (seeds");
    used = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < n && used < len; i++) {
        w = snprintf(buf + used, len - used, "%s %s:%d", i > 0 ? "," : "", nodes[i].host,
                     nodes[i].port);
        used += w > 0 ? (size_t)w : 0;
    }
    if (used < len)
        snprintf(buf + used, len - used, ")");
    return buf;
}

/* rc as seen by a connection to sentinel node i: its address, the sentinels' password,
 * no user and no SELECT. */
static bp_redis_config sentinel_rc(const bp_redis_config *rc, const bp_redis_node *node,
                                   const char *password)
{
    bp_redis_config s = *rc;

    s.host = node->host;
    s.port = node->port;
    s.username = NULL;
    s.password = (char *)(uintptr_t)password;
    s.db = 0;
    return s;
}

/* Ask one sentinel for the master's address. 0 with host/port, or -1 with err set. */
static int sentinel_ask(bp_conn *s, const char *master_name, char *host, size_t host_size,
                        int *port, bp_err *err)
{
    redisReply *r = bp_conn_command(s, err, "SENTINEL GET-MASTER-ADDR-BY-NAME %s", master_name);
    int rv = -1;

    if (r == NULL) {
        if (err->kind == BP_ERR_REPLY)
            bp_err_set(err, BP_ERR_CONFIG, 0,
                       "'%s' refused SENTINEL GET-MASTER-ADDR-BY-NAME: %s; is it a sentinel? "
                       "check redis.sentinel.nodes",
                       bp_conn_describe(s), err->msg);
        return -1;
    }
    if (r->type == REDIS_REPLY_NIL) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "sentinel '%s' does not monitor a master named '%s'; check "
                   "redis.sentinel.master_name against its 'sentinel monitor' line",
                   bp_conn_describe(s), master_name);
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
               r->element[0]->type == REDIS_REPLY_STRING &&
               r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len < host_size) {
        memcpy(host, r->element[0]->str, r->element[0]->len + 1);
        *port = atoi(r->element[1]->str);
        rv = *port > 0 && *port <= 65535 ? 0 : -1;
        if (rv != 0)
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "sentinel '%s' gave a bad port '%s'",
                       bp_conn_describe(s), r->element[1]->str);
    } else {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "sentinel '%s' answered GET-MASTER-ADDR-BY-NAME with an unexpected reply",
                   bp_conn_describe(s));
    }
    freeReplyObject(r);
    return rv;
}

/* ROLE of c: 1 master, 0 something else (*role says what), -1 error (err set). */
static int node_is_master(bp_conn *c, char *role, size_t role_size, bp_err *err)
{
    redisReply *r = bp_conn_command(c, err, "ROLE");
    int rv;

    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "'%s' answered ROLE with an unexpected reply",
                   bp_conn_describe(c));
        return -1;
    }
    snprintf(role, role_size, "%s", r->element[0]->str);
    rv = strcmp(role, "master") == 0;
    freeReplyObject(r);
    return rv;
}

/* The master's address from the first sentinel that knows it, starting with the one that
 * answered last. 0 with host/port (and *which, the sentinel's index), or -1: err holds the
 * most telling reason (a configuration error wins over an unreachable sentinel). */
static int sentinel_find_master(const bp_redis_config *rc, SSL_CTX *tls, const char *name,
                                char *host, size_t host_size, int *port, int *which, bp_err *err)
{
    const bp_sentinel_config *sc = &rc->sentinel;
    bp_err worst = {0};
    size_t n = sc->n_nodes;

    for (size_t k = 0; k < n; k++) {
        int i = (int)((size_t)topo_last_sentinel + k) % (int)n;
        bp_redis_config src = sentinel_rc(rc, &sc->nodes[i], sc->password);
        bp_conn *s = NULL;
        bp_err e = {0};

        if (bp_conn_open_node(&s, &src, tls, name, &e) == 0) {
            int rv = sentinel_ask(s, sc->master_name, host, host_size, port, &e);

            bp_conn_close(s);
            if (rv == 0) {
                topo_last_sentinel = i;
                *which = i;
                return 0;
            }
        }
        if (worst.kind == BP_ERR_NONE || (e.kind == BP_ERR_CONFIG && worst.kind != BP_ERR_CONFIG))
            worst = e;
    }
    if (n > 1)
        bp_err_prefix(&worst, "none of the %zu sentinels of redis.sentinel.nodes named master '%s'",
                      n, sc->master_name);
    *err = worst;
    if (err->kind == BP_ERR_PROTOCOL)
        err->kind = BP_ERR_IO;
    return -1;
}

/* ---- the watcher -------------------------------------------------------------------- */

static void watch_free_copy(topo_watch *w)
{
    if (w == NULL)
        return;
    for (size_t i = 0; i < w->n_nodes; i++)
        free(w->nodes[i].host);
    free(w->nodes);
    free(w->master_name);
    free(w->rc.tls.server_name);
    free(w->rc.sentinel.password);
    if (w->tls != NULL)
        SSL_CTX_free(w->tls);
    if (w->wake[0] >= 0)
        close(w->wake[0]);
    if (w->wake[1] >= 0)
        close(w->wake[1]);
    free(w);
}

static topo_watch *watch_copy(const bp_redis_config *rc, SSL_CTX *tls)
{
    topo_watch *w = calloc(1, sizeof(*w));
    bool oom = w == NULL;

    if (oom)
        return NULL;
    w->wake[0] = w->wake[1] = -1;
    if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(w);
        return NULL;
    }
    w->rc = *rc;
    w->rc.host = NULL; /* the watcher dials sentinels only */
    w->rc.unix_path = NULL;
    w->rc.username = NULL;
    w->rc.password = NULL;
    w->rc.password_file = NULL;
    w->rc.url_redacted = NULL;
    w->rc.tls.ca_file = w->rc.tls.ca_dir = w->rc.tls.cert_file = w->rc.tls.key_file = NULL;
    w->rc.tls.server_name = rc->tls.server_name ? strdup(rc->tls.server_name) : NULL;
    w->rc.sentinel.password = rc->sentinel.password ? strdup(rc->sentinel.password) : NULL;
    w->rc.sentinel.password_file = NULL;
    w->rc.sentinel.nodes = NULL;
    w->rc.sentinel.master_name = NULL;
    w->rc.cluster.nodes = NULL;
    w->rc.cluster.n_nodes = 0;
    w->master_name = strdup(rc->sentinel.master_name);
    w->nodes = calloc(rc->sentinel.n_nodes, sizeof(*w->nodes));
    oom = w->master_name == NULL || w->nodes == NULL ||
          (rc->tls.server_name != NULL && w->rc.tls.server_name == NULL) ||
          (rc->sentinel.password != NULL && w->rc.sentinel.password == NULL);
    for (size_t i = 0; !oom && i < rc->sentinel.n_nodes; i++) {
        w->nodes[i].port = rc->sentinel.nodes[i].port;
        w->nodes[i].host = strdup(rc->sentinel.nodes[i].host);
        w->n_nodes = i + 1;
        oom = w->nodes[i].host == NULL;
    }
    if (!oom && tls != NULL && SSL_CTX_up_ref(tls) == 1)
        w->tls = tls;
    else if (tls != NULL)
        oom = true;
    if (oom) {
        watch_free_copy(w);
        return NULL;
    }
    return w;
}

/* Handle one pub/sub message: "+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>". */
static void watch_on_message(topo_watch *w, const redisReply *r)
{
    char name[256], old_ip[BP_TOPO_HOST_MAX], new_ip[BP_TOPO_HOST_MAX];
    int old_port, new_port, n;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0 ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    if (sscanf(r->element[2]->str, "%255s %255s %d %255s %d", name, old_ip, &old_port, new_ip,
               &new_port) != 5 ||
        strcmp(name, w->master_name) != 0)
        return;
    n = topo_shutdown_stale(new_ip, new_port);
    bp_log_notice("sentinel: master '%s' moved from %s:%d to %s:%d (+switch-master); %d "
                  "connection%s of this process reconnecting",
                  name, old_ip, old_port, new_ip, new_port, n, n == 1 ? "" : "s");
}

static int watch_subscribe(topo_watch *w, int i, bp_err *err)
{
    bp_redis_config src = sentinel_rc(&w->rc, &w->nodes[i], w->rc.sentinel.password);
    redisReply *r = NULL;

    if (bp_conn_open_node(&w->sub, &src, w->tls, NULL, err) != 0)
        return -1;
    if (bp_conn_append(w->sub, err, "SUBSCRIBE +switch-master") != 0 ||
        bp_conn_read_reply(w->sub, &r, -1, w->wake[0], err) != 0)
        return -1;
    freeReplyObject(r);
    return 0;
}

/* Wait ms, or less when the process exits. Returns true when told to stop. */
static bool watch_pause(topo_watch *w, int64_t ms)
{
    struct pollfd p = {.fd = w->wake[0], .events = POLLIN};

    return poll(&p, 1, (int)ms) > 0;
}

static void *watch_main(void *arg)
{
    topo_watch *w = arg;
    bp_backoff backoff;
    int i = 0;

    bp_backoff_init(&backoff, BP_TOPO_WATCH_BASE_MS, BP_TOPO_WATCH_MAX_MS, 0);
    for (;;) {
        bp_err err = {0};

        if (watch_pause(w, 0))
            return NULL;
        if (watch_subscribe(w, i, &err) != 0) {
            bp_log_debug("sentinel watcher: %s", err.msg);
            bp_conn_close(w->sub);
            w->sub = NULL;
            if (err.kind == BP_ERR_WOKEN)
                return NULL;
            i = (i + 1) % (int)w->n_nodes;
            if (watch_pause(w, bp_backoff_next(&backoff)))
                return NULL;
            continue;
        }
        bp_backoff_reset(&backoff);
        for (;;) {
            redisReply *r = NULL;

            if (bp_conn_read_reply(w->sub, &r, BP_TOPO_WATCH_READ_MS, w->wake[0], &err) != 0) {
                if (err.kind == BP_ERR_WOKEN)
                    return NULL; /* the exit handler closes w->sub */
                if (err.kind == BP_ERR_TIMEOUT && bp_conn_ok(w->sub))
                    continue;
                break;
            }
            watch_on_message(w, r);
            freeReplyObject(r);
        }
        bp_log_debug("sentinel watcher: lost %s: %s", bp_conn_describe(w->sub), err.msg);
        bp_conn_close(w->sub);
        w->sub = NULL;
        i = (i + 1) % (int)w->n_nodes;
    }
    return NULL;
}

/* Start this process's watcher once (again in a child after fork). */
static void watch_start(const bp_redis_config *rc, SSL_CTX *tls)
{
    topo_watch *w;

    /* the main thread and the keeper open connections at the same time: one watcher only
     * (a second one would never be joined, and its subscription would leak at exit) */
    pthread_mutex_lock(&topo_lock);
    if (topo_watcher != NULL) {
        pthread_mutex_unlock(&topo_lock);
        return;
    }
    w = watch_copy(rc, tls);
    if (w == NULL) {
        pthread_mutex_unlock(&topo_lock);
        bp_log_warn("sentinel watcher: out of memory; failovers are noticed by errors only");
        return;
    }
    w->pid = getpid();
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        bp_log_warn("sentinel watcher: cannot start a thread: %s; failovers are noticed by "
                    "errors only",
                    strerror(errno));
        watch_free_copy(w);
    } else {
        topo_watcher = w; /* stopped and freed by topo_at_exit() */
    }
    pthread_mutex_unlock(&topo_lock);
}

/* ---- opening ------------------------------------------------------------------------ */

static int sentinel_open(bp_conn **out, const bp_redis_config *rc, SSL_CTX *tls, const char *name,
                         bp_err *err)
{
    char host[BP_TOPO_HOST_MAX], role[32];
    bp_redis_config mrc = *rc;
    bp_conn *c = NULL;
    int port = 0, which = 0, is_master;

    pthread_once(&topo_atfork_once, topo_init_atfork);
    watch_start(rc, tls);
    if (sentinel_find_master(rc, tls, name, host, sizeof(host), &port, &which, err) != 0)
        return -1;
    mrc.host = host;
    mrc.port = port;
    if (bp_conn_open_node(&c, &mrc, tls, name, err) != 0) {
        bp_err_prefix(err, "master '%s' (named by sentinel %s:%d)", rc->sentinel.master_name,
                      rc->sentinel.nodes[which].host, rc->sentinel.nodes[which].port);
        return -1;
    }
    is_master = node_is_master(c, role, sizeof(role), err);
    if (is_master != 1) {
        if (is_master == 0)
            bp_err_set(err, BP_ERR_IO, 0,
                       "'%s', named master '%s' by sentinel %s:%d, is a %s (a failover under "
                       "way?); asking the sentinels again",
                       bp_conn_describe(c), rc->sentinel.master_name,
                       rc->sentinel.nodes[which].host, rc->sentinel.nodes[which].port, role);
        else if (err->kind == BP_ERR_REPLY)
            err->kind = BP_ERR_IO;
        bp_conn_close(c);
        return -1;
    }
    topo_register(c);
    *out = c;
    return 0;
}

int bp_topology_open(bp_conn **out, const bp_redis_config *rc, SSL_CTX *tls_ctx, const char *name,
                     const char *route, bp_err *err)
{
    bp_err local;

    if (err == NULL)
        err = &local;
    bp_err_clear(err);
    if (rc->sentinel.master_name != NULL)
        return sentinel_open(out, rc, tls_ctx, name, err);
    return bp_cluster_open(out, rc, tls_ctx, name, route, err);
}

/* ---- bullpen check ------------------------------------------------------------------ */

/* Print the replicas a master reports in ROLE. */
static void check_replicas(bp_conn *m, FILE *out)
{
    bp_err err = {0};
    redisReply *r = bp_conn_command(m, &err, "ROLE");

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[2]->type != REDIS_REPLY_ARRAY) {
        fprintf(out, "warning cannot list the master's replicas: %s\n",
                r == NULL ? err.msg : "unexpected ROLE reply");
        if (r != NULL)
            freeReplyObject(r);
        return;
    }
    if (r->element[2]->elements == 0)
        fputs("warning the master has no replica connected: a failover would lose its data\n", out);
    for (size_t i = 0; i < r->element[2]->elements; i++) {
        const redisReply *e = r->element[2]->element[i];

        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 3 &&
            e->element[0]->type == REDIS_REPLY_STRING &&
            e->element[1]->type == REDIS_REPLY_STRING && e->element[2]->type == REDIS_REPLY_STRING)
            fprintf(out, "ok      replica %s:%s (acknowledged offset %s)\n", e->element[0]->str,
                    e->element[1]->str, e->element[2]->str);
    }
    freeReplyObject(r);
}

int bp_topology_check(const bp_redis_config *rc, SSL_CTX *tls, FILE *out, bp_err *err)
{
    const bp_sentinel_config *sc = &rc->sentinel;
    char agreed[BP_TOPO_HOST_MAX + 8] = "", role[32];
    int reached = 0, agree = 0, disagree = 0;
    bp_err worst = {0};

    if (rc->cluster.n_nodes > 0)
        return bp_topology_cluster_check(rc, tls, NULL, NULL, 0, out, err);
    if (sc->master_name == NULL)
        return 0;
    for (size_t i = 0; i < sc->n_nodes; i++) {
        bp_redis_config src = sentinel_rc(rc, &sc->nodes[i], sc->password);
        char host[BP_TOPO_HOST_MAX], addr[BP_TOPO_HOST_MAX + 8];
        bp_conn *s = NULL;
        bp_err e = {0};
        int port;

        if (bp_conn_open_node(&s, &src, tls, NULL, &e) != 0 ||
            sentinel_ask(s, sc->master_name, host, sizeof(host), &port, &e) != 0) {
            fprintf(out, "warning sentinel %s:%d: %s\n", sc->nodes[i].host, sc->nodes[i].port,
                    e.msg);
            bp_conn_close(s);
            if (worst.kind == BP_ERR_NONE || e.kind == BP_ERR_CONFIG)
                worst = e;
            continue;
        }
        reached++;
        snprintf(addr, sizeof(addr), "%s:%d", host, port);
        fprintf(out, "ok      sentinel %s:%d (%s) names master '%s' at %s\n", sc->nodes[i].host,
                sc->nodes[i].port, bp_conn_describe(s), sc->master_name, addr);
        bp_conn_close(s);
        if (agreed[0] == '\0') {
            snprintf(agreed, sizeof(agreed), "%s", addr);
            agree++;
        } else if (strcmp(agreed, addr) == 0) {
            agree++;
        } else {
            disagree++;
        }
    }
    if (reached == 0) {
        *err = worst;
        bp_err_prefix(err, "no sentinel of redis.sentinel.nodes answered for master '%s'",
                      sc->master_name);
        return -1;
    }
    if (disagree > 0)
        fprintf(out,
                "warning the sentinels disagree on the master (a failover under way?): %d "
                "name %s, %d another\n",
                agree, agreed, disagree);
    else
        fprintf(out, "ok      %d of %zu sentinels reached; they agree: master '%s' is %s\n",
                reached, sc->n_nodes, sc->master_name, agreed);
    {
        bp_redis_config mrc = *rc;
        char host[BP_TOPO_HOST_MAX];
        char *colon = strrchr(agreed, ':');
        bp_conn *m = NULL;
        int is_master;

        snprintf(host, sizeof(host), "%.*s", (int)(colon - agreed), agreed);
        mrc.host = host;
        mrc.port = atoi(colon + 1);
        if (bp_conn_open_node(&m, &mrc, tls, NULL, err) != 0)
            return -1;
        is_master = node_is_master(m, role, sizeof(role), err);
        if (is_master != 1) {
            if (is_master == 0)
                bp_err_set(err, BP_ERR_IO, 0, "'%s', named master by the sentinels, is a %s",
                           bp_conn_describe(m), role);
            bp_conn_close(m);
            return -1;
        }
        fprintf(out, "ok      master %s answers ROLE master\n", bp_conn_describe(m));
        check_replicas(m, out);
        bp_conn_close(m);
    }
    return 0;
}
