/* test_bp_cron.c -- the cron evaluator (common/bp_cron*.c) against cron-parser 4.9.0 itself.
 *
 * The expected values are not written here: tests/interop/cron_expect.js runs the pinned
 * bull's own cron-parser over tests/unit/data/cron_cases.json at test time (the ctest fixture
 * unit/cron_table) and writes one row per case to $BP_CRON_TABLE. Every row is replayed
 * through bp_cron_eval(): the same next times in a row (each from the previous one, as Bull's
 * worker chains them), the same "no next" message when next() throws, the same error message
 * when parseExpression() throws. Both sides run with TZ=Europe/Berlin for the rows without a
 * zone. A few properties that need no oracle follow. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "bp_cron.h"
#include "bp_jsnum.h"

/* One row: returns the number of mismatches (and prints them). */
static int check_row(const json_t *row, size_t line)
{
    const char *cron = json_string_value(json_object_get(row, "cron"));
    const json_t *next = json_object_get(row, "next");
    const char *error = json_string_value(json_object_get(row, "error"));
    const char *none = json_string_value(json_object_get(row, "none"));
    bp_cron_opts o = {
        .tz = json_object_get(row, "tz"),
        .utc = json_is_true(json_object_get(row, "utc")),
        .current_ms = (int64_t)json_number_value(json_object_get(row, "from")),
        .start_date = json_object_get(row, "startDate"),
        .end_date = json_object_get(row, "endDate"),
    };
    char *tz = json_dumps(o.tz != NULL ? o.tz : json_null(), JSON_ENCODE_ANY);
    int bad = 0, rc;
    size_t i;

    for (i = 0; i <= json_array_size(next); i++) {
        int64_t got = 0, from = o.current_ms;
        bp_err err = {.msg = ""};

        rc = bp_cron_eval(cron, &o, &got, &err);
        if (i < json_array_size(next)) {
            int64_t want = (int64_t)json_number_value(json_array_get(next, i));

            if (rc != 1 || got != want) {
                fprintf(stdout,
                        "line %zu: '%s' tz %s from %" PRId64 " step %zu: want %" PRId64
                        ", got rc %d %" PRId64 " (%s)\n",
                        line, cron, tz, from, i, want, rc, got, err.msg);
                bad++;
                break;
            }
            o.current_ms = got;
            continue;
        }
        if (error != NULL && (rc != -1 || strcmp(err.msg, error) != 0)) {
            fprintf(stdout, "line %zu: '%s' tz %s: want error '%s', got rc %d '%s' %" PRId64 "\n",
                    line, cron, tz, error, rc, err.msg, got);
            bad++;
        } else if (none != NULL && (rc != 0 || strcmp(err.msg, none) != 0)) {
            fprintf(stdout,
                    "line %zu: '%s' tz %s from %" PRId64 ": want no next ('%s'), got rc %d '%s' "
                    "%" PRId64 "\n",
                    line, cron, tz, from, none, rc, err.msg, got);
            bad++;
        }
        /* neither: the steps ran out; the next call is not part of the row */
    }
    free(tz);
    return bad;
}

static void test_against_cron_parser(void **state)
{
    const char *path = getenv("BP_CRON_TABLE");
    char *line = NULL;
    size_t cap = 0, n = 0, errors = 0, nones = 0;
    int bad = 0;
    FILE *f;

    (void)state;
    if (path == NULL) {
        print_error("BP_CRON_TABLE is not set: run this test through ctest (fixture "
                    "unit/cron_table writes the table with the pinned cron-parser)\n");
        fail();
    }
    f = fopen(path, "r");
    if (f == NULL) {
        print_error("cannot open '%s' (written by the unit/cron_table fixture)\n", path);
        fail();
    }
    while (getline(&line, &cap, f) > 0) {
        json_error_t jerr;
        json_t *row = json_loads(line, 0, &jerr);

        n++;
        assert_non_null(row);
        errors += json_object_get(row, "error") != NULL;
        nones += json_object_get(row, "none") != NULL;
        bad += check_row(row, n);
        json_decref(row);
    }
    free(line);
    fclose(f);
    fprintf(stdout,
            "cron table: %zu rows (%zu rejected by cron-parser, %zu without a next), %d "
            "mismatches\n",
            n, errors, nones, bad);
    assert_true(n > 1000); /* the whole table was read */
    assert_true(errors > 20 && nones > 5);
    assert_int_equal(bad, 0);
}

/* No oracle needed: whatever the expression, a next time is after the start and matches
 * again when asked from one ms before it. */
static void test_next_is_after_start(void **state)
{
    const char *exprs[] = {"*/7 * * * * *", "0 30 2 * * *", "0 0 L * *", "0 0 * * 5#2"};
    json_t *tz = json_string("Europe/Berlin");

    (void)state;
    for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
        bp_cron_opts o = {.tz = tz, .current_ms = 1774746000000}; /* 2026-03-29T01:00:00Z */

        for (int i = 0; i < 50; i++) {
            int64_t next, again;
            bp_err err;

            assert_int_equal(bp_cron_eval(exprs[e], &o, &next, &err), 1);
            assert_true(next > o.current_ms);
            o.current_ms = next - 1;
            assert_int_equal(bp_cron_eval(exprs[e], &o, &again, &err), 1);
            assert_int_equal(again, next);
            o.current_ms = next;
        }
    }
    json_decref(tz);
}

static void test_js_numbers(void **state)
{
    char buf[40];

    (void)state;
    assert_true(bp_js_to_number("", 0) == 0);
    assert_true(bp_js_to_number(" 12 ", 4) == 12);
    assert_true(bp_js_to_number("0x1f", 4) == 31);
    assert_true(bp_js_to_number("-0", 2) == 0);
    assert_true(bp_js_to_number("1e3", 3) == 1000);
    assert_true(bp_js_to_number("5-", 2) != bp_js_to_number("5-", 2)); /* NaN */
    bp_js_number_text(1e21, buf, sizeof(buf));
    assert_string_equal(buf, "1e+21");
    bp_js_number_text(1e20, buf, sizeof(buf));
    assert_string_equal(buf, "100000000000000000000");
    bp_js_number_text(2.5, buf, sizeof(buf));
    assert_string_equal(buf, "2.5");
    bp_js_number_text(-0.0, buf, sizeof(buf));
    assert_string_equal(buf, "0");
    bp_js_number_text(1.5e-7, buf, sizeof(buf));
    assert_string_equal(buf, "1.5e-7");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_cron_parser),
        cmocka_unit_test(test_next_is_after_start),
        cmocka_unit_test(test_js_numbers),
    };

    return cmocka_run_group_tests_name("bp_cron", tests, NULL, NULL);
}
