/* bp_cmd_queue.c -- `bullpen enqueue` and `bullpen stats`.
 *
 * Both are one-shot clients: parse nothing but their own arguments (the config is loaded by
 * main.c), open one connection through bp_conn, run the queue protocol's scripts
 * (bp_queue_add, bp_queue_get_counts) and print. Input JSON is checked here first so a typo
 * is reported with the argument it came from and jansson's line and column, before any
 * network traffic. Workers are read from the keys each master refreshes every heartbeat
 * (<control_channel>:host:<hostname>[:<pid>], a JSON string with a PX expiry), so a master
 * that died disappears from the list by itself. */
#include "bp_cmd_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "bp_queue.h"
#include "bp_tls.h"
#include "bp_topology.h"

#define BP_SCAN_COUNT "100" /* keys per SCAN step: a handful of hosts in practice */

int bp_cmd_connect(const bp_config *cfg, const char *role, bp_conn **out, SSL_CTX **tls_out,
                   bp_err *err)
{
    SSL_CTX *tls = NULL;
    char name[512], host[256];

    if (cfg->redis.transport == BP_TRANSPORT_TLS && bp_tls_ctx_new(&tls, &cfg->redis.tls, err) != 0)
        return -1;
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    snprintf(name, sizeof(name), "bullpen:%s:%d:%s", host, (int)getpid(), role);
    if (bp_conn_open(out, &cfg->redis, tls, name, err) != 0) {
        bp_tls_ctx_free(tls);
        return -1;
    }
    *tls_out = tls;
    return 0;
}

/* The configured queue called name (NULL = the first); NULL after telling the user. */
static const bp_queue_config *find_queue(const bp_config *cfg, const char *cmd, const char *name)
{
    const bp_queue_config *qc = bp_config_queue(cfg, name);

    if (qc == NULL) {
        fprintf(stderr, "bullpen %s: queue '%s' is not in %s; configured:", cmd,
                name != NULL ? name : "", cfg->path != NULL ? cfg->path : "the configuration");
        for (size_t i = 0; i < cfg->n_queues; i++)
            fprintf(stderr, " '%s'", cfg->queues[i].name);
        fputc('\n', stderr);
    }
    return qc;
}

/* Parse text as JSON for the message; returns the value (caller decrefs) or NULL after
 * printing "bullpen enqueue: <what> is not valid JSON: line L column C: why". */
static json_t *check_json(const char *what, const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &jerr);

    if (v == NULL)
        fprintf(stderr, "bullpen enqueue: %s is not valid JSON: line %d column %d (byte %d): %s\n",
                what, jerr.line, jerr.column, jerr.position, jerr.text);
    return v;
}

int bp_cmd_enqueue(const bp_config *cfg, const char *queue, const char *name, const char *json,
                   const char *opts)
{
    const bp_queue_config *qc;
    bp_conn *c = NULL;
    SSL_CTX *tls = NULL;
    json_t *v;
    bp_queue q;
    bp_err err;
    char *id = NULL;
    int rc;

    v = check_json("the job data (argument JSON)", json);
    if (v == NULL)
        return EX_DATAERR;
    json_decref(v);
    if (opts != NULL) {
        v = check_json("--opts", opts);
        if (v == NULL)
            return EX_DATAERR;
        rc = json_is_object(v);
        json_decref(v);
        if (!rc) {
            fprintf(stderr, "bullpen enqueue: --opts must be a JSON object, e.g. "
                            "'{\"attempts\": 3, \"backoff\": {\"type\": \"fixed\", "
                            "\"delay\": 1000}}'\n");
            return EX_DATAERR;
        }
    }
    qc = find_queue(cfg, "enqueue", queue);
    if (qc == NULL)
        return EX_USAGE;
    if (bp_cmd_connect(cfg, "enqueue", &c, &tls, &err) != 0) {
        fprintf(stderr, "bullpen enqueue: cannot connect to %s: %s\n",
                BP_TOPOLOGY_DESC(&cfg->redis), err.msg);
        return bp_err_exit_code(&err);
    }
    bp_queue_init(&q, qc->prefix, qc->name, NULL, qc->lock_duration_ms, qc->stalled_interval_ms,
                  qc->max_stalled);
    bp_queue_set_limits(&q, qc->limiter.max, qc->limiter.duration_ms, qc->limiter.group_key,
                        qc->metrics_max_points, qc->log_max_lines, qc->log_max_line_bytes);
    if (bp_queue_add(c, &q, name, json, opts, &id, &err) != 0) {
        fprintf(stderr, "bullpen enqueue: %s\n", err.msg);
        rc = err.kind == BP_ERR_PROTOCOL ? EX_DATAERR : bp_err_exit_code(&err);
    } else {
        fprintf(stdout, "%s\n", id);
        rc = fflush(stdout) == 0 ? 0 : EX_IOERR;
    }
    free(id);
    bp_conn_close(c);
    bp_tls_ctx_free(tls);
    return rc;
}

/* Append the workers arrays of every host key to workers, and each master's health
 * ({host, pid, live, ready, want, up}) to masters (steals nothing). */
static int read_workers(bp_conn *c, const bp_config *cfg, json_t *workers, json_t *masters,
                        bp_err *err)
{
    char pattern[512], cursor[32] = "0";
    const char *cc =
        cfg->pool.control_channel != NULL ? cfg->pool.control_channel : "bullpen:control";

    snprintf(pattern, sizeof(pattern), "%s:host:*", cc);
    do {
        redisReply *r =
            bp_conn_command(c, err, "SCAN %s MATCH %s COUNT " BP_SCAN_COUNT, cursor, pattern);
        if (r == NULL) {
            bp_err_prefix(err, "SCAN for '%s'", pattern);
            return -1;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "SCAN for '%s': unexpected reply", pattern);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const redisReply *k = r->element[1]->element[i];
            redisReply *g = bp_conn_command(c, err, "GET %b", k->str, k->len);
            json_t *doc, *arr;

            if (g == NULL) {
                freeReplyObject(r);
                bp_err_prefix(err, "GET '%s'", k->str);
                return -1;
            }
            doc = g->type == REDIS_REPLY_STRING ? json_loadb(g->str, g->len, 0, NULL) : NULL;
            arr = json_object_get(doc, "workers"); /* borrowed */
            if (json_is_array(arr))
                json_array_extend(workers, arr);
            if (json_is_object(doc)) /* json_array_append_new steals the new object */
                json_array_append_new(
                    masters,
                    json_pack("{s:O?, s:O?, s:b, s:b, s:O?, s:O?, s:f}", "host",
                              json_object_get(doc, "host"), "pid", json_object_get(doc, "pid"),
                              "live", json_is_true(json_object_get(doc, "live")), "ready",
                              json_is_true(json_object_get(doc, "ready")), "want",
                              json_object_get(doc, "want"), "up", json_object_get(doc, "up"),
                              "commands_per_s",
                              json_number_value(json_object_get(doc, "commands_per_s"))));
            json_decref(doc);
            freeReplyObject(g);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

static const char *str_of(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key)); /* borrowed */

    return s != NULL && s[0] != '\0' ? s : "-";
}

static void print_table(json_t *queues, json_t *workers, json_t *masters)
{
    const char *name;
    json_t *v;
    size_t i;

    fprintf(stdout, "%-24s %9s %8s %10s %8s %8s %8s %8s\n", "queue", "waiting", "active",
            "completed", "failed", "delayed", "paused", "limited");
    json_object_foreach(queues, name, v)
    {
        fprintf(stdout, "%-24s %9lld %8lld %10lld %8lld %8lld %8lld %8lld\n", name,
                (long long)json_integer_value(json_object_get(v, "waiting")),
                (long long)json_integer_value(json_object_get(v, "active")),
                (long long)json_integer_value(json_object_get(v, "completed")),
                (long long)json_integer_value(json_object_get(v, "failed")),
                (long long)json_integer_value(json_object_get(v, "delayed")),
                (long long)json_integer_value(json_object_get(v, "paused")),
                (long long)json_integer_value(json_object_get(v, "limited")));
    }
    fprintf(stdout, "\n%zu master%s\n", json_array_size(masters),
            json_array_size(masters) == 1 ? "" : "s");
    if (json_array_size(masters) > 0)
        fprintf(stdout, "%-20s %8s %-5s %-5s %10s %s\n", "host", "pid", "live", "ready",
                "Redis cmd/s", "workers");
    json_array_foreach(masters, i, v)
    {
        char up[48];
        snprintf(up, sizeof(up), "%lld of %lld connected",
                 (long long)json_integer_value(json_object_get(v, "up")),
                 (long long)json_integer_value(json_object_get(v, "want")));
        fprintf(stdout, "%-20s %8lld %-5s %-5s %11.2f %s\n", str_of(v, "host"),
                (long long)json_integer_value(json_object_get(v, "pid")),
                json_is_true(json_object_get(v, "live")) ? "yes" : "no",
                json_is_true(json_object_get(v, "ready")) ? "yes" : "no",
                json_number_value(json_object_get(v, "commands_per_s")), up);
    }
    fprintf(stdout, "\n%zu worker%s\n", json_array_size(workers),
            json_array_size(workers) == 1 ? "" : "s");
    if (json_array_size(workers) == 0)
        return;
    fprintf(stdout, "%-20s %8s %-20s %-9s %-12s %10s %10s\n", "host", "pid", "queue", "state",
            "job", "jobs_done", "rss_kb");
    json_array_foreach(workers, i, v)
    {
        fprintf(stdout, "%-20s %8lld %-20s %-9s %-12s %10lld %10lld\n", str_of(v, "host"),
                (long long)json_integer_value(json_object_get(v, "pid")), str_of(v, "queue"),
                str_of(v, "state"), str_of(v, "job"),
                (long long)json_integer_value(json_object_get(v, "jobs_done")),
                (long long)json_integer_value(json_object_get(v, "rss_kb")));
    }
}

int bp_cmd_stats(const bp_config *cfg, const char *queue, bool json)
{
    json_t *queues = json_object(), *workers = json_array(), *masters = json_array(), *doc;
    bp_conn *c = NULL;
    SSL_CTX *tls = NULL;
    bp_err err;
    int rc = 0;

    if (queue != NULL && find_queue(cfg, "stats", queue) == NULL) {
        rc = EX_USAGE;
        goto out_free_json;
    }
    if (bp_cmd_connect(cfg, "stats", &c, &tls, &err) != 0) {
        fprintf(stderr, "bullpen stats: cannot connect to %s: %s\n", BP_TOPOLOGY_DESC(&cfg->redis),
                err.msg);
        rc = bp_err_exit_code(&err);
        goto out_free_json;
    }
    for (size_t i = 0; i < cfg->n_queues; i++) {
        const bp_queue_config *qc = &cfg->queues[i];
        bp_queue_counts n;
        bp_queue q;

        if (queue != NULL && strcmp(queue, qc->name) != 0)
            continue;
        bp_queue_init(&q, qc->prefix, qc->name, "stats", qc->lock_duration_ms,
                      qc->stalled_interval_ms, qc->max_stalled);
        if (bp_queue_get_counts(c, &q, &n, &err) != 0) {
            fprintf(stderr, "bullpen stats: %s\n", err.msg);
            rc = bp_err_exit_code(&err);
            goto out_close;
        }
        json_object_set_new(
            queues, qc->name, /* steals the new object */
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "waiting", (json_int_t)n.waiting,
                      "active", (json_int_t)n.active, "completed", (json_int_t)n.completed,
                      "failed", (json_int_t)n.failed, "delayed", (json_int_t)n.delayed, "paused",
                      (json_int_t)n.paused, "limited", (json_int_t)n.limited));
    }
    if (read_workers(c, cfg, workers, masters, &err) != 0) {
        fprintf(stderr, "bullpen stats: reading worker heartbeats: %s\n", err.msg);
        rc = bp_err_exit_code(&err);
        goto out_close;
    }
    if (json) {
        doc =
            json_pack("{s:O, s:O, s:O}", "queues", queues, "masters", masters, "workers", workers);
        json_dumpf(doc, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(doc);
    } else {
        print_table(queues, workers, masters);
    }
    if (fflush(stdout) != 0)
        rc = EX_IOERR;
out_close:
    bp_conn_close(c);
    bp_tls_ctx_free(tls);
out_free_json:
    json_decref(queues);
    json_decref(workers);
    json_decref(masters);
    return rc;
}
