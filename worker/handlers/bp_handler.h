/* bp_handler.h -- how a worker runs a job: the handler table of one queue (built by the
 * master before fork, plugins loaded there) and the job context a handler works with.
 *
 * A handler returns a JSON value (Bull's returnvalue) or fails with a message (Bull's
 * failedReason). It reaches Redis only through the context (progress, logs, commands on
 * the worker's client connection, under the connection's lock). */
#ifndef BP_HANDLER_H
#define BP_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis.h>

#include "bp_config.h"
#include "bp_err.h"

typedef struct bp_sandbox bp_sandbox; /* worker/sandbox/bp_sandbox.h */

/* What the worker gives a handler for one job. */
typedef struct bp_job_ctx {
    const char *queue;       /* queue name */
    const char *prefix;      /* key prefix ("bull") */
    const char *job_id;      /* job id */
    const char *job_name;    /* job name */
    const char *data;        /* job data, JSON text as stored (NUL-terminated) */
    size_t data_len;         /* bytes in data */
    int attempt;             /* 1 for the first run */
    volatile int *cancel;    /* non-zero when the job must stop (timeout, ctl cancel, shutdown) */
    void *worker;            /* the worker, for the callbacks below */
    bp_sandbox *sandbox;     /* the worker's extraction sandbox (document handler); may be NULL */
    bp_sandbox *sandbox_pdf; /* its extractor for PDFs (bp_sandbox_extract.h); NULL: sandbox
                              * serves PDFs too */
    /* Set the job's progress (JSON text) and publish the progress event. */
    int (*progress)(void *worker, const char *json);
    /* Append a line to the job's logs. */
    int (*log)(void *worker, const char *line);
    /* One command on the worker's client connection (locked). Error replies come back as
     * NULL with err->kind BP_ERR_REPLY. The caller frees the reply. */
    redisReply *(*command)(void *worker, int argc, const char **argv, const size_t *argvlen,
                           bp_err *err);
} bp_job_ctx;

/* A handler's outcome. Exactly one of value and error is set (malloc'd; the worker frees). */
typedef struct bp_result {
    char *value;  /* JSON text: Bull's returnvalue */
    size_t len;   /* bytes in value */
    char *error;  /* failure message: Bull's failedReason */
    bool discard; /* with error: fail for good, attempts left or not (Bull's job.discard()):
                   * the input itself fails, a retry would end the same way */
} bp_result;

typedef struct bp_handlers bp_handlers; /* opaque: one queue's routing table */

/* Build the handler table for q (master, before fork): loads plugins and calls their init.
 * Returns 0, or -1 with err set (kind BP_ERR_CONFIG: missing library, missing symbol, ABI
 * mismatch) naming the file and the config line. */
int bp_handlers_new(bp_handlers **out, const bp_queue_config *q, bp_err *err);
void bp_handlers_free(bp_handlers *h); /* calls plugin fini; NULL is a no-op */

/* Run the handler routed for ctx->job_name (exact name over "*"). A name nothing matches
 * fails with: unknown job name "<name>". Always fills res. */
void bp_handlers_run(const bp_handlers *h, bp_job_ctx *ctx, bp_result *res);

void bp_result_clear(bp_result *res);

/* Helpers for handlers: set res to a copied value or a formatted error. */
void bp_result_value(bp_result *res, const char *json, size_t len);
void bp_result_error(bp_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A warning about the job (a page skipped, a cache entry recomputed, a sandbox limit hit):
 * logged by the worker with the job id at warn level AND appended to the job's own log
 * (Bull's job.log(), shown in bull-board's Logs tab), cut to the queue's
 * log_max_line_bytes. For document extraction, the sandbox and any built-in handler. */
void bp_job_warn(bp_job_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line for the job's own log only (progress notes such as "page 3 of 12 extracted"), cut
 * like any log line; bullpen's log gets it at debug level. */
void bp_job_logf(bp_job_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* BP_HANDLER_H */
