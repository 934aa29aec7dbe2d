/* fuzz_job.c -- libFuzzer target for job JSON decoding: the input is split at its first
 * newline into OPTS and DATA. OPTS goes through Bull's producer-side option handling
 * (bp_add_plan_make: attempts, delay, timestamp, priority, lifo, backoff, jobId, debounce)
 * and, inside a well-formed take reply, through the worker's reading of a job
 * (bp_job_from_reply: attempts, timeout). DATA must come back byte for byte (an echo job's
 * return value is its data), and the normalised opts must be JSON jansson can read again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>
#include <jansson.h>

#include "bp_queue_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_plan(const char *opts)
{
    bp_add_plan plan;
    bp_err err;

    memset(&plan, 0, sizeof plan);
    if (bp_add_plan_make(&plan, opts, 1700000000000, &err) == 0) {
        json_t *back = json_loads(plan.opts, JSON_DECODE_ANY, NULL);

        if (!json_is_object(back) || plan.delay < 0)
            abort();
        json_decref(back);
        bp_add_plan_clear(&plan);
    } else if (err.msg[0] == '\0') {
        abort();
    }
}

/* A take reply {id, name, data, opts, attemptsMade, timestamp, stalledCounter} as RESP. */
static void check_job(const char *opts, size_t opts_len, const char *dat, size_t dat_len)
{
    redisReader *reader = redisReaderCreate();
    char head[160];
    void *reply = NULL;
    bp_job *job = NULL;
    bp_err err;

    if (reader == NULL)
        return;
    snprintf(head, sizeof head, "*7\r\n$2\r\n42\r\n$4\r\necho\r\n$%zu\r\n", dat_len);
    redisReaderFeed(reader, head, strlen(head));
    redisReaderFeed(reader, dat, dat_len);
    snprintf(head, sizeof head, "\r\n$%zu\r\n", opts_len);
    redisReaderFeed(reader, head, strlen(head));
    redisReaderFeed(reader, opts, opts_len);
    snprintf(head, sizeof head, "\r\n:1\r\n$13\r\n1700000000000\r\n$-1\r\n");
    redisReaderFeed(reader, head, strlen(head));
    if (redisReaderGetReply(reader, &reply) != REDIS_OK || reply == NULL)
        abort();
    if (bp_job_from_reply(reply, 1700000000001, &job, &err) != 0)
        abort();
    if (job->data_len != dat_len || memcmp(job->data, dat, dat_len) != 0 || job->attempts < 1 ||
        job->timeout_ms < 0 || job->attempts_made != 1 || job->timestamp != 1700000000000)
        abort();
    bp_job_free(job);
    freeReplyObject(reply);
    redisReaderFree(reader);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t opts_len = nl != NULL ? (size_t)(nl - data) : size;
    const char *dat = nl != NULL ? (const char *)nl + 1 : "";
    size_t dat_len = nl != NULL ? size - opts_len - 1 : 0;
    char *opts = malloc(opts_len + 1);

    if (opts == NULL)
        return 0;
    memcpy(opts, data, opts_len);
    opts[opts_len] = '\0';
    check_plan(opts);
    check_job(opts, opts_len, dat, dat_len);
    free(opts);
    return 0;
}
