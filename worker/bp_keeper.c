/* bp_keeper.c -- the worker's keeper thread: owner of the subscriber connection and of the
 * worker's timers.
 *
 * It sends a heartbeat to the master every heartbeat_ms over the local link (bp_worker_link.h: no
 * Redis cost), carrying the last ping seq its subscriber saw, so a deaf subscriber shows as
 * a stale seq; it echoes each of the master's pings (every probe_ms) by PUBLISH on the
 * client connection, proving the subscriber and the client end to end; without a link
 * (none could be made) the timed heartbeat goes over Redis as before. It extends the
 * current job's lock every lock_renew_ms, cancels a job past its timeout, and watches the
 * pipe from the master: EOF means the master died, and the worker stops after its job.
 * Because this runs beside the handler, a CPU-bound job never "stalls" the way a busy Node
 * event loop does. The client connection is shared with the main thread under client_lock. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bp_log.h"
#include "bp_worker_internal.h"
#include "bp_worker_link.h"

#define BP_KEEPER_SUB_BASE_MS 100  /* first subscriber reconnect within 0.1 s */
#define BP_KEEPER_SUB_MAX_MS  5000 /* then at most one try per 5 s */

typedef struct keeper_timers {
    int64_t next_heartbeat; /* monotonic ms */
    int64_t next_sub_try;   /* monotonic ms; subscriber reconnect */
    bp_backoff sub_backoff;
    int subscribed;
} keeper_timers;

static const char *state_name(int s)
{
    switch (s) {
    case BP_WORKER_BUSY:
        return "busy";
    case BP_WORKER_PAUSED:
        return "paused";
    case BP_WORKER_DRAINING:
        return "draining";
    default:
        return "idle";
    }
}

static long rss_kb(void)
{
    long pages_total = 0, pages_rss = 0;
    FILE *f = fopen("/proc/self/statm", "re");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &pages_total, &pages_rss) != 2)
        pages_rss = 0;
    fclose(f);
    return pages_rss * (sysconf(_SC_PAGESIZE) / 1024);
}

void bp_worker_heartbeat(bp_worker *w, bool over_redis)
{
    json_t *hb;
    char *text;
    bp_err err;
    redisReply *r = NULL;
    int state = atomic_load(&w->state);
    long rss = rss_kb();

    pthread_mutex_lock(&w->state_lock);
    hb = json_pack(
        "{s:i, s:I, s:s, s:I, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "i",
        w->spec->index, "pid", (json_int_t)getpid(), "st", state_name(state), "seq",
        (json_int_t)atomic_load(&w->last_ping_seq), "job", w->job_id[0] != '\0' ? w->job_id : NULL,
        "js", (json_int_t)w->job_started_ms, "jt", (json_int_t)w->job_timeout_ms, "loop",
        (json_int_t)atomic_load(&w->loop_moved_ms), "bc",
        (json_int_t)atomic_load(&w->pull_since_ms), "done", (json_int_t)atomic_load(&w->jobs_done),
        "failed", (json_int_t)atomic_load(&w->jobs_failed), "rss", (json_int_t)rss, "subs",
        (json_int_t)atomic_load(&w->subscriptions), "cmds", (json_int_t)bp_conn_commands_sent());
    pthread_mutex_unlock(&w->state_lock);
    if (hb == NULL)
        return;
    if (over_redis) { /* the master knows its own workers' host and queue: the link omits them */
        json_object_set_new(hb, "host", json_string(w->spec->hostname)); /* steals */
        json_object_set_new(hb, "q", json_string(w->q.name));            /* steals */
    }
    text = json_dumps(hb, JSON_COMPACT);
    if (text != NULL && !over_redis && strlen(text) + 3 > BP_LINK_MSG_MAX) {
        /* a very long job id: the heartbeat goes without it (the title and logs name it) */
        free(text);
        json_object_del(hb, "job");
        text = json_dumps(hb, JSON_COMPACT);
    }
    json_decref(hb);
    if (text == NULL)
        return;
    if (!over_redis) {
        if (bp_worker_link_send(w->spec->link_fd, "hb", "%s", text) != 0)
            bp_log_debug("heartbeat over the local link not sent (%zu bytes)", strlen(text));
        free(text);
        return;
    }
    pthread_mutex_lock(&w->client_lock);
    if (bp_worker_client_ensure(w, &err) == 0)
        r = bp_conn_command(w->client, &err, "PUBLISH %s %s", w->spec->heartbeat_channel, text);
    pthread_mutex_unlock(&w->client_lock);
    if (r != NULL)
        freeReplyObject(r);
    free(text);
}

/* "bullpen: worker 2 [document-processing] busy job 812 3.2s" in ps. The keeper is the only
 * thread that sets the title. */
static void update_title(bp_worker *w)
{
    char title[512];
    int state = atomic_load(&w->state);

    if (w->spec->set_title == NULL)
        return;
    pthread_mutex_lock(&w->state_lock);
    if (state == BP_WORKER_BUSY && w->job_id[0] != '\0')
        snprintf(title, sizeof(title), "bullpen: worker %d [%s] busy job %.200s %.1fs",
                 w->spec->index, w->q.name, w->job_id,
                 (double)(bp_now_ms() - w->job_started_ms) / 1000.0);
    else
        snprintf(title, sizeof(title), "bullpen: worker %d [%s] %s", w->spec->index, w->q.name,
                 state_name(state));
    pthread_mutex_unlock(&w->state_lock);
    w->spec->set_title(title);
}

static void renew_lock(bp_worker *w)
{
    char id[sizeof(w->job_id)];
    int64_t now = bp_mono_ms();
    unsigned long gen;
    int due, changed;
    bp_err err;
    int rc = -1;

    pthread_mutex_lock(&w->state_lock);
    due = w->job_id[0] != '\0' && now - w->lock_extended_mono >= w->spec->queue->lock_renew_ms;
    memcpy(id, w->job_id, sizeof(id));
    gen = w->job_gen;
    due = due && (gen & 1) != 0; /* odd: running; even: its finish began, the lock goes */
    pthread_mutex_unlock(&w->state_lock);
    if (!due)
        return;
    pthread_mutex_lock(&w->client_lock);
    if (bp_worker_client_ensure(w, &err) == 0)
        rc = bp_queue_extend_lock(w->client, &w->q, id, &err);
    pthread_mutex_unlock(&w->client_lock);
    pthread_mutex_lock(&w->state_lock);
    changed = gen != w->job_gen; /* its finish began (the lock is gone on purpose) */
    if (rc >= 0 && !changed)
        w->lock_extended_mono = now;
    pthread_mutex_unlock(&w->state_lock);
    if (rc == 0 && changed)
        bp_log_debug("job %s: finished while its lock was being renewed", id);
    else if (rc == 0)
        bp_log_warn("job %s: lock lost (taken by the stalled check or another worker); its "
                    "outcome will not be recorded",
                    id);
    else if (rc < 0)
        bp_log_warn("job %s: cannot extend its lock: %s; retrying", id, err.msg);
}

static void check_deadline(bp_worker *w)
{
    int64_t now = bp_now_ms();

    pthread_mutex_lock(&w->state_lock);
    if (w->job_id[0] != '\0' && w->job_timeout_ms > 0 && !w->cancel &&
        now >= w->job_started_ms + w->job_timeout_ms) {
        atomic_store(&w->cancel_reason, BP_CANCEL_TIMEOUT);
        w->cancel = 1;
        bp_log_warn("job %s: timed out after %lld ms; cancelling it", w->job_id,
                    (long long)w->job_timeout_ms);
    }
    pthread_mutex_unlock(&w->state_lock);
}

/* Milliseconds until the keeper must act next (heartbeat, lock renewal, job deadline). */
static int next_wait_ms(bp_worker *w, const keeper_timers *t)
{
    int64_t mono = bp_mono_ms();
    int64_t wait = t->next_heartbeat - mono;

    pthread_mutex_lock(&w->state_lock);
    if (w->job_id[0] != '\0') {
        int64_t renew = w->lock_extended_mono + w->spec->queue->lock_renew_ms - mono;
        if (renew < wait)
            wait = renew;
        if (w->job_timeout_ms > 0 && !w->cancel) {
            int64_t left = w->job_started_ms + w->job_timeout_ms - bp_now_ms();
            if (left < wait)
                wait = left;
        }
    }
    pthread_mutex_unlock(&w->state_lock);
    if (!t->subscribed && t->next_sub_try - mono < wait)
        wait = t->next_sub_try - mono;
    if (wait < 0)
        wait = 0;
    if (w->lease.max > 1) {
        int lw = bp_lease_keeper_wait_ms(w); /* a leased job's start, completions waiting */
        if (lw >= 0 && lw < wait)
            wait = lw;
    }
    return (int)(wait > 60000 ? 60000 : wait);
}

/* Act on one message from the master. Returns 1 when it answered with a heartbeat. */
static int handle_message(bp_worker *w, const char *msg, size_t len)
{
    char text[512];

    snprintf(text, sizeof(text), "%.*s", (int)(len < sizeof(text) - 1 ? len : sizeof(text) - 1),
             msg);
    if (strncmp(text, "ping ", 5) == 0) {
        atomic_store(&w->last_ping_seq, atoll(text + 5));
        update_title(w);
        bp_worker_heartbeat(w, true); /* the echo: proves the subscriber and the client */
        return 1;
    } else if (strcmp(text, "pause") == 0) {
        if (!atomic_exchange(&w->paused, 1))
            bp_log_info("paused: not pulling new jobs");
        bp_worker_wake(w);
    } else if (strcmp(text, "resume") == 0) {
        if (atomic_exchange(&w->paused, 0))
            bp_log_info("resumed: pulling jobs again");
        bp_worker_wake(w);
    } else if (strncmp(text, "cancel ", 7) == 0) {
        pthread_mutex_lock(&w->state_lock);
        if (w->job_id[0] != '\0' && strcmp(w->job_id, text + 7) == 0) {
            atomic_store(&w->cancel_reason, BP_CANCEL_CTL);
            w->cancel = 1;
            bp_log_notice("job %s: cancelled by bullpen ctl", w->job_id);
        }
        pthread_mutex_unlock(&w->state_lock);
    } else if (strcmp(text, "shutdown") == 0) {
        atomic_store(&w->stopping, 1);
        bp_worker_wake(w);
    }
    return 0;
}

/* After an outage the idle client has sent nothing and does not know it is broken: one
 * PING (a command per outage, not per period) finds out, and it is reopened at once. */
static void check_client(bp_worker *w)
{
    bp_err err;
    redisReply *r = NULL;

    pthread_mutex_lock(&w->client_lock);
    for (int attempt = 0; attempt < 2 && r == NULL; attempt++)
        if (bp_worker_client_ensure(w, &err) == 0)
            r = bp_conn_command(w->client, &err, "PING");
    pthread_mutex_unlock(&w->client_lock);
    if (r != NULL)
        freeReplyObject(r);
}

static int subscribe(bp_worker *w, bp_err *err)
{
    redisReply *r;

    if (w->subscriber == NULL || !bp_conn_ok(w->subscriber)) {
        bp_conn_close(w->subscriber);
        w->subscriber = NULL;
        if (bp_worker_connect(w, &w->subscriber, w->conn_name_sub, err) != 0)
            return -1;
    }
    r = bp_conn_command(w->subscriber, err, "SUBSCRIBE %s", w->spec->to_worker_channel);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    atomic_fetch_add(&w->subscriptions, 1); /* pings sent before this one prove nothing */
    return 0;
}

static void read_subscriber(bp_worker *w, keeper_timers *t)
{
    do {
        redisReply *r = NULL;
        bp_err err;

        if (bp_conn_read_reply(w->subscriber, &r, 1000, -1, &err) != 0) {
            bp_log_warn("subscriber: %s; reconnecting", err.msg);
            bp_conn_close(w->subscriber);
            w->subscriber = NULL;
            t->subscribed = 0;
            t->next_sub_try = bp_mono_ms() + bp_backoff_next(&t->sub_backoff);
            return;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            strcmp(r->element[0]->str, "message") == 0 && r->element[2]->type == REDIS_REPLY_STRING)
            (void)handle_message(w, r->element[2]->str, r->element[2]->len);
        freeReplyObject(r);
    } while (bp_conn_has_pending(w->subscriber));
}

/* The master's pipe: EOF (or an error) means the master is gone. */
static int master_gone(bp_worker *w)
{
    char buf[16];
    ssize_t n = read(w->spec->master_pipe_fd, buf, sizeof(buf));

    return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

static void *keeper_main(void *arg)
{
    bp_worker *w = arg;
    keeper_timers t = {0};
    bp_err err;

    bp_backoff_init(&t.sub_backoff, BP_KEEPER_SUB_BASE_MS, BP_KEEPER_SUB_MAX_MS, 0);
    t.subscribed = subscribe(w, &err) == 0;
    if (!t.subscribed)
        bp_log_warn("subscriber: cannot subscribe to '%s': %s; retrying",
                    w->spec->to_worker_channel, err.msg);
    t.next_sub_try = bp_mono_ms() + bp_backoff_next(&t.sub_backoff);
    update_title(w);
    bp_worker_heartbeat(w, w->spec->link_fd < 0);
    t.next_heartbeat = bp_mono_ms() + w->spec->cfg->pool.heartbeat_ms;

    for (;;) {
        struct pollfd p[3] = {
            {.fd = w->keeper_pipe[0], .events = POLLIN},
            {.fd = w->spec->master_pipe_fd, .events = POLLIN},
            {.fd = t.subscribed ? bp_conn_fd(w->subscriber) : -1, .events = POLLIN},
        };
        int timeout = next_wait_ms(w, &t);

        if (t.subscribed && bp_conn_has_pending(w->subscriber))
            timeout = 0;
        if (poll(p, 3, timeout) < 0 && errno != EINTR)
            break;
        if (p[0].revents & POLLIN) {
            char buf[64];
            ssize_t n = read(w->keeper_pipe[0], buf, sizeof(buf));
            if (n > 0 && memchr(buf, 'q', (size_t)n) != NULL)
                break;
            update_title(w);
        }
        if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && master_gone(w)) {
            if (!atomic_exchange(&w->stopping, 1))
                bp_log_warn(atomic_load(&w->state) == BP_WORKER_BUSY
                                ? "the master is gone: stopping after the current job"
                                : "the master is gone: stopping");
            bp_worker_wake(w);
            p[1].fd = -1;
        }
        if (t.subscribed &&
            ((p[2].revents & (POLLIN | POLLHUP | POLLERR)) || bp_conn_has_pending(w->subscriber)))
            read_subscriber(w, &t);
        if (!t.subscribed && bp_mono_ms() >= t.next_sub_try) {
            t.subscribed = subscribe(w, &err) == 0;
            if (t.subscribed) {
                bp_backoff_reset(&t.sub_backoff);
                bp_log_info("subscriber connection reopened");
                check_client(w);
            } else {
                t.next_sub_try = bp_mono_ms() + bp_backoff_next(&t.sub_backoff);
            }
        }
        check_deadline(w);
        renew_lock(w);
        if (w->lease.max > 1)
            bp_lease_keeper_tick(w);
        if (bp_mono_ms() >= t.next_heartbeat) {
            update_title(w);
            bp_worker_heartbeat(w, w->spec->link_fd < 0);
            t.next_heartbeat = bp_mono_ms() + w->spec->cfg->pool.heartbeat_ms;
        }
    }
    return NULL;
}

int bp_keeper_start(bp_worker *w, bp_err *err)
{
    int rc = pthread_create(&w->keeper, NULL, keeper_main, w);

    if (rc != 0) {
        bp_err_set(err, BP_ERR_IO, rc, "pthread_create: %s", strerror(rc));
        return -1;
    }
    return 0;
}

void bp_keeper_stop(bp_worker *w)
{
    (void)!write(w->keeper_pipe[1], "q", 1);
    pthread_join(w->keeper, NULL);
}
