/* bp_queue.h -- the Bull v4 queue protocol: keys, the job model, and every operation on a
 * queue, each one Lua script (common/lua/) run through bp_scripts.h.
 *
 * Facts come from shared/bull-protocol.md; the scripts are bullpen's own. One bp_queue
 * describes one queue as seen by one process: its prefix, name and the lock token of the
 * process (a worker's own UUID; the master's for housekeeping). It holds no connection:
 * every call takes the bp_conn to use, so the caller decides the role (client, bclient). */
#ifndef BP_QUEUE_H
#define BP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bp_conn.h"
#include "bp_err.h"

typedef struct bp_queue {
    char prefix[128];        /* "bull" */
    char name[256];          /* "document-processing" */
    char key_base[400];      /* "bull:document-processing:" (what K(x) prepends) */
    char token[40];          /* this process's lock token (UUID v4) */
    int lock_duration_ms;    /* PX of the lock */
    int stalled_interval_ms; /* PX of stalled-check */
    int max_stalled;         /* maxStalledCount */
    /* Bull's worker settings that live in Redis scripts (bp_queue_set_limits()) */
    int limiter_max;             /* limiter.max; 0 = no rate limiter */
    int limiter_duration_ms;     /* limiter.duration */
    char limiter_group_key[128]; /* limiter.groupKey; "" = one limiter for the queue */
    int metrics_max_points;      /* metrics.maxDataPoints; 0 = no metrics keys */
    int log_max_lines;           /* job log lines kept (LTRIM); 0 = job logs off */
    int log_max_line_bytes;      /* longer log lines are cut (at a UTF-8 boundary) */
} bp_queue;

/* Fill q. token may be NULL (a fresh UUID is made). */
void bp_queue_init(bp_queue *q, const char *prefix, const char *name, const char *token,
                   int lock_duration_ms, int stalled_interval_ms, int max_stalled);

/* Set the rate limiter (max 0 = none; group_key NULL or "" = per queue), Bull's metrics
 * (max_points 0 = off) and the job log bounds (a queue's config). bp_queue_init() leaves
 * the limiter and metrics off and keeps 1000 log lines of at most 2048 bytes. */
void bp_queue_set_limits(bp_queue *q, int limiter_max, int limiter_duration_ms,
                         const char *group_key, int metrics_max_points, int log_max_lines,
                         int log_max_line_bytes);

/* Write K(suffix) into buf ("bull:Q:wait"). Returns the length, or -1 if cap is too small. */
int bp_queue_key(const bp_queue *q, const char *suffix, char *buf, size_t cap);

/* A job as a worker sees it after taking it. All strings are NUL-terminated and owned by
 * the job (bp_job_free()). data and opts are the raw JSON text from the hash, never
 * re-encoded, so an echo is byte-exact. */
typedef struct bp_job {
    char *id;             /* the job id (any string) */
    char *name;           /* job name, "__default__" when none */
    char *data;           /* JSON text as stored */
    size_t data_len;      /* bytes in data */
    char *opts;           /* JSON text as stored ("{}" when missing) */
    int attempts;         /* opts.attempts, default 1 */
    int attempts_made;    /* failed attempts so far */
    int64_t timeout_ms;   /* opts.timeout, 0 = none */
    int64_t timestamp;    /* when it was added (ms) */
    int64_t processed_on; /* when this attempt started (ms) */
    int stalled_counter;  /* times it stalled so far */
    char *fail_reason;    /* set at take when the job must fail without running: its repeat
                             cannot be scheduled (cron-parser rejects repeat.cron); malloc */
} bp_job;

void bp_job_free(bp_job *job); /* NULL is a no-op */

/* The blocking pull on the bclient: BRPOPLPUSH wait active block_s. Returns 1 and stores
 * the id (malloc, caller frees) in *id_out, 0 when the block timed out, -1 on error
 * (kind BP_ERR_WOKEN when wake_fd fired). */
int bp_queue_pull(bp_conn *bclient, const bp_queue *q, int block_s, int wake_fd, char **id_out,
                  bp_err *err);

/* Take a job that the pull moved into active (moveToActive with an id): lock with q->token
 * PX lock_duration_ms, SREM stalled, ZREM priority, processedOn = now, active@token event.
 * Returns 1 with *out set, 0 when the job hash vanished (the id is removed from active),
 * -1 on error. */
int bp_queue_take(bp_conn *c, const bp_queue *q, const char *id, bp_job **out, bp_err *err);

/* Take the next job without blocking (RPOPLPUSH inside the script, or nothing). Returns 1
 * with *out set, 0 when wait is empty (publishes drained), -1 on error.
 * With a rate limiter (q->limiter_max > 0) both takes apply it (Bull's moveToActive): a job
 * over the limit is parked in delayed and the call returns 2 with *out untouched. */
int bp_queue_take_next(bp_conn *c, const bp_queue *q, bp_job **out, bp_err *err);

/* Finish a job: completed (returnvalue is JSON text) or failed (reason raw, stack may be
 * NULL). Failure applies Bull's retry rules (attempts, backoff fixed/exponential, lifo) and
 * retention (removeOnComplete / removeOnFail). When fetch_next is true and the queue is not
 * paused, the same script takes the next job and stores it in *next (NULL when none).
 * Returns 1 when moved, 0 when the lock was not ours (the job is left alone; err->msg says
 * why: lock expired, held by another worker, job removed), -1 on error. */
int bp_queue_complete(bp_conn *c, const bp_queue *q, const bp_job *job, const char *returnvalue,
                      size_t len, bool fetch_next, bp_job **next, bp_err *err);
int bp_queue_fail(bp_conn *c, const bp_queue *q, const bp_job *job, const char *reason,
                  const char *stack, bool fetch_next, bp_job **next, bp_err *err);

/* bp_queue_fail() for good, whatever attempts are left (Bull's job.discard() before the
 * throw): for a failure that is a property of the input, so a retry would end the same way.
 * Same returns. */
int bp_queue_fail_final(bp_conn *c, const bp_queue *q, const bp_job *job, const char *reason,
                        const char *stack, bool fetch_next, bp_job **next, bp_err *err);

/* Extend the lock when it still holds q->token. Returns 1 extended, 0 lost, -1 error. */
int bp_queue_extend_lock(bp_conn *c, const bp_queue *q, const char *job_id, bp_err *err);

/* job.progress(x): progress is JSON text. Publishes the progress event. 0 or -1. */
int bp_queue_progress(bp_conn *c, const bp_queue *q, const char *job_id, const char *progress,
                      bp_err *err);

/* job.log(line): RPUSH K(id:logs), cut to q->log_max_line_bytes (at a UTF-8 boundary) and
 * trimmed to the newest q->log_max_lines lines. Nothing is written when log_max_lines is 0.
 * 0 or -1. */
int bp_queue_log(bp_conn *c, const bp_queue *q, const char *job_id, const char *line, bp_err *err);

/* Master housekeeping. Promote due delayed jobs; *next_due_ms gets the next due time (0 when
 * none). Returns the number promoted, or -1. */
int bp_queue_promote(bp_conn *c, const bp_queue *q, int64_t *next_due_ms, bp_err *err);

/* Bull's stalled check, guarded by K(stalled-check) PX stalled_interval_ms. Returns the
 * number of jobs recovered or failed, 0 when another process checked recently, -1. */
int bp_queue_check_stalled(bp_conn *c, const bp_queue *q, bp_err *err);

/* A job found in active without a lock: its id and the processedOn seen then ("" when the
 * job has none), and whether the master itself put it back to wait with that processedOn. */
typedef struct bp_orphan {
    char id[256];          /* job id (longer ids are left to the stalled check) */
    char processed_on[24]; /* as stored, "" when absent */
    bool put_back;         /* the master recovered it with exactly this processedOn */
} bp_orphan;

/* First pass of the sweep after a worker died (run once the dead worker's connections are
 * closed on the server side): the jobs in active without a lock, at most cap of them, into
 * out. Returns how many, or -1. */
int bp_queue_list_orphans(bp_conn *c, const bp_queue *q, bp_orphan *out, int cap, bp_err *err);

/* Second pass, a second later, over the first pass's candidates: one still in active,
 * unlocked, with the same processedOn, was pulled by a worker that never took it. A job
 * that was never run in this attempt (no processedOn, put back by the master with that
 * processedOn, or processedOn younger than the lock duration) goes back to the front of wait
 * without a stall; any other counts as a stall (Bull's rule). Returns how many were moved,
 * with *unstalled (may be NULL) set to those moved without a stall, or -1. */
int bp_queue_settle_orphans(bp_conn *c, const bp_queue *q, const bp_orphan *cand, int n,
                            int *unstalled, bp_err *err);

/* Recover the jobs in active whose lock holds token (a dead worker's): each counts as a
 * stall (stalledCounter + 1); back to wait while stalledCounter <= max_stalled, else failed
 * with reason. The jobs put back to wait are stored in put_back (id and processedOn, at
 * most cap; put_back may be NULL) and counted in *n_put_back. Returns how many were
 * recovered or failed, or -1. */
int bp_queue_recover_token(bp_conn *c, const bp_queue *q, const char *token, const char *reason,
                           bp_orphan *put_back, int cap, int *n_put_back, bp_err *err);

/* Fail, by Bull's retry rules, the job in active whose lock holds token (a worker killed
 * for a timeout): reason is the failedReason, e.g. "Promise timed out after 500
 * milliseconds". Returns how many jobs were failed or retried, or -1. */
int bp_queue_fail_token(bp_conn *c, const bp_queue *q, const char *token, const char *reason,
                        bp_err *err);

/* Producer: Bull's add. opts is JSON text (may be NULL). Stores the id (malloc) in *id_out. */
int bp_queue_add(bp_conn *c, const bp_queue *q, const char *name, const char *data,
                 const char *opts, char **id_out, bp_err *err);

typedef struct bp_queue_counts {
    long long waiting, active, completed, failed, delayed, paused;
    long long limited; /* parked by the rate limiter (in delayed too): HLEN K(limiter:index) */
} bp_queue_counts;

int bp_queue_get_counts(bp_conn *c, const bp_queue *q, bp_queue_counts *out, bp_err *err);

/* Whether the queue is globally paused (K(meta-paused) exists). 1, 0 or -1. */
int bp_queue_is_paused(bp_conn *c, const bp_queue *q, bp_err *err);

/* Make a random UUID v4 string (37 bytes with the NUL). */
void bp_uuid4(char out[37]);

#endif /* BP_QUEUE_H */
