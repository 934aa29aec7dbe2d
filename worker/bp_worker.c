/* bp_worker.c -- the worker's main thread: connect, pull, take, run, finish, repeat.
 *
 * One job at a time. The steady state on a busy queue is one Lua call per job: finishing
 * a job also takes the next one ("fetch next"); the blocking pull (BRPOPLPUSH on the
 * bclient) is used only when the queue was empty. The pull can be woken for shutdown or
 * pause without waiting out its block timeout: the wake pipe interrupts the wait, then
 * CLIENT UNBLOCK makes Redis answer it, so a job that was moved into active in that instant
 * is still seen and run (closing the socket instead would strand it in active).
 *
 * Redis outages: connections that break are reopened with the one backoff (full jitter);
 * the worker never exits for an outage once it has started. At start, a configuration
 * error (TLS verification, AUTH) exits 78 and an unreachable Redis exits 75: the master
 * decides about respawning. */
#include "bp_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bp_log.h"
#include "bp_queue_lease.h"
#include "bp_sandbox_extract.h"
#include "bp_worker_internal.h"
#include "bp_worker_link.h"

#define BP_WORKER_RECONNECT_BASE_MS 100  /* first reconnect within 0.1 s */
#define BP_WORKER_RECONNECT_MAX_MS  5000 /* a dead Redis costs <= 1 try per 5 s per worker */
#define BP_WORKER_PAUSE_POLL_MS     1000 /* paused: look at the flags this often */

/* Signal flags of the worker process (the only mutable globals here). */
static volatile sig_atomic_t pending_stop;   /* TERM: finish the job, then exit */
static volatile sig_atomic_t pending_reopen; /* USR1: reopen the log file */
static volatile sig_atomic_t pending_cancel; /* USR2: the master says the job timed out */
static int signal_wake_fd = -1;              /* write end of the wake pipe */

static void handle_worker_signal(int signo)
{
    int saved_errno = errno;

    if (signo == SIGTERM || signo == SIGINT)
        pending_stop = 1;
    else if (signo == SIGUSR1)
        pending_reopen = 1;
    else if (signo == SIGUSR2)
        pending_cancel = 1;
    if (signal_wake_fd >= 0)
        (void)!write(signal_wake_fd, "s", 1);
    errno = saved_errno;
}

static void install_worker_signals(int wake_fd)
{
    struct sigaction sa;
    const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};

    signal_wake_fd = wake_fd;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handle_worker_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGTSTP, &sa, NULL); /* quiet comes as a message, never stop the process */
    sigaction(SIGTTIN, &sa, NULL);
    sigaction(SIGTTOU, &sa, NULL);
}

void bp_worker_wake(bp_worker *w)
{
    (void)!write(w->wake_pipe[1], "w", 1);
}

static void drain_fd(int fd)
{
    char buf[64];

    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

/* CLIENT ID of c, -1 when Redis does not tell (CLIENT disabled on a managed service). */
static long long client_id(bp_conn *c)
{
    bp_err err;
    redisReply *r = bp_conn_command(c, &err, "CLIENT ID");
    long long id = (r != NULL && r->type == REDIS_REPLY_INTEGER) ? r->integer : -1;

    if (r != NULL)
        freeReplyObject(r);
    return id;
}

int bp_worker_connect(bp_worker *w, bp_conn **out, const char *name, bp_err *err)
{
    const char *role = name == w->conn_name_bclient ? "bclient"
                       : name == w->conn_name_sub   ? "subscriber"
                                                    : "client";
    char route[600], node[BP_CONN_NODE_MAX];
    long long id;

    /* on Redis Cluster every connection of this worker lives on its queue's node */
    bp_queue_key(&w->q, "id", route, sizeof(route));
    if (bp_conn_open_route(out, &w->spec->cfg->redis, w->spec->tls_ctx, name, route, err) != 0)
        return -1;
    /* the master closes this connection on the server side if this process dies, before it
     * moves its jobs: Redis must not serve a dead worker's pull (bp_housekeeping.c) */
    id = client_id(*out);
    bp_conn_node(*out, node, sizeof(node));
    if (id >= 0) /* ids are per server: the master sends the kill to that one */
        bp_worker_link_send(w->spec->link_fd, "conn", "%s %lld %s", role, id, node);
    if (name == w->conn_name_bclient)
        w->bclient_id = id; /* a blocked pull is answered with CLIENT UNBLOCK <id> */
    return 0;
}

int bp_worker_client_ensure(bp_worker *w, bp_err *err)
{
    bp_conn *c = NULL;

    if (w->client != NULL && bp_conn_ok(w->client))
        return 0;
    if (bp_worker_connect(w, &c, w->conn_name_client, err) != 0)
        return -1;
    bp_conn_close(w->client);
    w->client = c;
    bp_log_info("client connection reopened");
    return 0;
}

static void set_state(bp_worker *w, bp_worker_state s)
{
    atomic_store(&w->state, (int)s);
}

static void mark_loop(bp_worker *w)
{
    atomic_store(&w->loop_moved_ms, (long long)bp_now_ms());
}

/* Sleep for the next backoff delay, waking early when told to stop. */
static void backoff_wait(bp_worker *w)
{
    struct pollfd p = {.fd = w->wake_pipe[0], .events = POLLIN};
    int64_t delay = bp_backoff_next(&w->reconnect);

    (void)poll(&p, 1, (int)delay);
}

static int ensure_bclient(bp_worker *w)
{
    bp_err err;

    if (w->bclient != NULL && bp_conn_ok(w->bclient))
        return 0;
    bp_conn_close(w->bclient);
    w->bclient = NULL;
    if (bp_worker_connect(w, &w->bclient, w->conn_name_bclient, &err) != 0) {
        /* one line per outage, not one per try */
        bp_log(w->reconnect.attempt == 0 ? BP_LOG_WARN : BP_LOG_DEBUG,
               "bclient: cannot reconnect to %s: %s; retrying with backoff",
               w->spec->cfg->redis.url_redacted, err.msg);
        return -1;
    }
    bp_log_info("bclient connection reopened after %u tr%s", w->reconnect.attempt + 1,
                w->reconnect.attempt == 0 ? "y" : "ies");
    return 0;
}

/* The blocking pull was woken: make Redis answer it (CLIENT UNBLOCK) and read the answer,
 * so a job already moved into active is not stranded. Returns 1 with *id_out, 0 for none. */
static int settle_woken_pull(bp_worker *w, char **id_out)
{
    redisReply *r = NULL;
    bp_err err;
    int unblocked = 0;

    if (w->bclient_id >= 0) {
        pthread_mutex_lock(&w->client_lock);
        if (bp_worker_client_ensure(w, &err) == 0) {
            redisReply *u = bp_conn_command(w->client, &err, "CLIENT UNBLOCK %lld", w->bclient_id);
            unblocked = u != NULL;
            if (u != NULL)
                freeReplyObject(u);
        }
        pthread_mutex_unlock(&w->client_lock);
    }
    if (!unblocked || bp_conn_read_reply(w->bclient, &r, -1, -1, &err) != 0) {
        /* cannot settle it: drop the connection; a job moved in that instant is left to
         * the stalled check (the lock was never set) */
        bp_conn_close(w->bclient);
        w->bclient = NULL;
        return 0;
    }
    if (r->type == REDIS_REPLY_STRING) {
        *id_out = strndup(r->str, r->len);
        freeReplyObject(r);
        return *id_out != NULL;
    }
    freeReplyObject(r);
    return 0;
}

/* Pull one id (blocking). Returns 1 with *id_out, 0 nothing (timeout, woken, outage). */
static int pull_one(bp_worker *w, char **id_out)
{
    bp_err err;
    int rc;

    if (ensure_bclient(w) != 0) {
        backoff_wait(w);
        return 0;
    }
    atomic_store(&w->pull_since_ms, (long long)bp_now_ms());
    rc = bp_queue_pull(w->bclient, &w->q, w->spec->queue->block_timeout_s, w->wake_pipe[0], id_out,
                       &err);
    atomic_store(&w->pull_since_ms, 0LL);
    if (rc >= 0) {
        bp_backoff_reset(&w->reconnect);
        return rc;
    }
    if (err.kind == BP_ERR_WOKEN) {
        drain_fd(w->wake_pipe[0]);
        return settle_woken_pull(w, id_out);
    }
    bp_log_warn("bclient: pull from '%s' failed: %s; reconnecting", w->q.name, err.msg);
    bp_conn_close(w->bclient);
    w->bclient = NULL;
    backoff_wait(w);
    return 0;
}

/* Take the job whose id the pull moved into active. */
static bp_job *take_pulled(bp_worker *w, const char *id)
{
    bp_job *job = NULL;
    bp_err err;
    int rc;

    /* An idle client sends nothing for minutes, so after a Redis restart it is first found
     * broken here: reconnect and try again (taking an id already in active is idempotent:
     * a first try that ran unseen left the job locked with this worker's own token). */
    for (int attempt = 0; attempt < 3; attempt++) {
        pthread_mutex_lock(&w->client_lock);
        rc = bp_worker_client_ensure(w, &err);
        if (rc == 0)
            rc = bp_queue_take(w->client, &w->q, id, &job, &err);
        pthread_mutex_unlock(&w->client_lock);
        if (rc >= 0 || err.kind == BP_ERR_REPLY)
            break;
        if (attempt > 0)
            bp_sleep_ms(bp_backoff_next(&w->reconnect));
    }
    if (rc < 0)
        bp_log_error("cannot take job %s of '%s': %s; the stalled check will return it to "
                     "wait",
                     id, w->q.name, err.msg);
    else if (rc == 2)
        bp_log_debug("job %s of '%s': over the rate limit (limiter.max %d per %d ms); parked in "
                     "delayed",
                     id, w->q.name, w->q.limiter_max, w->q.limiter_duration_ms);
    else if (rc == 0)
        bp_log_notice("job %s of '%s' vanished while waiting (removed); dropped from active", id,
                      w->q.name);
    return job;
}

/* Handler callbacks (bp_job_ctx). They run on the main thread, inside the handler. The
 * current job id is written only by this thread (begin_job, end_job), so reading it here
 * needs no state_lock. */
typedef int (*job_op)(bp_conn *c, const bp_queue *q, const char *job_id, const char *arg,
                      bp_err *err);

static int ctx_job_op(bp_worker *w, job_op op, const char *arg, const char *what)
{
    bp_err err;
    int rc;

    pthread_mutex_lock(&w->client_lock);
    rc = bp_worker_client_ensure(w, &err);
    if (rc == 0)
        rc = op(w->client, &w->q, w->job_id, arg, &err);
    pthread_mutex_unlock(&w->client_lock);
    if (rc != 0)
        bp_log_warn("job %s: cannot %s: %s", w->job_id, what, err.msg);
    return rc;
}

static int ctx_progress(void *self, const char *json)
{
    return ctx_job_op(self, bp_queue_progress, json, "record progress");
}

static int ctx_log(void *self, const char *line)
{
    bp_worker *w = self;

    if (line == NULL || !bp_joblog_admit(&w->joblog, line))
        return 0; /* past log_max_lines: held for the end of the job (bp_joblog.h) */
    return ctx_job_op(self, bp_queue_log, line, "append a log line");
}

static void joblog_send(void *self, const char *line)
{
    (void)ctx_job_op(self, bp_queue_log, line, "append a log line");
}

static redisReply *ctx_command(void *self, int argc, const char **argv, const size_t *argvlen,
                               bp_err *err)
{
    bp_worker *w = self;
    redisReply *r = NULL;

    pthread_mutex_lock(&w->client_lock);
    if (bp_worker_client_ensure(w, err) == 0)
        r = bp_conn_command_argv(w->client, argc, argv, argvlen, err);
    pthread_mutex_unlock(&w->client_lock);
    return r;
}

static void begin_job(bp_worker *w, const bp_job *job)
{
    int64_t timeout = job->timeout_ms;
    int64_t cap = w->spec->queue->job_timeout_ms; /* 0 = no cap */

    if (timeout <= 0 || (cap > 0 && cap < timeout))
        timeout = cap; /* the shorter of opts.timeout and job_timeout_ms */
    pthread_mutex_lock(&w->state_lock);
    snprintf(w->job_id, sizeof(w->job_id), "%s", job->id);
    w->job_gen++;
    w->job_started_ms = bp_now_ms();
    w->job_timeout_ms = timeout;
    w->lock_extended_mono = bp_mono_ms();
    w->cancel = 0;
    atomic_store(&w->cancel_reason, BP_CANCEL_NONE);
    pthread_mutex_unlock(&w->state_lock);
    pending_cancel = 0;
    set_state(w, BP_WORKER_BUSY);
    /* The keeper wakes at least every heartbeat_ms; it must be woken now only when a timer
     * shorter than that starts with this job. Not waking it per job keeps the hot path free
     * of a thread switch. */
    if (timeout > 0 || w->spec->queue->lock_renew_ms < w->spec->cfg->pool.heartbeat_ms)
        (void)!write(w->keeper_pipe[1], "j", 1);
}

static void end_job(bp_worker *w)
{
    pthread_mutex_lock(&w->state_lock);
    w->job_id[0] = '\0';
    w->job_timeout_ms = 0;
    pthread_mutex_unlock(&w->state_lock);
    set_state(w, atomic_load(&w->stopping) ? BP_WORKER_DRAINING : BP_WORKER_IDLE);
}

/* The failure text for a job that was cancelled, or NULL when it was not. */
static char *cancel_text(bp_worker *w)
{
    char *text = NULL;
    int reason = atomic_load(&w->cancel_reason);

    if (pending_cancel && reason == BP_CANCEL_NONE)
        reason = BP_CANCEL_TIMEOUT; /* the master's soft signal */
    if (reason == BP_CANCEL_TIMEOUT) {
        if (asprintf(&text, "Promise timed out after %lld milliseconds",
                     (long long)w->job_timeout_ms) < 0)
            text = NULL;
    } else if (reason == BP_CANCEL_CTL) {
        text = strdup("cancelled by bullpen ctl");
    } else if (reason == BP_CANCEL_SHUTDOWN) {
        text = strdup("cancelled: bullpen is shutting down");
    }
    return text;
}

/* Finish job with res; returns the next job when fetch-next took one. A failure in transit
 * (Redis away) is retried with the one backoff for as long as the job's lock can still be
 * ours (lock_duration_ms after its last extension): the result is worth keeping. A retry
 * never fetches the next job (the first try might have, unseen), and the script is
 * idempotent: a try that finds the lock gone leaves the job alone. */
static bp_job *finish_job(bp_worker *w, const bp_job *job, const bp_result *res,
                          const char *override_error)
{
    /* Fetch-next (and any batched take of several jobs at once) must stay off while the
     * queue has a rate limiter: every job must pass take.lua's limiter, as in Bull, whose
     * moveToFinished never fetches the next job when a limiter is set. With leases the
     * batch leases the next jobs instead (bp_lease.c). */
    bool fetch_next = w->lease.max <= 1 && !atomic_load(&w->stopping) && !atomic_load(&w->paused) &&
                      w->q.limiter_max == 0;
    bp_job *next = NULL;
    bp_err err;
    int rc = -1;

    int64_t give_up = w->lock_extended_mono + w->spec->queue->lock_duration_ms;
    const char *reason = override_error != NULL ? override_error : res->error;
    char stack[1024] = "";

    pthread_mutex_lock(&w->state_lock); /* the keeper stops renewing this job's lock now */
    w->job_gen++;
    pthread_mutex_unlock(&w->state_lock);
    if (reason != NULL) /* Bull's stacktrace entry: err.stack, "Error: <message>\n    at ..." */
        snprintf(stack, sizeof(stack), "Error: %.700s\n    at %s (bullpen worker %d, pid %ld)",
                 reason, job->name, w->spec->index, (long)getpid());

    for (int attempt = 0; rc < 0; attempt++) {
        pthread_mutex_lock(&w->client_lock);
        if (bp_worker_client_ensure(w, &err) == 0) {
            if (reason != NULL && override_error == NULL && res->discard)
                rc = bp_queue_fail_final(w->client, &w->q, job, reason, stack,
                                         fetch_next && attempt == 0, &next, &err);
            else if (reason != NULL)
                rc = bp_queue_fail(w->client, &w->q, job, reason, stack, fetch_next && attempt == 0,
                                   &next, &err);
            else
                rc = bp_queue_complete(
                    w->client, &w->q, job, res->value != NULL ? res->value : "null",
                    res->value != NULL ? res->len : 4, fetch_next && attempt == 0, &next, &err);
        }
        pthread_mutex_unlock(&w->client_lock);
        if (rc >= 0 || err.kind == BP_ERR_REPLY)
            break; /* done, or Redis refused the script itself: another try cannot help */
        pthread_mutex_lock(&w->state_lock);
        give_up = w->lock_extended_mono + w->spec->queue->lock_duration_ms;
        pthread_mutex_unlock(&w->state_lock);
        if (bp_mono_ms() >= give_up)
            break;
        if (attempt == 0)
            bp_log_warn("job %s of '%s': cannot record its outcome yet: %s; retrying while its "
                        "lock lasts",
                        job->id, w->q.name, err.msg);
        bp_sleep_ms(bp_backoff_next(&w->reconnect)); /* not woken early: a stop waits too */
    }
    if (rc < 0)
        bp_log_error("job %s of '%s': cannot record its outcome: %s; the stalled check will "
                     "run it again",
                     job->id, w->q.name, err.msg);
    else if (rc == 0)
        bp_log_warn("job %s of '%s': lock lost before it finished (another worker or the "
                    "stalled check took it); its outcome was not recorded",
                    job->id, w->q.name);
    return next;
}

/* Run one job through its handler and finish it. Returns the next job (fetch next). With
 * leases (lease_max > 1) a completion joins the batch (bp_lease.c) and takes job with it;
 * a failure is recorded at once, after the batch; NULL is returned. leased: job came from a
 * lease (its start is not recorded yet), locked_mono: when its lock was set. */
static bp_job *run_job(bp_worker *w, bp_job *job, bool leased, int64_t locked_mono)
{
    bp_result res = {0};
    bp_job_ctx ctx = {
        .queue = w->q.name,
        .prefix = w->q.prefix,
        .job_id = job->id,
        .job_name = job->name,
        .data = job->data,
        .data_len = job->data_len,
        .attempt = job->attempts_made + 1,
        .cancel = &w->cancel,
        .worker = w,
        .sandbox = w->sandbox,
        .sandbox_pdf = w->sandbox_pdf,
        .progress = ctx_progress,
        .log = ctx_log,
        .command = ctx_command,
    };
    char *cancelled;
    bp_job *next;
    int64_t t0 = bp_mono_us();

    begin_job(w, job);
    if (leased) { /* its lock was set at the lease: renew on that clock */
        pthread_mutex_lock(&w->state_lock);
        w->lock_extended_mono = locked_mono;
        pthread_mutex_unlock(&w->state_lock);
    }
    bp_lease_begin(w, job, leased);
    if (job->fail_reason != NULL) { /* refused at take (a repeat cron-parser rejects) */
        cancelled = strdup(job->fail_reason);
    } else {
        (void)bp_joblog_begin(&w->joblog, w->q.log_max_lines, (size_t)w->q.log_max_line_bytes);
        bp_handlers_run(w->spec->handlers, &ctx, &res);
        bp_joblog_end(&w->joblog, joblog_send, w); /* before the job leaves active */
        cancelled = cancel_text(w); /* a cancelled run fails, whatever the handler returned */
    }
    if (w->lease.max > 1) {
        int64_t started = bp_lease_end(w);
        if (cancelled == NULL && res.error == NULL) {
            pthread_mutex_lock(&w->state_lock); /* the keeper stops renewing this lock */
            w->job_gen++;
            pthread_mutex_unlock(&w->state_lock);
            bp_lease_add_done(w, job, res.value, res.len, started); /* takes job and value */
            res.value = NULL;
            job = NULL;
        } else {
            bp_lease_flush(w, false); /* the completions before it keep their order */
            if (started > 0) {
                const char *ids[1] = {job->id};
                bp_err err;
                pthread_mutex_lock(&w->client_lock);
                if (bp_worker_client_ensure(w, &err) != 0 ||
                    bp_queue_mark_started(w->client, &w->q, ids, &started, 1, &err) < 0)
                    bp_log_warn("job %s: cannot record its start: %s", ids[0], err.msg);
                pthread_mutex_unlock(&w->client_lock);
            }
        }
    } else if (w->spec->shared != NULL) {
        bp_lease_end(w);
    }
    next = job != NULL ? finish_job(w, job, &res, cancelled) : NULL;
    atomic_fetch_add(&w->jobs_us, (long long)(bp_mono_us() - t0));
    if (cancelled != NULL || res.error != NULL)
        atomic_fetch_add(&w->jobs_failed, 1);
    else
        atomic_fetch_add(&w->jobs_done, 1);
    if (job != NULL) {
        bp_log_debug("job %s (%s) %s in %lld us", job->id, job->name,
                     cancelled != NULL || res.error != NULL ? "failed" : "completed",
                     (long long)(bp_mono_us() - t0));
        if (w->lease.max > 1)
            bp_job_free(job); /* the batch did not take it: it failed */
    }
    free(cancelled);
    bp_result_clear(&res);
    end_job(w);
    return next;
}

static void apply_signals(bp_worker *w, const bp_job *in_hand)
{
    if (pending_stop && !atomic_load(&w->stopping)) {
        atomic_store(&w->stopping, 1);
        if (in_hand != NULL)
            bp_log_info("stopping: finishing job %s first", in_hand->id);
        else
            bp_log_info("stopping: idle, no job to finish");
    }
    if (pending_reopen) {
        pending_reopen = 0;
        bp_log_reopen();
    }
    if (pending_cancel && atomic_load(&w->state) == BP_WORKER_BUSY) {
        atomic_store(&w->cancel_reason, BP_CANCEL_TIMEOUT);
        w->cancel = 1;
    }
}

static void base64_name(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);

    if (cap < 4 * ((n + 2) / 3) + 1) {
        out[0] = '\0';
        return;
    }
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
}

static void worker_names(bp_worker *w)
{
    char b64[400];
    const char *host = w->spec->hostname;
    long pid = (long)getpid();

    base64_name(w->spec->queue->name, b64, sizeof(b64));
    snprintf(w->conn_name_client, sizeof(w->conn_name_client), "bullpen:%s:%ld:client", host, pid);
    snprintf(w->conn_name_sub, sizeof(w->conn_name_sub), "bullpen:%s:%ld:subscriber", host, pid);
    /* Bull's getWorkers() and bull-board count names starting with <prefix>:<base64(q)> */
    snprintf(w->conn_name_bclient, sizeof(w->conn_name_bclient), "%s:%s:bullpen:%s:%ld",
             w->spec->queue->prefix, b64, host, pid);
}

/* Open the client and the bclient at start. 0, or the exit code to leave with. */
static int connect_roles(bp_worker *w)
{
    bp_err err;

    if (bp_worker_connect(w, &w->client, w->conn_name_client, &err) != 0 ||
        bp_worker_connect(w, &w->bclient, w->conn_name_bclient, &err) != 0 ||
        bp_worker_connect(w, &w->subscriber, w->conn_name_sub, &err) != 0) {
        bp_log_error("cannot connect to %s: %s", w->spec->cfg->redis.url_redacted, err.msg);
        return err.kind == BP_ERR_CONFIG ? EX_CONFIG : EX_TEMPFAIL;
    }
    return 0;
}

static void worker_cleanup(bp_worker *w)
{
    if (w->keeper_started)
        bp_keeper_stop(w);
    bp_conn_close(w->subscriber);
    bp_conn_close(w->bclient);
    bp_conn_close(w->client);
    bp_sandbox_free(w->sandbox);
    bp_sandbox_free(w->sandbox_pdf);
    close(w->wake_pipe[0]);
    close(w->wake_pipe[1]);
    close(w->keeper_pipe[0]);
    close(w->keeper_pipe[1]);
    bp_lease_destroy(w);
    pthread_mutex_destroy(&w->client_lock);
    pthread_mutex_destroy(&w->state_lock);
}

/* With leases: run the leased jobs, record them in batches, lease more; pull (blocking)
 * only when the queue is empty. A stop or a pause first records what is done and gives the
 * leased jobs back. */
static void main_loop_leased(bp_worker *w)
{
    bool backlog = false; /* a job ran since the last empty lease: lease before pulling */

    for (;;) {
        bp_job *job;
        int64_t locked = 0;
        char *id = NULL;

        mark_loop(w);
        apply_signals(w, NULL);
        if (atomic_load(&w->stopping) || atomic_load(&w->paused)) {
            bp_lease_give_back(w);
            if (atomic_load(&w->stopping))
                break;
            struct pollfd p = {.fd = w->wake_pipe[0], .events = POLLIN};
            set_state(w, BP_WORKER_PAUSED);
            if (poll(&p, 1, BP_WORKER_PAUSE_POLL_MS) > 0)
                drain_fd(w->wake_pipe[0]);
            continue;
        }
        job = bp_lease_next(w, &locked);
        if (job != NULL) {
            run_job(w, job, true, locked);
            if (bp_lease_flush_due(w))
                bp_lease_flush(w, !atomic_load(&w->stopping) && !atomic_load(&w->paused));
            continue;
        }
        /* nothing leased: record what is done and lease more in the same round trip (an
         * idle worker whose pull timed out does not ask: the pull is its only command) */
        bp_lease_flush(w, backlog);
        backlog = false;
        if ((job = bp_lease_next(w, &locked)) != NULL) {
            backlog = true;
            run_job(w, job, true, locked);
            if (bp_lease_flush_due(w))
                bp_lease_flush(w, !atomic_load(&w->stopping) && !atomic_load(&w->paused));
            continue;
        }
        set_state(w, BP_WORKER_IDLE);
        if (pull_one(w, &id) == 1) {
            job = take_pulled(w, id);
            free(id);
            if (job != NULL) {
                run_job(w, job, false, bp_mono_ms()); /* its completion starts a batch */
                backlog = true;
            }
        }
    }
    set_state(w, BP_WORKER_DRAINING);
}

static void main_loop(bp_worker *w)
{
    bp_job *job = NULL;

    if (w->lease.max > 1) {
        main_loop_leased(w);
        return;
    }
    while (!atomic_load(&w->stopping) || job != NULL) {
        char *id = NULL;

        mark_loop(w);
        apply_signals(w, job);
        if (job != NULL) {
            bp_job *next = run_job(w, job, false, 0);
            bp_job_free(job);
            job = next;
            continue;
        }
        if (atomic_load(&w->stopping))
            break;
        if (atomic_load(&w->paused)) {
            struct pollfd p = {.fd = w->wake_pipe[0], .events = POLLIN};
            set_state(w, BP_WORKER_PAUSED);
            if (poll(&p, 1, BP_WORKER_PAUSE_POLL_MS) > 0)
                drain_fd(w->wake_pipe[0]);
            continue;
        }
        set_state(w, BP_WORKER_IDLE);
        if (pull_one(w, &id) == 1) {
            job = take_pulled(w, id);
            free(id);
        }
    }
    set_state(w, BP_WORKER_DRAINING);
}

int bp_worker_main(const bp_worker_spec *spec)
{
    bp_worker w;
    bp_err err;
    char role[64];
    int rc;

    memset(&w, 0, sizeof(w));
    w.spec = spec;
    w.bclient_id = -1;
    snprintf(role, sizeof(role), "worker %d", spec->index);
    bp_log_set_role(role);
    bp_queue_init(&w.q, spec->queue->prefix, spec->queue->name, spec->token,
                  spec->queue->lock_duration_ms, spec->queue->stalled_interval_ms,
                  spec->queue->max_stalled);
    bp_queue_set_limits(&w.q, spec->queue->limiter.max, spec->queue->limiter.duration_ms,
                        spec->queue->limiter.group_key, spec->queue->metrics_max_points,
                        spec->queue->log_max_lines, spec->queue->log_max_line_bytes);
    bp_backoff_init(&w.reconnect, BP_WORKER_RECONNECT_BASE_MS, BP_WORKER_RECONNECT_MAX_MS, 0);
    pthread_mutex_init(&w.client_lock, NULL);
    pthread_mutex_init(&w.state_lock, NULL);
    bp_lease_init(&w);
    if (pipe2(w.wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
        pipe2(w.keeper_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        bp_log_error("cannot create pipes: %s", strerror(errno));
        return EX_OSERR;
    }
    install_worker_signals(w.wake_pipe[1]);
    /* two extractors, each started at its first document: PDFs, and every other format
     * (bp_sandbox_extract.h); NULL: document jobs then fail, saying so */
    w.sandbox = bp_sandbox_new(
        &(bp_sandbox_options){.log_stderr_fd = 2, .profile = BP_SANDBOX_PROFILE_OTHER});
    w.sandbox_pdf = bp_sandbox_new(
        &(bp_sandbox_options){.log_stderr_fd = 2, .profile = BP_SANDBOX_PROFILE_PDF});
    atomic_store(&w.paused, spec->start_paused ? 1 : 0);
    atomic_store(&w.loop_moved_ms, (long long)bp_now_ms());
    worker_names(&w);
    if (spec->set_title != NULL) { /* the keeper owns the title once it runs */
        char title[512];
        snprintf(title, sizeof(title), "bullpen: worker %d [%s] starting", spec->index,
                 spec->queue->name);
        spec->set_title(title);
    }

    rc = connect_roles(&w);
    if (rc != 0)
        goto out_cleanup;
    bp_log_info("worker %d (pid %ld): client, subscriber, bclient connected to %s", spec->index,
                (long)getpid(), bp_conn_describe(w.client));
    if (bp_keeper_start(&w, &err) != 0) {
        bp_log_error("cannot start the keeper thread: %s", err.msg);
        rc = EX_OSERR;
        goto out_cleanup;
    }
    w.keeper_started = 1;
    main_loop(&w);
    /* a last heartbeat over the link with the final counts: the master reads the link when it
     * reaps this process, so the jobs done since the previous heartbeat reach its metrics */
    bp_worker_heartbeat(&w, false);
    bp_log_notice("worker %d (pid %ld) stopped: %lld jobs done, %lld failed, %llu Redis commands "
                  "sent",
                  spec->index, (long)getpid(), atomic_load(&w.jobs_done),
                  atomic_load(&w.jobs_failed), bp_conn_commands_sent());
    rc = 0;
out_cleanup:
    worker_cleanup(&w);
    signal_wake_fd = -1;
    return rc;
}
