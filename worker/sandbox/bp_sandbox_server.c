/* bp_sandbox_server.c -- the extractor process, and the child side of a task.
 *
 * The worker execs the bullpen binary again with argv[1] = BP_SANDBOX_ARGV1: a fresh image,
 * so no secret the master or worker read (Redis password, TLS key, control key) is in its
 * memory, no Redis socket is open (fd 3, the channel, is the only one besides 0..2) and the
 * environment is empty. It warms up its parsers (init), confines itself once
 * (bp_sbx_confine_server: Landlock, no_new_privs, no capabilities), says HELLO, then serves
 * one request at a time: fork a child, hand it the document, the result pipe and the
 * progress pipe as fds 3, 4, 5, and wait for it (pidfd) while listening for KILL. When the
 * child is gone it reports the wait status and rusage (DONE). A child never holds the
 * channel, so it cannot talk to the worker except through its two pipes.
 *
 * One child per document: a hostile file that corrupts its parser's memory corrupts only
 * that child, never the next user's document, and the parsers' warm state (loaded modules,
 * tables) is shared copy-on-write at no cost per document. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bp_sandbox_proto.h"

#define BP_SBX_DOC_FD  3 /* the child's fds */
#define BP_SBX_OUT_FD  4
#define BP_SBX_PROG_FD 5
#define BP_SBX_HIGH_FD 16 /* received fds are parked here while the child rearranges them */

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- the child side (bp_sandbox.h) ---- */

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;

    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void send_rec(int fd, int kind, int flags, uint64_t a, uint64_t b, const char *text)
{
    struct {
        bp_sbx_rec rec;
        char text[BP_SANDBOX_TEXT_MAX];
    } m;
    size_t len = text != NULL ? strnlen(text, BP_SANDBOX_TEXT_MAX) : 0;

    memset(&m.rec, 0, sizeof(m.rec));
    m.rec.kind = (uint8_t)kind;
    m.rec.flags = (uint8_t)flags;
    m.rec.len = (uint16_t)len;
    m.rec.a = a;
    m.rec.b = b;
    if (len > 0)
        memcpy(m.text, text, len);
    (void)write_all(fd, &m, sizeof(m.rec) + len);
}

void bp_sandbox_progress(const bp_sandbox_task *t, uint64_t done, uint64_t total,
                         bp_sandbox_unit unit)
{
    static int64_t last_sent_us; /* per child: each starts at 0 */
    bp_sbx_rec rec = {.kind = BP_SBX_REC_PROGRESS, .flags = (uint8_t)unit, .a = done, .b = total};
    int64_t now = mono_us();

    if (last_sent_us != 0 && now - last_sent_us < BP_SBX_PROGRESS_US &&
        (total == 0 || done < total)) {
        bp_sbx_note_progress(&rec); /* a crash still reports this page */
        return;
    }
    bp_sbx_note_progress(NULL);
    last_sent_us = now;
    send_rec(t->progress_fd, BP_SBX_REC_PROGRESS, (int)unit, done, total, NULL);
}

void bp_sandbox_format(const bp_sandbox_task *t, const char *format)
{
    send_rec(t->progress_fd, BP_SBX_REC_FORMAT, 0, 0, 0, format);
}

int bp_sandbox_write(const bp_sandbox_task *t, const void *buf, size_t n)
{
    return write_all(t->out_fd, buf, n);
}

static void __attribute__((noreturn))
fail_with(const bp_sandbox_task *t, int flags, const char *fmt, va_list ap)
{
    char text[BP_SANDBOX_TEXT_MAX + 1];

    vsnprintf(text, sizeof(text), fmt, ap);
    send_rec(t->progress_fd, BP_SBX_REC_ERROR, flags, 0, 0, text);
    _exit(BP_SBX_EXIT_FAILED);
}

void bp_sandbox_fail(const bp_sandbox_task *t, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail_with(t, 0, fmt, ap);
}

void bp_sandbox_fail_host(const bp_sandbox_task *t, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail_with(t, BP_SBX_ERROR_HOST, fmt, ap);
}

void bp_sandbox_fail_oom(const bp_sandbox_task *t)
{
    send_rec(t->progress_fd, BP_SBX_REC_OOM, 0, t->memory_limit, 0, NULL);
    _exit(BP_SBX_EXIT_OOM);
}

/* ---- the extractor ---- */

typedef struct sbx_server {
    const bp_sandbox_fn_entry *fns; /* the table requests index */
    size_t n_fns;
    int chan;  /* BP_SBX_CHANNEL_FD */
    int statm; /* /proc/self/statm, opened before Landlock: the address space at fork */
    long page; /* page size */
} sbx_server;

static void close_from(int lowfd)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0u) == 0)
        return;
#endif
    for (int fd = lowfd; fd < 65536; fd++)
        close(fd);
}

static uint64_t address_space(const sbx_server *s)
{
    char buf[128];
    ssize_t n = s->statm >= 0 ? pread(s->statm, buf, sizeof(buf) - 1, 0) : -1;
    unsigned long long pages = 0;

    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (sscanf(buf, "%llu", &pages) != 1)
        return 0;
    return (uint64_t)pages * (uint64_t)s->page;
}

static int send_msg(int chan, const bp_sbx_msg *m)
{
    ssize_t n;

    do
        n = send(chan, m, sizeof(*m), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(*m) ? 0 : -1;
}

/* Receive one message and up to three fds. Returns 1, 0 at EOF, -1 on error. */
static int recv_msg(int chan, bp_sbx_msg *m, int fds[3], int *n_fds)
{
    union {
        char buf[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n;

    *n_fds = 0;
    do
        n = recvmsg(chan, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return (int)n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (*n_fds < 3)
                    fds[(*n_fds)++] = fd;
                else
                    close(fd);
            }
        }
    }
    if (n != (ssize_t)sizeof(*m) || m->magic != BP_SBX_MAGIC || (mh.msg_flags & MSG_CTRUNC))
        return -1;
    return 1;
}

/* In the child: fds 3, 4, 5 = document, result, progress; nothing else above 2. */
static int arrange_fds(const int fds[3])
{
    int high[3];

    for (int i = 0; i < 3; i++) {
        high[i] = fcntl(fds[i], F_DUPFD, BP_SBX_HIGH_FD + i);
        if (high[i] < 0)
            return -1;
    }
    for (int i = 0; i < 3; i++)
        if (dup2(high[i], BP_SBX_DOC_FD + i) < 0)
            return -1;
    close_from(BP_SBX_PROG_FD + 1);
    return 0;
}

static void __attribute__((noreturn))
run_child(const sbx_server *s, const bp_sbx_msg *m, const int fds[3], uint64_t as_base, int64_t t0)
{
    bp_sandbox_task t = {.doc_fd = BP_SBX_DOC_FD,
                         .arg = m->arg,
                         .arg_len = m->arg_len,
                         .memory_limit = m->memory_bytes,
                         .out_fd = BP_SBX_OUT_FD,
                         .progress_fd = BP_SBX_PROG_FD};
    sigset_t none;
    bp_err err = {0};

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* not inherited through fork */
    if (arrange_fds(fds) != 0) {
        send_rec(fds[2], BP_SBX_REC_ERROR, 0, 0, 0, "cannot arrange the child's descriptors");
        _exit(BP_SBX_EXIT_CONFINE);
    }
    if (bp_sbx_confine_child(m->memory_bytes, as_base, m->cpu_s, BP_SBX_PROG_FD, &err) != 0) {
        char text[BP_SANDBOX_TEXT_MAX];
        snprintf(text, sizeof(text), "cannot confine the parser: %.200s", err.msg);
        send_rec(BP_SBX_PROG_FD, BP_SBX_REC_ERROR, 0, 0, 0, text);
        _exit(BP_SBX_EXIT_CONFINE);
    }
    send_rec(BP_SBX_PROG_FD, BP_SBX_REC_CONFINED, 0, (uint64_t)(mono_us() - t0), 0, NULL);
    _exit(s->fns[m->fn].fn(&t) == 0 ? 0 : BP_SBX_EXIT_FAILED);
}

/* Wait for the child to end, killing it when the worker says so. Returns 0, or -1 when the
 * worker is gone (the child is killed and reaped before returning). */
static int supervise(const sbx_server *s, pid_t pid, int *status, struct rusage *ru)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int worker_gone = 0;

    for (;;) {
        struct pollfd p[2] = {{.fd = s->chan, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
        pid_t r = wait4(pid, status, WNOHANG, ru);

        if (r == pid)
            break;
        /* without pidfd (kernel < 5.3), look again every 20 ms */
        if (poll(p, 2, pidfd >= 0 ? -1 : 20) < 0 && errno != EINTR)
            break;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            bp_sbx_msg m;
            int fds[3], n_fds, rc = recv_msg(s->chan, &m, fds, &n_fds);
            for (int i = 0; i < n_fds; i++)
                close(fds[i]); /* no second task while one runs */
            if (rc <= 0 || m.op == BP_SBX_KILL) {
                kill(pid, SIGKILL);
                worker_gone |= rc <= 0;
                if (worker_gone) {
                    while (wait4(pid, status, 0, ru) < 0 && errno == EINTR)
                        ;
                    break;
                }
            }
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    return worker_gone ? -1 : 0;
}

static int serve_one(sbx_server *s, const bp_sbx_msg *m, int fds[3])
{
    bp_sbx_msg done = {.magic = BP_SBX_MAGIC, .op = BP_SBX_DONE};
    struct rusage ru;
    int status = 0;
    uint64_t as_base = address_space(s);
    int64_t t0 = mono_us();
    pid_t pid = fork();

    if (pid == 0)
        run_child(s, m, fds, as_base, t0);
    for (int i = 0; i < 3; i++)
        close(fds[i]); /* EOF on the pipes must mean the child is gone */
    if (pid < 0) {
        done.status = -1;
        done.pid = -errno;
        return send_msg(s->chan, &done);
    }
    done.op = BP_SBX_STARTED;
    done.pid = pid;
    (void)send_msg(s->chan, &done);
    memset(&ru, 0, sizeof(ru));
    if (supervise(s, pid, &status, &ru) != 0)
        return -1;
    done.op = BP_SBX_DONE;
    done.status = status;
    done.cpu_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
                  (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    done.maxrss_kb = ru.ru_maxrss;
    return send_msg(s->chan, &done);
}

bool bp_sandbox_is_extractor(int argc, char **argv, const char **profile)
{
    if ((argc != 2 && argc != 3) || strcmp(argv[1], BP_SANDBOX_ARGV1) != 0)
        return false;
    *profile = argc == 3 ? argv[2] : NULL;
    return true;
}

int bp_sandbox_server_main(const bp_sandbox_fn_entry *fns, size_t n_fns, bp_sandbox_init_fn init,
                           const char *profile)
{
    sbx_server s = {.fns = fns, .n_fns = n_fns, .chan = BP_SBX_CHANNEL_FD, .statm = -1};
    static const int ignored[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    bp_sbx_msg hello = {.magic = BP_SBX_MAGIC, .op = BP_SBX_HELLO};
    struct stat st;
    struct sigaction sa;

    if (fstat(s.chan, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        fputs("bullpen: " BP_SANDBOX_ARGV1 " is internal: the worker starts it with its "
              "channel on fd 3\n",
              stderr);
        return 64;
    }
    close_from(BP_SBX_CHANNEL_FD + 1);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    /* only the worker ends it (EOF on the channel, its death, SIGKILL of its process group):
     * a stray TERM or INT must not fail the document being parsed */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        sigaction(ignored[i], &sa, NULL);
    s.page = sysconf(_SC_PAGESIZE);
    s.statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (init != NULL)
        init(profile); /* before Landlock: whatever the parsers load lazily, they load now */
    (void)bp_sbx_filter_prepare();
    hello.status = bp_sbx_confine_server();
    hello.pid = (int32_t)getpid();
    if (send_msg(s.chan, &hello) != 0)
        return 0;
    for (;;) {
        bp_sbx_msg m;
        int fds[3], n_fds;
        int rc = recv_msg(s.chan, &m, fds, &n_fds);

        if (rc <= 0)
            break; /* the worker closed the channel (or broke it): done */
        if (m.op != BP_SBX_RUN || n_fds != 3 || m.fn >= n_fns || m.arg_len > sizeof(m.arg)) {
            for (int i = 0; i < n_fds; i++)
                close(fds[i]);
            if (m.op == BP_SBX_RUN) { /* answer, so the worker does not wait forever */
                bp_sbx_msg bad = {
                    .magic = BP_SBX_MAGIC, .op = BP_SBX_DONE, .status = -1, .pid = -EINVAL};
                (void)send_msg(s.chan, &bad);
            }
            continue;
        }
        if (serve_one(&s, &m, fds) != 0)
            break;
    }
    if (s.statm >= 0)
        close(s.statm);
    /* no atexit handlers: under Landlock, LeakSanitizer could not read /proc to check */
    fflush(NULL);
    _exit(0);
}
