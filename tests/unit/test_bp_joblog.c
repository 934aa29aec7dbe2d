/* test_bp_joblog.c -- the per-job bound on log lines sent to Redis (worker/bp_joblog.h):
 * the first max_lines go at once, then the newest max_lines - 1 are held and written at the
 * end after a note, so Redis ends with what keepLogs would keep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bp_joblog.h"

/* What reached "Redis": the lines sent, in order. */
typedef struct sink {
    char lines[64][128];
    int n;
} sink;

static void to_sink(void *arg, const char *line)
{
    sink *s = arg;

    snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s", line);
}

/* Feed n lines "l1".."ln" through a joblog of max lines; return what was sent. */
static void feed(sink *s, int max, int n)
{
    bp_joblog jl;
    char line[32];

    memset(s, 0, sizeof(*s));
    assert_int_equal(bp_joblog_begin(&jl, max, 2048), 0);
    for (int i = 1; i <= n; i++) {
        snprintf(line, sizeof(line), "l%d", i);
        if (bp_joblog_admit(&jl, line))
            to_sink(s, line);
    }
    bp_joblog_end(&jl, to_sink, s);
}

static void test_under_the_bound(void **state)
{
    sink s;

    (void)state;
    feed(&s, 5, 5);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.lines[4], "l5");
}

static void test_over_the_bound(void **state)
{
    sink s;

    (void)state;
    /* 4 sent live, then l5..l20 held: the newest 3 (l18..l20) follow a note */
    feed(&s, 4, 20);
    assert_int_equal(s.n, 4 + 1 + 3);
    assert_string_equal(s.lines[3], "l4");
    assert_string_equal(s.lines[4], "bullpen: 13 log lines skipped, the last 3 follow");
    assert_string_equal(s.lines[5], "l18");
    assert_string_equal(s.lines[7], "l20");
    /* the newest 4 (what LTRIM keeps) are the note and the last 3 lines */

    /* fewer held lines than ring slots: all of them, in order */
    feed(&s, 4, 6);
    assert_int_equal(s.n, 4 + 1 + 2);
    assert_string_equal(s.lines[4], "bullpen: 0 log lines skipped, the last 2 follow");
    assert_string_equal(s.lines[5], "l5");
    assert_string_equal(s.lines[6], "l6");
}

static void test_edges(void **state)
{
    sink s;

    (void)state;
    feed(&s, 1, 3); /* one line: the first, then the note alone */
    assert_int_equal(s.n, 2);
    assert_string_equal(s.lines[0], "l1");
    assert_string_equal(s.lines[1], "bullpen: 2 log lines skipped, the last 0 follow");
    feed(&s, 0, 3); /* 0 = logs off in Redis: the sender drops them, nothing is held */
    assert_int_equal(s.n, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_under_the_bound),
        cmocka_unit_test(test_over_the_bound),
        cmocka_unit_test(test_edges),
    };

    return cmocka_run_group_tests_name("bp_joblog", tests, NULL, NULL);
}
