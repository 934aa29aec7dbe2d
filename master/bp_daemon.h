/* bp_daemon.h -- becoming a daemon (`bullpen run -d`) and dropping root privileges.
 *
 * bp_daemonize() is the classic double fork with setsid(), plus a readiness pipe: the
 * process the operator (or the init script) started waits until the daemon reports that the
 * pool is up -- or why it is not -- and only then exits, with the daemon's exit code. So
 * `bullpen run -d && echo started` means started, and a bad Redis password fails the init
 * script with the message on the operator's terminal.
 *
 *   bp_pidfile_open(...)                 // before: its error reaches the terminal
 *   bp_daemonize(&ready_fd, &err)        // only the daemon returns
 *   bp_pidfile_write(pf, getpid(), ...)
 *   ... connect, fork workers ...
 *   bp_daemon_ready(ready_fd, 0)         // pool ready: the starter exits 0
 *   or bp_daemon_fail(ready_fd, 78, "...")  // the starter prints it and exits 78
 *
 * Standard streams: the daemon's stdin, stdout and stderr all go to /dev/null. Decision:
 * a daemon must not keep the terminal's stderr (writes to a closed tty fail or raise
 * SIGHUP/SIGTTOU, and the workers would inherit it). So with -d and an empty log.file the
 * caller logs to syslog instead: call bp_log_open(level, NULL, true, format) before
 * bp_daemonize() and say so on stderr ("-d without log.file: logging to syslog (daemon
 * facility)"). Start-up failures still reach the terminal through bp_daemon_fail().
 * The umask is left as the caller had it; the working directory becomes "/" (config paths
 * are absolute after bp_config_load()). */
#ifndef BP_DAEMON_H
#define BP_DAEMON_H

#include "bp_err.h"

/* Detach: fork, setsid, fork, chdir("/"), stdin/stdout/stderr to /dev/null. Returns 0 in the
 * daemon (grandchild) with *ready_fd_out set to the write end of the readiness pipe
 * (O_CLOEXEC; children forked later should close it: bp_daemon_ready() does, and forked
 * workers must close(ready_fd) before running). The original process never returns: it
 * waits on the pipe and _exit()s with the code the daemon reported, or 1 when the daemon
 * died without reporting ("bullpen: daemon exited before it was ready; see the log").
 * Flushes stdio before forking. Returns -1 with err set when the pipe or the first fork
 * fails (then nothing has changed and the caller is still the original process). When
 * setsid() or the second fork fails, the starter prints why and exits 71 (EX_OSERR). */
int bp_daemonize(int *ready_fd_out, bp_err *err);

/* Tell the waiting starter that start-up finished with exit_code (0 = ready) and close fd.
 * fd < 0 (not daemonized) is a no-op, so the caller need not check -d. */
void bp_daemon_ready(int fd, int exit_code);

/* Like bp_daemon_ready() with a non-zero code, and the starter prints
 * "bullpen: <message>" on its stderr before exiting with exit_code. */
void bp_daemon_fail(int fd, int exit_code, const char *message);

/* When running as root and user is not NULL: initgroups(user), setgid(group's gid, or the
 * user's primary group when group is NULL), setuid(user's uid), then verify that setuid(0)
 * now fails. No-op (returns 0) when not root or user is NULL (group alone is ignored when
 * user is NULL). Returns -1 with err set naming the user or group
 * ("pool.user 'bullpen': no such user; create it or remove pool.user"), kind BP_ERR_CONFIG
 * for unknown names and BP_ERR_IO for failing system calls. Call after opening the pidfile
 * and the log file (they stay open) and before forking workers. */
int bp_drop_privileges(const char *user, const char *group, bp_err *err);

#endif /* BP_DAEMON_H */
