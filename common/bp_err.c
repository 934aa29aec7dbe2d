/* bp_err.c -- filling bp_err records, including the OpenSSL error queue.
 *
 * The first queued OpenSSL error is the one to report: on OpenSSL 3 the last one often says
 * only "system lib" while the first holds "No such file or directory". */
#include "bp_err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include <openssl/err.h>

void bp_err_set(bp_err *err, bp_err_kind kind, int sys_errno, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    err->kind = kind;
    err->sys_errno = sys_errno;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

void bp_err_set_ssl(bp_err *err, bp_err_kind kind, const char *fmt, ...)
{
    unsigned long e = ERR_get_error();
    const char *reason = NULL;
    char what[384];
    va_list ap;

    if (err == NULL) {
        ERR_clear_error();
        return;
    }
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (e == 0)
        reason = "unknown TLS error";
    else if (ERR_SYSTEM_ERROR(e))
        reason = strerror(ERR_GET_REASON(e));
    else
        reason = ERR_reason_error_string(e);
    if (reason == NULL)
        reason = "unknown TLS error";
    ERR_clear_error();
    err->kind = kind;
    err->sys_errno = 0;
    snprintf(err->msg, sizeof(err->msg), "%s: %s", what, reason);
}

void bp_err_prefix(bp_err *err, const char *fmt, ...)
{
    char old[sizeof(err->msg)];
    size_t len;
    va_list ap;

    if (err == NULL)
        return;
    memcpy(old, err->msg, sizeof(old));
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    len = strlen(err->msg);
    if (len + 2 < sizeof(err->msg))
        snprintf(err->msg + len, sizeof(err->msg) - len, ": %.*s",
                 (int)(sizeof(err->msg) - len - 3), old);
}

void bp_err_clear(bp_err *err)
{
    if (err == NULL)
        return;
    err->msg[0] = '\0';
    err->sys_errno = 0;
    err->kind = BP_ERR_NONE;
}

int bp_err_exit_code(const bp_err *err)
{
    switch (err->kind) {
    case BP_ERR_CONFIG:
        return EX_CONFIG;
    case BP_ERR_IO:
    case BP_ERR_TIMEOUT:
        return EX_UNAVAILABLE;
    default:
        return EX_SOFTWARE;
    }
}
