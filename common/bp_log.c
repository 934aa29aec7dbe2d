/* bp_log.c -- the logger behind bp_log.h.
 *
 * State is per process (the role and pid are reset after fork by bp_log_set_role()). The
 * only lock protects the file descriptor against a concurrent reopen; a line is formatted
 * into a stack buffer and written with one write(2), so O_APPEND keeps lines whole. */
#include "bp_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define BP_LOG_LINE_MAX 4096 /* longer messages are cut, never split across writes */

static struct {
    bp_log_level level;
    bp_log_format format;
    bool use_syslog;
    int fd;          /* 2 (stderr) or an O_APPEND file */
    char path[1024]; /* "" = stderr */
    char role[64];
    pthread_mutex_t lock;
} bp_logger = {BP_LOG_INFO, BP_LOG_TEXT, false, 2, "", "bullpen", PTHREAD_MUTEX_INITIALIZER};

static const char *const level_names[] = {"debug", "info", "notice", "warn",
                                          "error", "crit", "alert"};

int bp_log_level_parse(const char *name, bp_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (bp_log_level)i;
            return 0;
        }
    }
    if (strcmp(name, "warning") == 0) {
        *out = BP_LOG_WARN;
        return 0;
    }
    return -1;
}

const char *bp_log_level_name(bp_log_level level)
{
    return level_names[level];
}

static int open_log_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int bp_log_open(bp_log_level level, const char *file, bool use_syslog, bp_log_format format)
{
    int rc = 0;

    pthread_mutex_lock(&bp_logger.lock);
    bp_logger.level = level;
    bp_logger.format = format;
    bp_logger.use_syslog = use_syslog;
    if (use_syslog)
        openlog("bullpen", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    if (file != NULL && file[0] != '\0') {
        int fd = open_log_file(file);
        if (fd < 0) {
            rc = -1;
        } else {
            if (bp_logger.fd > 2)
                close(bp_logger.fd);
            bp_logger.fd = fd;
            snprintf(bp_logger.path, sizeof(bp_logger.path), "%s", file);
        }
    }
    pthread_mutex_unlock(&bp_logger.lock);
    return rc;
}

int bp_log_reopen(void)
{
    int rc = 0;

    pthread_mutex_lock(&bp_logger.lock);
    if (bp_logger.path[0] != '\0') {
        int fd = open_log_file(bp_logger.path);
        if (fd < 0) {
            rc = -1;
        } else {
            if (bp_logger.fd > 2)
                close(bp_logger.fd);
            bp_logger.fd = fd;
        }
    }
    pthread_mutex_unlock(&bp_logger.lock);
    return rc;
}

void bp_log_close(void)
{
    pthread_mutex_lock(&bp_logger.lock);
    if (bp_logger.fd > 2)
        close(bp_logger.fd);
    bp_logger.fd = 2;
    bp_logger.path[0] = '\0';
    pthread_mutex_unlock(&bp_logger.lock);
}

void bp_log_set_role(const char *role)
{
    snprintf(bp_logger.role, sizeof(bp_logger.role), "%s", role);
}

bool bp_log_enabled(bp_log_level level)
{
    return level >= bp_logger.level;
}

/* Append s to buf as the inside of a JSON string. */
static size_t json_escape(char *buf, size_t cap, size_t len, const char *s)
{
    for (; *s != '\0' && len + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)ch;
        } else if (ch < 0x20) {
            len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", ch);
        } else {
            buf[len++] = (char)ch;
        }
    }
    return len;
}

void bp_log(bp_log_level level, const char *fmt, ...)
{
    static const int syslog_prio[] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING,
                                      LOG_ERR,   LOG_CRIT, LOG_ALERT};
    int saved_errno = errno;
    char msg[BP_LOG_LINE_MAX];
    char line[BP_LOG_LINE_MAX + 256];
    struct timespec ts;
    struct tm tm;
    size_t len;
    va_list ap;

    if (level < bp_logger.level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (bp_logger.use_syslog) {
        syslog(syslog_prio[level], "%s: %s", bp_logger.role, msg);
        errno = saved_errno;
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (bp_logger.format == BP_LOG_JSON) {
        len = (size_t)snprintf(line, sizeof(line),
                               "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
                               "\"pid\":%ld,\"role\":\"",
                               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                               tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], (long)getpid());
        len = json_escape(line, sizeof(line), len, bp_logger.role);
        len += (size_t)snprintf(line + len, sizeof(line) - len, "\",\"msg\":\"");
        len = json_escape(line, sizeof(line), len, msg);
        len += (size_t)snprintf(line + len, sizeof(line) - len, "\"}\n");
    } else {
        len = (size_t)snprintf(
            line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] %s (pid %ld): %s\n",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, level_names[level], bp_logger.role, (long)getpid(), msg);
    }
    if (len >= sizeof(line)) {
        len = sizeof(line) - 1;
        line[len - 1] = '\n';
    }
    pthread_mutex_lock(&bp_logger.lock);
    (void)!write(bp_logger.fd, line, len);
    pthread_mutex_unlock(&bp_logger.lock);
    errno = saved_errno;
}
