/* bp_housekeeping.c -- queue housekeeping, once per host instead of once per worker:
 * delayed promotion (it sleeps until the next delayed job is due: the promotion script says
 * when, the queue's `delayed` channel says when a new one comes earlier, a reconnected
 * subscriber promotes at once since it may have missed a message, and a guard runs it every
 * 5 minutes anyway), Bull's stalled-job check (every stalled_interval_ms, guarded across
 * hosts by K(stalled-check)),
 * and the instant recovery of a dead worker's job by its lock token.
 *
 * A recovery that Redis cannot take now (outage) is kept in a small list and retried when
 * the master's connection is back, so a worker death during an outage still loses nothing
 * (and if the master itself dies, the lock expires and the stalled check takes over). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_log.h"
#include "bp_master.h"
#include "bp_metrics.h"

/* Promotion runs at least this often even when nothing is due (Bull's guardInterval is 5 s:
 * it polls; this master is subscribed to the delayed channel, so the guard only covers a
 * message lost in a way the subscriber could not notice). An idle queue: 1 call per 5 min. */
#define BP_PROMOTE_GUARD_MS 300000

static int do_recover(bp_master *m, const bp_recovery *p)
{
    bp_err err;
    int n;

    if (m->client == NULL)
        return -1;
    if (p->timeout)
        n = bp_queue_fail_token(m->client, &p->q, p->q.token, p->reason, &err);
    else
        n = bp_queue_recover_token(m->client, &p->q, p->q.token, p->reason, &err);
    if (n < 0) {
        bp_log_error("cannot recover the jobs of a dead worker on '%s': %s; will retry", p->q.name,
                     err.msg);
        if (err.kind != BP_ERR_REPLY)
            bp_master_redis_drop(m, err.msg);
        return -1;
    }
    for (int k = 0; k < n; k++)
        bp_metrics_job_done(m->metrics, p->q.name, BP_METRICS_RECOVERED, 0);
    if (n > 0)
        bp_log_notice("recovered %d job%s of '%s' at once (%s)", n, n == 1 ? "" : "s", p->q.name,
                      p->reason);
    return 0;
}

#define BP_SWEEP_PASSES   2    /* the first marks what is in active, the second recovers */
#define BP_SWEEP_EVERY_MS 1000 /* a live worker locks a pulled job within milliseconds */

static void schedule_sweep(bp_master *m, const bp_queue *q)
{
    bp_sweep *w = NULL;

    for (int i = 0; i < m->n_sweeps && w == NULL; i++) {
        if (strcmp(m->sweeps[i].q.key_base, q->key_base) == 0)
            w = &m->sweeps[i];
    }
    if (w == NULL && m->n_sweeps < BP_SWEEPS_MAX)
        w = &m->sweeps[m->n_sweeps++];
    if (w == NULL)
        return; /* the periodic stalled check still comes */
    w->q = *q;
    w->at_mono = bp_mono_ms() + BP_SWEEP_EVERY_MS;
    w->left = BP_SWEEP_PASSES;
}

static void run_sweeps(bp_master *m)
{
    int64_t now = bp_mono_ms();

    for (int i = 0; i < m->n_sweeps && m->client != NULL; i++) {
        bp_sweep *w = &m->sweeps[i];
        bp_err err;
        int n;
        if (now < w->at_mono)
            continue;
        n = bp_queue_sweep_stalled(m->client, &w->q, &err);
        if (n < 0) {
            bp_log_warn("sweep of '%s' after a worker died failed: %s", w->q.name, err.msg);
            if (err.kind != BP_ERR_REPLY)
                bp_master_redis_drop(m, err.msg);
            return;
        }
        if (n > 0)
            bp_log_notice("sweep of '%s' after a worker died: %d job%s it had pulled but not "
                          "locked recovered or failed",
                          w->q.name, n, n == 1 ? "" : "s");
        if (--w->left > 0) {
            w->at_mono = now + BP_SWEEP_EVERY_MS;
            continue;
        }
        m->sweeps[i--] = m->sweeps[--m->n_sweeps];
    }
}

void bp_housekeeping_recover(bp_master *m, bp_slot *s, const char *reason, bool timeout)
{
    bp_recovery p;

    memset(&p, 0, sizeof(p));
    p.q = s->q;
    schedule_sweep(m, &s->q);
    p.timeout = timeout;
    if (timeout)
        snprintf(p.reason, sizeof(p.reason), "Promise timed out after %lld milliseconds",
                 (long long)s->job_timeout_ms);
    else
        snprintf(p.reason, sizeof(p.reason), "%s", reason);
    if (do_recover(m, &p) == 0)
        return;
    if (m->recoveries == NULL)
        m->recoveries = calloc(BP_RECOVERY_MAX, sizeof(*m->recoveries));
    if (m->recoveries != NULL && m->n_recoveries < BP_RECOVERY_MAX)
        m->recoveries[m->n_recoveries++] = p;
    else
        bp_log_warn("too many recoveries waiting for Redis; the stalled check will recover "
                    "the job of token %s when its lock expires",
                    p.q.token);
}

void bp_housekeeping_flush(bp_master *m)
{
    while (m->n_recoveries > 0 && m->client != NULL) {
        if (do_recover(m, &m->recoveries[0]) != 0)
            return;
        memmove(&m->recoveries[0], &m->recoveries[1],
                sizeof(m->recoveries[0]) * (size_t)(m->n_recoveries - 1));
        m->n_recoveries--;
    }
}

void bp_housekeeping_on_delayed(bp_master *m, const char *channel, const char *msg)
{
    int64_t due = atoll(msg); /* "<due ms>" or "<due>.<frac>": the integer part is enough */
    int64_t in = due - bp_now_ms();

    for (size_t i = 0; i < m->cfg->n_queues; i++) {
        char key[600];
        bp_queue_key(&m->queues[i], "delayed", key, sizeof(key));
        if (strcmp(key, channel) != 0)
            continue;
        int64_t at = bp_mono_ms() + (in > 0 ? in : 0);
        if (at < m->next_promote_mono[i])
            m->next_promote_mono[i] = at;
    }
}

void bp_housekeeping_on_sub_up(bp_master *m)
{
    /* messages on the delayed channel may have been missed while it was down */
    for (size_t i = 0; i < m->cfg->n_queues; i++)
        m->next_promote_mono[i] = 0;
}

void bp_housekeeping_tick(bp_master *m)
{
    int64_t now = bp_mono_ms();

    if (m->client == NULL)
        return;
    bp_housekeeping_flush(m);
    run_sweeps(m);
    for (size_t i = 0; i < m->cfg->n_queues && m->client != NULL; i++) {
        bp_queue *q = &m->queues[i];
        bp_err err;

        if (now >= m->next_promote_mono[i]) {
            int64_t next_due = 0;
            int n = bp_queue_promote(m->client, q, &next_due, &err);
            int64_t next = now + BP_PROMOTE_GUARD_MS;
            if (n < 0) {
                bp_log_warn("cannot promote delayed jobs of '%s': %s", q->name, err.msg);
                if (err.kind != BP_ERR_REPLY)
                    bp_master_redis_drop(m, err.msg);
                continue;
            }
            if (next_due > 0) {
                int64_t in = next_due - bp_now_ms();
                if (now + (in > 0 ? in : 0) < next)
                    next = now + (in > 0 ? in : 0);
            }
            m->next_promote_mono[i] = next;
        }
        if (m->client != NULL && now >= m->next_stalled_mono[i]) {
            int n = bp_queue_check_stalled(m->client, q, &err);
            m->next_stalled_mono[i] = now + m->cfg->queues[i].stalled_interval_ms;
            if (n < 0) {
                bp_log_warn("stalled-job check of '%s' failed: %s", q->name, err.msg);
                if (err.kind != BP_ERR_REPLY)
                    bp_master_redis_drop(m, err.msg);
            } else if (n > 0) {
                bp_log_notice("stalled-job check of '%s': %d job%s recovered or failed", q->name, n,
                              n == 1 ? "" : "s");
            }
        }
    }
}
