/* test_bp_confine.c -- path confinement (common/bp_confine.h) against hostile paths: files
 * outside allowed_dirs (/etc/passwd, a TLS key next to the root), '..' escapes, symbolic
 * links and chains of them leading out, a FIFO that would block, devices, /proc magic
 * links, directories, NUL bytes and over-long paths; the same with openat2 replaced by
 * ENOSYS (the component-by-component fallback); a rename race that swaps a directory for a
 * link out while the path is opened thousands of times; and a document handler without
 * allowed_dirs (path jobs refused, text jobs served). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "bp_confine.h"
#include "bp_handler.h"

#define RACE_ROUNDS 4000 /* opens while another thread swaps the directory for a link out */

typedef struct fixture {
    char top[PATH_MAX];  /* mkdtemp */
    char root[PATH_MAX]; /* top/root: the allowed directory */
    char out[PATH_MAX];  /* top/outside: holds secret.txt and tls.key */
    bp_confine *c;
} fixture;

static void path_join(char *buf, const char *a, const char *b)
{
    snprintf(buf, PATH_MAX, "%s/%s", a, b);
}

static void write_at(const char *dir, const char *name, const char *content)
{
    char p[PATH_MAX];
    FILE *f;

    path_join(p, dir, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static void link_at(const char *dir, const char *name, const char *target)
{
    char p[PATH_MAX];

    path_join(p, dir, name);
    assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    char *dirs[1], p[PATH_MAX];
    bp_err err = {0};

    snprintf(fx->top, sizeof(fx->top), "%s/bp-confine-XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(fx->top));
    path_join(fx->root, fx->top, "root");
    path_join(fx->out, fx->top, "outside");
    assert_int_equal(mkdir(fx->root, 0700), 0);
    assert_int_equal(mkdir(fx->out, 0700), 0);
    write_at(fx->out, "secret.txt", "SECRET");
    write_at(fx->out, "tls.key", "-----BEGIN PRIVATE KEY-----");
    write_at(fx->root, "ok.txt", "inside");
    path_join(p, fx->root, "sub");
    assert_int_equal(mkdir(p, 0700), 0);
    write_at(p, "deep.txt", "deep");
    /* links that stay inside, and ones that lead out */
    link_at(fx->root, "in-link", "ok.txt");
    link_at(fx->root, "in-chain-a", "in-chain-b");
    link_at(fx->root, "in-chain-b", "sub/deep.txt");
    link_at(fx->root, "abs-out", "/etc/passwd");
    link_at(fx->root, "rel-out", "../outside/secret.txt");
    link_at(fx->root, "chain-a", "chain-b");
    link_at(fx->root, "chain-b", "chain-c");
    link_at(fx->root, "chain-c", "../outside/tls.key");
    link_at(fx->root, "dir-out", "../outside");
    link_at(fx->root, "loop-a", "loop-b");
    link_at(fx->root, "loop-b", "loop-a");
    link_at(fx->root, "zero", "/dev/zero");
    link_at(fx->root, "self", "/proc/self/root/etc/passwd");
    path_join(p, fx->root, "fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    dirs[0] = fx->root;
    assert_int_equal(bp_confine_new(&fx->c, dirs, 1, &err), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[PATH_MAX + 16];

    bp_confine_free(fx->c);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->top);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static long (*real_openat2)(int, const char *, struct open_how *, size_t);

static long no_openat2(int dirfd, const char *path, struct open_how *how, size_t size)
{
    (void)dirfd, (void)path, (void)how, (void)size;
    errno = ENOSYS;
    return -1;
}

static int setup_real(void **state)
{
    if (real_openat2 == NULL)
        real_openat2 = bp_confine_openat2;
    bp_confine_openat2 = real_openat2;
    return setup(state);
}

static int setup_enosys(void **state)
{
    if (real_openat2 == NULL)
        real_openat2 = bp_confine_openat2;
    bp_confine_openat2 = no_openat2;
    return setup(state);
}

/* Open root-relative name (or an absolute path when name starts with '/'); expect the
 * content want, or a refusal whose message holds want_msg. */
static void expect_open(const fixture *fx, const char *name, const char *want, const char *want_msg)
{
    char p[PATH_MAX + 64], buf[64] = {0};
    struct stat st;
    bp_err err = {0};
    int fd;

    if (name[0] == '/')
        snprintf(p, sizeof(p), "%s", name);
    else
        snprintf(p, sizeof(p), "%s/%s", fx->root, name);
    fd = bp_confine_open(fx->c, p, strlen(p), &st, &err);
    if (want != NULL) {
        if (fd < 0)
            fail_msg("'%s' refused: %s", p, err.msg);
        assert_true(S_ISREG(st.st_mode));
        assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
        assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
        assert_true(read(fd, buf, sizeof(buf) - 1) >= 0);
        close(fd);
        assert_string_equal(buf, want);
        return;
    }
    if (fd >= 0) {
        assert_true(read(fd, buf, sizeof(buf) - 1) >= 0);
        close(fd);
        fail_msg("'%s' was opened (read '%s'), expected a refusal with '%s'", p, buf, want_msg);
    }
    if (strstr(err.msg, want_msg) == NULL)
        fail_msg("'%s': message '%s' lacks '%s'", p, err.msg, want_msg);
    /* every refusal names the path and allowed_dirs */
    assert_non_null(strstr(err.msg, "allowed_dirs = [\""));
    assert_non_null(strstr(err.msg, "refused: "));
}

static void test_inside(void **state)
{
    fixture *fx = *state;

    expect_open(fx, "ok.txt", "inside", NULL);
    expect_open(fx, "sub/deep.txt", "deep", NULL);
    expect_open(fx, "sub//./deep.txt", "deep", NULL);
    if (bp_confine_openat2 == no_openat2)
        return; /* the fallback follows no link at all: test_fallback_links */
    expect_open(fx, "in-link", "inside", NULL);
    expect_open(fx, "in-chain-a", "deep", NULL);
}

static void test_outside(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX + 8];

    expect_open(fx, "/etc/passwd", NULL, "not beneath any directory of allowed_dirs");
    snprintf(p, sizeof(p), "%s/tls.key", fx->out);
    expect_open(fx, p, NULL, "not beneath any directory of allowed_dirs");
    expect_open(fx, "/proc/self/environ", NULL, "not beneath any directory of allowed_dirs");
    expect_open(fx, "/dev/zero", NULL, "not beneath any directory of allowed_dirs");
    /* a sibling whose name starts with the root's is not beneath it */
    snprintf(p, sizeof(p), "%s2/x", fx->root);
    expect_open(fx, p, NULL, "not beneath any directory of allowed_dirs");
    expect_open(fx, "../outside/secret.txt", NULL, "a '..' component is not allowed");
    expect_open(fx, "sub/../../outside/secret.txt", NULL, "a '..' component is not allowed");
    expect_open(fx, "sub/../ok.txt", NULL, "a '..' component is not allowed");
}

static void test_links_out(void **state)
{
    fixture *fx = *state;

    expect_open(fx, "abs-out", NULL, "a symbolic link leads out of its allowed_dirs root");
    expect_open(fx, "rel-out", NULL, "a symbolic link leads out of its allowed_dirs root");
    expect_open(fx, "chain-a", NULL, "a symbolic link leads out of its allowed_dirs root");
    expect_open(fx, "dir-out/secret.txt", NULL, "a symbolic link leads out");
    expect_open(fx, "zero", NULL, "a symbolic link leads out");
    expect_open(fx, "self", NULL, "a symbolic link leads out");
    expect_open(fx, "loop-a", NULL, "too many symbolic links");
}

static void test_not_regular(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX * 2], nul[] = "/x\0/etc/passwd";
    bp_err err = {0};
    bp_confine *dev = NULL, *proc = NULL;
    char devdir[] = "/dev", procdir[] = "/proc";
    char *d1[1] = {devdir}, *d2[1] = {procdir};

    expect_open(fx, "fifo", NULL, "a FIFO (named pipe), not a regular file"); /* no block */
    {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(s >= 0);
        assert_true(strlen(fx->root) + 6 < sizeof(sa.sun_path));
        memcpy(sa.sun_path, fx->root, strlen(fx->root));
        memcpy(sa.sun_path + strlen(fx->root), "/sock", 6);
        assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
        expect_open(fx, "sock", NULL, "a socket or a device with no reader");
        close(s);
    }
    expect_open(fx, "sub", NULL, "a directory, not a regular file");
    expect_open(fx, fx->root, NULL, "a directory, not a regular file");
    expect_open(fx, "missing.txt", NULL, "No such file or directory");
    expect_open(fx, "ok.txt/", NULL, "Not a directory");
    assert_int_equal(bp_confine_open(fx->c, nul, sizeof(nul) - 1, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "it holds a NUL byte"));
    memset(p, 'a', sizeof(p) - 1);
    p[sizeof(p) - 1] = '\0';
    memcpy(p, fx->root, strlen(fx->root));
    p[strlen(fx->root)] = '/';
    expect_open(fx, p, NULL, "longer than PATH_MAX");
    snprintf(p, sizeof(p), "%s/%0300d", fx->root, 7);
    expect_open(fx, p, NULL, "File name too long");
    /* a control byte in the path is escaped in the message */
    snprintf(p, sizeof(p), "%s/a\nb", fx->root);
    assert_int_equal(bp_confine_open(fx->c, p, strlen(p), NULL, &err), -1);
    assert_non_null(strstr(err.msg, "a\\x0ab"));

    /* devices and /proc's magic links, even beneath a root that holds them */
    assert_int_equal(bp_confine_new(&dev, d1, 1, &err), 0);
    assert_int_equal(bp_confine_open(dev, "/dev/zero", 9, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "a character device, not a regular file"));
    bp_confine_free(dev);
    assert_int_equal(bp_confine_new(&proc, d2, 1, &err), 0);
    snprintf(p, sizeof(p), "/proc/self/fd/%d", 0);
    assert_int_equal(bp_confine_open(proc, p, strlen(p), NULL, &err), -1);
    if (bp_confine_openat2 != no_openat2)
        assert_non_null(strstr(err.msg, "magic link"));
    snprintf(p, sizeof(p), "/proc/self/root%s/ok.txt", fx->root);
    assert_int_equal(bp_confine_open(proc, p, strlen(p), NULL, &err), -1);
    bp_confine_free(proc);
}

static void test_no_roots(void **state)
{
    bp_err err = {0};
    bp_confine *none = NULL;
    char bad[] = "/nonexistent-bp-dir", *dirs[1] = {bad};

    (void)state;
    assert_int_equal(bp_confine_open(NULL, "/etc/passwd", 11, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "this handler has no allowed_dirs"));
    assert_int_equal(bp_confine_new(&none, NULL, 0, &err), 0);
    assert_int_equal(bp_confine_count(none), 0);
    assert_int_equal(bp_confine_open(none, "/etc/passwd", 11, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "e.g. allowed_dirs = [ \"/srv/uploads\" ]"));
    bp_confine_free(none);
    assert_int_equal(bp_confine_new(&none, dirs, 1, &err), -1);
    assert_non_null(strstr(err.msg, "allowed_dirs: cannot open directory '/nonexistent-bp-dir'"));
}

/* Without openat2 every link is refused, even one that stays inside. */
static void test_fallback_links(void **state)
{
    fixture *fx = *state;

    expect_open(fx, "in-link", NULL, "this kernel has no openat2");
    expect_open(fx, "dir-out/secret.txt", NULL, "this kernel has no openat2");
    expect_open(fx, "abs-out", NULL, "this kernel has no openat2");
}

typedef struct swapper {
    const fixture *fx;
    volatile int stop;
} swapper;

/* Swap root/race (a directory holding f = "inside") with root/race-link (a link to the
 * outside directory, whose f is "SECRET") as fast as possible. */
static void *swap_loop(void *arg)
{
    swapper *s = arg;
    char a[PATH_MAX], b[PATH_MAX];

    path_join(a, s->fx->root, "race");
    path_join(b, s->fx->root, "race-link");
    while (!s->stop)
        (void)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 2 /* RENAME_EXCHANGE */);
    return NULL;
}

static void test_race(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX], buf[16];
    swapper s = {.fx = fx};
    pthread_t t;
    int opened = 0, refused = 0;

    path_join(p, fx->root, "race");
    assert_int_equal(mkdir(p, 0700), 0);
    write_at(p, "f", "inside");
    write_at(fx->out, "f", "SECRET");
    link_at(fx->root, "race-link", "../outside");
    assert_int_equal(pthread_create(&t, NULL, swap_loop, &s), 0);
    path_join(p, fx->root, "race/f");
    for (int i = 0; i < RACE_ROUNDS; i++) {
        bp_err err = {0};
        int fd = bp_confine_open(fx->c, p, strlen(p), NULL, &err);
        ssize_t n;
        if (fd < 0) {
            refused++;
            continue;
        }
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        assert_true(n >= 0);
        buf[n] = '\0';
        assert_string_equal(buf, "inside"); /* never the outside file */
        opened++;
    }
    s.stop = 1;
    pthread_join(t, NULL);
    assert_int_equal(opened + refused, RACE_ROUNDS);
}

static redisReply *no_redis(void *worker, int argc, const char **argv, const size_t *argvlen,
                            bp_err *err)
{
    (void)worker, (void)argc, (void)argv, (void)argvlen;
    bp_err_set(err, BP_ERR_IO, 0, "no Redis in this test");
    return NULL;
}

/* A document handler without allowed_dirs: path jobs refused before any other step. */
static void test_handler_without_dirs(void **state)
{
    static char job[] = "*", qname[] = "docs", prefix[] = "bull";
    static volatile int cancel;
    bp_handler_config hc = {.job = job,
                            .type = BP_HANDLER_DOCUMENT,
                            .line = 9,
                            .chunk_words = 200,
                            .overlap_words = 40,
                            .cache_ttl_s = 60,
                            .max_bytes = 1 << 20};
    bp_queue_config q = {.name = qname, .prefix = prefix, .handlers = &hc, .n_handlers = 1};
    bp_handlers *h = NULL;
    bp_err err = {0};
    const char *data = "{\"path\": \"/etc/passwd\"}";
    bp_job_ctx ctx = {.queue = "docs",
                      .prefix = "bull",
                      .job_id = "1",
                      .job_name = "index",
                      .data = data,
                      .data_len = strlen(data),
                      .attempt = 1,
                      .cancel = &cancel,
                      .command = no_redis};
    bp_result res = {0};

    (void)state;
    assert_int_equal(bp_handlers_new(&h, &q, &err), 0);
    bp_handlers_run(h, &ctx, &res);
    /* no Redis in this test: the refusal must come before anything else is tried */
    assert_non_null(res.error);
    assert_non_null(strstr(res.error, "cannot read document: path '/etc/passwd' refused: this "
                                      "handler has no allowed_dirs"));
    assert_non_null(strstr(res.error, "(document handler for job \"*\", config line 9)"));
    bp_result_clear(&res);
    bp_handlers_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inside, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_outside, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_links_out, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_not_regular, setup_real, teardown),
        cmocka_unit_test_setup_teardown(test_race, setup_real, teardown),
        cmocka_unit_test(test_no_roots),
        cmocka_unit_test(test_handler_without_dirs),
        /* the same with a kernel that has no openat2 */
        cmocka_unit_test_setup_teardown(test_inside, setup_enosys, teardown),
        cmocka_unit_test_setup_teardown(test_outside, setup_enosys, teardown),
        cmocka_unit_test_setup_teardown(test_fallback_links, setup_enosys, teardown),
        cmocka_unit_test_setup_teardown(test_not_regular, setup_enosys, teardown),
        cmocka_unit_test_setup_teardown(test_race, setup_enosys, teardown),
    };

    return cmocka_run_group_tests_name("bp_confine", tests, NULL, NULL);
}
