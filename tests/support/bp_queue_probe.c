/* bp_queue_probe.c -- drives the queue protocol (common/bp_queue.h) from the shell, one
 * operation per sub-command, so tests/interop can check each script against Bull's own API
 * without the worker loop, and measure the steady-state loop (take -> complete + fetch next).
 *
 *   bp_queue_probe -c CONF [-q QUEUE] [-t TOKEN] [-l LOCK_MS] [-s STALLED_MS] [-m MAX] CMD ...
 *     add NAME DATA [OPTS]        prints the id
 *     take ID | take-next         prints the job as JSON, or "none"
 *     complete ID RV | fail ID REASON [STACK]   prints the return code (1 moved, 0 untouched)
 *     extend ID | progress ID JSON | log ID LINE
 *     promote | stalled | recover TOKEN REASON | fail-token TOKEN REASON
 *     counts | paused
 *     work [MAX_S]                process until the queue is idle: name "fail" fails with
 *                                 data.message, "progress" reports 50 and logs, "hold" takes
 *                                 the job and exits holding its lock, others echo their data
 *     bench N                     take -> complete(fetch next) N echo jobs; prints jobs/s
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bp_cmd_queue.h"
#include "bp_config.h"
#include "bp_conn.h"
#include "bp_log.h"
#include "bp_queue.h"
#include "bp_time.h"
#include "bp_tls.h"

static void print_job(const bp_job *job)
{
    json_t *o = json_pack("{s:s, s:s, s:s%, s:s, s:i, s:i, s:I, s:I, s:I, s:i}", "id", job->id,
                          "name", job->name, "data", job->data, job->data_len, "opts", job->opts,
                          "attempts", job->attempts, "attemptsMade", job->attempts_made, "timeout",
                          (json_int_t)job->timeout_ms, "timestamp", (json_int_t)job->timestamp,
                          "processedOn", (json_int_t)job->processed_on, "stalledCounter",
                          job->stalled_counter);

    json_dumpf(o, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(o);
}

/* A job with only an id: what complete/fail need. */
static bp_job *stub_job(const char *id)
{
    bp_job *job = calloc(1, sizeof(*job));

    if (job != NULL)
        job->id = strdup(id);
    return job;
}

/* Run one job by name; returns the next one (fetch next), or NULL. *held set by "hold". */
static bp_job *process(bp_conn *c, const bp_queue *q, bp_job *job, bool *held, long *done,
                       bp_err *err)
{
    bp_job *next = NULL;
    int rc;

    if (strcmp(job->name, "hold") == 0) {
        *held = true;
        return NULL;
    }
    if (strcmp(job->name, "fail") == 0) {
        json_t *d = json_loads(job->data, JSON_DECODE_ANY, NULL);
        const char *msg = json_string_value(json_object_get(d, "message"));
        char stack[512];

        if (msg == NULL)
            msg = "boom";
        snprintf(stack, sizeof(stack), "Error: %s\n    at bp_queue_probe (probe.c:1:1)", msg);
        rc = bp_queue_fail(c, q, job, msg, stack, true, &next, err);
        json_decref(d);
    } else {
        if (strcmp(job->name, "progress") == 0) {
            if (bp_queue_progress(c, q, job->id, "{\"pct\":50}", err) != 0 ||
                bp_queue_log(c, q, job->id, "half way", err) != 0)
                return NULL;
        }
        rc = bp_queue_complete(c, q, job, job->data, job->data_len, true, &next, err);
    }
    if (rc < 0)
        fprintf(stderr, "probe: job %s: %s\n", job->id, err->msg);
    else
        (*done)++;
    return next;
}

/* Process until wait, active and delayed are empty (or max_s passes). */
static int work(bp_conn *c, bp_conn *bc, const bp_queue *q, int max_s)
{
    int64_t deadline = bp_mono_ms() + (int64_t)max_s * 1000, next_due = 0;
    bool held = false;
    long done = 0;
    bp_err err;

    while (bp_mono_ms() < deadline && !held) {
        bp_job *job = NULL;
        char *id = NULL;
        int rc;

        if (bp_queue_promote(c, q, &next_due, &err) < 0)
            goto out_err;
        rc = bp_queue_take_next(c, q, &job, &err);
        if (rc < 0)
            goto out_err;
        if (rc == 0) {
            bp_queue_counts n;
            if (bp_queue_get_counts(c, q, &n, &err) != 0)
                goto out_err;
            if (n.waiting == 0 && n.active == 0 && n.delayed == 0)
                break;
            rc = bp_queue_pull(bc, q, 1, -1, &id, &err);
            if (rc < 0)
                goto out_err;
            if (rc == 1) {
                rc = bp_queue_take(c, q, id, &job, &err);
                free(id);
                if (rc < 0)
                    goto out_err;
            }
        }
        while (job != NULL) {
            bp_job *next = process(c, q, job, &held, &done, &err);
            if (held) {
                fprintf(stdout, "held %s\n", job->id);
                bp_job_free(job);
                break;
            }
            bp_job_free(job);
            job = next;
        }
    }
    fprintf(stdout, "done %ld\n", done);
    return 0;

out_err:
    fprintf(stderr, "probe: work: %s\n", err.msg);
    return 1;
}

static int bench(bp_conn *c, const bp_queue *q, long n)
{
    bp_job *job = NULL;
    bp_err err;
    long done = 0;
    int64_t t0 = bp_mono_us();

    if (bp_queue_take_next(c, q, &job, &err) < 0)
        goto out_err;
    while (job != NULL && done < n) {
        bp_job *next = NULL;
        if (bp_queue_complete(c, q, job, job->data, job->data_len, done + 1 < n, &next, &err) < 0) {
            bp_job_free(job);
            goto out_err;
        }
        done++;
        bp_job_free(job);
        job = next;
    }
    bp_job_free(job);
    double s = (double)(bp_mono_us() - t0) / 1e6;
    fprintf(stdout, "bench %ld jobs in %.3f s: %.0f jobs/s\n", done, s,
            s > 0 ? (double)done / s : 0.0);
    return done == n ? 0 : 1;

out_err:
    fprintf(stderr, "probe: bench: %s\n", err.msg);
    return 1;
}

static int run_cmd(bp_conn *c, bp_conn *bc, const bp_queue *q, int argc, char **argv)
{
    const char *cmd = argv[0];
    bp_err err = {0};
    bp_job *job = NULL;
    int rc = -1;

#define NEED(n)                                                          \
    do {                                                                 \
        if (argc < (n) + 1) {                                            \
            fprintf(stderr, "probe: %s needs %d argument(s)\n", cmd, n); \
            return 64;                                                   \
        }                                                                \
    } while (0)

    if (strcmp(cmd, "add") == 0) {
        char *id = NULL;
        NEED(2);
        rc = bp_queue_add(c, q, argv[1], argv[2], argc > 3 ? argv[3] : NULL, &id, &err);
        if (rc == 0)
            fprintf(stdout, "%s\n", id);
        free(id);
    } else if (strcmp(cmd, "take") == 0 || strcmp(cmd, "take-next") == 0) {
        if (cmd[4] == '\0') {
            NEED(1);
            rc = bp_queue_take(c, q, argv[1], &job, &err);
        } else {
            rc = bp_queue_take_next(c, q, &job, &err);
        }
        if (rc == 1)
            print_job(job);
        else if (rc == 0)
            fprintf(stdout, "none\n");
        else if (rc == 2)
            fprintf(stdout, "limited\n");
        bp_job_free(job);
    } else if (strcmp(cmd, "complete") == 0 || strcmp(cmd, "fail") == 0) {
        NEED(2);
        job = stub_job(argv[1]);
        if (cmd[0] == 'c')
            rc = bp_queue_complete(c, q, job, argv[2], strlen(argv[2]), false, NULL, &err);
        else
            rc = bp_queue_fail(c, q, job, argv[2], argc > 3 ? argv[3] : NULL, false, NULL, &err);
        if (rc >= 0)
            fprintf(stdout, "%d%s%s\n", rc, rc == 0 ? " " : "", rc == 0 ? err.msg : "");
        bp_job_free(job);
    } else if (strcmp(cmd, "extend") == 0) {
        NEED(1);
        rc = bp_queue_extend_lock(c, q, argv[1], &err);
        if (rc >= 0)
            fprintf(stdout, "%d\n", rc);
    } else if (strcmp(cmd, "progress") == 0) {
        NEED(2);
        rc = bp_queue_progress(c, q, argv[1], argv[2], &err);
    } else if (strcmp(cmd, "log") == 0) {
        NEED(2);
        rc = bp_queue_log(c, q, argv[1], argv[2], &err);
    } else if (strcmp(cmd, "promote") == 0) {
        int64_t next = 0;
        rc = bp_queue_promote(c, q, &next, &err);
        if (rc >= 0)
            fprintf(stdout, "promoted %d next %" PRId64 "\n", rc, next);
    } else if (strcmp(cmd, "stalled") == 0) {
        rc = bp_queue_check_stalled(c, q, &err);
        if (rc >= 0)
            fprintf(stdout, "%d\n", rc);
    } else if (strcmp(cmd, "recover") == 0 || strcmp(cmd, "fail-token") == 0) {
        NEED(2);
        rc = cmd[0] == 'r' ? bp_queue_recover_token(c, q, argv[1], argv[2], NULL, 0, NULL, &err)
                           : bp_queue_fail_token(c, q, argv[1], argv[2], &err);
        if (rc >= 0)
            fprintf(stdout, "%d\n", rc);
    } else if (strcmp(cmd, "counts") == 0) {
        bp_queue_counts n;
        rc = bp_queue_get_counts(c, q, &n, &err);
        if (rc == 0)
            fprintf(stdout,
                    "{\"waiting\":%lld,\"active\":%lld,\"completed\":%lld,\"failed\":%lld,"
                    "\"delayed\":%lld,\"paused\":%lld,\"limited\":%lld}\n",
                    n.waiting, n.active, n.completed, n.failed, n.delayed, n.paused, n.limited);
    } else if (strcmp(cmd, "paused") == 0) {
        rc = bp_queue_is_paused(c, q, &err);
        if (rc >= 0)
            fprintf(stdout, "%d\n", rc);
    } else if (strcmp(cmd, "work") == 0) {
        return work(c, bc, q, argc > 1 ? atoi(argv[1]) : 60);
    } else if (strcmp(cmd, "bench") == 0) {
        NEED(1);
        return bench(c, q, atol(argv[1]));
    } else {
        fprintf(stderr, "probe: unknown command '%s'\n", cmd);
        return 64;
    }
    if (rc < 0) {
        fprintf(stderr, "probe: %s: %s\n", cmd, err.msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *conf = NULL, *queue = NULL, *token = NULL;
    int lock_ms = 0, stalled_ms = 0, max_stalled = -1, opt, rc;
    const bp_queue_config *qc;
    bp_config *cfg = NULL;
    bp_conn *c = NULL, *bc = NULL;
    SSL_CTX *tls = NULL, *tls2 = NULL;
    bp_queue q;
    bp_err err;

    while ((opt = getopt(argc, argv, "+c:q:t:l:s:m:")) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            break;
        case 'q':
            queue = optarg;
            break;
        case 't':
            token = optarg;
            break;
        case 'l':
            lock_ms = atoi(optarg);
            break;
        case 's':
            stalled_ms = atoi(optarg);
            break;
        case 'm':
            max_stalled = atoi(optarg);
            break;
        default:
            return 64;
        }
    }
    if (conf == NULL || optind >= argc) {
        fprintf(stderr, "usage: bp_queue_probe -c CONF [-q QUEUE] [-t TOKEN] [-l LOCK_MS] "
                        "[-s STALLED_MS] [-m MAX_STALLED] CMD [ARGS...]\n");
        return 64;
    }
    bp_log_open(BP_LOG_WARN, NULL, false, BP_LOG_TEXT);
    bp_log_set_role("probe");
    if (bp_config_load(&cfg, conf, &err) != 0) {
        fprintf(stderr, "probe: %s\n", err.msg);
        return 78;
    }
    qc = bp_config_queue(cfg, queue);
    if (qc == NULL) {
        fprintf(stderr, "probe: no queue '%s' in %s\n", queue, conf);
        bp_config_free(cfg);
        return 64;
    }
    bp_queue_init(&q, qc->prefix, queue != NULL ? queue : qc->name, token,
                  lock_ms > 0 ? lock_ms : qc->lock_duration_ms,
                  stalled_ms > 0 ? stalled_ms : qc->stalled_interval_ms,
                  max_stalled >= 0 ? max_stalled : qc->max_stalled);
    bp_queue_set_limits(&q, qc->limiter.max, qc->limiter.duration_ms, qc->limiter.group_key,
                        qc->metrics_max_points, qc->log_max_lines, qc->log_max_line_bytes);
    if (bp_cmd_connect(cfg, "probe", &c, &tls, &err) != 0 ||
        (strcmp(argv[optind], "work") == 0 &&
         bp_cmd_connect(cfg, "probe-bclient", &bc, &tls2, &err) != 0)) {
        fprintf(stderr, "probe: connect: %s\n", err.msg);
        rc = 69;
    } else {
        rc = run_cmd(c, bc, &q, argc - optind, argv + optind);
    }
    bp_conn_close(bc);
    bp_conn_close(c);
    bp_tls_ctx_free(tls);
    bp_tls_ctx_free(tls2);
    bp_config_free(cfg);
    return rc;
}
