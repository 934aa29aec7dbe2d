/* test_bp_time.c -- the one backoff (common/bp_time.c): the cap doubles from base_ms up to
 * max_ms and stays there, every delay lies in [0, cap] ("full jitter"), reset starts over,
 * and the draws are spread, not constant. Also the clocks' basic sanity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bp_time.h"

static void test_growth_and_max(void **state)
{
    bp_backoff b;
    const int64_t want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};

    (void)state;
    bp_backoff_init(&b, 100, 5000, 42);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(bp_backoff_cap(&b), want[i]);
        int64_t d = bp_backoff_next(&b);
        assert_true(d >= 0 && d <= want[i]);
    }
    /* many more failures: the cap stays at max, no overflow */
    for (int i = 0; i < 1000; i++) {
        int64_t d = bp_backoff_next(&b);
        assert_true(d >= 0 && d <= 5000);
    }
    assert_int_equal(bp_backoff_cap(&b), 5000);
}

static void test_reset(void **state)
{
    bp_backoff b;

    (void)state;
    bp_backoff_init(&b, 50, 30000, 7);
    for (int i = 0; i < 10; i++)
        bp_backoff_next(&b);
    assert_int_equal(bp_backoff_cap(&b), 30000);
    bp_backoff_reset(&b);
    assert_int_equal(b.attempt, 0);
    assert_int_equal(bp_backoff_cap(&b), 50);
    assert_true(bp_backoff_next(&b) <= 50);
    assert_int_equal(bp_backoff_cap(&b), 100);
}

static void test_jitter_spread(void **state)
{
    bp_backoff b;
    int64_t lo = INT64_MAX, hi = -1, sum = 0;
    const int n = 4000;

    (void)state;
    bp_backoff_init(&b, 1000, 1000, 12345); /* cap fixed at 1000: every draw in [0, 1000] */
    for (int i = 0; i < n; i++) {
        int64_t d = bp_backoff_next(&b);
        assert_true(d >= 0 && d <= 1000);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        sum += d;
    }
    /* uniform over [0, 1000]: the extremes are near the ends and the mean near 500 */
    assert_true(lo < 50);
    assert_true(hi > 950);
    assert_true(sum / n > 400 && sum / n < 600);
}

static void test_seeds_differ(void **state)
{
    bp_backoff a, b;
    int same = 0;

    (void)state;
    bp_backoff_init(&a, 1000, 1000, 1);
    bp_backoff_init(&b, 1000, 1000, 2);
    for (int i = 0; i < 32; i++)
        same += bp_backoff_next(&a) == bp_backoff_next(&b);
    assert_true(same < 8); /* two workers do not retry in lock-step */

    bp_backoff_init(&a, 1000, 1000, 99);
    bp_backoff_init(&b, 1000, 1000, 99);
    for (int i = 0; i < 32; i++)
        assert_int_equal(bp_backoff_next(&a), bp_backoff_next(&b)); /* reproducible */

    bp_backoff_init(&a, 10, 100, 0); /* seed 0: one from the clock and pid */
    assert_true(a.rng != 0);
}

static void test_bad_bounds(void **state)
{
    bp_backoff b;

    (void)state;
    bp_backoff_init(&b, 0, 0, 5); /* base at least 1, max at least base */
    assert_int_equal(b.base_ms, 1);
    assert_int_equal(b.max_ms, 1);
    for (int i = 0; i < 10; i++)
        assert_true(bp_backoff_next(&b) <= 1);
    bp_backoff_init(&b, 500, 100, 5);
    assert_int_equal(b.max_ms, 500);
    assert_int_equal(bp_backoff_cap(&b), 500);
}

static void test_clocks(void **state)
{
    int64_t m0 = bp_mono_ms(), u0 = bp_mono_us();

    (void)state;
    assert_true(bp_now_ms() > 1600000000000LL); /* after 2020: milliseconds, not seconds */
    bp_sleep_ms(20);
    assert_true(bp_mono_ms() - m0 >= 20);
    assert_true(bp_mono_us() - u0 >= 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth_and_max), cmocka_unit_test(test_reset),
        cmocka_unit_test(test_jitter_spread),  cmocka_unit_test(test_seeds_differ),
        cmocka_unit_test(test_bad_bounds),     cmocka_unit_test(test_clocks),
    };

    return cmocka_run_group_tests_name("bp_time", tests, NULL, NULL);
}
