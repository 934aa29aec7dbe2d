/* bp_worker.h -- the worker process: what the master gives it at fork, and its entry point.
 *
 * A worker serves one queue, one job at a time. It opens its own three connections
 * (client, subscriber, bclient) from the inherited configuration, pulls with BRPOPLPUSH,
 * runs the routed handler and finishes the job through bp_queue.h. A keeper thread owns the
 * subscriber, extends the lock and answers the master's pings with heartbeats. */
#ifndef BP_WORKER_H
#define BP_WORKER_H

#include <sys/types.h>

#include "bp_config.h"
#include "bp_handler.h"

typedef struct ssl_ctx_st SSL_CTX;

/* Messages on the master -> worker channel (text): "ping <seq>", "pause", "resume",
 * "cancel <job id>", "shutdown". Heartbeats go back as JSON on the heartbeat channel. */
#define BP_CHANNEL_MAX 512

/* Shared with the master (a MAP_SHARED page made before fork): the job whose handler runs,
 * so at the worker's death the master tells it (a stall) from the jobs the worker had leased
 * but not started (back to wait, no stall). Written by the worker's main thread only. */
typedef struct bp_worker_shared {
    char running[256]; /* job id, "" between jobs */
} bp_worker_shared;

typedef struct bp_worker_spec {
    const bp_config *cfg;         /* inherited through fork, read-only */
    const bp_queue_config *queue; /* the queue this worker serves */
    const bp_handlers *handlers;  /* its routing table (plugins already loaded) */
    SSL_CTX *tls_ctx;             /* built once by the master; NULL for TCP/unix */
    int index;                    /* worker number shown in logs, 0-based */
    char token[40];               /* lock token (UUID v4) made by the master */
    char hostname[256];           /* for connection names and heartbeats */
    pid_t master_pid;             /* the parent */
    int master_pipe_fd;           /* read end of a pipe: EOF means the master died */
    int link_fd; /* worker end of the local link to the master (bp_worker_link.h), -1 = none */
    char to_worker_channel[BP_CHANNEL_MAX]; /* master -> workers of this master */
    char heartbeat_channel[BP_CHANNEL_MAX]; /* workers -> master */
    int start_paused;                       /* begin quiet (the master is in TSTP) */
    bp_worker_shared *shared;               /* the page the master reads at death, or NULL */
    void (*set_title)(const char *title);   /* process title setter (ps); may be NULL */
} bp_worker_spec;

/* Run the worker until it is told to stop. Returns the process exit code: 0 (stopped),
 * EX_CONFIG (78: bad configuration, TLS verification or AUTH: do not respawn),
 * EX_TEMPFAIL (75: could not reach Redis at start), EX_SOFTWARE (70). */
int bp_worker_main(const bp_worker_spec *spec);

#endif /* BP_WORKER_H */
