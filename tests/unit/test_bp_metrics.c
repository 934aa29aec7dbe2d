/* test_bp_metrics.c -- the Prometheus text bp_metrics renders, and its HTTP server: started on
 * a free loopback port and asked with a plain socket, as a scraper or a health checker would.
 * Also sd_notify through bp_notify, received on a datagram socket of the test's own. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bp_metrics.h"
#include "bp_notify.h"

static char *render(bp_metrics *m)
{
    bp_err err = {0};
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(bp_metrics_render(m, &text, &len, &err), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

/* Assert that text has the line, whole. */
static void assert_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    const char *p;

    for (p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return;
    fail_msg("line not found: '%s' in:\n%s", line, text);
}

static void test_render_empty(void **state)
{
    bp_metrics *m = bp_metrics_new();
    char *text;

    (void)state;
    assert_non_null(m);
    text = render(m);
    assert_line(text, "bullpen_up 0");
    assert_line(text, "# TYPE bullpen_jobs_completed_total counter");
    assert_line(text, "# TYPE bullpen_job_duration_seconds histogram");
    assert_line(text, "bullpen_redis_reconnects_total 0");
    assert_null(strstr(text, "bullpen_redis_rtt_seconds 0")); /* unknown until measured */
    free(text);
    bp_metrics_free(m);
}

static void test_render_jobs(void **state)
{
    bp_metrics *m = bp_metrics_new();
    char *text;

    (void)state;
    bp_metrics_job_done(m, "docs", BP_METRICS_COMPLETED, 0.00390625);
    bp_metrics_job_done(m, "docs", BP_METRICS_COMPLETED, 0.125);
    bp_metrics_job_done(m, "docs", BP_METRICS_FAILED, 7.0);
    bp_metrics_job_done(m, "docs", BP_METRICS_COMPLETED, 1000.0); /* past the last bucket */
    bp_metrics_job_done(m, "docs", BP_METRICS_RETRIED, 0);
    bp_metrics_job_done(m, "docs", BP_METRICS_RECOVERED, 0);
    bp_metrics_job_done(m, "docs", BP_METRICS_RECOVERED, 0);
    bp_metrics_job_done(m, "we\"ird\\q\n", BP_METRICS_COMPLETED, 0.5);
    bp_metrics_set_workers(m, "docs", 4);
    bp_metrics_set_depth(m, "docs", BP_METRICS_WAITING, 12);
    bp_metrics_set_depth(m, "docs", BP_METRICS_ACTIVE, 4);
    bp_metrics_set_healthy(m, true);
    text = render(m);

    assert_line(text, "bullpen_up 1");
    assert_line(text, "bullpen_jobs_completed_total{queue=\"docs\"} 3");
    assert_line(text, "bullpen_jobs_failed_total{queue=\"docs\"} 1");
    assert_line(text, "bullpen_jobs_retried_total{queue=\"docs\"} 1");
    assert_line(text, "bullpen_jobs_recovered_total{queue=\"docs\"} 2");
    /* cumulative buckets: 1/256 | 1/8 | 7 | 1000 (only +Inf); binary-exact sums */
    assert_line(text, "bullpen_job_duration_seconds_bucket{queue=\"docs\",le=\"0.005\"} 1");
    assert_line(text, "bullpen_job_duration_seconds_bucket{queue=\"docs\",le=\"0.1\"} 1");
    assert_line(text, "bullpen_job_duration_seconds_bucket{queue=\"docs\",le=\"0.25\"} 2");
    assert_line(text, "bullpen_job_duration_seconds_bucket{queue=\"docs\",le=\"10\"} 3");
    assert_line(text, "bullpen_job_duration_seconds_bucket{queue=\"docs\",le=\"300\"} 3");
    assert_line(text, "bullpen_job_duration_seconds_bucket{queue=\"docs\",le=\"+Inf\"} 4");
    assert_line(text, "bullpen_job_duration_seconds_count{queue=\"docs\"} 4");
    assert_line(text, "bullpen_job_duration_seconds_sum{queue=\"docs\"} 1007.12890625");
    assert_line(text, "bullpen_workers_alive{queue=\"docs\"} 4");
    assert_line(text, "bullpen_queue_jobs{queue=\"docs\",state=\"waiting\"} 12");
    assert_line(text, "bullpen_queue_jobs{queue=\"docs\",state=\"active\"} 4");
    assert_null(strstr(text, "state=\"delayed\"")); /* never set: not shown */
    /* label values escaped per the text format */
    assert_line(text, "bullpen_jobs_completed_total{queue=\"we\\\"ird\\\\q\\n\"} 1");
    free(text);
    bp_metrics_free(m);
}

static void test_render_redis_and_causes(void **state)
{
    bp_metrics *m = bp_metrics_new();
    char cause[32];
    char *text;
    int i;

    (void)state;
    bp_metrics_count_reconnect(m);
    bp_metrics_count_reconnect(m);
    bp_metrics_set_rtt(m, 0.00025);
    bp_metrics_set_idle_rate(m, 0.5);
    bp_metrics_count_respawn(m, "SIGSEGV");
    bp_metrics_count_respawn(m, "sigsegv");
    bp_metrics_count_kill(m, "job timeout");
    bp_metrics_count_kill(m, "");
    for (i = 0; i < 40; i++) {
        snprintf(cause, sizeof(cause), "c%d", i);
        bp_metrics_count_respawn(m, cause);
    }
    text = render(m);
    assert_line(text, "bullpen_redis_reconnects_total 2");
    assert_line(text, "bullpen_redis_rtt_seconds 0.00025");
    assert_line(text, "bullpen_redis_idle_commands_per_second 0.5");
    assert_line(text, "bullpen_worker_respawns_total{cause=\"sigsegv\"} 2");
    assert_line(text, "bullpen_worker_kills_total{cause=\"job_timeout\"} 1");
    assert_line(text, "bullpen_worker_kills_total{cause=\"unknown\"} 1");
    /* 31 distinct causes kept (sigsegv, c0..c29), the other 10 counted together */
    assert_line(text, "bullpen_worker_respawns_total{cause=\"c29\"} 1");
    assert_null(strstr(text, "cause=\"c30\""));
    assert_line(text, "bullpen_worker_respawns_total{cause=\"other\"} 10");
    free(text);
    bp_metrics_free(m);
}

/* GET path from 127.0.0.1:port with a plain socket (HTTP/1.0: the server closes after the
 * answer). Returns the whole response, malloc'ed. */
static char *http_request(int port, const char *method, const char *path)
{
    struct sockaddr_in sa = {0};
    struct timeval tv = {.tv_sec = 30};
    char req[256], *buf;
    size_t len = 0, cap = 65536;
    ssize_t n;
    int fd;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        fail_msg("cannot connect to 127.0.0.1:%d: %s", port, strerror(errno));
    n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", method, path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    buf = malloc(cap);
    assert_non_null(buf);
    while ((n = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    assert_true(n == 0); /* EOF, not a timeout */
    buf[len] = '\0';
    close(fd);
    return buf;
}

static void assert_status(const char *response, const char *status)
{
    const char *eol = strstr(response, "\r\n");

    assert_non_null(eol);
    if (strncmp(response, "HTTP/1.", 7) != 0 || strstr(response, status) == NULL ||
        strstr(response, status) > eol)
        fail_msg("expected status %s, got: %s", status, response);
}

static void test_server(void **state)
{
    bp_metrics *m = bp_metrics_new();
    bp_err err = {0};
    char *r;
    int port;

    (void)state;
#ifndef BP_HAVE_MHD
    assert_int_equal(bp_metrics_start(m, "127.0.0.1:0", &err), -1);
    assert_int_equal(err.kind, BP_ERR_CONFIG);
    assert_non_null(strstr(err.msg, "libmicrohttpd"));
    bp_metrics_free(m);
    skip();
#endif
    if (bp_metrics_start(m, "127.0.0.1:0", &err) < 0)
        fail_msg("bp_metrics_start: %s", err.msg);
    port = bp_metrics_port(m);
    assert_true(port > 0);
    bp_metrics_job_done(m, "docs", BP_METRICS_COMPLETED, 0.01);

    r = http_request(port, "GET", "/metrics");
    assert_status(r, " 200 ");
    assert_non_null(strstr(r, "text/plain; version=0.0.4"));
    assert_non_null(strstr(r, "\nbullpen_jobs_completed_total{queue=\"docs\"} 1\n"));
    free(r);

    r = http_request(port, "GET", "/healthz");
    assert_status(r, " 503 ");
    free(r);
    bp_metrics_set_healthy(m, true);
    r = http_request(port, "GET", "/healthz");
    assert_status(r, " 200 ");
    free(r);

    r = http_request(port, "GET", "/nope");
    assert_status(r, " 404 ");
    free(r);
    r = http_request(port, "POST", "/metrics");
    assert_status(r, " 405 ");
    free(r);

    /* a second start is refused, and so is a port already taken */
    assert_int_equal(bp_metrics_start(m, "127.0.0.1:0", &err), -1);
    {
        bp_metrics *other = bp_metrics_new();
        char listen[64];

        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        assert_int_equal(bp_metrics_start(other, listen, &err), -1);
        assert_int_equal(err.kind, BP_ERR_IO);
        assert_non_null(strstr(err.msg, "Address already in use"));
        bp_metrics_free(other);
    }

    bp_metrics_stop(m);
    assert_int_equal(bp_metrics_port(m), 0);
    bp_metrics_free(m);
}

static void test_server_survives_forked_child(void **state)
{
    bp_metrics *m = bp_metrics_new();
    bp_err err = {0};
    pid_t pid;
    char *r;
    int st;

    (void)state;
#ifndef BP_HAVE_MHD
    bp_metrics_free(m);
    skip();
#endif
    if (bp_metrics_start(m, "127.0.0.1:0", &err) < 0)
        fail_msg("bp_metrics_start: %s", err.msg);
    /* one request first, so the server's thread is back waiting in its loop at fork() */
    free(http_request(bp_metrics_port(m), "GET", "/healthz"));
    usleep(100 * 1000);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* a worker: forgets the server, keeps usable counters, and exits through exit() so
         * LeakSanitizer checks it: nothing of the server's thread may show as a leak */
        int code;

        bp_metrics_forget(m);
        bp_metrics_job_done(m, "child", BP_METRICS_COMPLETED, 0);
        code = bp_metrics_port(m) == 0 ? 0 : 1;
        bp_metrics_free(m);
        exit(code);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    r = http_request(bp_metrics_port(m), "GET", "/metrics");
    assert_status(r, " 200 ");
    assert_null(strstr(r, "child")); /* the child's counts are its own */
    free(r);
    bp_metrics_free(m);
}

static void test_bad_listen(void **state)
{
    static const char *const bad[] = {"nonsense", "127.0.0.1:", "127.0.0.1:99999", "[::1]9187",
                                      "127.0.0.1:12ab"};
    bp_metrics *m = bp_metrics_new();
    bp_err err = {0};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(bp_metrics_start(m, bad[i], &err), -1);
        assert_int_equal(err.kind, BP_ERR_CONFIG);
        assert_non_null(strstr(err.msg, bad[i]));
    }
    bp_metrics_free(m);
}

/* bp_notify: messages arrive on NOTIFY_SOCKET; without it nothing is sent. */
static void test_notify(void **state)
{
    struct sockaddr_un sa = {0};
    struct timeval tv = {.tv_sec = 10};
    char dir[] = "/tmp/bp-notify.XXXXXX", buf[512];
    ssize_t n;
    int fd;

    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(bp_notify_ready(NULL), 0);
    assert_int_equal(bp_notify_watchdog_interval_ms(), 0);
#ifndef BP_HAVE_SYSTEMD
    skip();
#endif
    assert_non_null(mkdtemp(dir));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setenv("NOTIFY_SOCKET", sa.sun_path, 1);

#define EXPECT_MSG(call, text)                                \
    do {                                                      \
        assert_int_equal((call), 1);                          \
        n = recv(fd, buf, sizeof(buf) - 1, 0);                \
        assert_true(n > 0);                                   \
        buf[n] = '\0';                                        \
        if (strncmp(buf, (text), strlen(text)) != 0)          \
            fail_msg("expected '%s', got '%s'", (text), buf); \
    } while (0)

    EXPECT_MSG(bp_notify_ready(NULL), "READY=1");
    EXPECT_MSG(bp_notify_ready("4 workers on docs"), "READY=1\nSTATUS=4 workers on docs");
    EXPECT_MSG(bp_notify_reloading(), "RELOADING=1\nMONOTONIC_USEC=");
    EXPECT_MSG(bp_notify_stopping(), "STOPPING=1");
    EXPECT_MSG(bp_notify_watchdog(), "WATCHDOG=1");
    EXPECT_MSG(bp_notify_status("%d of %d", 3, 4), "STATUS=3 of 4");
    EXPECT_MSG(bp_notify_mainpid(4242), "MAINPID=4242");
#undef EXPECT_MSG

    unsetenv("NOTIFY_SOCKET");
    close(fd);
    unlink(sa.sun_path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_empty),
        cmocka_unit_test(test_render_jobs),
        cmocka_unit_test(test_render_redis_and_causes),
        cmocka_unit_test(test_server),
        cmocka_unit_test(test_server_survives_forked_child),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_notify),
    };

    return cmocka_run_group_tests_name("bp_metrics", tests, NULL, NULL);
}
