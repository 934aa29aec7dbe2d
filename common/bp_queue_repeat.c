/* bp_queue_repeat.c -- repeatable jobs with `every` (bull-protocol.md §7.11): when a worker
 * takes a job whose opts carry `repeat`, it adds the next occurrence before the handler runs,
 * exactly where and under the id a Bull worker would (Bull's lib/repeatable.js), so
 * getRepeatableJobs(), removeRepeatable() and bull-board keep working.
 *
 * Like Bull this is not atomic (ZSCORE, ZADD, then the add script): a repeatable removed in
 * between gets one more occurrence, as it would with Bull. `cron` repeats need a cron parser
 * with time zones and are not scheduled here: such a job runs once and a warning says so
 * (a Bull worker on the same queue schedules them). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "bp_log.h"
#include "bp_queue_internal.h"
#include "bp_time.h"

#define BP_REPEAT_TEXT_MAX 1024 /* repeat keys and id seeds: name + ids + numbers */

/* Lower-case hex MD5 of s (Bull's crypto.createHash('md5')). */
static void md5_hex(const char *s, char out[33])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (EVP_Digest(s, strlen(s), md, &len, EVP_md5(), NULL) != 1 || len != 16) {
        out[0] = '\0';
        return;
    }
    for (unsigned int i = 0; i < len; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[32] = '\0';
}

/* JS String(n) for the numbers repeat options hold (integers in practice). */
static void js_number(double v, char *buf, size_t cap)
{
    if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(int64_t)v)
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "%.17g", v);
}

/* JS String(x) for a jobId that may be a string or a number; "" for anything else. */
static void js_text(const json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_number(v))
        js_number(json_number_value(v), buf, cap);
    else
        buf[0] = '\0';
}

int bp_repeat_plan_make(bp_repeat_plan *plan, const char *name, const char *opts_json,
                        int64_t now_ms, bp_err *err)
{
    json_t *opts = json_loads(opts_json, JSON_DECODE_ANY, NULL);
    json_t *rep = json_object_get(opts, "repeat"); /* borrowed */
    json_t *v;
    double every, prev = 0;
    int64_t count = 1, now = now_ms;
    char jobid[BP_REPEAT_TEXT_MAX], enddate[80] = ":", num[64], seed[3 * BP_REPEAT_TEXT_MAX];
    char key_md5[33], id_md5[33];
    int rc = 0;

    memset(plan, 0, sizeof(*plan));
    if (!json_is_object(rep))
        goto out_decref;
    if (json_object_get(rep, "cron") != NULL) {
        bp_err_set(err, BP_ERR_NONE, 0,
                   "cron repeats are not scheduled by bullpen: the next occurrence needs a "
                   "Bull worker on this queue, or use repeat.every");
        goto out_decref;
    }
    v = json_object_get(rep, "every");
    every = json_number_value(v);
    if (!json_is_number(v) || every <= 0)
        goto out_decref;
    v = json_object_get(opts, "prevMillis");
    if (json_is_number(v))
        prev = json_number_value(v);
    if (prev == 0 && json_object_get(opts, "jobId") != NULL)
        json_object_set(rep, "jobId", json_object_get(opts, "jobId")); /* adds a reference */
    v = json_object_get(rep, "count");
    if (json_is_number(v) && json_number_value(v) != 0)
        count = (int64_t)json_number_value(v) + 1;
    v = json_object_get(rep, "limit");
    if (json_is_number(v) && (double)count > json_number_value(v))
        goto out_decref; /* the limit is reached: no next occurrence */
    v = json_object_get(rep, "endDate");
    if (json_is_string(v)) {
        bp_err_set(err, BP_ERR_NONE, 0,
                   "repeat.endDate as a date string is not supported by bullpen; give it in "
                   "ms since the epoch");
        goto out_decref;
    }
    if (json_is_number(v)) {
        if ((double)now > json_number_value(v))
            goto out_decref;
        js_number(json_number_value(v), num, sizeof(num));
        snprintf(enddate, sizeof(enddate), "%s:", num);
    }
    if (prev > (double)now)
        now = (int64_t)prev;
    /* floor(now / every) * every + every; now and every are positive */
    plan->next_ms = (int64_t)((double)(int64_t)((double)now / every) * every + every);

    /* Bull: repeat.jobId ? repeat.jobId + ':' : ':' */
    js_text(json_object_get(rep, "jobId"), jobid, sizeof(jobid) - 1);
    strcat(jobid, ":");
    js_number(every, num, sizeof(num));
    if (asprintf(&plan->repeat_key, "%s:%s%s%s", name, jobid, enddate, num) < 0) {
        plan->repeat_key = NULL;
        goto out_nomem;
    }
    md5_hex(plan->repeat_key, key_md5);
    snprintf(seed, sizeof(seed), "%s%s%s", name, jobid, key_md5);
    md5_hex(seed, id_md5);
    if (asprintf(&plan->job_id, "repeat:%s:%" PRId64, id_md5, plan->next_ms) < 0) {
        plan->job_id = NULL;
        goto out_nomem;
    }

    /* the next occurrence's opts: Bull's defaultsDeep({repeat: {count, key}, jobId, delay,
     * timestamp, prevMillis}, opts) */
    json_object_set_new(rep, "count", json_integer(count)); /* steals */
    json_object_set_new(rep, "key", json_string(plan->repeat_key));
    json_object_set_new(opts, "jobId", json_string(plan->job_id));
    json_object_set_new(opts, "delay",
                        json_integer(plan->next_ms > now_ms ? plan->next_ms - now_ms : 0));
    json_object_set_new(opts, "timestamp", json_integer(now_ms));
    json_object_set_new(opts, "prevMillis", json_integer(plan->next_ms));
    plan->opts = json_dumps(opts, JSON_COMPACT);
    if (plan->opts == NULL)
        goto out_nomem;
    rc = 1;
    goto out_decref;

out_nomem:
    bp_err_set(err, BP_ERR_IO, 12, "out of memory planning a repeat");
    bp_repeat_plan_clear(plan);
    rc = -1;
out_decref:
    json_decref(opts);
    return rc;
}

void bp_repeat_plan_clear(bp_repeat_plan *plan)
{
    free(plan->repeat_key);
    free(plan->job_id);
    free(plan->opts);
    memset(plan, 0, sizeof(*plan));
}

int bp_queue_repeat_next(bp_conn *c, const bp_queue *q, const bp_job *job, bp_err *err)
{
    char key[BP_REPEAT_TEXT_MAX];
    const char *argv[4];
    size_t len[4];
    bp_repeat_plan plan;
    redisReply *r;
    char *id = NULL, next[24];
    int rc;

    rc = bp_repeat_plan_make(&plan, job->name, job->opts, bp_now_ms(), err);
    if (rc <= 0) {
        if (rc == 0 && err != NULL && err->msg[0] != '\0')
            bp_log_warn("queue '%s': job %s: %s", q->name, job->id, err->msg);
        return rc;
    }
    rc = -1;
    if (bp_queue_key(q, "repeat", key, sizeof(key)) < 0) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "queue '%s': repeat key too long", q->name);
        goto out_clear;
    }
    /* the repeatable may have been removed (removeRepeatable) since this job was added */
    r = bp_conn_command(c, err, "ZSCORE %s %s", key, plan.repeat_key);
    if (r == NULL)
        goto out_prefix;
    rc = r->type == REDIS_REPLY_NIL ? 0 : -1;
    freeReplyObject(r);
    if (rc == 0)
        goto out_clear;
    argv[0] = "ZADD";
    argv[1] = key;
    argv[2] = next;
    argv[3] = plan.repeat_key;
    len[0] = 4;
    len[1] = strlen(key);
    len[2] = (size_t)snprintf(next, sizeof(next), "%" PRId64, plan.next_ms);
    len[3] = strlen(plan.repeat_key);
    r = bp_conn_command_argv(c, 4, argv, len, err);
    if (r == NULL)
        goto out_prefix;
    freeReplyObject(r);
    if (bp_queue_add(c, q, job->name, job->data, plan.opts, &id, err) != 0)
        goto out_prefix;
    bp_log_debug("queue '%s': job %s repeats as %s at %" PRId64, q->name, job->id, id,
                 plan.next_ms);
    free(id);
    rc = 1;
    goto out_clear;

out_prefix:
    bp_err_prefix(err, "queue '%s': job %s: scheduling its next repeat", q->name, job->id);
    rc = -1;
out_clear:
    bp_repeat_plan_clear(&plan);
    return rc;
}
