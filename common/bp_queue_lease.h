/* bp_queue_lease.h -- batched leases (common/lua/lease.lua): a worker with a backlog takes
 * several jobs per round trip and records several completions per round trip.
 *
 * A leased job is locked with the worker's token but not started: no processedOn, no
 * active event until its handler starts (bp_queue_complete_batch marks it together with its
 * completion, bp_queue_mark_started one that is still running). Jobs a worker leased but did
 * not start go back to the front of wait without a stall (bp_queue_lease_return), also when
 * the worker died (bp_queue_lease_return_token, by the master, before the running job is
 * recovered by the token). */
#ifndef BP_QUEUE_LEASE_H
#define BP_QUEUE_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "bp_queue.h"

/* One completion in a batch. */
typedef struct bp_lease_done {
    const bp_job *job;
    const char *value; /* the returnvalue text (JSON; other text is stored as a JSON string) */
    size_t len;
    int64_t started_ms; /* processedOn to set with it (its start was not marked yet), 0 = none */
} bp_lease_done;

/* Lease up to max jobs (at most ceil(LLEN(wait) / share) when share > 1) into out[cap].
 * Returns how many (0 = wait empty), -1 on error. */
int bp_queue_lease(bp_conn *c, const bp_queue *q, int max, int share, bp_job **out, int cap,
                   bp_err *err);

/* Record n completions and, when lease_max > 0, lease the next jobs, in one round trip (the
 * finish.lua calls and the lease pipelined). done_codes[i] (optional) gets each finish code
 * (>= 1 recorded; <= 0 untouched: the lock was lost). *n_leased gets the leased jobs put in
 * leased[cap]. Returns 0, or -1 on a transport error (err; then nothing is known about what
 * ran: the caller may retry the completions, which are idempotent, never the lease). */
int bp_queue_complete_batch(bp_conn *c, const bp_queue *q, const bp_lease_done *done, int n,
                            int *done_codes, int lease_max, int share, bp_job **leased, int cap,
                            int *n_leased, bp_err *err);

/* Mark started jobs (processedOn, active@token) whose locks still hold the token. Returns how
 * many, -1 on error. */
int bp_queue_mark_started(bp_conn *c, const bp_queue *q, const char *const *ids,
                          const int64_t *started_ms, int n, bp_err *err);

/* Give leased, unstarted jobs back to the front of wait in their lease order, without a
 * stall. Returns how many went back, -1 on error. */
int bp_queue_lease_return(bp_conn *c, const bp_queue *q, const char *const *ids, int n,
                          bp_err *err);

/* A dead worker's leased jobs: every job in active locked with token except running_id
 * ("" or NULL = none) goes back to the front of wait without a stall. Returns how many, -1
 * on error. */
int bp_queue_lease_return_token(bp_conn *c, const bp_queue *q, const char *token,
                                const char *running_id, bp_err *err);

#endif /* BP_QUEUE_LEASE_H */
