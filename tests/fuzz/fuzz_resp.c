/* fuzz_resp.c -- libFuzzer target for reply handling: arbitrary bytes from the "server" go
 * through hiredis's redisReader the way bp_conn.c feeds it (in pieces: byte 0 sets the
 * piece size), and every reply it yields is handed to the queue protocol's reply consumer,
 * bp_job_from_reply() (the shape take.lua and finish.lua return), then freed. A reader error
 * ends the input, as it ends the connection in bp_conn (errors are sticky). */
#include <stdint.h>
#include <stdlib.h>

#include <hiredis.h>

#include "bp_queue_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void consume(const redisReply *r)
{
    bp_job *job = NULL;
    bp_err err;

    if (bp_job_from_reply(r, 1700000000000, &job, &err) == 0) {
        if (job->id == NULL || job->name == NULL || job->data == NULL || job->opts == NULL ||
            job->attempts < 1 || job->timeout_ms < 0)
            abort();
        bp_job_free(job);
    }
    /* the elements of an array are replies too (nested script results) */
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            consume(r->element[i]);
}

/* True when the bytes announce an array of more than 1,000,000 elements: hiredis 0.14 callocs
 * the element table up front (no maxelements before hiredis 1.0), so "*700000000\r\n" is a
 * 5.6 GB allocation in the reader, not in bullpen's code; such inputs are skipped. */
static int huge_array(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned long long v = 0;
        size_t j = i + 1;

        if (p[i] != '*')
            continue;
        while (j < n && p[j] >= '0' && p[j] <= '9' && v <= 1000000)
            v = v * 10 + (unsigned long long)(p[j++] - '0');
        if (v > 1000000)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *reader;
    size_t piece;

    if (size == 0 || huge_array(data, size))
        return 0;
    piece = (size_t)data[0] % 16 + 1;
    data++;
    size--;
    reader = redisReaderCreate();
    if (reader == NULL)
        return 0;
    for (size_t off = 0; off < size; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        void *reply = NULL;

        if (redisReaderFeed(reader, (const char *)data + off, n) != REDIS_OK)
            break;
        while (redisReaderGetReply(reader, &reply) == REDIS_OK && reply != NULL) {
            consume(reply);
            freeReplyObject(reply);
            reply = NULL;
        }
        if (reader->err)
            break;
    }
    redisReaderFree(reader);
    return 0;
}
