/* bp_worker_internal.h -- the state one worker process shares between its main thread
 * (pull, run, finish) and its keeper thread (subscriber, heartbeats, lock renewal, job
 * deadline). Private to worker/.
 *
 * Ownership: the main thread owns the bclient; the keeper owns the subscriber; the client
 * connection is shared under client_lock (either thread may reconnect it while holding the
 * lock). Fields the two threads both read are atomics or live under state_lock. */
#ifndef BP_WORKER_INTERNAL_H
#define BP_WORKER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bp_conn.h"
#include "bp_joblog.h"
#include "bp_queue.h"
#include "bp_sandbox.h"
#include "bp_time.h"
#include "bp_worker.h"

typedef enum bp_worker_state {
    BP_WORKER_IDLE,
    BP_WORKER_BUSY,
    BP_WORKER_PAUSED,
    BP_WORKER_DRAINING,
} bp_worker_state;

#define BP_LEASE_CAP     256 /* lease_max's upper bound */
#define BP_LEASE_HOLD_MS 5   /* a job running this long gives the rest of its lease back */

/* A worker's lease (bp_lease.c). Shared by the main thread and the keeper under lock. */
typedef struct bp_lease_done_entry {
    bp_job *job;        /* owned */
    char *value;        /* owned returnvalue text */
    size_t len;         /* bytes in value */
    int64_t started_ms; /* processedOn to record with it, 0 = already marked */
    int64_t done_mono;  /* when its handler returned */
} bp_lease_done_entry;

typedef struct bp_lease {
    pthread_mutex_t lock;
    int max;                                /* lease_max (1 = leases off) */
    bp_job *jobs[BP_LEASE_CAP];             /* leased, not started, in lease order */
    int64_t jobs_mono[BP_LEASE_CAP];        /* when each was locked */
    int head, n;                            /* jobs[head .. head + n) */
    bp_lease_done_entry done[BP_LEASE_CAP]; /* completed, not recorded yet */
    int n_done;
    int cur_unmarked;            /* the running job is leased and its start not recorded */
    char cur_id[256];            /* its id */
    int64_t cur_started_ms;      /* its processedOn */
    int64_t cur_started_mono;    /* and the same on the monotonic clock */
    _Atomic int keeper_watching; /* the keeper polls at BP_LEASE_HOLD_MS (0: nudge it) */
} bp_lease;

typedef enum bp_cancel_reason {
    BP_CANCEL_NONE,
    BP_CANCEL_TIMEOUT,  /* opts.timeout or queue job_timeout_ms passed */
    BP_CANCEL_CTL,      /* bullpen ctl cancel ID */
    BP_CANCEL_SHUTDOWN, /* fast stop */
} bp_cancel_reason;

typedef struct bp_worker {
    const bp_worker_spec *spec;
    bp_queue q;                 /* this worker's view of its queue (token = its own) */
    char conn_name_client[600]; /* CLIENT SETNAME values */
    char conn_name_sub[600];
    char conn_name_bclient[900];

    pthread_mutex_t client_lock; /* guards client */
    bp_conn *client;             /* scripts, progress, heartbeats; shared */
    bp_conn *bclient;            /* BRPOPLPUSH only; main thread */
    long long bclient_id;        /* CLIENT ID of the bclient, -1 when unknown */
    bp_conn *subscriber;         /* keeper thread only */
    bp_backoff reconnect;        /* main thread's reconnect pacing */
    bp_sandbox *sandbox;         /* document parsing but PDF: its extractor starts at first use */
    bp_sandbox *sandbox_pdf;     /* PDF parsing: the same (bp_sandbox_extract.h) */

    int wake_pipe[2];   /* anyone -> main thread: stop blocking now */
    int keeper_pipe[2]; /* main thread -> keeper: job changed, stop */
    pthread_t keeper;
    int keeper_started;

    pthread_mutex_t state_lock; /* guards the current-job fields below */
    char job_id[256];           /* current job id, "" when idle */
    int64_t job_started_ms;     /* wall clock ms at take */
    int64_t job_timeout_ms;     /* 0 = none */
    int64_t lock_extended_mono; /* last successful extension (monotonic ms) */
    char cancel_job_id[256];    /* ctl cancel that arrived for this job id */
    unsigned long job_gen;      /* bumped when a job begins (odd: running) and when its
                                   finish starts (even): the keeper renews only odd ones,
                                   and one that raced the finish knows it lost nothing */
    bp_joblog joblog;           /* the current job's log lines held back; main thread only */

    volatile int cancel;             /* handlers poll this: non-zero = stop */
    _Atomic int cancel_reason;       /* bp_cancel_reason */
    _Atomic int state;               /* bp_worker_state */
    _Atomic int stopping;            /* leave after the current job */
    _Atomic int paused;              /* stop pulling until resumed */
    _Atomic long long last_ping_seq; /* last ping the subscriber saw */
    _Atomic long long loop_moved_ms; /* wall ms when the main loop last moved */
    _Atomic long long pull_since_ms; /* wall ms the blocking pull began, 0 = not in one */
    _Atomic long long jobs_done;
    _Atomic long long jobs_failed;
    _Atomic long long jobs_us;       /* total run time of finished jobs, microseconds */
    _Atomic long long subscriptions; /* successful SUBSCRIBEs of the subscriber so far */

    bp_lease lease; /* jobs leased from a backlog and completions not yet recorded */
} bp_worker;

/* Leases (bp_lease.c). */
void bp_lease_init(bp_worker *w);
void bp_lease_destroy(bp_worker *w); /* frees what is left (after bp_lease_give_back) */
bp_job *bp_lease_next(bp_worker *w, int64_t *locked_mono); /* the next leased job, or NULL */
void bp_lease_begin(bp_worker *w, const bp_job *job, bool leased); /* its handler starts */
int64_t bp_lease_end(bp_worker *w); /* handler returned: processedOn still to record, or 0 */
void bp_lease_add_done(bp_worker *w, bp_job *job, char *value, size_t len, int64_t started_ms);
bool bp_lease_flush_due(bp_worker *w); /* record now (full batch, nothing leased left) */
void bp_lease_flush(bp_worker *w, bool lease_more); /* record completions; lease more */
void bp_lease_give_back(bp_worker *w);     /* record completions; leased jobs back to wait */
void bp_lease_keeper_tick(bp_worker *w);   /* a long job: mark it, record, give back */
int bp_lease_keeper_wait_ms(bp_worker *w); /* when the keeper must look again, -1 = no need */

/* Keeper thread (bp_keeper.c). */
int bp_keeper_start(bp_worker *w, bp_err *err);
void bp_keeper_stop(bp_worker *w);

/* Send one heartbeat now (either thread): over Redis (PUBLISH on the heartbeat channel) or
 * over the local link to the master. */
void bp_worker_heartbeat(bp_worker *w, bool over_redis);

/* Wake the main thread out of a blocking pull or a paused wait. */
void bp_worker_wake(bp_worker *w);

/* Reconnect the client connection if it is broken (caller holds client_lock). 0 or -1. */
int bp_worker_client_ensure(bp_worker *w, bp_err *err);

/* Open one role's connection with this worker's name. */
int bp_worker_connect(bp_worker *w, bp_conn **out, const char *name, bp_err *err);

#endif /* BP_WORKER_INTERNAL_H */
