/* bp_err.h -- the one error record: what failed, where, why, and the errno behind it.
 *
 * Functions return 0/-1 (or a pointer/NULL) and describe the failure in a bp_err the caller
 * owns; the caller that has the context logs it once, adding what to do. */
#ifndef BP_ERR_H
#define BP_ERR_H

#include <stddef.h>

/* What kind of failure it was, so callers can map it to an exit code without parsing text. */
typedef enum bp_err_kind {
    BP_ERR_NONE = 0,
    BP_ERR_IO,       /* network or system error: unreachable, reset, EOF (EX_UNAVAILABLE) */
    BP_ERR_TIMEOUT,  /* a deadline passed (connect, command, blocking pull) */
    BP_ERR_CONFIG,   /* fix the configuration: TLS verification, AUTH, bad file (EX_CONFIG) */
    BP_ERR_REPLY,    /* Redis answered with an error reply */
    BP_ERR_PROTOCOL, /* malformed RESP or unexpected reply shape */
    BP_ERR_WOKEN,    /* a wait was interrupted on purpose (shutdown wake-up) */
} bp_err_kind;

typedef struct bp_err {
    char msg[512];    /* "cannot load CA file '/etc/bullpen/ca.pem': No such file or directory" */
    int sys_errno;    /* errno at the failure, 0 when not a system call */
    bp_err_kind kind; /* coarse class of the failure */
} bp_err;

/* Set err (NULL is allowed and ignored). Saves errno before formatting. */
void bp_err_set(bp_err *err, bp_err_kind kind, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Set err from the first queued OpenSSL error (STYLE.md section 4), then clear the queue.
 * The formatted text is followed by ": <reason>". */
void bp_err_set_ssl(bp_err *err, bp_err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix err->msg with more context: "<prefix>: <old msg>". */
void bp_err_prefix(bp_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void bp_err_clear(bp_err *err);

/* sysexits code for an error kind: CONFIG -> 78, IO/TIMEOUT -> 69, others -> 70. */
int bp_err_exit_code(const bp_err *err);

#endif /* BP_ERR_H */
