/* bp_queue_internal.h -- the pure parts of the queue protocol (bp_queue.c, bp_queue_opts.c),
 * exposed for the unit tests: job parsing from a script reply, the delayed-score layout, and
 * Bull's producer-side option handling for add. No I/O here. */
#ifndef BP_QUEUE_INTERNAL_H
#define BP_QUEUE_INTERNAL_H

/* The largest count of milliseconds an option may carry (about 285,000 years): numbers from
 * producers are clamped to it before any conversion to an integer. */
#define BP_QUEUE_MAX_MS ((int64_t)1 << 53)

#include <stdbool.h>
#include <stdint.h>

#include <hiredis.h>

#include "bp_err.h"
#include "bp_queue.h"

/* Build a job from the reply take.lua and finish.lua give for a taken job: an array {id,
 * name, data, opts, attemptsMade, timestamp, stalledCounter} (nil for absent fields).
 * processed_on is the ms the script wrote. Returns 0 with *out set (bp_job_free()), or -1
 * with err set when the reply has another shape. */
int bp_job_from_reply(const redisReply *r, int64_t processed_on, bp_job **out, bp_err *err);

/* The delayed ZSET score (bull-protocol.md §6.3): due_ms * 4096 + (low & 4095), as the
 * exact decimal text Redis gets. Returns the length written, or -1 if cap is too small. */
int bp_queue_delayed_score(int64_t due_ms, uint64_t low, char *buf, size_t cap);

/* The low bits a backoff retry uses: the job id as an integer (& 4095), 0 for a
 * non-numeric id (JS "abc" & 4095 == 0). */
uint64_t bp_queue_id_low_bits(const char *id);

/* What Bull's producer derives from the options before its add script runs (job.js
 * setDefaultOpts, backoffs.normalize, queue.add). */
typedef struct bp_add_plan {
    char *opts;           /* normalised opts JSON (malloc): attempts, delay, timestamp filled */
    char *job_id;         /* opts.jobId as text (malloc), NULL for the counter */
    int64_t timestamp;    /* opts.timestamp, else now */
    int64_t delay;        /* opts.delay (ms, >= 0) */
    int64_t priority;     /* opts.priority, 0 = none */
    bool lifo;            /* opts.lifo */
    char *debounce_id;    /* opts.debounce.id (malloc), NULL = none */
    int64_t debounce_ttl; /* opts.debounce.ttl ms, 0 = none */
} bp_add_plan;

/* Fill plan from opts_json (NULL or "" = {}). Returns 0, or -1 with err set (kind
 * BP_ERR_PROTOCOL) naming the JSON error position or the option that has the wrong type. */
int bp_add_plan_make(bp_add_plan *plan, const char *opts_json, int64_t now_ms, bp_err *err);
void bp_add_plan_clear(bp_add_plan *plan);

/* Bull's jobIdForGroup (a queue whose limiter has a groupKey): "<job_id or a new UUID>:<the
 * value at group_key in data>", the value as JS's String() writes it ("undefined" when the
 * field is missing; group_key may be a dotted path). malloc'd, NULL out of memory. */
char *bp_group_job_id(const char *job_id, const char *data_json, const char *group_key);

/* How many bytes of a job log line to keep: all of it up to max, else at most max, never
 * ending inside a UTF-8 sequence. */
size_t bp_queue_log_cut(const char *line, size_t max);

/* The next occurrence of a repeatable job (Bull's lib/repeatable.js: every and cron). */
typedef struct bp_repeat_plan {
    char *repeat_key; /* member of K(repeat): "name:jobId:endDate:every" or
                         "name:jobId:endDate:tz:cron" (malloc) */
    char *job_id;     /* "repeat:<md5>:<next ms>" (malloc) */
    char *opts;       /* the next occurrence's opts JSON (malloc) */
    int64_t next_ms;  /* when it is due */
} bp_repeat_plan;

/* Plan the occurrence after a job named name with opts_json, taken at now_ms. Returns 1 with
 * plan filled (bp_repeat_plan_clear()); 0 when there is none (no repeat, limit or endDate
 * reached, no further cron match); -2 when Bull's worker would throw instead: the job must
 * fail, and err->msg is the reason (cron-parser's message for an expression or zone it
 * rejects, "Both .cron and .every options are defined for this repeatable job"); -1 with err
 * set when out of memory. */
int bp_repeat_plan_make(bp_repeat_plan *plan, const char *name, const char *opts_json,
                        int64_t now_ms, bp_err *err);
void bp_repeat_plan_clear(bp_repeat_plan *plan);

/* Schedule the next occurrence of job (after taking it, before its handler runs): ZSCORE
 * K(repeat) (skip when the repeatable was removed), ZADD, then add. 1 added, 0 none, -2 the
 * job must fail with err->msg (bp_repeat_plan_make()), -1 error. */
int bp_queue_repeat_next(bp_conn *c, const bp_queue *q, const bp_job *job, bp_err *err);

#endif /* BP_QUEUE_INTERNAL_H */
