/* test_bp_ctl_msg.c -- unit tests for master/bp_ctl_msg.c: a signed command is accepted with
 * its fields intact; every rejection (malformed, unsigned, bad MAC, altered, stale, replayed,
 * flooded, unknown version, bad argument) has its verdict and message; the MAC of a fixed
 * message matches a vector computed independently (Python hmac), pinning the wire format;
 * replies survive a format/parse round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bp_ctl_msg.h"

#define KEY     ((const unsigned char *)"sekrit-key")
#define KEY_LEN (sizeof("sekrit-key") - 1)
#define NOW     1732560000000LL

static char *make_signed(bp_ctl_cmd cmd, const char *arg, const char *host, int64_t ts)
{
    bp_ctl_msg m;
    bp_err err = {0};
    char *text;

    assert_int_equal(bp_ctl_msg_init(&m, cmd, arg, host, "bullpen:control", ts, &err), 0);
    text = bp_ctl_msg_sign(KEY, KEY_LEN, &m, &err);
    assert_non_null(text);
    return text;
}

/* Load text, set key to a new value (stolen), dump. Caller frees. */
static char *edit(const char *text, const char *key, json_t *value)
{
    json_t *obj = json_loads(text, 0, NULL);
    char *out;

    assert_non_null(obj);
    if (value == NULL)
        json_object_del(obj, key);
    else
        json_object_set_new(obj, key, value); /* steals value */
    out = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return out;
}

static bp_ctl_verdict verify(const char *text, int64_t now, bp_ctl_nonce_cache *cache,
                             bp_ctl_msg *out, bp_err *err)
{
    return bp_ctl_msg_verify(KEY, KEY_LEN, text, now, cache, out, err);
}

static void test_cmd_names(void **state)
{
    bp_ctl_cmd c;

    (void)state;
    for (int i = BP_CTL_STATUS; i <= BP_CTL_CANCEL; i++) {
        assert_int_equal(bp_ctl_cmd_parse(bp_ctl_cmd_name((bp_ctl_cmd)i), &c), 0);
        assert_int_equal(c, i);
    }
    assert_int_equal(bp_ctl_cmd_parse("restart", &c), -1);
    assert_string_equal(bp_ctl_cmd_name(BP_CTL_SHUTDOWN), "shutdown");
}

static void test_accept(void **state)
{
    bp_ctl_nonce_cache cache;
    bp_ctl_msg m;
    bp_err err = {0};
    char *text = make_signed(BP_CTL_SCALE, "document-processing=8", "web-01", NOW);
    char want_reply[128];

    (void)state;
    bp_ctl_nonce_cache_init(&cache);
    assert_non_null(strstr(text, "{\"v\":1,\"cmd\":\"scale\",\"arg\":\"document-processing=8\""));
    assert_int_equal(verify(text, NOW + 1500, &cache, &m, &err), BP_CTL_ACCEPTED);
    assert_int_equal(m.cmd, BP_CTL_SCALE);
    assert_string_equal(m.arg, "document-processing=8");
    assert_string_equal(m.host, "web-01");
    assert_int_equal(m.ts, NOW);
    assert_int_equal(strlen(m.nonce), BP_CTL_NONCE_HEX);
    snprintf(want_reply, sizeof(want_reply), "bullpen:control:reply:%s", m.nonce);
    assert_string_equal(m.reply, want_reply);
    assert_true(bp_ctl_msg_for_host(&m, "web-01"));
    assert_false(bp_ctl_msg_for_host(&m, "web-02"));
    free(text);

    /* every command, with and without a target host */
    text = make_signed(BP_CTL_STATUS, NULL, NULL, NOW);
    assert_int_equal(verify(text, NOW, &cache, &m, &err), BP_CTL_ACCEPTED);
    assert_string_equal(m.host, "");
    assert_true(bp_ctl_msg_for_host(&m, "anything"));
    free(text);
    text = make_signed(BP_CTL_CANCEL, "812", "", NOW);
    assert_int_equal(verify(text, NOW, &cache, &m, &err), BP_CTL_ACCEPTED);
    assert_string_equal(m.arg, "812");
    free(text);
}

/* The wire format, pinned: this MAC was computed with Python's hmac over the canonical text
 * "v1|6:status|0:|6:web-01|13:1732560000000|32:0011..eeff|54:bullpen:control:reply:0011..eeff" */
static void test_known_vector(void **state)
{
    static const char text[] =
        "{\"v\":1,\"cmd\":\"status\",\"arg\":\"\",\"host\":\"web-01\",\"ts\":1732560000000,"
        "\"nonce\":\"00112233445566778899aabbccddeeff\","
        "\"reply\":\"bullpen:control:reply:00112233445566778899aabbccddeeff\","
        "\"mac\":\"c1a566e6cc87c8f31ff16e010a9ee2787172fd7ff7d93e995c374cdab0ee5d7a\"}";
    bp_ctl_msg m;
    bp_err err = {0};
    char *again;

    (void)state;
    assert_int_equal(verify(text, NOW, NULL, &m, &err), BP_CTL_ACCEPTED);
    again = bp_ctl_msg_sign(KEY, KEY_LEN, &m, &err);
    assert_string_equal(again, text); /* sign() writes exactly this */
    free(again);
}

/* Moving bytes between fields changes the MAC: the canonical text is length-prefixed. */
static void test_canonical_unambiguous(void **state)
{
    bp_ctl_msg a, b;
    bp_err err = {0};
    char *ta, *tb;
    char long_channel[BP_CTL_CHANNEL_MAX];

    (void)state;
    assert_int_equal(bp_ctl_msg_init(&a, BP_CTL_CANCEL, "7|6:web-01", "", NULL, NOW, &err), 0);
    b = a;
    snprintf(b.arg, sizeof(b.arg), "7");
    snprintf(b.host, sizeof(b.host), "|6:web-01");
    ta = bp_ctl_msg_sign(KEY, KEY_LEN, &a, &err);
    tb = bp_ctl_msg_sign(KEY, KEY_LEN, &b, &err);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_string_not_equal(strstr(ta, "\"mac\""), strstr(tb, "\"mac\""));
    free(ta);
    free(tb);

    memset(long_channel, 'c', sizeof(long_channel) - 1);
    long_channel[sizeof(long_channel) - 1] = '\0';
    assert_int_equal(bp_ctl_msg_init(&a, BP_CTL_STATUS, NULL, NULL, long_channel, NOW, &err), -1);
    assert_non_null(strstr(err.msg, "pool.control_channel"));
}

static void test_reject_unsigned(void **state)
{
    bp_ctl_msg m;
    bp_err err = {0};
    char *text = make_signed(BP_CTL_SHUTDOWN, NULL, NULL, NOW);
    char *bare = edit(text, "mac", NULL);

    (void)state;
    assert_int_equal(verify(bare, NOW, NULL, &m, &err), BP_CTL_UNSIGNED);
    assert_non_null(strstr(err.msg, "ignored ctl message: unsigned"));
    assert_int_equal(verify("{\"cmd\":\"shutdown\"}", NOW, NULL, &m, &err), BP_CTL_UNSIGNED);
    free(bare);
    free(text);
}

static void test_reject_bad_mac(void **state)
{
    bp_ctl_msg m;
    bp_err err = {0};
    char *text = make_signed(BP_CTL_PAUSE, NULL, NULL, NOW);
    char *altered;

    (void)state;
    /* wrong key */
    assert_int_equal(
        bp_ctl_msg_verify((const unsigned char *)"other", 5, text, NOW, NULL, &m, &err),
        BP_CTL_BAD_MAC);
    assert_string_equal(err.msg, "ignored ctl message: bad signature; check "
                                 "pool.control_key_file matches on both sides");
    /* no key at all on the master's side */
    assert_int_equal(bp_ctl_msg_verify(NULL, 0, text, NOW, NULL, &m, &err), BP_CTL_BAD_MAC);
    /* every signed field altered */
    altered = edit(text, "cmd", json_string("shutdown"));
    assert_int_equal(verify(altered, NOW, NULL, &m, &err), BP_CTL_BAD_MAC);
    free(altered);
    altered = edit(text, "host", json_string("web-01"));
    assert_int_equal(verify(altered, NOW, NULL, &m, &err), BP_CTL_BAD_MAC);
    free(altered);
    altered = edit(text, "ts", json_integer(NOW + 1));
    assert_int_equal(verify(altered, NOW, NULL, &m, &err), BP_CTL_BAD_MAC);
    free(altered);
    altered = edit(text, "nonce", json_string("ffffffffffffffffffffffffffffffff"));
    assert_int_equal(verify(altered, NOW, NULL, &m, &err), BP_CTL_BAD_MAC);
    free(altered);
    altered = edit(text, "reply", json_string("attacker:channel"));
    assert_int_equal(verify(altered, NOW, NULL, &m, &err), BP_CTL_BAD_MAC);
    free(altered);
    altered = edit(text, "mac", json_string("zz"));
    assert_int_equal(verify(altered, NOW, NULL, &m, &err), BP_CTL_BAD_MAC);
    free(altered);
    altered = edit(text, "mac", json_string(""));
    assert_int_equal(verify(altered, NOW, NULL, &m, &err), BP_CTL_BAD_MAC);
    free(altered);
    /* still fine untouched */
    assert_int_equal(verify(text, NOW, NULL, &m, &err), BP_CTL_ACCEPTED);
    free(text);
}

static void test_reject_stale(void **state)
{
    bp_ctl_msg m;
    bp_err err = {0};
    char *text = make_signed(BP_CTL_RELOAD, NULL, NULL, NOW);

    (void)state;
    assert_int_equal(verify(text, NOW + BP_CTL_MAX_SKEW_MS + 1, NULL, &m, &err), BP_CTL_STALE);
    assert_non_null(strstr(err.msg, "ignored ctl message: stale (sent 30.0 s behind"));
    assert_int_equal(verify(text, NOW - BP_CTL_MAX_SKEW_MS - 1, NULL, &m, &err), BP_CTL_STALE);
    assert_non_null(strstr(err.msg, "ahead of"));
    assert_int_equal(verify(text, NOW + BP_CTL_MAX_SKEW_MS, NULL, &m, &err), BP_CTL_ACCEPTED);
    assert_int_equal(verify(text, NOW - BP_CTL_MAX_SKEW_MS, NULL, &m, &err), BP_CTL_ACCEPTED);
    free(text);
}

static void test_reject_replayed(void **state)
{
    bp_ctl_nonce_cache cache;
    bp_ctl_msg m;
    bp_err err = {0};
    char *text = make_signed(BP_CTL_SHUTDOWN, NULL, NULL, NOW);
    char *forged;

    (void)state;
    bp_ctl_nonce_cache_init(&cache);
    assert_int_equal(verify(text, NOW, &cache, &m, &err), BP_CTL_ACCEPTED);
    assert_int_equal(verify(text, NOW + 2000, &cache, &m, &err), BP_CTL_REPLAYED);
    assert_non_null(strstr(err.msg, "ignored ctl message: replayed"));
    assert_non_null(strstr(err.msg, "2.0 s ago"));
    /* later it is stale, whatever the cache says */
    assert_int_equal(verify(text, NOW + 40000, &cache, &m, &err), BP_CTL_STALE);
    /* a forgery with a fresh nonce never reaches (nor fills) the cache */
    forged = edit(text, "nonce", json_string("0123456789abcdef0123456789abcdef"));
    assert_int_equal(verify(forged, NOW, &cache, &m, &err), BP_CTL_BAD_MAC);
    assert_string_equal(cache.slot[1].nonce, "");
    free(forged);
    free(text);
}

static void test_reject_flood(void **state)
{
    bp_ctl_nonce_cache cache;
    bp_ctl_msg m;
    bp_err err = {0};
    char *text;

    (void)state;
    bp_ctl_nonce_cache_init(&cache);
    for (int i = 0; i < BP_CTL_NONCE_CACHE; i++) {
        text = make_signed(BP_CTL_STATUS, NULL, NULL, NOW + i);
        assert_int_equal(verify(text, NOW + i, &cache, &m, &err), BP_CTL_ACCEPTED);
        free(text);
    }
    text = make_signed(BP_CTL_STATUS, NULL, NULL, NOW + 1000);
    assert_int_equal(verify(text, NOW + 1000, &cache, &m, &err), BP_CTL_FLOODED);
    assert_non_null(strstr(err.msg, "more than 256 ctl commands"));
    free(text);
    /* once the oldest could only be replayed stale, its slot is reused */
    text = make_signed(BP_CTL_STATUS, NULL, NULL, NOW + BP_CTL_MAX_SKEW_MS + 1);
    assert_int_equal(verify(text, NOW + BP_CTL_MAX_SKEW_MS + 1, &cache, &m, &err), BP_CTL_ACCEPTED);
    free(text);
}

static void test_reject_malformed(void **state)
{
    bp_ctl_msg m;
    bp_err err = {0};
    char *text = make_signed(BP_CTL_STATUS, NULL, NULL, NOW);
    char *bad;

    (void)state;
    assert_int_equal(verify("not json", NOW, NULL, &m, &err), BP_CTL_MALFORMED);
    assert_non_null(strstr(err.msg, "ignored ctl message: malformed (not JSON"));
    assert_int_equal(verify("[1,2]", NOW, NULL, &m, &err), BP_CTL_MALFORMED);
    assert_int_equal(verify("{\"mac\":\"00\",\"mac\":\"00\"}", NOW, NULL, &m, &err),
                     BP_CTL_MALFORMED); /* duplicate keys */

    bad = edit(text, "ts", json_string("now"));
    assert_int_equal(verify(bad, NOW, NULL, &m, &err), BP_CTL_MALFORMED);
    assert_non_null(strstr(err.msg, "\"ts\""));
    free(bad);
    bad = edit(text, "cmd", json_string("format-disk"));
    assert_int_equal(verify(bad, NOW, NULL, &m, &err), BP_CTL_MALFORMED);
    assert_non_null(strstr(err.msg, "unknown command 'format-disk'"));
    free(bad);
    bad = edit(text, "host", NULL);
    assert_int_equal(verify(bad, NOW, NULL, &m, &err), BP_CTL_MALFORMED);
    assert_non_null(strstr(err.msg, "\"host\" missing"));
    free(bad);
    bad = edit(text, "nonce", json_string("ABC"));
    assert_int_equal(verify(bad, NOW, NULL, &m, &err), BP_CTL_MALFORMED);
    free(bad);
    bad = edit(text, "reply", json_string(""));
    assert_int_equal(verify(bad, NOW, NULL, &m, &err), BP_CTL_MALFORMED);
    free(bad);
    bad = edit(text, "v", json_integer(2));
    assert_int_equal(verify(bad, NOW, NULL, &m, &err), BP_CTL_VERSION_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "unsupported version 2"));
    free(bad);
    free(text);
}

/* An authentic message whose argument does not suit its command is still refused. */
static void test_reject_bad_arg(void **state)
{
    bp_ctl_msg m;
    bp_err err = {0};
    char *text;

    (void)state;
    assert_int_equal(bp_ctl_msg_init(&m, BP_CTL_SCALE, "", NULL, NULL, NOW, &err), -1);
    assert_non_null(strstr(err.msg, "scale needs a number of workers"));
    assert_int_equal(bp_ctl_msg_init(&m, BP_CTL_CANCEL, NULL, NULL, NULL, NOW, &err), -1);
    assert_non_null(strstr(err.msg, "cancel needs a job id"));
    assert_int_equal(bp_ctl_msg_init(&m, BP_CTL_PAUSE, "x", NULL, NULL, NOW, &err), -1);
    assert_non_null(strstr(err.msg, "pause takes no argument"));

    assert_int_equal(bp_ctl_msg_init(&m, BP_CTL_PAUSE, NULL, NULL, NULL, NOW, &err), 0);
    assert_ptr_equal(strstr(m.reply, ":reply:"), m.reply + strlen(BP_CTL_DEFAULT_CHANNEL));
    m.cmd = BP_CTL_SCALE; /* no arg: bp_ctl_msg_init would refuse, sign does not check */
    text = bp_ctl_msg_sign(KEY, KEY_LEN, &m, &err);
    assert_non_null(text);
    assert_int_equal(verify(text, NOW, NULL, &m, &err), BP_CTL_MALFORMED);
    assert_non_null(strstr(err.msg, "scale needs a number"));
    free(text);

    assert_null(bp_ctl_msg_sign(KEY, 0, &m, &err));
    assert_non_null(strstr(err.msg, "pool.control_key_file"));
}

static void test_scale_parse(void **state)
{
    char q[64];
    int n = -1;
    bp_err err = {0};

    (void)state;
    assert_int_equal(bp_ctl_scale_parse("8", q, sizeof(q), &n, &err), 0);
    assert_string_equal(q, "");
    assert_int_equal(n, 8);
    assert_int_equal(bp_ctl_scale_parse("docs=0", q, sizeof(q), &n, &err), 0);
    assert_string_equal(q, "docs");
    assert_int_equal(n, 0);
    assert_int_equal(bp_ctl_scale_parse("=3", q, sizeof(q), &n, &err), -1);
    assert_int_equal(bp_ctl_scale_parse("-1", q, sizeof(q), &n, &err), -1);
    assert_int_equal(bp_ctl_scale_parse("+1", q, sizeof(q), &n, &err), -1);
    assert_int_equal(bp_ctl_scale_parse("1025", q, sizeof(q), &n, &err), -1);
    assert_int_equal(bp_ctl_scale_parse("8x", q, sizeof(q), &n, &err), -1);
    assert_int_equal(bp_ctl_scale_parse("", q, sizeof(q), &n, &err), -1);
    assert_int_equal(bp_ctl_scale_parse("a-very-long-queue-name=1", q, 8, &n, &err), -1);
}

static void test_reply_round_trip(void **state)
{
    bp_ctl_reply *r = bp_ctl_reply_new("web-01", 812, true, "%d workers", 2);
    bp_ctl_worker w = {0};
    bp_ctl_reply *back;
    bp_err err = {0};
    char *text;

    (void)state;
    assert_non_null(r);
    w.index = 1;
    w.pid = 813;
    snprintf(w.queue, sizeof(w.queue), "document-processing");
    snprintf(w.state, sizeof(w.state), "busy");
    snprintf(w.job, sizeof(w.job), "42");
    w.jobs_done = 17;
    w.rss_kb = 10240;
    w.since_ms = NOW;
    assert_int_equal(bp_ctl_reply_add_worker(r, &w), 0);
    w.index = 2;
    snprintf(w.state, sizeof(w.state), "idle");
    w.job[0] = '\0';
    assert_int_equal(bp_ctl_reply_add_worker(r, &w), 0);
    text = bp_ctl_reply_format(r);
    assert_non_null(text);
    assert_non_null(strstr(text, "{\"host\":\"web-01\",\"pid\":812,\"ok\":true,\"message\":\"2 "
                                 "workers\",\"workers\":[{\"index\":1,\"pid\":813,"));
    back = bp_ctl_reply_parse(text, &err);
    assert_non_null(back);
    assert_string_equal(back->host, "web-01");
    assert_int_equal(back->pid, 812);
    assert_true(back->ok);
    assert_true(back->has_workers);
    assert_int_equal(back->n_workers, 2);
    assert_string_equal(back->workers[0].queue, "document-processing");
    assert_string_equal(back->workers[0].job, "42");
    assert_int_equal(back->workers[0].jobs_done, 17);
    assert_int_equal(back->workers[0].rss_kb, 10240);
    assert_int_equal(back->workers[0].since_ms, NOW);
    assert_string_equal(back->workers[1].state, "idle");
    free(text);
    bp_ctl_reply_free(back);
    bp_ctl_reply_free(r);

    /* without workers: no "workers" key */
    r = bp_ctl_reply_new("web-02", 9, false, "no job %s here", "77");
    text = bp_ctl_reply_format(r);
    assert_string_equal(text, "{\"host\":\"web-02\",\"pid\":9,\"ok\":false,\"message\":\"no job "
                              "77 here\"}");
    back = bp_ctl_reply_parse(text, &err);
    assert_false(back->ok);
    assert_false(back->has_workers);
    free(text);
    bp_ctl_reply_free(back);
    bp_ctl_reply_free(r);

    /* a master the command was not addressed to */
    r = bp_ctl_reply_skipped("web-03", 10, NULL);
    text = bp_ctl_reply_format(r);
    assert_string_equal(text, "{\"host\":\"web-03\",\"pid\":10,\"ok\":true,\"message\":\"not "
                              "addressed to web-03\",\"skipped\":true}");
    back = bp_ctl_reply_parse(text, &err);
    assert_true(back->skipped);
    assert_true(back->ok);
    free(text);
    bp_ctl_reply_free(back);
    bp_ctl_reply_free(r);

    assert_null(bp_ctl_reply_parse("{\"pid\":1}", &err));
    assert_non_null(strstr(err.msg, "malformed ctl reply"));
    assert_null(bp_ctl_reply_parse("garbage", &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_names),        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_known_vector),     cmocka_unit_test(test_canonical_unambiguous),
        cmocka_unit_test(test_reject_unsigned),  cmocka_unit_test(test_reject_bad_mac),
        cmocka_unit_test(test_reject_stale),     cmocka_unit_test(test_reject_replayed),
        cmocka_unit_test(test_reject_flood),     cmocka_unit_test(test_reject_malformed),
        cmocka_unit_test(test_reject_bad_arg),   cmocka_unit_test(test_scale_parse),
        cmocka_unit_test(test_reply_round_trip),
    };

    return cmocka_run_group_tests_name("bp_ctl_msg", tests, NULL, NULL);
}
