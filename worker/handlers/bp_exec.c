/* bp_exec.c -- the exec handler: run a configured program (argv, never a shell) with the
 * job's data as JSON on stdin; its stdout is the return value.
 *
 * The child is forked and exec'd directly. Between the two it makes only async-signal-safe
 * calls (the worker has a keeper thread): setpgid(0, 0) so it leads a process group of its
 * own, PR_SET_PDEATHSIG so it dies with the worker even when the master SIGKILLs the
 * worker's group, which the child is no longer in; every signal back at its default and an
 * empty mask (the worker ignores SIGPIPE, its children must not); then execve(), reporting
 * a failure through a close-on-exec pipe. It runs in "/" and holds no descriptor but its
 * three pipes: every other one is marked close-on-exec (close_range), so no Redis socket of
 * the worker reaches it. Its environment, built before fork, is not the worker's: only
 * PATH, HOME, LANG, LANGUAGE, LC_*, TZ and TMPDIR, the variables the handler's env setting
 * names or sets, and BULLPEN_JOB_ID, BULLPEN_JOB_NAME, BULLPEN_ATTEMPT and BULLPEN_QUEUE --
 * never BULLPEN_REDIS_PASSWORD, BULLPEN_REDIS_URL or the app's URL variable unless env lists
 * them. The job's data reaches it only on stdin, never in argv or through a shell.
 *
 * One poll() loop, no threads: it writes stdin (EPIPE only means the child stopped
 * reading), reads stdout into one buffer (capped at max_bytes), splits stderr into lines
 * (logged with the job id; "PROGRESS n" lines go to ctx->progress) and every slice checks
 * the child, the deadline and *ctx->cancel. The child's exit is seen with
 * waitid(WNOWAIT), so its pid, and with it the process group id, cannot be reused while
 * the whole group is killed: a grandchild left behind dies with it. The pipes are then
 * drained of what is already buffered and no longer waited on: a process that escaped the
 * group cannot hold the job open. Timeout and cancel send SIGTERM to the group, then
 * SIGKILL after BP_EXEC_KILL_GRACE_MS. */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "bp_extract.h"
#include "bp_handlers_impl.h"
#include "bp_log.h"
#include "bp_time.h"

extern char **environ;

#define BP_EXEC_SLICE_MS      50         /* how late cancel, timeout and exit are seen */
#define BP_EXEC_KILL_GRACE_MS 2000       /* SIGTERM -> SIGKILL */
#define BP_EXEC_LINE_MAX      4096       /* a longer stderr line is split */
#define BP_EXEC_OUT_DEFAULT   (64 << 20) /* stdout cap when max_bytes is 0 */
#define BP_EXEC_READ_CHUNK    65536      /* bytes per read() */
#define BP_EXEC_LAST_MAX      512        /* bytes of the last stderr line kept for errors */

/* One run of the program: the pipes, the output and the kill state. */
typedef struct exec_run {
    const bp_handler_config *hc; /* argv, timeout_ms, max_bytes */
    bp_job_ctx *ctx;             /* the job */
    pid_t pid;                   /* the child, also its process group id */
    int in_fd, out_fd, err_fd;   /* our ends of the pipes, -1 when closed */
    size_t in_off;               /* bytes of ctx->data written */
    char *out;                   /* stdout so far */
    size_t out_len, out_cap;     /* bytes in out, allocated */
    size_t out_max;              /* cap on out_len */
    bool out_over;               /* stdout went past out_max */
    char line[BP_EXEC_LINE_MAX]; /* the stderr line being assembled */
    size_t line_len;             /* bytes in line */
    char last[BP_EXEC_LAST_MAX]; /* last non-empty stderr line that was not PROGRESS */
    const char *why;             /* set when we kill: "cancelled" or NULL */
    bool timed_out;              /* the deadline passed */
    int kill_stage;              /* 0 none, 1 SIGTERM sent, 2 SIGKILL sent */
    int64_t kill_at;             /* when to escalate to SIGKILL */
} exec_run;

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Whether NAME=... (env entry e) is one of the base variables every program gets. */
static bool env_base(const char *e)
{
    static const char *const base[] = {"PATH=", "HOME=", "LANG=", "LANGUAGE=", "TZ=", "TMPDIR="};

    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        if (strncmp(e, base[i], strlen(base[i])) == 0)
            return true;
    return strncmp(e, "LC_", 3) == 0;
}

/* Whether hc->env names e's variable: as "NAME" (pass it: *set = false) or "NAME=value"
 * (set it: *set = true). */
static bool env_listed(const bp_handler_config *hc, const char *e, bool *set)
{
    size_t n = strcspn(e, "=");

    for (size_t i = 0; i < hc->n_env; i++) {
        size_t m = strcspn(hc->env[i], "=");
        if (m == n && strncmp(hc->env[i], e, n) == 0) {
            *set = hc->env[i][m] == '=';
            return true;
        }
    }
    return false;
}

/* The program's environment (bp_exec.c header): the base variables and those hc->env passes,
 * taken from environ; hc->env's NAME=value entries; then the four job variables, which are
 * the only allocated entries (the last four). Nothing else of bullpen's environment -- the
 * Redis password or URL, the app's REDIS_URL, any other secret -- reaches the program.
 * NULL when out of memory. */
static char **exec_env(const bp_handler_config *hc, const bp_job_ctx *ctx)
{
    size_t n = 0, k = 0;
    char **env;

    while (environ != NULL && environ[n] != NULL)
        n++;
    env = calloc(n + hc->n_env + 5, sizeof(env[0]));
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        bool set = false, listed = env_listed(hc, environ[i], &set);
        if (strncmp(environ[i], "BULLPEN_JOB_", 12) == 0 ||
            strncmp(environ[i], "BULLPEN_ATTEMPT=", 16) == 0 ||
            strncmp(environ[i], "BULLPEN_QUEUE=", 14) == 0)
            continue; /* ours, set below */
        if ((env_base(environ[i]) && !listed) || (listed && !set))
            env[k++] = environ[i]; /* borrowed */
    }
    for (size_t i = 0; i < hc->n_env; i++)
        if (strchr(hc->env[i], '=') != NULL)
            env[k++] = hc->env[i]; /* borrowed from the config */
    if (asprintf(&env[k], "BULLPEN_JOB_ID=%s", ctx->job_id != NULL ? ctx->job_id : "") < 0 ||
        asprintf(&env[k + 1], "BULLPEN_JOB_NAME=%s", ctx->job_name != NULL ? ctx->job_name : "") <
            0 ||
        asprintf(&env[k + 2], "BULLPEN_ATTEMPT=%d", ctx->attempt) < 0 ||
        asprintf(&env[k + 3], "BULLPEN_QUEUE=%s", ctx->queue != NULL ? ctx->queue : "") < 0) {
        free(env); /* the few bytes of a partial asprintf set are lost: out of memory anyway */
        return NULL;
    }
    env[k + 4] = NULL;
    return env;
}

static void exec_env_free(char **env)
{
    size_t n = 0;

    if (env == NULL)
        return;
    while (env[n] != NULL)
        n++;
    for (size_t i = n >= 4 ? n - 4 : 0; i < n; i++)
        free(env[i]); /* only the last four are ours */
    free(env);
}

/* In the child: every descriptor above 2 is closed at exec, whatever flags it was opened
 * with (a Redis socket, a plugin's file, an inherited descriptor of the master), so the
 * program holds nothing of the worker's. close_range is one system call (Linux 5.11); the
 * loop is for older kernels. Async-signal-safe. */
static void exec_close_fds(void)
{
    struct rlimit rl;
    int max = 65536;

#if defined(SYS_close_range) && defined(CLOSE_RANGE_CLOEXEC)
    if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
        return;
#endif
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)max)
        max = (int)rl.rlim_cur;
    for (int fd = 3; fd < max; fd++)
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* A pipe pair whose ends are both above 2, so the child's dup2() onto 0, 1 and 2 can never
 * overwrite one it still needs (a daemon may run with a standard fd closed). */
static int pipe_high(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        if (fds[i] <= 2) {
            int hi = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
            if (hi < 0)
                return -1;
            close(fds[i]);
            fds[i] = hi;
        }
    }
    return 0;
}

/* In the child, between fork() and exec: async-signal-safe calls only (the worker has a
 * keeper thread). Never returns. */
static void exec_child(const exec_run *r, pid_t parent, int in, int out, int err, int report,
                       char **env)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigset_t none;
    int e;

    setpgid(0, 0);                    /* its own group: a timeout kills all it started */
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* and it dies with the worker, even by SIGKILL */
    if (getppid() != parent)
        _exit(127); /* the worker died before prctl took effect */
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        goto out_report;
    exec_close_fds(); /* the report pipe too: it is close-on-exec already */
    if (chdir("/") != 0)
        goto out_report; /* a program never runs in whatever directory bullpen was started */
    for (int sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &dfl, NULL); /* the worker ignores SIGPIPE; its children must not */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(r->hc->argv[0], r->hc->argv, env);
out_report:
    e = errno;
    (void)!write(report, &e, sizeof(e));
    _exit(127);
}

/* Start the child. Returns 0, or -1 with res set. */
static int exec_spawn(exec_run *r, bp_result *res)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, rep[2] = {-1, -1};
    int child_errno = 0;
    pid_t parent = getpid();
    char **env = exec_env(r->hc, r->ctx);
    ssize_t n;

    if (env == NULL) {
        bp_result_error(res, "out of memory preparing the environment of '%s'", r->hc->argv[0]);
        return -1;
    }
    if (pipe_high(in) != 0 || pipe_high(out) != 0 || pipe_high(err) != 0 || pipe_high(rep) != 0) {
        bp_result_error(res, "cannot create pipes for '%s': %s", r->hc->argv[0], strerror(errno));
        goto out_close;
    }
    r->pid = fork();
    if (r->pid < 0) {
        bp_result_error(res, "cannot start '%s': fork: %s", r->hc->argv[0], strerror(errno));
        goto out_close;
    }
    if (r->pid == 0)
        exec_child(r, parent, in[0], out[1], err[1], rep[1], env);
    setpgid(r->pid, r->pid); /* also here, so kill(-pid) works before the child ran */
    close_fd(&rep[1]);
    while ((n = read(rep[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
        ;
    if (n > 0) { /* exec failed: the report pipe carried its errno */
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        bp_result_error(res, "cannot run '%s' (exec handler for job \"%s\", config line %d): %s",
                        r->hc->argv[0], r->hc->job, r->hc->line, strerror(child_errno));
        goto out_close;
    }
    close_fd(&rep[0]); /* EOF: exec succeeded (the pipe was close-on-exec) */
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&err[1]);
    r->in_fd = in[1];
    r->out_fd = out[0];
    r->err_fd = err[0];
    fcntl(r->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(r->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(r->err_fd, F_SETFL, O_NONBLOCK);
    exec_env_free(env);
    return 0;

out_close:
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&out[i]);
        close_fd(&err[i]);
        close_fd(&rep[i]);
    }
    exec_env_free(env);
    return -1;
}

/* One complete stderr line: PROGRESS goes to the job's progress, anything else to the
 * daemon's log and to the job's own log (Bull's job.log(): bull-board's Logs tab). */
static void exec_line(exec_run *r, char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    line[len] = '\0';
    if (len == 0)
        return;
    if (strncmp(line, "PROGRESS ", 9) == 0) {
        const char *v = line + 9;
        json_t *j;
        while (*v == ' ')
            v++;
        j = json_loads(v, JSON_DECODE_ANY, NULL);
        if (j != NULL) {
            json_decref(j);
            if (r->ctx->progress != NULL)
                r->ctx->progress(r->ctx->worker, v);
            return;
        }
    }
    bp_log_info("job %s (%s): %s", r->ctx->job_id, r->hc->argv[0], line);
    if (r->ctx->log != NULL)
        r->ctx->log(r->ctx->worker, line);
    snprintf(r->last, sizeof(r->last), "%s", line);
}

/* Read what the pipe has now. Returns false at EOF or error (the fd is then closed). */
static bool exec_read(exec_run *r, int *fd, bool is_err)
{
    char buf[BP_EXEC_READ_CHUNK];

    for (;;) {
        ssize_t n = read(*fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return true;
        if (n <= 0) {
            if (is_err && r->line_len > 0) {
                exec_line(r, r->line, r->line_len);
                r->line_len = 0;
            }
            close_fd(fd);
            return false;
        }
        if (!is_err) {
            if (r->out_len + (size_t)n > r->out_max) {
                r->out_over = true;
                close_fd(fd);
                return false;
            }
            if (r->out_len + (size_t)n > r->out_cap) {
                size_t cap = r->out_cap * 2 > r->out_len + (size_t)n ? r->out_cap * 2
                                                                     : r->out_len + (size_t)n;
                char *no = realloc(r->out, cap);
                if (no == NULL) {
                    r->out_over = true;
                    close_fd(fd);
                    return false;
                }
                r->out = no;
                r->out_cap = cap;
            }
            memcpy(r->out + r->out_len, buf, (size_t)n);
            r->out_len += (size_t)n;
            continue;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' || r->line_len == sizeof(r->line) - 1) {
                exec_line(r, r->line, r->line_len);
                r->line_len = 0;
                if (buf[i] == '\n')
                    continue;
            }
            r->line[r->line_len++] = buf[i];
        }
    }
}

static void exec_write(exec_run *r)
{
    const char *data = r->ctx->data;
    size_t len = r->ctx->data_len;

    while (r->in_off < len) {
        size_t step = len - r->in_off < BP_EXEC_READ_CHUNK ? len - r->in_off : BP_EXEC_READ_CHUNK;
        ssize_t n = write(r->in_fd, data + r->in_off, step);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) { /* EPIPE: the program does not read its input; not an error */
            close_fd(&r->in_fd);
            return;
        }
        r->in_off += (size_t)n;
    }
    close_fd(&r->in_fd); /* EOF tells the program the data is complete */
}

/* Deadline and cancel: SIGTERM the group, then SIGKILL after the grace period. */
static void exec_check_kill(exec_run *r, int64_t deadline)
{
    int64_t now = bp_mono_ms();

    if (r->kill_stage == 0) {
        if (r->ctx->cancel != NULL && *r->ctx->cancel)
            r->why = "cancelled";
        else if (deadline > 0 && now >= deadline)
            r->timed_out = true;
        else if (!r->out_over)
            return;
        kill(-r->pid, SIGTERM);
        r->kill_stage = 1;
        r->kill_at = now + BP_EXEC_KILL_GRACE_MS;
    } else if (r->kill_stage == 1 && now >= r->kill_at) {
        kill(-r->pid, SIGKILL);
        r->kill_stage = 2;
    }
}

/* Run the loop until the child exits; returns its wait status. */
static int exec_wait(exec_run *r)
{
    int64_t deadline = r->hc->timeout_ms > 0 ? bp_mono_ms() + r->hc->timeout_ms : 0;
    int status = 0, pidfd = -1;

#ifdef SYS_pidfd_open
    /* Readable when the child exits (Linux 5.3+): the exit is seen at once, not at the next
     * slice, which would add up to BP_EXEC_SLICE_MS to every job. Older kernels: -1. */
    pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
#endif
    if (r->ctx->data_len == 0)
        close_fd(&r->in_fd);
    for (;;) {
        struct pollfd pfd[4];
        nfds_t n = 0;
        siginfo_t si;

        if (pidfd >= 0)
            pfd[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        if (r->in_fd >= 0)
            pfd[n++] = (struct pollfd){.fd = r->in_fd, .events = POLLOUT};
        if (r->out_fd >= 0)
            pfd[n++] = (struct pollfd){.fd = r->out_fd, .events = POLLIN};
        if (r->err_fd >= 0)
            pfd[n++] = (struct pollfd){.fd = r->err_fd, .events = POLLIN};
        if (poll(pfd, n, BP_EXEC_SLICE_MS) < 0 && errno != EINTR)
            bp_sleep_ms(BP_EXEC_SLICE_MS); /* cannot happen with valid fds; do not spin */
        for (nfds_t i = 0; i < n; i++) {
            if (pfd[i].revents == 0)
                continue;
            if (pfd[i].fd == r->in_fd)
                exec_write(r);
            else if (pfd[i].fd == r->out_fd)
                exec_read(r, &r->out_fd, false);
            else if (pfd[i].fd == r->err_fd)
                exec_read(r, &r->err_fd, true);
        }
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            si.si_pid == r->pid)
            break;
        exec_check_kill(r, deadline);
    }
    close_fd(&pidfd);
    /* The child is a zombie: its pid (= the group id) is still ours. Kill what it left. */
    kill(-r->pid, SIGKILL);
    if (r->out_fd >= 0)
        exec_read(r, &r->out_fd, false);
    if (r->err_fd >= 0)
        exec_read(r, &r->err_fd, true);
    if (r->line_len > 0) {
        exec_line(r, r->line, r->line_len);
        r->line_len = 0;
    }
    while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* stdout -> the return value: JSON as it is, other text as a JSON string, nothing: null. */
static void exec_value(exec_run *r, bp_result *res)
{
    size_t b = 0, e = r->out_len;
    json_t *j;

    while (b < e && strchr(" \t\r\n", r->out[b]) != NULL)
        b++;
    while (e > b && strchr(" \t\r\n", r->out[e - 1]) != NULL)
        e--;
    if (b == e) {
        bp_result_value(res, "null", 4);
        return;
    }
    j = json_loadb(r->out + b, e - b, JSON_DECODE_ANY, NULL);
    if (j != NULL) {
        json_decref(j);
        bp_result_value(res, r->out + b, e - b);
        return;
    }
    e = r->out_len; /* text: keep it, without the final line break */
    while (e > 0 && (r->out[e - 1] == '\n' || r->out[e - 1] == '\r'))
        e--;
    size_t qlen;
    char *q = bp_json_quote(r->out, e, &qlen);
    if (q == NULL) {
        bp_result_error(res, "out of memory encoding the output of '%s'", r->hc->argv[0]);
        return;
    }
    bp_result_value(res, q, qlen);
    free(q);
}

void bp_exec_run(const bp_handler_config *hc, bp_job_ctx *ctx, bp_result *res)
{
    exec_run *r;
    struct sigaction old_pipe, ign = {.sa_handler = SIG_IGN};
    bool restore_pipe = false;
    int status;

    if (hc->argv == NULL || hc->argc < 1 || hc->argv[0] == NULL) {
        bp_result_error(res, "exec handler for job \"%s\" (config line %d) has no argv", hc->job,
                        hc->line);
        return;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        bp_result_error(res, "out of memory running '%s'", hc->argv[0]);
        return;
    }
    r->hc = hc;
    r->ctx = ctx;
    r->in_fd = r->out_fd = r->err_fd = -1;
    r->out_max = hc->max_bytes > 0 ? (size_t)hc->max_bytes : BP_EXEC_OUT_DEFAULT;
    /* A write to a closed stdin must be EPIPE, not death (the worker already ignores it). */
    if (sigaction(SIGPIPE, NULL, &old_pipe) == 0 && old_pipe.sa_handler == SIG_DFL)
        restore_pipe = sigaction(SIGPIPE, &ign, NULL) == 0;
    if (exec_spawn(r, res) != 0)
        goto out_free;
    status = exec_wait(r);
    if (r->why != NULL)
        bp_result_error(res, "%s", r->why);
    else if (r->timed_out)
        bp_result_error(res, "timed out after %d ms", hc->timeout_ms);
    else if (r->out_over)
        bp_result_error(res, "'%s' wrote more than %zu bytes to stdout (handlers.max_bytes)",
                        hc->argv[0], r->out_max);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        exec_value(r, res);
    else if (r->last[0] != '\0')
        bp_result_error(res, "%s", r->last);
    else if (WIFEXITED(status))
        bp_result_error(res, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        bp_result_error(res, "killed by signal SIG%s",
                        sigabbrev_np(WTERMSIG(status)) != NULL ? sigabbrev_np(WTERMSIG(status))
                                                               : "?");
    else
        bp_result_error(res, "ended with wait status %d", status);

out_free:
    close_fd(&r->in_fd);
    close_fd(&r->out_fd);
    close_fd(&r->err_fd);
    if (restore_pipe)
        sigaction(SIGPIPE, &old_pipe, NULL);
    free(r->out);
    free(r);
}
