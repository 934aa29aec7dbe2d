/* bp_queue.c -- the Bull v4 queue protocol on the C side: keys, job parsing, and one call of
 * one Lua script (common/lua/) per operation.
 *
 * Every state change happens inside a script, so each operation is atomic the way Bull's
 * are (bull-protocol.md §13); this file only builds argument vectors and reads replies. The
 * argv of a call lives on the stack: keys and numbers are formatted into fixed buffers and
 * the large strings (data, returnvalue, reason) are passed by pointer, never copied. Time is
 * always the caller's wall clock in integer ms (bp_now_ms()), never Redis TIME. Every error
 * names the queue, the script and the job. */
#include "bp_queue.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>
#include <jansson.h>

#include "bp_log.h"
#include "bp_queue_internal.h"
#include "bp_scripts.h"
#include "bp_time.h"

#define BP_ARGS_MAX 16  /* the longest script call (add) has 13 entries */
#define BP_KEY_MAX  512 /* key_base (< 400) plus the longest suffix we build */

/* The keys and arguments of one script call, on the caller's stack. */
typedef struct bp_args {
    int n;                      /* entries used */
    const char *v[BP_ARGS_MAX]; /* borrowed strings */
    size_t len[BP_ARGS_MAX];    /* their lengths */
} bp_args;

static void args_add(bp_args *a, const char *s, size_t len)
{
    a->v[a->n] = s;
    a->len[a->n] = len;
    a->n++;
}

static void args_str(bp_args *a, const char *s)
{
    args_add(a, s, strlen(s));
}

void bp_queue_init(bp_queue *q, const char *prefix, const char *name, const char *token,
                   int lock_duration_ms, int stalled_interval_ms, int max_stalled)
{
    memset(q, 0, sizeof(*q));
    snprintf(q->prefix, sizeof(q->prefix), "%s", prefix != NULL ? prefix : "bull");
    snprintf(q->name, sizeof(q->name), "%s", name);
    snprintf(q->key_base, sizeof(q->key_base), "%s:%s:", q->prefix, q->name);
    if (token != NULL && token[0] != '\0')
        snprintf(q->token, sizeof(q->token), "%s", token);
    else
        bp_uuid4(q->token);
    q->lock_duration_ms = lock_duration_ms > 0 ? lock_duration_ms : 30000;
    q->stalled_interval_ms = stalled_interval_ms > 0 ? stalled_interval_ms : 30000;
    q->max_stalled = max_stalled >= 0 ? max_stalled : 1;
    bp_queue_set_limits(q, 0, 0, NULL, 0, 1000, 2048);
}

int bp_queue_key(const bp_queue *q, const char *suffix, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s%s", q->key_base, suffix);

    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
}

/* K(suffix) into buf (BP_KEY_MAX); err names the key when it does not fit. */
static int key_of(const bp_queue *q, const char *suffix, char *buf, bp_err *err)
{
    int n = bp_queue_key(q, suffix, buf, BP_KEY_MAX);

    if (n < 0)
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "queue '%s': key '%s%s' is longer than %d bytes; use a shorter job id", q->name,
                   q->key_base, suffix, BP_KEY_MAX - 1);
    return n;
}

int bp_queue_delayed_score(int64_t due_ms, uint64_t low, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%" PRIu64, (uint64_t)due_ms * 4096u + (low & 4095u));

    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
}

uint64_t bp_queue_id_low_bits(const char *id)
{
    char *end;
    unsigned long long v;

    if (id == NULL || id[0] < '0' || id[0] > '9')
        return 0;
    v = strtoull(id, &end, 10);
    if (*end != '\0')
        return 0;
    return v & 4095u;
}

/* Run script name; on failure err reads "queue 'q': script 'finish' for job 42: <why>". */
static redisReply *run(bp_conn *c, const bp_queue *q, const char *name, const char *job_id,
                       int numkeys, bp_args *a, bp_err *err)
{
    const bp_script *s = bp_script_get(name);
    redisReply *r;

    if (s == NULL) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "queue '%s': script '%s' is not embedded in this binary "
                   "(common/lua/%s.lua); rebuild bullpen",
                   q->name, name, name);
        return NULL;
    }
    r = bp_script_run(c, s, numkeys, a->n, a->v, a->len, err);
    if (r == NULL) {
        if (job_id != NULL)
            bp_err_prefix(err, "queue '%s': script '%s' for job %s", q->name, name, job_id);
        else
            bp_err_prefix(err, "queue '%s': script '%s'", q->name, name);
    }
    return r;
}

/* The reply did not have the shape the script returns: a bug or a foreign script. */
static void bad_reply(const bp_queue *q, const char *name, const char *job_id, const redisReply *r,
                      bp_err *err)
{
    bp_err_set(err, BP_ERR_PROTOCOL, 0,
               "queue '%s': script '%s'%s%s: unexpected reply (type %d); is another program "
               "using a script with the same SHA-1?",
               q->name, name, job_id != NULL ? " for job " : "", job_id != NULL ? job_id : "",
               r != NULL ? r->type : -1);
}

static char *dup_str(const redisReply *e, const char *fallback, size_t *len_out)
{
    const char *s = fallback;
    size_t len = strlen(fallback);
    char *p;

    if (e != NULL && e->type == REDIS_REPLY_STRING) {
        s = e->str;
        len = e->len;
    }
    p = malloc(len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    if (len_out != NULL)
        *len_out = len;
    return p;
}

static int64_t int_of(const redisReply *e)
{
    if (e == NULL)
        return 0;
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

/* attempts and timeout from the opts JSON (Bull: parseInt(attempts), default 1). Text that
 * is not JSON is read as {} so the job still runs; the Lua side does the same. */
static void read_opts(bp_job *job)
{
    json_t *o = json_loads(job->opts, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
    json_t *v;

    job->attempts = 1;
    job->timeout_ms = 0;
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    /* any producer can write any number here: clamp before converting (a double beyond the
     * integer's range is undefined behaviour to cast) */
    v = json_object_get(o, "attempts"); /* borrowed */
    if (json_is_number(v) && json_number_value(v) >= 1)
        job->attempts = json_number_value(v) >= INT_MAX ? INT_MAX : (int)json_number_value(v);
    else if (json_is_string(v) && atoi(json_string_value(v)) >= 1)
        job->attempts = atoi(json_string_value(v));
    v = json_object_get(o, "timeout");
    if (json_is_number(v) && json_number_value(v) > 0)
        job->timeout_ms = json_number_value(v) >= (double)BP_QUEUE_MAX_MS
                              ? BP_QUEUE_MAX_MS
                              : (int64_t)json_number_value(v);
    json_decref(o);
}

int bp_job_from_reply(const redisReply *r, int64_t processed_on, bp_job **out, bp_err *err)
{
    bp_job *job;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 7 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "job reply is not {id, name, data, opts, attemptsMade, timestamp, "
                   "stalledCounter}");
        return -1;
    }
    job = calloc(1, sizeof(*job));
    if (job == NULL)
        goto out_nomem;
    job->id = dup_str(r->element[0], "", NULL);
    job->name = dup_str(r->element[1], "__default__", NULL);
    job->data = dup_str(r->element[2], "{}", &job->data_len);
    job->opts = dup_str(r->element[3], "{}", NULL);
    if (job->id == NULL || job->name == NULL || job->data == NULL || job->opts == NULL)
        goto out_free_job;
    job->attempts_made = (int)int_of(r->element[4]);
    job->timestamp = int_of(r->element[5]);
    job->stalled_counter = (int)int_of(r->element[6]);
    job->processed_on = processed_on;
    read_opts(job);
    *out = job;
    return 0;

out_free_job:
    bp_job_free(job);
out_nomem:
    bp_err_set(err, BP_ERR_IO, 12, "out of memory reading job %.*s",
               (int)(r->element[0]->len > 64 ? 64 : r->element[0]->len), r->element[0]->str);
    return -1;
}

void bp_job_free(bp_job *job)
{
    if (job == NULL)
        return;
    free(job->id);
    free(job->name);
    free(job->data);
    free(job->opts);
    free(job->fail_reason);
    free(job);
}

int bp_queue_pull(bp_conn *bclient, const bp_queue *q, int block_s, int wake_fd, char **id_out,
                  bp_err *err)
{
    char wait[BP_KEY_MAX], active[BP_KEY_MAX], secs[16];
    const char *argv[4] = {"BRPOPLPUSH", wait, active, secs};
    size_t len[4] = {10, 0, 0, 0};
    redisReply *r;
    int rc = -1;

    if (key_of(q, "wait", wait, err) < 0 || key_of(q, "active", active, err) < 0)
        return -1;
    len[1] = strlen(wait);
    len[2] = strlen(active);
    len[3] = (size_t)snprintf(secs, sizeof(secs), "%d", block_s > 0 ? block_s : 0);
    r = bp_conn_blocking_argv(bclient, 4, argv, len, block_s, wake_fd, err);
    if (r == NULL) {
        if (err != NULL && err->kind != BP_ERR_WOKEN)
            bp_err_prefix(err, "queue '%s': BRPOPLPUSH", q->name);
        return -1;
    }
    if (r->type == REDIS_REPLY_NIL) {
        rc = 0;
    } else if (r->type == REDIS_REPLY_STRING) {
        *id_out = dup_str(r, "", NULL);
        if (*id_out == NULL)
            bp_err_set(err, BP_ERR_IO, 12, "queue '%s': out of memory after BRPOPLPUSH", q->name);
        else
            rc = 1;
    } else {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "queue '%s': BRPOPLPUSH: unexpected reply type %d",
                   q->name, r->type);
    }
    freeReplyObject(r);
    return rc;
}

/* A taken repeatable job schedules its next occurrence before it runs, as Bull's worker
 * does. A failure is logged, not returned: the job itself was taken and must run, unless
 * its repeat options are ones Bull's worker would throw on (job->fail_reason). */
static void schedule_repeat(bp_conn *c, const bp_queue *q, bp_job *job)
{
    bp_err err;
    int rc;

    if (strstr(job->opts, "\"repeat\"") == NULL)
        return;
    err.msg[0] = '\0';
    rc = bp_queue_repeat_next(c, q, job, &err);
    if (rc == -2) {
        bp_log_warn("queue '%s': job %s: its repeat cannot be scheduled: %s; the job fails "
                    "without running (fix repeat.cron or repeat.tz and add the repeatable "
                    "again)",
                    q->name, job->id, err.msg);
        job->fail_reason = strdup(err.msg);
    } else if (rc < 0) {
        bp_log_warn("%s; the repeat stops here unless a Bull worker schedules it", err.msg);
    }
}

/* take.lua with id ("" = pop). */
static int take(bp_conn *c, const bp_queue *q, const char *id, bp_job **out, bp_err *err)
{
    char active[BP_KEY_MAX], dur[16], now[24], lmax[16], ldur[16];
    int64_t now_ms = bp_now_ms();
    bp_args a = {0};
    redisReply *r;
    int rc = -1;

    if (key_of(q, "active", active, err) < 0)
        return -1;
    args_str(&a, active);
    args_str(&a, q->key_base);
    args_str(&a, q->token);
    args_add(&a, dur, (size_t)snprintf(dur, sizeof(dur), "%d", q->lock_duration_ms));
    args_add(&a, now, (size_t)snprintf(now, sizeof(now), "%" PRId64, now_ms));
    args_str(&a, id);
    if (q->limiter_max > 0) {
        args_add(&a, lmax, (size_t)snprintf(lmax, sizeof(lmax), "%d", q->limiter_max));
        args_add(&a, ldur, (size_t)snprintf(ldur, sizeof(ldur), "%d", q->limiter_duration_ms));
        args_add(&a, q->limiter_group_key[0] != '\0' ? "1" : "0", 1);
    }
    r = run(c, q, "take", id[0] != '\0' ? id : NULL, 1, &a, err);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_NIL) {
        rc = 0; /* nothing waiting */
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        rc = 0; /* the hash vanished: dropped from active */
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        rc = 2; /* the rate limiter parked it in delayed */
    } else if (bp_job_from_reply(r, now_ms, out, err) == 0) {
        rc = 1;
        schedule_repeat(c, q, *out);
        if (bp_conn_wait_replicas(c, err) != 0) { /* the take (and its pull) must survive */
            bp_err_prefix(err, "queue '%s': take of job %s", q->name, (*out)->id);
            bp_job_free(*out);
            *out = NULL;
            rc = -1;
        }
    } else {
        bp_err_prefix(err, "queue '%s': script 'take'%s%s", q->name, id[0] ? " for job " : "", id);
    }
    freeReplyObject(r);
    return rc;
}

int bp_queue_take(bp_conn *c, const bp_queue *q, const char *id, bp_job **out, bp_err *err)
{
    if (id == NULL || id[0] == '\0') {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "queue '%s': take needs the pulled job id", q->name);
        return -1;
    }
    return take(c, q, id, out, err);
}

int bp_queue_take_next(bp_conn *c, const bp_queue *q, bp_job **out, bp_err *err)
{
    return take(c, q, "", out, err);
}

/* The codes finish.lua returns when it moved nothing (bull-protocol.md §7.8). */
static void explain_untouched(const bp_queue *q, const char *id, long long code, bp_err *err)
{
    const char *why;

    switch (code) {
    case -1:
        why = "its hash is gone (removed while active); nothing was moved";
        break;
    case -2:
        why = "its lock expired (renew it within lock_duration_ms); left for the stalled check";
        break;
    case -6:
        why = "its lock is held by another worker; left to that worker";
        break;
    case -3:
        why = "it is no longer in the active list; nothing was moved";
        break;
    default:
        why = "no job in active holds this token";
        break;
    }
    bp_err_set(err, BP_ERR_NONE, 0, "queue '%s': job %s: %s", q->name, id, why);
}

/* finish.lua. id "" = the job whose lock holds token (fail_token). Returns 1 moved, 0
 * untouched (err says why), -1 error. */
static int finish(bp_conn *c, const bp_queue *q, const char *token, const char *id, bool completed,
                  const char *value, size_t value_len, const char *stack, bool fetch_next,
                  bool discard, bp_job **next, bp_err *err)
{
    char active[BP_KEY_MAX], dur[16], now[24], points[16];
    int64_t now_ms = bp_now_ms();
    bp_args a = {0};
    redisReply *r;
    long long code;
    int rc = -1;

    if (next != NULL)
        *next = NULL;
    if (key_of(q, "active", active, err) < 0)
        return -1;
    args_str(&a, active);
    args_str(&a, q->key_base);
    args_str(&a, token);
    args_str(&a, id);
    args_add(&a, completed ? "completed" : "failed", completed ? 9 : 6);
    args_add(&a, value, value_len);
    args_add(&a, now, (size_t)snprintf(now, sizeof(now), "%" PRId64, now_ms));
    args_str(&a, stack != NULL ? stack : "");
    /* no fetch-next with a rate limiter, as in Bull: every take must pass take.lua's limiter */
    args_add(&a, fetch_next && next != NULL && q->limiter_max == 0 ? "1" : "0", 1);
    args_add(&a, dur, (size_t)snprintf(dur, sizeof(dur), "%d", q->lock_duration_ms));
    if (q->metrics_max_points > 0)
        args_add(&a, points, (size_t)snprintf(points, sizeof(points), "%d", q->metrics_max_points));
    else
        args_add(&a, "", 0);
    args_add(&a, discard ? "1" : "0", 1);
    r = run(c, q, "finish", id[0] != '\0' ? id : NULL, 1, &a, err);
    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        bad_reply(q, "finish", id, r, err);
        goto out_free_reply;
    }
    code = r->element[0]->integer;
    if (code >= 1) {
        rc = 1;
    } else {
        explain_untouched(q, r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : id,
                          code, err);
        rc = 0;
    }
    if (r->element[1]->type == REDIS_REPLY_ARRAY && next != NULL) {
        if (bp_job_from_reply(r->element[1], now_ms, next, err) != 0) {
            /* the fetched job sits locked in active: the stalled check returns it */
            bp_err_prefix(err, "queue '%s': script 'finish' for job %s: fetched job", q->name, id);
            rc = -1;
        } else {
            schedule_repeat(c, q, *next);
        }
    }
    if (rc >= 0 && bp_conn_wait_replicas(c, err) != 0) {
        /* not durable yet: the caller retries (the script is idempotent); a fetched job
         * stays locked in active for the stalled check */
        bp_err_prefix(err, "queue '%s': finish of job %s", q->name, id);
        if (next != NULL && *next != NULL) {
            bp_job_free(*next);
            *next = NULL;
        }
        rc = -1;
    }
out_free_reply:
    freeReplyObject(r);
    return rc;
}

int bp_queue_complete(bp_conn *c, const bp_queue *q, const bp_job *job, const char *returnvalue,
                      size_t len, bool fetch_next, bp_job **next, bp_err *err)
{
    json_t *v;
    char *quoted = NULL;
    int rc;

    if (returnvalue == NULL) {
        returnvalue = "null"; /* Bull stores null for an undefined result */
        len = 4;
    }
    /* returnvalue must be JSON (Bull JSON.parses it for getJob and job.finished()): text
     * that is not is stored as a JSON string instead of corrupting the job for Bull */
    v = json_loadb(returnvalue, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL,
                   NULL);
    if (v == NULL) {
        json_t *str = json_stringn_nocheck(returnvalue, len);
        quoted = json_dumps(str, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(str);
        if (quoted == NULL) {
            bp_err_set(err, BP_ERR_IO, 12, "queue '%s': job %s: out of memory quoting its result",
                       q->name, job->id);
            return -1;
        }
        bp_log_debug("queue '%s': job %s: the result is not JSON; stored as a JSON string", q->name,
                     job->id);
        returnvalue = quoted;
        len = strlen(quoted);
    }
    json_decref(v);
    rc =
        finish(c, q, q->token, job->id, true, returnvalue, len, NULL, fetch_next, false, next, err);
    free(quoted);
    return rc;
}

int bp_queue_fail(bp_conn *c, const bp_queue *q, const bp_job *job, const char *reason,
                  const char *stack, bool fetch_next, bp_job **next, bp_err *err)
{
    if (reason == NULL)
        reason = "";
    return finish(c, q, q->token, job->id, false, reason, strlen(reason), stack, fetch_next, false,
                  next, err);
}

int bp_queue_fail_final(bp_conn *c, const bp_queue *q, const bp_job *job, const char *reason,
                        const char *stack, bool fetch_next, bp_job **next, bp_err *err)
{
    if (reason == NULL)
        reason = "";
    return finish(c, q, q->token, job->id, false, reason, strlen(reason), stack, fetch_next, true,
                  next, err);
}

int bp_queue_fail_token(bp_conn *c, const bp_queue *q, const char *token, const char *reason,
                        bp_err *err)
{
    int rc;

    if (reason == NULL)
        reason = "";
    rc = finish(c, q, token, "", false, reason, strlen(reason), NULL, false, false, NULL, err);
    if (rc == 0 && err != NULL)
        err->msg[0] = '\0';
    return rc;
}

int bp_queue_extend_lock(bp_conn *c, const bp_queue *q, const char *job_id, bp_err *err)
{
    char lock[BP_KEY_MAX], stalled[BP_KEY_MAX], dur[16], suffix[BP_KEY_MAX];
    bp_args a = {0};
    redisReply *r;
    int rc = -1;

    if (snprintf(suffix, sizeof(suffix), "%s:lock", job_id) >= (int)sizeof(suffix) ||
        key_of(q, suffix, lock, err) < 0 || key_of(q, "stalled", stalled, err) < 0)
        return -1;
    args_str(&a, lock);
    args_str(&a, stalled);
    args_str(&a, q->token);
    args_add(&a, dur, (size_t)snprintf(dur, sizeof(dur), "%d", q->lock_duration_ms));
    args_str(&a, job_id);
    r = run(c, q, "extend_lock", job_id, 2, &a, err);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_INTEGER)
        rc = r->integer == 1 ? 1 : 0;
    else
        bad_reply(q, "extend_lock", job_id, r, err);
    freeReplyObject(r);
    return rc;
}

int bp_queue_progress(bp_conn *c, const bp_queue *q, const char *job_id, const char *progress,
                      bp_err *err)
{
    char jk[BP_KEY_MAX], chan[BP_KEY_MAX];
    bp_args a = {0};
    redisReply *r;
    json_t *v;
    char *quoted = NULL;

    if (key_of(q, job_id, jk, err) < 0 || key_of(q, "progress", chan, err) < 0)
        return -1;
    if (progress == NULL || progress[0] == '\0')
        progress = "0";
    /* the event nests the value as JSON: text that is not JSON goes in as a JSON string, or
     * every Bull listener would fail to parse the event */
    v = json_loads(progress, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
    if (v == NULL) {
        json_t *s = json_string(progress);
        quoted = s != NULL ? json_dumps(s, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        json_decref(s);
        if (quoted == NULL) {
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "queue '%s': job %s: progress is neither JSON nor UTF-8 text", q->name,
                       job_id);
            return -1;
        }
        progress = quoted;
    }
    json_decref(v);
    args_str(&a, jk);
    args_str(&a, chan);
    args_str(&a, job_id);
    args_str(&a, progress);
    r = run(c, q, "progress", job_id, 2, &a, err);
    free(quoted);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    return 0;
}

int bp_queue_log(bp_conn *c, const bp_queue *q, const char *job_id, const char *line, bp_err *err)
{
    char jk[BP_KEY_MAX], logs[BP_KEY_MAX], suffix[BP_KEY_MAX], keep[16];
    bp_args a = {0};
    redisReply *r;

    if (q->log_max_lines == 0)
        return 0; /* job logs are off for this queue */
    if (line == NULL)
        line = "";
    if (snprintf(suffix, sizeof(suffix), "%s:logs", job_id) >= (int)sizeof(suffix) ||
        key_of(q, job_id, jk, err) < 0 || key_of(q, suffix, logs, err) < 0)
        return -1;
    args_str(&a, jk);
    args_str(&a, logs);
    args_add(&a, line, bp_queue_log_cut(line, (size_t)q->log_max_line_bytes));
    args_add(&a, keep, (size_t)snprintf(keep, sizeof(keep), "%d", q->log_max_lines));
    r = run(c, q, "log", job_id, 2, &a, err);
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    return 0;
}

int bp_queue_promote(bp_conn *c, const bp_queue *q, int64_t *next_due_ms, bp_err *err)
{
    char delayed[BP_KEY_MAX], now[24];
    bp_args a = {0};
    redisReply *r;
    int rc = -1;

    if (key_of(q, "delayed", delayed, err) < 0)
        return -1;
    args_str(&a, delayed);
    args_str(&a, q->key_base);
    args_add(&a, now, (size_t)snprintf(now, sizeof(now), "%" PRId64, bp_now_ms()));
    args_str(&a, q->token);
    r = run(c, q, "promote", NULL, 1, &a, err);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_INTEGER) {
        if (next_due_ms != NULL)
            *next_due_ms = int_of(r->element[1]);
        rc = (int)r->element[0]->integer;
    } else {
        bad_reply(q, "promote", NULL, r, err);
    }
    freeReplyObject(r);
    return rc;
}

/* Log each id of a stalled.lua result list at notice level (the caller gets only a count). */
static int log_ids(const bp_queue *q, const redisReply *list, const char *what, const char *cause)
{
    if (list->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < list->elements; i++)
        if (list->element[i]->type == REDIS_REPLY_STRING)
            bp_log_notice("queue '%s': job %s %s (%s)", q->name, list->element[i]->str, what,
                          cause);
    return (int)list->elements;
}

/* Copy the parallel lists ids / processedOns of a stalled.lua reply into out (at most cap). */
static int collect_orphans(const redisReply *ids, const redisReply *pons, bp_orphan *out, int cap)
{
    int n = 0;

    if (out == NULL || ids->type != REDIS_REPLY_ARRAY || pons->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < ids->elements && i < pons->elements && n < cap; i++) {
        const redisReply *id = ids->element[i], *p = pons->element[i];
        if (id->type != REDIS_REPLY_STRING || id->len >= sizeof(out[n].id))
            continue;
        memcpy(out[n].id, id->str, id->len + 1);
        snprintf(out[n].processed_on, sizeof(out[n].processed_on), "%s",
                 p->type == REDIS_REPLY_STRING ? p->str : "");
        out[n].put_back = false;
        n++;
    }
    return n;
}

/* stalled.lua in mode "check", "token" or "settle" (arg is the token or the candidates). */
static int stalled(bp_conn *c, const bp_queue *q, const char *mode, const char *arg,
                   const char *reason, bp_orphan *put_back, int cap, int *n_4th, bp_err *err)
{
    char active[BP_KEY_MAX], now[24], ivl[16], max[16];
    bp_args a = {0};
    redisReply *r;
    const char *cause = strcmp(mode, "token") == 0 ? reason
                        : strcmp(mode, "settle") == 0
                            ? "pulled by a worker that died before it locked the job"
                            : "its lock expired: stalled";
    int rc = -1;

    if (key_of(q, "active", active, err) < 0)
        return -1;
    args_str(&a, active);
    args_str(&a, q->key_base);
    args_add(&a, now, (size_t)snprintf(now, sizeof(now), "%" PRId64, bp_now_ms()));
    args_add(&a, ivl, (size_t)snprintf(ivl, sizeof(ivl), "%d", q->stalled_interval_ms));
    args_add(&a, max, (size_t)snprintf(max, sizeof(max), "%d", q->max_stalled));
    args_str(&a, mode);
    args_str(&a, arg);
    args_str(&a, reason);
    r = run(c, q, "stalled", NULL, 1, &a, err);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 3) {
        rc = log_ids(q, r->element[0], "failed: stalled more than max_stalled", cause);
        rc += log_ids(q, r->element[1], "moved back to wait", cause);
        if (r->elements >= 4 && strcmp(mode, "settle") == 0) {
            int k = log_ids(q, r->element[3], "moved back to wait, not counted as a stall", cause);
            rc += k;
            if (n_4th != NULL)
                *n_4th = k;
        } else if (r->elements >= 4 && n_4th != NULL) {
            *n_4th = collect_orphans(r->element[1], r->element[3], put_back, cap);
        }
    } else {
        bad_reply(q, "stalled", NULL, r, err);
    }
    freeReplyObject(r);
    return rc;
}

int bp_queue_check_stalled(bp_conn *c, const bp_queue *q, bp_err *err)
{
    return stalled(c, q, "check", "", "", NULL, 0, NULL, err);
}

int bp_queue_list_orphans(bp_conn *c, const bp_queue *q, bp_orphan *out, int cap, bp_err *err)
{
    char active[BP_KEY_MAX], now[24], ivl[16], max[16];
    bp_args a = {0};
    redisReply *r;
    int n = 0;

    if (key_of(q, "active", active, err) < 0)
        return -1;
    args_str(&a, active);
    args_str(&a, q->key_base);
    args_add(&a, now, (size_t)snprintf(now, sizeof(now), "%" PRId64, bp_now_ms()));
    args_add(&a, ivl, (size_t)snprintf(ivl, sizeof(ivl), "%d", q->stalled_interval_ms));
    args_add(&a, max, (size_t)snprintf(max, sizeof(max), "%d", q->max_stalled));
    args_str(&a, "orphans");
    r = run(c, q, "stalled", NULL, 1, &a, err);
    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        bad_reply(q, "stalled", NULL, r, err);
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i + 1 < r->elements && n < cap; i += 2) {
        const redisReply *id = r->element[i], *p = r->element[i + 1];
        if (id->type != REDIS_REPLY_STRING || id->len >= sizeof(out[n].id))
            continue; /* left to the stalled check */
        memcpy(out[n].id, id->str, id->len + 1);
        snprintf(out[n].processed_on, sizeof(out[n].processed_on), "%s",
                 p->type == REDIS_REPLY_STRING ? p->str : "");
        out[n].put_back = false;
        n++;
    }
    freeReplyObject(r);
    return n;
}

int bp_queue_settle_orphans(bp_conn *c, const bp_queue *q, const bp_orphan *cand, int n,
                            int *unstalled, bp_err *err)
{
    json_t *list = json_array();
    char *text;
    char dur[16];
    int rc;

    if (unstalled != NULL)
        *unstalled = 0;
    if (n <= 0) {
        json_decref(list);
        return 0;
    }
    for (int i = 0; i < n; i++) /* json_array_append_new steals the new array */
        json_array_append_new(
            list, json_pack("[s, s, b]", cand[i].id, cand[i].processed_on, cand[i].put_back));
    text = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    if (text == NULL) {
        bp_err_set(err, BP_ERR_IO, ENOMEM, "queue '%s': out of memory", q->name);
        return -1;
    }
    snprintf(dur, sizeof(dur), "%d", q->lock_duration_ms);
    rc = stalled(c, q, "settle", text, dur, NULL, 0, unstalled, err);
    free(text);
    return rc;
}

int bp_queue_recover_token(bp_conn *c, const bp_queue *q, const char *token, const char *reason,
                           bp_orphan *put_back, int cap, int *n_put_back, bp_err *err)
{
    int n = 0, rc;

    if (token == NULL || token[0] == '\0') {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "queue '%s': recover needs the dead worker's token",
                   q->name);
        return -1;
    }
    rc = stalled(c, q, "token", token, reason != NULL ? reason : "worker died", put_back, cap, &n,
                 err);
    if (n_put_back != NULL)
        *n_put_back = rc >= 0 ? n : 0;
    return rc;
}

int bp_queue_add(bp_conn *c, const bp_queue *q, const char *name, const char *data,
                 const char *opts, char **id_out, bp_err *err)
{
    char wait[BP_KEY_MAX], ts[24], delay[24], prio[24], ttl[24];
    bp_add_plan plan;
    bp_args a = {0};
    redisReply *r;
    int rc = -1;

    if (key_of(q, "wait", wait, err) < 0)
        return -1;
    if (bp_add_plan_make(&plan, opts, bp_now_ms(), err) != 0) {
        bp_err_prefix(err, "queue '%s': add", q->name);
        return -1;
    }
    if (q->limiter_group_key[0] != '\0') { /* Bull's producer: the group rides in the id */
        char *gid = bp_group_job_id(plan.job_id, data, q->limiter_group_key);
        if (gid == NULL) {
            bp_err_set(err, BP_ERR_IO, 12, "queue '%s': add: out of memory", q->name);
            goto out_clear;
        }
        free(plan.job_id);
        plan.job_id = gid;
    }
    args_str(&a, wait);
    args_str(&a, q->key_base);
    args_str(&a, plan.job_id != NULL ? plan.job_id : "");
    args_str(&a, name != NULL && name[0] != '\0' ? name : "__default__");
    args_str(&a, data != NULL ? data : "{}");
    args_str(&a, plan.opts);
    args_add(&a, ts, (size_t)snprintf(ts, sizeof(ts), "%" PRId64, plan.timestamp));
    args_add(&a, delay, (size_t)snprintf(delay, sizeof(delay), "%" PRId64, plan.delay));
    args_add(&a, prio, (size_t)snprintf(prio, sizeof(prio), "%" PRId64, plan.priority));
    args_add(&a, plan.lifo ? "1" : "0", 1);
    args_str(&a, q->token);
    args_str(&a, plan.debounce_id != NULL ? plan.debounce_id : "");
    args_add(&a, ttl, (size_t)snprintf(ttl, sizeof(ttl), "%" PRId64, plan.debounce_ttl));
    r = run(c, q, "add", plan.job_id, 1, &a, err);
    if (r == NULL)
        goto out_clear;
    if (r->type == REDIS_REPLY_STRING) {
        *id_out = dup_str(r, "", NULL);
        rc = *id_out != NULL ? 0 : -1;
        if (rc != 0)
            bp_err_set(err, BP_ERR_IO, 12, "queue '%s': add: out of memory", q->name);
        if (rc == 0 && bp_conn_wait_replicas(c, err) != 0) {
            bp_err_prefix(err, "queue '%s': add of job %s", q->name, *id_out);
            free(*id_out);
            *id_out = NULL;
            rc = -1;
        }
    } else {
        bad_reply(q, "add", plan.job_id, r, err);
    }
    freeReplyObject(r);
out_clear:
    bp_add_plan_clear(&plan);
    return rc;
}

/* counts.lua: the six counts and the pause flag. */
static int counts(bp_conn *c, const bp_queue *q, long long out[8], bp_err *err)
{
    char wait[BP_KEY_MAX];
    bp_args a = {0};
    redisReply *r;
    int rc = -1;

    if (key_of(q, "wait", wait, err) < 0)
        return -1;
    args_str(&a, wait);
    args_str(&a, q->key_base);
    r = run(c, q, "counts", NULL, 1, &a, err);
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 8) {
        for (int i = 0; i < 8; i++)
            out[i] = int_of(r->element[i]);
        rc = 0;
    } else {
        bad_reply(q, "counts", NULL, r, err);
    }
    freeReplyObject(r);
    return rc;
}

int bp_queue_get_counts(bp_conn *c, const bp_queue *q, bp_queue_counts *out, bp_err *err)
{
    long long v[8];

    if (counts(c, q, v, err) != 0)
        return -1;
    out->limited = v[7];
    out->waiting = v[0];
    out->active = v[1];
    out->completed = v[2];
    out->failed = v[3];
    out->delayed = v[4];
    out->paused = v[5];
    return 0;
}

int bp_queue_is_paused(bp_conn *c, const bp_queue *q, bp_err *err)
{
    long long v[8];

    if (counts(c, q, v, err) != 0)
        return -1;
    return v[6] != 0 ? 1 : 0;
}
