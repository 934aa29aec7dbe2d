/* bp_sandbox.c -- the worker's side of the extraction sandbox: start the extractor, hand it
 * one document at a time, enforce what only the worker can (wall clock, output size,
 * cancellation), and turn how the child ended into a reason a person can act on.
 *
 * The extractor is started at the first document (fork + exec of this very binary, an
 * empty environment, fds 0..2 and the channel only) and restarted when it dies. A run
 * reads the result pipe and the progress pipe and listens on the channel until the child
 * is reaped and both pipes are at EOF. Nothing the child writes is trusted: records are
 * bounds-checked, text is reduced to printable ASCII, output stops at output_bytes. */
#include "bp_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bp_log.h"
#include "bp_sandbox_proto.h"
#include "bp_time.h"

#define BP_SBX_HELLO_MS     10000     /* an extractor not up within 10 s is broken */
#define BP_SBX_TICK_MS      100       /* how often *cancel is looked at */
#define BP_SBX_KILL_WAIT_MS 5000      /* an extractor that reaps no child this long is broken */
#define BP_SBX_OUT_CHUNK    65536     /* result bytes read per call */
#define BP_SBX_PIPE_BYTES   (1 << 20) /* result pipe buffer: fewer wake-ups on big documents */

struct bp_sandbox {
    char exe[4096];                       /* program exec'd */
    char profile[BP_SANDBOX_PROFILE_MAX]; /* its argv[2], "" = none */
    int stderr_fd;                        /* extractor's stderr, -1 = /dev/null */
    pid_t pid;                            /* extractor, 0 = not running */
    int chan;                             /* our end of the channel, -1 = none */
    int landlock_abi;                     /* from HELLO */
    long child_peak_kb;                   /* largest peak RSS of a child so far */
};

bp_sandbox *bp_sandbox_new(const bp_sandbox_options *o)
{
    bp_sandbox *sb = calloc(1, sizeof(*sb));

    if (sb == NULL)
        return NULL;
    snprintf(sb->exe, sizeof(sb->exe), "%s",
             o != NULL && o->exe != NULL ? o->exe : "/proc/self/exe");
    sb->stderr_fd = o != NULL ? o->log_stderr_fd : 2;
    snprintf(sb->profile, sizeof(sb->profile), "%s",
             o != NULL && o->profile != NULL ? o->profile : "");
    sb->chan = -1;
    return sb;
}

static void stop_extractor(bp_sandbox *sb)
{
    if (sb->chan >= 0)
        close(sb->chan); /* EOF: it kills its child, if any, and exits */
    sb->chan = -1;
    if (sb->pid > 0) {
        int status;
        pid_t r;
        /* give it a moment to exit by itself, then insist */
        for (int i = 0; i < 100; i++) {
            r = waitpid(sb->pid, &status, WNOHANG);
            if (r != 0)
                break;
            bp_sleep_ms(10);
        }
        if (r == 0) {
            kill(sb->pid, SIGKILL);
            while (waitpid(sb->pid, &status, 0) < 0 && errno == EINTR)
                ;
        }
    }
    sb->pid = 0;
}

void bp_sandbox_free(bp_sandbox *sb)
{
    if (sb == NULL)
        return;
    stop_extractor(sb);
    free(sb);
}

long bp_sandbox_pid(const bp_sandbox *sb)
{
    return sb != NULL ? (long)sb->pid : 0;
}

long bp_sandbox_child_peak_kb(const bp_sandbox *sb)
{
    return sb != NULL ? sb->child_peak_kb : 0;
}

/* The environment of the extractor: only the sanitizer settings of a test build, so no
 * BULLPEN_REDIS_PASSWORD or anything else of ours crosses the exec. Under ASan a failed
 * allocation returns NULL (as glibc's does) and fatal signals reach the sandbox's own
 * handlers, so reasons read the same as in a release build; a memory error ASan finds in a
 * parser still prints its "ERROR: AddressSanitizer" line on the log before the report's
 * first open of /proc ends the child by SIGSYS. */
static void build_env(char **env, char store[][1024], size_t max)
{
    static const char *const keep[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"};
    static const char asan_extra[] = ":allocator_may_return_null=1:handle_segv=0:handle_sigbus=0"
                                     ":handle_abort=0:handle_sigfpe=0:handle_sigill=0";
    size_t n = 0;

    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]) && n + 1 < max; i++) {
        const char *v = getenv(keep[i]);
        if (v == NULL)
            continue;
        snprintf(store[n], sizeof(store[n]), "%s=%.800s%s", keep[i], v, i == 0 ? asan_extra : "");
        env[n] = store[n];
        n++;
    }
    env[n] = NULL;
}

/* Between fork and exec: only async-signal-safe calls (the worker has threads). */
static void __attribute__((noreturn))
exec_extractor(const bp_sandbox *sb, int chan, int devnull, pid_t parent, char **env)
{
    static char name[] = "bullpen-extractor", mode[] = BP_SANDBOX_ARGV1;
    char profile[BP_SANDBOX_PROFILE_MAX];
    char *argv[] = {name, mode, NULL, NULL}; /* argv[2]: the profile, if any */
    sigset_t none;
    struct sigaction dfl;

    if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
        dup2(sb->stderr_fd >= 0 ? sb->stderr_fd : devnull, 2) < 0)
        _exit(127);
    if (chan == BP_SBX_CHANNEL_FD)
        fcntl(chan, F_SETFD, 0);
    else if (dup2(chan, BP_SBX_CHANNEL_FD) < 0)
        _exit(127);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, BP_SBX_CHANNEL_FD + 1u, ~0u, 0u) != 0)
#endif
        for (int fd = BP_SBX_CHANNEL_FD + 1; fd < 65536; fd++)
            close(fd);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(127);
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    memcpy(profile, sb->profile, sizeof(profile));
    if (profile[0] != '\0')
        argv[2] = profile;
    execve(sb->exe, argv, env);
    _exit(127);
}

static int recv_msg(int chan, bp_sbx_msg *m, int timeout_ms)
{
    struct pollfd p = {.fd = chan, .events = POLLIN};
    ssize_t n;

    if (timeout_ms >= 0) {
        int r = poll(&p, 1, timeout_ms);
        if (r == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
    do
        n = recv(chan, m, sizeof(*m), 0);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0;
    if (n != (ssize_t)sizeof(*m) || m->magic != BP_SBX_MAGIC) {
        errno = EPROTO;
        return -1;
    }
    return 1;
}

static int start_extractor(bp_sandbox *sb, bp_err *err)
{
    char store[4][1024];
    char *env[4];
    int sv[2], devnull;
    pid_t parent = getpid(), pid;
    bp_sbx_msg hello;
    int rc;

    build_env(env, store, 4);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        bp_err_set(err, BP_ERR_IO, errno, "sandbox: socketpair: %s", strerror(errno));
        return -1;
    }
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        bp_err_set(err, BP_ERR_IO, errno, "sandbox: cannot open /dev/null: %s", strerror(errno));
        goto out_close;
    }
    pid = fork();
    if (pid == 0)
        exec_extractor(sb, sv[1], devnull, parent, env);
    close(devnull);
    if (pid < 0) {
        bp_err_set(err, BP_ERR_IO, errno, "sandbox: cannot fork the extractor: %s",
                   strerror(errno));
        goto out_close;
    }
    close(sv[1]);
    sb->chan = sv[0];
    sb->pid = pid;
    rc = recv_msg(sb->chan, &hello, BP_SBX_HELLO_MS);
    if (rc != 1 || hello.op != BP_SBX_HELLO) {
        bp_err_set(err, BP_ERR_IO, rc < 0 ? errno : 0,
                   "sandbox: the extractor '%s " BP_SANDBOX_ARGV1 "' did not start: %s", sb->exe,
                   rc < 0 ? strerror(errno) : "it exited before saying hello");
        stop_extractor(sb);
        return -1;
    }
    sb->landlock_abi = hello.status;
    if (hello.status > 0)
        bp_log_info("sandbox: extractor pid %ld up%s%s (Landlock ABI %d: no file access by "
                    "path, no TCP; seccomp and rlimits per document)",
                    (long)pid, sb->profile[0] != '\0' ? ", profile " : "", sb->profile,
                    (int)hello.status);
    else
        bp_log_warn("sandbox: extractor pid %ld up%s%s WITHOUT Landlock (%s); seccomp still "
                    "refuses every open, socket and exec of the parser",
                    (long)pid, sb->profile[0] != '\0' ? ", profile " : "", sb->profile,
                    hello.status == 0 ? "this kernel has none" : strerror(-hello.status));
    return 0;

out_close:
    close(sv[0]);
    close(sv[1]);
    return -1;
}

/* One run in progress. */
typedef struct sbx_run {
    bp_sandbox *sb;
    const bp_sandbox_limits *lim;
    bp_sandbox_progress_cb progress;
    void *cb_arg;
    int out_fd, prog_fd; /* read ends, -1 at EOF */
    char *out;           /* result bytes */
    size_t out_len, out_cap;
    char prog[sizeof(bp_sbx_rec) + BP_SANDBOX_TEXT_MAX]; /* partial record */
    size_t prog_len;
    enum { KILL_NONE, KILL_OUTPUT, KILL_WALL, KILL_CANCEL, KILL_PROTOCOL } killed;
    int started;       /* STARTED received: a child exists */
    int done;          /* DONE received */
    int lost;          /* the extractor went away */
    bp_sbx_msg status; /* DONE */
    /* what the child said */
    uint64_t last_done, last_total;
    int last_unit, have_progress;
    int oom, signo, sig_oom;
    long syscall_nr;
    char error[BP_SANDBOX_TEXT_MAX + 1];
    int error_host; /* the error is the host's (BP_SBX_ERROR_HOST), not the input's */
    int64_t confine_us;
} sbx_run;

/* Printable ASCII only: the child's text ends up in logs and in Bull's failedReason. */
static void clean_text(char *dst, size_t cap, const char *src, size_t n)
{
    size_t j = 0;

    for (size_t i = 0; i < n && j + 1 < cap; i++)
        dst[j++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    dst[j] = '\0';
}

static void send_kill(sbx_run *r, int why)
{
    bp_sbx_msg m = {.magic = BP_SBX_MAGIC, .op = BP_SBX_KILL};

    if (r->killed != KILL_NONE)
        return;
    r->killed = why;
    (void)send(r->sb->chan, &m, sizeof(m), MSG_NOSIGNAL);
}

static void on_record(sbx_run *r, const bp_sbx_rec *rec, const char *text, bp_sandbox_outcome *out)
{
    switch (rec->kind) {
    case BP_SBX_REC_PROGRESS:
        if (rec->flags > BP_SANDBOX_UNIT_PAGES)
            break;
        r->last_done = rec->a;
        r->last_total = rec->b;
        r->last_unit = rec->flags;
        r->have_progress = 1;
        if (r->progress != NULL)
            r->progress(r->cb_arg, rec->a, rec->b, (bp_sandbox_unit)rec->flags);
        break;
    case BP_SBX_REC_FORMAT:
        clean_text(out->format, sizeof(out->format), text, rec->len);
        break;
    case BP_SBX_REC_ERROR:
        clean_text(r->error, sizeof(r->error), text, rec->len);
        r->error_host = (rec->flags & BP_SBX_ERROR_HOST) != 0;
        break;
    case BP_SBX_REC_OOM:
        r->oom = 1;
        break;
    case BP_SBX_REC_SIGNAL:
        r->signo = (int)rec->a;
        r->sig_oom = (int)rec->b;
        break;
    case BP_SBX_REC_SYSCALL:
        r->syscall_nr = (long)rec->a;
        break;
    case BP_SBX_REC_CONFINED:
        r->confine_us = (int64_t)rec->a;
        break;
    default:
        send_kill(r, KILL_PROTOCOL);
    }
}

static void read_progress(sbx_run *r, bp_sandbox_outcome *out)
{
    for (;;) {
        ssize_t n = read(r->prog_fd, r->prog + r->prog_len, sizeof(r->prog) - r->prog_len);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            close(r->prog_fd);
            r->prog_fd = -1;
            return;
        }
        if (n < 0)
            return;
        r->prog_len += (size_t)n;
        while (r->prog_len >= sizeof(bp_sbx_rec)) {
            bp_sbx_rec rec;
            size_t whole;
            memcpy(&rec, r->prog, sizeof(rec));
            if (rec.len > BP_SANDBOX_TEXT_MAX) {
                send_kill(r, KILL_PROTOCOL);
                r->prog_len = 0;
                break;
            }
            whole = sizeof(rec) + rec.len;
            if (r->prog_len < whole)
                break;
            on_record(r, &rec, r->prog + sizeof(rec), out);
            memmove(r->prog, r->prog + whole, r->prog_len - whole);
            r->prog_len -= whole;
        }
    }
}

static void read_output(sbx_run *r)
{
    for (;;) {
        ssize_t n;

        if (r->out_cap - r->out_len < BP_SBX_OUT_CHUNK) {
            size_t cap = r->out_cap == 0 ? 4 * BP_SBX_OUT_CHUNK : r->out_cap * 2;
            if (cap > r->lim->output_bytes + 2 * BP_SBX_OUT_CHUNK) /* never far past the limit */
                cap = r->lim->output_bytes + 2 * BP_SBX_OUT_CHUNK;
            char *p = realloc(r->out, cap + 1);
            if (p == NULL) { /* the worker's own memory: treat as an output limit */
                send_kill(r, KILL_OUTPUT);
                close(r->out_fd);
                r->out_fd = -1;
                return;
            }
            r->out = p;
            r->out_cap = cap;
        }
        n = read(r->out_fd, r->out + r->out_len, r->out_cap - r->out_len);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            close(r->out_fd);
            r->out_fd = -1;
            return;
        }
        if (n < 0)
            return;
        r->out_len += (size_t)n;
        if (r->out_len > r->lim->output_bytes) {
            send_kill(r, KILL_OUTPUT);
            close(r->out_fd); /* the child's next write fails: it stops */
            r->out_fd = -1;
            return;
        }
    }
}

static void read_channel(sbx_run *r)
{
    bp_sbx_msg m;
    int rc = recv_msg(r->sb->chan, &m, -1);

    if (rc <= 0) {
        r->lost = 1;
        return;
    }
    if (m.op == BP_SBX_STARTED)
        r->started = 1;
    if (m.op == BP_SBX_DONE) {
        r->status = m;
        r->done = 1;
    }
}

static int send_run(bp_sandbox *sb, unsigned fn, int doc_fd, int out_w, int prog_w, const void *arg,
                    size_t arg_len, const bp_sandbox_limits *lim)
{
    bp_sbx_msg m = {.magic = BP_SBX_MAGIC,
                    .op = BP_SBX_RUN,
                    .fn = fn,
                    .memory_bytes = lim->memory_bytes,
                    .cpu_s = (uint32_t)lim->cpu_s,
                    .arg_len = (uint32_t)arg_len};
    int fds[3] = {doc_fd, out_w, prog_w};
    union {
        char buf[CMSG_SPACE(sizeof(fds))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c;
    ssize_t n;

    if (arg_len > 0)
        memcpy(m.arg, arg, arg_len);
    memset(&u, 0, sizeof(u));
    c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(c), fds, sizeof(fds));
    do
        n = sendmsg(sb->chan, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(m) ? 0 : -1;
}

static const char *sig_name(int signo, char *buf, size_t cap)
{
    const char *abbrev = sigabbrev_np(signo);

    if (abbrev != NULL)
        snprintf(buf, cap, "SIG%s", abbrev);
    else
        snprintf(buf, cap, "signal %d", signo);
    return buf;
}

/* " on page 12 of 500" / " after 1048576 of 4000000 bytes": where the parse was. */
static void where_text(const sbx_run *r, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (!r->have_progress)
        return;
    if (r->last_unit == BP_SANDBOX_UNIT_PAGES && r->last_total > 0)
        snprintf(buf, cap, " on page %" PRIu64 " of %" PRIu64, r->last_done + 1, r->last_total);
    else if (r->last_unit == BP_SANDBOX_UNIT_PAGES)
        snprintf(buf, cap, " on page %" PRIu64, r->last_done + 1);
    else
        snprintf(buf, cap, " after %" PRIu64 " of %" PRIu64 " bytes", r->last_done, r->last_total);
}

static void classify(sbx_run *r, bp_sandbox_outcome *out)
{
    char parser[64], where[80], sig[32], sys[48];
    int st = r->status.status;
    unsigned long long mem_mb = r->lim->memory_bytes >> 20;

    snprintf(parser, sizeof(parser), "%s%sparser", out->format, out->format[0] != '\0' ? " " : "");
    where_text(r, where, sizeof(where));
    out->cpu_us = r->status.cpu_us;
    out->maxrss_kb = (long)r->status.maxrss_kb;
    out->confine_us = r->confine_us;
    out->status = BP_SANDBOX_FAILED; /* a property of the input unless said otherwise */

    if (r->lost) {
        out->status = BP_SANDBOX_TRANSIENT;
        snprintf(out->reason, sizeof(out->reason),
                 "the extractor process died while parsing; the document was not parsed");
    } else if (r->status.status == -1) {
        out->status = BP_SANDBOX_TRANSIENT;
        snprintf(out->reason, sizeof(out->reason), "the extractor could not fork a parser: %s",
                 strerror(-r->status.pid));
    } else if (r->killed == KILL_CANCEL) {
        out->status = BP_SANDBOX_CANCELLED;
        snprintf(out->reason, sizeof(out->reason), "cancelled");
    } else if (r->killed == KILL_OUTPUT) {
        snprintf(out->reason, sizeof(out->reason),
                 "%s produced more than %" PRIu64 " MB of output (limit sandbox.output_mb)", parser,
                 r->lim->output_bytes >> 20);
    } else if (r->killed == KILL_WALL) {
        out->status = BP_SANDBOX_TRANSIENT;
        snprintf(out->reason, sizeof(out->reason),
                 "%s exceeded %g s of wall-clock time%s (limit sandbox.wall_s; %.1f s of CPU "
                 "used)",
                 parser, (double)r->lim->wall_ms / 1000.0, where, (double)out->cpu_us / 1e6);
    } else if (r->killed == KILL_PROTOCOL) {
        snprintf(out->reason, sizeof(out->reason),
                 "%s broke the sandbox protocol (malformed progress record); killed", parser);
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        out->status = BP_SANDBOX_OK;
    } else if (r->oom || (WIFSIGNALED(st) && r->signo == WTERMSIG(st) && r->sig_oom != 0 &&
                          WTERMSIG(st) != SIGSYS)) {
        snprintf(out->reason, sizeof(out->reason),
                 "%s ran out of memory%s (limit %llu MB, sandbox.memory_mb)", parser, where,
                 mem_mb);
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == BP_SBX_EXIT_CONFINE) {
        out->status = BP_SANDBOX_TRANSIENT;
        snprintf(out->reason, sizeof(out->reason), "%s",
                 r->error[0] != '\0' ? r->error : "cannot confine the parser");
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == BP_SBX_EXIT_FAILED && r->error[0] != '\0') {
        if (r->error_host)
            out->status = BP_SANDBOX_TRANSIENT;
        snprintf(out->reason, sizeof(out->reason), "%s", r->error);
    } else if (WIFEXITED(st)) {
        snprintf(out->reason, sizeof(out->reason), "%s exited with status %d%s", parser,
                 WEXITSTATUS(st), where);
    } else if (WTERMSIG(st) == SIGSYS) {
        if (r->syscall_nr >= 0)
            snprintf(out->reason, sizeof(out->reason),
                     "%s tried the forbidden system call %s%s and was killed by SIGSYS "
                     "(seccomp)",
                     parser, bp_sbx_syscall_name(r->syscall_nr, sys, sizeof(sys)), where);
        else
            snprintf(out->reason, sizeof(out->reason),
                     "%s killed by SIGSYS (a forbidden system call)%s", parser, where);
    } else if (WTERMSIG(st) == SIGXCPU ||
               (WTERMSIG(st) == SIGKILL && out->cpu_us >= (uint64_t)r->lim->cpu_s * 1000000u)) {
        snprintf(out->reason, sizeof(out->reason),
                 "%s exceeded %d s of CPU%s (limit sandbox.cpu_s)", parser, r->lim->cpu_s, where);
    } else {
        snprintf(out->reason, sizeof(out->reason), "%s killed by %s%s", parser,
                 sig_name(WTERMSIG(st), sig, sizeof(sig)), where);
    }
}

static int wait_loop(sbx_run *r, volatile int *cancel, bp_sandbox_outcome *out)
{
    int64_t deadline = bp_mono_ms() + r->lim->wall_ms, killed_at = 0;

    while (!r->lost && (!r->done || r->out_fd >= 0 || r->prog_fd >= 0)) {
        struct pollfd p[3] = {{.fd = r->out_fd, .events = POLLIN},
                              {.fd = r->prog_fd, .events = POLLIN},
                              {.fd = r->done ? -1 : r->sb->chan, .events = POLLIN}};
        int64_t left = deadline - bp_mono_ms();
        int timeout = BP_SBX_TICK_MS;

        if (r->killed == KILL_NONE && left < timeout)
            timeout = left > 0 ? (int)left : 0;
        if (poll(p, 3, timeout) < 0 && errno != EINTR)
            return -1;
        if (p[0].revents)
            read_output(r);
        if (p[1].revents)
            read_progress(r, out);
        if (p[2].revents)
            read_channel(r);
        if (cancel != NULL && *cancel)
            send_kill(r, KILL_CANCEL);
        if (bp_mono_ms() >= deadline)
            send_kill(r, KILL_WALL);
        if (r->killed != KILL_NONE && killed_at == 0)
            killed_at = bp_mono_ms();
        if (killed_at != 0 && !r->done && bp_mono_ms() - killed_at > BP_SBX_KILL_WAIT_MS) {
            bp_log_error("sandbox: extractor pid %ld does not answer a kill; killing it",
                         (long)r->sb->pid);
            r->lost = 1; /* the caller stops it: its child dies with it (PDEATHSIG) */
        }
    }
    return 0;
}

/* One try. Returns 0 (out filled), -1 (err set), or 1: the extractor was gone before a
 * child started (killed from outside between two documents): nothing ran, try again. */
static int run_once(bp_sandbox *sb, unsigned fn, int doc_fd, const void *arg, size_t arg_len,
                    const bp_sandbox_limits *lim, bp_sandbox_progress_cb progress, void *cb_arg,
                    volatile int *cancel, bp_sandbox_outcome *out, bp_err *err)
{
    sbx_run r = {.sb = sb, .lim = lim, .progress = progress, .cb_arg = cb_arg, .syscall_nr = -1};
    int out_p[2] = {-1, -1}, prog_p[2] = {-1, -1};
    int64_t t0 = bp_mono_us();
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (arg_len > BP_SANDBOX_ARG_MAX) {
        bp_err_set(err, BP_ERR_IO, EINVAL, "sandbox: argument of %zu bytes, over %d", arg_len,
                   BP_SANDBOX_ARG_MAX);
        return -1;
    }
    if (sb->pid > 0 && waitpid(sb->pid, NULL, WNOHANG) != 0) { /* died since the last run */
        bp_log_warn("sandbox: extractor pid %ld is gone; starting another", (long)sb->pid);
        sb->pid = 0;
        stop_extractor(sb);
    }
    if (sb->pid == 0 && start_extractor(sb, err) != 0)
        return -1;
    if (pipe2(out_p, O_CLOEXEC) != 0 || pipe2(prog_p, O_CLOEXEC) != 0) {
        bp_err_set(err, BP_ERR_IO, errno, "sandbox: pipe: %s", strerror(errno));
        goto out_close;
    }
    (void)fcntl(out_p[0], F_SETPIPE_SZ, BP_SBX_PIPE_BYTES);
    fcntl(out_p[0], F_SETFL, O_NONBLOCK);
    fcntl(prog_p[0], F_SETFL, O_NONBLOCK);
    if (send_run(sb, fn, doc_fd, out_p[1], prog_p[1], arg, arg_len, lim) != 0) {
        bp_err_set(err, BP_ERR_IO, errno, "sandbox: cannot reach the extractor pid %ld: %s",
                   (long)sb->pid, strerror(errno));
        bp_log_warn("sandbox: extractor pid %ld is gone; starting another", (long)sb->pid);
        stop_extractor(sb);
        rc = 1;
        goto out_close;
    }
    close(out_p[1]);
    close(prog_p[1]);
    out_p[1] = prog_p[1] = -1;
    r.out_fd = out_p[0];
    r.prog_fd = prog_p[0];
    out_p[0] = prog_p[0] = -1;
    if (wait_loop(&r, cancel, out) != 0) {
        bp_err_set(err, BP_ERR_IO, errno, "sandbox: poll: %s", strerror(errno));
        goto out_close;
    }
    if (r.lost && !r.started && r.killed == KILL_NONE) {
        bp_log_warn("sandbox: extractor pid %ld is gone; starting another", (long)sb->pid);
        stop_extractor(sb);
        rc = 1;
        goto out_close;
    }
    if (r.lost)
        stop_extractor(sb);
    classify(&r, out);
    if (out->maxrss_kb > sb->child_peak_kb)
        sb->child_peak_kb = out->maxrss_kb;
    out->wall_us = bp_mono_us() - t0;
    if (out->status == BP_SANDBOX_OK) {
        out->output = r.out;
        out->output_len = r.out_len;
        if (out->output == NULL)
            out->output = calloc(1, 1);
        else
            out->output[r.out_len] = '\0';
        r.out = NULL;
        if (out->output == NULL) {
            bp_err_set(err, BP_ERR_IO, ENOMEM, "sandbox: out of memory");
            goto out_close;
        }
    }
    rc = 0;

out_close:
    free(r.out);
    for (int i = 0; i < 2; i++) {
        if (out_p[i] >= 0)
            close(out_p[i]);
        if (prog_p[i] >= 0)
            close(prog_p[i]);
    }
    if (r.out_fd >= 0)
        close(r.out_fd);
    if (r.prog_fd >= 0)
        close(r.prog_fd);
    return rc;
}

int bp_sandbox_run(bp_sandbox *sb, unsigned fn, int doc_fd, const void *arg, size_t arg_len,
                   const bp_sandbox_limits *lim, bp_sandbox_progress_cb progress, void *cb_arg,
                   volatile int *cancel, bp_sandbox_outcome *out, bp_err *err)
{
    int rc = run_once(sb, fn, doc_fd, arg, arg_len, lim, progress, cb_arg, cancel, out, err);

    if (rc == 1) /* once: a second loss in a row is a real failure */
        rc = run_once(sb, fn, doc_fd, arg, arg_len, lim, progress, cb_arg, cancel, out, err);
    if (rc == 1) {
        bp_err_set(err, BP_ERR_IO, 0,
                   "sandbox: the extractor ('%s " BP_SANDBOX_ARGV1
                   "') died twice before it could parse",
                   sb->exe);
        return -1;
    }
    return rc;
}
