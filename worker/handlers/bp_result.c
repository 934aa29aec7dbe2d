/* bp_result.c -- filling and clearing a handler's outcome (bp_result in bp_handler.h), and
 * a handler's warnings about a job (daemon log plus the job's own log). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_handler.h"
#include "bp_log.h"

void bp_result_clear(bp_result *res)
{
    free(res->value);
    free(res->error);
    res->value = NULL;
    res->error = NULL;
    res->len = 0;
    res->discard = false;
}

void bp_result_value(bp_result *res, const char *json, size_t len)
{
    bp_result_clear(res);
    res->value = malloc(len + 1);
    if (res->value == NULL) {
        res->error = strdup("out of memory storing the result");
        return;
    }
    memcpy(res->value, json, len);
    res->value[len] = '\0';
    res->len = len;
}

void bp_result_error(bp_result *res, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    bp_result_clear(res);
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    res->error = msg != NULL ? msg : strdup("out of memory formatting an error");
}

/* Format a job log line, log it locally at level, append it to the job's log. */
static void job_line(bp_job_ctx *ctx, bp_log_level level, const char *fmt, va_list ap)
{
    char *msg = NULL;

    if (vasprintf(&msg, fmt, ap) < 0 || msg == NULL)
        return;
    bp_log(level, "job %s: %s", ctx->job_id != NULL ? ctx->job_id : "?", msg);
    if (ctx->log != NULL)
        ctx->log(ctx->worker, msg);
    free(msg);
}

void bp_job_warn(bp_job_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    job_line(ctx, BP_LOG_WARN, fmt, ap);
    va_end(ap);
}

void bp_job_logf(bp_job_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    job_line(ctx, BP_LOG_DEBUG, fmt, ap);
    va_end(ap);
}
