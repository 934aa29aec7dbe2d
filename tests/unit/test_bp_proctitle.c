/* test_bp_proctitle.c -- unit tests for master/bp_proctitle.c on this test's own argv block:
 * the title shows in /proc/self/cmdline, long titles are cut to the block, the environment
 * and argv stay readable after the block is reused, and the short name is set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bp_proctitle.h"

static int g_argc;
static char **g_argv;

/* Read a /proc file; returns the byte count, buf NUL-terminated. */
static size_t read_proc(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "r");
    size_t n;

    assert_non_null(fp);
    n = fread(buf, 1, cap - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return n;
}

static void test_before_init(void **state)
{
    (void)state;
    assert_int_equal(bp_proctitle_capacity(), 0);
    bp_proctitle_set("bullpen: %s", "nothing happens");
}

static void test_title_and_environment(void **state)
{
    char saved_path[4096];
    char arg0[4096];
    char buf[8192];
    const char *path = getenv("PATH");
    char *long_title;
    size_t cap, n;

    (void)state;
    assert_non_null(path);
    snprintf(saved_path, sizeof(saved_path), "%s", path);
    snprintf(arg0, sizeof(arg0), "%s", g_argv[0]);

    assert_int_equal(bp_proctitle_init(g_argc, g_argv), 0);
    assert_int_equal(bp_proctitle_init(g_argc, g_argv), 0); /* second call: no-op */
    cap = bp_proctitle_capacity();
    assert_true(cap > strlen(arg0));

    bp_proctitle_set("bullpen: master [%d queues, %d workers]", 2, 8);
    n = read_proc("/proc/self/cmdline", buf, sizeof(buf));
    assert_true(n > 0);
    assert_string_equal(buf, "bullpen: master [2 queues, 8 workers]");
    assert_string_equal(getenv("PATH"), saved_path);
    assert_string_equal(g_argv[0], arg0); /* argv now points at copies */

    /* a title longer than the block is cut, and the rest of the block stays zeroed */
    long_title = malloc(cap * 2 + 1);
    assert_non_null(long_title);
    memset(long_title, 'x', cap * 2);
    long_title[cap * 2] = '\0';
    bp_proctitle_set("%s", long_title);
    n = read_proc("/proc/self/cmdline", buf, sizeof(buf));
    assert_true(strlen(buf) == cap - 1 || strlen(buf) == sizeof(buf) - 1);
    assert_string_equal(getenv("PATH"), saved_path);
    free(long_title);

    /* a shorter title leaves no remains of the longer one */
    bp_proctitle_set("bullpen: worker %d [%s] busy job %s %.1fs", 2, "document-processing", "812",
                     3.2);
    n = read_proc("/proc/self/cmdline", buf, sizeof(buf));
    assert_string_equal(buf, "bullpen: worker 2 [document-processing] busy job 812 3.2s");
    assert_int_equal(strlen(buf), strlen("bullpen: worker 2 [document-processing] busy job "
                                         "812 3.2s"));
    for (size_t i = strlen(buf); i < n; i++)
        assert_int_equal(buf[i], '\0');
}

static void test_short_name(void **state)
{
    char comm[64];

    (void)state;
    bp_proctitle_set_name("bullpen-w2");
    read_proc("/proc/self/comm", comm, sizeof(comm));
    assert_string_equal(comm, "bullpen-w2\n");
    bp_proctitle_set_name("bullpen-worker-12345");
    read_proc("/proc/self/comm", comm, sizeof(comm));
    assert_string_equal(comm, "bullpen-worker-\n"); /* cut to 15 bytes */
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_init),
        cmocka_unit_test(test_title_and_environment),
        cmocka_unit_test(test_short_name),
    };

    g_argc = argc;
    g_argv = argv;
    return cmocka_run_group_tests_name("bp_proctitle", tests, NULL, NULL);
}
