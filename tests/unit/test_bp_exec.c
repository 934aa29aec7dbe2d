/* test_bp_exec.c -- the exec handler through bp_handlers_run(): stdout as JSON or as a
 * string, stdin (large, and not read at all), PROGRESS lines, the job environment, and the
 * failure modes: missing program, non-zero exit, signals, timeout (also with SIGTERM
 * ignored), cancel, stdout over max_bytes, and a grandchild left running.
 *
 * The scripts run through /bin/sh -c in the TEST argv only; the handler never uses a shell.
 * Durations are only bounded from above, generously, never used as the assertion itself. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bp_handler.h"
#include "bp_time.h"

#define MAX_PROGRESS 8

typedef struct recorder {
    int n_progress;
    char *progress[MAX_PROGRESS];
    volatile int *cancel_after_progress; /* set *this when a progress arrives */
} recorder;

static int rec_progress(void *worker, const char *json)
{
    recorder *r = worker;

    if (r->n_progress < MAX_PROGRESS)
        r->progress[r->n_progress++] = strdup(json);
    if (r->cancel_after_progress != NULL)
        *r->cancel_after_progress = 1;
    return 0;
}

static char job_name[] = "run", queue_name[] = "jobs", prefix[] = "bull";
static char **test_env;   /* the handler's env setting for the next run_argv() */
static size_t test_n_env; /* entries in test_env */

/* Run argv (NULL-terminated) as the exec handler with data; returns the result. */
static bp_result run_argv(char **argv, int timeout_ms, int64_t max_bytes, const char *data,
                          recorder *rec, volatile int *cancel)
{
    static volatile int no_cancel;
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    bp_handler_config hc = {.job = job_name,
                            .type = BP_HANDLER_EXEC,
                            .line = 12,
                            .argv = argv,
                            .argc = argc,
                            .timeout_ms = timeout_ms,
                            .max_bytes = max_bytes,
                            .env = test_env,
                            .n_env = test_n_env};
    bp_queue_config q = {.name = queue_name, .prefix = prefix, .handlers = &hc, .n_handlers = 1};
    bp_handlers *h;
    bp_err err = {0};
    recorder local = {0};
    bp_job_ctx ctx = {.queue = "jobs",
                      .prefix = "bull",
                      .job_id = "42",
                      .job_name = "run",
                      .data = data,
                      .data_len = strlen(data),
                      .attempt = 2,
                      .cancel = cancel != NULL ? cancel : &no_cancel,
                      .worker = rec != NULL ? rec : &local,
                      .progress = rec_progress};
    bp_result res = {0};

    assert_int_equal(bp_handlers_new(&h, &q, &err), 0);
    bp_handlers_run(h, &ctx, &res);
    bp_handlers_free(h);
    for (int i = 0; i < local.n_progress; i++)
        free(local.progress[i]);
    return res;
}

static bp_result run_sh(const char *script, int timeout_ms, const char *data, recorder *rec)
{
    char sh[] = "/bin/sh", c[] = "-c";
    char *s = strdup(script);
    char *argv[] = {sh, c, s, NULL};
    bp_result res = run_argv(argv, timeout_ms, 0, data, rec, NULL);

    free(s);
    return res;
}

static void want_value(bp_result *res, const char *want)
{
    assert_null(res->error);
    assert_non_null(res->value);
    assert_string_equal(res->value, want);
    bp_result_clear(res);
}

static void want_error(bp_result *res, const char *want)
{
    assert_null(res->value);
    assert_non_null(res->error);
    assert_string_equal(res->error, want);
    bp_result_clear(res);
}

static void test_stdout_json_and_text(void **state)
{
    bp_result res;
    char cat[] = "/bin/cat";
    char *argv[] = {cat, NULL};

    (void)state;
    res = run_argv(argv, 0, 0, "{\"a\": [1, 2]}", NULL, NULL);
    want_value(&res, "{\"a\": [1, 2]}"); /* stdin in, stdout out, JSON kept as is */
    res = run_sh("echo 'hello \"world\"'", 0, "{}", NULL);
    want_value(&res, "\"hello \\\"world\\\"\""); /* not JSON: a JSON string */
    res = run_sh("printf '\\377garbage\\001'", 0, "{}", NULL);
    want_value(&res, "\"\xEF\xBF\xBDgarbage\\u0001\"");
    res = run_sh("true", 0, "{}", NULL);
    want_value(&res, "null");
    res = run_sh("echo '  42  '", 0, "{}", NULL);
    want_value(&res, "42");
}

static void test_large_stdin(void **state)
{
    size_t n = 1 << 20;
    char *data = malloc(n + 3);
    char cat[] = "/bin/cat";
    char *argv[] = {cat, NULL};
    bp_result res;

    (void)state;
    data[0] = '"';
    memset(data + 1, 'x', n);
    data[n + 1] = '"';
    data[n + 2] = '\0';
    res = run_argv(argv, 0, 0, data, NULL, NULL);
    assert_null(res.error);
    assert_int_equal(res.len, n + 2);
    assert_memory_equal(res.value, data, n + 2);
    bp_result_clear(&res);
    /* a program that never reads its stdin: EPIPE is not a failure */
    res = run_sh("exec echo 1", 0, data, NULL);
    want_value(&res, "1");
    free(data);
}

static void test_progress_and_env(void **state)
{
    recorder rec = {0};
    bp_result res;

    (void)state;
    res = run_sh("echo 'PROGRESS 50' >&2; echo 'PROGRESS {\"step\":2}' >&2; "
                 "echo 'PROGRESS nope' >&2; "
                 "echo \"$BULLPEN_JOB_ID $BULLPEN_JOB_NAME $BULLPEN_ATTEMPT $BULLPEN_QUEUE\"",
                 0, "{}", &rec);
    want_value(&res, "\"42 run 2 jobs\"");
    assert_int_equal(rec.n_progress, 2);
    assert_string_equal(rec.progress[0], "50");
    assert_string_equal(rec.progress[1], "{\"step\":2}");
    for (int i = 0; i < rec.n_progress; i++)
        free(rec.progress[i]);
}

/* What a program can reach: bullpen's secrets stay out of its environment unless env names
 * them, it starts in "/", and it inherits no descriptor but 0, 1 and 2 -- not a socket the
 * worker holds (a Redis connection), even one opened without close-on-exec. */
static void test_env_and_fds(void **state)
{
    char e_pass[] = "PASS_ME", e_set[] = "FIXED=1", *envs[] = {e_pass, e_set};
    char prog_env[] = "/usr/bin/env", prog_ls[] = "/bin/ls", fd_dir[] = "/proc/self/fd",
         prog_pwd[] = "/bin/pwd";
    char *argv_env[] = {prog_env, NULL}, *argv_ls[] = {prog_ls, fd_dir, NULL},
         *argv_pwd[] = {prog_pwd, NULL};
    int sv[2];
    bp_result res;

    (void)state;
    setenv("BULLPEN_REDIS_PASSWORD", "pw-secret-1", 1);
    setenv("BULLPEN_REDIS_URL", "rediss://:pw-secret-2@h:6380", 1);
    setenv("REDIS_URL", "rediss://:pw-secret-3@h:6380", 1);
    setenv("SOME_TOKEN", "pw-secret-4", 1);
    setenv("PASS_ME", "passed", 1);
    setenv("LC_TIME", "C", 1);
    test_env = envs;
    test_n_env = 2;
    res = run_argv(argv_env, 0, 0, "{}", NULL, NULL);
    assert_null(res.error);
    assert_null(strstr(res.value, "pw-secret"));
    assert_null(strstr(res.value, "BULLPEN_REDIS"));
    assert_null(strstr(res.value, "REDIS_URL"));
    assert_non_null(strstr(res.value, "PASS_ME=passed"));
    assert_non_null(strstr(res.value, "FIXED=1"));
    assert_non_null(strstr(res.value, "LC_TIME=C"));
    assert_non_null(strstr(res.value, "BULLPEN_JOB_ID=42"));
    if (getenv("PATH") != NULL)
        assert_non_null(strstr(res.value, "PATH="));
    bp_result_clear(&res);

    /* without env, a variable of bullpen's is not passed: only the base set is */
    test_n_env = 0;
    res = run_argv(argv_env, 0, 0, "{}", NULL, NULL);
    assert_null(strstr(res.value, "PASS_ME"));
    bp_result_clear(&res);
    test_env = NULL;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0); /* no SOCK_CLOEXEC */
    res = run_argv(argv_ls, 0, 0, "{}", NULL, NULL);
    want_value(&res, "\"0\\n1\\n2\\n3\""); /* 3 is ls's own handle on the directory */
    close(sv[0]);
    close(sv[1]);
    res = run_argv(argv_pwd, 0, 0, "{}", NULL, NULL);
    want_value(&res, "\"/\"");
    unsetenv("BULLPEN_REDIS_PASSWORD");
    unsetenv("BULLPEN_REDIS_URL");
    unsetenv("REDIS_URL");
    unsetenv("SOME_TOKEN");
    unsetenv("PASS_ME");
    unsetenv("LC_TIME");
}

static void test_failures(void **state)
{
    bp_result res;
    char missing[] = "/nonexistent/program";
    char *argv[] = {missing, NULL};

    (void)state;
    res = run_argv(argv, 0, 0, "{}", NULL, NULL);
    want_error(&res, "cannot run '/nonexistent/program' (exec handler for job \"run\", config "
                     "line 12): No such file or directory");
    res = run_sh("echo first >&2; echo 'the real reason' >&2; echo >&2; exit 3", 0, "{}", NULL);
    want_error(&res, "the real reason");
    res = run_sh("exit 4", 0, "{}", NULL);
    want_error(&res, "exited with status 4");
    res = run_sh("kill -SEGV $$", 0, "{}", NULL);
    want_error(&res, "killed by signal SIGSEGV");
    char sh[] = "/bin/sh", c[] = "-c", big[] = "head -c 5000 /dev/zero";
    char *argv2[] = {sh, c, big, NULL};
    res = run_argv(argv2, 0, 1000, "{}", NULL, NULL);
    want_error(&res, "'/bin/sh' wrote more than 1000 bytes to stdout (handlers.max_bytes)");
}

static void test_timeout(void **state)
{
    int64_t t0 = bp_mono_ms();
    bp_result res;

    (void)state;
    res = run_sh("sleep 60", 300, "{}", NULL);
    want_error(&res, "timed out after 300 ms");
    assert_true(bp_mono_ms() - t0 < 20000);
    /* SIGTERM ignored: SIGKILL after the grace period */
    t0 = bp_mono_ms();
    res = run_sh("trap '' TERM; while :; do sleep 1; done", 300, "{}", NULL);
    want_error(&res, "timed out after 300 ms");
    assert_true(bp_mono_ms() - t0 < 20000);
}

static void test_cancel(void **state)
{
    volatile int cancel = 0;
    recorder rec = {.cancel_after_progress = &cancel};
    char sh[] = "/bin/sh", c[] = "-c", script[] = "echo 'PROGRESS 1' >&2; sleep 60";
    char *argv[] = {sh, c, script, NULL};
    bp_result res = run_argv(argv, 0, 0, "{}", &rec, &cancel);

    (void)state;
    want_error(&res, "cancelled");
    free(rec.progress[0]);
}

/* Whether pid is gone (or a zombie waiting for whoever adopted it). */
static bool gone(pid_t pid)
{
    char path[64], buf[512];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return true;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    return rp != NULL && (rp[2] == 'Z' || rp[2] == 'X');
}

static void test_grandchild(void **state)
{
    int64_t t0 = bp_mono_ms();
    /* the grandchild keeps stdout and stderr open and would run for 5 minutes */
    bp_result res = run_sh("sleep 300 & echo $!", 0, "{}", NULL);
    pid_t pid;

    (void)state;
    assert_null(res.error);
    pid = (pid_t)atoi(res.value);
    assert_true(pid > 0);
    bp_result_clear(&res);
    assert_true(bp_mono_ms() - t0 < 20000);
    for (int i = 0; i < 200 && !gone(pid); i++)
        bp_sleep_ms(50);
    assert_true(gone(pid));
}

/* The worker SIGKILLed mid-job (as the master does to a hung worker's group, which the
 * child is not in): the child must die with it (PR_SET_PDEATHSIG). */
static void test_worker_killed(void **state)
{
    char dir[] = "/tmp/bp-exec-XXXXXX", pidfile[64], script[256];
    pid_t worker, child = 0;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
    snprintf(script, sizeof(script), "echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 300", pidfile,
             pidfile, pidfile);
    worker = fork();
    assert_true(worker >= 0);
    if (worker == 0) {
        bp_result res = run_sh(script, 0, "{}", NULL);
        bp_result_clear(&res);
        _exit(0);
    }
    for (int i = 0; i < 400 && child <= 0; i++) {
        f = fopen(pidfile, "r");
        if (f != NULL) {
            if (fscanf(f, "%d", &child) != 1)
                child = 0;
            fclose(f);
        }
        if (child <= 0)
            bp_sleep_ms(50);
    }
    assert_true(child > 0);
    assert_int_equal(kill(worker, SIGKILL), 0);
    assert_int_equal(waitpid(worker, NULL, 0), worker);
    for (int i = 0; i < 200 && !gone(child); i++)
        bp_sleep_ms(50);
    assert_true(gone(child));
    unlink(pidfile);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdout_json_and_text),
        cmocka_unit_test(test_large_stdin),
        cmocka_unit_test(test_progress_and_env),
        cmocka_unit_test(test_env_and_fds),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_grandchild),
        cmocka_unit_test(test_worker_killed),
    };
    return cmocka_run_group_tests_name("bp_exec", tests, NULL, NULL);
}
