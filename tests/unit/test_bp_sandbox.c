/* test_bp_sandbox.c -- the extraction sandbox against hostile children: real confinement,
 * no stubs.
 *
 * This binary is its own extractor: bp_sandbox execs /proc/self/exe with BP_SANDBOX_ARGV1,
 * and main() then serves the table of test functions below instead of running the tests.
 * Each hostile function does for real what a parser taken over by a crafted file would:
 * crash (SIGSEGV on page 12, abort), spin, allocate without bound, open /etc/passwd, make a
 * socket, exec a shell, signal its parent, flood its output, hang without using CPU, break
 * the record protocol. Each must fail only its own task, with a reason that names what
 * happened, and the next task on the same sandbox must succeed.
 *
 * Also: the child sees no environment variable of ours and no fd beyond its six; Landlock,
 * applied alone in a forked process, denies opening a file; an extractor killed from
 * outside is replaced at the next task; bullpen's own extraction round-trips through it.
 *
 * `test_bp_sandbox --bench N` prints the cost of a sandboxed no-op task (README figures).
 * No assertion depends on timing, except limits set far below what the test tasks use. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bp_sandbox.h"
#include "bp_sandbox_extract.h"
#include "bp_sandbox_proto.h"
#include "bp_time.h"

extern char **environ;

/* ---- the test functions, run in the confined child ---- */

static int fn_echo(const bp_sandbox_task *t)
{
    char buf[4096];
    ssize_t n;
    off_t off = 0;

    bp_sandbox_format(t, "ECHO");
    while ((n = pread(t->doc_fd, buf, sizeof(buf), off)) > 0) {
        if (bp_sandbox_write(t, buf, (size_t)n) != 0)
            return 1;
        off += n;
    }
    bp_sandbox_progress(t, 1, 1, BP_SANDBOX_UNIT_PAGES);
    return 0;
}

static int fn_segv(const bp_sandbox_task *t)
{
    bp_sandbox_format(t, "PDF");
    for (uint64_t page = 1; page <= 11; page++) /* records are throttled: the crash still */
        bp_sandbox_progress(t, page, 500, BP_SANDBOX_UNIT_PAGES); /* names page 12 */
    *(volatile int *)(uintptr_t)8 = 1; /* a wild write, as a parser bug would */
    return 0;
}

static int fn_abort(const bp_sandbox_task *t)
{
    (void)t;
    abort();
}

static int fn_spin(const bp_sandbox_task *t)
{
    volatile unsigned long x = 0;

    bp_sandbox_format(t, "DOCX");
    for (;;)
        x++;
    return 0;
}

static int fn_hog(const bp_sandbox_task *t)
{
    /* map and touch without bound (a parser's own arena allocator), and write through
     * whatever comes back, like a careless parser: the failed allocation must read as "out
     * of memory", not as a crash */
    bp_sandbox_format(t, "XLSX");
    for (;;) {
        volatile char *p =
            mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        for (size_t i = 0; i < (4 << 20); i += 4096)
            p[i] = 1; /* a page at a time, as a parser fills its buffers */
    }
    return 0;
}

static int fn_hog_checked(const bp_sandbox_task *t)
{
    for (;;) {
        char *p = malloc(1 << 20);
        if (p == NULL)
            bp_sandbox_fail_oom(t);
        memset(p, 1, 1 << 20);
    }
    return 0;
}

static int fn_open(const bp_sandbox_task *t)
{
    int fd = open("/etc/passwd", O_RDONLY);
    char buf[64];

    /* reached only if the open was not fatal: leak what it read */
    if (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
        (void)bp_sandbox_write(t, buf, sizeof(buf));
    return 0;
}

static int fn_connect(const bp_sandbox_task *t)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);

    (void)t;
    if (s >= 0) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(6379)};
        sin.sin_addr.s_addr = htonl(0x7f000001);
        (void)connect(s, (struct sockaddr *)&sin, sizeof(sin));
    }
    return 0;
}

static int fn_exec(const bp_sandbox_task *t)
{
    char sh[] = "/bin/sh", c[] = "-c", cmd[] = "echo pwned";
    char *argv[] = {sh, c, cmd, NULL};

    (void)t;
    execve(argv[0], argv, environ);
    return 0;
}

static int fn_kill_parent(const bp_sandbox_task *t)
{
    (void)t;
    kill(getppid(), SIGKILL);
    return 0;
}

static int fn_tgkill_parent(const bp_sandbox_task *t)
{
    (void)t;
    syscall(SYS_tgkill, getppid(), getppid(), SIGKILL); /* allowed only towards itself */
    return 0;
}

static int fn_flood(const bp_sandbox_task *t)
{
    static char block[65536];

    memset(block, 'a', sizeof(block));
    while (bp_sandbox_write(t, block, sizeof(block)) == 0)
        ;
    return 1;
}

static int fn_hang(const bp_sandbox_task *t)
{
    static uint32_t word;

    bp_sandbox_progress(t, 3, 10, BP_SANDBOX_UNIT_PAGES);
    for (;;) /* blocks without CPU: only the wall clock ends it */
        syscall(SYS_futex, &word, FUTEX_WAIT, 0, NULL, NULL, 0);
    return 0;
}

static int fn_fail(const bp_sandbox_task *t)
{
    bp_sandbox_fail(t, "PDF is encrypted (password required)");
}

/* A parser that finds this host lacks a library it needs: not the input's fault. */
static int fn_fail_host(const bp_sandbox_task *t)
{
    bp_sandbox_fail_host(t, "PDF support needs libpoppler-glib.so.8; install it");
}

static int fn_garbage(const bp_sandbox_task *t)
{
    static const unsigned char junk[64] = {0xEE, 0, 0xFF, 0xFF};

    (void)!write(t->progress_fd, junk, sizeof(junk));
    return 0;
}

/* What the child can see: its environment and its fds, as text. */
static int fn_inspect(const bp_sandbox_task *t)
{
    char line[256];
    int open_fds = 0;

    for (char **e = environ; *e != NULL; e++) {
        int n = snprintf(line, sizeof(line), "env %s\n", *e);
        (void)bp_sandbox_write(t, line, (size_t)n);
    }
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            open_fds++;
    snprintf(line, sizeof(line), "fds %d\n", open_fds);
    (void)bp_sandbox_write(t, line, strlen(line));
    return 0;
}

static int fn_noop(const bp_sandbox_task *t)
{
    (void)t;
    return 0;
}

enum {
    FN_ECHO,
    FN_SEGV,
    FN_ABORT,
    FN_SPIN,
    FN_HOG,
    FN_HOG_CHECKED,
    FN_OPEN,
    FN_CONNECT,
    FN_EXEC,
    FN_KILL_PARENT,
    FN_TGKILL_PARENT,
    FN_FLOOD,
    FN_HANG,
    FN_FAIL,
    FN_FAIL_HOST,
    FN_GARBAGE,
    FN_INSPECT,
    FN_NOOP,
};

static const bp_sandbox_fn_entry test_fns[] = {
    [FN_ECHO] = {"echo", fn_echo},
    [FN_SEGV] = {"segv", fn_segv},
    [FN_ABORT] = {"abort", fn_abort},
    [FN_SPIN] = {"spin", fn_spin},
    [FN_HOG] = {"hog", fn_hog},
    [FN_HOG_CHECKED] = {"hog_checked", fn_hog_checked},
    [FN_OPEN] = {"open", fn_open},
    [FN_CONNECT] = {"connect", fn_connect},
    [FN_EXEC] = {"exec", fn_exec},
    [FN_KILL_PARENT] = {"kill_parent", fn_kill_parent},
    [FN_TGKILL_PARENT] = {"tgkill_parent", fn_tgkill_parent},
    [FN_FLOOD] = {"flood", fn_flood},
    [FN_HANG] = {"hang", fn_hang},
    [FN_FAIL] = {"fail", fn_fail},
    [FN_FAIL_HOST] = {"fail_host", fn_fail_host},
    [FN_GARBAGE] = {"garbage", fn_garbage},
    [FN_INSPECT] = {"inspect", fn_inspect},
    [FN_NOOP] = {"noop", fn_noop},
};

/* ---- the worker side ---- */

static bp_sandbox *sb;
static int doc_fd = -1;

static const bp_sandbox_limits default_limits = {
    .memory_bytes = 64u << 20, .cpu_s = 1, .wall_ms = 20000, .output_bytes = 1u << 20};

typedef struct progress_log {
    int calls;
    uint64_t done, total;
    volatile int *cancel_on_progress;
} progress_log;

static void on_progress(void *arg, uint64_t done, uint64_t total, bp_sandbox_unit unit)
{
    progress_log *p = arg;

    (void)unit;
    p->calls++;
    p->done = done;
    p->total = total;
    if (p->cancel_on_progress != NULL)
        *p->cancel_on_progress = 1;
}

static bp_sandbox_outcome run_fn(unsigned fn, const bp_sandbox_limits *lim, progress_log *p,
                                 volatile int *cancel)
{
    bp_sandbox_outcome out;
    bp_err err = {0};
    progress_log ignored = {0};
    int rc = bp_sandbox_run(sb, fn, doc_fd, NULL, 0, lim != NULL ? lim : &default_limits,
                            on_progress, p != NULL ? p : &ignored, cancel, &out, &err);

    if (rc != 0)
        fail_msg("bp_sandbox_run: %s", err.msg);
    return out;
}

/* After each hostile task, the same sandbox still parses. */
static void assert_still_serves(void)
{
    bp_sandbox_outcome out = run_fn(FN_ECHO, NULL, NULL, NULL);

    assert_int_equal(out.status, BP_SANDBOX_OK);
    assert_int_equal(out.output_len, 11);
    assert_memory_equal(out.output, "hello world", 11);
    free(out.output);
}

static int group_setup(void **state)
{
    char path[] = "/tmp/bp_sandbox_docXXXXXX";

    (void)state;
    setenv("BULLPEN_REDIS_PASSWORD", "s3cret-must-not-cross", 1);
    doc_fd = mkstemp(path);
    if (doc_fd < 0 || write(doc_fd, "hello world", 11) != 11)
        return -1;
    unlink(path);
    sb = bp_sandbox_new(NULL);
    return sb == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    bp_sandbox_free(sb);
    close(doc_fd);
    return 0;
}

static void test_echo_and_progress(void **state)
{
    progress_log p = {0};
    bp_sandbox_outcome out;

    (void)state;
    out = run_fn(FN_ECHO, NULL, &p, NULL);
    assert_int_equal(out.status, BP_SANDBOX_OK);
    assert_string_equal(out.format, "ECHO");
    assert_string_equal(out.output, "hello world");
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.done, 1);
    assert_true(bp_sandbox_pid(sb) > 0);
    free(out.output);
}

static void test_segv_names_page(void **state)
{
    bp_sandbox_outcome out;
    long pid = bp_sandbox_pid(sb);

    (void)state;
    out = run_fn(FN_SEGV, NULL, NULL, NULL);
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_string_equal(out.reason, "PDF parser killed by SIGSEGV on page 12 of 500");
    assert_null(out.output);
    assert_int_equal(bp_sandbox_pid(sb), pid); /* the extractor survived its child */
    assert_still_serves();
}

static void test_abort(void **state)
{
    bp_sandbox_outcome out = run_fn(FN_ABORT, NULL, NULL, NULL);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_string_equal(out.reason, "parser killed by SIGABRT");
    assert_still_serves();
}

static void test_spin_hits_cpu_limit(void **state)
{
    bp_sandbox_outcome out = run_fn(FN_SPIN, NULL, NULL, NULL);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_string_equal(out.reason, "DOCX parser exceeded 1 s of CPU (limit sandbox.cpu_s)");
    /* rusage is sampled: it reads somewhat under the 1 s the kernel's limit counted */
    if (out.cpu_us < 500000)
        fail_msg("the child used %" PRIu64 " us of CPU", out.cpu_us);
    assert_still_serves();
}

static void test_hog_is_out_of_memory(void **state)
{
    bp_sandbox_outcome out = run_fn(FN_HOG, NULL, NULL, NULL);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_string_equal(out.reason,
                        "XLSX parser ran out of memory (limit 64 MB, sandbox.memory_mb)");
    out = run_fn(FN_HOG_CHECKED, NULL, NULL, NULL);
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_string_equal(out.reason, "parser ran out of memory (limit 64 MB, sandbox.memory_mb)");
    assert_still_serves();
}

static void test_open_is_sigsys(void **state)
{
    bp_sandbox_outcome out = run_fn(FN_OPEN, NULL, NULL, NULL);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_string_equal(out.reason, "parser tried the forbidden system call openat and was "
                                    "killed by SIGSYS (seccomp)");
    assert_null(out.output);
    assert_still_serves();
}

static void test_socket_is_sigsys(void **state)
{
    bp_sandbox_outcome out = run_fn(FN_CONNECT, NULL, NULL, NULL);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_string_equal(out.reason, "parser tried the forbidden system call socket and was "
                                    "killed by SIGSYS (seccomp)");
    assert_still_serves();
}

static void test_exec_is_sigsys(void **state)
{
    bp_sandbox_outcome out = run_fn(FN_EXEC, NULL, NULL, NULL);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_string_equal(out.reason, "parser tried the forbidden system call execve and was "
                                    "killed by SIGSYS (seccomp)");
    assert_still_serves();
}

static void test_kill_parent_is_sigsys(void **state)
{
    long pid = bp_sandbox_pid(sb);
    bp_sandbox_outcome out = run_fn(FN_KILL_PARENT, NULL, NULL, NULL);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_string_equal(out.reason, "parser tried the forbidden system call kill and was "
                                    "killed by SIGSYS (seccomp)");
    assert_int_equal(bp_sandbox_pid(sb), pid);
    assert_still_serves();
    /* tgkill is allowed, but only towards the child itself (abort() needs it) */
    out = run_fn(FN_TGKILL_PARENT, NULL, NULL, NULL);
    assert_string_equal(out.reason, "parser tried the forbidden system call tgkill and was "
                                    "killed by SIGSYS (seccomp)");
    assert_int_equal(bp_sandbox_pid(sb), pid);
    assert_still_serves();
}

static void test_flood_hits_output_limit(void **state)
{
    bp_sandbox_outcome out = run_fn(FN_FLOOD, NULL, NULL, NULL);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_string_equal(out.reason,
                        "parser produced more than 1 MB of output (limit sandbox.output_mb)");
    assert_null(out.output);
    assert_still_serves();
}

static void test_hang_hits_wall_clock(void **state)
{
    bp_sandbox_limits lim = default_limits;
    bp_sandbox_outcome out;

    (void)state;
    lim.wall_ms = 300; /* the task blocks forever: any limit is reached */
    out = run_fn(FN_HANG, &lim, NULL, NULL);
    assert_int_equal(out.status, BP_SANDBOX_TRANSIENT);
    assert_non_null(strstr(out.reason, "parser exceeded 0.3 s of wall-clock time on page 4 of "
                                       "10 (limit sandbox.wall_s;"));
    assert_still_serves();
}

static void test_cancel(void **state)
{
    volatile int cancel = 0;
    progress_log p = {.cancel_on_progress = &cancel};
    bp_sandbox_outcome out = run_fn(FN_HANG, NULL, &p, &cancel);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_CANCELLED);
    assert_still_serves();
}

static void test_fail_reason_passes(void **state)
{
    bp_sandbox_outcome out = run_fn(FN_FAIL, NULL, NULL, NULL);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_string_equal(out.reason, "PDF is encrypted (password required)");
    assert_still_serves();
}

/* A failure of the host (a library missing) is transient: the job is not discarded as a
 * bad input, and the next request is served as usual. */
static void test_fail_host_is_transient(void **state)
{
    bp_sandbox_outcome out = run_fn(FN_FAIL_HOST, NULL, NULL, NULL);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_TRANSIENT);
    assert_string_equal(out.reason, "PDF support needs libpoppler-glib.so.8; install it");
    out = run_fn(FN_FAIL, NULL, NULL, NULL); /* the flag does not stick to the next run */
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_still_serves();
}

static void test_garbage_records(void **state)
{
    bp_sandbox_outcome out = run_fn(FN_GARBAGE, NULL, NULL, NULL);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_non_null(strstr(out.reason, "broke the sandbox protocol"));
    assert_still_serves();
}

static void test_no_secret_crosses(void **state)
{
    bp_sandbox_outcome out = run_fn(FN_INSPECT, NULL, NULL, NULL);

    (void)state;
    assert_int_equal(out.status, BP_SANDBOX_OK);
    assert_null(strstr(out.output, "BULLPEN"));
    assert_null(strstr(out.output, "s3cret"));
    assert_non_null(strstr(out.output, "fds 6\n")); /* 0..2, document, result, progress */
    free(out.output);
}

static void test_extractor_replaced_after_kill(void **state)
{
    long pid = bp_sandbox_pid(sb);
    int status;

    (void)state;
    assert_true(pid > 0);
    assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
    /* the sandbox notices at the next task and starts another extractor */
    while (waitpid((pid_t)pid, &status, WNOHANG) == 0 && kill((pid_t)pid, 0) == 0)
        bp_sleep_ms(5);
    assert_still_serves();
    assert_true(bp_sandbox_pid(sb) > 0);
    assert_true(bp_sandbox_pid(sb) != pid);
    /* killed and used at once, without waiting for it to be gone: whichever way the loss
     * shows (reaped, refused send, EOF before the child started), the task still runs */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(kill((pid_t)bp_sandbox_pid(sb), SIGKILL), 0);
        assert_still_serves();
    }
}

/* Landlock alone (no seccomp): a process restricted as the extractor is cannot open a file
 * it could open before. Skipped, with a message, on a kernel without Landlock. */
static void test_landlock_denies_open(void **state)
{
    int pipefd[2];
    pid_t pid;
    int result[2] = {0, 0}, status;

    (void)state;
    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    if (pid == 0) {
        int abi = bp_sbx_confine_server();
        int fd = open("/etc/passwd", O_RDONLY);
        int r[2] = {abi, fd >= 0 ? 0 : errno};
        (void)!write(pipefd[1], r, sizeof(r));
        _exit(0);
    }
    close(pipefd[1]);
    assert_int_equal(read(pipefd[0], result, sizeof(result)), (ssize_t)sizeof(result));
    close(pipefd[0]);
    waitpid(pid, &status, 0);
    if (result[0] <= 0) {
        print_message("kernel without Landlock (%d): only seccomp keeps files away\n", result[0]);
        skip();
    }
    assert_int_equal(result[1], EACCES);
}

/* bullpen's own extraction, served by this binary's table entry for it: the format is
 * named before the parse, the bp_doc comes back whole, and a hostile child's bytes are
 * refused by bp_doc_decode(). */
static void test_extract_roundtrip(void **state)
{
    static const char html[] = "<html><head><script>x()</script></head><body><h1>Title</h1>"
                               "<p>one &amp; two</p></body></html>";
    char path[] = "/tmp/bp_sandbox_htmlXXXXXX";
    int fd = mkstemp(path);
    bp_sandbox_extract_arg arg;
    bp_sandbox_outcome out;
    bp_err err = {0};
    bp_doc d;

    (void)state;
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, html, sizeof(html) - 1), (ssize_t)sizeof(html) - 1);
    bp_sandbox_extract_arg_set(&arg, NULL, NULL, "page.html");
    assert_int_equal(bp_sandbox_run(sb, FN_NOOP + 1, fd, &arg, sizeof(arg), &default_limits, NULL,
                                    NULL, NULL, &out, &err),
                     0);
    assert_int_equal(out.status, BP_SANDBOX_OK);
    assert_string_equal(out.format, "HTML");
    assert_int_equal(bp_doc_decode(out.output, out.output_len, NULL, &d, &err), 0);
    assert_string_equal(d.text.buf, "Title one & two");
    assert_int_equal(d.format, BP_FMT_HTML);
    assert_int_equal(d.n_headings, 1);
    bp_doc_free(&d);
    /* a hostile child's output */
    assert_int_equal(bp_doc_decode("junk", 4, NULL, &d, &err), -1);
    free(out.output);
    /* an argument of the wrong size is refused by the child, not read past */
    assert_int_equal(
        bp_sandbox_run(sb, FN_NOOP + 1, fd, "x", 1, &default_limits, NULL, NULL, NULL, &out, &err),
        0);
    assert_int_equal(out.status, BP_SANDBOX_FAILED);
    assert_non_null(strstr(out.reason, "extraction request of 1 bytes"));
    close(fd);
}

/* CPU seconds of process pid and of the children it reaped (/proc/pid/stat, clock ticks). */
static double proc_cpu_s(long pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut, st, cut, cst;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ut, &st,
               &cut, &cst) != 4)
        return 0;
    return (double)(ut + st + cut + cst) / (double)sysconf(_SC_CLK_TCK);
}

/* The cost of the sandbox per document: a no-op task, n times, in wall time and in CPU time
 * of the worker (this process), the extractor and the children it forked. */
static int bench(int n)
{
    bp_sandbox_outcome out;
    bp_err err = {0};
    int64_t t0, total = 0, confine = 0;
    double cpu0, ext0;
    struct timespec ts;

    sb = bp_sandbox_new(NULL);
    doc_fd = open("/dev/null", O_RDONLY);
    if (bp_sandbox_run(sb, FN_NOOP, doc_fd, NULL, 0, &default_limits, NULL, NULL, NULL, &out,
                       &err) != 0) /* the extractor's start is not per document */
        return 1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    cpu0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    ext0 = proc_cpu_s(bp_sandbox_pid(sb));
    t0 = bp_mono_us();
    for (int i = 0; i < n; i++) {
        if (bp_sandbox_run(sb, FN_NOOP, doc_fd, NULL, 0, &default_limits, NULL, NULL, NULL, &out,
                           &err) != 0 ||
            out.status != BP_SANDBOX_OK)
            return 1;
        total += out.wall_us;
        confine += out.confine_us;
        free(out.output);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    fprintf(stdout,
            "sandboxed no-op task, %d runs: %.0f us wall each (fork to confined %.0f us); CPU "
            "per run: worker %.0f us, extractor and child %.0f us\n",
            n, (double)total / n, (double)confine / n,
            ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - cpu0) * 1e6 / n,
            (proc_cpu_s(bp_sandbox_pid(sb)) - ext0) * 1e6 / n);
    (void)t0;
    bp_sandbox_free(sb);
    close(doc_fd);
    return 0;
}

int main(int argc, char **argv)
{
    /* this binary is also the tests' extractor: the test table, plus bullpen's extraction
     * after it (FN_NOOP + 1) */
    static bp_sandbox_fn_entry fns[sizeof(test_fns) / sizeof(test_fns[0]) + 1];
    const char *profile;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_and_progress),
        cmocka_unit_test(test_segv_names_page),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_spin_hits_cpu_limit),
        cmocka_unit_test(test_hog_is_out_of_memory),
        cmocka_unit_test(test_open_is_sigsys),
        cmocka_unit_test(test_socket_is_sigsys),
        cmocka_unit_test(test_exec_is_sigsys),
        cmocka_unit_test(test_kill_parent_is_sigsys),
        cmocka_unit_test(test_flood_hits_output_limit),
        cmocka_unit_test(test_hang_hits_wall_clock),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_fail_reason_passes),
        cmocka_unit_test(test_fail_host_is_transient),
        cmocka_unit_test(test_garbage_records),
        cmocka_unit_test(test_no_secret_crosses),
        cmocka_unit_test(test_extractor_replaced_after_kill),
        cmocka_unit_test(test_landlock_denies_open),
        cmocka_unit_test(test_extract_roundtrip),
    };

    memcpy(fns, test_fns, sizeof(test_fns));
    fns[FN_NOOP + 1] = bp_sandbox_extract_fns[BP_SANDBOX_FN_EXTRACT];
    if (bp_sandbox_is_extractor(argc, argv, &profile))
        return bp_sandbox_server_main(fns, sizeof(fns) / sizeof(fns[0]), bp_sandbox_extract_init,
                                      profile);
    if (argc == 3 && strcmp(argv[1], "--bench") == 0)
        return bench(atoi(argv[2]));
    return cmocka_run_group_tests_name("bp_sandbox", tests, group_setup, group_teardown);
}
