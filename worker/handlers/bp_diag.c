/* bp_diag.c -- the diagnostic handlers: echo, sleep and fail, for smoke tests, health
 * checks and benchmarks (DESIGN.md "Handlers"). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "bp_handlers_impl.h"
#include "bp_time.h"

#define BP_SLEEP_SLICE_MS 50 /* how late a cancel may be noticed */
#define BP_FAIL_DEFAULT   "failed on purpose"

void bp_diag_echo(bp_job_ctx *ctx, bp_result *res)
{
    bp_result_value(res, ctx->data, ctx->data_len); /* byte for byte */
}

void bp_diag_sleep(bp_job_ctx *ctx, bp_result *res)
{
    json_t *data = json_loadb(ctx->data, ctx->data_len, 0, NULL);
    json_t *ms = json_object_get(data, "ms"); /* borrowed; NULL when data is no object */
    json_int_t total;
    int64_t deadline;
    char out[64];

    if (!json_is_integer(ms) || json_integer_value(ms) < 0) {
        bp_result_error(res, "sleep job data must be {\"ms\": N} with N a whole number >= 0");
        json_decref(data);
        return;
    }
    total = json_integer_value(ms);
    json_decref(data);
    deadline = bp_mono_ms() + (int64_t)total;
    for (;;) {
        int64_t left = deadline - bp_mono_ms();
        if (ctx->cancel != NULL && *ctx->cancel) {
            bp_result_error(res, "cancelled");
            return;
        }
        if (left <= 0)
            break;
        bp_sleep_ms(left < BP_SLEEP_SLICE_MS ? left : BP_SLEEP_SLICE_MS);
    }
    snprintf(out, sizeof(out), "{\"slept\":%" JSON_INTEGER_FORMAT "}", total);
    bp_result_value(res, out, strlen(out));
}

void bp_diag_fail(bp_job_ctx *ctx, bp_result *res)
{
    json_t *data = json_loadb(ctx->data, ctx->data_len, 0, NULL);
    json_t *msg = json_object_get(data, "message"); /* borrowed */

    if (json_is_string(msg) && json_string_length(msg) > 0)
        bp_result_error(res, "%s", json_string_value(msg));
    else
        bp_result_error(res, BP_FAIL_DEFAULT);
    json_decref(data);
}
