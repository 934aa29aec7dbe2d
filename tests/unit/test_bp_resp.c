/* test_bp_resp.c -- RESP parsing and formatting through hiredis 0.14's redisReader and
 * formatter, the two pieces of hiredis bp_conn.c uses under its own socket and TLS I/O.
 *
 * No server: bytes are fed to the reader directly (like hiredis's test_reply_reader).
 * Covers every reply type, nesting, byte-by-byte partial feeds, binary-safe bulk strings,
 * and that protocol errors are sticky (which is why bp_conn drops the connection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis.h>

typedef struct resp_fixture {
    redisReader *reader; /* fresh for every test */
} resp_fixture;

static int setup(void **state)
{
    resp_fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    f->reader = redisReaderCreate();
    *state = f;
    return f->reader != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    resp_fixture *f = *state;

    redisReaderFree(f->reader);
    free(f);
    return 0;
}

/* Feed s whole and return the one reply it holds. */
static redisReply *feed_one(redisReader *r, const char *s, size_t len)
{
    void *reply = NULL;

    assert_int_equal(redisReaderFeed(r, s, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    assert_non_null(reply);
    return reply;
}

#define FEED(r, lit) feed_one((r), (lit), sizeof(lit) - 1)

static void test_status_error_integer(void **state)
{
    resp_fixture *f = *state;
    redisReply *rep;

    rep = FEED(f->reader, "+PONG\r\n");
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    assert_string_equal(rep->str, "PONG");
    freeReplyObject(rep);

    rep = FEED(f->reader, "-NOSCRIPT No matching script. Please use EVAL.\r\n");
    assert_int_equal(rep->type, REDIS_REPLY_ERROR);
    assert_int_equal(strncmp(rep->str, "NOSCRIPT", 8), 0);
    freeReplyObject(rep);

    rep = FEED(f->reader, ":-9223372036854775808\r\n");
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    assert_true(rep->integer == INT64_MIN);
    freeReplyObject(rep);
}

static void test_bulk_and_nil(void **state)
{
    resp_fixture *f = *state;
    static const char bin[] = "$7\r\na\0b\r\nc!\r\n";
    redisReply *rep;

    rep = feed_one(f->reader, bin, sizeof(bin) - 1);
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_int_equal(rep->len, 7);
    assert_memory_equal(rep->str, "a\0b\r\nc!", 7); /* binary safe: NUL and CRLF inside */
    freeReplyObject(rep);

    rep = FEED(f->reader, "$0\r\n\r\n");
    assert_int_equal(rep->type, REDIS_REPLY_STRING);
    assert_int_equal(rep->len, 0);
    freeReplyObject(rep);

    rep = FEED(f->reader, "$-1\r\n");
    assert_int_equal(rep->type, REDIS_REPLY_NIL);
    freeReplyObject(rep);

    rep = FEED(f->reader, "*-1\r\n"); /* BRPOP timeout */
    assert_int_equal(rep->type, REDIS_REPLY_NIL);
    freeReplyObject(rep);
}

static void test_nested_arrays(void **state)
{
    resp_fixture *f = *state;
    redisReply *rep;

    rep = FEED(f->reader, "*3\r\n:1\r\n*2\r\n$3\r\nfoo\r\n*1\r\n+OK\r\n*0\r\n");
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->elements, 3);
    assert_int_equal(rep->element[0]->integer, 1);
    assert_int_equal(rep->element[1]->type, REDIS_REPLY_ARRAY);
    assert_string_equal(rep->element[1]->element[0]->str, "foo");
    assert_string_equal(rep->element[1]->element[1]->element[0]->str, "OK");
    assert_int_equal(rep->element[2]->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->element[2]->elements, 0);
    freeReplyObject(rep);
}

static void test_partial_feeds(void **state)
{
    resp_fixture *f = *state;
    static const char msg[] = "*2\r\n$5\r\nhello\r\n:42\r\n+next\r\n";
    void *reply = NULL;
    size_t first_len = sizeof(msg) - 1 - strlen("+next\r\n");
    redisReply *rep;

    /* one byte at a time: no reply until the last byte of the array */
    for (size_t i = 0; i < first_len; i++) {
        assert_int_equal(redisReaderFeed(f->reader, msg + i, 1), REDIS_OK);
        assert_int_equal(redisReaderGetReply(f->reader, &reply), REDIS_OK);
        if (i + 1 < first_len)
            assert_null(reply);
    }
    assert_non_null(reply);
    rep = reply;
    assert_int_equal(rep->elements, 2);
    assert_string_equal(rep->element[0]->str, "hello");
    assert_int_equal(rep->element[1]->integer, 42);
    freeReplyObject(rep);

    /* two replies in one feed come out one by one (pipelining) */
    assert_int_equal(redisReaderFeed(f->reader, msg + first_len, strlen("+next\r\n")), REDIS_OK);
    rep = FEED(f->reader, "+again\r\n");
    assert_string_equal(rep->str, "next");
    freeReplyObject(rep);
    assert_int_equal(redisReaderGetReply(f->reader, &reply), REDIS_OK);
    assert_string_equal(((redisReply *)reply)->str, "again");
    freeReplyObject(reply);
    assert_int_equal(redisReaderGetReply(f->reader, &reply), REDIS_OK);
    assert_null(reply);
}

static void test_protocol_error_is_sticky(void **state)
{
    resp_fixture *f = *state;
    void *reply = NULL;
    static const char tls_alert[] = "\x15\x03\x03\x00\x02\x02\x46"; /* a TLS alert record */

    assert_int_equal(redisReaderFeed(f->reader, tls_alert, sizeof(tls_alert) - 1), REDIS_OK);
    assert_int_equal(redisReaderGetReply(f->reader, &reply), REDIS_ERR);
    assert_null(reply);
    assert_int_equal(f->reader->err, REDIS_ERR_PROTOCOL);
    assert_non_null(strstr(f->reader->errstr, "Protocol error"));
    /* sticky: valid bytes afterwards do not revive the reader */
    assert_int_equal(redisReaderFeed(f->reader, "+OK\r\n", 5), REDIS_ERR);
    assert_int_equal(redisReaderGetReply(f->reader, &reply), REDIS_ERR);
    assert_null(reply);
}

static void test_bad_length_is_error(void **state)
{
    resp_fixture *f = *state;
    void *reply = NULL;

    assert_int_equal(redisReaderFeed(f->reader, "$abc\r\n", 6), REDIS_OK);
    assert_int_equal(redisReaderGetReply(f->reader, &reply), REDIS_ERR);
    assert_null(reply);
}

static void test_nesting_limit(void **state)
{
    resp_fixture *f = *state;
    void *reply = NULL;
    char deep[64] = "";

    for (int i = 0; i < 9; i++) /* hiredis 0.14 refuses nesting deeper than 7 */
        strcat(deep, "*1\r\n");
    strcat(deep, ":1\r\n");
    assert_int_equal(redisReaderFeed(f->reader, deep, strlen(deep)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(f->reader, &reply), REDIS_ERR);
    assert_null(reply);
}

static void test_format_argv_binary(void **state)
{
    const char *argv[] = {"SET", "k", "a\r\nb"};
    size_t lens[] = {3, 1, 4};
    char *cmd = NULL;
    static const char want[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n";
    int len;

    (void)state;
    len = redisFormatCommandArgv(&cmd, 3, argv, lens);
    assert_int_equal(len, sizeof(want) - 1);
    assert_memory_equal(cmd, want, sizeof(want) - 1);
    redisFreeCommand(cmd);

    len = redisFormatCommand(&cmd, "GET %s", "a b");
    assert_true(len > 0);
    assert_memory_equal(cmd, "*2\r\n$3\r\nGET\r\n$3\r\na b\r\n", (size_t)len);
    redisFreeCommand(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status_error_integer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulk_and_nil, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_arrays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_feeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocol_error_is_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_length_is_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting_limit, setup, teardown),
        cmocka_unit_test(test_format_argv_binary),
    };

    return cmocka_run_group_tests_name("bp_resp", tests, NULL, NULL);
}
