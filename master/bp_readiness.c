/* bp_readiness.c -- the pool's liveness and readiness, computed in one place for /healthz
 * and /readyz (bp_metrics.c), `bullpen ctl status` and the host key `bullpen stats` reads.
 *
 * Liveness: the master loop runs (whoever asks is called from it, or checks how old the
 * answer is) and it reaches Redis (its client and subscriber are up). It stays true during a
 * HUP reload, a USR2 upgrade, a rolling replacement, a TSTP quiet spell and a graceful stop:
 * the pool is alive and serving, and a probe must not restart it.
 * Readiness: live, not stopping, and every configured worker connected (a worker counts
 * once its first heartbeat arrived: all three of its connections are up). During a reload
 * the old generation's workers count until they are retired, so a rolling replacement
 * stays ready. */
#include <stdio.h>

#include "bp_master.h"
#include "bp_topology.h"

void bp_master_health(const bp_master *m, bp_pool_health *h)
{
    h->want = 0;
    h->up = 0;
    for (size_t i = 0; i < m->cfg->n_queues; i++)
        h->want += m->want[i];
    for (int i = 0; i < m->n_slots; i++) {
        const bp_slot *s = &m->slots[i];
        h->up += s->pid > 0 && s->connected && !s->retiring && s->kill_cause == BP_KILL_NONE;
    }
    h->live = m->client != NULL && m->sub_up_since_mono != 0 && !m->halted;
    h->why_not_live[0] = '\0';
    if (m->halted)
        snprintf(h->why_not_live, sizeof(h->why_not_live),
                 "a worker exited 78: the configuration must be fixed");
    else if (!h->live)
        snprintf(h->why_not_live, sizeof(h->why_not_live), "Redis at %.100s unreachable: %.120s",
                 BP_TOPOLOGY_DESC(&m->cfg->redis),
                 m->redis_err.msg[0] != '\0' ? m->redis_err.msg : "connecting");
    h->ready = h->live && !m->stopping && h->up >= h->want;
    h->why_not_ready[0] = '\0';
    if (!h->live)
        snprintf(h->why_not_ready, sizeof(h->why_not_ready), "not live: %.250s", h->why_not_live);
    else if (m->stopping)
        snprintf(h->why_not_ready, sizeof(h->why_not_ready), "the pool is stopping");
    else if (!h->ready)
        snprintf(h->why_not_ready, sizeof(h->why_not_ready), "%d of %d workers connected", h->up,
                 h->want);
}
