/* test_bp_worker_link.c -- unit tests for common/bp_worker_link.c: messages keep their
 * boundaries both ways, an empty link reads 0, a closed peer reads -1 (also across fork, the
 * way the master and a worker use it), too-long and malformed messages are refused or
 * flagged, and a full link drops instead of blocking. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bp_worker_link.h"

static void test_roundtrip(void **state)
{
    bp_worker_link l;
    bp_link_msg m;
    bp_err err;

    (void)state;
    assert_int_equal(bp_worker_link_open(&l, &err), 0);
    assert_int_equal(bp_worker_link_recv(l.master_fd, &m), 0); /* nothing queued */
    assert_int_equal(bp_worker_link_send(l.worker_fd, "conn", "bclient %lld", 812LL), 0);
    assert_int_equal(bp_worker_link_send(l.worker_fd, "conn", "client %d", 7), 0);
    assert_int_equal(bp_worker_link_send(l.master_fd, "hello", "%s", ""), 0);
    assert_int_equal(bp_worker_link_recv(l.master_fd, &m), 1);
    assert_string_equal(m.kind, "conn");
    assert_string_equal(m.payload, "bclient 812");
    assert_int_equal(bp_worker_link_recv(l.master_fd, &m), 1);
    assert_string_equal(m.payload, "client 7");
    assert_int_equal(bp_worker_link_recv(l.master_fd, &m), 0);
    assert_int_equal(bp_worker_link_recv(l.worker_fd, &m), 1); /* the other way too */
    assert_string_equal(m.kind, "hello");
    assert_string_equal(m.payload, "");
    bp_worker_link_close(&l);
    assert_int_equal(l.master_fd, -1);
    assert_int_equal(l.worker_fd, -1);
    assert_int_equal(bp_worker_link_send(-1, "conn", "x"), -1);
    assert_int_equal(bp_worker_link_recv(-1, &m), -1);
}

static void test_fork_and_eof(void **state)
{
    bp_worker_link l;
    bp_link_msg m;
    bp_err err;
    pid_t pid;
    int status;

    (void)state;
    assert_int_equal(bp_worker_link_open(&l, &err), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        bp_worker_link_keep_worker(&l);
        _exit(bp_worker_link_send(l.worker_fd, "conn", "subscriber 99") == 0 ? 0 : 1);
    }
    bp_worker_link_keep_master(&l);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* what the worker sent before it died is still there, then EOF */
    assert_int_equal(bp_worker_link_recv(l.master_fd, &m), 1);
    assert_string_equal(m.payload, "subscriber 99");
    assert_int_equal(bp_worker_link_recv(l.master_fd, &m), -1);
    bp_worker_link_close(&l);
}

static void test_limits(void **state)
{
    bp_worker_link l;
    bp_link_msg m;
    bp_err err;
    char big[BP_LINK_MSG_MAX + 8];
    int sent = 0;

    (void)state;
    assert_int_equal(bp_worker_link_open(&l, &err), 0);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(bp_worker_link_send(l.worker_fd, "conn", "%s", big), -1); /* too long */
    assert_int_equal(bp_worker_link_send(l.worker_fd, "waytoolongkindname", "x"), 0);
    assert_int_equal(bp_worker_link_recv(l.master_fd, &m), 1);
    assert_string_equal(m.kind, ""); /* malformed: flagged, not misread */
    /* a raw datagram with no space is a kind without payload */
    assert_int_equal(send(l.worker_fd, "ping", 4, 0), 4);
    assert_int_equal(bp_worker_link_recv(l.master_fd, &m), 1);
    assert_string_equal(m.kind, "ping");
    assert_string_equal(m.payload, "");
    /* nobody reads: sends fail instead of blocking the sender */
    for (int i = 0; i < 100000; i++) {
        if (bp_worker_link_send(l.worker_fd, "conn", "client %d", i) != 0)
            break;
        sent++;
    }
    assert_true(sent > 0 && sent < 100000);
    bp_worker_link_close(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_fork_and_eof),
        cmocka_unit_test(test_limits),
    };

    return cmocka_run_group_tests_name("bp_worker_link", tests, NULL, NULL);
}
