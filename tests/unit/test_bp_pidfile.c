/* test_bp_pidfile.c -- unit tests for master/bp_pidfile.c: the lock refuses a second
 * holder (a forked child tries), a stale file is taken over, read and is_locked, the USR2
 * oldbin rename and its undo, and removal never touching a file that is not ours. */
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

#include "bp_pidfile.h"

typedef struct fixture {
    char dir[64];        /* mkdtemp directory */
    char path[PATH_MAX]; /* dir/bullpen.pid */
    char oldbin[PATH_MAX];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/bp-pidfile.XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/bullpen.pid", f->dir);
    snprintf(f->oldbin, sizeof(f->oldbin), "%s/bullpen.pid.oldbin", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    unlink(f->path);
    unlink(f->oldbin);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* In a forked child, try to open path: exit 0 when refused with the expected message. */
static int child_tries(const char *path, pid_t expect_pid)
{
    pid_t child = fork();
    int status = 0;

    assert_true(child >= 0);
    if (child == 0) {
        bp_pidfile *pf = NULL;
        bp_err err = {0};
        char want[64];

        if (bp_pidfile_open(&pf, path, &err) == 0)
            _exit(10); /* should have been refused */
        snprintf(want, sizeof(want), "(pid %ld)", (long)expect_pid);
        if (strstr(err.msg, "is locked by running bullpen") == NULL ||
            strstr(err.msg, want) == NULL || strstr(err.msg, path) == NULL ||
            err.kind != BP_ERR_CONFIG)
            _exit(11);
        _exit(0);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_lock_refuses_second(void **state)
{
    fixture *f = *state;
    bp_pidfile *pf = NULL;
    bp_err err = {0};
    pid_t pid = 0;

    assert_int_equal(bp_pidfile_open(&pf, f->path, &err), 0);
    assert_int_equal(bp_pidfile_write(pf, getpid(), &err), 0);
    assert_true(bp_pidfile_is_locked(f->path));
    assert_int_equal(child_tries(f->path, getpid()), 0);
    assert_int_equal(bp_pidfile_read(f->path, &pid, &err), 0);
    assert_int_equal(pid, getpid());

    bp_pidfile_close_remove(pf);
    assert_int_equal(access(f->path, F_OK), -1);
    assert_false(bp_pidfile_is_locked(f->path));
}

static void test_stale_taken_over(void **state)
{
    fixture *f = *state;
    bp_pidfile *pf = NULL;
    bp_err err = {0};
    pid_t pid = 0;

    write_file(f->path, "999999\n"); /* a crashed master's file: no lock */
    assert_false(bp_pidfile_is_locked(f->path));
    assert_int_equal(bp_pidfile_open(&pf, f->path, &err), 0);
    assert_int_equal(bp_pidfile_write(pf, 4242, &err), 0);
    assert_int_equal(bp_pidfile_read(f->path, &pid, &err), 0);
    assert_int_equal(pid, 4242); /* the longer old content is gone */
    bp_pidfile_close_remove(pf);
}

static void test_read_errors(void **state)
{
    fixture *f = *state;
    bp_err err = {0};
    pid_t pid = 77;

    assert_int_equal(bp_pidfile_read(f->path, &pid, &err), -1);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_non_null(strstr(err.msg, f->path));
    write_file(f->path, "not a pid\n");
    assert_int_equal(bp_pidfile_read(f->path, &pid, &err), -1);
    assert_non_null(strstr(err.msg, "does not hold a pid"));
    write_file(f->path, "-3\n");
    assert_int_equal(bp_pidfile_read(f->path, &pid, &err), -1);
    write_file(f->path, "");
    assert_int_equal(bp_pidfile_read(f->path, &pid, &err), -1);
    assert_int_equal(pid, 77); /* untouched on failure */
    write_file(f->path, "123\n");
    assert_int_equal(bp_pidfile_read(f->path, &pid, &err), 0);
    assert_int_equal(pid, 123);
}

static void test_open_missing_dir(void **state)
{
    fixture *f = *state;
    bp_pidfile *pf = NULL;
    bp_err err = {0};
    char path[PATH_MAX + 32];

    snprintf(path, sizeof(path), "%s/nope/bullpen.pid", f->dir);
    assert_int_equal(bp_pidfile_open(&pf, path, &err), -1);
    assert_null(pf);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_non_null(strstr(err.msg, path));
}

static void test_locked_before_pid_written(void **state)
{
    fixture *f = *state;
    bp_pidfile *pf = NULL;
    bp_err err = {0};
    pid_t child;
    int status;

    assert_int_equal(bp_pidfile_open(&pf, f->path, &err), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        bp_pidfile *pf2 = NULL;
        bp_err err2 = {0};
        _exit(bp_pidfile_open(&pf2, f->path, &err2) == -1 &&
                      strstr(err2.msg, "pid not written yet") != NULL
                  ? 0
                  : 1);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(WEXITSTATUS(status), 0);
    bp_pidfile_close_remove(pf);
}

/* USR2: the old master's file becomes .oldbin, still locked; a new master takes PATH; the
 * old master exits removing only .oldbin. */
static void test_oldbin_upgrade(void **state)
{
    fixture *f = *state;
    bp_pidfile *old = NULL;
    bp_pidfile *fresh = NULL;
    bp_err err = {0};
    pid_t pid = 0;

    assert_int_equal(bp_pidfile_open(&old, f->path, &err), 0);
    assert_int_equal(bp_pidfile_write(old, 1111, &err), 0);
    assert_int_equal(bp_pidfile_rename_oldbin(old, &err), 0);
    assert_string_equal(bp_pidfile_path(old), f->oldbin);
    assert_int_equal(access(f->path, F_OK), -1);
    assert_true(bp_pidfile_is_locked(f->oldbin));
    assert_int_equal(bp_pidfile_read(f->oldbin, &pid, &err), 0);
    assert_int_equal(pid, 1111);

    assert_int_equal(bp_pidfile_open(&fresh, f->path, &err), 0);
    assert_int_equal(bp_pidfile_write(fresh, 2222, &err), 0);
    bp_pidfile_close_remove(old);
    assert_int_equal(access(f->oldbin, F_OK), -1);
    assert_int_equal(bp_pidfile_read(f->path, &pid, &err), 0);
    assert_int_equal(pid, 2222);
    assert_true(bp_pidfile_is_locked(f->path));
    bp_pidfile_close_remove(fresh);
    assert_int_equal(access(f->path, F_OK), -1);
}

static void test_oldbin_rename_back(void **state)
{
    fixture *f = *state;
    bp_pidfile *pf = NULL;
    bp_err err = {0};

    assert_int_equal(bp_pidfile_open(&pf, f->path, &err), 0);
    assert_int_equal(bp_pidfile_write(pf, getpid(), &err), 0);
    assert_int_equal(bp_pidfile_rename_oldbin(pf, &err), 0);
    assert_int_equal(bp_pidfile_rename_back(pf, &err), 0);
    assert_string_equal(bp_pidfile_path(pf), f->path);
    assert_int_equal(access(f->oldbin, F_OK), -1);
    assert_int_equal(child_tries(f->path, getpid()), 0);
    bp_pidfile_close_remove(pf);
    assert_int_equal(access(f->path, F_OK), -1);
}

/* rename_back never replaces the pidfile of a new master that is running. */
static void test_rename_back_keeps_new_master(void **state)
{
    fixture *f = *state;
    bp_pidfile *old = NULL;
    bp_pidfile *fresh = NULL;
    bp_err err = {0};
    pid_t pid = 0;

    assert_int_equal(bp_pidfile_open(&old, f->path, &err), 0);
    assert_int_equal(bp_pidfile_write(old, 1111, &err), 0);
    assert_int_equal(bp_pidfile_rename_oldbin(old, &err), 0);
    assert_int_equal(bp_pidfile_open(&fresh, f->path, &err), 0);
    assert_int_equal(bp_pidfile_write(fresh, 2222, &err), 0);

    assert_int_equal(bp_pidfile_rename_back(old, &err), -1);
    assert_non_null(strstr(err.msg, "(pid 2222)"));
    assert_string_equal(bp_pidfile_path(old), f->oldbin);
    assert_int_equal(bp_pidfile_read(f->path, &pid, &err), 0);
    assert_int_equal(pid, 2222);
    bp_pidfile_close_remove(old); /* removes only the .oldbin */
    assert_int_equal(access(f->oldbin, F_OK), -1);
    assert_int_equal(bp_pidfile_read(f->path, &pid, &err), 0);
    assert_int_equal(pid, 2222);
    bp_pidfile_close_remove(fresh);

    /* an unlocked leftover (a new master that crashed) is replaced */
    assert_int_equal(bp_pidfile_open(&old, f->path, &err), 0);
    assert_int_equal(bp_pidfile_write(old, 3333, &err), 0);
    assert_int_equal(bp_pidfile_rename_oldbin(old, &err), 0);
    write_file(f->path, "4444\n");
    assert_int_equal(bp_pidfile_rename_back(old, &err), 0);
    assert_int_equal(bp_pidfile_read(f->path, &pid, &err), 0);
    assert_int_equal(pid, 3333);
    bp_pidfile_close_remove(old);
}

/* A replaced file (someone else's now) is not unlinked by close_remove. */
static void test_close_keeps_foreign_file(void **state)
{
    fixture *f = *state;
    bp_pidfile *pf = NULL;
    bp_err err = {0};

    assert_int_equal(bp_pidfile_open(&pf, f->path, &err), 0);
    assert_int_equal(unlink(f->path), 0);
    write_file(f->path, "31337\n");
    bp_pidfile_close_remove(pf);
    assert_int_equal(access(f->path, F_OK), 0);
}

/* A forked child abandoning its copy leaves the parent's lock in place. */
static void test_abandon_in_child(void **state)
{
    fixture *f = *state;
    bp_pidfile *pf = NULL;
    bp_err err = {0};
    pid_t child;
    int status;

    assert_int_equal(bp_pidfile_open(&pf, f->path, &err), 0);
    assert_int_equal(bp_pidfile_write(pf, getpid(), &err), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        bp_pidfile_abandon(pf);
        _exit(0);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(bp_pidfile_is_locked(f->path));
    assert_int_equal(access(f->path, F_OK), 0);
    bp_pidfile_close_remove(pf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lock_refuses_second, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_taken_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_missing_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_before_pid_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oldbin_upgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oldbin_rename_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_back_keeps_new_master, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_keeps_foreign_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abandon_in_child, setup, teardown),
    };

    return cmocka_run_group_tests_name("bp_pidfile", tests, NULL, NULL);
}
