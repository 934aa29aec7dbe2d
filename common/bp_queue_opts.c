/* bp_queue_opts.c -- what Bull's producer does with a job's options before its add script
 * runs (bull-protocol.md §4, §6; Bull's job.js setDefaultOpts and backoffs.normalize):
 * defaults appended in Bull's order, a bare-number backoff normalised to fixed, and the
 * values the add script needs (custom id, delay, priority, lifo, debounce) pulled out; the
 * group in a limited queue's job ids; and a queue's limits (limiter, metrics, job log
 * bounds). Pure: no I/O, unit-tested in tests/unit/test_bp_queue.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bp_queue_internal.h"

static char *json_text(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* An integer option: JSON integer, or a real with no fraction (JS has one number type). */
static bool int_opt(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v); /* clamp: casting a double out of range is undefined */
        *out = d >= (double)BP_QUEUE_MAX_MS    ? BP_QUEUE_MAX_MS
               : d <= -(double)BP_QUEUE_MAX_MS ? -BP_QUEUE_MAX_MS
                                               : (int64_t)d;
        return true;
    }
    return false;
}

void bp_add_plan_clear(bp_add_plan *plan)
{
    free(plan->opts);
    free(plan->job_id);
    free(plan->debounce_id);
    memset(plan, 0, sizeof(*plan));
}

int bp_add_plan_make(bp_add_plan *plan, const char *opts_json, int64_t now_ms, bp_err *err)
{
    json_error_t jerr;
    json_t *o, *v;
    int64_t n;

    memset(plan, 0, sizeof(*plan));
    if (opts_json == NULL || opts_json[0] == '\0')
        opts_json = "{}";
    o = json_loads(opts_json, JSON_DECODE_ANY, &jerr);
    if (o == NULL) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "opts: invalid JSON at line %d column %d: %s",
                   jerr.line, jerr.column, jerr.text);
        return -1;
    }
    if (!json_is_object(o)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "opts: must be a JSON object like {\"attempts\": 3}");
        goto out_decref;
    }
    /* Bull's setDefaultOpts: given keys keep their place, missing defaults are appended */
    v = json_object_get(o, "attempts"); /* borrowed */
    if (v == NULL)
        json_object_set_new(o, "attempts", json_integer(1)); /* steals the new integer */
    else if (!int_opt(v, &n)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "opts: 'attempts' must be a number");
        goto out_decref;
    } else
        json_object_set_new(o, "attempts", json_integer(n)); /* parseInt */
    v = json_object_get(o, "delay");
    if (v == NULL) {
        json_object_set_new(o, "delay", json_integer(0));
    } else if (!int_opt(v, &plan->delay)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "opts: 'delay' must be a number of ms");
        goto out_decref;
    }
    if (plan->delay < 0)
        plan->delay = 0;
    v = json_object_get(o, "timestamp");
    if (v == NULL) {
        plan->timestamp = now_ms;
        json_object_set_new(o, "timestamp", json_integer(now_ms));
    } else if (!int_opt(v, &plan->timestamp)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "opts: 'timestamp' must be a number of ms");
        goto out_decref;
    }
    v = json_object_get(o, "backoff"); /* a bare number means fixed */
    if (json_is_number(v)) {
        json_t *b = json_object();
        json_object_set_new(b, "type", json_string("fixed"));
        json_object_set_new(b, "delay", json_deep_copy(v));
        json_object_set_new(o, "backoff", b); /* steals b */
    }
    v = json_object_get(o, "priority");
    if (v != NULL && !json_is_null(v) && !int_opt(v, &plan->priority)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "opts: 'priority' must be an integer >= 1");
        goto out_decref;
    }
    if (plan->priority < 0)
        plan->priority = 0;
    v = json_object_get(o, "lifo"); /* JS truthiness, as Bull's `opts.lifo ? RPUSH : LPUSH` */
    plan->lifo = v != NULL && !json_is_false(v) && !json_is_null(v) &&
                 !(json_is_number(v) && json_number_value(v) == 0) &&
                 !(json_is_string(v) && json_string_length(v) == 0);
    v = json_object_get(o, "jobId");
    if (json_is_string(v))
        plan->job_id = strdup(json_string_value(v));
    else if (json_is_number(v))
        plan->job_id = json_text(v);
    else if (v != NULL && !json_is_null(v)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "opts: 'jobId' must be a string or a number");
        goto out_decref;
    }
    v = json_object_get(o, "debounce");
    if (json_is_object(v) && json_object_get(v, "id") != NULL) {
        json_t *did = json_object_get(v, "id");
        plan->debounce_id = json_is_string(did) ? strdup(json_string_value(did)) : json_text(did);
        int_opt(json_object_get(v, "ttl"), &plan->debounce_ttl);
    }
    plan->opts = json_text(o);
    if (plan->opts == NULL) {
        bp_err_set(err, BP_ERR_IO, 12, "opts: out of memory");
        goto out_decref;
    }
    json_decref(o);
    return 0;

out_decref:
    json_decref(o);
    bp_add_plan_clear(plan);
    return -1;
}

/* JS's String(v) for the few kinds a group value takes (a template literal in Bull's
 * jobIdForGroup): strings as they are, integers in decimal, true/false/null, "undefined"
 * for a missing field; other values as compact JSON. malloc'd, NULL out of memory. */
static char *js_string(const json_t *v)
{
    char *out = NULL;

    if (v == NULL)
        return strdup("undefined");
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v) && asprintf(&out, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) >= 0)
        return out;
    if (json_is_true(v))
        return strdup("true");
    if (json_is_false(v))
        return strdup("false");
    if (json_is_null(v))
        return strdup("null");
    return json_text(v);
}

char *bp_group_job_id(const char *job_id, const char *data_json, const char *group_key)
{
    json_t *data = json_loads(data_json != NULL ? data_json : "null", JSON_DECODE_ANY, NULL);
    const json_t *v = data;
    char uuid[37], *path, *save = NULL, *value, *out = NULL;

    path = strdup(group_key);
    if (path == NULL) {
        json_decref(data);
        return NULL;
    }
    for (char *part = strtok_r(path, ".", &save); part != NULL && v != NULL;
         part = strtok_r(NULL, ".", &save))
        v = json_is_object(v) ? json_object_get(v, part) : NULL; /* borrowed */
    value = js_string(v);
    if (job_id == NULL || job_id[0] == '\0') {
        bp_uuid4(uuid);
        job_id = uuid;
    }
    if (value != NULL && asprintf(&out, "%s:%s", job_id, value) < 0)
        out = NULL;
    free(value);
    free(path);
    json_decref(data);
    return out;
}

void bp_queue_set_limits(bp_queue *q, int limiter_max, int limiter_duration_ms,
                         const char *group_key, int metrics_max_points, int log_max_lines,
                         int log_max_line_bytes)
{
    bool on = limiter_max > 0 && limiter_duration_ms > 0;

    q->limiter_max = on ? limiter_max : 0;
    q->limiter_duration_ms = on ? limiter_duration_ms : 0;
    snprintf(q->limiter_group_key, sizeof(q->limiter_group_key), "%s",
             on && group_key != NULL ? group_key : "");
    q->metrics_max_points = metrics_max_points > 0 ? metrics_max_points : 0;
    q->log_max_lines = log_max_lines > 0 ? log_max_lines : 0;
    q->log_max_line_bytes = log_max_line_bytes >= 16 ? log_max_line_bytes : 16;
}

size_t bp_queue_log_cut(const char *line, size_t max)
{
    size_t n = strlen(line);

    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)line[n] & 0xC0) == 0x80)
        n--; /* line[n] continues a sequence: cut before the sequence starts */
    return n;
}
