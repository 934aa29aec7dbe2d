/* bp_signals.c -- signal handlers that only set flags and poke a self-pipe.
 *
 * The flags and the pipe are the only mutable globals of the master (STYLE.md section 10).
 * Handlers save errno, never log, never allocate. The child side restores default
 * dispositions before it unblocks signals. */
#include "bp_signals.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

bp_signal_flags bp_signals_pending;
static int sig_pipe[2] = {-1, -1};

static const int handled_signals[] = {SIGTERM, SIGINT,  SIGQUIT, SIGHUP,  SIGCHLD, SIGTTIN,
                                      SIGTTOU, SIGTSTP, SIGCONT, SIGUSR1, SIGUSR2};

static void handle_signal(int signo)
{
    int saved_errno = errno;

    switch (signo) {
    case SIGTERM:
        bp_signals_pending.shutdown_graceful = 1;
        break;
    case SIGINT:
    case SIGQUIT:
        bp_signals_pending.shutdown_fast = 1;
        break;
    case SIGHUP:
        bp_signals_pending.reload = 1;
        break;
    case SIGCHLD:
        bp_signals_pending.child = 1;
        break;
    case SIGTTIN:
        bp_signals_pending.more = 1;
        break;
    case SIGTTOU:
        bp_signals_pending.fewer = 1;
        break;
    case SIGTSTP:
        bp_signals_pending.quiet = 1;
        break;
    case SIGCONT:
        bp_signals_pending.resume = 1;
        break;
    case SIGUSR1:
        bp_signals_pending.reopen = 1;
        break;
    case SIGUSR2:
        bp_signals_pending.upgrade = 1;
        break;
    default:
        break;
    }
    if (sig_pipe[1] >= 0)
        (void)!write(sig_pipe[1], "x", 1); /* EAGAIN is fine: a wake-up is already queued */
    errno = saved_errno;
}

int bp_signals_install_master(void)
{
    struct sigaction sa;

    if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handle_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
        sigaction(handled_signals[i], &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    sigaction(SIGPIPE, &sa, NULL); /* a TLS write to a dead peer must not kill us */
    return sig_pipe[0];
}

void bp_signals_drain(void)
{
    char buf[64];

    while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
        ;
}

void bp_signals_reset_child(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
        sigaction(handled_signals[i], &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    if (sig_pipe[0] >= 0) {
        close(sig_pipe[0]);
        close(sig_pipe[1]);
        sig_pipe[0] = sig_pipe[1] = -1;
    }
}

void bp_signals_block(sigset_t *old)
{
    sigset_t all;

    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, old);
}

void bp_signals_restore(const sigset_t *old)
{
    sigprocmask(SIG_SETMASK, old, NULL);
}
