/* bp_daemon.c -- double-fork daemonization with a readiness pipe, and privilege dropping;
 * see bp_daemon.h.
 *
 * The readiness protocol on the pipe: one byte, the exit code the starter should exit with,
 * then optionally a message up to EOF. EOF before any byte means the daemon died without
 * reporting. The starter never touches the logger or anything allocated by the caller: it
 * only reads the pipe, prints the message and _exit()s, so no state is shared or freed
 * twice across the fork. Failures inside the intermediate child (setsid, second fork) are
 * reported on the same pipe with EX_OSERR. */
#include "bp_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#define BP_DAEMON_MSG_MAX 1024 /* longest start-up failure message relayed to the starter */

/* write() all of buf, retrying EINTR; SIGPIPE is ignored meanwhile (a starter killed by ^C
 * must not kill the daemon). */
static void write_all(int fd, const char *buf, size_t len)
{
    struct sigaction ign, old;

    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        buf += n;
        len -= (size_t)n;
    }
    sigaction(SIGPIPE, &old, NULL);
}

void bp_daemon_fail(int fd, int exit_code, const char *message)
{
    char buf[1 + BP_DAEMON_MSG_MAX];
    size_t len = 1;

    if (fd < 0)
        return;
    buf[0] = (char)(unsigned char)exit_code;
    if (message != NULL) {
        len += strnlen(message, BP_DAEMON_MSG_MAX);
        memcpy(buf + 1, message, len - 1);
    }
    write_all(fd, buf, len);
    close(fd);
}

void bp_daemon_ready(int fd, int exit_code)
{
    bp_daemon_fail(fd, exit_code, NULL);
}

/* The original process: wait for the daemon's verdict, print its message, exit with it. */
static void __attribute__((noreturn)) starter_wait(int rfd, pid_t middle)
{
    char buf[1 + BP_DAEMON_MSG_MAX + 1];
    size_t len = 0;
    int status;

    while (waitpid(middle, &status, 0) < 0 && errno == EINTR)
        ;
    while (len < sizeof(buf) - 1) {
        ssize_t n = read(rfd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (len == 0) {
        static const char died[] = "bullpen: daemon exited before it was ready; see the log\n";
        (void)!write(STDERR_FILENO, died, sizeof(died) - 1);
        _exit(1);
    }
    if (len > 1) {
        buf[len] = '\0';
        dprintf(STDERR_FILENO, "bullpen: %s\n", buf + 1);
    }
    _exit((unsigned char)buf[0]);
}

/* Point fd 0, 1, 2 at /dev/null. */
static void null_stdio(void)
{
    int fd = open("/dev/null", O_RDWR);

    if (fd < 0)
        return;
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
}

int bp_daemonize(int *ready_fd_out, bp_err *err)
{
    char msg[256];
    int fds[2];
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        int e = errno;
        bp_err_set(err, BP_ERR_IO, e, "cannot daemonize: pipe: %s", strerror(e));
        return -1;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        bp_err_set(err, BP_ERR_IO, e, "cannot daemonize: fork: %s", strerror(e));
        return -1;
    }
    if (pid > 0) {
        close(fds[1]);
        starter_wait(fds[0], pid);
    }

    /* the intermediate child: a new session, then fork so the daemon is no session leader
     * and can never reacquire a controlling terminal */
    close(fds[0]);
    if (setsid() < 0) {
        snprintf(msg, sizeof(msg), "cannot daemonize: setsid: %s", strerror(errno));
        bp_daemon_fail(fds[1], EX_OSERR, msg);
        _exit(EX_OSERR);
    }
    pid = fork();
    if (pid < 0) {
        snprintf(msg, sizeof(msg), "cannot daemonize: second fork: %s", strerror(errno));
        bp_daemon_fail(fds[1], EX_OSERR, msg);
        _exit(EX_OSERR);
    }
    if (pid > 0)
        _exit(0);

    /* the daemon */
    if (chdir("/") != 0) {
        /* "/" always exists; nothing sensible to do otherwise */
    }
    null_stdio();
    *ready_fd_out = fds[1];
    return 0;
}

int bp_drop_privileges(const char *user, const char *group, bp_err *err)
{
    struct passwd *pw;
    gid_t gid;

    if (user == NULL || user[0] == '\0' || geteuid() != 0)
        return 0;
    errno = 0;
    pw = getpwnam(user);
    if (pw == NULL) {
        int e = errno;
        bp_err_set(err, BP_ERR_CONFIG, e, "pool.user '%s': %s; create the user or remove pool.user",
                   user, e != 0 ? strerror(e) : "no such user");
        return -1;
    }
    gid = pw->pw_gid;
    if (group != NULL && group[0] != '\0') {
        struct group *gr;
        errno = 0;
        gr = getgrnam(group);
        if (gr == NULL) {
            int e = errno;
            bp_err_set(err, BP_ERR_CONFIG, e,
                       "pool.group '%s': %s; create the group or remove pool.group", group,
                       e != 0 ? strerror(e) : "no such group");
            return -1;
        }
        gid = gr->gr_gid;
    }
    if (initgroups(user, gid) != 0 || setgid(gid) != 0) {
        int e = errno;
        bp_err_set(err, BP_ERR_IO, e, "cannot switch to group %ld of pool.user '%s': %s", (long)gid,
                   user, strerror(e));
        return -1;
    }
    if (setuid(pw->pw_uid) != 0) {
        int e = errno;
        bp_err_set(err, BP_ERR_IO, e, "cannot switch to pool.user '%s' (uid %ld): %s", user,
                   (long)pw->pw_uid, strerror(e));
        return -1;
    }
    if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        bp_err_set(err, BP_ERR_IO, 0,
                   "dropped to pool.user '%s' but root could be regained; refusing to run", user);
        return -1;
    }
    return 0;
}
