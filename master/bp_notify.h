/* bp_notify.h -- the master's messages to systemd (sd_notify): READY, RELOADING, STOPPING,
 * WATCHDOG, STATUS and MAINPID, for a unit with Type=notify.
 *
 * Built on libsystemd when BP_HAVE_SYSTEMD is defined; without it every call is a no-op that
 * reports "not under systemd". Outside systemd (NOTIFY_SOCKET unset: an init script, a
 * terminal, the tests) every call is a cheap no-op too, so callers never need to check.
 * Only the master calls these: the unit says NotifyAccess=main. */
#ifndef BP_NOTIFY_H
#define BP_NOTIFY_H

#include <stdint.h>
#include <sys/types.h>

/* Each returns 1 when the message was sent, 0 when there is no one to send it to (not under
 * systemd, or built without libsystemd) and -1 when sending failed (errno set); a failure
 * is worth one warning in the log, never a reason to stop. */

/* READY=1: the pool is up (every worker connected). STATUS is set to status when not NULL. */
int bp_notify_ready(const char *status);

/* RELOADING=1 (with MONOTONIC_USEC): a SIGHUP reload started; send bp_notify_ready() when
 * it is done, whether the new configuration was taken or refused. */
int bp_notify_reloading(void);

/* STOPPING=1: a shutdown started (TERM, INT, QUIT or bullpen ctl shutdown). */
int bp_notify_stopping(void);

/* WATCHDOG=1: the master's loop is alive. Send every bp_notify_watchdog_interval_ms(). */
int bp_notify_watchdog(void);

/* STATUS=<text>, shown by systemctl status, e.g. "4 workers on document-processing". */
int bp_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* MAINPID=<pid>: after a USR2 binary upgrade, the old master hands the unit to the new one
 * before it drains. */
int bp_notify_mainpid(pid_t pid);

/* How often to send WATCHDOG=1: half of the unit's WatchdogSec, in milliseconds, or 0 when
 * the watchdog is off for this process (or not under systemd). */
int64_t bp_notify_watchdog_interval_ms(void);

#endif /* BP_NOTIFY_H */
