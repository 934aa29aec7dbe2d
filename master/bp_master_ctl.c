/* bp_master_ctl.c -- the master's side of `bullpen ctl`: verify a signed command from the
 * control channel (bp_ctl_msg.h), act on it, reply on the message's reply channel.
 *
 * Unsigned, stale, replayed or forged messages are ignored and logged: anyone who can
 * PUBLISH to Redis must not be able to stop a fleet. Without pool.control_key_file every
 * command is refused (and said so at start). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bp_ctl_msg.h"
#include "bp_log.h"
#include "bp_master.h"

static void add_workers(bp_master *m, bp_ctl_reply *r)
{
    r->has_workers = true;
    for (int i = 0; i < m->n_slots; i++) {
        const bp_slot *s = &m->slots[i];
        bp_ctl_worker w;
        if (s->pid <= 0)
            continue;
        memset(&w, 0, sizeof(w));
        w.index = s->index;
        w.pid = s->pid;
        snprintf(w.queue, sizeof(w.queue), "%.*s", (int)sizeof(w.queue) - 1, s->q.name);
        snprintf(w.state, sizeof(w.state), "%s", s->state);
        snprintf(w.job, sizeof(w.job), "%.*s", (int)sizeof(w.job) - 1, s->job);
        w.jobs_done = s->jobs_done;
        w.rss_kb = s->rss_kb;
        w.since_ms = s->job[0] != '\0' ? s->job_started_ms : 0;
        bp_ctl_reply_add_worker(r, &w);
    }
}

static int queue_index(const bp_master *m, const char *name)
{
    if (name[0] == '\0')
        return 0;
    for (size_t i = 0; i < m->cfg->n_queues; i++) {
        if (strcmp(m->cfg->queues[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

static bp_ctl_reply *act(bp_master *m, const bp_ctl_msg *msg)
{
    pid_t me = getpid();
    char queue[256];
    bp_err err;
    int n, qi, found = 0;

    switch (msg->cmd) {
    case BP_CTL_STATUS: {
        bp_pool_health h;
        bp_ctl_reply *r;
        bp_master_health(m, &h);
        r = bp_ctl_reply_new(m->hostname, me, true, "%d workers, %s, live: %s, ready: %s%s%s%s",
                             bp_supervisor_alive(m), m->quiet ? "paused" : "running",
                             h.live ? "yes" : "no", h.ready ? "yes" : "no", h.ready ? "" : " (",
                             h.why_not_ready, h.ready ? "" : ")");
        if (r != NULL)
            add_workers(m, r);
        return r;
    }
    case BP_CTL_PAUSE:
        bp_master_set_quiet(m, 1);
        return bp_ctl_reply_new(m->hostname, me, true, "paused %d workers", bp_supervisor_alive(m));
    case BP_CTL_RESUME:
        bp_master_set_quiet(m, 0);
        return bp_ctl_reply_new(m->hostname, me, true, "resumed %d workers",
                                bp_supervisor_alive(m));
    case BP_CTL_SCALE:
        if (bp_ctl_scale_parse(msg->arg, queue, sizeof(queue), &n, &err) != 0)
            return bp_ctl_reply_new(m->hostname, me, false, "%s", err.msg);
        qi = queue_index(m, queue);
        if (qi < 0)
            return bp_ctl_reply_new(m->hostname, me, false, "no queue '%s' here", queue);
        bp_supervisor_scale(m, qi, n);
        return bp_ctl_reply_new(m->hostname, me, true, "scaling '%s' to %d workers",
                                m->cfg->queues[qi].name, n);
    case BP_CTL_RELOAD:
        kill(me, SIGHUP); /* the same path as a signal: flags, then the loop */
        return bp_ctl_reply_new(m->hostname, me, true, "reloading %s", m->cfg->path);
    case BP_CTL_SHUTDOWN:
        kill(me, SIGTERM);
        return bp_ctl_reply_new(m->hostname, me, true, "stopping gracefully");
    case BP_CTL_CANCEL:
        for (int i = 0; i < m->n_slots; i++)
            found += m->slots[i].pid > 0 && strcmp(m->slots[i].job, msg->arg) == 0;
        if (found == 0) {
            char why[BP_CTL_ARG_MAX + 32];
            snprintf(why, sizeof(why), "job %s is not running here", msg->arg);
            return bp_ctl_reply_skipped(m->hostname, me, why); /* another host may run it */
        }
        {
            char text[BP_CTL_ARG_MAX + 16];
            snprintf(text, sizeof(text), "cancel %s", msg->arg);
            bp_master_publish(m, m->to_worker_channel, text);
        }
        return bp_ctl_reply_new(m->hostname, me, true, "cancelling job %s", msg->arg);
    }
    return bp_ctl_reply_new(m->hostname, me, false, "unknown command");
}

void bp_master_on_ctl(bp_master *m, const char *text, size_t len)
{
    bp_ctl_msg msg;
    bp_ctl_reply *reply;
    bp_err err;
    char *out;

    (void)len;
    if (m->cfg->pool.control_key == NULL) {
        bp_log_warn("ignored a ctl message: no pool.control_key_file is set in %s", m->cfg->path);
        return;
    }
    if (m->ctl_nonces == NULL) {
        m->ctl_nonces = calloc(1, sizeof(bp_ctl_nonce_cache));
        if (m->ctl_nonces == NULL)
            return;
    }
    if (bp_ctl_msg_verify(m->cfg->pool.control_key, m->cfg->pool.control_key_len, text, bp_now_ms(),
                          m->ctl_nonces, &msg, &err) != BP_CTL_ACCEPTED) {
        bp_log_warn("%s", err.msg);
        return;
    }
    if (!bp_ctl_msg_for_host(&msg, m->hostname)) {
        reply = bp_ctl_reply_skipped(m->hostname, getpid(), NULL); /* so ctl need not wait */
    } else {
        bp_log_notice("ctl: %s%s%s", bp_ctl_cmd_name(msg.cmd), msg.arg[0] != '\0' ? " " : "",
                      msg.arg);
        reply = act(m, &msg);
    }
    if (reply == NULL)
        return;
    out = bp_ctl_reply_format(reply);
    if (out != NULL)
        bp_master_publish(m, msg.reply, out);
    free(out);
    bp_ctl_reply_free(reply);
}
