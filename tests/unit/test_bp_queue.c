/* test_bp_queue.c -- unit tests of the pure parts of the queue protocol (bp_queue.c): keys,
 * the delayed score layout, job parsing from a script reply (through hiredis's own reader,
 * so the replies are real RESP), Bull's producer option defaults, and UUID v4 tokens. No
 * server: the scripts themselves are covered by tests/interop against Bull. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis.h>

#include "bp_queue.h"
#include "bp_queue_internal.h"

/* Parse one RESP reply from text. */
static redisReply *resp(const char *text)
{
    redisReader *rd = redisReaderCreate();
    void *reply = NULL;

    assert_non_null(rd);
    assert_int_equal(redisReaderFeed(rd, text, strlen(text)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(rd);
    return reply;
}

static void test_init_and_keys(void **state)
{
    bp_queue q;
    char buf[64];

    (void)state;
    bp_queue_init(&q, NULL, "document-processing", "tok", 0, 0, -1);
    assert_string_equal(q.prefix, "bull");
    assert_string_equal(q.key_base, "bull:document-processing:");
    assert_string_equal(q.token, "tok");
    assert_int_equal(q.lock_duration_ms, 30000);
    assert_int_equal(q.stalled_interval_ms, 30000);
    assert_int_equal(q.max_stalled, 1);
    assert_int_equal(bp_queue_key(&q, "wait", buf, sizeof(buf)), 29);
    assert_string_equal(buf, "bull:document-processing:wait");
    assert_int_equal(bp_queue_key(&q, "a-suffix-that-does-not-fit-in-the-buffer", buf, 40), -1);

    bp_queue_init(&q, "{pfx}", "q", NULL, 2000, 1000, 0);
    assert_string_equal(q.key_base, "{pfx}:q:");
    assert_int_equal(strlen(q.token), 36); /* a fresh UUID */
    assert_int_equal(q.max_stalled, 0);
}

static void test_delayed_score(void **state)
{
    char buf[32];

    (void)state;
    /* 1795629730759 * 4096 + 1: the example of bull-protocol.md §7.7 */
    assert_true(bp_queue_delayed_score(1795629730759LL, 1, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "7354899377188865");
    assert_true(bp_queue_delayed_score(1000, 4096 + 7, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "4096007"); /* only the low 12 bits count */
    assert_int_equal(bp_queue_delayed_score(1000, 0, buf, 4), -1);
    assert_int_equal(bp_queue_id_low_bits("4097"), 1);
    assert_int_equal(bp_queue_id_low_bits("42"), 42);
    assert_int_equal(bp_queue_id_low_bits("abc"), 0);
    assert_int_equal(bp_queue_id_low_bits("12abc"), 0);
    assert_int_equal(bp_queue_id_low_bits(""), 0);
}

static void test_job_from_reply(void **state)
{
    redisReply *r;
    bp_job *job = NULL;
    bp_err err;

    (void)state;
    r = resp("*7\r\n$2\r\n42\r\n$4\r\necho\r\n$9\r\n{\"a\":1.0}\r\n"
             "$46\r\n{\"attempts\":3,\"timeout\":500,\"backoff\":{\"a\":1}}\r\n"
             "$1\r\n2\r\n$13\r\n1700000000000\r\n$-1\r\n");
    assert_int_equal(bp_job_from_reply(r, 1700000000500LL, &job, &err), 0);
    assert_string_equal(job->id, "42");
    assert_string_equal(job->name, "echo");
    assert_string_equal(job->data, "{\"a\":1.0}"); /* byte-exact, not re-encoded */
    assert_int_equal(job->data_len, 9);
    assert_int_equal(job->attempts, 3);
    assert_int_equal(job->attempts_made, 2);
    assert_int_equal(job->timeout_ms, 500);
    assert_int_equal(job->timestamp, 1700000000000LL);
    assert_int_equal(job->processed_on, 1700000000500LL);
    assert_int_equal(job->stalled_counter, 0);
    bp_job_free(job);
    freeReplyObject(r);

    /* a hash written by another producer: no name, no opts, opts not JSON */
    r = resp("*7\r\n$3\r\nabc\r\n$-1\r\n$7\r\n\"hello\"\r\n$5\r\n{oops\r\n$-1\r\n$-1\r\n"
             "$1\r\n1\r\n");
    job = NULL;
    assert_int_equal(bp_job_from_reply(r, 5, &job, &err), 0);
    assert_string_equal(job->name, "__default__");
    assert_string_equal(job->data, "\"hello\"");
    assert_int_equal(job->attempts, 1);
    assert_int_equal(job->timeout_ms, 0);
    assert_int_equal(job->attempts_made, 0);
    assert_int_equal(job->stalled_counter, 1);
    bp_job_free(job);
    freeReplyObject(r);

    /* the "vanished" shape {id} is not a job */
    r = resp("*1\r\n$1\r\n7\r\n");
    job = NULL;
    assert_int_equal(bp_job_from_reply(r, 5, &job, &err), -1);
    assert_null(job);
    assert_non_null(strstr(err.msg, "job reply"));
    freeReplyObject(r);
    bp_job_free(NULL);
}

static void test_add_plan_defaults(void **state)
{
    bp_add_plan p;
    bp_err err;

    (void)state;
    assert_int_equal(bp_add_plan_make(&p, NULL, 1700000000000LL, &err), 0);
    assert_string_equal(p.opts, "{\"attempts\":1,\"delay\":0,\"timestamp\":1700000000000}");
    assert_int_equal(p.timestamp, 1700000000000LL);
    assert_null(p.job_id);
    bp_add_plan_clear(&p);

    /* given keys keep their place; a bare-number backoff becomes fixed */
    assert_int_equal(bp_add_plan_make(&p,
                                      "{\"backoff\":300,\"attempts\":3,\"delay\":1500,"
                                      "\"priority\":2,\"lifo\":true,\"jobId\":17}",
                                      5, &err),
                     0);
    assert_string_equal(p.opts, "{\"backoff\":{\"type\":\"fixed\",\"delay\":300},\"attempts\":3,"
                                "\"delay\":1500,\"priority\":2,\"lifo\":true,\"jobId\":17,"
                                "\"timestamp\":5}");
    assert_int_equal(p.delay, 1500);
    assert_int_equal(p.priority, 2);
    assert_true(p.lifo);
    assert_string_equal(p.job_id, "17");
    bp_add_plan_clear(&p);

    assert_int_equal(bp_add_plan_make(&p,
                                      "{\"jobId\":\"x:1\",\"debounce\":{\"id\":\"d\",\"ttl\":900}}",
                                      5, &err),
                     0);
    assert_string_equal(p.job_id, "x:1");
    assert_string_equal(p.debounce_id, "d");
    assert_int_equal(p.debounce_ttl, 900);
    bp_add_plan_clear(&p);

    /* lifo is read with JS truthiness, as Bull's producer reads it */
    const struct {
        const char *opts;
        bool lifo;
    } lifo[] = {
        {"{\"lifo\":1}", true},      {"{\"lifo\":\"yes\"}", true},
        {"{\"lifo\":{}}", true},     {"{\"lifo\":0}", false},
        {"{\"lifo\":\"\"}", false},  {"{\"lifo\":null}", false},
        {"{\"lifo\":false}", false}, {"{}", false},
    };
    for (size_t i = 0; i < sizeof(lifo) / sizeof(lifo[0]); i++) {
        assert_int_equal(bp_add_plan_make(&p, lifo[i].opts, 5, &err), 0);
        assert_int_equal(p.lifo, lifo[i].lifo);
        bp_add_plan_clear(&p);
    }
}

static void test_add_plan_errors(void **state)
{
    bp_add_plan p;
    bp_err err;

    (void)state;
    assert_int_equal(bp_add_plan_make(&p, "{\"attempts\": 3,", 5, &err), -1);
    assert_non_null(strstr(err.msg, "opts: invalid JSON at line 1 column"));
    assert_int_equal(bp_add_plan_make(&p, "[1]", 5, &err), -1);
    assert_non_null(strstr(err.msg, "must be a JSON object"));
    assert_int_equal(bp_add_plan_make(&p, "{\"attempts\":\"many\"}", 5, &err), -1);
    assert_non_null(strstr(err.msg, "'attempts'"));
    assert_int_equal(bp_add_plan_make(&p, "{\"jobId\":[1]}", 5, &err), -1);
    assert_non_null(strstr(err.msg, "'jobId'"));
    assert_null(p.opts);
}

static void test_repeat_plan(void **state)
{
    bp_repeat_plan p;
    bp_err err = {0};

    (void)state;
    /* an occurrence Bull made (prevMillis set): the next one is on the next multiple */
    assert_int_equal(bp_repeat_plan_make(&p, "tick",
                                         "{\"repeat\":{\"every\":1000,\"count\":1,\"key\":"
                                         "\"tick:::1000\"},\"jobId\":\"repeat:x:1700000001000\","
                                         "\"prevMillis\":1700000001000,\"attempts\":1}",
                                         1700000001500LL, &err),
                     1);
    assert_int_equal(p.next_ms, 1700000002000LL);
    assert_string_equal(p.repeat_key, "tick:::1000");
    /* md5 values computed with Node's crypto, the way Bull's repeatable.js does */
    assert_string_equal(p.job_id, "repeat:e491fd22c5553cc835b9cd533c4edeb4:1700000002000");
    assert_non_null(strstr(p.opts, "\"count\":2"));
    assert_non_null(strstr(p.opts, "\"prevMillis\":1700000002000"));
    assert_non_null(strstr(p.opts, "\"delay\":500"));
    bp_repeat_plan_clear(&p);

    /* a first add with a custom jobId: the id goes into the key */
    assert_int_equal(bp_repeat_plan_make(&p, "tick",
                                         "{\"repeat\":{\"every\":1000},\"jobId\":\"myid\"}",
                                         1700000001500LL, &err),
                     1);
    assert_string_equal(p.repeat_key, "tick:myid::1000");
    assert_string_equal(p.job_id, "repeat:0f50c95194ce47b7ae3c195f25a2af55:1700000002000");
    bp_repeat_plan_clear(&p);

    /* limit reached, no repeat */
    assert_int_equal(bp_repeat_plan_make(&p, "t",
                                         "{\"repeat\":{\"every\":10,\"count\":3,"
                                         "\"limit\":3}}",
                                         5, &err),
                     0);
    assert_int_equal(bp_repeat_plan_make(&p, "t", "{\"attempts\":1}", 5, &err), 0);

    /* cron: the key carries tz and the expression (bull-protocol.md §7.11: "report::::0 3 * *
     * *"); the time itself is test_bp_cron's business */
    assert_int_equal(bp_repeat_plan_make(&p, "t", "{\"repeat\":{\"cron\":\"* * * * *\"}}", 5, &err),
                     1);
    assert_string_equal(p.repeat_key, "t::::* * * * *");
    assert_int_equal(p.next_ms, 60000);
    bp_repeat_plan_clear(&p);
    assert_int_equal(bp_repeat_plan_make(&p, "t",
                                         "{\"repeat\":{\"cron\":\"0 3 * * *\",\"tz\":"
                                         "\"Europe/Berlin\",\"endDate\":\"2030-01-01T00:00:"
                                         "00.000Z\"},\"jobId\":\"nightly\"}",
                                         1767225600000LL, &err),
                     1);
    assert_string_equal(p.repeat_key, "t:nightly:1893456000000:Europe/Berlin:0 3 * * *");
    assert_int_equal(p.next_ms, 1767232800000LL); /* 2026-01-01 03:00 CET */
    bp_repeat_plan_clear(&p);

    /* what Bull's worker would throw on: the job fails with the reason */
    assert_int_equal(
        bp_repeat_plan_make(&p, "t", "{\"repeat\":{\"cron\":\"0 0 15W * *\"}}", 5, &err), -2);
    assert_string_equal(err.msg, "Invalid characters, got value: 15W");
    assert_int_equal(
        bp_repeat_plan_make(&p, "t", "{\"repeat\":{\"cron\":\"* * * * *\",\"every\":5}}", 5, &err),
        -2);
    assert_string_equal(err.msg,
                        "Both .cron and .every options are defined for this repeatable job");
    assert_int_equal(bp_repeat_plan_make(&p, "t", "{\"repeat\":{\"every\":0}}", 5, &err), -2);
    assert_string_equal(err.msg, "Validation error, cannot resolve alias \"und\"");
    assert_int_equal(bp_repeat_plan_make(&p, "t",
                                         "{\"repeat\":{\"cron\":\"* * * * *\",\"tz\":\"Mars/"
                                         "Base\"}}",
                                         0, &err),
                     -2);
    assert_string_equal(err.msg, "CronDate: unhandled timestamp: \"1970-01-01T00:00:00.000Z\"");
    /* past endDate, and an expression with no further match: no next, no failure */
    assert_int_equal(bp_repeat_plan_make(
                         &p, "t", "{\"repeat\":{\"cron\":\"* * * * *\",\"endDate\":4}}", 5, &err),
                     0);
    assert_int_equal(
        bp_repeat_plan_make(&p, "t", "{\"repeat\":{\"cron\":\"0 0 30 2,2 *\"}}", 5, &err), 0);
}

/* Bull's jobIdForGroup: `${jobId || uuid}:${_.get(data, groupKey)}`. */
static void test_group_job_id(void **state)
{
    const struct {
        const char *id, *data, *key, *want;
    } cases[] = {
        {"7", "{\"user\":\"ann\"}", "user", "7:ann"},
        {"7", "{\"user\":{\"id\":42}}", "user.id", "7:42"},
        {"x", "{\"n\":true}", "n", "x:true"},
        {"x", "{\"n\":null}", "n", "x:null"},
        {"x", "{\"other\":1}", "n", "x:undefined"},
        {"x", "\"text\"", "n", "x:undefined"},
        {"x", "not json", "n", "x:undefined"},
    };
    char *id;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        id = bp_group_job_id(cases[i].id, cases[i].data, cases[i].key);
        assert_non_null(id);
        assert_string_equal(id, cases[i].want);
        free(id);
    }
    /* no custom id: a UUID v4, then the group */
    id = bp_group_job_id(NULL, "{\"user\":\"bob\"}", "user");
    assert_non_null(id);
    assert_int_equal(strlen(id), 36 + 4);
    assert_int_equal(id[14], '4');
    assert_string_equal(id + 36, ":bob");
    free(id);
}

static void test_log_cut(void **state)
{
    (void)state;
    assert_int_equal(bp_queue_log_cut("short", 16), 5);
    assert_int_equal(bp_queue_log_cut("abcdef", 4), 4);
    /* "a" + U+00E9 (2 bytes) + U+20AC (3 bytes): never half a character */
    assert_int_equal(bp_queue_log_cut("a\xc3\xa9\xe2\x82\xac", 2), 1);
    assert_int_equal(bp_queue_log_cut("a\xc3\xa9\xe2\x82\xac", 3), 3);
    assert_int_equal(bp_queue_log_cut("a\xc3\xa9\xe2\x82\xac", 4), 3);
    assert_int_equal(bp_queue_log_cut("a\xc3\xa9\xe2\x82\xac", 5), 3);
    assert_int_equal(bp_queue_log_cut("a\xc3\xa9\xe2\x82\xac", 6), 6);
}

static void test_uuid4(void **state)
{
    char a[37], b[37];

    (void)state;
    bp_uuid4(a);
    bp_uuid4(b);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    assert_int_equal(a[8], '-');
    assert_int_equal(a[14], '4');           /* version */
    assert_non_null(strchr("89ab", a[19])); /* variant */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_keys),   cmocka_unit_test(test_delayed_score),
        cmocka_unit_test(test_job_from_reply),  cmocka_unit_test(test_add_plan_defaults),
        cmocka_unit_test(test_add_plan_errors), cmocka_unit_test(test_repeat_plan),
        cmocka_unit_test(test_uuid4),           cmocka_unit_test(test_group_job_id),
        cmocka_unit_test(test_log_cut),
    };
    return cmocka_run_group_tests_name("bp_queue", tests, NULL, NULL);
}
