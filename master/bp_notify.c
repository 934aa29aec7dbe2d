/* bp_notify.c -- sd_notify for the master (see bp_notify.h).
 *
 * A thin layer on libsystemd's sd_notify(): it keeps NOTIFY_SOCKET in the environment
 * (unset_environment = 0) because the master sends many messages over its life, and the
 * workers it forks inherit the variable harmlessly: the unit's NotifyAccess=main makes
 * systemd ignore anything they might send. Without BP_HAVE_SYSTEMD the same functions exist
 * and send nothing, so the master's code has no #ifdef. */
#include "bp_notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "bp_time.h"

#ifdef BP_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

/* sd_notify() returns a negative errno on failure; map it to -1 with errno set. */
static int send_state(const char *state)
{
    int rc = sd_notify(0, state);

    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return rc > 0 ? 1 : 0;
}

int64_t bp_notify_watchdog_interval_ms(void)
{
    uint64_t usec = 0;

    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    /* systemd's advice: ping at half the timeout, so one late ping is not fatal */
    return (int64_t)(usec / 2000);
}
#else
static int send_state(const char *state)
{
    (void)state;
    return 0;
}

int64_t bp_notify_watchdog_interval_ms(void)
{
    return 0;
}
#endif

int bp_notify_ready(const char *status)
{
    char msg[512];

    if (status == NULL)
        return send_state("READY=1");
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
    return send_state(msg);
}

int bp_notify_reloading(void)
{
    char msg[64];

    /* MONOTONIC_USEC lets systemd >= 253 match the reload to its READY=1; older ignore it */
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld", (long long)bp_mono_us());
    return send_state(msg);
}

int bp_notify_stopping(void)
{
    return send_state("STOPPING=1");
}

int bp_notify_watchdog(void)
{
    return send_state("WATCHDOG=1");
}

int bp_notify_status(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n;

    n = snprintf(msg, sizeof(msg), "STATUS=");
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    return send_state(msg);
}

int bp_notify_mainpid(pid_t pid)
{
    char msg[64];

    snprintf(msg, sizeof(msg), "MAINPID=%ld", (long)pid);
    return send_state(msg);
}
