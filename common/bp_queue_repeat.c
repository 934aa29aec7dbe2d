/* bp_queue_repeat.c -- repeatable jobs (bull-protocol.md §7.11): when a worker takes a job
 * whose opts carry `repeat`, it adds the next occurrence before the handler runs, exactly
 * where, when and under the id a Bull worker would (bull 4.16.5's lib/repeatable.js,
 * nextRepeatableJob and getNextMillis), so getRepeatableJobs(), removeRepeatable() and
 * bull-board keep working. `every` is arithmetic; `cron` goes through bp_cron_eval(), which
 * is cron-parser 4.9.0 with the repeat object as its options (tz, utc, startDate, endDate).
 *
 * Bull does this in JavaScript with JavaScript's coercions, and the repeat key and job id are
 * strings it concatenates, so the values are turned to text the way String() would
 * (js_string) and dates are read the way new Date() would (js_date_ms).
 *
 * Like Bull this is not atomic (ZSCORE, ZADD, then the add script): a repeatable removed in
 * between gets one more occurrence, as it would with Bull. Where Bull's worker would throw
 * (an expression cron-parser rejects, `cron` together with `every`) and leave the job in
 * active until the stalled check, bullpen fails the job with cron-parser's message instead:
 * the same text Bull's producer gives at add(). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "bp_cron.h"
#include "bp_jsnum.h"
#include "bp_log.h"
#include "bp_queue_internal.h"
#include "bp_time.h"

#define BP_REPEAT_TEXT_MAX 1024 /* the repeat ZSET key, P:Q:repeat */

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

/* JavaScript truthiness of an option (NULL = undefined). */
static bool js_truthy(const json_t *v)
{
    if (v == NULL || json_is_null(v) || json_is_false(v))
        return false;
    if (json_is_number(v))
        return json_number_value(v) != 0 && !isnan(json_number_value(v));
    if (json_is_string(v))
        return json_string_length(v) > 0;
    return true;
}

/* String(v) into buf (truncated at cap). NULL is undefined. */
static void js_string(const json_t *v, char *buf, size_t cap)
{
    if (v == NULL)
        snprintf(buf, cap, "undefined");
    else if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_number(v))
        bp_js_number_text(json_number_value(v), buf, cap);
    else if (json_is_boolean(v))
        snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_null(v))
        snprintf(buf, cap, "null");
    else if (json_is_array(v)) { /* Array#toString: elements joined by ",", null as "" */
        size_t used = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < json_array_size(v) && used + 1 < cap; i++) {
            const json_t *e = json_array_get(v, i);

            if (i > 0)
                buf[used++] = ',', buf[used] = '\0';
            if (!json_is_null(e) && used + 1 < cap)
                js_string(e, buf + used, cap - used);
            used += strlen(buf + used);
        }
    } else
        snprintf(buf, cap, "[object Object]");
}

/* Number(v) for a JSON value, as a comparison with a number coerces it. */
static double js_number(const json_t *v)
{
    if (json_is_number(v))
        return json_number_value(v);
    if (json_is_string(v))
        return bp_js_to_number(json_string_value(v), json_string_length(v));
    if (json_is_true(v))
        return 1;
    if (json_is_null(v) || json_is_false(v))
        return 0;
    return NAN; /* objects and arrays: NaN compares false */
}

/* new Date(v).getTime(): NaN when JavaScript would make an invalid date. Strings are read as
 * ISO 8601 (what JSON.stringify(date) writes); a date-time without offset is local time. */
static double js_date_ms(const json_t *v)
{
    double ms = NAN;

    if (json_is_null(v) || json_is_false(v))
        return 0;
    if (json_is_true(v))
        return 1;
    if (json_is_number(v))
        ms = trunc(json_number_value(v));
    if (json_is_string(v)) {
        bp_tz *local = NULL;
        bp_err err;
        int64_t t;

        if (bp_tz_load(&local, NULL, &err) == 0 &&
            bp_cron_iso_ms(json_string_value(v), local, true, &t) == 0)
            ms = (double)t;
        bp_tz_free(local);
    }
    return fabs(ms) <= 8.64e15 ? ms : NAN;
}

/* getNextMillis for `cron`: 1 with *next, 0 none, -2 refused (err: cron-parser's message). */
static int next_cron(const json_t *rep, int64_t base, int64_t *next, bp_err *err)
{
    const json_t *start = json_object_get(rep, "startDate"), *cv = json_object_get(rep, "cron");
    char text[256];
    const char *expr = text;
    bp_cron_opts o = {
        .tz = json_object_get(rep, "tz"),
        .utc = js_truthy(json_object_get(rep, "utc")),
        .current_ms = base,
        .start_date = start,
        .end_date = json_object_get(rep, "endDate"),
    };
    int rc;

    /* currentDate: startDate when that is later than base */
    if (js_truthy(start)) {
        double s = js_date_ms(start);

        if (s > (double)base)
            o.current_ms = (int64_t)s;
    }
    if (json_is_string(cv))
        expr = json_string_value(cv);
    else
        js_string(cv, text, sizeof(text)); /* String(cron): "undefined", "null", a number */
    rc = bp_cron_eval(expr, &o, next, err);
    if (rc < 0)
        return -2;
    if (rc == 0) /* Bull ignores next()'s error: no further occurrence */
        bp_log_debug("cron '%s': no next occurrence (%s)", expr, err->msg);
    return rc;
}

int bp_repeat_plan_make(bp_repeat_plan *plan, const char *name, const char *opts_json,
                        int64_t now_ms, bp_err *err)
{
    json_t *opts = json_loads(opts_json, JSON_DECODE_ANY, NULL);
    json_t *rep = json_object_get(opts, "repeat"); /* borrowed */
    json_t *v, *cron, *every;
    double prev = 0;
    int64_t count = 1, now = now_ms, next = 0;
    char *jobid = NULL, enddate[80] = ":", tz[256] = "", *suffix = NULL, *seed;
    char num[64], key_md5[33], id_md5[33];
    const json_t *jid;
    int rc = 0;

    memset(plan, 0, sizeof(*plan));
    if (!js_truthy(rep))
        goto out_decref;
    if (!json_is_object(rep)) { /* a truthy non-object: every field reads as undefined */
        rep = json_object();
        json_object_set_new(opts, "repeat", rep); /* steals */
    }
    v = json_object_get(opts, "prevMillis");
    if (json_is_number(v) && !isnan(json_number_value(v)))
        prev = json_number_value(v);
    if (prev == 0 && js_truthy(json_object_get(opts, "jobId")))
        json_object_set(rep, "jobId", json_object_get(opts, "jobId")); /* adds a reference */
    v = json_object_get(rep, "count");
    if (js_truthy(v) && json_is_number(v))
        count = (int64_t)json_number_value(v) + 1;
    v = json_object_get(rep, "limit");
    if (v != NULL && (double)count > js_number(v))
        goto out_decref; /* the limit is reached (Bull: count > limit) */
    v = json_object_get(rep, "endDate");
    if (v != NULL && (double)now > js_date_ms(v))
        goto out_decref; /* past endDate */
    if (prev > (double)now)
        now = (int64_t)prev;

    cron = json_object_get(rep, "cron");
    every = json_object_get(rep, "every");
    if (js_truthy(cron) && js_truthy(every)) {
        bp_err_set(err, BP_ERR_NONE, 0,
                   "Both .cron and .every options are defined for this repeatable job");
        rc = -2;
        goto out_decref;
    }
    if (js_truthy(every)) {
        double e = json_number_value(every);

        if (!json_is_number(every) || e <= 0 || e > (double)BP_QUEUE_MAX_MS) {
            js_string(every, num, sizeof(num));
            bp_err_set(err, BP_ERR_NONE, 0,
                       "repeat.every %s is not a positive number of milliseconds; bullpen does "
                       "not schedule it",
                       num);
            rc = -2;
            goto out_decref;
        }
        /* floor(now / every) * every + every; now and every are positive */
        next = (int64_t)(floor((double)now / e) * e + e);
    } else {
        rc = next_cron(rep, now, &next, err);
        if (rc <= 0)
            goto out_decref;
        rc = 0;
    }
    if (next == 0)
        goto out_decref;
    plan->next_ms = next;

    /* Bull: repeat.jobId ? repeat.jobId + ':' : ':' */
    jid = json_object_get(rep, "jobId");
    num[0] = '\0';
    if (js_truthy(jid) && !json_is_string(jid))
        js_string(jid, num, sizeof(num));
    if (asprintf(&jobid, "%s:", json_is_string(jid) ? json_string_value(jid) : num) < 0) {
        jobid = NULL;
        goto out_nomem;
    }
    v = json_object_get(rep, "endDate");
    if (js_truthy(v)) {
        bp_js_number_text(js_date_ms(v), num, sizeof(num));
        snprintf(enddate, sizeof(enddate), "%s:", num);
    }
    if (js_truthy(cron)) { /* tz ? tz + ':' : ':', then the expression */
        if (js_truthy(json_object_get(rep, "tz")))
            js_string(json_object_get(rep, "tz"), tz, sizeof(tz));
        js_string(cron, num, sizeof(num));
        rc = asprintf(&suffix, "%s:%s", tz, json_is_string(cron) ? json_string_value(cron) : num);
    } else {
        js_string(every, num, sizeof(num));
        rc = asprintf(&suffix, "%s", num);
    }
    if (rc < 0 || asprintf(&plan->repeat_key, "%s:%s%s%s", name, jobid, enddate, suffix) < 0) {
        plan->repeat_key = NULL;
        free(rc < 0 ? NULL : suffix);
        goto out_nomem;
    }
    free(suffix);
    md5_hex(plan->repeat_key, key_md5);
    if (asprintf(&seed, "%s%s%s", name, jobid, key_md5) < 0)
        goto out_nomem;
    md5_hex(seed, id_md5);
    free(seed);
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
    free(jobid);
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
    if (rc <= 0)
        return rc;
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
    if (rc == 0) {
        bp_log_debug("queue '%s': job %s: repeatable '%s' was removed; no next occurrence", q->name,
                     job->id, plan.repeat_key);
        goto out_clear;
    }
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
