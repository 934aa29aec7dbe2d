/* bp_queue_lease.c -- batched leases and completions (see bp_queue_lease.h; the Lua is
 * common/lua/lease.lua, and finish.lua's ARGV[12] for a leased job's start mark).
 *
 * A batch is one write of pipelined EVALSHAs (a finish.lua per completion, then a lease
 * take) and one read of their replies: Redis reads them in one go and answers in one write,
 * so the TLS records, the syscalls and the wake-ups on both sides are paid once per batch,
 * not once per job. A NOSCRIPT reply (a restarted Redis) is redone with bp_script_run, which
 * loads the script. */
#include "bp_queue_lease.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bp_conn.h"
#include "bp_log.h"
#include "bp_queue_internal.h"
#include "bp_scripts.h"
#include "bp_time.h"

#define BP_LEASE_ARGS (13)  /* finish.lua: 1 key, 12 args */
#define BP_LEASE_IDS  (256) /* ids per mark/return call */

/* A leased repeatable job schedules its next occurrence, as a taken one does (bp_queue.c):
 * options Bull's worker would throw on make it fail without running (job->fail_reason). */
static void schedule_repeats(bp_conn *c, const bp_queue *q, bp_job **jobs, int n)
{
    for (int i = 0; i < n; i++) {
        bp_err err;
        int rc;
        if (strstr(jobs[i]->opts, "\"repeat\"") == NULL)
            continue;
        err.msg[0] = '\0';
        rc = bp_queue_repeat_next(c, q, jobs[i], &err);
        if (rc == -2) {
            bp_log_warn("queue '%s': job %s: its repeat cannot be scheduled: %s; the job fails "
                        "without running (fix repeat.cron or repeat.tz and add the repeatable "
                        "again)",
                        q->name, jobs[i]->id, err.msg);
            jobs[i]->fail_reason = strdup(err.msg);
        } else if (rc < 0) {
            bp_log_warn("%s; the repeat stops here unless a Bull worker schedules it", err.msg);
        }
    }
}

static const bp_script *script(const bp_queue *q, const char *name, bp_err *err)
{
    const bp_script *s = bp_script_get(name);

    if (s == NULL)
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "queue '%s': script '%s' is not embedded in this binary; rebuild bullpen",
                   q->name, name);
    return s;
}

static int active_key(const bp_queue *q, char *buf, size_t cap, bp_err *err)
{
    if (bp_queue_key(q, "active", buf, cap) < 0) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "queue '%s': key name too long", q->name);
        return -1;
    }
    return 0;
}

/* The leased jobs of a lease.lua "take" reply into out[cap]; the count, -1 on error. */
static int leased_from_reply(const bp_queue *q, const redisReply *r, bp_job **out, int cap,
                             bp_err *err)
{
    int n = 0;

    if (r->type != REDIS_REPLY_ARRAY) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "queue '%s': script 'lease': unexpected reply",
                   q->name);
        return -1;
    }
    for (size_t i = 0; i < r->elements && n < cap; i++) {
        /* processed_on 0: not started; the worker sets it when the handler starts */
        if (bp_job_from_reply(r->element[i], 0, &out[n], err) != 0) {
            bp_err_prefix(err, "queue '%s': script 'lease'", q->name);
            /* the ones already read are returned; this one's lock expires to the stalled
             * check (it cannot be parsed, so it could not be run either) */
            return n > 0 ? n : -1;
        }
        n++;
    }
    return n;
}

static void lease_args(const bp_queue *q, const char *active, int max, int share, char dur[16],
                       char maxs[16], char shares[16], const char **argv, size_t *len)
{
    argv[0] = active;
    argv[1] = q->key_base;
    argv[2] = q->token;
    argv[3] = "take";
    argv[4] = dur;
    argv[5] = maxs;
    argv[6] = shares;
    snprintf(dur, 16, "%d", q->lock_duration_ms);
    snprintf(maxs, 16, "%d", max);
    snprintf(shares, 16, "%d", share > 1 ? share : 1);
    for (int i = 0; i < 7; i++)
        len[i] = strlen(argv[i]);
}

int bp_queue_lease(bp_conn *c, const bp_queue *q, int max, int share, bp_job **out, int cap,
                   bp_err *err)
{
    char active[512], dur[16], maxs[16], shares[16];
    const char *argv[7];
    size_t len[7];
    const bp_script *s = script(q, "lease", err);
    redisReply *r;
    int n;

    if (s == NULL || active_key(q, active, sizeof(active), err) != 0)
        return -1;
    lease_args(q, active, max < cap ? max : cap, share, dur, maxs, shares, argv, len);
    r = bp_script_run(c, s, 1, 7, argv, len, err);
    if (r == NULL) {
        bp_err_prefix(err, "queue '%s': script 'lease'", q->name);
        return -1;
    }
    n = leased_from_reply(q, r, out, cap, err);
    freeReplyObject(r);
    if (n > 0)
        schedule_repeats(c, q, out, n);
    return n;
}

/* The returnvalue as JSON text: what is not JSON is stored as a JSON string (as
 * bp_queue_complete does). *quoted gets what the caller frees. */
static const char *json_value(const bp_lease_done *d, size_t *len, char **quoted)
{
    json_t *v;

    *quoted = NULL;
    *len = d->len;
    if (d->value == NULL) {
        *len = 4;
        return "null";
    }
    v = json_loadb(d->value, d->len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL,
                   NULL);
    if (v != NULL) {
        json_decref(v);
        return d->value;
    }
    v = json_stringn_nocheck(d->value, d->len);
    *quoted = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    if (*quoted == NULL)
        return NULL;
    *len = strlen(*quoted);
    return *quoted;
}

typedef struct finish_call {
    const char *argv[BP_LEASE_ARGS];
    size_t len[BP_LEASE_ARGS];
    char now[24], dur[16], started[24], points[16];
    char *quoted;
} finish_call;

static int finish_call_make(finish_call *f, const bp_queue *q, const char *active,
                            const bp_lease_done *d, int64_t now_ms)
{
    size_t vlen;
    const char *v = json_value(d, &vlen, &f->quoted);

    if (v == NULL)
        return -1;
    snprintf(f->now, sizeof(f->now), "%" PRId64, now_ms);
    snprintf(f->dur, sizeof(f->dur), "%d", q->lock_duration_ms);
    if (q->metrics_max_points > 0) /* Bull's metrics keys count batched completions too */
        snprintf(f->points, sizeof(f->points), "%d", q->metrics_max_points);
    else
        f->points[0] = '\0';
    if (d->started_ms > 0)
        snprintf(f->started, sizeof(f->started), "%" PRId64, d->started_ms);
    else
        f->started[0] = '\0';
    const char *a[BP_LEASE_ARGS] = {active,    q->key_base, q->token,  d->job->id, "completed",
                                    v,         f->now,      "",        "0",        f->dur,
                                    f->points, "0",         f->started};
    for (int i = 0; i < BP_LEASE_ARGS; i++) {
        f->argv[i] = a[i];
        f->len[i] = i == 5 ? vlen : strlen(a[i]);
    }
    return 0;
}

static int is_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

static int finish_code(const redisReply *r)
{
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->type == REDIS_REPLY_INTEGER)
        return (int)r->element[0]->integer;
    return -100; /* an error reply or a foreign shape: nothing known to be recorded */
}

int bp_queue_complete_batch(bp_conn *c, const bp_queue *q, const bp_lease_done *done, int n,
                            int *done_codes, int lease_max, int share, bp_job **leased, int cap,
                            int *n_leased, bp_err *err)
{
    const bp_script *fin = script(q, "finish", err);
    const bp_script *lease = script(q, "lease", err);
    char active[512], dur[16], maxs[16], shares[16];
    const char *largv[7];
    size_t llen[7];
    finish_call *calls;
    int64_t now_ms = bp_now_ms();
    int appended = 0, rc = 0;
    bool want_lease = lease_max > 0 && cap > 0 && leased != NULL;

    if (n_leased != NULL)
        *n_leased = 0;
    if (fin == NULL || lease == NULL || active_key(q, active, sizeof(active), err) != 0)
        return -1;
    calls = calloc((size_t)(n > 0 ? n : 1), sizeof(*calls));
    if (calls == NULL) {
        bp_err_set(err, BP_ERR_IO, 12, "queue '%s': out of memory for a batch", q->name);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (finish_call_make(&calls[i], q, active, &done[i], now_ms) != 0 ||
            bp_script_append(c, fin, 1, BP_LEASE_ARGS, calls[i].argv, calls[i].len, err) != 0) {
            rc = -1;
            break;
        }
        appended++;
    }
    if (rc == 0 && want_lease) {
        lease_args(q, active, lease_max < cap ? lease_max : cap, share, dur, maxs, shares, largv,
                   llen);
        if (bp_script_append(c, lease, 1, 7, largv, llen, err) != 0)
            rc = -1;
        else
            appended++;
    }
    /* read every reply that was queued first (the connection must be in step before a
     * NOSCRIPT is redone with a command of its own), then look at them in order */
    redisReply **rs = calloc((size_t)(appended > 0 ? appended : 1), sizeof(*rs));
    int got = 0;
    if (rs == NULL) {
        bp_err_set(err, BP_ERR_IO, 12, "queue '%s': out of memory for a batch", q->name);
        rc = -1;
    }
    for (; rs != NULL && got < appended; got++) {
        bp_err rerr = {0};
        if (bp_conn_read_reply(c, &rs[got], -1, -1, &rerr) != 0) {
            if (rc == 0)
                *err = rerr;
            rc = -1;
            break; /* the connection is broken now: the caller reconnects */
        }
    }
    for (int i = 0; rs != NULL && i < got; i++) {
        redisReply *r = rs[i];
        bp_err rerr = {0};
        bool is_lease = want_lease && i == appended - 1 && i >= n;

        if (is_noscript(r) && rc == 0) { /* redo it with the script loaded */
            freeReplyObject(r);
            rs[i] = r = is_lease ? bp_script_run(c, lease, 1, 7, largv, llen, &rerr)
                                 : bp_script_run(c, fin, 1, BP_LEASE_ARGS, calls[i].argv,
                                                 calls[i].len, &rerr);
            if (r == NULL) {
                *err = rerr;
                rc = -1;
                continue;
            }
        }
        if (r == NULL)
            continue;
        if (is_lease) {
            int k = r->type == REDIS_REPLY_ERROR ? -1 : leased_from_reply(q, r, leased, cap, &rerr);
            if (k < 0 && rc == 0) {
                bp_err_set(err, BP_ERR_REPLY, 0, "queue '%s': script 'lease': %s", q->name,
                           r->type == REDIS_REPLY_ERROR ? r->str : rerr.msg);
                rc = -1;
            } else if (k > 0 && n_leased != NULL) {
                *n_leased = k;
            }
        } else if (done_codes != NULL) {
            done_codes[i] = finish_code(r);
        }
    }
    for (int i = 0; rs != NULL && i < got; i++)
        if (rs[i] != NULL)
            freeReplyObject(rs[i]);
    free(rs);
    if (rc == 0 && n_leased != NULL && *n_leased > 0)
        schedule_repeats(c, q, leased, *n_leased);
    for (int i = 0; i < n; i++)
        free(calls[i].quoted);
    free(calls);
    return rc;
}

/* lease.lua mode with ids (and values) from ARGV[4]; returns the reply's integer or array
 * size, -1 on error. */
static int ids_call(bp_conn *c, const bp_queue *q, const char *token, const char *mode,
                    const char *const *ids, const int64_t *values, int n, bp_err *err)
{
    const bp_script *s = script(q, "lease", err);
    char active[512];
    const char *argv[4 + 2 * BP_LEASE_IDS];
    size_t len[4 + 2 * BP_LEASE_IDS];
    char nums[BP_LEASE_IDS][24];
    int argc = 4, total = 0;

    if (s == NULL || active_key(q, active, sizeof(active), err) != 0)
        return -1;
    if (n > BP_LEASE_IDS)
        n = BP_LEASE_IDS; /* a lease is never this long */
    argv[0] = active;
    argv[1] = q->key_base;
    argv[2] = token;
    argv[3] = mode;
    for (int i = 0; i < n; i++) {
        argv[argc++] = ids[i];
        if (values != NULL) {
            snprintf(nums[i], sizeof(nums[i]), "%" PRId64, values[i]);
            argv[argc++] = nums[i];
        }
    }
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    redisReply *r = bp_script_run(c, s, 1, argc, argv, len, err);
    if (r == NULL) {
        bp_err_prefix(err, "queue '%s': script 'lease' (%s)", q->name, mode);
        return -1;
    }
    if (r->type == REDIS_REPLY_INTEGER)
        total = (int)r->integer;
    else if (r->type == REDIS_REPLY_ARRAY)
        total = (int)r->elements;
    freeReplyObject(r);
    return total;
}

int bp_queue_mark_started(bp_conn *c, const bp_queue *q, const char *const *ids,
                          const int64_t *started_ms, int n, bp_err *err)
{
    if (n <= 0)
        return 0;
    return ids_call(c, q, q->token, "mark", ids, started_ms, n, err);
}

int bp_queue_lease_return(bp_conn *c, const bp_queue *q, const char *const *ids, int n, bp_err *err)
{
    if (n <= 0)
        return 0;
    return ids_call(c, q, q->token, "return", ids, NULL, n, err);
}

int bp_queue_lease_return_token(bp_conn *c, const bp_queue *q, const char *token,
                                const char *running_id, bp_err *err)
{
    const char *id = running_id != NULL ? running_id : "";

    return ids_call(c, q, token, "return_token", &id, NULL, 1, err);
}
