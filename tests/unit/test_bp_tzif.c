/* test_bp_tzif.c -- the zoneinfo reader (common/bp_tzif.c) against glibc's own reading of the
 * same files: for a set of zones with unusual rules (negative DST, 30- and 45-minute offsets,
 * two changes a year, none) the offset bp_tz_offset() gives must equal localtime_r()'s
 * tm_gmtoff at every sampled instant from 1901 to 2199 (after 2037 the footer rule decides),
 * and POSIX TZ rules alone must read as glibc reads them (from 1970: glibc computes a rule's
 * changes for earlier years as if they were 1970). Setting TZ is process-global, which
 * is exactly why bullpen has its own reader; in a test it is fine. Then the refusals:
 * truncated and foreign files, names that would leave the zoneinfo directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bp_tzif.h"

static const char *const zones[] = {
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/St_Johns",
    "Africa/Casablanca",
    "Europe/Dublin",
    "America/Sao_Paulo",
    "Antarctica/Troll",
    "UTC",
    "Asia/Tehran",
    "Australia/Sydney",
    "America/Santiago",
    "Pacific/Apia",
    "EST5EDT",
};

/* glibc's offset for t in the zone TZ names (TZ must be set and tzset() called) */
static long glibc_offset(time_t t)
{
    struct tm tm;

    assert_non_null(localtime_r(&t, &tm));
    return tm.tm_gmtoff;
}

static void compare_range(const bp_tz *tz, const char *what, int64_t from)
{
    int bad = 0;

    /* every 20 h 13 min, so the sample drifts through all hours and days */
    for (int64_t t = from; t < 7258118400LL && bad < 5; t += 72780) {
        /* and around every instant where the offset changes, a second before and after */
        int32_t ours = bp_tz_offset(tz, t);
        long want = glibc_offset((time_t)t);

        if (ours != want) {
            print_error("%s at %lld: bullpen %d, glibc %ld\n", what, (long long)t, ours, want);
            bad++;
        }
        if (bp_tz_offset(tz, t + 72780) != ours) { /* a change in between: find it */
            int64_t lo = t, hi = t + 72780;

            while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;

                if (bp_tz_offset(tz, mid) == ours)
                    lo = mid;
                else
                    hi = mid;
            }
            if (bp_tz_offset(tz, hi) != glibc_offset((time_t)hi) ||
                bp_tz_offset(tz, lo) != glibc_offset((time_t)lo)) {
                print_error("%s: change at %lld differs from glibc\n", what, (long long)hi);
                bad++;
            }
        }
    }
    assert_int_equal(bad, 0);
}

static void test_zones_match_glibc(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
        bp_tz *tz = NULL;
        bp_err err;

        assert_int_equal(bp_tz_load(&tz, zones[i], &err), 0);
        setenv("TZ", zones[i], 1);
        tzset();
        compare_range(tz, zones[i], -2147483647LL);
        bp_tz_free(tz);
    }
}

static void test_posix_rules_match_glibc(void **state)
{
    static const char *const rules[] = {
        "EST5EDT,M3.2.0,M11.1.0",
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
        "IST-1GMT0,M10.5.0,M3.5.0/1",
        "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
        "NZST-12NZDT,J270,J96",
        "XXX3YYY,100/-1,250/26",
        "UTC0",
        "<+0545>-5:45",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        bp_tz *tz = NULL;
        bp_err err;

        assert_int_equal(bp_tz_from_posix(&tz, rules[i], &err), 0);
        setenv("TZ", rules[i], 1);
        tzset();
        compare_range(tz, rules[i], 0); /* glibc applies rules as of 1970 only */
        bp_tz_free(tz);
    }
}

static void test_local_zone(void **state)
{
    bp_tz *tz = NULL;
    bp_err err;

    (void)state;
    setenv("TZ", "Asia/Kolkata", 1);
    assert_int_equal(bp_tz_load(&tz, NULL, &err), 0);
    assert_int_equal(bp_tz_offset(tz, 1767225600), 19800);
    bp_tz_free(tz);
    setenv("TZ", ":Europe/Berlin", 1);
    assert_int_equal(bp_tz_load(&tz, NULL, &err), 0);
    assert_int_equal(bp_tz_offset(tz, 1767225600), 3600);
    bp_tz_free(tz);
    setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
    assert_int_equal(bp_tz_load(&tz, NULL, &err), 0);
    assert_int_equal(bp_tz_offset(tz, 1767225600), -18000);
    bp_tz_free(tz);
    unsetenv("TZ");
}

static void test_refusals(void **state)
{
    static const char *const bad_names[] = {
        "../../etc/passwd",       "/etc/localtime", "Mars/Olympus", "",
        "Europe/Berlin ",         "posixrules",     "right/UTC",    "zone.tab",
        "Europe/../Europe/Berlin"};
    unsigned char buf[4096];
    size_t len;
    bp_tz *tz = NULL;
    bp_err err;
    FILE *f;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        err.msg[0] = '\0';
        assert_int_equal(bp_tz_load(&tz, bad_names[i], &err), -1);
        assert_true(err.msg[0] != '\0');
    }
    /* every truncation of a real file is refused, never read past its end */
    f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    assert_non_null(f);
    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    assert_true(len > 100);
    for (size_t cut = 0; cut + 1 < len; cut += 7) {
        if (bp_tz_parse(&tz, "cut", buf, cut, &err) == 0)
            bp_tz_free(tz); /* a cut inside the footer still leaves a valid v2 body */
    }
    assert_int_equal(bp_tz_parse(&tz, "Europe/Berlin", buf, len, &err), 0);
    assert_int_equal(bp_tz_offset(tz, 1782864000), 7200); /* 2026-07-01 */
    bp_tz_free(tz);
    memcpy(buf, "TZxx", 4);
    assert_int_equal(bp_tz_parse(&tz, "x", buf, len, &err), -1);
    assert_non_null(strstr(err.msg, "not a TZif file"));
    assert_int_equal(bp_tz_from_posix(&tz, "E5D,M13.1.0,M1.1.0", &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zones_match_glibc),
        cmocka_unit_test(test_posix_rules_match_glibc),
        cmocka_unit_test(test_local_zone),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests_name("bp_tzif", tests, NULL, NULL);
}
