/* bp_housekeeping_recover.c -- exact recovery of dead workers' jobs: a crash costs a rerun,
 * never a job, and a crash that ran nothing costs nothing.
 *
 * Order matters. Before the master moves a dead worker's jobs, Redis must no longer serve
 * that worker's connections: a blocked BRPOPLPUSH of a dead idle worker that Redis has not
 * yet seen close would otherwise take the recovered job straight back into `active`, with no
 * lock and nobody to run it, and the next sweep would count a second stall (and, with Bull's
 * max_stalled = 1, fail a job that crashed once). So each worker reports the CLIENT ID of
 * every connection it opens on its local link (bp_worker_link.h), and at its death the
 * master first sends CLIENT KILL ID for each, then recovers by the worker's lock token (300
 * ms later for a death from outside, which may be one of a mass kill still under way).
 *
 * A job the dead worker (or any dead pull) moved into `active` without locking it has no
 * token to find it by: the sweep lists the unlocked jobs in `active` right after the kills,
 * and a second later settles those still unlocked with the same processedOn (stalled.lua
 * mode "settle": never run in this attempt -> back to wait, no stall; else a stall). The
 * jobs the master put back itself are remembered with their processedOn, so one that a
 * dying pull took again is known as never run, however long its first run lasted.
 *
 * The master's own death: every worker's token is registered in Redis while it runs
 * (<control_channel>:tokens:<hostname>, a hash token -> JSON). A new master on the host
 * closes the connections whose CLIENT SETNAME names a dead bullpen process of this host,
 * recovers the jobs of every registered token whose worker is dead, and sweeps: a pool
 * killed as a whole (KillMode=control-group, the OOM killer, a crash) is recovered when it
 * starts again, not lock_duration_ms plus two stalled checks later. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bp_log.h"
#include "bp_master.h"
#include "bp_metrics.h"
#include "bp_queue_lease.h"

#define BP_SWEEP_EVERY_MS   1000   /* a live worker locks a pulled job within milliseconds */
#define BP_ORPHANS_MAX      1000   /* candidates per sweep; more are left to the stalled check */
#define BP_PUT_BACK_KEEP_MS 600000 /* how long the master remembers a job it put back */
/* A worker killed from outside (kill -9, the OOM killer, systemd stopping the group) may be
 * one of several killed in one go, one after the other: its jobs stay locked this long, so a
 * sibling that is still alive for a few more milliseconds cannot take one and die with it
 * (a second stall from one event). Its connections are closed at once all the same. */
#define BP_RECOVER_GRACE_MS 300

/* --- connections --------------------------------------------------------------------- */

/* CLIENT KILL ID for each connection, on the server that numbered it. Returns how many
 * were closed (one already gone counts 0; CLIENT refused by a managed Redis: 0, once
 * warned), or -1 when the master's connection broke (the caller retries later). A
 * connection on a server the master does not talk to (the master before a Sentinel
 * failover) or cannot reach (a Cluster node killed in a failover) went with that server.
 * whose names the owner for one summary line (NULL: the caller logs). */
static int kill_conns(bp_master *m, const bp_conn_ref *conns, int n, const char *whose)
{
    int killed = 0;

    for (int i = 0; i < n && !m->client_kill_refused; i++) {
        bp_err err;
        redisReply *r;

        if (conns[i].node[0] == '\0')
            continue; /* not known where: an id alone could name somebody else's connection */
        r = bp_conn_command_at(m->client, conns[i].node, &err, "CLIENT KILL ID %lld", conns[i].id);
        if (r != NULL) {
            killed += r->type == REDIS_REPLY_INTEGER && r->integer > 0;
            freeReplyObject(r);
            continue;
        }
        if (err.kind == BP_ERR_NONE || (err.kind != BP_ERR_REPLY && bp_conn_ok(m->client))) {
            bp_log_info("Redis client %lld of a dead worker not closed: %s", conns[i].id, err.msg);
            continue;
        }
        if (err.kind != BP_ERR_REPLY) {
            bp_master_redis_drop(m, err.msg);
            return -1;
        }
        m->client_kill_refused = 1;
        bp_log_warn("Redis refuses CLIENT KILL (%s): a dead worker's connections cannot be "
                    "closed before its jobs are moved; a job its pull takes in that instant "
                    "may count one stall more",
                    err.msg);
    }
    if (whose != NULL && n > 0)
        bp_log_info("%s: %d of %d Redis connections closed (CLIENT KILL ID on %s) before its "
                    "jobs are moved",
                    whose, killed, n, conns[n - 1].node);
    return killed;
}

/* Is pid a live bullpen process on this host? Unknown counts as alive (never kill a live
 * pool's connections on a guess). */
static bool bullpen_alive(pid_t pid)
{
    char path[64], buf[512];
    FILE *f;
    size_t n;

    if (pid <= 0)
        return false;
    if (pid == getpid())
        return true;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return false;
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    f = fopen(path, "re");
    if (f == NULL)
        return errno != ENOENT;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, "bullpen") != NULL; /* a reused pid is another program */
}

/* The pid in a connection name of this host: "bullpen:<host>:<pid>:<role>" or the bclient's
 * "<prefix>:<base64 queue>:bullpen:<host>:<pid>". 0 when the name is not one of ours. */
static pid_t pid_in_name(const char *name, size_t len, const char *host)
{
    char pat[300];
    int plen = snprintf(pat, sizeof(pat), "bullpen:%s:", host);
    const char *p = name, *end = name + len;

    if (plen <= 0 || (size_t)plen >= sizeof(pat))
        return 0;
    while ((p = memmem(p, (size_t)(end - p), pat, (size_t)plen)) != NULL) {
        if (p == name || p[-1] == ':') {
            const char *d = p + plen;
            long pid = 0;
            while (d < end && *d >= '0' && *d <= '9' && pid < 100000000)
                pid = pid * 10 + (*d++ - '0');
            if (pid > 0 && (d == end || *d == ':'))
                return (pid_t)pid;
        }
        p++;
    }
    return 0;
}

/* Start-up, on one server: close every connection named for a bullpen process of this host
 * that is dead. Returns how many were closed, or -1 when the master's connection broke. */
static int kill_dead_pool_conns_on(bp_master *m, const char *node)
{
    bp_err err;
    redisReply *r = bp_conn_command_at(m->client, node, &err, "CLIENT LIST TYPE normal");
    const char *line;
    int killed = 0;

    if (r == NULL) {
        if (err.kind == BP_ERR_NONE || (err.kind != BP_ERR_REPLY && bp_conn_ok(m->client))) {
            bp_log_info("start-up: clients of %s not listed: %s", node, err.msg);
            return 0; /* a Cluster node that is down took its connections with it */
        }
        if (err.kind != BP_ERR_REPLY) {
            bp_master_redis_drop(m, err.msg);
            return -1;
        }
        bp_log_warn("start-up: cannot list Redis clients on %s (%s); connections of a dead "
                    "pool are left for Redis to notice",
                    node, err.msg);
        return 0;
    }
    for (line = r->type == REDIS_REPLY_STRING ? r->str : ""; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        const char *eol = nl != NULL ? nl : line + strlen(line);
        const char *id = strstr(line, "id=");
        const char *name = memmem(line, (size_t)(eol - line), " name=", 6);
        if (id == line && name != NULL) {
            const char *ne = name + 6;
            while (ne < eol && *ne != ' ')
                ne++;
            pid_t pid = pid_in_name(name + 6, (size_t)(ne - name - 6), m->hostname);
            bp_conn_ref c = {.id = atoll(id + 3)};
            if (pid > 0 && !bullpen_alive(pid)) {
                snprintf(c.node, sizeof(c.node), "%s", node);
                int k = kill_conns(m, &c, 1, NULL);
                if (k < 0)
                    break;
                killed += k;
                bp_log_info("start-up: closed Redis client %lld '%.*s' of dead pid %ld on %s", c.id,
                            (int)(ne - name - 6), name + 6, (long)pid, node);
            }
        }
        line = nl != NULL ? nl + 1 : eol;
    }
    freeReplyObject(r);
    return m->client != NULL ? killed : -1;
}

/* Start-up: the same on every server the master knows (each master of a Cluster: a worker's
 * connections sit on its queue's node). Returns how many were closed, or -1. */
static int kill_dead_pool_conns(bp_master *m)
{
    char node[BP_CONN_NODE_MAX];
    int killed = 0;
    int n = bp_conn_servers(m->client, 0, node, sizeof(node));

    for (int i = 0; i < n && m->client != NULL; i++) {
        int k;

        bp_conn_servers(m->client, i, node, sizeof(node));
        if (node[0] == '\0')
            continue;
        k = kill_dead_pool_conns_on(m, node);
        if (k < 0)
            return -1;
        killed += k;
    }
    return m->client != NULL ? killed : -1;
}

/* --- the token registry -------------------------------------------------------------- */

static void registry_key(const bp_master *m, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s:tokens:%s", m->cfg->pool.control_channel, m->hostname);
}

void bp_housekeeping_register(bp_master *m, const bp_slot *s)
{
    char key[600];
    json_t *v;
    char *text;

    if (m->client == NULL)
        return; /* no entry: if this pool dies as a whole, the stalled check recovers it */
    registry_key(m, key, sizeof(key));
    v = json_pack("{s:I, s:I, s:s, s:s, s:i}", "master", (json_int_t)getpid(), "pid",
                  (json_int_t)s->pid, "prefix", s->q.prefix, "queue", s->q.name, "ms",
                  s->q.max_stalled);
    text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (text != NULL) {
        const char *argv[] = {"HSET", key, s->q.token, text};
        bp_err err;
        redisReply *r = bp_conn_command_argv(m->client, 4, argv, NULL, &err);
        if (r != NULL)
            freeReplyObject(r);
        else if (err.kind != BP_ERR_REPLY)
            bp_master_redis_drop(m, err.msg);
    }
    free(text);
}

static void unregister(bp_master *m, const char *token)
{
    char key[600];
    const char *argv[] = {"HDEL", key, token};
    bp_err err;
    redisReply *r;

    if (m->client == NULL)
        return;
    registry_key(m, key, sizeof(key));
    r = bp_conn_command_argv(m->client, 3, argv, NULL, &err);
    if (r != NULL)
        freeReplyObject(r);
    else if (err.kind != BP_ERR_REPLY)
        bp_master_redis_drop(m, err.msg);
}

void bp_housekeeping_unregister(bp_master *m, const bp_slot *s)
{
    unregister(m, s->q.token);
}

/* --- recovery ------------------------------------------------------------------------ */

static void remember_put_back(bp_master *m, const bp_queue *q, const bp_orphan *o, int n)
{
    for (int i = 0; i < n; i++) {
        bp_put_back *p = &m->put_back[m->put_back_next++ % BP_PUT_BACK_MAX];
        snprintf(p->key_base, sizeof(p->key_base), "%s", q->key_base);
        p->job = o[i];
        p->at_mono = bp_mono_ms();
    }
}

static bool was_put_back(const bp_master *m, const bp_queue *q, const bp_orphan *o)
{
    int64_t now = bp_mono_ms();

    for (int i = 0; i < BP_PUT_BACK_MAX; i++) {
        const bp_put_back *p = &m->put_back[i];
        if (p->at_mono != 0 && now - p->at_mono < BP_PUT_BACK_KEEP_MS &&
            strcmp(p->job.id, o->id) == 0 && strcmp(p->job.processed_on, o->processed_on) == 0 &&
            strcmp(p->key_base, q->key_base) == 0)
            return true;
    }
    return false;
}

static int do_recover(bp_master *m, const bp_recovery *p)
{
    bp_orphan back[16];
    int n_back = 0;
    bp_err err;
    int n;

    if (m->client == NULL)
        return -1;
    if (kill_conns(m, p->conn_ids, p->n_conn_ids, "dead worker") < 0)
        return -1;   /* Redis may still serve its pull: do not move anything yet */
    if (p->leases) { /* jobs it leased but never started: back without a stall, first */
        int k = bp_queue_lease_return_token(m->client, &p->q, p->q.token, p->running, &err);
        if (k < 0) {
            bp_log_error("cannot return the leased jobs of a dead worker on '%s': %s; will retry",
                         p->q.name, err.msg);
            if (err.kind != BP_ERR_REPLY)
                bp_master_redis_drop(m, err.msg);
            return -1;
        }
        if (k > 0)
            bp_log_notice("%d job%s a dead worker of '%s' had leased but not started went back "
                          "to wait (no stall)",
                          k, k == 1 ? "" : "s", p->q.name);
    }
    if (p->timeout)
        n = bp_queue_fail_token(m->client, &p->q, p->q.token, p->reason, &err);
    else
        n = bp_queue_recover_token(m->client, &p->q, p->q.token, p->reason, back, 16, &n_back,
                                   &err);
    if (n < 0) {
        bp_log_error("cannot recover the jobs of a dead worker on '%s': %s; will retry", p->q.name,
                     err.msg);
        if (err.kind != BP_ERR_REPLY)
            bp_master_redis_drop(m, err.msg);
        return -1;
    }
    remember_put_back(m, &p->q, back, n_back);
    unregister(m, p->q.token);
    for (int k = 0; k < n; k++)
        bp_metrics_job_done(m->metrics, p->q.name, BP_METRICS_RECOVERED, 0);
    if (n > 0)
        bp_log_notice("recovered %d job%s of '%s' (%s)", n, n == 1 ? "" : "s", p->q.name,
                      p->reason);
    return 0;
}

static void schedule_sweep(bp_master *m, const bp_queue *q)
{
    bp_sweep *w = NULL;

    for (int i = 0; i < m->n_sweeps && w == NULL; i++) {
        if (strcmp(m->sweeps[i].q.key_base, q->key_base) == 0)
            w = &m->sweeps[i];
    }
    if (w == NULL && m->n_sweeps < BP_SWEEPS_MAX) {
        w = &m->sweeps[m->n_sweeps++];
        memset(w, 0, sizeof(*w));
    }
    if (w == NULL)
        return; /* the periodic stalled check still comes */
    w->q = *q;
    w->at_mono = bp_mono_ms(); /* list now (after the kills), settle a second later */
    w->pass = 1;
}

static void sweep_done(bp_master *m, int i)
{
    free(m->sweeps[i].cand);
    m->sweeps[i] = m->sweeps[--m->n_sweeps];
}

/* Run the sweeps that are due; never while a recovery waits (its kills are not done). */
static void run_sweeps(bp_master *m)
{
    int64_t now = bp_mono_ms();

    for (int i = 0; i < m->n_sweeps && m->client != NULL && m->n_recoveries == 0; i++) {
        bp_sweep *w = &m->sweeps[i];
        bp_err err;
        int n, unstalled = 0;
        if (now < w->at_mono)
            continue;
        if (w->pass == 1) {
            if (w->cand == NULL && (w->cand = calloc(BP_ORPHANS_MAX, sizeof(*w->cand))) == NULL)
                return;
            n = bp_queue_list_orphans(m->client, &w->q, w->cand, BP_ORPHANS_MAX, &err);
        } else {
            n = bp_queue_settle_orphans(m->client, &w->q, w->cand, w->n_cand, &unstalled, &err);
        }
        if (n < 0) {
            bp_log_warn("sweep of '%s' after a worker died failed: %s", w->q.name, err.msg);
            if (err.kind != BP_ERR_REPLY)
                bp_master_redis_drop(m, err.msg);
            return;
        }
        if (w->pass == 1) {
            for (int k = 0; k < n; k++)
                w->cand[k].put_back = was_put_back(m, &w->q, &w->cand[k]);
            w->n_cand = n;
            w->pass = 2;
            w->at_mono = now + BP_SWEEP_EVERY_MS;
            if (n == 0)
                sweep_done(m, i--);
            continue;
        }
        if (n > 0)
            bp_log_notice("sweep of '%s' after a worker died: %d job%s pulled but never locked "
                          "moved back (%d not counted as a stall: never run)",
                          w->q.name, n, n == 1 ? "" : "s", unstalled);
        sweep_done(m, i--);
    }
}

void bp_housekeeping_recover(bp_master *m, bp_slot *s, const char *reason, bool timeout,
                             bool outside)
{
    bp_recovery p;

    memset(&p, 0, sizeof(p));
    p.q = s->q;
    p.timeout = timeout;
    memcpy(p.conn_ids, s->conn_ids, sizeof(p.conn_ids));
    p.n_conn_ids = s->n_conn_ids;
    p.leases = s->lease_max > 1;
    if (s->shared != NULL)
        snprintf(p.running, sizeof(p.running), "%.*s", (int)sizeof(p.running) - 1,
                 s->shared->running);
    if (timeout)
        snprintf(p.reason, sizeof(p.reason), "Promise timed out after %lld milliseconds",
                 (long long)s->job_timeout_ms);
    else
        snprintf(p.reason, sizeof(p.reason), "%s", reason);
    if (outside) {
        if (m->client != NULL && kill_conns(m, p.conn_ids, p.n_conn_ids, "dead worker") >= 0)
            p.n_conn_ids = 0; /* closed: Redis serves it nothing more */
        p.due_mono = bp_mono_ms() + BP_RECOVER_GRACE_MS;
    } else if (m->n_recoveries == 0 && do_recover(m, &p) == 0) {
        schedule_sweep(m, &s->q);
        return;
    }
    schedule_sweep(m, &s->q); /* runs once the waiting recoveries (and their kills) are done */
    if (m->recoveries == NULL)
        m->recoveries = calloc(BP_RECOVERY_MAX, sizeof(*m->recoveries));
    if (m->recoveries != NULL && m->n_recoveries < BP_RECOVERY_MAX)
        m->recoveries[m->n_recoveries++] = p;
    else
        bp_log_warn("too many recoveries waiting for Redis; the stalled check will recover "
                    "the job of token %s when its lock expires",
                    p.q.token);
}

void bp_housekeeping_flush(bp_master *m, bool all)
{
    int64_t now = bp_mono_ms();

    for (int i = 0; i < m->n_recoveries && m->client != NULL; i++) {
        if (!all && now < m->recoveries[i].due_mono)
            continue;
        if (do_recover(m, &m->recoveries[i]) != 0)
            return;
        memmove(&m->recoveries[i], &m->recoveries[i + 1],
                sizeof(m->recoveries[0]) * (size_t)(m->n_recoveries - i - 1));
        m->n_recoveries--;
        i--;
    }
}

/* Is token one of this master's live or waiting workers? */
static bool token_ours(const bp_master *m, const char *token)
{
    for (int i = 0; i < m->n_slots; i++)
        if (m->slots[i].pid > 0 && strcmp(m->slots[i].q.token, token) == 0)
            return true;
    for (int i = 0; i < m->n_recoveries; i++)
        if (strcmp(m->recoveries[i].q.token, token) == 0)
            return true;
    return false;
}

/* Recover every registered token of this host whose worker is dead and not ours. Returns
 * how many entries belong to live workers of another master (look again later), or -1. */
static int scan_registry(bp_master *m)
{
    char key[600];
    const char *argv[] = {"HGETALL", key};
    bp_err err;
    redisReply *r;
    int later = 0;

    registry_key(m, key, sizeof(key));
    r = bp_conn_command_argv(m->client, 2, argv, NULL, &err);
    if (r == NULL) {
        if (err.kind != BP_ERR_REPLY)
            bp_master_redis_drop(m, err.msg);
        return -1;
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements && m->client; i += 2) {
        const char *token = r->element[i]->str;
        json_t *v = json_loads(r->element[i + 1]->str, 0, NULL);
        const char *prefix = json_string_value(json_object_get(v, "prefix"));
        const char *queue = json_string_value(json_object_get(v, "queue"));
        pid_t pid = (pid_t)json_integer_value(json_object_get(v, "pid"));
        pid_t master = (pid_t)json_integer_value(json_object_get(v, "master"));
        int ms = (int)json_integer_value(json_object_get(v, "ms"));

        if (token == NULL || token_ours(m, token)) {
            json_decref(v);
            continue;
        }
        if (prefix == NULL || queue == NULL) {
            unregister(m, token); /* not ours to read: drop it */
        } else if (master != getpid() && bullpen_alive(master)) {
            /* another live master's worker: that master closes its connections and recovers
             * it (doing it from here could race its CLIENT KILL) */
        } else if (bullpen_alive(pid)) {
            later++; /* an orphan of a dead master finishing its job, or another master's */
        } else {
            bp_recovery p;
            memset(&p, 0, sizeof(p));
            bp_queue_init(&p.q, prefix, queue, token, 0, 0, ms > 0 ? ms : 1);
            for (size_t qi = 0; qi < m->cfg->n_queues; qi++) /* our settings where we have them */
                if (strcmp(m->queues[qi].key_base, p.q.key_base) == 0)
                    bp_queue_init(&p.q, prefix, queue, token, m->queues[qi].lock_duration_ms,
                                  m->queues[qi].stalled_interval_ms, m->queues[qi].max_stalled);
            snprintf(p.reason, sizeof(p.reason), "worker (pid %ld) of master %ld on %s died %s",
                     (long)pid, (long)master, m->hostname,
                     bullpen_alive(master) ? "(its master lives)" : "with its master");
            if (do_recover(m, &p) == 0)
                schedule_sweep(m, &p.q);
        }
        json_decref(v);
    }
    freeReplyObject(r);
    return m->client != NULL ? later : -1;
}

void bp_housekeeping_dead_pool_tick(bp_master *m)
{
    int64_t now = bp_mono_ms();
    int later;

    if (m->client != NULL)
        run_sweeps(m);
    if (m->client == NULL || m->dead_pool_next_mono < 0 || now < m->dead_pool_next_mono)
        return;
    if (!m->dead_pool_started) {
        int killed = kill_dead_pool_conns(m);
        if (killed < 0)
            return;
        if (killed > 0)
            bp_log_notice("start-up: closed %d Redis connection%s of dead bullpen processes "
                          "on %s",
                          killed, killed == 1 ? "" : "s", m->hostname);
        for (size_t i = 0; i < m->cfg->n_queues; i++)
            schedule_sweep(m, &m->queues[i]);
        m->dead_pool_started = 1;
    }
    later = scan_registry(m);
    if (later < 0)
        return;
    /* entries of live workers of a dead master: look again once they had time to finish */
    m->dead_pool_next_mono = later > 0 ? now + m->cfg->queues[0].stalled_interval_ms : -1;
}
