/* test_bp_url.c -- bp_url_parse(): the Redis URL forms bullpen accepts, and clear messages
 * for the ones it refuses (none of which may echo the password). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bp_config.h"

static void parse_ok(const char *url, bp_redis_config *rc)
{
    bp_err err = {0};

    memset(rc, 0, sizeof(*rc));
    if (bp_url_parse(url, rc, &err) != 0)
        fail_msg("'%s': %s", url, err.msg);
}

static void parse_bad(const char *url, const char *want)
{
    bp_redis_config rc = {0};
    bp_err err = {0};

    assert_int_equal(bp_url_parse(url, &rc, &err), -1);
    assert_int_equal(err.kind, BP_ERR_CONFIG);
    assert_string_equal(err.msg, want);
    assert_null(rc.host); /* nothing written on failure */
    assert_null(rc.url_redacted);
}

static void test_tcp(void **state)
{
    bp_redis_config rc;

    (void)state;
    parse_ok("redis://localhost", &rc);
    assert_int_equal(rc.transport, BP_TRANSPORT_TCP);
    assert_string_equal(rc.host, "localhost");
    assert_int_equal(rc.port, 6379);
    assert_int_equal(rc.db, 0);
    assert_null(rc.username);
    assert_null(rc.password);
    assert_null(rc.unix_path);
    assert_string_equal(rc.url_redacted, "redis://localhost:6379/0");
    bp_url_free(&rc);

    parse_ok("redis://10.0.0.5:6380/", &rc);
    assert_string_equal(rc.host, "10.0.0.5");
    assert_int_equal(rc.port, 6380);
    assert_int_equal(rc.db, 0);
    bp_url_free(&rc);

    parse_ok("REDIS://h/15", &rc);
    assert_int_equal(rc.db, 15);
    bp_url_free(&rc);

    parse_ok("redis://h?db=4", &rc);
    assert_int_equal(rc.db, 4);
    bp_url_free(&rc);
}

static void test_tls_and_userinfo(void **state)
{
    bp_redis_config rc;

    (void)state;
    parse_ok("rediss://default:p%40ss%3Aw%25rd@redis.example.com:6380/0", &rc);
    assert_int_equal(rc.transport, BP_TRANSPORT_TLS);
    assert_string_equal(rc.username, "default");
    assert_string_equal(rc.password, "p@ss:w%rd");
    assert_string_equal(rc.host, "redis.example.com");
    assert_int_equal(rc.port, 6380);
    assert_string_equal(rc.url_redacted, "rediss://default:***@redis.example.com:6380/0");
    assert_null(strstr(rc.url_redacted, "p@ss"));
    bp_url_free(&rc);

    parse_ok("rediss://:onlypass@h", &rc); /* redis-cli's form: password, no user */
    assert_null(rc.username);
    assert_string_equal(rc.password, "onlypass");
    assert_string_equal(rc.url_redacted, "rediss://:***@h:6379/0");
    bp_url_free(&rc);

    parse_ok("redis://user%20name@h", &rc);
    assert_string_equal(rc.username, "user name");
    assert_null(rc.password);
    assert_string_equal(rc.url_redacted, "redis://user name@h:6379/0");
    bp_url_free(&rc);

    parse_ok("redis://u:a@b@h:1/2", &rc); /* the last '@' ends the user info */
    assert_string_equal(rc.password, "a@b");
    assert_string_equal(rc.host, "h");
    bp_url_free(&rc);
}

static void test_ipv6(void **state)
{
    bp_redis_config rc;

    (void)state;
    parse_ok("redis://[::1]:6380", &rc);
    assert_string_equal(rc.host, "::1");
    assert_int_equal(rc.port, 6380);
    assert_string_equal(rc.url_redacted, "redis://[::1]:6380/0");
    bp_url_free(&rc);

    parse_ok("rediss://u:p@[2001:db8::7]/3", &rc);
    assert_string_equal(rc.host, "2001:db8::7");
    assert_int_equal(rc.port, 6379);
    assert_int_equal(rc.db, 3);
    bp_url_free(&rc);

    parse_ok("redis://[fe80::1%25eth0]:7000", &rc);
    assert_string_equal(rc.host, "fe80::1%eth0");
    bp_url_free(&rc);
}

static void test_unix(void **state)
{
    bp_redis_config rc;

    (void)state;
    parse_ok("unix:///run/redis/redis.sock", &rc);
    assert_int_equal(rc.transport, BP_TRANSPORT_UNIX);
    assert_string_equal(rc.unix_path, "/run/redis/redis.sock");
    assert_null(rc.host);
    assert_int_equal(rc.db, 0);
    assert_string_equal(rc.url_redacted, "unix:///run/redis/redis.sock");
    bp_url_free(&rc);

    parse_ok("unix://app:secret@/tmp/r%20s.sock?db=2", &rc);
    assert_string_equal(rc.unix_path, "/tmp/r s.sock");
    assert_string_equal(rc.username, "app");
    assert_string_equal(rc.password, "secret");
    assert_int_equal(rc.db, 2);
    assert_string_equal(rc.url_redacted, "unix://app:***@/tmp/r s.sock?db=2");
    bp_url_free(&rc);
}

static void test_bad(void **state)
{
    (void)state;
    parse_bad("localhost:6379", "not a Redis URL; write it as redis://host:6379/0, "
                                "rediss://user@host:6380/0 or unix:///path/to/redis.sock");
    parse_bad("http://h", "unknown scheme 'http://'; use redis:// (TCP), rediss:// (TLS) or "
                          "unix:// (socket)");
    parse_bad("redis://h:99999",
              "port '99999' is not a port number; use 1-65535 (or leave it out for 6379)");
    parse_bad("redis://h:", "port '' is not a port number; use 1-65535 (or leave it out for 6379)");
    parse_bad("redis://h:12ab",
              "port '12ab' is not a port number; use 1-65535 (or leave it out for 6379)");
    parse_bad("redis://h:0",
              "port '0' is not a port number; use 1-65535 (or leave it out for 6379)");
    parse_bad("redis://", "the URL has no host; write it as redis://host:6379/0, "
                          "rediss://user@host:6380/0 or unix:///path/to/redis.sock");
    parse_bad("redis://:6379", "the URL has no host; write it as redis://host:6379/0, "
                               "rediss://user@host:6380/0 or unix:///path/to/redis.sock");
    parse_bad("redis://::1:6379",
              "host '::1:6379' has several ':'; put an IPv6 address in brackets, [::1]:6379");
    parse_bad("redis://[::1:6379", "IPv6 address without its closing ']'; write it as [::1]:6379");
    parse_bad("redis://[zz::1]:6379",
              "'zz::1' is not an IPv6 address; write an IPv6 literal in brackets, [::1]:6379");
    parse_bad("redis://[::1]x",
              "unexpected text after ']'; write [::1]:6379 (address, then :port)");
    parse_bad("redis://h/x",
              "database 'x' is not a number; end the URL with /0 or another index >= 0");
    parse_bad("redis://h/-1",
              "database '-1' is not a number; end the URL with /0 or another index >= 0");
    parse_bad("redis://h/1?db=2", "the database is given twice (/N and ?db=N); keep one of them");
    parse_bad("redis://h?timeout=5",
              "unknown URL parameter 'timeout=5'; the only parameter is db=N");
    parse_bad("redis://h?db=x", "database 'x' is not a number; use ?db=0 or another index >= 0");
    parse_bad("redis://ho st",
              "the URL contains white space or '#'; percent-encode them (%20, %23)");
    parse_bad("redis://h_st!:1", "host 'h_st!' is not a valid host name or address; use letters, "
                                 "digits, '-' and '.', or an IPv6 literal in brackets");
    parse_bad("unix://host/tmp/x.sock",
              "a unix:// URL takes no host ('host'); write unix:///path/to/redis.sock");
    parse_bad("unix://", "the unix:// URL has no socket path; write unix:///path/to/redis.sock");
    parse_bad("redis://u:@h", "the password after ':' is empty; remove the ':' or give the "
                              "password (or use redis.password_file)");
    /* a bad escape names the part, never its text */
    parse_bad("redis://u:se%zzcret@h",
              "bad percent-escape in the URL's password; write a byte as %XX with two hex digits "
              "(%25 for '%' itself)");
    parse_bad("redis://u:se%00cret@h",
              "bad percent-escape in the URL's password; write a byte as %XX with two hex digits "
              "(%25 for '%' itself)");
    parse_bad("redis://u%4@h", "bad percent-escape in the URL's user name; write a byte as %XX "
                               "with two hex digits (%25 for '%' itself)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp),  cmocka_unit_test(test_tls_and_userinfo),
        cmocka_unit_test(test_ipv6), cmocka_unit_test(test_unix),
        cmocka_unit_test(test_bad),
    };

    return cmocka_run_group_tests_name("bp_url", tests, NULL, NULL);
}
