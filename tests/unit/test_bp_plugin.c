/* test_bp_plugin.c -- handler plugins (worker/bullpen_handler.h) loaded by bp_handlers_new():
 * the example plugin from tests/plugins (settings, progress, log, cache through the
 * context's command seam, results, errors, no result), and the refusals: missing file,
 * missing bullpen_plugin symbol, ABI mismatch, failing init. The plugin paths come from
 * tests/plugins/CMakeLists.txt as compile definitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis.h>

#include "bp_handler.h"
#include "bullpen_handler.h"

#ifndef BP_EXAMPLE_PLUGIN
#error "BP_EXAMPLE_PLUGIN must name the example plugin (tests/plugins/CMakeLists.txt)"
#endif

/* What the job context saw. */
typedef struct recorder {
    char progress[64];  /* last progress JSON */
    char log[64];       /* last log line */
    char set[256];      /* last SET: "key value EX ttl" */
    const char *stored; /* what GET answers; NULL = nil */
} recorder;

static int rec_progress(void *worker, const char *json)
{
    snprintf(((recorder *)worker)->progress, 64, "%s", json);
    return 0;
}

static int rec_log(void *worker, const char *line)
{
    snprintf(((recorder *)worker)->log, 64, "%s", line);
    return 0;
}

static redisReply *rec_command(void *worker, int argc, const char **argv, const size_t *argvlen,
                               bp_err *err)
{
    recorder *r = worker;
    redisReply *reply = calloc(1, sizeof(*reply));

    (void)err;
    if (strcmp(argv[0], "GET") == 0) {
        assert_int_equal(argc, 2);
        assert_string_equal(argv[1], "bull:q:cache:count");
        reply->type = r->stored != NULL ? REDIS_REPLY_STRING : REDIS_REPLY_NIL;
        if (r->stored != NULL) {
            reply->str = strdup(r->stored);
            reply->len = strlen(r->stored);
        }
        return reply;
    }
    assert_string_equal(argv[0], "SET");
    assert_int_equal(argc, 5);
    snprintf(r->set, sizeof(r->set), "%s %.*s %s %s", argv[1], (int)argvlen[2], argv[2], argv[3],
             argv[4]);
    reply->type = REDIS_REPLY_STATUS;
    reply->str = strdup("OK");
    reply->len = 2;
    return reply;
}

static char job_ocr[] = "ocr", queue_name[] = "q", prefix[] = "bull";
static char k_greeting[] = "greeting", v_bonjour[] = "bonjour";
static char k_fail[] = "fail_init", v_true[] = "true";

/* Build a table with one plugin handler for path; returns bp_handlers_new()'s result. */
static int load(const char *path, bp_kv *settings, size_t n, bp_handler_config *hc,
                bp_queue_config *q, bp_handlers **h, bp_err *err)
{
    *hc = (bp_handler_config){.job = job_ocr,
                              .type = BP_HANDLER_PLUGIN,
                              .line = 9,
                              .path = (char *)(uintptr_t)path,
                              .settings = settings,
                              .n_settings = n};
    *q = (bp_queue_config){.name = queue_name, .prefix = prefix, .handlers = hc, .n_handlers = 1};
    memset(err, 0, sizeof(*err));
    return bp_handlers_new(h, q, err);
}

static bp_result run(bp_handlers *h, recorder *rec, const char *data)
{
    static volatile int cancel;
    bp_job_ctx ctx = {.queue = "q",
                      .prefix = "bull",
                      .job_id = "1",
                      .job_name = "ocr",
                      .data = data,
                      .data_len = strlen(data),
                      .attempt = 3,
                      .cancel = &cancel,
                      .worker = rec,
                      .progress = rec_progress,
                      .log = rec_log,
                      .command = rec_command};
    bp_result res = {0};

    bp_handlers_run(h, &ctx, &res);
    return res;
}

static void test_good_plugin(void **state)
{
    bp_kv settings[] = {{k_greeting, v_bonjour}};
    bp_handler_config hc;
    bp_queue_config q;
    bp_handlers *h;
    bp_err err;
    recorder rec = {0};
    bp_result res;

    (void)state;
    assert_int_equal(load(BP_EXAMPLE_PLUGIN, settings, 1, &hc, &q, &h, &err), 0);
    res = run(h, &rec, "{\"x\":1}");
    assert_null(res.error);
    assert_string_equal(res.value, "{\"greeting\":\"bonjour\",\"bytes\":7,\"attempt\":3,"
                                   "\"previous\":null,\"cancelled\":0}");
    assert_string_equal(rec.progress, "50");
    assert_string_equal(rec.log, "example ran");
    assert_string_equal(rec.set, "bull:q:cache:count 1 EX 60");
    bp_result_clear(&res);

    rec.stored = "41";
    res = run(h, &rec, "{}");
    assert_string_equal(res.value, "{\"greeting\":\"bonjour\",\"bytes\":2,\"attempt\":3,"
                                   "\"previous\":41,\"cancelled\":0}");
    assert_string_equal(rec.set, "bull:q:cache:count 42 EX 60");
    bp_result_clear(&res);

    res = run(h, &rec, "{\"mode\":\"fail\"}");
    assert_null(res.value);
    assert_string_equal(res.error, "example failure");
    bp_result_clear(&res);

    res = run(h, &rec, "{\"mode\":\"nothing\"}");
    assert_string_equal(res.value, "null");
    bp_result_clear(&res);

    res = run(h, &rec, "{\"mode\":\"badjson\"}");
    assert_null(res.value);
    assert_non_null(strstr(res.error, "plugin 'example' returned a result that is not valid "
                                      "JSON: "));
    bp_result_clear(&res);

    res = run(h, &rec, "{\"mode\":\"rc\"}");
    assert_string_equal(res.error, "plugin 'example' failed (handle returned 7) without a message");
    bp_result_clear(&res);
    bp_handlers_free(h);
}

static void test_refusals(void **state)
{
    bp_kv fail[] = {{k_fail, v_true}};
    bp_handler_config hc;
    bp_queue_config q;
    bp_handlers *h = NULL;
    bp_err err;
    char want[1024];

    (void)state;
    assert_int_equal(load("/nonexistent/ocr.so", NULL, 0, &hc, &q, &h, &err), -1);
    assert_int_equal(err.kind, BP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "cannot load plugin '/nonexistent/ocr.so' (handler for job "
                                    "\"ocr\", config line 9): "));
    assert_non_null(strstr(err.msg, "No such file or directory; check the path"));

    assert_int_equal(load(BP_NOSYM_PLUGIN, NULL, 0, &hc, &q, &h, &err), -1);
    assert_int_equal(err.kind, BP_ERR_CONFIG);
    snprintf(want, sizeof(want),
             "plugin '%s' (config line 9) does not export 'bullpen_plugin'; define 'const struct "
             "bullpen_plugin bullpen_plugin' as shown in bullpen_handler.h and rebuild it",
             BP_NOSYM_PLUGIN);
    assert_string_equal(err.msg, want);

    assert_int_equal(load(BP_BADABI_PLUGIN, NULL, 0, &hc, &q, &h, &err), -1);
    assert_int_equal(err.kind, BP_ERR_CONFIG);
    snprintf(want, sizeof(want),
             "plugin '%s' (config line 9) was built for handler ABI version %d, this bullpen "
             "loads versions %d to %d; rebuild the plugin against this bullpen's "
             "bullpen_handler.h",
             BP_BADABI_PLUGIN, BULLPEN_HANDLER_ABI_VERSION + 998, BULLPEN_HANDLER_ABI_MIN,
             BULLPEN_HANDLER_ABI_VERSION);
    assert_string_equal(err.msg, want);

    assert_int_equal(load(BP_EXAMPLE_PLUGIN, fail, 1, &hc, &q, &h, &err), -1);
    assert_int_equal(err.kind, BP_ERR_CONFIG);
    snprintf(want, sizeof(want),
             "plugin '%s' (config line 9) failed to initialise: fail_init is set; check its "
             "settings",
             BP_EXAMPLE_PLUGIN);
    assert_string_equal(err.msg, want);
    assert_null(h); /* untouched on failure */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_plugin),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests_name("bp_plugin", tests, NULL, NULL);
}
