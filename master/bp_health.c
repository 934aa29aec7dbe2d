/* bp_health.c -- health over pub/sub, with an echo.
 *
 * Every heartbeat_ms the master publishes "ping <seq>" to its workers; each worker's keeper
 * answers with a heartbeat (JSON) carrying the last seq its subscriber saw, its state and
 * job, when its main loop last moved and when its bclient last returned. One message proves
 * all three connections and the main loop. Verdicts (SIGKILL to the process group, then
 * recovery and respawn, each with its reason): no heartbeat within hung_after_ms, a stale
 * ping seq (deaf subscriber), a silent bclient, a frozen idle main loop, a job past its
 * timeout plus grace. While the master's own subscriber is down, every verdict is suspended:
 * a Redis outage must not kill healthy workers. The master also writes its worker table to
 * <control_channel>:host:<hostname>:<pid> (with an expiry) for `bullpen stats`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bp_log.h"
#include "bp_master.h"
#include "bp_metrics.h"

#define BP_TIMEOUT_GRACE_MS 2000 /* a job past its timeout gets this long to stop by itself */
#define BP_STALE_PINGS      3    /* a subscriber this many pings behind is deaf */

static int64_t json_int(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key); /* borrowed */

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

void bp_health_on_heartbeat(bp_master *m, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *hb = json_loadb(text, len, 0, &jerr);
    bp_slot *s;
    const char *st;
    const json_t *job;

    if (hb == NULL)
        return;
    s = bp_supervisor_find_pid(m, (pid_t)json_int(hb, "pid"));
    if (s == NULL) {
        json_decref(hb);
        return;
    }
    s->last_hb_mono = bp_mono_ms();
    st = json_string_value(json_object_get(hb, "st"));
    snprintf(s->state, sizeof(s->state), "%s", st != NULL ? st : "?");
    job = json_object_get(hb, "job");
    snprintf(s->job, sizeof(s->job), "%s", json_is_string(job) ? json_string_value(job) : "");
    s->job_started_ms = json_int(hb, "js");
    s->job_timeout_ms = json_int(hb, "jt");
    s->ping_seq = json_int(hb, "seq");
    s->loop_ms = json_int(hb, "loop");
    s->bclient_ms = json_int(hb, "bc");
    {
        /* job outcomes reach the metrics as deltas of the worker's counters */
        long long done = json_int(hb, "done"), failed = json_int(hb, "failed");
        long long us = json_int(hb, "us");
        long long n = (done - s->jobs_done) + (failed - s->jobs_failed);
        double avg_s = n > 0 && us > s->jobs_us ? (double)(us - s->jobs_us) / 1e6 / (double)n : 0;
        for (long long k = s->jobs_done; k < done; k++)
            bp_metrics_job_done(m->metrics, s->q.name, BP_METRICS_COMPLETED, avg_s);
        for (long long k = s->jobs_failed; k < failed; k++)
            bp_metrics_job_done(m->metrics, s->q.name, BP_METRICS_FAILED, avg_s);
        s->jobs_done = done;
        s->jobs_failed = failed;
        s->jobs_us = us;
    }
    s->rss_kb = json_int(hb, "rss");
    if (!s->connected) {
        s->connected = 1;
        m->start_failures = 0;
    }
    json_decref(hb);
}

void bp_health_on_sub_up(bp_master *m)
{
    int64_t now = bp_mono_ms();

    /* silence during the outage proves nothing: start every clock again */
    for (int i = 0; i < m->n_slots; i++) {
        if (m->slots[i].pid > 0 && m->slots[i].last_hb_mono != 0)
            m->slots[i].last_hb_mono = now;
        if (m->slots[i].pid > 0)
            m->slots[i].seq_at_spawn = m->ping_seq; /* pings lost in the outage are no proof */
        if (m->slots[i].pid > 0)
            m->slots[i].spawned_mono =
                now > m->slots[i].spawned_mono ? m->slots[i].spawned_mono : now;
    }
}

static void judge(bp_master *m, bp_slot *s, int64_t mono, int64_t wall)
{
    const bp_pool_config *p = &m->cfg->pool;
    const bp_queue_config *qc =
        s->generation == m->generation ? &m->cfg->queues[s->queue_idx] : NULL;
    int64_t since = s->last_hb_mono != 0 ? s->last_hb_mono : s->spawned_mono;
    int64_t up = m->sub_up_since_mono;
    int64_t block_ms =
        (qc != NULL ? qc->block_timeout_s : 5) * 1000 + m->cfg->redis.command_timeout_ms;

    if (since < up)
        since = up;
    if (mono - since > p->hung_after_ms) {
        bp_supervisor_kill(m, s, BP_KILL_HUNG, "no heartbeat for %lld ms (hung_after_ms = %d)",
                           (long long)(mono - since), p->hung_after_ms);
        return;
    }
    if (!s->connected || mono - up < p->hung_after_ms)
        return;
    /* pings sent since the later of its spawn and the last one it saw */
    long long seen = s->ping_seq > s->seq_at_spawn ? s->ping_seq : s->seq_at_spawn;
    if (m->ping_seq - seen > BP_STALE_PINGS &&
        (m->ping_seq - seen) * p->heartbeat_ms > p->hung_after_ms) {
        bp_supervisor_kill(m, s, BP_KILL_HUNG, "deaf subscriber: last ping seen %lld, sent %lld",
                           s->ping_seq, m->ping_seq);
        return;
    }
    if (strcmp(s->state, "idle") == 0) {
        /* "bc" is when the worker's blocking pull began (0 = not in one): a pull that
         * outlives its own block timeout plus margins means a dead bclient */
        if (s->bclient_ms != 0 && wall - s->bclient_ms > block_ms + p->hung_after_ms) {
            bp_supervisor_kill(m, s, BP_KILL_HUNG,
                               "bclient silent: its blocking pull began %lld ms ago (block "
                               "timeout %lld ms)",
                               (long long)(wall - s->bclient_ms), (long long)block_ms);
            return;
        }
        if (wall - s->loop_ms > block_ms + p->hung_after_ms) {
            bp_supervisor_kill(m, s, BP_KILL_HUNG, "main loop frozen for %lld ms while idle",
                               (long long)(wall - s->loop_ms));
            return;
        }
    }
    if (strcmp(s->state, "busy") == 0 && s->job_timeout_ms > 0 && s->job[0] != '\0') {
        int64_t over = wall - (s->job_started_ms + s->job_timeout_ms);
        if (over > 0 && s->soft_signal_mono == 0) {
            s->soft_signal_mono = mono; /* the worker's keeper normally cancels by itself */
            kill(s->pid, SIGUSR2);
        } else if (s->soft_signal_mono != 0 && mono - s->soft_signal_mono > BP_TIMEOUT_GRACE_MS) {
            bp_supervisor_kill(m, s, BP_KILL_TIMEOUT,
                               "job %s ignored its timeout of %lld ms for %d ms more", s->job,
                               (long long)s->job_timeout_ms, BP_TIMEOUT_GRACE_MS);
        }
    } else {
        s->soft_signal_mono = 0;
    }
}

void bp_health_write_host_key(bp_master *m)
{
    json_t *workers = json_array();
    bp_pool_health h;
    json_t *doc;
    char *text;
    char px[32];

    for (int i = 0; i < m->n_slots; i++) {
        const bp_slot *s = &m->slots[i];
        if (s->pid <= 0)
            continue;
        /* json_array_append_new steals the new object */
        json_array_append_new(workers, json_pack("{s:s, s:I, s:i, s:s, s:s, s:s?, s:I, s:I, s:I}",
                                                 "host", m->hostname, "pid", (json_int_t)s->pid,
                                                 "index", s->index, "queue", s->q.name, "state",
                                                 s->state, "job", s->job[0] != '\0' ? s->job : NULL,
                                                 "jobs_done", (json_int_t)s->jobs_done,
                                                 "jobs_failed", (json_int_t)s->jobs_failed,
                                                 "rss_kb", (json_int_t)s->rss_kb));
    }
    bp_master_health(m, &h);
    doc = json_pack("{s:s, s:I, s:b, s:b, s:i, s:i, s:o}", "host", m->hostname, "pid",
                    (json_int_t)getpid(), "live", h.live, "ready", h.ready, "want", h.want, "up",
                    h.up, "workers", workers); /* "o" steals workers */
    text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL)
        return;
    snprintf(px, sizeof(px), "%d", m->cfg->pool.heartbeat_ms * 3 + 2000);
    {
        const char *argv[] = {"SET", m->host_key, text, "PX", px};
        bp_err err;
        redisReply *r = bp_conn_command_argv(m->client, 5, argv, NULL, &err);
        if (r != NULL)
            freeReplyObject(r);
        else if (err.kind != BP_ERR_REPLY)
            bp_master_redis_drop(m, err.msg);
    }
    free(text);
}

void bp_health_tick(bp_master *m)
{
    int64_t mono = bp_mono_ms();
    int64_t wall = bp_now_ms();

    if (m->client == NULL || m->sub_up_since_mono == 0)
        return; /* Redis is away: no pings, and no verdicts either */
    if (mono >= m->next_ping_mono) {
        char msg[48];
        snprintf(msg, sizeof(msg), "ping %lld", ++m->ping_seq);
        bp_master_publish(m, m->to_worker_channel, msg);
        if (m->client != NULL)
            bp_health_write_host_key(m);
        m->next_ping_mono = mono + m->cfg->pool.heartbeat_ms;
    }
    for (int i = 0; i < m->n_slots; i++) {
        bp_slot *s = &m->slots[i];
        if (s->pid > 0 && s->kill_cause == BP_KILL_NONE)
            judge(m, s, mono, wall);
    }
}
