/* test_bp_document.c -- the document handler through bp_handlers_run(), with a recording
 * command callback in the job context (the seam the worker fills with its Redis client
 * connection): the result, the keys, the one EVAL that stores everything, batching of
 * large documents, the cache hit, and every input error with its exact message.
 *
 * The text is parsed in the real sandbox (bp_sandbox.h): this binary is its own extractor
 * (main() serves bullpen's extraction table when exec'd with BP_SANDBOX_ARGV1). A document
 * over sandbox.memory_mb fails for good (discard), naming the limit; Bull progress moves. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis.h>

#include "bp_docdata.h"
#include "bp_handler.h"
#include "bp_sandbox.h"
#include "bp_sandbox_extract.h"

static bp_sandbox *sandbox; /* shared by every test: one extractor, as in a worker */

#define MAX_CMDS  16
#define HELLO_SHA "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"

/* What the fake connection saw and what it answers. */
typedef struct fake_redis {
    int n;                  /* commands recorded */
    int argc[MAX_CMDS];     /* their argument counts */
    char *argv0[MAX_CMDS];  /* first argument */
    char *argv3[MAX_CMDS];  /* 4th argument: EVAL's first key */
    char *argv9[MAX_CMDS];  /* EVAL's result JSON */
    char *flags[MAX_CMDS];  /* EVAL's first/last flags, "10" etc. */
    char *chunk0[MAX_CMDS]; /* EVAL's first chunk */
    char *get_key;          /* key of the last GET */
    const char *cached;     /* GET answer; NULL = nil */
    bool fail;              /* answer every command with an error */
} fake_redis;

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static redisReply *fake_command(void *worker, int argc, const char **argv, const size_t *argvlen,
                                bp_err *err)
{
    fake_redis *f = worker;
    redisReply *r = calloc(1, sizeof(*r));
    int i = f->n++;

    assert_true(i < MAX_CMDS);
    f->argc[i] = argc;
    f->argv0[i] = dupn(argv[0], argvlen[0]);
    if (f->fail) {
        free(r);
        bp_err_set(err, BP_ERR_IO, 0, "connection reset by peer");
        return NULL;
    }
    if (strcmp(f->argv0[i], "GET") == 0) {
        free(f->get_key);
        f->get_key = dupn(argv[1], argvlen[1]);
        if (f->cached != NULL) {
            r->type = REDIS_REPLY_STRING;
            r->str = strdup(f->cached);
            r->len = strlen(f->cached);
        } else {
            r->type = REDIS_REPLY_NIL;
        }
        return r;
    }
    assert_string_equal(f->argv0[i], "EVAL");
    assert_true(argc >= 10);
    f->argv3[i] = dupn(argv[3], argvlen[3]);
    f->argv9[i] = dupn(argv[9], argvlen[9]);
    f->flags[i] = malloc(3);
    f->flags[i][0] = argv[7][0];
    f->flags[i][1] = argv[8][0];
    f->flags[i][2] = '\0';
    if (argc > 10)
        f->chunk0[i] = dupn(argv[10], argvlen[10]);
    r->type = REDIS_REPLY_INTEGER;
    r->integer = argc - 10;
    return r;
}

static void fake_free(fake_redis *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->argv0[i]);
        free(f->argv3[i]);
        free(f->argv9[i]);
        free(f->flags[i]);
        free(f->chunk0[i]);
    }
    free(f->get_key);
    const char *cached = f->cached; /* the answers stay, the recording goes */
    bool fail = f->fail;
    memset(f, 0, sizeof(*f));
    f->cached = cached;
    f->fail = fail;
}

/* One queue with one document handler for every job name. */
typedef struct fixture {
    bp_handler_config hc;
    bp_queue_config q;
    bp_handlers *h;
    fake_redis redis;
    char dir[PATH_MAX];
    char *dirs[1]; /* hc.allowed_dirs: dir */
} fixture;

static char job_star[] = "*", queue_name[] = "docs", prefix[] = "bull";

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    bp_err err = {0};

    fx->hc = (bp_handler_config){
        .job = job_star,
        .type = BP_HANDLER_DOCUMENT,
        .line = 7,
        .chunk_words = 200,
        .overlap_words = 40,
        .cache_ttl_s = 86400,
        .max_bytes = 67108864,
        .sandbox = {.memory_mb = 512, .cpu_s = 60, .wall_s = 120, .output_mb = 256}};
    fx->q = (bp_queue_config){
        .name = queue_name, .prefix = prefix, .handlers = &fx->hc, .n_handlers = 1};
    snprintf(fx->dir, sizeof(fx->dir), "%s/bp-doc-XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(fx->dir));
    fx->dirs[0] = fx->dir;
    fx->hc.allowed_dirs = fx->dirs;
    fx->hc.n_allowed_dirs = 1;
    assert_int_equal(bp_handlers_new(&fx->h, &fx->q, &err), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[PATH_MAX + 16];

    bp_handlers_free(fx->h);
    fake_free(&fx->redis);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static int n_progress;         /* progress updates recorded */
static char last_progress[16]; /* the last one */

static int fake_progress(void *worker, const char *json)
{
    (void)worker;
    n_progress++;
    snprintf(last_progress, sizeof(last_progress), "%s", json);
    return 0;
}

/* Run a document job on len bytes of data (which may hold a NUL byte); returns the result
 * (caller clears it). */
static bp_result run_len(fixture *fx, const char *data, size_t len)
{
    static volatile int cancel;
    bp_job_ctx ctx = {.queue = "docs",
                      .prefix = "bull",
                      .job_id = "17",
                      .job_name = "index",
                      .data = data,
                      .data_len = len,
                      .attempt = 1,
                      .cancel = &cancel,
                      .worker = &fx->redis,
                      .sandbox = sandbox,
                      .progress = fake_progress,
                      .command = fake_command};
    bp_result res = {0};

    fake_free(&fx->redis);
    bp_handlers_run(fx->h, &ctx, &res);
    return res;
}

static bp_result run(fixture *fx, const char *data)
{
    return run_len(fx, data, strlen(data));
}

static void expect_error(fixture *fx, const char *data, const char *want)
{
    bp_result res = run(fx, data);

    assert_null(res.value);
    assert_non_null(res.error);
    if (want != NULL)
        assert_string_equal(res.error, want);
    else /* only that it was refused for allowed_dirs, naming them */
        assert_non_null(strstr(res.error, "refused: not beneath any directory of allowed_dirs"));
    bp_result_clear(&res);
}

static char *write_file(fixture *fx, const char *name, const char *content, size_t len)
{
    static char path[PATH_MAX + 64];
    FILE *f;

    assert_true(strlen(fx->dir) + strlen(name) + 2 < sizeof(path));
    snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    fclose(f);
    return path;
}

static void test_text(void **state)
{
    fixture *fx = *state;
    bp_result res = run(fx, "{\"text\": \"hello world\"}");

    assert_null(res.error);
    assert_string_equal(res.value, "{\"sha256\":\"" HELLO_SHA "\",\"bytes\":11,\"format\":\"text\","
                                   "\"encoding\":\"UTF-8\",\"words\":2,\"chunks\":1,"
                                   "\"cached\":false}");
    assert_int_equal(fx->redis.n, 2); /* one GET, one EVAL */
    assert_string_equal(fx->redis.get_key, "bull:docs:doc:" HELLO_SHA);
    assert_string_equal(fx->redis.argv3[1], "bull:docs:doc:" HELLO_SHA ":chunks");
    assert_string_equal(fx->redis.flags[1], "11"); /* first and last batch */
    assert_string_equal(fx->redis.argv9[1], res.value);
    assert_int_equal(fx->redis.argc[1], 11);
    assert_string_equal(fx->redis.chunk0[1], "hello world");
    bp_result_clear(&res);
}

static void test_empty_text(void **state)
{
    fixture *fx = *state;
    bp_result res = run(fx, "{\"text\": \"  \"}");

    assert_non_null(res.value);
    assert_non_null(strstr(res.value, "\"bytes\":2,"));
    assert_non_null(strstr(res.value, "\"words\":0,\"chunks\":0,"));
    assert_int_equal(fx->redis.argc[1], 10); /* no chunks, the result is still stored */
    bp_result_clear(&res);
}

static void test_cached(void **state)
{
    fixture *fx = *state;
    bp_result res;

    fx->redis.cached = "{\"sha256\":\"" HELLO_SHA "\",\"bytes\":11,\"words\":2,\"chunks\":1,"
                       "\"cached\":false}";
    res = run(fx, "{\"text\": \"hello world\"}");
    fx->redis.cached = NULL;
    assert_string_equal(res.value, "{\"sha256\":\"" HELLO_SHA "\",\"bytes\":11,\"words\":2,"
                                   "\"chunks\":1,\"cached\":true}");
    assert_int_equal(fx->redis.n, 1); /* nothing recomputed or stored */
    bp_result_clear(&res);
}

static void test_file_types(void **state)
{
    fixture *fx = *state;
    const char *md = "# Title\n\nSome [link](http://x) text.\n";
    const char *html = "<p>a<script>x</script></p><p>b</p>";
    char data[PATH_MAX + 256];
    bp_result res;

    snprintf(data, sizeof(data), "{\"path\": \"%s\"}", write_file(fx, "a.md", md, strlen(md)));
    res = run(fx, data);
    assert_non_null(res.value);
    assert_non_null(strstr(res.value, "\"words\":4,\"chunks\":1,"));
    assert_string_equal(fx->redis.chunk0[1], "Title Some link text.");
    bp_result_clear(&res);

    snprintf(data, sizeof(data), "{\"path\": \"%s\"}", write_file(fx, "b.HTM", html, strlen(html)));
    res = run(fx, data);
    assert_string_equal(fx->redis.chunk0[1], "a b");
    bp_result_clear(&res);

    /* an explicit type wins over the extension */
    snprintf(data, sizeof(data), "{\"path\": \"%s\", \"type\": \"text\"}",
             write_file(fx, "c.html", html, strlen(html)));
    res = run(fx, data);
    assert_string_equal(fx->redis.chunk0[1], html);
    bp_result_clear(&res);

    snprintf(data, sizeof(data), "{\"path\": \"%s\"}", write_file(fx, "empty.txt", "", 0));
    res = run(fx, data);
    assert_non_null(strstr(res.value, "\"bytes\":0,"));
    assert_non_null(strstr(res.value, "\"words\":0,\"chunks\":0,"));
    bp_result_clear(&res);
}

/* chunk_format = "json": each chunk says its offset and heading path; the stored form and
 * the forced type are part of the cache key */
static void test_json_chunks(void **state)
{
    fixture *fx = *state;
    bp_result res;

    fx->hc.chunk_format = BP_CHUNK_FORMAT_JSON;
    fx->hc.chunk_words = 4;
    fx->hc.overlap_words = 0;
    res = run(fx, "{\"text\": \"# Alpha\\n\\none two.\\n\\n## Beta\\n\\nthree four five\", "
                  "\"type\": \"markdown\"}");
    fx->hc.chunk_format = BP_CHUNK_FORMAT_TEXT;
    fx->hc.chunk_words = 200;
    fx->hc.overlap_words = 40;
    assert_null(res.error);
    assert_non_null(strstr(res.value, "\"format\":\"markdown\""));
    assert_non_null(strstr(res.value, "\"chunk_format\":\"json\""));
    assert_non_null(strstr(res.value, "\"headings\":2"));
    assert_non_null(strstr(fx->redis.get_key, ":json:markdown"));
    assert_string_equal(fx->redis.chunk0[1], "{\"text\":\"Alpha one two.\",\"offset\":0,"
                                             "\"length\":14,\"headings\":[\"Alpha\"]}");
    bp_result_clear(&res);
}

static void test_batches(void **state)
{
    fixture *fx = *state;
    size_t words = 2500;
    char *text = malloc(words * 2 + 32), *data = malloc(words * 2 + 64);
    bp_result res;

    for (size_t i = 0; i < words; i++) {
        text[2 * i] = 'w';
        text[2 * i + 1] = ' ';
    }
    text[2 * words - 1] = '\0';
    fx->hc.chunk_words = 1; /* one chunk per word: 3 batches of <= 1000 */
    fx->hc.overlap_words = 0;
    snprintf(data, words * 2 + 64, "{\"text\": \"%s\"}", text);
    res = run(fx, data);
    fx->hc.chunk_words = 200;
    fx->hc.overlap_words = 40;
    assert_null(res.error);
    assert_non_null(strstr(res.value, "\"words\":2500,\"chunks\":2500,"));
    assert_int_equal(fx->redis.n, 4);
    assert_int_equal(fx->redis.argc[1], 1010);
    assert_int_equal(fx->redis.argc[2], 1010);
    assert_int_equal(fx->redis.argc[3], 510);
    assert_string_equal(fx->redis.flags[1], "10");
    assert_string_equal(fx->redis.flags[2], "00");
    assert_string_equal(fx->redis.flags[3], "01");
    /* batches fill a temporary list that the last one renames into place */
    assert_non_null(strstr(fx->redis.argv3[1], ":chunks:tmp:17"));
    assert_string_equal(fx->redis.argv3[3], fx->redis.argv3[1]);
    bp_result_clear(&res);
    free(text);
    free(data);
}

static void test_errors(void **state)
{
    fixture *fx = *state;
    char data[PATH_MAX + 256], want[3 * PATH_MAX + 512];
    char *path;

    snprintf(data, sizeof(data), "{\"path\": \"%s/missing.txt\"}", fx->dir);
    snprintf(want, sizeof(want),
             "cannot read document: path '%s/missing.txt' refused: cannot open it beneath "
             "allowed_dirs root '%s': No such file or directory; allowed_dirs = [\"%s\"] "
             "(document handler for job \"*\", config line 7)",
             fx->dir, fx->dir, fx->dir);
    expect_error(fx, data, want);

    snprintf(data, sizeof(data), "{\"path\": \"%s\"}", fx->dir);
    snprintf(want, sizeof(want),
             "cannot read document: path '%s' refused: a directory, not a regular file; "
             "allowed_dirs = [\"%s\"] (document handler for job \"*\", config line 7)",
             fx->dir, fx->dir);
    expect_error(fx, data, want);

    /* a FIFO with no writer: refused at once instead of blocking the worker */
    snprintf(data, sizeof(data), "%s/fifo", fx->dir);
    assert_int_equal(mkfifo(data, 0600), 0);
    snprintf(want, sizeof(want),
             "cannot read document: path '%s/fifo' refused: a FIFO (named pipe), not a regular "
             "file; allowed_dirs = [\"%s\"] (document handler for job \"*\", config line 7)",
             fx->dir, fx->dir);
    snprintf(data, sizeof(data), "{\"path\": \"%s/fifo\"}", fx->dir);
    expect_error(fx, data, want);

    /* outside allowed_dirs: the host's files are out of reach */
    expect_error(fx, "{\"path\": \"/etc/passwd\"}", NULL);

    /* a UTF-8 byte order mark over bytes that are not UTF-8: refused, saying where */
    path = write_file(fx, "bad.txt",
                      "\xEF\xBB\xBF"
                      "caf\xC3\xA9 ok \xFF\xFE",
                      14);
    snprintf(data, sizeof(data), "{\"path\": \"%s\"}", path);
    snprintf(want, sizeof(want),
             "text of '%s' starts with a UTF-8 byte order mark but is not valid UTF-8 at "
             "byte offset 12; not retried: the same input would fail the same way",
             path);
    expect_error(fx, data, want);
    assert_int_equal(fx->redis.n, 1); /* the cache lookup only, nothing stored */

    /* without a BOM, bytes that are not UTF-8 are a legacy encoding, converted */
    path = write_file(fx, "latin1.txt", "caf\xE9 d\xE9j\xE0", 9);
    snprintf(data, sizeof(data), "{\"path\": \"%s\"}", path);
    bp_result ok = run(fx, data);
    assert_non_null(ok.value);
    assert_non_null(strstr(ok.value, "\"encoding\":\"ISO-8859-1\""));
    assert_string_equal(fx->redis.chunk0[1], "caf\xC3\xA9 d\xC3\xA9j\xC3\xA0");
    bp_result_clear(&ok);

    fx->hc.max_bytes = 10;
    path = write_file(fx, "big.txt", "0123456789A", 11);
    snprintf(data, sizeof(data), "{\"path\": \"%s\"}", path);
    expect_error(fx, data,
                 "document is 11 bytes, over the limit of max_bytes = 10 "
                 "(handlers.max_bytes)");
    expect_error(fx, "{\"text\": \"0123456789AB\"}",
                 "document is 12 bytes, over the limit of max_bytes = 10 (handlers.max_bytes)");
    fx->hc.max_bytes = 67108864;

    expect_error(fx, "[1]",
                 "document job data must be an object {\"path\": \"/abs/file\"} or "
                 "{\"text\": \"...\"}");
    expect_error(fx, "{}", "document job data needs \"path\" (an absolute file name) or \"text\"");
    expect_error(fx, "{\"path\": \"/a\", \"text\": \"b\"}",
                 "document job data has both \"path\" and \"text\"; give one of them");
    expect_error(fx, "{\"path\": \"relative.txt\"}",
                 "document \"path\" must be an absolute file name string, beneath a directory "
                 "of the handler's allowed_dirs");
    expect_error(fx, "{\"text\": 5}", "document \"text\" must be a string");
    expect_error(fx, "{\"text\": \"x\", \"type\": \"exe\"}",
                 "document \"type\" must be one of text, markdown, html, pdf, docx, pptx, xlsx, "
                 "odt, odp, ods, epub, rtf");
    bp_result res = run(fx, "{\"text\": "); /* jansson's own words vary by version */
    assert_non_null(res.error);
    assert_non_null(strstr(res.error, "document job data is not valid JSON: "));
    assert_non_null(strstr(res.error, "(at byte 9)"));
    bp_result_clear(&res);
    /* a raw NUL byte, which jansson alone would take after a number (found by fuzz_document) */
    res = run_len(fx, "{\"text\": 5\0}", 12);
    assert_non_null(res.error);
    assert_string_equal(res.error, "document job data is not valid JSON: a NUL byte at byte 10 "
                                   "(inside a string it is written \\u0000)");
    bp_result_clear(&res);
}

static void test_redis_error(void **state)
{
    fixture *fx = *state;
    bp_result res;

    fx->redis.fail = true;
    res = run(fx, "{\"text\": \"hello world\"}");
    assert_non_null(res.error);
    assert_string_equal(res.error, "cannot read the document cache 'bull:docs:doc:" HELLO_SHA
                                   "': connection reset by peer");
    bp_result_clear(&res);
}

/* The job data scanner: decoding, skipping, and giving up on malformed input. */
static void test_docdata(void **state)
{
    bp_docdata d;
    const char *ok = " {\"n\": [1, {\"x\": \"]}\"}, -2.5e3, true, null], \"text\": \"a\\\"b\\\\c\\/"
                     "\\n\\u00e9\\u4e2d\\ud83d\\ude00\\u0000z\", \"type\": 5, \"text\": \"last "
                     "wins \\t\"} ";
    static const char *const bad[] = {
        "",
        "[]",
        "{",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{} x",
        "{\"text\": \"\\ud800\"}",
        "{\"text\": \"\\udc00\"}",
        "{\"text\": \"\\x\"}",
        "{\"text\": \"a\nb\"}",
        "{\"text\": \"\\u12\"}",
        "{\"text\": \"abc",
    };

    (void)state;
    assert_int_equal(bp_docdata_scan(ok, strlen(ok), &d), 1);
    assert_int_equal(d.text.kind, BP_DOCDATA_STRING);
    assert_string_equal(d.text.value, "last wins \t");
    assert_int_equal(d.type.kind, BP_DOCDATA_OTHER);
    assert_int_equal(d.path.kind, BP_DOCDATA_ABSENT);
    bp_docdata_free(&d);

    /* the first "text" alone, to see every escape decoded */
    const char *esc = "{\"text\": \"a\\\"b\\\\c\\/\\n\\u00e9\\u4e2d\\ud83d\\ude00\\u0000z\"}";
    assert_int_equal(bp_docdata_scan(esc, strlen(esc), &d), 1);
    assert_int_equal(d.text.len, 18);
    assert_memory_equal(d.text.value, "a\"b\\c/\n\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\0z", 18);
    bp_docdata_free(&d);

    assert_int_equal(bp_docdata_scan("{}", 2, &d), 1);
    assert_int_equal(d.text.kind, BP_DOCDATA_ABSENT);
    bp_docdata_free(&d);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bp_docdata_scan(bad[i], strlen(bad[i]), &d), 0);
        assert_null(d.text.value);
    }
}

/* A document whose text needs more than sandbox.memory_mb: fails for good, with the
 * limit named; the next document parses in the same worker. */
static void test_sandbox_memory_limit(void **state)
{
    fixture *fx = *state;
    size_t n = 24u << 20;
    char *text = malloc(n + 1), *data = malloc(n + 32);
    bp_result res;

    memset(text, 'a', n);
    for (size_t i = 7; i < n; i += 8)
        text[i] = ' ';
    text[n] = '\0';
    snprintf(data, n + 32, "{\"text\": \"%s\"}", text);
    fx->hc.sandbox.memory_mb = 16; /* the text alone is 24 MB */
    n_progress = 0;
    res = run(fx, data);
    fx->hc.sandbox.memory_mb = 512;
    assert_non_null(res.error);
    assert_non_null(strstr(res.error, "document (\"text\" of job 17): text parser ran out of "
                                      "memory"));
    assert_non_null(strstr(res.error, "(limit 16 MB, sandbox.memory_mb); not retried"));
    assert_true(res.discard);
    bp_result_clear(&res);
    /* the same document within the limit: parsed, with Bull progress on the way (in chunks
     * of 1,000,000 words: 4 of them, so the fake connection records every command) */
    fx->hc.chunk_words = 1000000;
    fx->hc.progress_ms = 1; /* the default, 500, is longer than this parse */
    res = run(fx, data);
    fx->hc.chunk_words = 200;
    fx->hc.progress_ms = 500;
    assert_null(res.error);
    assert_false(res.discard);
    assert_non_null(strstr(res.value, "\"words\":3145728,"));
    assert_true(n_progress >= 1);
    assert_true(atoi(last_progress) > 0 && atoi(last_progress) <= 100);
    bp_result_clear(&res);
    free(text);
    free(data);
}

/* sandbox.text_in_worker: valid UTF-8 text and Markdown need no sandbox; HTML, UTF-16 and
 * legacy encodings still go to it (here: a worker without one, so they fail saying so). */
static void test_text_in_worker(void **state)
{
    fixture *fx = *state;
    bp_sandbox *kept = sandbox;
    bp_result res;
    char want[256];

    fx->hc.sandbox.text_in_worker = true;
    sandbox = NULL; /* run() hands this to the handler: no extractor at all */
    res = run(fx, "{\"text\": \"caf\u00e9 and more words\"}");
    assert_null(res.error);
    assert_non_null(strstr(res.value, "\"words\":4,"));
    bp_result_clear(&res);
    res = run(fx, "{\"text\": \"# Title\\n\\n*one* two\", \"type\": \"markdown\"}");
    assert_null(res.error);
    assert_non_null(strstr(res.value, "\"words\":3,"));
    bp_result_clear(&res);
    snprintf(want, sizeof(want),
             "document (\"text\" of job 17): no extraction sandbox in this "
             "worker");
    expect_error(fx, "{\"text\": \"<p>hi</p>\", \"type\": \"html\"}", want);
    expect_error(fx, "{\"text\": \"h\\u0000i\"}", want); /* a NUL: not for the worker */
    fx->hc.sandbox.text_in_worker = false;
    expect_error(fx, "{\"text\": \"plain words\"}", want);
    sandbox = kept;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_error, setup, teardown),
        cmocka_unit_test(test_docdata),
        cmocka_unit_test_setup_teardown(test_sandbox_memory_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_in_worker, setup, teardown),
    };
    const char *profile;
    int rc;

    if (bp_sandbox_is_extractor(argc, argv, &profile))
        return bp_sandbox_server_main(bp_sandbox_extract_fns, bp_sandbox_extract_n_fns,
                                      bp_sandbox_extract_init, profile);
    sandbox = bp_sandbox_new(NULL);
    rc = cmocka_run_group_tests_name("bp_document", tests, NULL, NULL);
    bp_sandbox_free(sandbox);
    return rc;
}
