/* bp_housekeeping.c -- queue housekeeping, once per host instead of once per worker:
 * delayed promotion (it sleeps until the next delayed job is due: the promotion script says
 * when, the queue's `delayed` channel says when a new one comes earlier, a reconnected
 * subscriber promotes at once since it may have missed a message, and a guard runs it every
 * 5 minutes anyway), Bull's stalled-job check (every stalled_interval_ms, guarded across
 * hosts by K(stalled-check)). The recovery of dead workers' jobs lives in
 * bp_housekeeping_recover.c. */
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
    bp_housekeeping_flush(m, false);
    bp_housekeeping_dead_pool_tick(m);
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
