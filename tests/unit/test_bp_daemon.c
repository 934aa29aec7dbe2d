/* test_bp_daemon.c -- unit tests for master/bp_daemon.c: the starter exits with the code
 * and message the daemon reports (or 1 when it dies silently); the daemon is in a new
 * session, in "/", with its standard streams on /dev/null; privileges are dropped for good
 * (only when the test runs as root; otherwise those tests are skipped). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bp_daemon.h"

typedef struct fixture {
    char dir[64];
    char marker[PATH_MAX]; /* written by the daemon */
    char errlog[PATH_MAX]; /* the starter's stderr */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/bp-daemon.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->marker, sizeof(f->marker), "%s/marker", f->dir);
    snprintf(f->errlog, sizeof(f->errlog), "%s/stderr", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    unlink(f->marker);
    unlink(f->errlog);
    rmdir(f->dir);
    free(f);
    return 0;
}

typedef enum how { REPORT_READY, REPORT_FAIL, DIE_SILENTLY } how;

/* True when fd is open on /dev/null. */
static int is_devnull(int fd)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && stat("/dev/null", &b) == 0 && a.st_rdev == b.st_rdev &&
           S_ISCHR(a.st_mode);
}

/* Fork a starter that daemonizes; the daemon records its facts in the marker file and
 * reports as told. Returns the starter's wait status. */
static int run_starter(fixture *f, how h)
{
    pid_t starter = fork();
    int status = 0;

    assert_true(starter >= 0);
    if (starter == 0) {
        int ready_fd = -1;
        bp_err err = {0};
        int efd = open(f->errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        pid_t parent_sid = getsid(0);

        dup2(efd, STDERR_FILENO);
        close(efd);
        if (bp_daemonize(&ready_fd, &err) != 0)
            _exit(99);
        /* the daemon */
        {
            char cwd[PATH_MAX];
            FILE *fp = fopen(f->marker, "w");
            if (fp == NULL)
                _exit(98);
            fprintf(fp, "pid=%ld newsid=%d leader=%d root=%d null=%d%d%d cloexec=%d\n",
                    (long)getpid(), getsid(0) != parent_sid, getsid(0) == getpid(),
                    getcwd(cwd, sizeof(cwd)) != NULL && strcmp(cwd, "/") == 0, is_devnull(0),
                    is_devnull(1), is_devnull(2), (fcntl(ready_fd, F_GETFD) & FD_CLOEXEC) != 0);
            fclose(fp);
        }
        if (h == REPORT_READY)
            bp_daemon_ready(ready_fd, 0);
        else if (h == REPORT_FAIL)
            bp_daemon_fail(ready_fd, 78, "cannot connect to redis: boom");
        _exit(3);
    }
    assert_int_equal(waitpid(starter, &status, 0), starter);
    return status;
}

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *fp = fopen(path, "r");
    size_t n;

    if (fp == NULL)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void test_daemonize_ready(void **state)
{
    fixture *f = *state;
    int status = run_starter(f, REPORT_READY);
    const char *m;

    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    m = slurp(f->marker);
    assert_non_null(m); /* written before the daemon reported, so it is complete */
    assert_non_null(strstr(m, "newsid=1 leader=0 root=1 null=111 cloexec=1"));
    assert_string_equal(slurp(f->errlog), "");
}

static void test_daemonize_fail_relays_code_and_message(void **state)
{
    fixture *f = *state;
    int status = run_starter(f, REPORT_FAIL);

    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 78);
    assert_string_equal(slurp(f->errlog), "bullpen: cannot connect to redis: boom\n");
}

static void test_daemonize_silent_death(void **state)
{
    fixture *f = *state;
    int status = run_starter(f, DIE_SILENTLY);

    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_non_null(strstr(slurp(f->errlog), "daemon exited before it was ready"));
}

static void test_ready_without_daemon_is_noop(void **state)
{
    (void)state;
    bp_daemon_ready(-1, 0);
    bp_daemon_fail(-1, 1, "ignored");
}

/* Run fn in a forked child; return its exit code. */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    int status = 0;

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int drop_to_nobody(void)
{
    bp_err err = {0};

    if (bp_drop_privileges("nobody", "nogroup", &err) != 0)
        return 10;
    if (getuid() == 0 || geteuid() == 0 || getgid() == 0 || getegid() == 0)
        return 11;
    if (setuid(0) == 0 || setgid(0) == 0)
        return 12;
    if (getgroups(0, NULL) > 0) {
        gid_t groups[64];
        int n = getgroups(64, groups);
        for (int i = 0; i < n; i++)
            if (groups[i] == 0)
                return 13; /* root's supplementary groups must be gone */
    }
    return 0;
}

static int unknown_user(void)
{
    bp_err err = {0};

    if (bp_drop_privileges("no-such-user-bp", NULL, &err) != -1)
        return 10;
    if (strstr(err.msg, "pool.user 'no-such-user-bp'") == NULL || err.kind != BP_ERR_CONFIG)
        return 11;
    if (getuid() != 0)
        return 12; /* nothing changed */
    return 0;
}

static int unknown_group(void)
{
    bp_err err = {0};

    if (bp_drop_privileges("nobody", "no-such-group-bp", &err) != -1)
        return 10;
    if (strstr(err.msg, "pool.group 'no-such-group-bp'") == NULL)
        return 11;
    return getuid() == 0 ? 0 : 12;
}

static int noop_when_not_root(void)
{
    bp_err err = {0};

    if (setgid(65534) != 0 || setuid(65534) != 0)
        return 20;
    return bp_drop_privileges("root", NULL, &err) == 0 && getuid() == 65534 ? 0 : 10;
}

static int noop_without_user(void)
{
    bp_err err = {0};

    return bp_drop_privileges(NULL, "nogroup", &err) == 0 && getuid() == geteuid() ? 0 : 10;
}

static void test_drop_privileges(void **state)
{
    (void)state;
    assert_int_equal(in_child(noop_without_user), 0);
    if (geteuid() != 0) {
        skip();
        return;
    }
    assert_int_equal(in_child(drop_to_nobody), 0);
    assert_int_equal(in_child(unknown_user), 0);
    assert_int_equal(in_child(unknown_group), 0);
    assert_int_equal(in_child(noop_when_not_root), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_daemonize_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daemonize_fail_relays_code_and_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_daemonize_silent_death, setup, teardown),
        cmocka_unit_test(test_ready_without_daemon_is_noop),
        cmocka_unit_test(test_drop_privileges),
    };

    return cmocka_run_group_tests_name("bp_daemon", tests, NULL, NULL);
}
