/* bp_health.c -- worker health: local heartbeats, and a slower ping echoed over Redis.
 *
 * Every heartbeat_ms each worker's keeper sends its heartbeat (JSON: state, job, the last
 * ping seq its subscriber saw, when its main loop last moved, when its blocking pull began,
 * its Redis command count) over its local link (bp_worker_link.h, kind "hb": no Redis cost).
 * Every probe_ms the master publishes "ping <seq>" on the control channel; each worker's
 * subscriber sees it and its keeper echoes the heartbeat by PUBLISH on its client
 * connection, so the subscriber and the client are proven end to end; the bclient is proven
 * by its pull returning within block_timeout_s. Verdicts (SIGKILL to the process group,
 * then recovery and respawn, each with its reason): no local heartbeat within
 * hung_after_ms, a ping not seen (deaf subscriber) or not echoed (no echo) hung_after_ms
 * after it was sent, a silent bclient, a frozen idle main loop, a job past its timeout plus
 * grace. While the master's own subscriber is down, the Redis-borne verdicts are suspended:
 * a Redis outage must not kill healthy workers. The master also writes its worker table to
 * <control_channel>:host:<hostname>:<pid> for `bullpen stats` when it changes (at most once
 * per heartbeat_ms) and once per probe_ms otherwise, with an expiry of three probes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bp_log.h"
#include "bp_master.h"
#include "bp_metrics.h"

#define BP_TIMEOUT_GRACE_MS 2000  /* a job past its timeout gets this long to stop by itself */
#define BP_CMDS_SAMPLE_MS   10000 /* the pool's commands per second: over this window */

static int64_t json_int(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key); /* borrowed */

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* A heartbeat from s's local link (echo 0) or its echo over Redis (echo 1). */
static void on_heartbeat(bp_master *m, bp_slot *s, const char *text, size_t len, int echo)
{
    json_error_t jerr;
    json_t *hb = json_loadb(text, len, 0, &jerr);
    const char *st;
    const json_t *job;

    if (hb == NULL)
        return;
    if (s == NULL)
        s = bp_supervisor_find_pid(m, (pid_t)json_int(hb, "pid"));
    if (s == NULL || s->pid != (pid_t)json_int(hb, "pid")) {
        json_decref(hb);
        return;
    }
    if (echo) {
        long long e = json_int(hb, "seq");
        if (e > s->echo_seq)
            s->echo_seq = e;
        if (s->link.master_fd < 0) /* a worker without a link: the echo is its only heartbeat */
            s->last_hb_mono = bp_mono_ms();
    } else {
        s->last_hb_mono = bp_mono_ms();
    }
    {
        /* a (re)subscription: pings sent before it prove nothing either way */
        long long subs = json_int(hb, "subs");
        if (subs != s->sub_count) {
            s->sub_count = subs;
            s->seq_at_spawn = m->ping_seq;
        }
        /* the pool's own commands: this worker's process total, per slot deltas */
        long long cmds = json_int(hb, "cmds");
        if (cmds > s->cmds) {
            m->cmds_total += cmds - s->cmds;
            s->cmds = cmds;
        }
    }
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

void bp_health_on_heartbeat(bp_master *m, const char *text, size_t len)
{
    on_heartbeat(m, NULL, text, len, 1);
}

void bp_health_on_link_heartbeat(bp_master *m, bp_slot *s, const char *json)
{
    on_heartbeat(m, s, json, strlen(json), 0);
}

/* When ping seq was sent (monotonic ms). A seq older than the ring answers with the oldest
 * time the ring holds: a lower bound of its age, so a verdict can only come later. */
static int64_t ping_sent(const bp_master *m, long long seq)
{
    if (m->ping_seq - seq >= BP_PING_RING)
        seq = m->ping_seq - BP_PING_RING + 1;
    return m->ping_mono[seq % BP_PING_RING];
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
    int64_t since = s->last_hb_mono != 0 ? s->last_hb_mono : s->spawned_mono;
    int64_t up = m->sub_up_since_mono;
    int64_t block_ms = (int64_t)(s->block_timeout_s > 0 ? s->block_timeout_s : 30) * 1000 +
                       m->cfg->redis.command_timeout_ms;

    if (since < up)
        since = up;
    if (mono - since > p->hung_after_ms) {
        bp_supervisor_kill(m, s, BP_KILL_HUNG, "no heartbeat for %lld ms (hung_after_ms = %d)",
                           (long long)(mono - since), p->hung_after_ms);
        return;
    }
    if (!s->connected || mono - up < p->hung_after_ms)
        return;
    /* the first ping sent after the later of its spawn (or resubscription) and the last one
     * its subscriber saw (its local heartbeat says which) or it echoed over Redis */
    long long seen = s->ping_seq > s->seq_at_spawn ? s->ping_seq : s->seq_at_spawn;
    if (seen < m->ping_seq && mono - ping_sent(m, seen + 1) > p->hung_after_ms) {
        bp_supervisor_kill(m, s, BP_KILL_HUNG,
                           "deaf subscriber: last ping seen %lld, sent %lld (%lld ms ago)",
                           s->ping_seq, m->ping_seq, (long long)(mono - ping_sent(m, seen + 1)));
        return;
    }
    long long echoed = s->echo_seq > s->seq_at_spawn ? s->echo_seq : s->seq_at_spawn;
    if (s->link.master_fd >= 0 && echoed < m->ping_seq &&
        mono - ping_sent(m, echoed + 1) > p->hung_after_ms) {
        bp_supervisor_kill(m, s, BP_KILL_HUNG,
                           "no echo over Redis: ping %lld seen but not echoed within %d ms "
                           "(hung_after_ms; its client connection?)",
                           echoed + 1, p->hung_after_ms);
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

/* What the host key shows that can change: pids, states, jobs, done counts. */
static void host_signature(const bp_master *m, char *sig, size_t cap)
{
    size_t used = 0;

    sig[0] = '\0';
    for (int i = 0; i < m->n_slots && used + 1 < cap; i++) {
        const bp_slot *s = &m->slots[i];
        int n;
        if (s->pid <= 0)
            continue;
        n = snprintf(sig + used, cap - used, "%ld:%d:%s:%s:%lld:%lld;", (long)s->pid, s->connected,
                     s->state, s->job, s->jobs_done, s->jobs_failed);
        if (n < 0)
            break;
        used += (size_t)n < cap - used ? (size_t)n : cap - used - 1;
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
    doc = json_pack("{s:s, s:I, s:I, s:f, s:b, s:b, s:i, s:i, s:o}", "host", m->hostname, "pid",
                    (json_int_t)getpid(), "at", (json_int_t)bp_now_ms(), "commands_per_s",
                    m->cmds_rate, "live", h.live, "ready", h.ready, "want", h.want, "up", h.up,
                    "workers", workers); /* "o" steals workers */
    text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL)
        return;
    /* rewritten at least once per probe: three missed rewrites and it is gone */
    snprintf(px, sizeof(px), "%lld", (long long)m->cfg->pool.probe_ms * 3 + 2000);
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

/* The pool's own Redis commands per second (workers' reports plus the master's count). */
static void sample_commands(bp_master *m, int64_t mono)
{
    long long mine = (long long)bp_conn_commands_sent();

    m->cmds_total += mine - m->cmds_master_seen;
    m->cmds_master_seen = mine;
    if (m->cmds_sample_mono == 0) {
        m->cmds_sample_mono = mono;
        m->cmds_sample_total = m->cmds_total;
        return;
    }
    if (mono - m->cmds_sample_mono < BP_CMDS_SAMPLE_MS)
        return;
    m->cmds_rate = (double)(m->cmds_total - m->cmds_sample_total) * 1000.0 /
                   (double)(mono - m->cmds_sample_mono);
    if (m->cmds_idle_window)
        bp_metrics_set_idle_rate(m->metrics, m->cmds_rate);
    m->cmds_idle_window = 1;
    m->cmds_sample_mono = mono;
    m->cmds_sample_total = m->cmds_total;
    bp_metrics_set_commands_rate(m->metrics, m->cmds_rate, (double)m->cmds_total);
}

void bp_health_tick(bp_master *m)
{
    int64_t mono = bp_mono_ms();
    int64_t wall = bp_now_ms();
    const bp_pool_config *p = &m->cfg->pool;

    {
        long long jobs = 0;
        for (int i = 0; i < m->n_slots; i++) {
            if (m->slots[i].pid > 0 && strcmp(m->slots[i].state, "idle") != 0)
                m->cmds_idle_window = 0; /* a job ran (or a worker started) in this window */
            jobs += m->slots[i].pid > 0 ? m->slots[i].jobs_done + m->slots[i].jobs_failed : 0;
        }
        if (jobs != m->jobs_seen) {
            m->cmds_idle_window = 0;
            m->jobs_moved_mono = mono;
        }
        m->jobs_seen = jobs;
    }
    sample_commands(m, mono);
    if (m->client == NULL || m->sub_up_since_mono == 0)
        return; /* Redis is away: no pings, and no verdicts either (a keeper waiting out a
                 * command timeout sends no local heartbeat meanwhile) */
    if (mono >= m->next_ping_mono) {
        char msg[48];
        snprintf(msg, sizeof(msg), "ping %lld", ++m->ping_seq);
        m->ping_mono[m->ping_seq % BP_PING_RING] = mono;
        bp_master_publish(m, m->to_worker_channel, msg);
        m->next_ping_mono = mono + p->probe_ms;
    }
    if (m->client != NULL) {
        char sig[sizeof(m->host_sig)];
        bp_pool_health h;
        int health;
        bp_master_health(m, &h);
        health = (h.live ? 1 : 0) | (h.ready ? 2 : 0);
        host_signature(m, sig, sizeof(sig));
        /* live or ready changed: at once; states, jobs, counts: at most once per heartbeat */
        if (m->host_key_mono == 0 || mono - m->host_key_mono >= p->probe_ms ||
            health != m->host_health ||
            (strcmp(sig, m->host_sig) != 0 && mono - m->host_key_mono >= p->heartbeat_ms)) {
            m->host_health = health;
            memcpy(m->host_sig, sig, sizeof(sig));
            m->host_key_mono = mono;
            bp_health_write_host_key(m);
        }
    }
    for (int i = 0; i < m->n_slots; i++) {
        bp_slot *s = &m->slots[i];
        if (s->pid > 0 && s->kill_cause == BP_KILL_NONE)
            judge(m, s, mono, wall);
    }
}
