/* bp_notify.c -- sd_notify for the master (see bp_notify.h).
 *
 * A thin layer on libsystemd's sd_notify(): it keeps NOTIFY_SOCKET in the environment
 * (unset_environment = 0) because the master sends many messages over its life, and the
 * workers it forks inherit the variable harmlessly: the unit's NotifyAccess=main makes
 * systemd ignore anything they might send. libsystemd is opened with dlopen() (bp_dl.h)
 * the first time there is something to send under systemd (NOTIFY_SOCKET set), so a pool
 * started otherwise never maps it and the 7 libraries it needs. Without BP_HAVE_SYSTEMD the
 * same functions exist and send nothing, so the master's code has no #ifdef. */
#include "bp_notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "bp_log.h"
#include "bp_time.h"

#ifdef BP_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

#include "bp_dl.h"

#ifndef BP_SYSTEMD_SONAME
#define BP_SYSTEMD_SONAME "libsystemd.so.0" /* package libsystemd0 */
#endif

static __typeof__(sd_notify) *notify_fn;
static __typeof__(sd_watchdog_enabled) *watchdog_enabled_fn;

/* libsystemd's two functions, opened once under systemd; false (said once in the log)
 * when the library cannot be loaded. */
static bool systemd_loaded(void)
{
    static const char *const names[] = {"sd_notify", "sd_watchdog_enabled"};
    void **const slots[] = {(void **)&notify_fn, (void **)&watchdog_enabled_fn};
    static bool tried;
    char why[300];

    if (!tried) {
        tried = true;
        if (bp_dl_open(BP_SYSTEMD_SONAME, names, slots, 2, why, sizeof(why)) == NULL) {
            notify_fn = NULL;
            watchdog_enabled_fn = NULL;
            bp_log_error("systemd notification is off: %s; install libsystemd0 (the unit's "
                         "Type=notify waits for a READY=1 that will not come)",
                         why);
        }
    }
    return notify_fn != NULL;
}

/* sd_notify() returns a negative errno on failure; map it to -1 with errno set. */
static int send_state(const char *state)
{
    int rc;

    if (getenv("NOTIFY_SOCKET") == NULL || !systemd_loaded())
        return 0; /* not under systemd: what sd_notify() itself would say */
    rc = notify_fn(0, state);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return rc > 0 ? 1 : 0;
}

int64_t bp_notify_watchdog_interval_ms(void)
{
    uint64_t usec = 0;

    if (getenv("WATCHDOG_USEC") == NULL || !systemd_loaded())
        return 0;
    if (watchdog_enabled_fn(0, &usec) <= 0 || usec == 0)
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
