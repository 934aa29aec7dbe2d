/* test_bp_handlers.c -- routing (an exact job name wins over "*" whatever the order, unknown
 * names fail with their name) and the diagnostic handlers echo, sleep and fail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bp_handler.h"
#include "bp_time.h"

static char j_star[] = "*", j_echo[] = "echo", j_sleep[] = "sleep", j_fail[] = "fail";
static char q_name[] = "q", q_prefix[] = "bull";

static bp_result run(const bp_handlers *h, const char *name, const char *data, volatile int *cancel)
{
    static volatile int no_cancel;
    bp_job_ctx ctx = {.queue = "q",
                      .prefix = "bull",
                      .job_id = "5",
                      .job_name = name,
                      .data = data,
                      .data_len = strlen(data),
                      .attempt = 1,
                      .cancel = cancel != NULL ? cancel : &no_cancel};
    bp_result res = {0};

    bp_handlers_run(h, &ctx, &res);
    return res;
}

static void want_value(bp_result res, const char *want)
{
    assert_null(res.error);
    assert_non_null(res.value);
    assert_string_equal(res.value, want);
    assert_int_equal(res.len, strlen(want));
    bp_result_clear(&res);
}

static void want_error(bp_result res, const char *want)
{
    assert_null(res.value);
    assert_non_null(res.error);
    assert_string_equal(res.error, want);
    bp_result_clear(&res);
}

/* The job-log helpers handlers call: the formatted line reaches ctx->log. */
static char logged[4][128];
static int n_logged;

static int record_log(void *worker, const char *line)
{
    (void)worker;
    if (n_logged < 4)
        strncpy(logged[n_logged++], line, sizeof(logged[0]) - 1);
    return 0;
}

static void test_job_log_helpers(void **state)
{
    bp_job_ctx ctx = {.job_id = "9", .log = record_log};

    (void)state;
    n_logged = 0;
    memset(logged, 0, sizeof(logged));
    bp_job_warn(&ctx, "page %d of %s skipped", 3, "a.pdf");
    bp_job_logf(&ctx, "%d chunks", 12);
    assert_int_equal(n_logged, 2);
    assert_string_equal(logged[0], "page 3 of a.pdf skipped");
    assert_string_equal(logged[1], "12 chunks");
    ctx.log = NULL; /* no callback (a context without a worker): logged locally only */
    bp_job_warn(&ctx, "ignored");
    assert_int_equal(n_logged, 2);
}

static void test_routing(void **state)
{
    /* "*" first in the file: the exact names still win */
    bp_handler_config hcs[] = {
        {.job = j_star, .type = BP_HANDLER_FAIL, .line = 1},
        {.job = j_echo, .type = BP_HANDLER_ECHO, .line = 2},
        {.job = j_sleep, .type = BP_HANDLER_SLEEP, .line = 3},
    };
    bp_queue_config q = {.name = q_name, .prefix = q_prefix, .handlers = hcs, .n_handlers = 3};
    bp_handlers *h;
    bp_err err = {0};

    (void)state;
    assert_int_equal(bp_handlers_new(&h, &q, &err), 0);
    want_value(run(h, "echo", "{\"a\":1}", NULL), "{\"a\":1}");
    want_error(run(h, "anything", "{\"message\":\"routed to *\"}", NULL), "routed to *");
    bp_handlers_free(h);

    q.handlers = hcs + 1; /* no "*": an unknown name fails naming it */
    q.n_handlers = 2;
    assert_int_equal(bp_handlers_new(&h, &q, &err), 0);
    want_error(run(h, "thumbnail", "{}", NULL), "unknown job name \"thumbnail\"");
    want_error(run(h, "", "{}", NULL), "unknown job name \"\"");
    bp_handlers_free(h);
    bp_handlers_free(NULL);
}

static void test_echo(void **state)
{
    bp_handler_config hc = {.job = j_star, .type = BP_HANDLER_ECHO};
    bp_queue_config q = {.name = q_name, .prefix = q_prefix, .handlers = &hc, .n_handlers = 1};
    bp_handlers *h;
    bp_err err = {0};
    const char *odd = " { \"b\" : [1,2.50, \"\\u00e9\"] ,\"a\":null }\n";

    (void)state;
    assert_int_equal(bp_handlers_new(&h, &q, &err), 0);
    want_value(run(h, "x", odd, NULL), odd); /* byte for byte, white space and all */
    want_value(run(h, "x", "\"text\"", NULL), "\"text\"");
    bp_handlers_free(h);
}

static void test_sleep(void **state)
{
    bp_handler_config hc = {.job = j_star, .type = BP_HANDLER_SLEEP};
    bp_queue_config q = {.name = q_name, .prefix = q_prefix, .handlers = &hc, .n_handlers = 1};
    bp_handlers *h;
    bp_err err = {0};
    volatile int cancel = 1;
    int64_t t0;

    (void)state;
    assert_int_equal(bp_handlers_new(&h, &q, &err), 0);
    t0 = bp_mono_ms();
    want_value(run(h, "x", "{\"ms\": 120}", NULL), "{\"slept\":120}");
    assert_true(bp_mono_ms() - t0 >= 120);
    want_value(run(h, "x", "{\"ms\": 0}", NULL), "{\"slept\":0}");
    t0 = bp_mono_ms();
    want_error(run(h, "x", "{\"ms\": 600000}", &cancel), "cancelled");
    assert_true(bp_mono_ms() - t0 < 60000);
    want_error(run(h, "x", "{\"ms\": -1}", NULL),
               "sleep job data must be {\"ms\": N} with N a whole number >= 0");
    want_error(run(h, "x", "[]", NULL),
               "sleep job data must be {\"ms\": N} with N a whole number >= 0");
    bp_handlers_free(h);
}

static void test_fail(void **state)
{
    bp_handler_config hc = {.job = j_fail, .type = BP_HANDLER_FAIL};
    bp_queue_config q = {.name = q_name, .prefix = q_prefix, .handlers = &hc, .n_handlers = 1};
    bp_handlers *h;
    bp_err err = {0};

    (void)state;
    assert_int_equal(bp_handlers_new(&h, &q, &err), 0);
    want_error(run(h, "fail", "{\"message\": \"disk on fire %s %n\"}", NULL), "disk on fire %s %n");
    want_error(run(h, "fail", "{}", NULL), "failed on purpose");
    want_error(run(h, "fail", "not json", NULL), "failed on purpose");
    bp_handlers_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_log_helpers),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_sleep),
        cmocka_unit_test(test_fail),
    };
    return cmocka_run_group_tests_name("bp_handlers", tests, NULL, NULL);
}
