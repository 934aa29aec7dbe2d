/* bp_master_redis.c -- the master's two connections: "master" (housekeeping, pings, the
 * host key) and "master-subscriber" (the control channel, the heartbeat channel and each
 * queue's delayed channel).
 *
 * Both are reopened together with the one backoff (full jitter) when either breaks. While
 * the subscriber is down, sub_up_since_mono is 0 and bp_health.c suspends its verdicts; the
 * moment it is back, every worker's clock starts again and the circuit breaker closes. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bp_log.h"
#include "bp_master.h"
#include "bp_metrics.h"
#include "bp_topology.h"

#define BP_MASTER_RECONNECT_BASE_MS 200   /* first reconnect within 0.2 s */
#define BP_MASTER_RECONNECT_MAX_MS  10000 /* then at most every 10 s */

void bp_master_redis_drop(bp_master *m, const char *why)
{
    if (m->client == NULL && m->sub == NULL)
        return;
    bp_log_warn("lost Redis at %s: %s; health verdicts suspended, reconnecting",
                BP_TOPOLOGY_DESC(&m->cfg->redis), why);
    bp_conn_close(m->client);
    bp_conn_close(m->sub);
    m->client = m->sub = NULL;
    m->sub_up_since_mono = 0;
    m->next_redis_try_mono = bp_mono_ms() + bp_backoff_next(&m->redis_backoff);
    bp_metrics_count_reconnect(m->metrics);
}

int bp_master_publish(bp_master *m, const char *channel, const char *msg)
{
    const char *argv[] = {"PUBLISH", channel, msg};
    redisReply *r;
    bp_err err;

    if (m->client == NULL)
        return -1;
    r = bp_conn_command_argv(m->client, 3, argv, NULL, &err);
    if (r == NULL) {
        if (err.kind != BP_ERR_REPLY)
            bp_master_redis_drop(m, err.msg);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

static int subscribe_all(bp_master *m, bp_err *err)
{
    size_t n = 2 + m->cfg->n_queues;
    const char *argv[2 + 64 + 1];
    char delayed[64][600];
    redisReply *r = NULL;

    if (m->cfg->n_queues > 64) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "more than 64 queues");
        return -1;
    }
    argv[0] = "SUBSCRIBE";
    argv[1] = m->control_channel;
    argv[2] = m->heartbeat_channel;
    for (size_t i = 0; i < m->cfg->n_queues; i++) {
        bp_queue_key(&m->queues[i], "delayed", delayed[i], sizeof(delayed[i]));
        argv[3 + i] = delayed[i];
    }
    if (bp_conn_append_argv(m->sub, (int)n + 1, argv, NULL, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) { /* one confirmation per channel */
        if (bp_conn_read_reply(m->sub, &r, -1, -1, err) != 0)
            return -1;
        freeReplyObject(r);
    }
    return 0;
}

int bp_master_redis_tick(bp_master *m)
{
    char name[600];
    bp_err err;

    if (m->client != NULL && m->sub != NULL)
        return 0;
    if (bp_mono_ms() < m->next_redis_try_mono)
        return 0;
    bp_conn_close(m->client);
    bp_conn_close(m->sub);
    m->client = m->sub = NULL;
    snprintf(name, sizeof(name), "bullpen:%s:%ld:master", m->hostname, (long)getpid());
    if (bp_conn_open(&m->client, &m->cfg->redis, m->tls, name, &err) == 0) {
        snprintf(name, sizeof(name), "bullpen:%s:%ld:master-subscriber", m->hostname,
                 (long)getpid());
        if (bp_conn_open(&m->sub, &m->cfg->redis, m->tls, name, &err) == 0 &&
            subscribe_all(m, &err) == 0) {
            bp_backoff_reset(&m->redis_backoff);
            m->sub_up_since_mono = bp_mono_ms();
            bp_health_on_sub_up(m);
            bp_housekeeping_on_sub_up(m);
            if (m->breaker_open) {
                bp_log_notice("Redis answers again: respawning workers");
                m->breaker_open = 0;
                m->start_failures = 0;
            }
            bp_log_info("master: connected to %s", bp_conn_describe(m->client));
            return 0;
        }
    }
    bp_log(m->redis_backoff.attempt == 0 ? BP_LOG_WARN : BP_LOG_DEBUG,
           "master: cannot connect to %s: %s; retrying with backoff",
           BP_TOPOLOGY_DESC(&m->cfg->redis), err.msg);
    bp_conn_close(m->client);
    bp_conn_close(m->sub);
    m->client = m->sub = NULL;
    m->sub_up_since_mono = 0;
    m->next_redis_try_mono = bp_mono_ms() + bp_backoff_next(&m->redis_backoff);
    m->redis_err = err;
    return -1;
}

static void dispatch(bp_master *m, const redisReply *r)
{
    const char *channel;
    const redisReply *payload;

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0)
        return;
    channel = r->element[1]->str;
    payload = r->element[2];
    if (payload->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(channel, m->heartbeat_channel) == 0)
        bp_health_on_heartbeat(m, payload->str, payload->len);
    else if (strcmp(channel, m->control_channel) == 0)
        bp_master_on_ctl(m, payload->str, payload->len);
    else
        bp_housekeeping_on_delayed(m, channel, payload->str);
}

void bp_master_redis_poll(bp_master *m)
{
    while (m->sub != NULL) {
        redisReply *r = NULL;
        bp_err err;

        if (bp_conn_read_reply(m->sub, &r, 1000, -1, &err) != 0) {
            bp_master_redis_drop(m, err.msg);
            return;
        }
        dispatch(m, r);
        freeReplyObject(r);
        if (!bp_conn_has_pending(m->sub))
            break;
    }
}
