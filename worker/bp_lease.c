/* bp_lease.c -- a worker's batched leases: with a backlog, one round trip records the
 * completions of several jobs and leases the next several (bp_queue_lease.h,
 * common/lua/lease.lua); owner of the lease state shared by the main thread and the keeper.
 *
 * The main thread runs leased jobs one after the other. A job counts as started only when
 * its handler starts: its processedOn and active event are recorded together with its
 * completion (finish.lua's ARGV[12]) when it is quick, and by the keeper within
 * BP_LEASE_HOLD_MS when it is not. A job that runs that long also makes the keeper record
 * the completions waiting in the batch and give the rest of the lease back to the front of
 * wait, so a worker never sits on jobs it cannot start soon (others take them) nor on
 * results it has not recorded. Every batch is bounded by lease_max and by
 * ceil(waiting / workers of the queue).
 *
 * Lock order: client_lock, then lease.lock. Whoever sends what it took from the lease state
 * holds client_lock from before the taking until the reply, so the events of one job reach
 * Redis in the order its states changed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bp_log.h"
#include "bp_queue_lease.h"
#include "bp_worker_internal.h"

void bp_lease_init(bp_worker *w)
{
    bp_lease *l = &w->lease;
    int max = w->spec->queue->lease_max;
    int by_lock = w->spec->queue->lock_duration_ms / (4 * BP_LEASE_HOLD_MS);

    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
    /* every leased job must start well within its lock: at most lease_max jobs, each holding
     * the next for at most BP_LEASE_HOLD_MS, in a quarter of the lock duration */
    if (max > by_lock)
        max = by_lock > 1 ? by_lock : 1;
    if (w->q.limiter_max > 0)
        max = 1; /* a rate limiter: every job passes take.lua's limiter, one at a time */
    if (w->spec->cfg->redis.cluster.n_nodes > 0)
        max = 1; /* Redis Cluster: a pipelined batch that meets MOVED or ASK after a failover
                    is not redirected (the one-job path is), so its results would wait for
                    the stalled check */
    if (w->spec->cfg->redis.replica_acks > 0)
        max = 1; /* redis.replica_acks: each take and completion waits for its replicas (WAIT)
                    on the one-job path; a batch would count results no replica has yet */
    l->max = max < 1 ? 1 : (max > BP_LEASE_CAP ? BP_LEASE_CAP : max);
}

void bp_lease_destroy(bp_worker *w)
{
    bp_lease *l = &w->lease;

    for (int i = 0; i < l->n; i++)
        bp_job_free(l->jobs[(l->head + i) % BP_LEASE_CAP]);
    for (int i = 0; i < l->n_done; i++) {
        bp_job_free(l->done[i].job);
        free(l->done[i].value);
    }
    l->n = l->n_done = 0;
    pthread_mutex_destroy(&l->lock);
}

/* Nudge the keeper into its short polling (once per busy spell, not per job). */
static void watch(bp_worker *w)
{
    if (!atomic_exchange(&w->lease.keeper_watching, 1))
        (void)!write(w->keeper_pipe[1], "l", 1);
}

bp_job *bp_lease_next(bp_worker *w, int64_t *locked_mono)
{
    bp_lease *l = &w->lease;
    bp_job *job = NULL;

    pthread_mutex_lock(&l->lock);
    if (l->n > 0) {
        job = l->jobs[l->head];
        *locked_mono = l->jobs_mono[l->head];
        l->head = (l->head + 1) % BP_LEASE_CAP;
        l->n--;
    }
    pthread_mutex_unlock(&l->lock);
    return job;
}

void bp_lease_begin(bp_worker *w, const bp_job *job, bool leased)
{
    bp_lease *l = &w->lease;

    if (w->spec->shared != NULL) /* read by the master only if this process dies */
        memcpy(w->spec->shared->running, job->id, strnlen(job->id, 255) + 1);
    if (!leased)
        return;
    pthread_mutex_lock(&l->lock);
    l->cur_unmarked = 1;
    snprintf(l->cur_id, sizeof(l->cur_id), "%s", job->id);
    l->cur_started_ms = bp_now_ms();
    l->cur_started_mono = bp_mono_ms();
    pthread_mutex_unlock(&l->lock);
    watch(w);
}

int64_t bp_lease_end(bp_worker *w)
{
    bp_lease *l = &w->lease;
    int64_t started = 0;

    if (w->spec->shared != NULL)
        w->spec->shared->running[0] = '\0';
    pthread_mutex_lock(&l->lock);
    if (l->cur_unmarked)
        started = l->cur_started_ms;
    l->cur_unmarked = 0;
    l->cur_id[0] = '\0';
    pthread_mutex_unlock(&l->lock);
    return started;
}

void bp_lease_add_done(bp_worker *w, bp_job *job, char *value, size_t len, int64_t started_ms)
{
    bp_lease *l = &w->lease;

    pthread_mutex_lock(&l->lock);
    l->done[l->n_done++] = (bp_lease_done_entry){job, value, len, started_ms, bp_mono_ms()};
    pthread_mutex_unlock(&l->lock);
    watch(w);
}

bool bp_lease_flush_due(bp_worker *w)
{
    bp_lease *l = &w->lease;
    bool due;

    pthread_mutex_lock(&l->lock);
    due = l->n_done > 0 && (l->n == 0 || l->n_done >= l->max || l->n_done >= BP_LEASE_CAP);
    pthread_mutex_unlock(&l->lock);
    return due;
}

/* Record the completions taken out of the lease state (caller holds client_lock), and lease
 * up to `more` jobs on the first try. Retries in transit while the oldest lock can still be
 * ours. Frees the entries. */
static void record(bp_worker *w, bp_lease_done_entry *d, int n, int more, int64_t locked_mono)
{
    bp_lease_done b[BP_LEASE_CAP];
    int codes[BP_LEASE_CAP];
    bp_job *got[BP_LEASE_CAP];
    int n_got = 0, rc = -1;
    bp_err err;
    int64_t give_up = locked_mono + w->spec->queue->lock_duration_ms;

    for (int i = 0; i < n; i++) {
        b[i] = (bp_lease_done){d[i].job, d[i].value, d[i].len, d[i].started_ms};
        codes[i] = -100;
    }
    for (int attempt = 0; rc < 0; attempt++) {
        if (bp_worker_client_ensure(w, &err) == 0) {
            int64_t now = bp_mono_ms();
            rc = bp_queue_complete_batch(w->client, &w->q, b, n, codes, attempt == 0 ? more : 0,
                                         w->spec->queue->workers, got, BP_LEASE_CAP, &n_got, &err);
            if (rc == 0 && n_got > 0) {
                pthread_mutex_lock(&w->lease.lock);
                for (int i = 0; i < n_got; i++) {
                    int at = (w->lease.head + w->lease.n) % BP_LEASE_CAP;
                    w->lease.jobs[at] = got[i];
                    w->lease.jobs_mono[at] = now;
                    w->lease.n++;
                }
                pthread_mutex_unlock(&w->lease.lock);
            }
        }
        if (rc >= 0 || err.kind == BP_ERR_REPLY || n == 0 || bp_mono_ms() >= give_up)
            break;
        if (attempt == 0 && n == 1)
            bp_log_warn("job %s of '%s': cannot record its outcome yet: %s; retrying while its "
                        "lock lasts",
                        d[0].job->id, w->q.name, err.msg);
        else if (attempt == 0)
            bp_log_warn("'%s': cannot record %d completions yet (jobs %s to %s): %s; retrying "
                        "while their locks last",
                        w->q.name, n, d[0].job->id, d[n - 1].job->id, err.msg);
        pthread_mutex_unlock(&w->client_lock);
        bp_sleep_ms(bp_backoff_next(&w->reconnect));
        pthread_mutex_lock(&w->client_lock);
    }
    for (int i = 0; i < n; i++) {
        if (rc < 0 && err.kind != BP_ERR_REPLY)
            bp_log_error("job %s of '%s': cannot record its outcome: %s; the stalled check will "
                         "run it again",
                         d[i].job->id, w->q.name, err.msg);
        else if (codes[i] <= 0)
            bp_log_warn("job %s of '%s': lock lost before its completion was recorded (code "
                        "%d); its outcome was not recorded",
                        d[i].job->id, w->q.name, codes[i]);
        bp_job_free(d[i].job);
        free(d[i].value);
    }
}

/* Take the completions out (caller holds client_lock). */
static int take_done(bp_worker *w, bp_lease_done_entry *out, int64_t *oldest_lock_mono)
{
    bp_lease *l = &w->lease;
    int n;

    pthread_mutex_lock(&l->lock);
    n = l->n_done;
    memcpy(out, l->done, sizeof(out[0]) * (size_t)n);
    l->n_done = 0;
    pthread_mutex_unlock(&l->lock);
    *oldest_lock_mono = bp_mono_ms() - w->spec->queue->lock_duration_ms / 2;
    return n;
}

void bp_lease_flush(bp_worker *w, bool lease_more)
{
    bp_lease_done_entry d[BP_LEASE_CAP];
    int64_t locked;
    int n, more = 0;

    pthread_mutex_lock(&w->client_lock);
    n = take_done(w, d, &locked);
    if (lease_more) {
        pthread_mutex_lock(&w->lease.lock);
        more = w->lease.max - w->lease.n;
        pthread_mutex_unlock(&w->lease.lock);
    }
    if (n > 0 || more > 0)
        record(w, d, n, more, locked);
    pthread_mutex_unlock(&w->client_lock);
}

/* Give the leased jobs back (caller holds client_lock). */
static void give_back_locked(bp_worker *w)
{
    bp_lease *l = &w->lease;
    const char *ids[BP_LEASE_CAP];
    bp_job *jobs[BP_LEASE_CAP];
    int n;
    bp_err err;

    pthread_mutex_lock(&l->lock);
    n = l->n;
    for (int i = 0; i < n; i++)
        jobs[i] = l->jobs[(l->head + i) % BP_LEASE_CAP];
    l->n = 0;
    pthread_mutex_unlock(&l->lock);
    if (n == 0)
        return;
    for (int i = 0; i < n; i++)
        ids[i] = jobs[i]->id;
    if (bp_worker_client_ensure(w, &err) != 0 ||
        bp_queue_lease_return(w->client, &w->q, ids, n, &err) < 0)
        bp_log_warn("'%s': cannot give %d leased job%s back: %s; they return when their locks "
                    "expire (the stalled check)",
                    w->q.name, n, n == 1 ? "" : "s", err.msg);
    for (int i = 0; i < n; i++)
        bp_job_free(jobs[i]);
}

void bp_lease_give_back(bp_worker *w)
{
    bp_lease_flush(w, false);
    pthread_mutex_lock(&w->client_lock);
    give_back_locked(w);
    pthread_mutex_unlock(&w->client_lock);
}

void bp_lease_keeper_tick(bp_worker *w)
{
    bp_lease *l = &w->lease;
    int64_t now = bp_mono_ms();
    bool long_job, old_done;
    char id[256];
    int64_t started = 0;

    /* clear first, then look: a main thread that adds work after the look nudges again */
    atomic_store(&l->keeper_watching, 0);
    pthread_mutex_lock(&l->lock);
    long_job = l->cur_unmarked && now - l->cur_started_mono >= BP_LEASE_HOLD_MS;
    old_done = l->n_done > 0 && now - l->done[0].done_mono >= BP_LEASE_HOLD_MS;
    if (l->cur_unmarked || l->n_done > 0)
        atomic_store(&l->keeper_watching, 1);
    pthread_mutex_unlock(&l->lock);
    if (!long_job && !old_done)
        return;
    pthread_mutex_lock(&w->client_lock);
    {
        bp_lease_done_entry d[BP_LEASE_CAP];
        int64_t locked;
        int n = take_done(w, d, &locked);
        if (n > 0)
            record(w, d, n, 0, locked);
    }
    pthread_mutex_lock(&l->lock);
    if (l->cur_unmarked && now - l->cur_started_mono >= BP_LEASE_HOLD_MS) {
        snprintf(id, sizeof(id), "%s", l->cur_id);
        started = l->cur_started_ms;
        l->cur_unmarked = 0;
    }
    pthread_mutex_unlock(&l->lock);
    if (started > 0) {
        const char *ids[1] = {id};
        bp_err err;
        if (bp_worker_client_ensure(w, &err) != 0 ||
            bp_queue_mark_started(w->client, &w->q, ids, &started, 1, &err) < 0)
            bp_log_warn("job %s: cannot record its start: %s", id, err.msg);
        give_back_locked(w); /* it runs long: the rest of its lease goes to other workers */
    }
    pthread_mutex_unlock(&w->client_lock);
}

int bp_lease_keeper_wait_ms(bp_worker *w)
{
    return atomic_load(&w->lease.keeper_watching) ? BP_LEASE_HOLD_MS : -1;
}
