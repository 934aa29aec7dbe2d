/* bp_log.h -- the one logger: levels, the process's role and pid on every line, text or
 * JSON lines, to stderr, a file (reopened on SIGUSR1) or syslog.
 *
 * Each line is written with a single write(2) so lines from the master and its workers
 * sharing one file never interleave. Safe to call from several threads. */
#ifndef BP_LOG_H
#define BP_LOG_H

#include <stdbool.h>

typedef enum bp_log_level {
    BP_LOG_DEBUG,
    BP_LOG_INFO,
    BP_LOG_NOTICE,
    BP_LOG_WARN,
    BP_LOG_ERROR,
    BP_LOG_CRIT,
    BP_LOG_ALERT,
} bp_log_level;

typedef enum bp_log_format { BP_LOG_TEXT, BP_LOG_JSON } bp_log_format;

/* Parse "debug", "info", ... Returns 0 and stores the level, or -1 when unknown. */
int bp_log_level_parse(const char *name, bp_log_level *out);
const char *bp_log_level_name(bp_log_level level);

/* Configure the logger. file NULL or "" means stderr. Returns -1 (errno set) when the file
 * cannot be opened; the logger then keeps writing to stderr. */
int bp_log_open(bp_log_level level, const char *file, bool use_syslog, bp_log_format format);

/* Reopen the log file (after logrotate moved it). No-op for stderr and syslog. */
int bp_log_reopen(void);

/* Close the file descriptor without flushing anything (a child after fork keeps it). */
void bp_log_close(void);

/* The role shown on every line: "master", "worker 2", "ctl". Copied. Call after fork. */
void bp_log_set_role(const char *role);

bool bp_log_enabled(bp_log_level level);

void bp_log(bp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define bp_log_debug(...)  bp_log(BP_LOG_DEBUG, __VA_ARGS__)
#define bp_log_info(...)   bp_log(BP_LOG_INFO, __VA_ARGS__)
#define bp_log_notice(...) bp_log(BP_LOG_NOTICE, __VA_ARGS__)
#define bp_log_warn(...)   bp_log(BP_LOG_WARN, __VA_ARGS__)
#define bp_log_error(...)  bp_log(BP_LOG_ERROR, __VA_ARGS__)
#define bp_log_crit(...)   bp_log(BP_LOG_CRIT, __VA_ARGS__)
#define bp_log_alert(...)  bp_log(BP_LOG_ALERT, __VA_ARGS__)

#endif /* BP_LOG_H */
